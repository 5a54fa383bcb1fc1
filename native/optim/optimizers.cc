// Optimizers (libtorch's Adam, AdamW and SGD, whose updates are PyTorch's to the last bit).

#include "core/env_data.h"
#include "core/handle.h"
#include "core/ops.h"
#include "optim/fused_adam.h"
#include "optim/optimizer_wrap.h"
#include "optim/state_key.h"
#include "core/usage.h"

namespace tb {

namespace {

enum class OptimizerKind { Adam, AdamW, SGD };

class OptimizerWrap : public HandleClass<OptimizerWrap> {
 public:
  static constexpr const char* kClassName = "NativeOptimizer";
  static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::optimizerConstructor;

  static void Init(Napi::Env env, Napi::Object exports) { HandleClass::Init(env, exports); }
  static Napi::Object New(Napi::Env env, OptimizerKind kind, std::unique_ptr<torch::optim::Optimizer> optimizer, bool fused) {
    auto [object, wrap] = Make(env);
    wrap->kind = kind;
    wrap->fused = fused;
    std::vector<const void*> params;
    for (const auto& group : optimizer->param_groups()) {
      for (const auto& p : group.params()) params.push_back(p.unsafeGetTensorImpl());
    }
    wrap->optimizer = std::move(optimizer);
    wrap->holdsParameters_ = std::make_unique<UsageLease>(heldObjects(), std::move(params));
    return object;
  }
  // The optimizer behind argument i: TypeError when it is not an optimizer handle, Error once
  // disposed, BusyError while a training step uses it or its parameters.
  static OptimizerWrap& Get(const Args& a, size_t i) {
    OptimizerWrap* wrap = TryUnwrap(a[i]);
    if (!wrap) a.fail(i, "an Optimizer");
    if (wrap->disposed_) throw std::runtime_error(std::string(a.name()) + ": the Optimizer was disposed; create a new one");
    if (!wrap->optimizer) a.fail(i, "an initialised Optimizer");
    checkOptimizerIdle(*wrap->optimizer, a.name());
    return *wrap;
  }

  // Frees the optimizer's state now and lets go of its parameters. Refused while a Trainer uses it.
  void dispose() {
    if (heldObjects().contains(optimizer.get())) {
      throw std::runtime_error("Optimizer.dispose: a Trainer still uses this optimizer; dispose the Trainer first (trainer.dispose())");
    }
    holdsParameters_.reset();
    optimizer.reset();
    disposed_ = true;
  }

  using HandleClass::HandleClass;

  OptimizerKind kind = OptimizerKind::Adam;
  bool fused = false;  // Adam and AdamW: the one-pass step (optim/fused_adam.h) where it applies
  std::unique_ptr<torch::optim::Optimizer> optimizer;

 private:
  // Its parameters cannot be disposed (Module.dispose) while it lives.
  std::unique_ptr<UsageLease> holdsParameters_;
  bool disposed_ = false;

 public:

  torch::optim::OptimizerParamGroup& group(const Args& a, size_t i) {
    int64_t g = a.integer(i);
    auto& groups = optimizer->param_groups();
    if (g < 0 || g >= static_cast<int64_t>(groups.size())) {
      throw ArgError("parameter group " + std::to_string(g) + " does not exist (the optimizer has " +
                     std::to_string(groups.size()) + ")");
    }
    return groups[g];
  }
};

double numberField(Napi::Object o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw ArgError(std::string("optimizer option ") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
bool boolField(Napi::Object o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw ArgError(std::string("optimizer option ") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

// Options of one parameter group from a JS object (defaults already filled in by TypeScript).
std::unique_ptr<torch::optim::OptimizerOptions> groupOptions(OptimizerKind kind, Napi::Object o) {
  double lr = numberField(o, "lr", 1e-3);
  switch (kind) {
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      Napi::Value betas = o.Get("betas");
      double b1 = 0.9, b2 = 0.999;
      if (!betas.IsUndefined()) {
        if (!betas.IsArray() || betas.As<Napi::Array>().Length() != 2) throw ArgError("optimizer option betas must be [beta1, beta2]");
        b1 = betas.As<Napi::Array>().Get(0u).As<Napi::Number>().DoubleValue();
        b2 = betas.As<Napi::Array>().Get(1u).As<Napi::Number>().DoubleValue();
      }
      if (kind == OptimizerKind::Adam) {
        return std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(lr)
                                                               .betas({b1, b2})
                                                               .eps(numberField(o, "eps", 1e-8))
                                                               .weight_decay(numberField(o, "weightDecay", 0))
                                                               .amsgrad(boolField(o, "amsgrad", false)));
      }
      return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr)
                                                              .betas({b1, b2})
                                                              .eps(numberField(o, "eps", 1e-8))
                                                              .weight_decay(numberField(o, "weightDecay", 1e-2))
                                                              .amsgrad(boolField(o, "amsgrad", false)));
    }
    case OptimizerKind::SGD:
      return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(lr)
                                                            .momentum(numberField(o, "momentum", 0))
                                                            .dampening(numberField(o, "dampening", 0))
                                                            .weight_decay(numberField(o, "weightDecay", 0))
                                                            .nesterov(boolField(o, "nesterov", false)));
  }
  throw std::logic_error("unknown optimizer kind");
}

// optimizerCreate(kind, groups: [{params: Tensor[], ...options}], {fused?})
Napi::Value create(const Args& a) {
  std::string name = a.string(0);
  OptimizerKind kind;
  if (name == "adam") kind = OptimizerKind::Adam;
  else if (name == "adamw") kind = OptimizerKind::AdamW;
  else if (name == "sgd") kind = OptimizerKind::SGD;
  else throw ArgError("unknown optimizer '" + name + "': expected adam, adamw or sgd");
  if (!a[1].IsArray()) a.fail(1, "an array of parameter groups");
  Napi::Array groups = a[1].As<Napi::Array>();
  std::vector<torch::optim::OptimizerParamGroup> paramGroups;
  for (uint32_t g = 0; g < groups.Length(); ++g) {
    Napi::Object o = groups.Get(g).As<Napi::Object>();
    Napi::Value params = o.Get("params");
    if (!params.IsArray()) throw ArgError("parameter group " + std::to_string(g) + ": params must be an array of Tensors");
    std::vector<at::Tensor> tensors;
    Napi::Array list = params.As<Napi::Array>();
    for (uint32_t k = 0; k < list.Length(); ++k) {
      at::Tensor& t = TensorWrap::Get(list.Get(k), "optimizer parameter");
      if (!t.is_leaf()) throw ArgError("optimizer parameter " + std::to_string(k) + " is not a leaf tensor; optimize leaves (module parameters)");
      tensors.push_back(t);
    }
    paramGroups.emplace_back(std::move(tensors), groupOptions(kind, o));
  }
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  switch (kind) {
    case OptimizerKind::Adam: optimizer = std::make_unique<torch::optim::Adam>(paramGroups, torch::optim::AdamOptions()); break;
    case OptimizerKind::AdamW: optimizer = std::make_unique<torch::optim::AdamW>(paramGroups, torch::optim::AdamWOptions()); break;
    case OptimizerKind::SGD: optimizer = std::make_unique<torch::optim::SGD>(paramGroups, torch::optim::SGDOptions(1e-3)); break;
  }
  bool fused = false;
  if (a.has(2)) {
    if (!a[2].IsObject()) a.fail(2, "an options object {fused}");
    fused = boolField(a[2].As<Napi::Object>(), "fused", false);
    if (fused && kind == OptimizerKind::SGD) throw ArgError("optimizer option fused applies to Adam and AdamW");
  }
  return OptimizerWrap::New(a.env(), kind, std::move(optimizer), fused);
}


// optimizerState(o): per parameter (groups in order), its state or null.
Napi::Value state(const Args& a) {
  OptimizerWrap& w = OptimizerWrap::Get(a, 0);
  Napi::Env env = a.env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t index = 0;
  auto& states = w.optimizer->state();
  for (auto& group : w.optimizer->param_groups()) {
    for (auto& p : group.params()) {
      auto it = states.find(stateKey(p));
      if (it == states.end()) {
        out.Set(index++, env.Null());
        continue;
      }
      Napi::Object s = Napi::Object::New(env);
      if (w.kind == OptimizerKind::SGD) {
        auto& st = static_cast<torch::optim::SGDParamState&>(*it->second);
        if (st.momentum_buffer().defined()) s.Set("momentumBuffer", a.wrap(st.momentum_buffer()));
      } else {
        // AdamParamState and AdamWParamState have the same fields
        auto put = [&](int64_t step, const at::Tensor& m, const at::Tensor& v, const at::Tensor& vmax) {
          s.Set("step", static_cast<double>(step));
          s.Set("expAvg", a.wrap(m));
          s.Set("expAvgSq", a.wrap(v));
          if (vmax.defined()) s.Set("maxExpAvgSq", a.wrap(vmax));
        };
        if (w.kind == OptimizerKind::Adam) {
          auto& st = static_cast<torch::optim::AdamParamState&>(*it->second);
          put(st.step(), st.exp_avg(), st.exp_avg_sq(), st.max_exp_avg_sq());
        } else {
          auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
          put(st.step(), st.exp_avg(), st.exp_avg_sq(), st.max_exp_avg_sq());
        }
      }
      out.Set(index++, s);
    }
  }
  return out;
}

// optimizerSetState(o, index, state): restores one parameter's state (tensors are copied).
Napi::Value setState(const Args& a) {
  OptimizerWrap& w = OptimizerWrap::Get(a, 0);
  int64_t index = a.integer(1);
  if (!a[2].IsObject()) a.fail(2, "a state object");
  Napi::Object s = a[2].As<Napi::Object>();
  at::Tensor param;
  int64_t k = 0;
  for (auto& group : w.optimizer->param_groups()) {
    for (auto& p : group.params()) {
      if (k++ == index) param = p;
    }
  }
  if (!param.defined()) throw ArgError("optimizer state: parameter index " + std::to_string(index) + " does not exist");
  auto tensorField = [&](const char* key, bool required) -> at::Tensor {
    Napi::Value v = s.Get(key);
    if (v.IsUndefined() || v.IsNull()) {
      if (required) throw ArgError(std::string("optimizer state for parameter ") + std::to_string(index) + " lacks " + key);
      return {};
    }
    at::Tensor t = TensorWrap::Get(v, key);
    if (!t.sizes().equals(param.sizes())) {
      throw ArgError(std::string("optimizer state ") + key + " for parameter " + std::to_string(index) + " has shape [" +
                     c10::Join(", ", t.sizes()) + "] but the parameter has shape [" + c10::Join(", ", param.sizes()) + "]");
    }
    return t.to(param.options()).clone();
  };
  auto& states = w.optimizer->state();
  if (w.kind == OptimizerKind::SGD) {
    auto st = std::make_unique<torch::optim::SGDParamState>();
    st->momentum_buffer(tensorField("momentumBuffer", false));
    states[stateKey(param)] = std::move(st);
  } else {
    int64_t step = static_cast<int64_t>(numberField(s, "step", 0));
    if (w.kind == OptimizerKind::Adam) {
      auto st = std::make_unique<torch::optim::AdamParamState>();
      st->step(step).exp_avg(tensorField("expAvg", true)).exp_avg_sq(tensorField("expAvgSq", true));
      st->max_exp_avg_sq(tensorField("maxExpAvgSq", false));
      states[stateKey(param)] = std::move(st);
    } else {
      auto st = std::make_unique<torch::optim::AdamWParamState>();
      st->step(step).exp_avg(tensorField("expAvg", true)).exp_avg_sq(tensorField("expAvgSq", true));
      st->max_exp_avg_sq(tensorField("maxExpAvgSq", false));
      states[stateKey(param)] = std::move(st);
    }
  }
  return a.env().Undefined();
}

// optimizerGroupOptions(o, group): the hyper-parameters of one group (PyTorch's names, camelCased).
Napi::Value groupOptionsOf(const Args& a) {
  OptimizerWrap& w = OptimizerWrap::Get(a, 0);
  auto& options = w.group(a, 1).options();
  Napi::Object out = Napi::Object::New(a.env());
  out.Set("lr", options.get_lr());
  auto adam = [&](auto& o) {
    Napi::Array betas = Napi::Array::New(a.env(), 2);
    betas.Set(0u, std::get<0>(o.betas()));
    betas.Set(1u, std::get<1>(o.betas()));
    out.Set("betas", betas);
    out.Set("eps", o.eps());
    out.Set("weightDecay", o.weight_decay());
    out.Set("amsgrad", o.amsgrad());
  };
  switch (w.kind) {
    case OptimizerKind::Adam: adam(static_cast<torch::optim::AdamOptions&>(options)); break;
    case OptimizerKind::AdamW: adam(static_cast<torch::optim::AdamWOptions&>(options)); break;
    case OptimizerKind::SGD: {
      auto& o = static_cast<torch::optim::SGDOptions&>(options);
      out.Set("momentum", o.momentum());
      out.Set("dampening", o.dampening());
      out.Set("weightDecay", o.weight_decay());
      out.Set("nesterov", o.nesterov());
      break;
    }
  }
  return out;
}

// Sets every gradient to zero, or drops it (setToNone), as PyTorch's Optimizer.zero_grad.
Napi::Value zeroGrad(const Args& a) {
  OptimizerWrap& w = OptimizerWrap::Get(a, 0);
  bool setToNone = a.boolean(1, false);
  for (auto& group : w.optimizer->param_groups()) {
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (setToNone) {
        p.mutable_grad() = at::Tensor();
      } else {
        if (p.grad().grad_fn()) p.mutable_grad() = p.grad().detach();
        else p.grad().requires_grad_(false);
        p.mutable_grad().zero_();
      }
    }
  }
  return a.env().Undefined();
}

const OpEntry optimOps[] = {
    {"optimizerCreate", create},
    {"optimizerStep",
     [](const Args& a) {
       OptimizerWrap& w = OptimizerWrap::Get(a, 0);
       stepAndBumpVersions(*w.optimizer, w.fused);
       return a.env().Undefined();
     }},
    {"optimizerZeroGrad", zeroGrad},
    {"optimizerGroupCount",
     [](const Args& a) -> Napi::Value {
       return Napi::Number::New(a.env(), static_cast<double>(OptimizerWrap::Get(a, 0).optimizer->param_groups().size()));
     }},
    {"optimizerGetLr",
     [](const Args& a) -> Napi::Value {
       OptimizerWrap& w = OptimizerWrap::Get(a, 0);
       return Napi::Number::New(a.env(), w.group(a, 1).options().get_lr());
     }},
    {"optimizerSetLr",
     [](const Args& a) {
       OptimizerWrap& w = OptimizerWrap::Get(a, 0);
       double lr = a.number(2);
       if (!(lr >= 0)) throw ArgError("learning rate must be a non-negative number");
       w.group(a, 1).options().set_lr(lr);
       return a.env().Undefined();
     }},
    {"optimizerGroupOptions", groupOptionsOf},
    {"optimizerState", state},
    {"optimizerSetState", setState},
    {"optimizerDispose",
     [](const Args& a) {
       OptimizerWrap::Get(a, 0).dispose();
       return a.env().Undefined();
     }},
};

}  // namespace

torch::optim::Optimizer& optimizerFromHandle(const Args& a, size_t i) { return *OptimizerWrap::Get(a, i).optimizer; }

bool optimizerIsFused(const Args& a, size_t i) { return OptimizerWrap::Get(a, i).fused; }

void stepAndBumpVersions(torch::optim::Optimizer& optimizer, bool fused) {
  if (fused && fusedAdamApplies(optimizer)) fusedAdamStep(optimizer);
  else optimizer.step();
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      if (p.grad().defined()) p.unsafeGetTensorImpl()->bump_version();
    }
  }
}

TB_REGISTER_OPS("optimizers", optimOps, OptimizerWrap::Init);

}  // namespace tb
