// TorchScript modules: torch.jit.trace of a module tree whose forward JS drives, torch.jit.load
// and torch.jit.save, and ScriptModuleImpl, the torch::nn::Module face of a torch::jit::Module,
// so that the rest of the addon (state dicts, optimizers, to(), the Trainer's replicas) treats a
// TorchScript module as any other module.
//
// ScriptModuleImpl registers the jit module's own parameters and buffers (the very same tensors,
// as PyTorch's ScriptModule shares them with its C++ object) and one ScriptModuleImpl per child
// module, under the jit module's names: state dicts are PyTorch's, and to() moves the jit
// module's tensors too (nn::Module::to keeps each tensor and swaps its data).
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <caffe2/serialize/versions.h>
#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/script.h>

#include "core/ops.h"
#include "nn/module_types.h"
#include "nn/module_wrap.h"

namespace tb {

namespace {

namespace tj = torch::jit;

class ScriptModuleImpl : public torch::nn::Module {
 public:
  explicit ScriptModuleImpl(tj::Module script) : torch::nn::Module("ScriptModule"), script_(std::move(script)) {
    for (const auto& p : script_.named_parameters(/*recurse=*/false)) {
      register_parameter(p.name, p.value, p.value.requires_grad());
    }
    for (const auto& b : script_.named_buffers(/*recurse=*/false)) register_buffer(b.name, b.value);
    for (const auto& c : script_.named_children()) register_module(c.name, std::make_shared<ScriptModuleImpl>(c.value));
    torch::nn::Module::train(isTraining(script_));
  }

  // The graph's forward on 1 to 4 tensors (absent trailing ones are not passed; an absent one
  // before a given one is None), returning one tensor: what AnyModule, Sequential and the
  // Trainer call.
  at::Tensor forward(const at::Tensor& a, const at::Tensor& b = {}, const at::Tensor& c = {}, const at::Tensor& d = {}) {
    c10::IValue out = run({a, b, c, d});
    if (!out.isTensor()) {
      throw std::runtime_error("ScriptModule.forward returned " + out.type()->repr_str() +
                               ", not a Tensor; use forwardAll() for several outputs (the Trainer needs one tensor)");
    }
    return out.toTensor();
  }

  // forward(...) on the given tensors, its result as the graph returns it.
  c10::IValue run(std::vector<at::Tensor> inputs) {
    while (!inputs.empty() && !inputs.back().defined()) inputs.pop_back();
    tj::Method method = forwardMethod();
    const c10::FunctionSchema& schema = method.function().getSchema();
    const size_t declared = schema.arguments().size() - 1;  // without self
    size_t required = 0;
    for (size_t k = 1; k < schema.arguments().size(); ++k) {
      if (!schema.arguments()[k].default_value()) required = k;
    }
    if (inputs.size() < required || inputs.size() > declared) {
      throw ArgError("ScriptModule.forward takes " + (required == declared ? std::to_string(declared) : std::to_string(required) + " to " + std::to_string(declared)) +
                     " input(s), got " + std::to_string(inputs.size()) + ": " + signature(schema));
    }
    std::vector<c10::IValue> stack;
    for (const auto& t : inputs) stack.emplace_back(t.defined() ? c10::IValue(t) : c10::IValue());
    try {
      return method(std::move(stack));
    } catch (const c10::Error& e) {
      throw std::runtime_error("ScriptModule.forward failed: " + std::string(e.what_without_backtrace()));
    }
  }

  // A copy with tensors of its own on `device` (the Trainer's replicas): the jit module deep-copied
  // without autograd, each parameter then as trainable as the original's.
  std::shared_ptr<torch::nn::Module> clone(const c10::optional<c10::Device>& device = c10::nullopt) const override {
    tj::Module copy;
    {
      torch::NoGradGuard noGrad;
      copy = script_.deepcopy();
      if (device) copy.to(*device);
    }
    auto original = script_.named_parameters(/*recurse=*/true);
    auto copied = copy.named_parameters(/*recurse=*/true);
    auto o = original.begin();
    for (auto c = copied.begin(); c != copied.end() && o != original.end(); ++c, ++o) (*c).value.requires_grad_((*o).value.requires_grad());
    return std::make_shared<ScriptModuleImpl>(copy);
  }

  void train(bool on = true) override {
    script_.train(on);
    torch::nn::Module::train(on);
  }

  tj::Module& script() { return script_; }
  const tj::Module& script() const { return script_; }

  // forward's signature, as Python prints a schema: forward(Tensor x, Tensor y) -> Tensor
  static std::string signature(const c10::FunctionSchema& schema) {
    std::string out = "forward(";
    for (size_t k = 1; k < schema.arguments().size(); ++k) {
      const auto& arg = schema.arguments()[k];
      out += (k > 1 ? ", " : "") + arg.type()->repr_str() + " " + arg.name();
    }
    out += ") -> ";
    std::vector<std::string> returns;
    for (const auto& r : schema.returns()) returns.push_back(r.type()->repr_str());
    return out + c10::Join(", ", returns);
  }

  static bool isTraining(const tj::Module& m) {
    return m.hasattr("training") ? m.attr("training").toBool() : true;
  }

 protected:
  FORWARD_HAS_DEFAULT_ARGS({1, torch::nn::AnyValue(at::Tensor())}, {2, torch::nn::AnyValue(at::Tensor())},
                           {3, torch::nn::AnyValue(at::Tensor())})

 private:
  tj::Method forwardMethod() {
    if (!script_.find_method("forward")) {
      throw std::runtime_error("this TorchScript module has no forward method (a submodule of a traced module has none: call the module "
                               "that was traced or loaded)");
    }
    return script_.get_method("forward");
  }

  tj::Module script_;
};

// `kind` in reprs; the TypeScript class adds the graph.
void describeScript(const torch::nn::Module& m, Napi::Object& out) {
  const tj::Module& script = static_cast<const ScriptModuleImpl&>(m).script();
  c10::optional<c10::QualifiedName> name = script.type()->name();
  out.Set("kind", "RecursiveScriptModule");
  if (name) out.Set("originalName", name->name());
}

TB_REGISTER_MODULE(ScriptModuleImpl, "RecursiveScriptModule", describeScript);

ScriptModuleImpl& scriptOf(const Args& a, size_t i) {
  ModuleWrap& m = a.module(i);
  auto* script = dynamic_cast<ScriptModuleImpl*>(&m.module());
  if (!script) throw ArgError(a.label(i) + " must be a ScriptModule (from torch.jit.trace or torch.jit.load)");
  return *script;
}

// ---- trace ---------------------------------------------------------------------------------

// A class name TorchScript's parser accepts (letters, digits, underscores; not starting with a digit).
std::string identifier(const std::string& name) {
  std::string out;
  for (char ch : name) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ? ch : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

// The module tree as a jit::Module tree holding the same tensors (the tracer records an op on a
// parameter as a read of the attribute that holds that very tensor), with Python's `training`
// attribute on every module.
tj::Module scriptTree(const torch::nn::Module& m, const std::string& className, const std::shared_ptr<tj::CompilationUnit>& cu) {
  tj::Module out(c10::QualifiedName("__torch__." + identifier(className)), cu, /*shouldMangle=*/true);
  out.register_attribute("training", c10::BoolType::get(), m.is_training());
  for (const auto& p : m.named_parameters(/*recurse=*/false)) {
    if (p.value().defined()) out.register_parameter(p.key(), p.value(), /*is_buffer=*/false);
  }
  for (const auto& b : m.named_buffers(/*recurse=*/false)) {
    if (b.value().defined()) out.register_buffer(b.key(), b.value());
  }
  for (const auto& c : m.named_children()) {
    const ModuleType* type = moduleTypeOf(*c.value());
    std::string kind = type ? type->kind : "Module";
    if (kind == "Container") kind = "Module";
    out.register_module(c.key(), scriptTree(*c.value(), kind, cu));
  }
  return out;
}

// The graph of one forward run under the tracer: `callJs` runs the module's forward in JS on
// the tensors the tracer hands it and returns what forward returned.
std::shared_ptr<tj::Graph> traceOnce(tj::Module& root, const std::vector<at::Tensor>& inputs,
                                     const std::function<c10::IValue(const tj::Stack&)>& callJs) {
  tj::Stack stack(inputs.begin(), inputs.end());
  std::vector<std::string> names;  // the graph's input names: x0, x1, ...
  for (size_t k = 0; k < inputs.size(); ++k) names.push_back("x" + std::to_string(k));
  auto traced = tj::tracer::trace(
      std::move(stack), [&](tj::Stack in) -> tj::Stack { return {callJs(in)}; },
      [](const at::Tensor&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false, &root, names);
  return traced.first->graph;
}

std::string graphText(const std::shared_ptr<tj::Graph>& graph) { return graph->toString(/*print_source_locations=*/false); }

void setTraining(torch::nn::Module& m, tj::Module& script, bool on) {
  m.train(on);
  script.train(on);
}

// jitTrace(module, inputs: Tensor[], forward: (inputs: Tensor[]) => Tensor | Tensor[], className, bothModes)
// -> ScriptModule
// Traces forward in the module's current mode; with bothModes, in the other mode too (with the
// buffers and the CPU generator put back afterwards, so the second run leaves no trace), and
// when the graphs differ (dropout, batch norm), forward runs the graph of the current
// self.training.
Napi::Value trace(const Args& a) {
  ModuleWrap& wrap = a.module(0);
  torch::nn::Module& m = wrap.module();
  std::vector<at::Tensor> inputs = a.tensors(1);
  if (inputs.empty() || inputs.size() > 4) throw ArgError("torch.jit.trace: between 1 and 4 example inputs are supported, got " + std::to_string(inputs.size()));
  if (!a[2].IsFunction()) a.fail(2, "a function");
  Napi::Function forward = a[2].As<Napi::Function>();
  const std::string className = a.has(3) ? a.string(3) : "Module";
  const bool bothModes = a.boolean(4, true);
  if (tj::tracer::isTracing()) throw std::runtime_error("torch.jit.trace: already tracing (a forward being traced called torch.jit.trace)");

  auto callJs = [&](const tj::Stack& in) -> c10::IValue {
    Napi::Array handles = Napi::Array::New(a.env(), in.size());
    for (uint32_t k = 0; k < in.size(); ++k) handles.Set(k, a.wrap(in[k].toTensor()));
    Napi::Value out = forward.Call({handles});
    if (TensorWrap::IsHandle(out)) return TensorWrap::Get(out, "torch.jit.trace: forward's result");
    if (out.IsArray()) {
      Napi::Array list = out.As<Napi::Array>();
      std::vector<c10::IValue> items;
      for (uint32_t k = 0; k < list.Length(); ++k) items.emplace_back(TensorWrap::Get(list.Get(k), "torch.jit.trace: forward's result"));
      return c10::ivalue::Tuple::create(std::move(items));
    }
    throw ArgError("torch.jit.trace: forward must return a Tensor or an array of Tensors");
  };

  auto cu = std::make_shared<tj::CompilationUnit>();
  tj::Module root = scriptTree(m, className, cu);
  const bool mode = m.is_training();
  std::shared_ptr<tj::Graph> first = traceOnce(root, inputs, callJs);
  std::shared_ptr<tj::Graph> second;
  if (bothModes) {
    // the other mode's run must change nothing: buffers (running statistics) and the generator back
    std::vector<at::Tensor> buffers = m.buffers(/*recurse=*/true), saved;
    at::Tensor rng;
    {
      torch::NoGradGuard noGrad;
      for (const auto& b : buffers) saved.push_back(b.defined() ? b.clone() : b);
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      rng = generator.get_state();
    }
    auto restore = [&] {
      torch::NoGradGuard noGrad;
      for (size_t k = 0; k < buffers.size(); ++k) {
        if (buffers[k].defined()) buffers[k].copy_(saved[k]);
      }
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(rng);
      setTraining(m, root, mode);
    };
    try {
      setTraining(m, root, !mode);
      second = traceOnce(root, inputs, callJs);
    } catch (...) {
      restore();
      throw;
    }
    restore();
    if (graphText(first) == graphText(second)) second.reset();
  }
  const c10::QualifiedName& type = *root.type()->name();
  if (!second) {
    root.type()->addMethod(cu->create_function(c10::QualifiedName(type, "forward"), first));
  } else {
    std::shared_ptr<tj::Graph> train = mode ? first : second, eval = mode ? second : first;
    root.type()->addMethod(cu->create_function(c10::QualifiedName(type, "forward_train"), train));
    root.type()->addMethod(cu->create_function(c10::QualifiedName(type, "forward_eval"), eval));
    std::string params, args;
    for (size_t k = 0; k < inputs.size(); ++k) {
      params += ", x" + std::to_string(k) + ": Tensor";
      args += (k ? ", x" : "x") + std::to_string(k);
    }
    root.define("def forward(self" + params + "):\n  if self.training:\n    return self.forward_train(" + args +
                ")\n  else:\n    return self.forward_eval(" + args + ")\n");
  }
  return ModuleWrap::New(a.env(), std::make_shared<ScriptModuleImpl>(root));
}

// ---- load, save, inspect -------------------------------------------------------------------

// jitLoad(bytes: Uint8Array, device?) -> ScriptModule: what torch.jit.load reads (lib/jit checks
// the archive first, so that the common mistakes get messages of their own).
Napi::Value load(const Args& a) {
  if (!a[0].IsTypedArray()) a.fail(0, "a Uint8Array");
  Napi::Uint8Array bytes = a[0].As<Napi::Uint8Array>();
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength()));
  c10::optional<c10::Device> device = a.optDevice(1);
  tj::Module script = tj::load(in, device);
  return ModuleWrap::New(a.env(), std::make_shared<ScriptModuleImpl>(script));
}

// jitSave(module) -> Uint8Array: the archive torch.jit.save writes (lib/jit writes it atomically)
Napi::Value save(const Args& a) {
  ScriptModuleImpl& m = scriptOf(a, 0);
  std::ostringstream out;
  m.script().save(out);
  std::string data = out.str();
  Napi::Uint8Array bytes = Napi::Uint8Array::New(a.env(), data.size());
  std::memcpy(bytes.Data(), data.data(), data.size());
  return bytes;
}

// jitForward(module, inputs: (Tensor | null)[]) -> Tensor | (Tensor | null)[]: forward's
// result, a tuple or list of tensors as an array
Napi::Value forward(const Args& a) {
  ScriptModuleImpl& m = scriptOf(a, 0);
  std::vector<at::Tensor> in = a.optionalTensors(1);
  c10::IValue out = m.run(in);
  if (out.isTensor()) return a.wrap(out.toTensor());
  std::vector<c10::IValue> items;
  if (out.isTuple()) items = out.toTupleRef().elements().vec();
  else if (out.isTensorList()) for (const auto& t : out.toTensorVector()) items.emplace_back(t);
  else throw std::runtime_error("ScriptModule.forward returned " + out.type()->repr_str() + ", which torchbridge cannot convert (Tensors and tuples of Tensors only)");
  Napi::Array result = Napi::Array::New(a.env(), items.size());
  for (uint32_t k = 0; k < items.size(); ++k) {
    if (items[k].isTensor()) result.Set(k, a.wrap(items[k].toTensor()));
    else if (items[k].isNone()) result.Set(k, a.env().Null());
    else throw std::runtime_error("ScriptModule.forward returned a tuple holding " + items[k].type()->repr_str() + ", which torchbridge cannot convert");
  }
  return result;
}

// jitInfo(module) -> {methods, graph, signature}: the TorchScript methods, forward's graph and signature
Napi::Value info(const Args& a) {
  ScriptModuleImpl& m = scriptOf(a, 0);
  Napi::Object out = Napi::Object::New(a.env());
  Napi::Array methods = Napi::Array::New(a.env());
  uint32_t k = 0;
  for (const auto& method : m.script().get_methods()) methods.Set(k++, method.name());
  out.Set("methods", methods);
  if (auto method = m.script().find_method("forward")) {
    out.Set("graph", method->graph()->toString(/*print_source_locations=*/false));
    out.Set("signature", ScriptModuleImpl::signature(method->function().getSchema()));
  }
  return out;
}

const OpEntry jitOps[] = {
    {"jitTrace", trace},
    {"jitLoad", load},
    {"jitSave", save},
    {"jitForward", forward},
    {"jitInfo", info},
    {"jitMaxFileFormatVersion",
     [](const Args& a) -> Napi::Value { return Napi::Number::New(a.env(), static_cast<double>(caffe2::serialize::kMaxSupportedFileFormatVersion)); }},
};

}  // namespace

TB_REGISTER_OPS("jit", jitOps);

}  // namespace tb
