// Native ops, exported as `ops.<name>(...)`: one table of small entries behind a single
// trampoline that parses arguments and converts errors. Creation functions, elementwise and
// reduction ops, shape ops, indexing and autograd entry points all live in these tables.
#pragma once

#include "args.h"

namespace tb {

struct OpEntry {
  const char* name;
  Napi::Value (*fn)(const Args& a);
};

// Adds every entry of `table` to `target` as a JS function.
void exportOps(Napi::Env env, Napi::Object target, const OpEntry* table, size_t count);

// The tables, one per concern (creation.cc, ops.cc, modules.cc, optim.cc, d2l.cc, trainer.cc).
void exportCreationOps(Napi::Env env, Napi::Object target);
void exportTensorOps(Napi::Env env, Napi::Object target);
void exportModuleOps(Napi::Env env, Napi::Object target);
void exportOptimOps(Napi::Env env, Napi::Object target);
void exportD2lOps(Napi::Env env, Napi::Object target);
void exportTrainerOps(Napi::Env env, Napi::Object target);

}  // namespace tb
