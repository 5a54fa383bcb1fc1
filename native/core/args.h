// Typed access to the arguments of a native call. The TypeScript layer has already shaped
// them; these checks turn any remaining misuse into a TypeError that names the call and the
// argument instead of a crash.
#pragma once

#include "core/common.h"
#include "nn/module_wrap.h"
#include "core/tensor_wrap.h"

namespace tb {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* name) : info_(info), name_(name) {}

  Napi::Env env() const { return info_.Env(); }
  // The name of the native call, for messages.
  const char* name() const { return name_; }
  size_t size() const { return info_.Length(); }
  Napi::Value operator[](size_t i) const { return info_[i]; }

  // True when argument i was given (not undefined and not null).
  bool has(size_t i) const { return i < info_.Length() && !info_[i].IsUndefined() && !info_[i].IsNull(); }
  bool isTensor(size_t i) const { return i < info_.Length() && TensorWrap::IsHandle(info_[i]); }

  ModuleWrap& module(size_t i) const { return ModuleWrap::Get(info_[i], label(i).c_str()); }
  at::Tensor& tensor(size_t i) const { return TensorWrap::Get(info_[i], label(i).c_str()); }
  c10::optional<at::Tensor> optTensor(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return tensor(i);
  }

  double number(size_t i) const {
    if (!info_[i].IsNumber()) fail(i, "a number");
    return info_[i].As<Napi::Number>().DoubleValue();
  }
  int64_t integer(size_t i) const {
    double v = number(i);
    if (v != static_cast<double>(static_cast<int64_t>(v))) fail(i, "an integer");
    return static_cast<int64_t>(v);
  }
  c10::optional<int64_t> optInteger(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return integer(i);
  }
  int64_t integerOr(size_t i, int64_t fallback) const { return has(i) ? integer(i) : fallback; }
  bool boolean(size_t i, bool fallback = false) const {
    if (!has(i)) return fallback;
    if (!info_[i].IsBoolean()) fail(i, "a boolean");
    return info_[i].As<Napi::Boolean>().Value();
  }
  std::string string(size_t i) const {
    if (!info_[i].IsString()) fail(i, "a string");
    return info_[i].As<Napi::String>().Utf8Value();
  }

  // A JS number, boolean or bigint as a libtorch Scalar. Integral numbers become integer
  // scalars (as Python ints do), so that `intTensor.add(1)` stays integral.
  at::Scalar scalar(size_t i) const {
    Napi::Value v = info_[i];
    if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
    if (v.IsBigInt()) {
      bool lossless = false;
      int64_t x = v.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) throw ArgError(label(i) + " does not fit in int64");
      return at::Scalar(x);
    }
    if (!v.IsNumber()) fail(i, "a number, boolean or bigint");
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.007199254740992e15) {
      return at::Scalar(static_cast<int64_t>(d));
    }
    return at::Scalar(d);
  }
  // A tensor operand, or a scalar wrapped as Python wraps numbers (a 0-dim CPU tensor flagged as
  // a wrapped number): type promotion, kernels and grad_fn names (MulBackward0) match PyTorch's
  // `x * 2`.
  at::Tensor operand(size_t i) const {
    if (isTensor(i)) return tensor(i);
    at::Tensor wrapped = at::scalar_to_tensor(scalar(i));
    wrapped.unsafeGetTensorImpl()->set_wrapped_number(true);
    return wrapped;
  }
  // A number that must stay floating point (e.g. a fill value for a float tensor).
  c10::optional<at::Scalar> optScalar(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return scalar(i);
  }

  std::vector<int64_t> integers(size_t i) const {
    if (!info_[i].IsArray()) fail(i, "an array of integers");
    Napi::Array array = info_[i].As<Napi::Array>();
    std::vector<int64_t> out(array.Length());
    for (uint32_t k = 0; k < array.Length(); ++k) {
      Napi::Value v = array.Get(k);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
      if (!(d == std::trunc(d))) fail(i, "an array of integers");
      out[k] = static_cast<int64_t>(d);
    }
    return out;
  }
  c10::optional<std::vector<int64_t>> optIntegers(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return integers(i);
  }
  std::vector<at::Tensor> tensors(size_t i) const {
    if (!info_[i].IsArray()) fail(i, "an array of Tensors");
    Napi::Array array = info_[i].As<Napi::Array>();
    std::vector<at::Tensor> out;
    out.reserve(array.Length());
    for (uint32_t k = 0; k < array.Length(); ++k) {
      out.push_back(TensorWrap::Get(array.Get(k), (label(i) + "[" + std::to_string(k) + "]").c_str()));
    }
    return out;
  }

  // Tensors, or null/undefined for an absent optional tensor (an undefined at::Tensor; d2l's
  // valid_lens=None): a forward's inputs.
  std::vector<at::Tensor> optionalTensors(size_t i) const {
    if (!info_[i].IsArray()) fail(i, "an array of inputs");
    Napi::Array array = info_[i].As<Napi::Array>();
    std::vector<at::Tensor> out(array.Length());
    for (uint32_t k = 0; k < array.Length(); ++k) {
      Napi::Value v = array.Get(k);
      if (!v.IsNull() && !v.IsUndefined()) out[k] = TensorWrap::Get(v, (label(i) + "[" + std::to_string(k) + "]").c_str());
    }
    return out;
  }

  at::ScalarType dtype(size_t i) const { return parseDtype(string(i)); }
  c10::optional<at::ScalarType> optDtype(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return dtype(i);
  }
  c10::Device device(size_t i) const { return parseDevice(string(i)); }
  c10::optional<c10::Device> optDevice(size_t i) const {
    if (!has(i)) return c10::nullopt;
    return device(i);
  }

  // Tensor options from the (dtype, device, requiresGrad) triple starting at argument i.
  at::TensorOptions options(size_t i, at::ScalarType fallbackDtype = at::kFloat) const {
    return at::TensorOptions()
        .dtype(has(i) ? dtype(i) : fallbackDtype)
        .device(has(i + 1) ? device(i + 1) : c10::Device(c10::kCPU))
        .requires_grad(boolean(i + 2));
  }

  Napi::Value wrap(at::Tensor t) const { return TensorWrap::New(env(), std::move(t)); }
  Napi::Value wrap(const std::vector<at::Tensor>& ts) const {
    Napi::Array out = Napi::Array::New(env(), ts.size());
    for (uint32_t k = 0; k < ts.size(); ++k) out.Set(k, wrap(ts[k]));
    return out;
  }

  std::string label(size_t i) const { return std::string(name_) + ": argument " + std::to_string(i + 1); }
  [[noreturn]] void fail(size_t i, const char* expected) const {
    throw ArgError(label(i) + " must be " + expected);
  }

 private:
  const Napi::CallbackInfo& info_;
  const char* name_;
};

}  // namespace tb
