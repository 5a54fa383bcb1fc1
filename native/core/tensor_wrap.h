// The JS handle of one at::Tensor. Ownership is deterministic: dispose() releases the tensor at
// once; the GC finalizer is only the fallback. Every live handle is counted per environment
// (memory()), and the bytes of the CPU storages it keeps alive are reported to V8 as external
// memory.
#pragma once

#include "core/common.h"
#include "core/handle.h"

namespace tb {

class TensorWrap : public HandleClass<TensorWrap> {
 public:
  static constexpr const char* kClassName = "NativeTensor";
  static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::tensorConstructor;

  static void Init(Napi::Env env, Napi::Object exports);
  // Wraps a tensor in a new JS handle.
  static Napi::Object New(Napi::Env env, at::Tensor tensor);
  // The tensor behind a JS handle; TypeError when `value` is not a handle, Error when disposed.
  static at::Tensor& Get(const Napi::Value& value, const char* what);

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  struct Stats {
    int64_t liveTensors;
    int64_t bytes;       // unique storages kept alive by live handles, all devices
    int64_t cpuBytes;    // the part of `bytes` on the CPU (reported to V8)
  };
  // This environment's live handles (each worker thread counts its own).
  static Stats stats(Napi::Env env);

 private:
  void attach(at::Tensor tensor);
  void release();

  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);

  at::Tensor tensor_;
  bool live_ = false;
  const void* storageKey_ = nullptr;
  bool onCpu_ = false;
};

}  // namespace tb
