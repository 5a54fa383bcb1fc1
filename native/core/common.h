// Shared by every translation unit: the torch and node-addon-api headers (this file is the
// precompiled header of the CMake build), the JS <-> libtorch conversions and the error
// boundary that turns C++ exceptions into JS errors.
#pragma once

#include <torch/torch.h>

#include <napi.h>

#include <optional>
#include <string>
#include <vector>

namespace tb {

// A bad JS argument (wrong type, unknown dtype name, ...): becomes a JS TypeError.
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Refused because the object is in use by running work (usage.h): becomes a JS Error whose
// code is 'ERR_TORCHBRIDGE_BUSY'.
struct BusyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs `body` and converts every C++ exception into a JS exception: ArgError -> TypeError,
// BusyError -> Error with a code, c10::Error and std::exception -> Error carrying libtorch's message without its C++ backtrace.
template <class F>
Napi::Value guarded(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const ArgError& e) {
    throw Napi::TypeError::New(env, e.what());
  } catch (const BusyError& e) {
    Napi::Error error = Napi::Error::New(env, e.what());
    error.Set("code", Napi::String::New(env, "ERR_TORCHBRIDGE_BUSY"));
    throw error;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// dtype names as the TypeScript layer spells them ('float32', 'int64', ...).
at::ScalarType parseDtype(const std::string& name);
const char* dtypeName(at::ScalarType type);
// 'cpu', 'cuda', 'cuda:N'; CUDA devices are checked against what this process can see.
c10::Device parseDevice(const std::string& spec);
std::string deviceName(const c10::Device& device);

}  // namespace tb
