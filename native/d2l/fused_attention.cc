// d2l's DotProductAttention as one fused kernel each way (see fused_attention.h).
#include "d2l/fused_attention.h"

#include <ATen/Parallel.h>
#include <ATen/TracerMode.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>

#include "nn/dropout.h"

namespace tb::d2l {

namespace {

struct Shape {
  int64_t batch, queries, keys, depth, valueDepth;
};

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

// Item b's forward: the softmax weights A [Q, K] (before dropout) and the output [Q, dv].
// Products as row updates (c outer, j inner), which vectorise without reassociating a sum.
template <class T>
void forwardItem(int64_t b, const Shape& n, const T* q, const T* k, const T* v, const double* lens, T* A, T* out,
                 const Settings<T>& s, std::vector<T>& keysT, std::vector<T>& noise) {
  const int64_t Q = n.queries, K = n.keys, D = n.depth, DV = n.valueDepth;
  for (int64_t j = 0; j < K; ++j) {
    for (int64_t c = 0; c < D; ++c) keysT[c * K + j] = k[j * D + c];
  }
  for (int64_t i = 0; i < Q; ++i) {
    T* __restrict row = A + i * K;
    for (int64_t j = 0; j < K; ++j) row[j] = T(0);
    for (int64_t c = 0; c < D; ++c) {
      const T qc = q[i * D + c];
      const T* __restrict kc = keysT.data() + c * K;
      for (int64_t j = 0; j < K; ++j) row[j] += qc * kc[j];
    }
    const double len = lens[i];
    T top = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < K; ++j) {
      row[j] = static_cast<double>(j) < len ? row[j] / s.sqrtDepth : T(-1e6);  // d2l's masked_fill
      top = std::max(top, row[j]);
    }
    T sum = 0;
    for (int64_t j = 0; j < K; ++j) {
      row[j] = std::exp(row[j] - top);
      sum += row[j];
    }
    for (int64_t j = 0; j < K; ++j) row[j] = row[j] / sum;
    if (s.dropout) philoxDropoutNoiseRange<T>(s.seed, s.keep, (b * Q + i) * K, (b * Q + i + 1) * K, noise.data());
    T* __restrict o = out + i * DV;
    for (int64_t c = 0; c < DV; ++c) o[c] = T(0);
    for (int64_t j = 0; j < K; ++j) {
      const T w = s.dropout ? row[j] * noise[j] : row[j];
      if (w == T(0)) continue;
      const T* __restrict vj = v + j * DV;
      for (int64_t c = 0; c < DV; ++c) o[c] += w * vj[c];
    }
  }
}

// Item b's backward: dq [Q, D], dk [K, D], dv [K, dv] from the output's gradient dout [Q, dv].
template <class T>
void backwardItem(int64_t b, const Shape& n, const T* q, const T* k, const T* v, const double* lens, const T* A, const T* dout,
                  T* dq, T* dk, T* dv, const Settings<T>& s, std::vector<T>& valuesT, std::vector<T>& noise, std::vector<T>& grad) {
  const int64_t Q = n.queries, K = n.keys, D = n.depth, DV = n.valueDepth;
  for (int64_t j = 0; j < K; ++j) {
    for (int64_t c = 0; c < DV; ++c) valuesT[c * K + j] = v[j * DV + c];
  }
  for (int64_t x = 0; x < K * D; ++x) dk[x] = T(0);
  for (int64_t x = 0; x < K * DV; ++x) dv[x] = T(0);
  for (int64_t i = 0; i < Q; ++i) {
    const T* __restrict a = A + i * K;
    const T* __restrict go = dout + i * DV;
    if (s.dropout) philoxDropoutNoiseRange<T>(s.seed, s.keep, (b * Q + i) * K, (b * Q + i + 1) * K, noise.data());
    // the gradient of the dropped-out weights, dout_i . v_j
    T* __restrict g = grad.data();
    for (int64_t j = 0; j < K; ++j) g[j] = T(0);
    for (int64_t c = 0; c < DV; ++c) {
      const T gc = go[c];
      const T* __restrict vc = valuesT.data() + c * K;
      for (int64_t j = 0; j < K; ++j) g[j] += gc * vc[j];
    }
    // dv_j += (dropped-out weight ij) dout_i
    for (int64_t j = 0; j < K; ++j) {
      const T w = s.dropout ? a[j] * noise[j] : a[j];
      if (w == T(0)) continue;
      T* __restrict dvj = dv + j * DV;
      for (int64_t c = 0; c < DV; ++c) dvj[c] += w * go[c];
    }
    // through dropout and the softmax: dS = A * (dA - sum(dA * A)); none into masked scores
    T dot = 0;
    for (int64_t j = 0; j < K; ++j) {
      if (s.dropout) g[j] = g[j] * noise[j];
      dot += g[j] * a[j];
    }
    const double len = lens[i];
    for (int64_t j = 0; j < K; ++j) g[j] = static_cast<double>(j) < len ? (a[j] * (g[j] - dot)) / s.sqrtDepth : T(0);
    T* __restrict dqi = dq + i * D;
    for (int64_t c = 0; c < D; ++c) dqi[c] = T(0);
    const T* __restrict qi = q + i * D;
    for (int64_t j = 0; j < K; ++j) {
      const T gj = g[j];
      if (gj == T(0)) continue;
      const T* __restrict kj = k + j * D;
      T* __restrict dkj = dk + j * D;
      for (int64_t c = 0; c < D; ++c) dqi[c] += gj * kj[c];
      for (int64_t c = 0; c < D; ++c) dkj[c] += gj * qi[c];
    }
  }
}

template <class T>
Settings<T> settingsOf(int64_t depth, bool dropout, uint64_t seed, double keep) {
  return {static_cast<T>(std::sqrt(static_cast<double>(depth))), dropout, seed, keep};
}

struct FusedAttentionFunction : torch::autograd::Function<FusedAttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& queries, const at::Tensor& keys,
                            const at::Tensor& values, const at::Tensor& lens, double p, bool train) {
    RECORD_FUNCTION("torchbridge::fused_attention", std::vector<c10::IValue>());  // named in profiles
    at::Tensor q = queries.contiguous(), k = keys.contiguous(), v = values.contiguous();
    const Shape n{q.size(0), q.size(1), k.size(1), q.size(2), v.size(2)};
    const bool dropout = train && p > 0;
    const uint64_t seed = dropout ? philoxDropoutSeed() : 0;
    at::Tensor A = at::empty({n.batch, n.queries, n.keys}, q.options());
    at::Tensor out = at::empty({n.batch, n.queries, n.valueDepth}, q.options());
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fused_attention_forward", [&] {
      const Settings<scalar_t> s = settingsOf<scalar_t>(n.depth, dropout, seed, 1 - p);
      const scalar_t *qp = q.data_ptr<scalar_t>(), *kp = k.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
      scalar_t *Ap = A.data_ptr<scalar_t>(), *op = out.data_ptr<scalar_t>();
      const double* lp = lens.data_ptr<double>();
      at::parallel_for(0, n.batch, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> keysT(n.depth * n.keys), noise(n.keys);
        for (int64_t b = begin; b < end; ++b) {
          forwardItem<scalar_t>(b, n, qp + b * n.queries * n.depth, kp + b * n.keys * n.depth, vp + b * n.keys * n.valueDepth,
                                lp + b * n.queries, Ap + b * n.queries * n.keys, op + b * n.queries * n.valueDepth, s, keysT, noise);
        }
      });
    });
    ctx->save_for_backward({q, k, v, A, lens});
    ctx->saved_data["dropout"] = dropout;
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    RECORD_FUNCTION("torchbridge::fused_attention_backward", std::vector<c10::IValue>());
    auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &A = saved[3], &lens = saved[4];
    const bool dropout = ctx->saved_data["dropout"].toBool();
    const uint64_t seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    at::Tensor dout = grads[0].contiguous();
    const Shape n{q.size(0), q.size(1), k.size(1), q.size(2), v.size(2)};
    at::Tensor dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "fused_attention_backward", [&] {
      const Settings<scalar_t> s = settingsOf<scalar_t>(n.depth, dropout, seed, 1 - p);
      const scalar_t *qp = q.data_ptr<scalar_t>(), *kp = k.data_ptr<scalar_t>(), *vp = v.data_ptr<scalar_t>();
      const scalar_t *Ap = A.data_ptr<scalar_t>(), *gp = dout.data_ptr<scalar_t>();
      scalar_t *dqp = dq.data_ptr<scalar_t>(), *dkp = dk.data_ptr<scalar_t>(), *dvp = dv.data_ptr<scalar_t>();
      const double* lp = lens.data_ptr<double>();
      at::parallel_for(0, n.batch, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> valuesT(n.valueDepth * n.keys), noise(n.keys), grad(n.keys);
        for (int64_t b = begin; b < end; ++b) {
          const int64_t qo = b * n.queries, ko = b * n.keys;
          backwardItem<scalar_t>(b, n, qp + qo * n.depth, kp + ko * n.depth, vp + ko * n.valueDepth, lp + qo, Ap + qo * n.keys,
                                 gp + qo * n.valueDepth, dqp + qo * n.depth, dkp + ko * n.depth, dvp + ko * n.valueDepth, s, valuesT,
                                 noise, grad);
        }
      });
    });
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor()};
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

}  // namespace tb::d2l
