// The module types the addon knows, each registered by the file that defines it: the nn layers
// from nn/modules.cc, d2l's blocks from d2l/blocks.cc. A type's entry gives the type-erased
// forward (AnyModule, which the trainer and Sequential call) and its PyTorch-style description
// (`kind` and the options its repr prints). The core asks the registry, never a type by name.
#pragma once

#include <functional>
#include <type_traits>
#include <typeindex>

#include "core/common.h"

namespace tb {

struct ModuleType {
  // The name a repr prints, e.g. "Linear", "BERTEncoder".
  const char* kind;
  // AnyModule over the module (which is of this exact type); null for types without forward.
  torch::nn::AnyModule (*any)(const std::shared_ptr<torch::nn::Module>& module);
  // Sets the options a repr prints (and may override "kind"); null for none.
  void (*describe)(const torch::nn::Module& module, Napi::Object& out);
};

// Adds a type; a second registration of one C++ type is a programming error (std::logic_error).
void registerModuleType(std::type_index type, ModuleType entry);
// The entry of the module's exact dynamic type, or null for types registered by nobody.
const ModuleType* moduleTypeOf(const torch::nn::Module& module);

// Whether Impl has a forward that AnyModule can hold (containers built from JS have none).
template <class Impl, class = void>
struct HasForward : std::false_type {};
template <class Impl>
struct HasForward<Impl, std::void_t<decltype(&Impl::forward)>> : std::true_type {};

// At namespace scope of a .cc file: TB_REGISTER_MODULE(d2l::AddNormImpl, "AddNorm");
// with an optional third argument, the describe function.
template <class Impl>
struct ModuleTypeRegistration {
  explicit ModuleTypeRegistration(const char* kind, void (*describe)(const torch::nn::Module&, Napi::Object&) = nullptr) {
    ModuleType entry{kind, nullptr, describe};
    if constexpr (HasForward<Impl>::value) {
      entry.any = [](const std::shared_ptr<torch::nn::Module>& m) {
        return torch::nn::AnyModule(std::dynamic_pointer_cast<Impl>(m));  // a virtual base: no static cast
      };
    }
    registerModuleType(typeid(Impl), entry);
  }
};
#define TB_MODULE_CONCAT_(a, b) a##b
#define TB_MODULE_NAME_(line) TB_MODULE_CONCAT_(tbModuleType_, line)
#define TB_REGISTER_MODULE(Impl, ...) static const ::tb::ModuleTypeRegistration<Impl> TB_MODULE_NAME_(__LINE__)(__VA_ARGS__)

}  // namespace tb
