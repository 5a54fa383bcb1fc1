// Per JS environment (the main thread or a worker): the constructors of the native handle
// classes, so that C++ can create handles. Owned by the environment (napi instance data).
#pragma once

#include <napi.h>

namespace tb {

struct EnvData {
  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference moduleConstructor;
  Napi::FunctionReference optimizerConstructor;
  Napi::FunctionReference trainerConstructor;

  static EnvData& of(Napi::Env env) { return *env.GetInstanceData<EnvData>(); }
};

}  // namespace tb
