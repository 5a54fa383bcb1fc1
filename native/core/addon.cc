// Module entry point: registers the tensor handle class and the op tables, and exposes runtime
// facts (versions, CUDA, threads, grad mode, memory accounting).
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/cpu_kernels.h"
#include "core/env_data.h"
#include "core/js_memory.h"
#include "nn/module_wrap.h"
#include "core/ops.h"

namespace tb {

namespace {

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName dtypeNames[] = {
    {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
    {"int64", at::kLong},    {"int32", at::kInt},      {"uint8", at::kByte},   {"bool", at::kBool},
};

int cudaDeviceCount() { return at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

std::string versionString(long v, int major, int minor) {
  if (v <= 0) return "";
  return std::to_string(v / major) + "." + std::to_string((v % major) / minor) + "." + std::to_string(v % minor);
}

// version(): libtorch's version and what it was built with. A CUDA build reports its CUDA and
// cuDNN versions on a machine without a GPU too (hasCUDART, unlike hasCUDA, needs no device).
Napi::Value version(const Args& a) {
  Napi::Object out = Napi::Object::New(a.env());
  out.Set("libtorch", TORCH_VERSION);
  const at::CUDAHooksInterface& hooks = at::detail::getCUDAHooks();
  out.Set("cuda", hooks.hasCUDART() ? Napi::Value(Napi::String::New(a.env(), versionString(hooks.versionCUDART(), 1000, 10)))
                                    : a.env().Null());
  // cuDNN numbers its versions major*1000 + minor*100 + patch before 9, major*10000 + ... since.
  long cudnn = hooks.hasCUDART() && hooks.hasCuDNN() ? hooks.versionCuDNN() : 0;
  out.Set("cudnn", cudnn > 0 ? Napi::Value(Napi::String::New(a.env(), versionString(cudnn, cudnn >= 10000 ? 10000 : 1000, 100)))
                             : a.env().Null());
  out.Set("cpuKernels", cpuKernelsName());
  out.Set("cxx11Abi", Napi::Boolean::New(a.env(), _GLIBCXX_USE_CXX11_ABI == 1));
  out.Set("config", at::show_config());
  return out;
}

Napi::Value memory(const Args& a) {
  releasePendingJsMemory(a.env());
  TensorWrap::Stats s = TensorWrap::stats(a.env());
  Napi::Object out = Napi::Object::New(a.env());
  out.Set("liveTensors", Napi::Number::New(a.env(), static_cast<double>(s.liveTensors)));
  out.Set("bytes", Napi::Number::New(a.env(), static_cast<double>(s.bytes)));
  out.Set("cpuBytes", Napi::Number::New(a.env(), static_cast<double>(s.cpuBytes)));
  out.Set("moduleBytes", Napi::Number::New(a.env(), static_cast<double>(EnvData::of(a.env()).modules.bytes)));
  return out;
}

// The most intra-op threads allowed: 4 per core. More only oversubscribes the cores, and an
// unbounded count exhausts memory in OpenMP's thread start ("libgomp: Out of memory").
int64_t maxNumThreads() {
  unsigned cores = std::thread::hardware_concurrency();
  return 4 * static_cast<int64_t>(cores > 0 ? cores : 1);
}

std::string threadRange() { return "from 1 to " + std::to_string(maxNumThreads()) + " (4 per core)"; }

Napi::Value setNumThreads(const Args& a) {
  if (!a[0].IsNumber()) a.fail(0, ("a number of threads " + threadRange()).c_str());
  double n = a[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= static_cast<double>(maxNumThreads()) && n == std::trunc(n))) {
    throw ArgError("setNumThreads: the number of threads must be an integer " + threadRange() + ", got " +
                   c10::str(n));
  }
  at::set_num_threads(static_cast<int>(n));
  return a.env().Undefined();
}

const OpEntry runtimeOps[] = {
    {"version", version},
    {"memory", memory},
    {"cudaIsAvailable", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), cudaDeviceCount() > 0); }},
    {"cudaDeviceCount", [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), cudaDeviceCount()); }},
    {"getNumThreads", [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), at::get_num_threads()); }},
    {"setNumThreads", setNumThreads},
    {"maxNumThreads", [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), static_cast<double>(maxNumThreads())); }},
    {"isGradEnabled", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), at::GradMode::is_enabled()); }},
    // setGradEnabled(enabled): returns the previous mode, so that callers can restore it.
    {"setGradEnabled",
     [](const Args& a) -> Napi::Value {
       bool previous = at::GradMode::is_enabled();
       at::GradMode::set_enabled(a.boolean(0));
       return Napi::Boolean::New(a.env(), previous);
     }},
};
TB_REGISTER_OPS("runtime", runtimeOps);

// libtorch starts with one intra-op thread here unless OMP_NUM_THREADS says otherwise; use
// every core unless the user chose (OMP_NUM_THREADS or TORCHBRIDGE_NUM_THREADS).
void chooseDefaultThreads() {
  if (const char* n = std::getenv("TORCHBRIDGE_NUM_THREADS")) {
    char* end = nullptr;
    long long threads = std::strtoll(n, &end, 10);
    if (end == n || *end != '\0' || threads < 1 || threads > maxNumThreads()) {
      throw std::runtime_error(std::string("TORCHBRIDGE_NUM_THREADS='") + n + "': the number of threads must be an integer " +
                               threadRange());
    }
    at::set_num_threads(static_cast<int>(threads));
    return;
  }
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  unsigned cores = std::thread::hardware_concurrency();
  if (cores > 0) at::set_num_threads(static_cast<int>(cores));
}

}  // namespace

at::ScalarType parseDtype(const std::string& name) {
  for (const auto& d : dtypeNames) {
    if (name == d.name) return d.type;
  }
  throw ArgError("unknown dtype '" + name +
                 "': expected one of float32, float64, float16, bfloat16, int64, int32, uint8, bool");
}

const char* dtypeName(at::ScalarType type) {
  for (const auto& d : dtypeNames) {
    if (type == d.type) return d.name;
  }
  return c10::toString(type);
}

c10::Device parseDevice(const std::string& spec) {
  std::optional<c10::Device> device;
  try {
    device = c10::Device(spec);
  } catch (const c10::Error&) {
  }
  if (!device || !(device->is_cpu() || device->is_cuda()) || (device->is_cpu() && device->has_index())) {
    throw ArgError("unknown device '" + spec + "': expected 'cpu', 'cuda' or 'cuda:N'");
  }
  if (device->is_cuda()) {
    int count = cudaDeviceCount();
    if (count == 0) {
      throw std::runtime_error("device '" + spec +
                               "' requested but CUDA is not available: this libtorch " +
                               (at::hasCUDA() ? "sees no GPU" : "was built without CUDA") +
                               "; use device 'cpu', or build torchbridge against a CUDA libtorch on a GPU "
                               "machine (LIBTORCH=/path/to/libtorch npm run build:native)");
    }
    if (device->has_index() && device->index() >= count) {
      throw std::runtime_error("device '" + spec + "' requested but this machine has " + std::to_string(count) +
                               " GPU(s): use cuda:0 to cuda:" + std::to_string(count - 1));
    }
  }
  return *device;
}

std::string deviceName(const c10::Device& device) { return device.str(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // The thread count is the process's: chosen once, not again by each worker that loads us.
  static std::once_flag threadsChosen;
  guarded(env, [] {
    std::call_once(threadsChosen, chooseDefaultThreads);
    return Napi::Value();
  });
  env.SetInstanceData<EnvData>(std::make_unique<EnvData>(env).release());  // owned and freed by the environment
  TensorWrap::Init(env, exports);
  Napi::Object ops = Napi::Object::New(env);
  exportRegisteredOps(env, exports, ops);
  exports.Set("ops", ops);
  return exports;
}

}  // namespace tb

static Napi::Object InitTorchbridge(Napi::Env env, Napi::Object exports) { return tb::Init(env, exports); }

NODE_API_MODULE(torchbridge, InitTorchbridge)
