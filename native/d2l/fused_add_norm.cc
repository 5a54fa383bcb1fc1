// d2l's AddNorm as one fused pass each way (see fused_add_norm.h).
#include "d2l/fused_add_norm.h"

#include <ATen/Parallel.h>
#include <ATen/TracerMode.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu_kernels.h"
#include "nn/dropout.h"

namespace tb::d2l {

namespace {

// Rows per block of the weight's and bias's gradient sums: each block's partial sums are added in
// block order, whatever thread ran it.
constexpr int64_t kRowsPerBlock = 32;

struct Noise {
  bool on;
  uint64_t seed;
  double keep;
};

// The row loops (Rows<T>::forward, ::backward), once per instruction set; rowKernels picks one.
// (The baseline's vectors are SSE2's 16 bytes: wider ones would be passed in memory.)
#define TB_VEC_BYTES 16
namespace baseline {
#include "d2l/fused_add_norm_rows.inc"
}  // namespace baseline
#undef TB_VEC_BYTES

#if TB_X86_TARGET_CLONES
#define TB_VEC_BYTES 32
TB_TARGET_AVX2
namespace avx2 {
#include "d2l/fused_add_norm_rows.inc"
}  // namespace avx2
TB_TARGET_END
#undef TB_VEC_BYTES

#define TB_VEC_BYTES 64
TB_TARGET_AVX512
namespace avx512 {
#include "d2l/fused_add_norm_rows.inc"
}  // namespace avx512
TB_TARGET_END
#undef TB_VEC_BYTES
#endif

template <class T>
struct RowKernels {
  void (*forward)(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, double, const Noise&, T*, T*, T*, T*, uint8_t*,
                  std::vector<T>&);
  void (*backward)(int64_t, int64_t, int64_t, const T*, const T*, const T*, const T*, const T*, const uint8_t*, T, T*, T*, T*, T*,
                   std::vector<T>&);
};

template <class T>
RowKernels<T> rowKernels() {
#if TB_X86_TARGET_CLONES
  switch (cpuKernels()) {
    case CpuKernels::Avx512: return {&avx512::Rows<T>::forward, &avx512::Rows<T>::backward};
    case CpuKernels::Avx2: return {&avx2::Rows<T>::forward, &avx2::Rows<T>::backward};
    default: break;
  }
#endif
  return {&baseline::Rows<T>::forward, &baseline::Rows<T>::backward};
}

struct FusedAddNormFunction : torch::autograd::Function<FusedAddNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& X, const at::Tensor& Y, const at::Tensor& weight,
                            const at::Tensor& bias, double eps, double p, bool train) {
    RECORD_FUNCTION("torchbridge::fused_add_norm", std::vector<c10::IValue>());  // named in profiles
    at::Tensor x = X.contiguous(), y = Y.contiguous(), gamma = weight.contiguous(), beta = bias.contiguous();
    const int64_t h = x.size(-1), rows = x.numel() / h;
    const Noise noise{train && p > 0, train && p > 0 ? philoxDropoutSeed() : 0, 1 - p};
    at::Tensor Z = at::empty_like(x), out = at::empty_like(x);
    at::Tensor means = at::empty({rows}, x.options()), rstds = at::empty({rows}, x.options());
    at::Tensor mask = noise.on ? at::empty({rows, h}, x.options().dtype(at::kByte)) : at::Tensor();  // 1 byte per element
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fused_add_norm_forward", [&] {
      const RowKernels<scalar_t> kernels = rowKernels<scalar_t>();
      at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> kept;
        kernels.forward(begin, end, h, x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), gamma.data_ptr<scalar_t>(), beta.data_ptr<scalar_t>(),
                        eps, noise, Z.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), means.data_ptr<scalar_t>(), rstds.data_ptr<scalar_t>(),
                        noise.on ? mask.data_ptr<uint8_t>() : nullptr, kept);
      });
    });
    ctx->save_for_backward({Z, gamma, means, rstds, mask});
    ctx->saved_data["p"] = p;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("torchbridge::fused_add_norm_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    const at::Tensor &Z = saved[0], &gamma = saved[1], &means = saved[2], &rstds = saved[3], &mask = saved[4];
    const double keep = 1 - ctx->saved_data["p"].toDouble();
    at::Tensor dOut = grads[0].contiguous();
    const int64_t h = Z.size(-1), rows = Z.numel() / h;
    const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
    at::Tensor dX = at::empty_like(Z), dY = at::empty_like(Z);
    at::Tensor dgamma = at::empty_like(gamma), dbeta = at::empty_like(gamma);
    at::Tensor partials = at::empty({blocks, 2, h}, Z.options());  // each block's sums of dgamma, dbeta
    AT_DISPATCH_FLOATING_TYPES(Z.scalar_type(), "fused_add_norm_backward", [&] {
      const RowKernels<scalar_t> kernels = rowKernels<scalar_t>();
      scalar_t* sums = partials.data_ptr<scalar_t>();
      const scalar_t scale = static_cast<scalar_t>(1) / static_cast<scalar_t>(keep);  // a kept element's noise, as philoxDropoutNoiseRange's
      at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> kept;
        for (int64_t k = begin; k < end; ++k) {
          kernels.backward(k * kRowsPerBlock, std::min(rows, (k + 1) * kRowsPerBlock), h, Z.data_ptr<scalar_t>(), dOut.data_ptr<scalar_t>(),
                           gamma.data_ptr<scalar_t>(), means.data_ptr<scalar_t>(), rstds.data_ptr<scalar_t>(),
                           mask.defined() ? mask.data_ptr<uint8_t>() : nullptr, scale, dX.data_ptr<scalar_t>(),
                           dY.data_ptr<scalar_t>(), sums + k * 2 * h, sums + k * 2 * h + h, kept);
        }
      });
      // the blocks' sums added in block order, in double
      scalar_t *dg = dgamma.data_ptr<scalar_t>(), *dbt = dbeta.data_ptr<scalar_t>();
      at::parallel_for(0, h, 64, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
          double g = 0, b = 0;
          for (int64_t k = 0; k < blocks; ++k) {
            g += sums[k * 2 * h + j];
            b += sums[k * 2 * h + h + j];
          }
          dg[j] = static_cast<scalar_t>(g);
          dbt[j] = static_cast<scalar_t>(b);
        }
      });
    });
    return {dX, dY, dgamma, dbeta, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fusedAddNormApplies(const at::Tensor& X, const at::Tensor& Y, const torch::nn::LayerNorm& ln, double p, bool train) {
  if (at::tracer::impl::is_dispatch_enabled()) return false;
  const at::ScalarType type = X.scalar_type();
  if ((type != at::kFloat && type != at::kDouble) || Y.scalar_type() != type || !X.is_cpu() || !Y.is_cpu()) return false;
  if (X.dim() < 1 || !X.sizes().equals(Y.sizes()) || X.numel() == 0) return false;
  const auto& options = ln->options;
  if (!options.elementwise_affine() || options.normalized_shape().size() != 1 || options.normalized_shape()[0] != X.size(-1)) return false;
  if (!ln->weight.defined() || !ln->bias.defined() || ln->weight.scalar_type() != type || ln->bias.scalar_type() != type ||
      !ln->weight.is_cpu() || !ln->bias.is_cpu()) {
    return false;
  }
  if (train && p > 0 && (p >= 1 || currentDropoutRng() != DropoutRng::Philox)) return false;
  return true;
}

at::Tensor fusedAddNorm(const at::Tensor& X, const at::Tensor& Y, const torch::nn::LayerNorm& ln, double p, bool train) {
  return FusedAddNormFunction::apply(X, Y, ln->weight, ln->bias, ln->options.eps(), p, train);
}

}  // namespace tb::d2l
