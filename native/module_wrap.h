// The JS handle of a torch::nn::Module. Modules are C++ Cloneable modules (so that a trainer
// can replicate them per device); `any` gives type-erased access to forward() when the module
// has one (containers built from JS have none: their forward is written in TypeScript).
#pragma once

#include <atomic>

#include "common.h"

namespace tb {

// The type-erased forward of a module of a known type (empty for containers without forward).
torch::nn::AnyModule anyModuleOf(const std::shared_ptr<torch::nn::Module>& module);

class ModuleWrap : public Napi::ObjectWrap<ModuleWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  static Napi::Object New(Napi::Env env, std::shared_ptr<torch::nn::Module> module, torch::nn::AnyModule any);
  static bool IsHandle(const Napi::Value& value);
  // The wrapper behind a JS handle; TypeError when `value` is not a module handle.
  static ModuleWrap& Get(const Napi::Value& value, const char* what);

  explicit ModuleWrap(const Napi::CallbackInfo& info);

  torch::nn::Module& module() const { return *module_; }
  const std::shared_ptr<torch::nn::Module>& modulePtr() const { return module_; }
  // Empty for modules without forward().
  torch::nn::AnyModule& any() { return any_; }

  // Set while a training step runs on the module off the JS thread; JS calls that touch the
  // module meanwhile fail with a clear error instead of racing.
  std::atomic<bool>& busy() { return busy_; }
  void checkIdle(const char* what) const;

 private:
  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule any_;
  std::atomic<bool> busy_{false};
};

}  // namespace tb
