#include "core/tensor_wrap.h"

#include "core/env_data.h"
#include "core/js_memory.h"
#include "core/usage.h"

namespace tb {

void TensorWrap::Init(Napi::Env env, Napi::Object exports) {
  HandleClass::Init(env, exports,
                    {
                        InstanceMethod("dispose", &TensorWrap::Dispose),
                        InstanceMethod("isDisposed", &TensorWrap::IsDisposed),
                    });
}

Napi::Object TensorWrap::New(Napi::Env env, at::Tensor tensor) {
  if (!tensor.defined()) throw std::runtime_error("internal: an undefined tensor cannot be wrapped");
  releasePendingJsMemory(env);
  auto [object, wrap] = Make(env);
  wrap->attach(std::move(tensor));
  return object;
}

at::Tensor& TensorWrap::Get(const Napi::Value& value, const char* what) {
  TensorWrap* wrap = TryUnwrap(value);
  if (!wrap) throw ArgError(std::string(what) + " must be a Tensor");
  if (!wrap->live_) {
    throw std::runtime_error(std::string(what) +
                             " was disposed: it was released by dispose() or by the tidy() scope "
                             "that created it; keep() it or return it from the scope to use it later");
  }
  checkTensorIdle(wrap->tensor_, what);
  checkJsMemory(value.Env(), wrap->tensor_, what);
  return wrap->tensor_;
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : HandleClass(info) {}

TensorWrap::~TensorWrap() { release(); }

void TensorWrap::attach(at::Tensor tensor) {
  tensor_ = std::move(tensor);
  live_ = true;
  const c10::Storage& storage = tensor_.storage();
  storageKey_ = storage.unsafeGetStorageImpl();
  onCpu_ = tensor_.device().is_cpu();
  int64_t newCpuBytes = 0;
  TensorStats& stats = EnvData::of(Env()).tensors;
  ++stats.liveTensors;
  TensorStats::StorageUse& use = stats.storages[storageKey_];
  if (use.handles++ == 0) {
    use.bytes = static_cast<int64_t>(storage.nbytes());
    use.cpu = onCpu_;
    stats.bytes += use.bytes;
    if (use.cpu) stats.cpuBytes += newCpuBytes = use.bytes;
  }
  if (newCpuBytes > 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), newCpuBytes);
}

void TensorWrap::release() {
  if (!live_) return;
  live_ = false;
  int64_t freedCpuBytes = 0;
  TensorStats& stats = EnvData::of(Env()).tensors;
  --stats.liveTensors;
  auto it = stats.storages.find(storageKey_);
  if (it != stats.storages.end() && --it->second.handles == 0) {
    stats.bytes -= it->second.bytes;
    if (it->second.cpu) stats.cpuBytes -= freedCpuBytes = it->second.bytes;
    stats.storages.erase(it);
  }
  tensor_ = at::Tensor();
  if (freedCpuBytes > 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -freedCpuBytes);
}

TensorWrap::Stats TensorWrap::stats(Napi::Env env) {
  const TensorStats& stats = EnvData::of(env).tensors;
  return {stats.liveTensors, stats.bytes, stats.cpuBytes};
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (live_) checkTensorIdle(tensor_, "Tensor.dispose");
    release();
    return info.Env().Undefined();
  });
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !live_);
}

}  // namespace tb
