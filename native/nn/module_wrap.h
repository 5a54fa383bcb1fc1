// The JS handle of a torch::nn::Module. Modules are C++ Cloneable modules (so that a trainer
// can replicate them per device); `any` gives type-erased access to forward() when the module
// has one (containers built from JS have none: their forward is written in TypeScript).
#pragma once

#include "core/common.h"
#include "core/env_data.h"
#include "core/handle.h"

namespace tb {

// The type-erased forward of a module of a known type (empty for containers without forward).
torch::nn::AnyModule anyModuleOf(const std::shared_ptr<torch::nn::Module>& module);

class ModuleWrap : public HandleClass<ModuleWrap> {
 public:
  static constexpr const char* kClassName = "NativeModule";
  static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::moduleConstructor;

  static void Init(Napi::Env env, Napi::Object exports) { HandleClass::Init(env, exports); }
  // A new handle of `module`, with the type-erased forward of its registered type (module_types.h;
  // none for types without forward).
  static Napi::Object New(Napi::Env env, std::shared_ptr<torch::nn::Module> module);
  // The wrapper behind a JS handle; TypeError when `value` is not a module handle, Error when
  // it was disposed, BusyError while a training step uses the module (usage.h).
  static ModuleWrap& Get(const Napi::Value& value, const char* what);

  explicit ModuleWrap(const Napi::CallbackInfo& info);
  ~ModuleWrap() override;

  torch::nn::Module& module() const { return *module_; }
  const std::shared_ptr<torch::nn::Module>& modulePtr() const { return module_; }
  // Empty for modules without forward().
  torch::nn::AnyModule& any() { return any_; }

  // Releases this handle's module now (its memory, unless another handle or module shares it).
  // Refused while a trainer trains it or an optimizer holds its parameters (usage.h).
  void dispose();

  // Reports to V8, as external memory, the CPU storages of the module's parameters and buffers
  // that no other module handle of this environment reports yet; call again after anything that
  // replaces them (to(), registering parameters or children).
  void account();
  // account() for every live module handle of the environment: after to(), which replaces the
  // storages of a module that other handles (its children's, a container's) reach too.
  static void accountAll(Napi::Env env);

 private:
  void unaccount();

  std::shared_ptr<torch::nn::Module> module_;
  torch::nn::AnyModule any_;
  bool disposed_ = false;
  std::vector<ModuleStats::Key> accounted_;  // the storages this handle counts, sorted
};

// A new handle of a module holder (torch::nn::Linear, d2l::AddNorm, ...), for the op tables.
template <class Holder>
Napi::Value wrapModule(Napi::Env env, const Holder& holder) {
  return ModuleWrap::New(env, holder.ptr());
}

}  // namespace tb
