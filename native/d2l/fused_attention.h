// d2l's DotProductAttention (bmm, masked_softmax with its -1e6 fill, dropout, bmm) as one native
// kernel forward and one backward, per (batch x head) item in parallel: the scores, the softmax,
// the dropout noise (the trainer's Philox stream, regenerated in backward from the seed instead
// of being stored) and both products stay in the item's cache-sized rows. It replaces four
// batched products that Debian's libtorch 1.13 runs as one small BLAS call per item (with a
// select and a conjugation check each: 3 of every 10 operator calls of a bert.small step), the
// score scaling, the mask, the softmax and the dropout passes. Saved for backward: the inputs and
// the softmax weights (not the scores, the mask or the noise).
//
// The function is d2l's to float rounding (the products add in another order than BLAS; tests
// compare with the reference kernel within 1e-5): keys at positions >= valid_len get weight 0
// (exactly, as with -1e6 whenever a key is valid), a row without valid keys weighs all keys
// equally (as d2l's fill does), and gradients do not flow into masked scores.
#pragma once

#include "core/common.h"

namespace tb::d2l {

// Whether fusedDotProductAttention computes d2l's attention for these arguments on this thread:
// CPU float32/float64 [batch, queries, d], [batch, keys, d], [batch, keys, dv]; dropout off, or
// the Philox stream (PyTorch's serial stream cannot be reproduced in parallel); not under tracing.
bool fusedAttentionApplies(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& validLens,
                           double p, bool train);

// d2l's DotProductAttention forward (dropout p when `train`), differentiable in queries, keys and values.
at::Tensor fusedDotProductAttention(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values,
                                    const at::Tensor& validLens, double p, bool train);

// MultiHeadAttention's self-attention from the packed projections: qkv [batch, n, 3 * hidden]
// (X W_q^T + b_q, X W_k^T + b_k, X W_v^T + b_v side by side, hidden = heads * depth), validLens
// [batch] or [batch, n] as MultiHeadAttention takes them -> [batch, n, hidden], d2l's
// transpose_output(attention(transpose_qkv(q), transpose_qkv(k), transpose_qkv(v), lens repeated
// over the heads)) without the transposed copies: each head's item reads its columns in place, and
// backward writes the three gradients into one [batch, n, 3 * hidden] tensor. The same conditions
// as fusedAttentionApplies (dropout noise: item b * heads + h's, as the reference draws it).
bool fusedSelfAttentionApplies(const at::Tensor& qkv, const at::Tensor& validLens, int64_t heads, double p, bool train);

at::Tensor fusedSelfAttention(const at::Tensor& qkv, const at::Tensor& validLens, int64_t heads, double p, bool train);

}  // namespace tb::d2l
