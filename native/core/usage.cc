#include "core/usage.h"

namespace tb {

void Usage::add(const std::vector<const void*>& keys) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const void* key : keys) ++counts_[key];
  size_.store(static_cast<int64_t>(counts_.size()), std::memory_order_release);
}

void Usage::remove(const std::vector<const void*>& keys) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const void* key : keys) {
    auto it = counts_.find(key);
    if (it != counts_.end() && --it->second == 0) counts_.erase(it);
  }
  size_.store(static_cast<int64_t>(counts_.size()), std::memory_order_release);
}

bool Usage::contains(const void* key) const {
  if (empty()) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return counts_.count(key) > 0;
}

Usage& busyObjects() {
  static Usage usage;
  return usage;
}

Usage& heldObjects() {
  static Usage usage;
  return usage;
}

namespace {
const void* storageOf(const at::Tensor& t) { return t.defined() && t.has_storage() ? t.storage().unsafeGetStorageImpl() : nullptr; }
}  // namespace

std::vector<const void*> busyKeys(const torch::nn::Module& model, const torch::optim::Optimizer& optimizer) {
  std::vector<const void*> keys;
  for (const auto& m : model.modules(/*include_self=*/true)) keys.push_back(m.get());
  for (const auto& p : model.parameters()) keys.push_back(storageOf(p));
  for (const auto& b : model.buffers()) keys.push_back(storageOf(b));
  keys.push_back(&optimizer);
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) keys.push_back(storageOf(p));
  }
  return keys;
}

std::string busyMessage(const std::string& what) {
  return what +
         ": the model or optimizer is busy: a Trainer step or evaluation that uses it is running. Await the "
         "Promise that trainer.step() or trainer.evaluate() returned before touching the model, its parameters, "
         "buffers or submodules, or the optimizer";
}

void checkModuleIdle(const torch::nn::Module& module, const std::string& what) {
  Usage& busy = busyObjects();
  if (busy.empty()) return;
  // A submodule of the model in training, or a parent whose subtree holds it.
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (busy.contains(m.get())) throw BusyError(busyMessage(what));
  }
}

void checkTensorIdle(const at::Tensor& tensor, const std::string& what) {
  Usage& busy = busyObjects();
  if (busy.empty()) return;
  if (busy.contains(storageOf(tensor))) throw BusyError(busyMessage(what));
}

void checkOptimizerIdle(const torch::optim::Optimizer& optimizer, const std::string& what) {
  Usage& busy = busyObjects();
  if (busy.empty()) return;
  if (busy.contains(&optimizer)) throw BusyError(busyMessage(what));
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      if (busy.contains(storageOf(p))) throw BusyError(busyMessage(what));
    }
  }
}

}  // namespace tb
