// d2l's DotProductAttention as one fused kernel each way (see fused_attention.h).
#include "d2l/fused_attention.h"

#include <ATen/Parallel.h>
#include <ATen/TracerMode.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cpu_kernels.h"
#include "nn/dropout.h"

namespace tb::d2l {

namespace {

// One call's items (batch: their count), each [queries, depth] x [keys, depth] -> [queries, valueDepth],
// and the distance between consecutive rows of an item's q, k, v and output (their gradients alike).
struct Shape {
  int64_t batch, queries, keys, depth, valueDepth;
  int64_t ldq, ldk, ldv, ldo;
};

// Where item b of the call starts in an operand: separate [items, rows, cols] tensors (heads 1),
// or head b % heads of example b / heads in the packed [batch, rows, 3 * hidden] projections and
// the [batch, rows, hidden] output (MultiHeadAttention's heads, before d2l's transpose_qkv).
struct Operand {
  int64_t offset, batchStride, headStride;
  int64_t at(int64_t b, int64_t heads) const { return offset + (b / heads) * batchStride + (b % heads) * headStride; }
};

// The valid lengths of item b are row b / heads of the [examples, Q] lengths.
struct Layout {
  int64_t heads;
  Operand q, k, v, out;
};

// Separate contiguous tensors: q [items, Q, D], k [items, K, D], v [items, K, DV], out [items, Q, DV].
Layout separateLayout(const Shape& n) {
  return {1, {0, n.queries * n.depth, 0}, {0, n.keys * n.depth, 0}, {0, n.keys * n.valueDepth, 0}, {0, n.queries * n.valueDepth, 0}};
}

// What one call applies: the score divisor (sqrt(d) rounded to T, as `bmm(...) / sqrt(d)` divides
// by it) and the dropout (the Philox seed the call drew, the keep probability).
template <class T>
struct Settings {
  T sqrtDepth;
  bool dropout;
  uint64_t seed;
  double keep;
};

// Valid key counts per (item, query), as double: d2l compares key positions (float32) with them.
at::Tensor lengthsPerQuery(const at::Tensor& validLens, int64_t batch, int64_t queries, int64_t keys) {
  if (!validLens.defined()) return at::full({batch, queries}, static_cast<double>(keys), at::TensorOptions().dtype(at::kDouble));
  at::Tensor lens = validLens.to(at::kDouble);
  if (lens.dim() == 1) lens = lens.view({batch, 1}).expand({batch, queries});
  return lens.contiguous();
}

// Vectors of `Bytes` bytes of T (GCC's vector extensions): the register of a variant's tiles.
template <class T, int Bytes>
struct Vec {
  typedef T type __attribute__((vector_size(Bytes)));
};

// Per-thread buffers of the item loops, reused across the items of a parallel chunk.
template <class T>
struct Scratch {
  std::vector<T> scores, dropped, noise, packed;
};

// The item loops (forwardItem, backwardItem), once per instruction set; itemKernels picks one.
// TB_TILE_*: a GEMM tile of the variant, ROWS rows of REGS vectors of BYTES bytes (8 accumulators).
#define TB_TILE_BYTES 32
#define TB_TILE_ROWS 4
#define TB_TILE_REGS 2
namespace baseline {
#include "d2l/fused_attention_items.inc"
}  // namespace baseline

#if TB_X86_TARGET_CLONES
TB_TARGET_AVX2
namespace avx2 {
#include "d2l/fused_attention_items.inc"
}  // namespace avx2
TB_TARGET_END

#undef TB_TILE_BYTES
#undef TB_TILE_ROWS
#undef TB_TILE_REGS
#define TB_TILE_BYTES 64
#define TB_TILE_ROWS 8
#define TB_TILE_REGS 1
TB_TARGET_AVX512
namespace avx512 {
#include "d2l/fused_attention_items.inc"
}  // namespace avx512
TB_TARGET_END
#endif
#undef TB_TILE_BYTES
#undef TB_TILE_ROWS
#undef TB_TILE_REGS

template <class T>
struct ItemKernels {
  void (*forward)(int64_t, const Shape&, const T*, const T*, const T*, const double*, T*, T*, const Settings<T>&, Scratch<T>&);
  void (*backward)(int64_t, const Shape&, const T*, const T*, const T*, const double*, const T*, const T*, T*, T*, T*,
                   const Settings<T>&, Scratch<T>&);
};

template <class T>
ItemKernels<T> itemKernels() {
#if TB_X86_TARGET_CLONES
  switch (cpuKernels()) {
    case CpuKernels::Avx512: return {&avx512::forwardItem<T>, &avx512::backwardItem<T>};
    case CpuKernels::Avx2: return {&avx2::forwardItem<T>, &avx2::backwardItem<T>};
    default: break;
  }
#endif
  return {&baseline::forwardItem<T>, &baseline::backwardItem<T>};
}

template <class T>
Settings<T> settingsOf(int64_t depth, bool dropout, uint64_t seed, double keep) {
  return {static_cast<T>(std::sqrt(static_cast<double>(depth))), dropout, seed, keep};
}

// The forward of every item: A (the softmax weights, [items, Q, K], saved for backward) and out.
void attentionForward(const Shape& n, const Layout& l, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                      const at::Tensor& lens, bool dropout, uint64_t seed, double p, at::Tensor& A, at::Tensor& out) {
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fused_attention_forward", [&] {
    const Settings<scalar_t> s = settingsOf<scalar_t>(n.depth, dropout, seed, 1 - p);
    const scalar_t *qp = q.data_ptr<scalar_t>(), *kp = k.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
    scalar_t *Ap = A.data_ptr<scalar_t>(), *op = out.data_ptr<scalar_t>();
    const double* lp = lens.data_ptr<double>();
    const ItemKernels<scalar_t> kernels = itemKernels<scalar_t>();
    at::parallel_for(0, n.batch, 1, [&](int64_t begin, int64_t end) {
      Scratch<scalar_t> scratch;
      for (int64_t b = begin; b < end; ++b) {
        kernels.forward(b, n, qp + l.q.at(b, l.heads), kp + l.k.at(b, l.heads), vp + l.v.at(b, l.heads), lp + (b / l.heads) * n.queries,
                        Ap + b * n.queries * n.keys, op + l.out.at(b, l.heads), s, scratch);
      }
    });
  });
}

// The backward of every item: the gradients dq, dk, dv (laid out as q, k and v) from dout (as out).
void attentionBackward(const Shape& n, const Layout& l, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                       const at::Tensor& lens, bool dropout, uint64_t seed, double p, const at::Tensor& A, const at::Tensor& dout,
                       at::Tensor& dq, at::Tensor& dk, at::Tensor& dv) {
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fused_attention_backward", [&] {
    const Settings<scalar_t> s = settingsOf<scalar_t>(n.depth, dropout, seed, 1 - p);
    const scalar_t *qp = q.data_ptr<scalar_t>(), *kp = k.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
    const scalar_t *Ap = A.data_ptr<scalar_t>(), *gp = dout.data_ptr<scalar_t>();
    scalar_t *dqp = dq.data_ptr<scalar_t>(), *dkp = dk.data_ptr<scalar_t>(), *dvp = dv.data_ptr<scalar_t>();
    const double* lp = lens.data_ptr<double>();
    const ItemKernels<scalar_t> kernels = itemKernels<scalar_t>();
    at::parallel_for(0, n.batch, 1, [&](int64_t begin, int64_t end) {
      Scratch<scalar_t> scratch;
      for (int64_t b = begin; b < end; ++b) {
        const int64_t qo = l.q.at(b, l.heads), ko = l.k.at(b, l.heads), vo = l.v.at(b, l.heads);
        kernels.backward(b, n, qp + qo, kp + ko, vp + vo, lp + (b / l.heads) * n.queries, Ap + b * n.queries * n.keys, gp + l.out.at(b, l.heads),
                         dqp + qo, dkp + ko, dvp + vo, s, scratch);
      }
    });
  });
}

void saveSettings(torch::autograd::AutogradContext* ctx, bool dropout, uint64_t seed, double p) {
  ctx->saved_data["dropout"] = dropout;
  ctx->saved_data["seed"] = static_cast<int64_t>(seed);
  ctx->saved_data["p"] = p;
}

struct SavedSettings {
  bool dropout;
  uint64_t seed;
  double p;
};

SavedSettings savedSettings(torch::autograd::AutogradContext* ctx) {
  return {ctx->saved_data["dropout"].toBool(), static_cast<uint64_t>(ctx->saved_data["seed"].toInt()), ctx->saved_data["p"].toDouble()};
}

// Separate queries [items, Q, D], keys [items, K, D] and values [items, K, DV].
struct FusedAttentionFunction : torch::autograd::Function<FusedAttentionFunction> {
  static Shape shapeOf(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    return {q.size(0), q.size(1), k.size(1), q.size(2), v.size(2), q.size(2), k.size(2), v.size(2), v.size(2)};
  }

  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& queries, const at::Tensor& keys,
                            const at::Tensor& values, const at::Tensor& lens, double p, bool train) {
    RECORD_FUNCTION("torchbridge::fused_attention", std::vector<c10::IValue>());  // named in profiles
    at::Tensor q = queries.contiguous(), k = keys.contiguous(), v = values.contiguous();
    const Shape n = shapeOf(q, k, v);
    const bool dropout = train && p > 0;
    const uint64_t seed = dropout ? philoxDropoutSeed() : 0;
    at::Tensor A = at::empty({n.batch, n.queries, n.keys}, q.options());
    at::Tensor out = at::empty({n.batch, n.queries, n.valueDepth}, q.options());
    attentionForward(n, separateLayout(n), q, k, v, lens, dropout, seed, p, A, out);
    ctx->save_for_backward({q, k, v, A, lens});
    saveSettings(ctx, dropout, seed, p);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("torchbridge::fused_attention_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &A = saved[3], &lens = saved[4];
    const SavedSettings s = savedSettings(ctx);
    at::Tensor dout = grads[0].contiguous();
    const Shape n = shapeOf(q, k, v);
    at::Tensor dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
    attentionBackward(n, separateLayout(n), q, k, v, lens, s.dropout, s.seed, s.p, A, dout, dq, dk, dv);
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// MultiHeadAttention's heads straight from the packed projections qkv [batch, n, 3 * hidden] (the
// queries', keys' and values' columns side by side) into the [batch, n, hidden] output: the item of
// head h of example b reads columns h * depth.. of each third and writes the same columns of out.
struct FusedSelfAttentionFunction : torch::autograd::Function<FusedSelfAttentionFunction> {
  static Shape shapeOf(const at::Tensor& qkv, int64_t heads) {
    const int64_t rows = qkv.size(1), hidden = qkv.size(2) / 3, depth = hidden / heads;
    return {qkv.size(0) * heads, rows, rows, depth, depth, 3 * hidden, 3 * hidden, 3 * hidden, hidden};
  }

  static Layout layoutOf(const at::Tensor& qkv, int64_t heads) {
    const int64_t rows = qkv.size(1), hidden = qkv.size(2) / 3, depth = hidden / heads;
    const int64_t example = rows * 3 * hidden;
    return {heads, {0, example, depth}, {hidden, example, depth}, {2 * hidden, example, depth}, {0, rows * hidden, depth}};
  }

  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& packed, const at::Tensor& lens, int64_t heads,
                            double p, bool train) {
    RECORD_FUNCTION("torchbridge::fused_self_attention", std::vector<c10::IValue>());
    at::Tensor qkv = packed.contiguous();
    const Shape n = shapeOf(qkv, heads);
    const bool dropout = train && p > 0;
    const uint64_t seed = dropout ? philoxDropoutSeed() : 0;
    at::Tensor A = at::empty({n.batch, n.queries, n.keys}, qkv.options());
    at::Tensor out = at::empty({qkv.size(0), qkv.size(1), qkv.size(2) / 3}, qkv.options());
    attentionForward(n, layoutOf(qkv, heads), qkv, qkv, qkv, lens, dropout, seed, p, A, out);
    ctx->save_for_backward({qkv, A, lens});
    saveSettings(ctx, dropout, seed, p);
    ctx->saved_data["heads"] = heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("torchbridge::fused_self_attention_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    const at::Tensor &qkv = saved[0], &A = saved[1], &lens = saved[2];
    const SavedSettings s = savedSettings(ctx);
    const int64_t heads = ctx->saved_data["heads"].toInt();
    at::Tensor dout = grads[0].contiguous();
    at::Tensor dqkv = at::empty_like(qkv);  // every element is written: the heads cover the columns
    attentionBackward(shapeOf(qkv, heads), layoutOf(qkv, heads), qkv, qkv, qkv, lens, s.dropout, s.seed, s.p, A, dout, dqkv, dqkv, dqkv);
    return {dqkv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool fusedAttentionApplies(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& validLens,
                           double p, bool train) {
  if (at::tracer::impl::is_dispatch_enabled()) return false;
  const at::ScalarType type = queries.scalar_type();
  if (type != at::kFloat && type != at::kDouble) return false;
  for (const at::Tensor* t : {&queries, &keys, &values}) {
    if (!t->is_cpu() || t->dim() != 3 || t->scalar_type() != type) return false;
  }
  const int64_t batch = queries.size(0);
  if (keys.size(0) != batch || values.size(0) != batch || keys.size(1) != values.size(1) || keys.size(2) != queries.size(2)) return false;
  if (validLens.defined()) {
    if (!validLens.is_cpu()) return false;
    const bool perItem = validLens.dim() == 1 && validLens.size(0) == batch;
    const bool perQuery = validLens.dim() == 2 && validLens.size(0) == batch && validLens.size(1) == queries.size(1);
    if (!perItem && !perQuery) return false;
  }
  if (train && p > 0 && (p >= 1 || currentDropoutRng() != DropoutRng::Philox)) return false;
  return true;
}

at::Tensor fusedDotProductAttention(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values,
                                    const at::Tensor& validLens, double p, bool train) {
  at::Tensor lens = lengthsPerQuery(validLens, queries.size(0), queries.size(1), keys.size(1));
  return FusedAttentionFunction::apply(queries, keys, values, lens, p, train);
}

bool fusedSelfAttentionApplies(const at::Tensor& qkv, const at::Tensor& validLens, int64_t heads, double p, bool train) {
  if (at::tracer::impl::is_dispatch_enabled() || heads <= 0) return false;
  const at::ScalarType type = qkv.scalar_type();
  if ((type != at::kFloat && type != at::kDouble) || !qkv.is_cpu() || qkv.dim() != 3 || qkv.size(2) % (3 * heads) != 0) return false;
  if (validLens.defined()) {
    if (!validLens.is_cpu()) return false;
    const bool perExample = validLens.dim() == 1 && validLens.size(0) == qkv.size(0);
    const bool perQuery = validLens.dim() == 2 && validLens.size(0) == qkv.size(0) && validLens.size(1) == qkv.size(1);
    if (!perExample && !perQuery) return false;
  }
  if (train && p > 0 && (p >= 1 || currentDropoutRng() != DropoutRng::Philox)) return false;
  return true;
}

at::Tensor fusedSelfAttention(const at::Tensor& qkv, const at::Tensor& validLens, int64_t heads, double p, bool train) {
  // per example: item b * heads + h reads example b's (d2l's repeat_interleave over the heads)
  at::Tensor lens = lengthsPerQuery(validLens, qkv.size(0), qkv.size(1), qkv.size(1));
  return FusedSelfAttentionFunction::apply(qkv, lens, heads, p, train);
}

}  // namespace tb::d2l
