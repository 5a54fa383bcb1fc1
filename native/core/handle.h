// The one pattern of the native handle classes (NativeTensor, NativeModule, NativeOptimizer,
// NativeTrainer): a JS class defined once per environment, its constructor kept in that
// environment's EnvData (so that worker threads each have their own), handles made from C++
// only, recognised with instanceof, and unwrapped after a type check. Each class adds its own
// liveness checks (disposed, busy) in its Get().
//
//   class OptimizerWrap : public HandleClass<OptimizerWrap> {
//    public:
//     static constexpr const char* kClassName = "NativeOptimizer";
//     static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::optimizerConstructor;
//     using HandleClass::HandleClass;
//   };
#pragma once

#include <utility>
#include <vector>

#include <napi.h>

#include "core/env_data.h"

namespace tb {

template <class Derived>
class HandleClass : public Napi::ObjectWrap<Derived> {
 public:
  // Defines the class in this environment and sets exports[kClassName] to its constructor.
  static void Init(Napi::Env env, Napi::Object exports, const std::vector<Napi::ClassPropertyDescriptor<Derived>>& members = {}) {
    Napi::Function ctor = Napi::ObjectWrap<Derived>::DefineClass(env, Derived::kClassName, members);
    constructor(env) = Napi::Persistent(ctor);
    exports.Set(Derived::kClassName, ctor);
  }

  // Whether `value` is a handle of this class (made in this environment).
  static bool IsHandle(const Napi::Value& value) {
    return value.IsObject() && value.As<Napi::Object>().InstanceOf(constructor(value.Env()).Value());
  }

  // The wrapper behind a handle of this class, or null when `value` is none.
  static Derived* TryUnwrap(const Napi::Value& value) {
    return IsHandle(value) ? Napi::ObjectWrap<Derived>::Unwrap(value.As<Napi::Object>()) : nullptr;
  }

  explicit HandleClass(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {}

 protected:
  // A new handle with an empty wrapper, for the class's New() to fill.
  static std::pair<Napi::Object, Derived*> Make(Napi::Env env) {
    Napi::Object object = constructor(env).Value().New({});
    return {object, Napi::ObjectWrap<Derived>::Unwrap(object)};
  }

 private:
  static Napi::FunctionReference& constructor(Napi::Env env) { return EnvData::of(env).*(Derived::kConstructor); }
};

}  // namespace tb
