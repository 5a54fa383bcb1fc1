// libtorch's Adam and AdamW steps, one pass per parameter (see fused_adam.h).
#include "optim/fused_adam.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "optim/state_key.h"

namespace tb {

namespace {

// libtorch's step for one parameter (torch/csrc/api/src/optim/adam.cpp and adamw.cpp), with
// each double scalar rounded to T as ATen's float kernels round a Scalar argument:
//   AdamW: p.mul_(1 - lr * wd)
//   Adam:  grad = grad.add(p, wd)
//   exp_avg.mul_(beta1).add_(grad, 1 - beta1)
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
//   amsgrad: max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq), used below instead
//   denom = (exp_avg_sq.sqrt() / sqrt(bias_correction2)).add_(eps)
//   p.addcdiv_(exp_avg, denom, -lr / bias_correction1)
template <class T>
struct AdamScalars {
  T decay;         // AdamW: 1 - lr * wd (1 when there is none)
  T weightDecay;   // Adam: wd, added to the gradient (0 when there is none)
  T beta1, oneMinusBeta1, beta2, oneMinusBeta2;
  T sqrtBiasCorrection2, eps, negativeStepSize;
  bool decoupled, coupled, amsgrad;
};

// The options as template arguments, so that the loop has no branches and vectorises (sqrt as
// an instruction: the addon is built with -fno-math-errno).
template <class T, bool Decoupled, bool Coupled, bool Amsgrad>
void adamRange(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax, int64_t begin,
               int64_t end, const AdamScalars<T>& scalars) {
  const AdamScalars<T> s = scalars;
  for (int64_t i = begin; i < end; ++i) {
    T param = p[i];
    if constexpr (Decoupled) param = param * s.decay;
    T grad = g[i];
    if constexpr (Coupled) grad = grad + s.weightDecay * param;
    T mi = m[i] * s.beta1;
    mi = mi + s.oneMinusBeta1 * grad;
    T vi = v[i] * s.beta2;
    vi = vi + s.oneMinusBeta2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (Amsgrad) {
      second = vmax[i] > vi ? vmax[i] : vi;
      vmax[i] = second;
    }
    const T denom = std::sqrt(second) / s.sqrtBiasCorrection2 + s.eps;
    p[i] = param + s.negativeStepSize * mi / denom;
  }
}

template <class T, bool Decoupled, bool Coupled, bool Amsgrad>
void adamChunks(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamScalars<T>& s) {
  // 32K elements (128 KB of each of four streams in float32) per task: small parameters run inline
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) { adamRange<T, Decoupled, Coupled, Amsgrad>(p, g, m, v, vmax, begin, end, s); });
}

template <class T>
void adamParameter(at::Tensor& p, const at::Tensor& grad, at::Tensor& m, at::Tensor& v, at::Tensor& vmax, const AdamScalars<T>& s) {
  T* pp = p.data_ptr<T>();
  const T* gp = grad.data_ptr<T>();
  T* mp = m.data_ptr<T>();
  T* vp = v.data_ptr<T>();
  T* vmaxp = s.amsgrad ? vmax.data_ptr<T>() : nullptr;
  const int64_t n = p.numel();
  const int variant = (s.decoupled ? 4 : 0) | (s.coupled ? 2 : 0) | (s.amsgrad ? 1 : 0);
  switch (variant) {
    case 0: adamChunks<T, false, false, false>(pp, gp, mp, vp, vmaxp, n, s); break;
    case 1: adamChunks<T, false, false, true>(pp, gp, mp, vp, vmaxp, n, s); break;
    case 2: adamChunks<T, false, true, false>(pp, gp, mp, vp, vmaxp, n, s); break;
    case 3: adamChunks<T, false, true, true>(pp, gp, mp, vp, vmaxp, n, s); break;
    case 4: adamChunks<T, true, false, false>(pp, gp, mp, vp, vmaxp, n, s); break;
    default: adamChunks<T, true, false, true>(pp, gp, mp, vp, vmaxp, n, s); break;  // AdamW never couples
  }
}

template <class Options, class State>
void stepGroupParameter(torch::optim::Optimizer& optimizer, at::Tensor& p, Options& options, bool decoupled) {
  auto& states = optimizer.state();
  auto key = stateKey(p);
  auto found = states.find(key);
  if (found == states.end()) {
    // as libtorch's step creates it
    auto state = std::make_unique<State>();
    state->step(0);
    state->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    state->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    if (options.amsgrad()) state->max_exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    found = states.emplace(key, std::move(state)).first;
  }
  auto& state = static_cast<State&>(*found->second);
  state.step(state.step() + 1);
  const double beta1 = std::get<0>(options.betas());
  const double beta2 = std::get<1>(options.betas());
  const double biasCorrection1 = 1 - std::pow(beta1, state.step());
  const double biasCorrection2 = 1 - std::pow(beta2, state.step());
  const double lr = options.lr();
  const double wd = options.weight_decay();
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "fused_adam", [&] {
    AdamScalars<scalar_t> s{};
    s.decoupled = decoupled && wd != 0;
    s.coupled = !decoupled && wd != 0;
    s.decay = static_cast<scalar_t>(1 - lr * wd);
    s.weightDecay = static_cast<scalar_t>(wd);
    s.beta1 = static_cast<scalar_t>(beta1);
    s.oneMinusBeta1 = static_cast<scalar_t>(1 - beta1);
    s.beta2 = static_cast<scalar_t>(beta2);
    s.oneMinusBeta2 = static_cast<scalar_t>(1 - beta2);
    s.sqrtBiasCorrection2 = static_cast<scalar_t>(std::sqrt(biasCorrection2));
    s.eps = static_cast<scalar_t>(options.eps());
    s.negativeStepSize = static_cast<scalar_t>(-(lr / biasCorrection1));
    s.amsgrad = options.amsgrad();
    at::Tensor& vmax = state.max_exp_avg_sq();
    adamParameter<scalar_t>(p, p.grad(), state.exp_avg(), state.exp_avg_sq(), vmax, s);
  });
  // as libtorch's in-place ops leave them: the moments changed
  state.exp_avg().unsafeGetTensorImpl()->bump_version();
  state.exp_avg_sq().unsafeGetTensorImpl()->bump_version();
  if (options.amsgrad()) state.max_exp_avg_sq().unsafeGetTensorImpl()->bump_version();
}

bool suits(const at::Tensor& t, const at::Tensor& p) {
  return t.defined() && t.layout() == at::kStrided && t.device() == p.device() && t.scalar_type() == p.scalar_type() &&
         t.sizes().equals(p.sizes()) && t.is_contiguous();
}

}  // namespace

bool fusedAdamApplies(torch::optim::Optimizer& optimizer) {
  if (!dynamic_cast<torch::optim::Adam*>(&optimizer) && !dynamic_cast<torch::optim::AdamW*>(&optimizer)) return false;
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  auto& states = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      const at::Tensor& g = p.grad();
      if (!g.defined()) continue;
      if (!p.is_cpu() || (p.scalar_type() != at::kFloat && p.scalar_type() != at::kDouble) || !p.is_contiguous() || !suits(g, p)) return false;
      auto found = states.find(stateKey(p));
      if (found == states.end()) continue;
      auto fits = [&](auto& st, bool amsgrad) {
        return suits(st.exp_avg(), p) && suits(st.exp_avg_sq(), p) && (!amsgrad || suits(st.max_exp_avg_sq(), p));
      };
      bool ok = adamw ? fits(static_cast<torch::optim::AdamWParamState&>(*found->second),
                             static_cast<torch::optim::AdamWOptions&>(group.options()).amsgrad())
                      : fits(static_cast<torch::optim::AdamParamState&>(*found->second),
                             static_cast<torch::optim::AdamOptions&>(group.options()).amsgrad());
      if (!ok) return false;
    }
  }
  return true;
}

void fusedAdamStep(torch::optim::Optimizer& optimizer) {
  torch::NoGradGuard noGrad;
  const bool adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer) != nullptr;
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (adamw) {
        stepGroupParameter<torch::optim::AdamWOptions, torch::optim::AdamWParamState>(
            optimizer, p, static_cast<torch::optim::AdamWOptions&>(group.options()), true);
      } else {
        stepGroupParameter<torch::optim::AdamOptions, torch::optim::AdamParamState>(
            optimizer, p, static_cast<torch::optim::AdamOptions&>(group.options()), false);
      }
    }
  }
}

}  // namespace tb
