// d2l's AddNorm, LayerNorm(dropout(Y) + X), as one native pass each way: forward draws the
// dropout noise (the trainer's Philox stream, as applyDropout draws it for Y) row by row, adds the
// residual and normalises the row while it is in cache; backward gives X's and Y's gradients and
// the LayerNorm weight's and bias's in one pass (the last two summed over rows in blocks of a fixed
// size, so that the result does not depend on the thread count). Saved for backward: the sum
// dropout(Y) + X and each row's mean and 1 / std, as LayerNorm saves them, and the dropout mask as
// one byte per element (a quarter of the float noise tensor the reference keeps; regenerating the
// Philox noise in backward instead cost more than reading it: 4.3 against 2.0 ms of backward per
// bert.small step here).
//
// LayerNorm's arithmetic is PyTorch's CPU kernel's (biased variance, rstd = 1 / sqrt(var + eps),
// y = (x * rstd - mean * rstd) * weight + bias; backward through its ds, db formulas), with each
// row's sums in double: the result is the reference kernels' to float rounding, which tests compare
// within 1e-5.
#pragma once

#include "core/common.h"

namespace tb::d2l {

// Whether fusedAddNorm computes AddNorm's forward for these arguments on this thread: CPU
// float32/float64 X and Y of one shape, normalised over their last dimension by an affine
// LayerNorm of the same dtype; dropout off, or the Philox stream (0 < p < 1); not under tracing.
bool fusedAddNormApplies(const at::Tensor& X, const at::Tensor& Y, const torch::nn::LayerNorm& ln, double p, bool train);

// ln(dropout(Y, p, train) + X), differentiable in X, Y and ln's weight and bias.
at::Tensor fusedAddNorm(const at::Tensor& X, const at::Tensor& Y, const torch::nn::LayerNorm& ln, double p, bool train);

}  // namespace tb::d2l
