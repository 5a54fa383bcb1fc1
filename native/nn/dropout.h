// Dropout (nn.Dropout in d2l's blocks, and the dropout op), with a choice of random stream per thread. PyTorch's CPU dropout
// draws its Bernoulli mask serially from the global mt19937 (two 32-bit draws and a double per
// element, under a lock): a third of a bert.small training step here. The trainer can switch its
// threads to a counter-based generator (Philox4x32-10, as CUDA's dropout uses) that fills the
// mask in parallel, seeded by one draw from the global generator (manualSeed still reproduces a
// run). Everything else is PyTorch's: noise = bernoulli(1 - p) / (1 - p), output = input * noise.
#pragma once

#include <ATen/core/PhiloxRNGEngine.h>

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

// The calling thread's stream.
DropoutRng currentDropoutRng();

// The Philox stream, for fused kernels that apply exactly the noise applyDropout would: one
// call's seed (one draw from the global generator, as applyDropout draws), and the noise of
// elements [begin, end) of the contiguous tensor that call would cover, written to out[0..end-begin):
// 0 for a dropped element, 1 / keep (rounded to T) for a kept one. Element e is lane e % 4 of
// Philox4x32-10 block e / 4 (counter e / 4, key the seed); kept when its upper 24 bits / 2^24 < keep.
uint64_t philoxDropoutSeed();

inline uint32_t philoxKeepThreshold(double keep) { return static_cast<uint32_t>(std::ceil(keep * 16777216.0)); }

// (float and double; vector code where core/cpu_kernels.h picks AVX2 or AVX-512, philox_noise.inc)
template <class T>
void philoxDropoutNoiseRange(uint64_t seed, double keep, int64_t begin, int64_t end, T* out);

// The same noise element by element through libtorch's at::Philox4_32 (tests compare with it).
template <class T>
void philoxDropoutNoiseRangeByEngine(uint64_t seed, double keep, int64_t begin, int64_t end, T* out) {
  const uint32_t threshold = philoxKeepThreshold(keep);
  const T kept = static_cast<T>(1) / static_cast<T>(keep);  // as div_'s kernel computes it
  int64_t e = begin;
  while (e < end) {
    const int64_t block = e / 4;
    at::Philox4_32 engine(seed, static_cast<uint64_t>(block), 0);
    for (int64_t lane = 0; lane < e % 4; ++lane) engine();
    for (; e < std::min(end, 4 * block + 4); ++e) out[e - begin] = (engine() >> 8) < threshold ? kept : T(0);
  }
}

// at::dropout(input, p, train) with the calling thread's stream (Philox: CPU float32, float64,
// and bfloat16 / half through float32 noise rounded to their type).
at::Tensor applyDropout(const at::Tensor& input, double p, bool train);

// The forward of a torch::nn::Dropout submodule with the calling thread's stream.
inline at::Tensor applyDropout(const torch::nn::Dropout& module, const at::Tensor& input) {
  return applyDropout(input, module->options.p(), module->is_training());
}

}  // namespace tb
