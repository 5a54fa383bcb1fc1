// Dropout (nn.Dropout in d2l's blocks, and the dropout op), with a choice of random stream per thread. PyTorch's CPU dropout
// draws its Bernoulli mask serially from the global mt19937 (two 32-bit draws and a double per
// element, under a lock): a third of a bert.small training step here. The trainer can switch its
// threads to a counter-based generator (Philox4x32-10, as CUDA's dropout uses) that fills the
// mask in parallel, seeded by one draw from the global generator (manualSeed still reproduces a
// run). Everything else is PyTorch's: noise = bernoulli(1 - p) / (1 - p), output = input * noise.
#pragma once

#include "core/common.h"

namespace tb {

enum class DropoutRng { PyTorch, Philox };

// The calling thread's dropout stream while alive (threads start with PyTorch's).
class DropoutRngGuard {
 public:
  explicit DropoutRngGuard(DropoutRng rng);
  ~DropoutRngGuard();
  DropoutRngGuard(const DropoutRngGuard&) = delete;
  DropoutRngGuard& operator=(const DropoutRngGuard&) = delete;

 private:
  DropoutRng previous_;
};

// 'pytorch' or 'philox' as a stream; `what` names the option in the error for anything else.
inline DropoutRng dropoutRngNamed(const std::string& name, const char* what) {
  if (name == "pytorch") return DropoutRng::PyTorch;
  if (name == "philox") return DropoutRng::Philox;
  throw ArgError(std::string(what) + " must be 'philox' or 'pytorch'");
}

// at::dropout(input, p, train) with the calling thread's stream.
at::Tensor applyDropout(const at::Tensor& input, double p, bool train);

// The forward of a torch::nn::Dropout submodule with the calling thread's stream.
inline at::Tensor applyDropout(const torch::nn::Dropout& module, const at::Tensor& input) {
  return applyDropout(input, module->options.p(), module->is_training());
}

}  // namespace tb
