// nn modules: the module handle, layers libtorch lacks, the module op table (constructors,
// forward, parameters and state, train/eval, devices, cloning) and gradient clipping (nn.utils).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <typeindex>
#include <unordered_map>
#include <unordered_set>

#include <ATen/CPUGeneratorImpl.h>

#include "core/env_data.h"
#include "nn/layers.h"
#include "nn/module_types.h"
#include "nn/module_wrap.h"
#include "core/ops.h"
#include "core/usage.h"

namespace tb {

// ---- LazyLinear ---------------------------------------------------------------------------

void LazyLinearImpl::reset() {
  if (inFeatures == 0) return;  // uninitialised: no parameters until the first forward
  auto options = at::TensorOptions().device(device).dtype(dtype);
  weight = register_parameter("weight", torch::empty({outFeatures, inFeatures}, options));
  if (withBias) bias = register_parameter("bias", torch::empty({outFeatures}, options));
  torch::NoGradGuard noGrad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (withBias) {
    double bound = 1.0 / std::sqrt(static_cast<double>(inFeatures));
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

at::Tensor LazyLinearImpl::forward(const at::Tensor& input) {
  if (inFeatures == 0) {
    TORCH_CHECK(input.dim() >= 1, "LazyLinear: the input needs at least one dimension");
    inFeatures = input.size(-1);
    reset();
  }
  return at::linear(input, weight, bias);
}

void LazyLinearImpl::to(torch::Device d, torch::Dtype t, bool nonBlocking) {
  device = d;
  dtype = t;
  torch::nn::Module::to(d, t, nonBlocking);
}
void LazyLinearImpl::to(torch::Dtype t, bool nonBlocking) {
  dtype = t;
  torch::nn::Module::to(t, nonBlocking);
}
void LazyLinearImpl::to(torch::Device d, bool nonBlocking) {
  device = d;
  torch::nn::Module::to(d, nonBlocking);
}

// ---- Sequential ---------------------------------------------------------------------------

void SequentialImpl::push_back(torch::nn::AnyModule module) {
  register_module(std::to_string(items.size()), module.ptr());
  items.push_back(std::move(module));
}

std::shared_ptr<torch::nn::Module> SequentialImpl::clone(const c10::optional<torch::Device>& device) const {
  auto copy = std::make_shared<SequentialImpl>();
  for (const auto& item : items) copy->push_back(item.clone(device));
  copy->train(is_training());
  return copy;
}

at::Tensor SequentialImpl::forward(at::Tensor input) {
  for (auto& item : items) input = item.forward<at::Tensor>(input);
  return input;
}

// ---- the layer types of the core ----------------------------------------------------------

namespace {
template <class Impl>
const Impl& as(const torch::nn::Module& m) { return dynamic_cast<const Impl&>(m); }  // a virtual base

TB_REGISTER_MODULE(torch::nn::LinearImpl, "Linear", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<torch::nn::LinearImpl>(m).options;
  out.Set("inFeatures", static_cast<double>(o.in_features()));
  out.Set("outFeatures", static_cast<double>(o.out_features()));
  out.Set("bias", o.bias());
});
TB_REGISTER_MODULE(LazyLinearImpl, "LazyLinear", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& p = as<LazyLinearImpl>(m);
  if (p.initialized()) out.Set("kind", "Linear");
  out.Set("inFeatures", static_cast<double>(p.inFeatures));
  out.Set("outFeatures", static_cast<double>(p.outFeatures));
  out.Set("bias", p.withBias);
});
TB_REGISTER_MODULE(torch::nn::EmbeddingImpl, "Embedding", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<torch::nn::EmbeddingImpl>(m).options;
  out.Set("numEmbeddings", static_cast<double>(o.num_embeddings()));
  out.Set("embeddingDim", static_cast<double>(o.embedding_dim()));
  if (o.padding_idx()) out.Set("paddingIdx", static_cast<double>(*o.padding_idx()));
});
TB_REGISTER_MODULE(torch::nn::LayerNormImpl, "LayerNorm", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<torch::nn::LayerNormImpl>(m).options;
  const auto& shape = o.normalized_shape();
  Napi::Array dims = Napi::Array::New(out.Env(), shape.size());
  for (uint32_t k = 0; k < shape.size(); ++k) dims.Set(k, static_cast<double>(shape[k]));
  out.Set("normalizedShape", dims);
  out.Set("eps", o.eps());
  out.Set("elementwiseAffine", o.elementwise_affine());
});
TB_REGISTER_MODULE(torch::nn::DropoutImpl, "Dropout",
                   [](const torch::nn::Module& m, Napi::Object& out) { out.Set("p", as<torch::nn::DropoutImpl>(m).options.p()); });
TB_REGISTER_MODULE(torch::nn::ReLUImpl, "ReLU");
TB_REGISTER_MODULE(torch::nn::TanhImpl, "Tanh");
TB_REGISTER_MODULE(torch::nn::GELUImpl, "GELU", [](const torch::nn::Module& m, Napi::Object& out) {
  out.Set("approximate", as<torch::nn::GELUImpl>(m).options.approximate());
});

Napi::Array intArray(Napi::Env env, c10::ArrayRef<int64_t> values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (uint32_t k = 0; k < values.size(); ++k) out.Set(k, static_cast<double>(values[k]));
  return out;
}

// Conv1d/Conv2d: every size as a tuple (PyTorch's repr prints them so), padding a tuple or 'same'/'valid'.
template <class Impl>
void describeConv(const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<Impl>(m).options;
  Napi::Env env = out.Env();
  out.Set("inChannels", static_cast<double>(o.in_channels()));
  out.Set("outChannels", static_cast<double>(o.out_channels()));
  out.Set("kernelSize", intArray(env, *o.kernel_size()));
  out.Set("stride", intArray(env, *o.stride()));
  // padding and padding_mode are variants: c10::variant in libtorch 1.13 (its get() found by ADL),
  // std::variant in 2.x; index() is the alternative in both.
  using std::get;
  switch (o.padding().index()) {
    case 0: out.Set("padding", intArray(env, *get<0>(o.padding()))); break;
    case 1: out.Set("padding", "valid"); break;
    default: out.Set("padding", "same"); break;
  }
  out.Set("dilation", intArray(env, *o.dilation()));
  out.Set("groups", static_cast<double>(o.groups()));
  out.Set("bias", o.bias());
  static const char* const modes[] = {"zeros", "reflect", "replicate", "circular"};
  out.Set("paddingMode", modes[o.padding_mode().index()]);
}
TB_REGISTER_MODULE(torch::nn::Conv1dImpl, "Conv1d", describeConv<torch::nn::Conv1dImpl>);
TB_REGISTER_MODULE(torch::nn::Conv2dImpl, "Conv2d", describeConv<torch::nn::Conv2dImpl>);

// Pooling sizes as they were given: one number or a tuple.
void setSize(Napi::Object& out, const char* key, c10::ArrayRef<int64_t> values, bool scalar) {
  if (scalar) out.Set(key, static_cast<double>(values[0]));
  else out.Set(key, intArray(out.Env(), values));
}
TB_REGISTER_MODULE(MaxPool2dImpl, "MaxPool2d", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& p = as<MaxPool2dImpl>(m);
  setSize(out, "kernelSize", *p.options.kernel_size(), p.form.kernelSize);
  setSize(out, "stride", *p.options.stride(), p.form.stride);
  setSize(out, "padding", *p.options.padding(), p.form.padding);
  setSize(out, "dilation", *p.options.dilation(), p.form.dilation);
  out.Set("ceilMode", p.options.ceil_mode());
});
TB_REGISTER_MODULE(AvgPool2dImpl, "AvgPool2d", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& p = as<AvgPool2dImpl>(m);
  setSize(out, "kernelSize", *p.options.kernel_size(), p.form.kernelSize);
  setSize(out, "stride", *p.options.stride(), p.form.stride);
  setSize(out, "padding", *p.options.padding(), p.form.padding);
  out.Set("ceilMode", p.options.ceil_mode());
  out.Set("countIncludePad", p.options.count_include_pad());
  if (p.options.divisor_override()) out.Set("divisorOverride", static_cast<double>(*p.options.divisor_override()));
});

template <class Impl>
void describeBatchNorm(const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<Impl>(m).options;
  out.Set("numFeatures", static_cast<double>(o.num_features()));
  out.Set("eps", o.eps());
  if (o.momentum()) out.Set("momentum", *o.momentum());
  else out.Set("momentum", out.Env().Null());  // cumulative moving average (momentum=None)
  out.Set("affine", o.affine());
  out.Set("trackRunningStats", o.track_running_stats());
}
TB_REGISTER_MODULE(torch::nn::BatchNorm1dImpl, "BatchNorm1d", describeBatchNorm<torch::nn::BatchNorm1dImpl>);
TB_REGISTER_MODULE(torch::nn::BatchNorm2dImpl, "BatchNorm2d", describeBatchNorm<torch::nn::BatchNorm2dImpl>);

TB_REGISTER_MODULE(torch::nn::FlattenImpl, "Flatten", [](const torch::nn::Module& m, Napi::Object& out) {
  const auto& o = as<torch::nn::FlattenImpl>(m).options;
  out.Set("startDim", static_cast<double>(o.start_dim()));
  out.Set("endDim", static_cast<double>(o.end_dim()));
});
TB_REGISTER_MODULE(torch::nn::IdentityImpl, "Identity");
TB_REGISTER_MODULE(torch::nn::SigmoidImpl, "Sigmoid");
TB_REGISTER_MODULE(torch::nn::SoftmaxImpl, "Softmax", [](const torch::nn::Module& m, Napi::Object& out) {
  out.Set("dim", static_cast<double>(as<torch::nn::SoftmaxImpl>(m).options.dim()));
});
TB_REGISTER_MODULE(SequentialImpl, "Sequential");
TB_REGISTER_MODULE(ContainerImpl, "Container");  // no forward: its forward is written in TypeScript
}  // namespace

// ---- the handle ---------------------------------------------------------------------------

namespace {

}  // namespace

namespace {
std::unordered_map<std::type_index, ModuleType>& moduleTypes() {
  static std::unordered_map<std::type_index, ModuleType> types;  // filled at load time, read after
  return types;
}
}  // namespace

void registerModuleType(std::type_index type, ModuleType entry) {
  if (!moduleTypes().emplace(type, entry).second) {
    throw std::logic_error(std::string("torchbridge: module type ") + entry.kind + " is registered twice");
  }
}

const ModuleType* moduleTypeOf(const torch::nn::Module& module) {
  auto it = moduleTypes().find(typeid(module));
  return it == moduleTypes().end() ? nullptr : &it->second;
}

torch::nn::AnyModule anyModuleOf(const std::shared_ptr<torch::nn::Module>& m) {
  const ModuleType* type = m ? moduleTypeOf(*m) : nullptr;
  return type && type->any ? type->any(m) : torch::nn::AnyModule();
}

Napi::Object ModuleWrap::New(Napi::Env env, std::shared_ptr<torch::nn::Module> module) {
  auto [object, wrap] = Make(env);
  wrap->any_ = anyModuleOf(module);
  wrap->module_ = std::move(module);
  EnvData::of(env).modules.live.insert(wrap);
  wrap->account();
  return object;
}

void ModuleWrap::accountAll(Napi::Env env) {
  for (void* handle : EnvData::of(env).modules.live) static_cast<ModuleWrap*>(handle)->account();
}

void ModuleWrap::account() {
  std::vector<ModuleStats::Key> now;
  if (module_) {
    auto add = [&](const at::Tensor& t) {
      if (!t.defined() || !t.has_storage() || !t.device().is_cpu()) return;
      const c10::Storage& storage = t.storage();
      now.push_back({storage.unsafeGetStorageImpl(), storage.data(), static_cast<int64_t>(storage.nbytes())});
    };
    for (const auto& p : module_->parameters(/*recurse=*/true)) add(p);
    for (const auto& b : module_->buffers(/*recurse=*/true)) add(b);
    std::sort(now.begin(), now.end());
    now.erase(std::unique(now.begin(), now.end()), now.end());
  }
  if (now == accounted_) return;
  ModuleStats& stats = EnvData::of(Env()).modules;
  int64_t delta = 0;
  for (const auto& key : now) {
    if (std::binary_search(accounted_.begin(), accounted_.end(), key)) continue;
    if (stats.handles[key]++ == 0) delta += key.bytes;
  }
  for (const auto& key : accounted_) {
    if (std::binary_search(now.begin(), now.end(), key)) continue;
    auto it = stats.handles.find(key);
    if (it != stats.handles.end() && --it->second == 0) {
      delta -= key.bytes;
      stats.handles.erase(it);
    }
  }
  accounted_ = std::move(now);
  stats.bytes += delta;
  if (delta != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), delta);
}

void ModuleWrap::unaccount() {
  ModuleStats& stats = EnvData::of(Env()).modules;
  int64_t freed = 0;
  for (const auto& key : accounted_) {
    auto it = stats.handles.find(key);
    if (it != stats.handles.end() && --it->second == 0) {
      freed += key.bytes;
      stats.handles.erase(it);
    }
  }
  accounted_.clear();
  stats.bytes -= freed;
  if (freed != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -freed);
}

ModuleWrap::~ModuleWrap() {
  unaccount();
  EnvData::of(Env()).modules.live.erase(this);
}

ModuleWrap& ModuleWrap::Get(const Napi::Value& value, const char* what) {
  ModuleWrap* wrap = TryUnwrap(value);
  if (!wrap) throw ArgError(std::string(what) + " must be a Module");
  if (wrap->disposed_) throw std::runtime_error(std::string(what) + ": the Module was disposed; create a new one");
  if (!wrap->module_) throw ArgError(std::string(what) + " is not an initialised Module");
  checkModuleIdle(*wrap->module_, what);
  return *wrap;
}

ModuleWrap::ModuleWrap(const Napi::CallbackInfo& info) : HandleClass(info) {}

void ModuleWrap::dispose() {
  Usage& held = heldObjects();
  for (const auto& m : module_->modules(/*include_self=*/true)) {
    if (held.contains(m.get())) {
      throw std::runtime_error("Module.dispose: a Trainer still trains this module; dispose the Trainer first (trainer.dispose())");
    }
  }
  for (const auto& p : module_->parameters()) {
    if (held.contains(p.unsafeGetTensorImpl())) {
      throw std::runtime_error(
          "Module.dispose: an Optimizer still holds this module's parameters; dispose the optimizer first "
          "(optimizer.dispose())");
    }
  }
  unaccount();
  any_ = torch::nn::AnyModule();
  module_.reset();
  disposed_ = true;
}

// ---- module ops ---------------------------------------------------------------------------

namespace {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

Napi::Value namedTensors(const Args& a, const NamedTensors& items) {
  Napi::Array out = Napi::Array::New(a.env(), items.size());
  for (uint32_t k = 0; k < items.size(); ++k) {
    Napi::Array pair = Napi::Array::New(a.env(), 2);
    pair.Set(0u, items[k].first);
    pair.Set(1u, a.wrap(items[k].second));
    out.Set(k, pair);
  }
  return out;
}

// Parameters in PyTorch's order (pre-order over modules, own parameters first), each tensor
// once even when shared between modules (as Module.named_parameters() deduplicates).
NamedTensors namedParameters(const torch::nn::Module& m, bool recurse) {
  NamedTensors out;
  std::unordered_set<const void*> seen;
  for (const auto& p : m.named_parameters(recurse)) {
    if (seen.insert(p.value().unsafeGetTensorImpl()).second) out.emplace_back(p.key(), p.value());
  }
  return out;
}

// state_dict() order: for each module in pre-order, its parameters then its buffers.
void collectState(const torch::nn::Module& m, const std::string& prefix, NamedTensors& out) {
  for (const auto& p : m.named_parameters(false)) out.emplace_back(prefix + p.key(), p.value().detach());
  for (const auto& b : m.named_buffers(false)) out.emplace_back(prefix + b.key(), b.value().detach());
  for (const auto& c : m.named_children()) collectState(*c.value(), prefix + c.key() + ".", out);
}

Napi::Value forward(const Args& a) {
  ModuleWrap& m = a.module(0);
  if (m.any().is_empty()) {
    throw ArgError("forward: this module has no native forward (a container: its forward is written in TypeScript)");
  }
  std::vector<at::Tensor> in = a.optionalTensors(1);
  torch::nn::AnyValue out = [&] {
    switch (in.size()) {
      case 1: return m.any().any_forward(in[0]);
      case 2: return m.any().any_forward(in[0], in[1]);
      case 3: return m.any().any_forward(in[0], in[1], in[2]);
      case 4: return m.any().any_forward(in[0], in[1], in[2], in[3]);
      default: throw ArgError("forward: between 1 and 4 tensor inputs are supported");
    }
  }();
  if (const at::Tensor* t = out.try_get<at::Tensor>()) return a.wrap(*t);
  if (const auto* ts = out.try_get<std::vector<at::Tensor>>()) {
    Napi::Array list = Napi::Array::New(a.env(), ts->size());
    for (uint32_t k = 0; k < ts->size(); ++k) list.Set(k, (*ts)[k].defined() ? a.wrap((*ts)[k]) : a.env().Null());
    return list;
  }
  throw std::runtime_error("forward: the module returned a value of a type torchbridge cannot convert");
}

// The kind and options of the module's registered type, for PyTorch-style printing; modules of
// no registered type print as their C++ class name.
Napi::Value info(const Args& a) {
  const torch::nn::Module& m = a.module(0).module();
  Napi::Object out = Napi::Object::New(a.env());
  if (const ModuleType* type = moduleTypeOf(m)) {
    out.Set("kind", type->kind);
    if (type->describe) type->describe(m, out);
  } else {
    std::string name = m.name();
    size_t colon = name.rfind("::");
    if (colon != std::string::npos) name = name.substr(colon + 2);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
    out.Set("kind", name);
  }
  return out;
}

Napi::Value namedChildren(const Args& a) {
  ModuleWrap& m = a.module(0);
  auto children = m.module().named_children();
  Napi::Array out = Napi::Array::New(a.env(), children.size());
  uint32_t k = 0;
  for (const auto& c : children) {
    Napi::Array pair = Napi::Array::New(a.env(), 2);
    pair.Set(0u, c.key());
    pair.Set(1u, ModuleWrap::New(a.env(), c.value()));
    out.Set(k++, pair);
  }
  return out;
}

// Module::to(dtype) converts every parameter and buffer; PyTorch's Module.to converts the floating
// point ones only (a BatchNorm's num_batches_tracked stays int64): the others are converted back.
void convertModule(torch::nn::Module& m, const c10::optional<c10::Device>& device, const c10::optional<at::ScalarType>& dtype) {
  std::vector<std::pair<at::Tensor, at::ScalarType>> integral;
  if (dtype) {
    for (const auto& t : m.parameters(/*recurse=*/true)) {
      if (!t.is_floating_point() && !t.is_complex()) integral.emplace_back(t, t.scalar_type());
    }
    for (const auto& t : m.buffers(/*recurse=*/true)) {
      if (!t.is_floating_point() && !t.is_complex()) integral.emplace_back(t, t.scalar_type());
    }
  }
  if (device && dtype) m.to(*device, *dtype);
  else if (device) m.to(*device);
  else if (dtype) m.to(*dtype);
  // the handles share their TensorImpl with the module's, which to() gave new data (set_data)
  for (auto& [t, type] : integral) t.set_data(t.to(type));
}

// moduleTo(m, device?, dtype?)
Napi::Value to(const Args& a) {
  ModuleWrap& m = a.module(0);
  convertModule(m.module(), a.optDevice(1), a.optDtype(2));
  ModuleWrap::accountAll(a.env());
  return a.env().Undefined();
}

Napi::Value clone(const Args& a) {
  ModuleWrap& m = a.module(0);
  c10::optional<c10::Device> device = a.optDevice(1);
  std::shared_ptr<torch::nn::Module> copy = m.module().clone(device);
  return ModuleWrap::New(a.env(), copy);
}

// Parameters created and initialised in `dtype`, as PyTorch's factory_kwargs do (drawing in
// float32 and converting gives other values). libtorch's layers draw in the default dtype, a
// process-wide setting that trainer threads read while they run, so it is left alone: the layer
// is built in float32, the CPU generator is rewound to where the build started, and the
// parameters are converted and drawn again in `dtype`. Values and generator state afterwards are
// those of PyTorch's `Linear(..., dtype=dtype)`.
template <class Holder>
Holder buildInDtype(const Args& a, size_t dtypeArg, const std::function<Holder()>& build) {
  if (!a.has(dtypeArg)) return build();
  at::ScalarType dtype = a.dtype(dtypeArg);
  if (!at::isFloatingType(dtype)) throw ArgError(std::string("module dtype must be floating point, got ") + dtypeName(dtype));
  if (dtype == c10::typeMetaToScalarType(c10::get_default_dtype())) return build();
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  at::Tensor start;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    start = generator.get_state();
  }
  Holder holder = build();
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(start);
  }
  convertModule(*holder.ptr(), c10::nullopt, dtype);
  holder->reset_parameters();
  return holder;
}

// One size of a D-dim layer: a number (for every dim) or an array of D numbers; `scalar` says which.
template <size_t D>
torch::ExpandingArray<D> sizeArg(const Args& a, size_t i, bool* scalar = nullptr) {
  if (a[i].IsNumber()) {
    if (scalar) *scalar = true;
    return torch::ExpandingArray<D>(a.integer(i));
  }
  if (scalar) *scalar = false;
  std::vector<int64_t> values = a.integers(i);
  if (values.size() != D) {
    throw ArgError(a.label(i) + " must be a number or an array of " + std::to_string(D) + " numbers, got " +
                   std::to_string(values.size()));
  }
  return torch::ExpandingArray<D>(values);
}

// moduleConv1d/2d(inChannels, outChannels, kernelSize, stride, padding (sizes or 'same'/'valid'),
// dilation, groups, bias, paddingMode, dtype?)
template <size_t D, class Holder>
Napi::Value conv(const Args& a) {
  torch::nn::ConvOptions<D> o(a.integer(0), a.integer(1), sizeArg<D>(a, 2));
  o.stride(sizeArg<D>(a, 3));
  if (a[4].IsString()) {
    std::string padding = a.string(4);
    if (padding == "same") o.padding(torch::kSame);
    else if (padding == "valid") o.padding(torch::kValid);
    else throw ArgError(a.label(4) + " must be sizes, 'same' or 'valid', got '" + padding + "'");
  } else {
    o.padding(sizeArg<D>(a, 4));
  }
  o.dilation(sizeArg<D>(a, 5)).groups(a.integer(6)).bias(a.boolean(7, true));
  std::string mode = a.has(8) ? a.string(8) : "zeros";
  if (mode == "zeros") o.padding_mode(torch::kZeros);
  else if (mode == "reflect") o.padding_mode(torch::kReflect);
  else if (mode == "replicate") o.padding_mode(torch::kReplicate);
  else if (mode == "circular") o.padding_mode(torch::kCircular);
  else throw ArgError(a.label(8) + " must be 'zeros', 'reflect', 'replicate' or 'circular', got '" + mode + "'");
  return wrapModule(a.env(), buildInDtype<Holder>(a, 9, [&] { return Holder(o); }));
}

// moduleBatchNorm1d/2d(numFeatures, eps, momentum (null: cumulative average), affine, trackRunningStats, dtype?)
template <class Holder>
Napi::Value batchNorm(const Args& a) {
  torch::nn::BatchNormOptions o(a.integer(0));
  o.eps(a.number(1)).affine(a.boolean(3, true)).track_running_stats(a.boolean(4, true));
  if (a.has(2)) o.momentum(a.number(2));
  else o.momentum(c10::nullopt);
  return wrapModule(a.env(), buildInDtype<Holder>(a, 5, [&] { return Holder(o); }));
}

// moduleMaxPool2d(kernelSize, stride? (default kernelSize), padding, dilation, ceilMode)
Napi::Value maxPool2d(const Args& a) {
  PoolForm form;
  torch::nn::MaxPool2dOptions o(sizeArg<2>(a, 0, &form.kernelSize));
  if (a.has(1)) o.stride(sizeArg<2>(a, 1, &form.stride));
  else form.stride = form.kernelSize;
  o.padding(sizeArg<2>(a, 2, &form.padding)).dilation(sizeArg<2>(a, 3, &form.dilation)).ceil_mode(a.boolean(4));
  return wrapModule(a.env(), MaxPool2d(o, form));
}

// moduleAvgPool2d(kernelSize, stride? (default kernelSize), padding, ceilMode, countIncludePad, divisorOverride?)
Napi::Value avgPool2d(const Args& a) {
  PoolForm form;
  torch::nn::AvgPool2dOptions o(sizeArg<2>(a, 0, &form.kernelSize));
  if (a.has(1)) o.stride(sizeArg<2>(a, 1, &form.stride));
  else form.stride = form.kernelSize;
  o.padding(sizeArg<2>(a, 2, &form.padding)).ceil_mode(a.boolean(3)).count_include_pad(a.boolean(4, true));
  o.divisor_override(a.optInteger(5));
  return wrapModule(a.env(), AvgPool2d(o, form));
}

const OpEntry moduleOps[] = {
    // constructors; the last argument is the parameters' dtype (default float32)
    {"moduleLinear",
     [](const Args& a) {
       return wrapModule(a.env(), buildInDtype<torch::nn::Linear>(a, 3, [&] {
                           return torch::nn::Linear(torch::nn::LinearOptions(a.integer(0), a.integer(1)).bias(a.boolean(2, true)));
                         }));
     }},
    {"moduleLazyLinear",
     [](const Args& a) {
       LazyLinear m(a.integer(0), a.boolean(1, true));
       if (a.has(2)) m->dtype = a.dtype(2);
       return wrapModule(a.env(), m);
     }},
    {"moduleEmbedding",
     [](const Args& a) {
       torch::nn::EmbeddingOptions options(a.integer(0), a.integer(1));
       if (a.has(2)) options.padding_idx(a.integer(2));
       return wrapModule(a.env(), buildInDtype<torch::nn::Embedding>(a, 3, [&] { return torch::nn::Embedding(options); }));
     }},
    {"moduleLayerNorm",
     [](const Args& a) {
       return wrapModule(a.env(), buildInDtype<torch::nn::LayerNorm>(a, 3, [&] {
                           return torch::nn::LayerNorm(torch::nn::LayerNormOptions(a.integers(0))
                                                           .eps(a.has(1) ? a.number(1) : 1e-5)
                                                           .elementwise_affine(a.boolean(2, true)));
                         }));
     }},
    {"moduleDropout",
     [](const Args& a) { return wrapModule(a.env(), torch::nn::Dropout(torch::nn::DropoutOptions(a.has(0) ? a.number(0) : 0.5))); }},
    {"moduleReLU", [](const Args& a) { return wrapModule(a.env(), torch::nn::ReLU()); }},
    {"moduleTanh", [](const Args& a) { return wrapModule(a.env(), torch::nn::Tanh()); }},
    {"moduleGELU",
     [](const Args& a) {
       std::string approximate = a.has(0) ? a.string(0) : "none";
       if (approximate != "none" && approximate != "tanh") {
         throw ArgError("GELU: approximate must be 'none' or 'tanh', got '" + approximate + "'");
       }
       return wrapModule(a.env(), torch::nn::GELU(torch::nn::GELUOptions().approximate(approximate)));
     }},
    {"moduleSequential",
     [](const Args& a) {
       if (!a[0].IsArray()) a.fail(0, "an array of Modules");
       Napi::Array children = a[0].As<Napi::Array>();
       Sequential seq;
       for (uint32_t k = 0; k < children.Length(); ++k) {
         ModuleWrap& child = ModuleWrap::Get(children.Get(k), "Sequential: child");
         if (child.any().is_empty()) throw ArgError("Sequential: child " + std::to_string(k) + " has no native forward");
         seq->push_back(child.any());
       }
       return wrapModule(a.env(), seq);
     }},
    {"moduleConv1d", conv<1, torch::nn::Conv1d>},
    {"moduleConv2d", conv<2, torch::nn::Conv2d>},
    {"moduleMaxPool2d", maxPool2d},
    {"moduleAvgPool2d", avgPool2d},
    {"moduleBatchNorm1d", batchNorm<torch::nn::BatchNorm1d>},
    {"moduleBatchNorm2d", batchNorm<torch::nn::BatchNorm2d>},
    {"moduleFlatten",
     [](const Args& a) {
       return wrapModule(a.env(), torch::nn::Flatten(torch::nn::FlattenOptions().start_dim(a.integerOr(0, 1)).end_dim(a.integerOr(1, -1))));
     }},
    {"moduleIdentity", [](const Args& a) { return wrapModule(a.env(), torch::nn::Identity()); }},
    {"moduleSigmoid", [](const Args& a) { return wrapModule(a.env(), torch::nn::Sigmoid()); }},
    {"moduleSoftmax", [](const Args& a) { return wrapModule(a.env(), torch::nn::Softmax(torch::nn::SoftmaxOptions(a.integer(0)))); }},
    {"moduleContainer", [](const Args& a) -> Napi::Value { return ModuleWrap::New(a.env(), Container().ptr()); }},
    // structure and state
    {"moduleInfo", info},
    {"moduleForward", forward},
    {"moduleNamedParameters",
     [](const Args& a) { return namedTensors(a, namedParameters(a.module(0).module(), a.boolean(1, true))); }},
    {"moduleNamedBuffers",
     [](const Args& a) {
       NamedTensors out;
       for (const auto& b : a.module(0).module().named_buffers(a.boolean(1, true))) out.emplace_back(b.key(), b.value());
       return namedTensors(a, out);
     }},
    {"moduleStateDict",
     [](const Args& a) {
       NamedTensors out;
       collectState(a.module(0).module(), "", out);
       return namedTensors(a, out);
     }},
    {"moduleNamedChildren", namedChildren},
    {"moduleRegisterParameter",
     [](const Args& a) {
       ModuleWrap& m = a.module(0);
       Napi::Value out = a.wrap(m.module().register_parameter(a.string(1), a.tensor(2), a.boolean(3, true)));
       m.account();
       return out;
     }},
    {"moduleRegisterModule",
     [](const Args& a) {
       ModuleWrap& m = a.module(0);
       std::string name = a.string(1);
       const auto& child = ModuleWrap::Get(a[2], "registerModule: child").modulePtr();
       // as PyTorch's add_module: a name already registered gets the new module, in its place
       if (m.module().named_children().contains(name)) m.module().replace_module(name, child);
       else m.module().register_module(name, child);
       m.account();
       return a.env().Undefined();
     }},
    {"moduleTrain",
     [](const Args& a) {
       ModuleWrap& m = a.module(0);
       m.module().train(a.boolean(1, true));
       return a.env().Undefined();
     }},
    {"moduleIsTraining",
     [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), a.module(0).module().is_training()); }},
    {"moduleTo", to},
    {"moduleZeroGrad",
     [](const Args& a) {
       ModuleWrap& m = a.module(0);
       m.module().zero_grad(a.boolean(1, false));
       return a.env().Undefined();
     }},
    {"moduleClone", clone},
    {"moduleDispose",
     [](const Args& a) {
       a.module(0).dispose();
       return a.env().Undefined();
     }},
};

}  // namespace

// ---- gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_, PyTorch 1.13) ----------

namespace {

// Python's repr of a float (2.0, inf, 0.5, 1e-05), for PyTorch's messages.
std::string pythonFloat(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char text[40];
  if (x == std::trunc(x) && std::abs(x) < 1e16) {
    std::snprintf(text, sizeof text, "%.1f", x);
    return text;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (std::strtod(text, nullptr) == x) break;
  }
  return text;
}

// The gradients of the parameters that have one.
std::vector<at::Tensor> gradsOf(const Args& a) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : a.tensors(0)) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

// clipGradNorm_(parameters, maxNorm, normType, errorIfNonfinite): the total norm (0-dim). The ATen
// calls of clip_grad_norm_ in PyTorch 1.13, in its order: per-gradient norms, the norm of their stack,
// clip_coef = max_norm / (total_norm + 1e-6) (Python's float / Tensor is reciprocal() * float),
// clamped to 1, each gradient multiplied in place.
Napi::Value clipGradNorm(const Args& a) {
  std::vector<at::Tensor> grads = gradsOf(a);
  double maxNorm = a.number(1);
  double normType = a.number(2);
  if (grads.empty()) return a.wrap(at::zeros({}, at::kFloat));  // torch.tensor(0.)
  at::NoGradGuard noGrad;
  c10::Device device = grads[0].device();
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  at::Tensor total;
  if (normType == INFINITY) {
    for (const at::Tensor& g : grads) norms.push_back(g.detach().abs().max().to(device));
    total = norms.size() == 1 ? norms[0] : at::max(at::stack(norms));
  } else {
    for (const at::Tensor& g : grads) norms.push_back(at::linalg_vector_norm(g.detach(), at::Scalar(normType)).to(device));
    total = at::linalg_vector_norm(at::stack(norms), at::Scalar(normType));
  }
  if (a.boolean(3) && at::logical_or(total.isnan(), total.isinf()).item<bool>()) {
    throw std::runtime_error("The total norm of order " + pythonFloat(normType) +
                             " for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error "
                             "and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False` "
                             "(in torchbridge: { errorIfNonfinite: false })");
  }
  at::Tensor coef = at::reciprocal(total + 1e-6) * maxNorm;
  at::Tensor clamped = at::clamp(coef, c10::nullopt, at::Scalar(1.0));
  for (const at::Tensor& g : grads) g.detach().mul_(clamped.to(g.device()));
  return a.wrap(total);
}

// clipGradValue_(parameters, clipValue): every gradient clamped to [-clipValue, clipValue] in place.
Napi::Value clipGradValue(const Args& a) {
  double clip = a.number(1);
  at::NoGradGuard noGrad;
  for (const at::Tensor& g : gradsOf(a)) g.detach().clamp_(at::Scalar(-clip), at::Scalar(clip));
  return a.env().Undefined();
}

const OpEntry gradClipOps[] = {
    {"clipGradNorm_", clipGradNorm},
    {"clipGradValue_", clipGradValue},
};

}  // namespace

TB_REGISTER_OPS("modules", moduleOps, ModuleWrap::Init);
TB_REGISTER_OPS("gradient clipping", gradClipOps);

}  // namespace tb
