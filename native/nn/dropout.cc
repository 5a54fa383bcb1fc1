// Dropout with a choice of random stream per thread (see dropout.h): PyTorch's own, or a
// Philox4x32-10 mask filled in parallel.
#include "nn/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/TracerMode.h>
#include <ATen/core/PhiloxRNGEngine.h>

namespace tb {

namespace {
thread_local DropoutRng currentDropoutRng = DropoutRng::PyTorch;

// PyTorch's dropout noise, bernoulli(keep) / keep, written into `noise` (contiguous) in one pass:
// each element is 0 or the value `1 / keep` that PyTorch's noise.div_(keep) gives kept elements.
// Four elements per Philox4x32-10 block: block b uses counter b and key `seed`, so the mask does
// not depend on how the work is split between threads.
void philoxDropoutNoise(at::Tensor& noise, double keep, uint64_t seed) {
  const int64_t n = noise.numel();
  // keep an element when its 24-bit uniform u / 2^24 < keep (CUDA's float uniform, in integers)
  const uint32_t threshold = static_cast<uint32_t>(std::ceil(keep * 16777216.0));
  AT_DISPATCH_FLOATING_TYPES(noise.scalar_type(), "philox_dropout_noise", [&] {
    // float32: 1.0f / float(keep), as div_'s float kernel computes it (double likewise)
    const scalar_t kept = static_cast<scalar_t>(1) / static_cast<scalar_t>(keep);
    scalar_t* out = noise.data_ptr<scalar_t>();
    const int64_t blocks = (n + 3) / 4;
    at::parallel_for(0, blocks, 2048, [&](int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        at::Philox4_32 engine(seed, static_cast<uint64_t>(b), 0);
        for (int64_t j = 4 * b; j < std::min(n, 4 * b + 4); ++j) out[j] = (engine() >> 8) < threshold ? kept : scalar_t(0);
      }
    });
  });
}
}  // namespace

DropoutRngGuard::DropoutRngGuard(DropoutRng rng) : previous_(currentDropoutRng) { currentDropoutRng = rng; }
DropoutRngGuard::~DropoutRngGuard() { currentDropoutRng = previous_; }

at::Tensor applyDropout(const at::Tensor& input, double p, bool train) {
  const auto type = input.scalar_type();
  // PyTorch's own op under torch.jit.trace, so that the graph records aten::dropout
  if (currentDropoutRng == DropoutRng::PyTorch || at::tracer::impl::is_dispatch_enabled() || !train || p == 0 || p == 1 || input.numel() == 0 || !input.is_cpu() ||
      (type != at::kFloat && type != at::kDouble)) {
    return at::dropout(input, p, train);  // PyTorch's stream; its own edge cases
  }
  uint64_t seed;
  {
    at::CPUGeneratorImpl* generator = at::get_generator_or_default<at::CPUGeneratorImpl>(c10::nullopt, at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(generator->mutex_);
    seed = generator->random64();
  }
  at::Tensor noise = at::empty_like(input, at::MemoryFormat::Contiguous);
  philoxDropoutNoise(noise, 1 - p, seed);
  return input * noise;
}

}  // namespace tb
