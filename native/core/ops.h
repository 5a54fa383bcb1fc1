// Native ops, exported as `ops.<name>(...)`: one table of small entries behind a single
// trampoline that parses arguments and converts errors. Creation functions, elementwise and
// reduction ops, shape ops, indexing and autograd entry points all live in these tables.
#pragma once

#include "core/args.h"

namespace tb {

struct OpEntry {
  const char* name;
  Napi::Value (*fn)(const Args& a);
};

// Adds every entry of `table` to `target` as a JS function.
void exportOps(Napi::Env env, Napi::Object target, const OpEntry* table, size_t count);

// Each concern's table registers itself in the file that defines it (TB_REGISTER_OPS), so the
// addon's entry point names no concern: d2l's blocks add their ops from d2l/blocks.cc, the
// trainer from trainer/trainer.cc. `init`, when given, runs before the table is exported, with
// the exports object (to define a handle class there).
using OpsInit = void (*)(Napi::Env env, Napi::Object exports);
struct OpRegistration {
  OpRegistration(const char* concern, const OpEntry* table, size_t count, OpsInit init = nullptr);
};
#define TB_REGISTER_OPS(concern, table, ...) \
  static const ::tb::OpRegistration tbOpRegistration_##table(concern, table, std::size(table), ##__VA_ARGS__)

// Every registered table into `target` (init hooks get `exports`). Two entries of one name are a
// programming error, reported at load time.
void exportRegisteredOps(Napi::Env env, Napi::Object exports, Napi::Object target);

}  // namespace tb
