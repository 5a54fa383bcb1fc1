// Who uses which native objects, so that JS can neither race running work nor free memory from
// under an owner. One rule for each:
//  - Busy. From the moment a Trainer step or evaluation is scheduled until its Promise settles,
//    the model (every submodule, the storages of its parameters and buffers) and the optimizer
//    (and the storages of its parameters) are busy: every JS call that reads or writes any of
//    them fails with BusyError, as better-sqlite3's "this database connection is busy".
//  - Held. A live optimizer holds its parameters and a live trainer holds its model and its
//    optimizer: disposing a module or an optimizer that is held fails until its holders are
//    disposed.
// Keys are object addresses (modules, optimizers, TensorImpls, StorageImpls), counted, so that
// two holders of one object both have to let go.
#pragma once

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "core/common.h"

namespace tb {

// A counted set of addresses, safe to use from any thread.
class Usage {
 public:
  void add(const std::vector<const void*>& keys);
  void remove(const std::vector<const void*>& keys);
  bool contains(const void* key) const;
  bool empty() const { return size_.load(std::memory_order_acquire) == 0; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const void*, int64_t> counts_;
  std::atomic<int64_t> size_{0};
};

Usage& busyObjects();
Usage& heldObjects();

// What a running step uses: every module of the tree and the storages of its parameters and
// buffers, the optimizer and the storages of its parameters.
std::vector<const void*> busyKeys(const torch::nn::Module& model, const torch::optim::Optimizer& optimizer);

// Marks `keys` busy (or held) for its lifetime.
class UsageLease {
 public:
  UsageLease(Usage& usage, std::vector<const void*> keys) : usage_(usage), keys_(std::move(keys)) { usage_.add(keys_); }
  ~UsageLease() { usage_.remove(keys_); }
  UsageLease(const UsageLease&) = delete;
  UsageLease& operator=(const UsageLease&) = delete;

 private:
  Usage& usage_;
  std::vector<const void*> keys_;
};

// BusyError naming `what` when the object (or, for a module, any of its submodules; for an
// optimizer, any of its parameters) is in use by a running step. Free when nothing is busy.
void checkModuleIdle(const torch::nn::Module& module, const std::string& what);
void checkTensorIdle(const at::Tensor& tensor, const std::string& what);
void checkOptimizerIdle(const torch::optim::Optimizer& optimizer, const std::string& what);

// The message of every BusyError: what was refused, and the fix.
std::string busyMessage(const std::string& what);

}  // namespace tb
