// Dropout with a choice of random stream per thread (see dropout.h): PyTorch's own, or a
// Philox4x32-10 mask filled in parallel.
#include "nn/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/TracerMode.h>
#include <ATen/core/PhiloxRNGEngine.h>

#include <algorithm>

#include "core/cpu_kernels.h"

namespace tb {

namespace {
thread_local DropoutRng dropoutRngOfThread = DropoutRng::PyTorch;

// philoxDropoutNoiseRange's loops, once per instruction set
namespace baseline {
#include "nn/philox_noise.inc"
}  // namespace baseline
#if TB_X86_TARGET_CLONES
TB_TARGET_AVX2
namespace avx2 {
#include "nn/philox_noise.inc"
}  // namespace avx2
TB_TARGET_END
TB_TARGET_AVX512
namespace avx512 {
#include "nn/philox_noise.inc"
}  // namespace avx512
TB_TARGET_END
#endif

// PyTorch's dropout noise, bernoulli(keep) / keep, written into `noise` (contiguous) in one pass
// (philoxDropoutNoiseRange: a 24-bit uniform per element, CUDA's float uniform in integers), in
// parallel over blocks of four elements: the mask does not depend on how the work is split.
void philoxDropoutNoise(at::Tensor& noise, double keep, uint64_t seed) {
  const int64_t n = noise.numel();
  AT_DISPATCH_FLOATING_TYPES(noise.scalar_type(), "philox_dropout_noise", [&] {
    scalar_t* out = noise.data_ptr<scalar_t>();
    at::parallel_for(0, (n + 3) / 4, 2048, [&](int64_t begin, int64_t end) {
      philoxDropoutNoiseRange(seed, keep, 4 * begin, std::min(n, 4 * end), out + 4 * begin);
    });
  });
}
}  // namespace

template <class T>
void philoxDropoutNoiseRange(uint64_t seed, double keep, int64_t begin, int64_t end, T* out) {
  const uint32_t threshold = philoxKeepThreshold(keep);
  const T kept = static_cast<T>(1) / static_cast<T>(keep);  // as div_'s kernel computes it
#if TB_X86_TARGET_CLONES
  switch (cpuKernels()) {
    case CpuKernels::Avx512: return avx512::noiseRange<T>(seed, threshold, kept, begin, end, out);
    case CpuKernels::Avx2: return avx2::noiseRange<T>(seed, threshold, kept, begin, end, out);
    default: break;
  }
#endif
  baseline::noiseRange<T>(seed, threshold, kept, begin, end, out);
}
template void philoxDropoutNoiseRange<float>(uint64_t, double, int64_t, int64_t, float*);
template void philoxDropoutNoiseRange<double>(uint64_t, double, int64_t, int64_t, double*);

DropoutRngGuard::DropoutRngGuard(DropoutRng rng) : previous_(dropoutRngOfThread) { dropoutRngOfThread = rng; }
DropoutRngGuard::~DropoutRngGuard() { dropoutRngOfThread = previous_; }

DropoutRng currentDropoutRng() { return dropoutRngOfThread; }

uint64_t philoxDropoutSeed() {
  at::CPUGeneratorImpl* generator = at::get_generator_or_default<at::CPUGeneratorImpl>(c10::nullopt, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(generator->mutex_);
  return generator->random64();
}

at::Tensor applyDropout(const at::Tensor& input, double p, bool train) {
  const auto type = input.scalar_type();
  const bool reduced = type == at::kBFloat16 || type == at::kHalf;
  // PyTorch's own op under torch.jit.trace, so that the graph records aten::dropout
  if (dropoutRngOfThread == DropoutRng::PyTorch || at::tracer::impl::is_dispatch_enabled() || !train || p == 0 || p == 1 || input.numel() == 0 || !input.is_cpu() ||
      (type != at::kFloat && type != at::kDouble && !reduced)) {
    return at::dropout(input, p, train);  // PyTorch's stream; its own edge cases
  }
  const uint64_t seed = philoxDropoutSeed();
  // bfloat16 and half (autocast's linear outputs): the float32 noise rounded to the input's type,
  // as PyTorch's noise.div_(1 - p) rounds 1 / (1 - p) in that type, then the product in it
  at::Tensor noise = at::empty(input.sizes(), input.options().dtype(reduced ? at::kFloat : type).memory_format(at::MemoryFormat::Contiguous));
  philoxDropoutNoise(noise, 1 - p, seed);
  return input * (reduced ? noise.to(type) : noise);
}

}  // namespace tb
