// The data-parallel trainer: nn.DataParallel + d2l's train_batch_ch13 in C++. One replica per
// device (replica 0 is the model itself, on devices[0]); a step splits the batch along dim 0,
// runs forward, the loss (any of PyTorch's: trainer/loss_spec.h) and backward of its sum (for
// 'mean', divided by the whole batch's denominator) on every replica in its own thread, sums the
// gradients onto the model's parameters, takes one optimizer step and copies the new parameters
// back to the replicas. All of it runs off the JS thread. With a process group, the Trainer is
// DistributedDataParallel instead (distributed/ddp.h): one replica per rank, its gradients
// all-reduced with the other ranks' by c10d's Reducer while backward runs, each rank stepping
// its own optimizer.
#include <sstream>
#include <unordered_set>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "nn/attention.h"
#include "nn/block_kernels.h"
#include "nn/sparse_rows.h"
#include "trainer/autocast.h"
#include "trainer/loss_spec.h"
#include "nn/dropout.h"
#include "core/env_data.h"
#include "core/handle.h"
#include "nn/module_wrap.h"
#include "core/omp_pool.h"
#include "core/ops.h"
#include "optim/optimizer_wrap.h"
#include "core/js_memory.h"
#include "core/usage.h"
#include "distributed/ddp.h"
#include "distributed/process_group.h"
#include "trainer/worker_thread.h"

namespace tb {

namespace {

struct Replica {
  c10::Device device = c10::Device(c10::kCPU);
  std::shared_ptr<torch::nn::Module> module;
  torch::nn::AnyModule any;
  std::vector<at::Tensor> state;  // parameters, then buffers
  at::Tensor lossWeight, lossPosWeight;  // the loss's tensors on this device
  std::unique_ptr<WorkerThread> thread = std::make_unique<WorkerThread>();
};

// Length groups (see TrainerWrap::share): which input holds each row's length, which inputs are
// trimmed along dim 1, and how many groups each replica's share is cut into (1: none).
struct LengthGroups {
  int64_t groups = 1;
  size_t lengthsInput = 0;
  std::vector<size_t> trimmedInputs;
};

struct StepResult {
  double lossSum = 0;  // the pieces' summed losses
  double loss = 0;     // what backward was taken of: lossSum, or lossSum / the batch's denominator for 'mean'
  int64_t correct = 0;
  bool counted = false;  // correct was counted (LossSpec::accuracy)
  int64_t count = 0;
};

at::Tensor runForward(torch::nn::AnyModule& any, const std::vector<at::Tensor>& in) {
  try {
    switch (in.size()) {
      case 1: return any.forward<at::Tensor>(in[0]);
      case 2: return any.forward<at::Tensor>(in[0], in[1]);
      case 3: return any.forward<at::Tensor>(in[0], in[1], in[2]);
      case 4: return any.forward<at::Tensor>(in[0], in[1], in[2], in[3]);
      default: break;
    }
  } catch (const c10::Error& e) {
    throw std::runtime_error("Trainer: the model's forward failed on the batch's " + std::to_string(in.size()) +
                             " input(s): " + e.what_without_backtrace());
  }
  throw std::invalid_argument("Trainer: between 1 and 4 model inputs are supported, got " + std::to_string(in.size()));
}

// d2l.accuracy: the number of rows whose argmax equals the label.
int64_t countCorrect(const at::Tensor& pred, const at::Tensor& y) {
  at::Tensor yHat = pred.dim() > 1 && pred.size(1) > 1 ? pred.argmax(1) : pred;
  return yHat.to(y.scalar_type()).eq(y).sum().item<int64_t>();
}

class TrainerWrap : public HandleClass<TrainerWrap> {
 public:
  static constexpr const char* kClassName = "NativeTrainer";
  static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::trainerConstructor;

  static void Init(Napi::Env env, Napi::Object exports) { HandleClass::Init(env, exports); }

  // The trainer behind argument i; Error once disposed.
  static TrainerWrap& Get(const Args& a, size_t i) {
    TrainerWrap* wrap = TryUnwrap(a[i]);
    if (!wrap) a.fail(i, "a Trainer");
    TrainerWrap& t = *wrap;
    if (t.disposed_) throw std::runtime_error(std::string(a.name()) + ": the Trainer was disposed; create a new one");
    return t;
  }

  using HandleClass::HandleClass;

  // trainerCreate(module, optimizer, devices: string[], {loss: {kind, reduction, ignoreIndex, labelSmoothing, beta,
  //                delta, weight, posWeight, accuracy}, dropoutRng: 'philox' | 'pytorch',
  //                attention: 'explicit' | 'fused', kernels: 'fused' | 'reference', precision: 'float32' | 'bf16',
  //                lengthGroups: {groups, lengthsInput, trimmedInputs}})
  // Everything is checked before the model moves; a failure while it moves or is copied puts it back.
  static Napi::Value Create(const Args& a) {
    ModuleWrap& m = a.module(0);
    torch::optim::Optimizer& optimizer = optimizerFromHandle(a, 1);
    const bool fusedOptimizer = optimizerIsFused(a, 1);
    if (!a[2].IsArray() || a[2].As<Napi::Array>().Length() == 0) a.fail(2, "a non-empty array of devices");
    Napi::Array deviceList = a[2].As<Napi::Array>();
    std::vector<c10::Device> devices;
    for (uint32_t k = 0; k < deviceList.Length(); ++k) {
      Napi::Value d = deviceList.Get(k);
      if (!d.IsString()) throw ArgError("Trainer: devices must be strings such as 'cpu' or 'cuda:0'");
      c10::Device device = parseDevice(d.As<Napi::String>().Utf8Value());
      if (device.is_cuda() && !device.has_index()) device = c10::Device(c10::kCUDA, 0);  // where module.to('cuda') puts it
      devices.push_back(device);
    }
    if (m.any().is_empty()) throw ArgError("Trainer: the model has no native forward (a container written in TypeScript cannot be trained off the JS thread)");
    LossSpec loss;
    DropoutRng dropoutRng = DropoutRng::Philox;
    AttentionKernel attention = AttentionKernel::Explicit;
    BlockKernels kernels = BlockKernels::Fused;
    bool bf16 = false;
    LengthGroups split;
    std::shared_ptr<DistributedGroup> group;
    DistributedOptions distributed;
    if (a[3].IsObject()) {
      Napi::Object o = a[3].As<Napi::Object>();
      // a string option's text ("" for a value of another type, which every name check refuses)
      auto text = [](const Napi::Value& v) { return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); };
      loss = lossSpecFrom(o.Get("loss"));
      Napi::Value rng = o.Get("dropoutRng");
      if (!rng.IsUndefined()) dropoutRng = dropoutRngNamed(text(rng), "Trainer: dropoutRng");
      Napi::Value blockKernels = o.Get("kernels");
      if (!blockKernels.IsUndefined()) kernels = blockKernelsNamed(text(blockKernels), "Trainer: kernels");
      Napi::Value kernel = o.Get("attention");
      if (!kernel.IsUndefined()) attention = attentionKernelNamed(text(kernel), "Trainer: attention");
      Napi::Value groups = o.Get("lengthGroups");
      if (groups.IsObject()) {
        Napi::Object g = groups.As<Napi::Object>();
        auto count = [](Napi::Value v, const char* what) -> int64_t {
          if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0 ||
              v.As<Napi::Number>().DoubleValue() != std::floor(v.As<Napi::Number>().DoubleValue())) {
            throw ArgError(std::string("Trainer: lengthGroups.") + what + " must be a non-negative integer");
          }
          return v.As<Napi::Number>().Int64Value();
        };
        split.groups = count(g.Get("groups"), "groups");
        if (split.groups < 1) throw ArgError("Trainer: lengthGroups.groups must be at least 1");
        split.lengthsInput = static_cast<size_t>(count(g.Get("lengthsInput"), "lengthsInput"));
        Napi::Value trimmed = g.Get("trimmedInputs");
        if (!trimmed.IsArray()) throw ArgError("Trainer: lengthGroups.trimmedInputs must be an array of input indices");
        Napi::Array list = trimmed.As<Napi::Array>();
        for (uint32_t k = 0; k < list.Length(); ++k) split.trimmedInputs.push_back(static_cast<size_t>(count(list.Get(k), "trimmedInputs[]")));
      } else if (!groups.IsUndefined()) {
        throw ArgError("Trainer: lengthGroups must be an object {groups, lengthsInput, trimmedInputs}");
      }
      Napi::Value precision = o.Get("precision");
      if (!precision.IsUndefined()) {
        std::string name = text(precision);
        if (name != "float32" && name != "bf16") throw ArgError("Trainer: precision must be 'float32' or 'bf16'");
        bf16 = name == "bf16";
      }
      Napi::Value handle = o.Get("processGroup");
      if (!handle.IsUndefined() && !handle.IsNull()) {
        group = distributedGroupOf(handle, "Trainer: processGroup");
        if (devices.size() != 1) {
          throw ArgError("Trainer: with a processGroup, give one device per rank (one process per GPU, as DistributedDataParallel), got " +
                         std::to_string(devices.size()));
        }
        std::string name = text(o.Get("gradientReduction"));
        if (name != "sum" && name != "mean") throw ArgError("Trainer: gradientReduction must be 'sum' or 'mean'");
        distributed.sumGradients = name == "sum";
        Napi::Value bucket = o.Get("bucketCapMB");
        if (!bucket.IsUndefined()) {
          double mb = bucket.IsNumber() ? bucket.As<Napi::Number>().DoubleValue() : NAN;
          if (!(mb > 0)) throw ArgError("Trainer: bucketCapMB must be a positive number of megabytes");
          distributed.bucketBytes = static_cast<int64_t>(mb * 1024 * 1024);
        }
      }
    }
    // Moving the model keeps its parameter tensors (set_data), so the optimizer's are checked first.
    std::unordered_set<const void*> held;
    for (const auto& group : optimizer.param_groups()) {
      for (const auto& p : group.params()) held.insert(p.unsafeGetTensorImpl());
    }
    for (const auto& p : m.module().parameters()) {
      if (p.requires_grad() && !held.count(p.unsafeGetTensorImpl())) {
        throw ArgError("Trainer: the optimizer does not hold every trainable parameter of the model; build it from "
                       "net.parameters() (the trainer moves the model to devices[0] in place, which keeps them)");
      }
    }

    auto [object, wrap] = Make(a.env());
    TrainerWrap& t = *wrap;
    t.loss_ = loss;
    t.dropoutRng_ = dropoutRng;
    t.attention_ = attention;
    t.kernels_ = kernels;
    t.bf16_ = bf16;
    t.split_ = std::move(split);
    t.devices_ = devices;
    t.model_ = m.modulePtr();
    t.optimizer_ = &optimizer;
    t.fusedOptimizer_ = fusedOptimizer;

    // As nn.DataParallel(net).to(devices[0]): the model itself is replica 0.
    std::vector<at::Tensor> before = m.module().parameters();
    c10::Device home = before.empty() ? c10::Device(c10::kCPU) : before[0].device();
    try {
      m.module().to(devices[0]);
      Replica master{devices[0], m.modulePtr(), m.any(), stateOf(m.module()), onDevice(loss.weight, devices[0]),
                     onDevice(loss.posWeight, devices[0])};
      t.paramCount_ = m.module().parameters().size();
      t.replicas_.push_back(std::move(master));
      for (size_t k = 1; k < devices.size(); ++k) {
        std::shared_ptr<torch::nn::Module> copy = m.module().clone(devices[k]);
        Replica r{devices[k], copy, anyModuleOf(copy), stateOf(*copy), onDevice(loss.weight, devices[k]),
                  onDevice(loss.posWeight, devices[k])};
        t.replicas_.push_back(std::move(r));
      }
    } catch (...) {
      t.replicas_.clear();
      m.module().to(home);
      throw;
    }
    t.recordMasterState();
    for (const auto& s : t.replicas_[0].state) t.dtypes_.push_back(s.scalar_type());
    t.mirrorRequiresGrad();
    t.moduleRef_ = Napi::Persistent(a[0].As<Napi::Object>());
    t.optimizerRef_ = Napi::Persistent(a[1].As<Napi::Object>());
    std::vector<const void*> holding{t.model_.get(), t.optimizer_};
    if (group) {
      holding.push_back(group.get());
      t.ddp_ = std::make_unique<DistributedDataParallel>(group, distributed);
    }
    t.holds_ = std::make_unique<UsageLease>(heldObjects(), holding);
    return object;
  }

  // A training step, run on replica 0's thread (the reduce and the optimizer step included) with
  // `threads` intra-op threads (libtorch's setting is per thread: the JS thread's is passed in).
  StepResult step(const std::vector<at::Tensor>& inputs, const at::Tensor& labels, int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    StepResult result;
    replicas_[0].thread->submit([&] { result = stepOnThread(inputs, labels, threads); }).get();
    return result;
  }

  StepResult evaluate(const std::vector<at::Tensor>& inputs, const at::Tensor& labels, int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<StepResult> parts(replicas_.size());
    double denominator = 1;
    replicas_[0].thread->submit([&] {
      checkModel();
      checkStarted("Trainer.evaluate");
      refreshReplicas();
      denominator = distributedStage("Trainer.evaluate", [&] { return runOnReplicas(inputs, labels, parts, /*train=*/false, threads); });
    }).get();
    return combine(parts, denominator);
  }

  // DistributedDataParallel's construction (distributed/ddp.h), on replica 0's thread: the
  // parameters and buffers broadcast from rank 0, the Reducer built. Once, before any step.
  void startDistributed(int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    replicas_[0].thread->submit([&] {
      useThreads(threads);
      checkModel();
      if (ddp_->started()) throw std::runtime_error("Trainer: the distributed start ran already");
      std::vector<at::Tensor> parameters(replicas_[0].state.begin(), replicas_[0].state.begin() + static_cast<std::ptrdiff_t>(paramCount_));
      std::vector<at::Tensor> buffers(replicas_[0].state.begin() + static_cast<std::ptrdiff_t>(paramCount_), replicas_[0].state.end());
      distributedStage("the Trainer's start (parameters broadcast from rank 0)", [&] { ddp_->start(parameters, buffers); });
      recordMasterState();  // the broadcast wrote the parameters
    }).get();
  }
  bool distributed() const { return ddp_ != nullptr; }

  // What a running step uses, for the busy lease (usage.h): the model, the optimizer and the group.
  std::vector<const void*> busyKeys() const {
    std::vector<const void*> keys = tb::busyKeys(*model_, *optimizer_);
    if (ddp_) keys.push_back(ddp_->groupKey());
    return keys;
  }
  void checkIdle(const std::string& what) const {
    checkModuleIdle(*model_, what);
    checkOptimizerIdle(*optimizer_, what);
    if (ddp_ && busyObjects().contains(ddp_->groupKey())) {
      throw BusyError(what + ": a collective on the Trainer's process group is running; await it first (every rank must issue "
                             "the same collectives in the same order)");
    }
  }
  int& inFlight() { return inFlight_; }

  // libtorch's (legacy) profiler on replica 0's thread, where steps run their forward, backward
  // and optimizer step: from startProfile until stopProfile, which returns its Chrome trace.
  void startProfile() {
    if (inFlight_ > 0) throw BusyError("Trainer.startProfile: a step or evaluation is running; await it first");
    if (profile_) throw std::runtime_error("Trainer.startProfile: the Trainer is profiling already; call stopProfile() first");
    replicas_[0].thread->submit([this] {
      profileOut_ = std::make_unique<std::ostringstream>();
      profile_ = std::make_unique<torch::autograd::profiler::RecordProfile>(*profileOut_);
    }).get();
  }

  std::string stopProfile() {
    if (inFlight_ > 0) throw BusyError("Trainer.stopProfile: a step or evaluation is running; await it first");
    if (!profile_) throw std::runtime_error("Trainer.stopProfile: the Trainer is not profiling; call startProfile() first");
    replicas_[0].thread->submit([this] { profile_.reset(); }).get();  // writes the trace
    std::string trace = profileOut_->str();
    profileOut_.reset();
    return trace;
  }

  // Joins the replicas' threads and frees the replicas, and lets go of the model and the optimizer.
  void dispose() {
    if (inFlight_ > 0) throw BusyError("Trainer.dispose: a step or evaluation is running; await its Promise first");
    if (profile_) replicas_[0].thread->submit([this] { profile_.reset(); }).get();  // the profiler ends on its own thread
    profileOut_.reset();
    replicas_.clear();
    rowGrads_.clear();
    ddp_.reset();  // the Reducer's hooks leave the parameters
    holds_.reset();
    moduleRef_.Reset();
    optimizerRef_.Reset();
    model_.reset();
    optimizer_ = nullptr;
    disposed_ = true;
  }

 private:
  static at::Tensor onDevice(const at::Tensor& t, c10::Device device) { return t.defined() ? t.to(device) : t; }

  // The replicas' sums as one result, the loss divided by the whole batch's `denominator` for 'mean'.
  StepResult combine(const std::vector<StepResult>& parts, double denominator) const {
    StepResult total;
    for (const auto& p : parts) {
      total.lossSum += p.lossSum;
      total.correct += p.correct;
      total.counted = total.counted || p.counted;
      total.count += p.count;
    }
    total.loss = total.lossSum / denominator;
    return total;
  }

  // Parameters then buffers, in the module's order (the same in every replica).
  static std::vector<at::Tensor> stateOf(const torch::nn::Module& m) {
    std::vector<at::Tensor> state = m.parameters();
    for (const auto& b : m.buffers()) state.push_back(b);
    return state;
  }

  // A distributed failure (a collective that a dead or diverging rank broke) as a message naming
  // the rank, the stage and the cause; other errors as they are.
  template <class F>
  auto distributedStage(const std::string& what, F&& body) -> decltype(body()) {
    if (!ddp_) return body();
    try {
      return body();
    } catch (const ArgError&) {
      throw;
    } catch (const c10::Error& e) {
      throw std::runtime_error(ddp_->failure(what, e.what_without_backtrace()));
    } catch (const std::exception& e) {
      throw std::runtime_error(ddp_->failure(what, e.what()));
    }
  }

  void checkStarted(const char* what) const {
    if (ddp_ && !ddp_->started()) {
      throw std::runtime_error(std::string(what) + ": the distributed Trainer has not started (its start failed, or was not run): "
                               "create a new Trainer");
    }
  }

  StepResult stepOnThread(const std::vector<at::Tensor>& inputs, const at::Tensor& labels, int threads) {
    useThreads(threads);
    checkModel();
    checkStarted("Trainer.step");
    refreshReplicas();  // what JS changed since the last step (loadStateDict, in-place ops, another optimizer)
    // every replica starts without gradients: stale parameters stay gradient-free, and a replica
    // that gets no rows (a batch smaller than the replica count) adds nothing
    for (auto& rep : replicas_) {
      for (size_t k = 0; k < paramCount_; ++k) rep.state[k].mutable_grad() = at::Tensor();
    }
    std::vector<StepResult> parts(replicas_.size());
    const double denominator = distributedStage("Trainer.step", [&] { return runOnReplicas(inputs, labels, parts, /*train=*/true, threads); });
    // the fused kernels' sparse row gradients (nn/block_kernels.h), each summed into a dense one
    // that is kept from step to step (sparse_rows.h)
    rowGrads_.resize(replicas_.size());
    for (size_t r = 0; r < replicas_.size(); ++r) {
      rowGrads_[r].resize(paramCount_);
      for (size_t k = 0; k < paramCount_; ++k) {
        at::Tensor& g = replicas_[r].state[k].mutable_grad();
        if (g.defined() && g.is_sparse()) g = rowGrads_[r][k].accumulate(g);
      }
    }
    // nn.DataParallel's reduce: every replica's gradient summed onto the model's parameters
    auto& master = replicas_[0].state;
    for (size_t r = 1; r < replicas_.size(); ++r) {
      for (size_t k = 0; k < paramCount_; ++k) {
        const at::Tensor& g = replicas_[r].state[k].grad();
        if (!g.defined()) continue;
        at::Tensor moved = g.to(master[k].device(), /*non_blocking=*/true);
        if (master[k].grad().defined()) {
          master[k].mutable_grad().add_(moved);
          RowGradBuffer& kept = rowGrads_[0][k];
          if (kept.holds(master[k].grad())) kept.absorbed(rowGrads_[r][k].holds(g) ? &rowGrads_[r][k] : nullptr);
        } else {
          master[k].mutable_grad() = moved.clone();
        }
      }
    }
    stepAndBumpVersions(*optimizer_, fusedOptimizer_);
    refreshReplicas();  // the update (the model's structure cannot have changed meanwhile: it is busy)
    return combine(parts, denominator);
  }

  static void useThreads(int threads) {
    if (threads > 0 && at::get_num_threads() != threads) at::set_num_threads(threads);
  }

  // The model must still be the one the replicas copy, where the Trainer runs it.
  void checkModel() const {
    std::vector<at::Tensor> now = stateOf(*model_);
    const auto& master = replicas_[0].state;
    bool same = now.size() == master.size();
    for (size_t k = 0; same && k < now.size(); ++k) same = now[k].unsafeGetTensorImpl() == master[k].unsafeGetTensorImpl();
    if (!same) {
      throw std::runtime_error("Trainer: the model's parameters or buffers changed since the Trainer was created (a parameter "
                               "or module was registered or replaced); create a new Trainer for the changed model");
    }
    for (size_t k = 0; k < now.size(); ++k) {
      const at::Tensor& t = now[k];
      if (t.scalar_type() != dtypes_[k]) {
        throw std::runtime_error(std::string("Trainer: the model's parameters were converted to ") + dtypeName(t.scalar_type()) +
                                 " after the Trainer was created, but its replicas are " +
                                 dtypeName(dtypes_[k]) +
                                 "; convert the model back, or create a new Trainer for the converted model");
      }
      if (t.device() != devices_[0]) {
        throw std::runtime_error("Trainer: the model was moved to " + t.device().str() + " after the Trainer was created, but the "
                                 "Trainer runs it on devices[0] (" + devices_[0].str() + "); move it back with net.to('" +
                                 devices_[0].str() + "') or create a new Trainer");
      }
    }
  }

  // Replicas see the model's current values at every step: a parameter or buffer whose version
  // counter (bumped by every in-place write: copy_, optimizer steps, mul_) or memory changed since
  // the replicas last copied it is copied again, and nothing else is.
  void refreshReplicas() {
    const auto& master = replicas_[0].state;
    {
      torch::NoGradGuard noGrad;
      for (size_t k = 0; k < master.size(); ++k) {
        if (master[k]._version() == seenVersion_[k] && master[k].data_ptr() == seenData_[k]) continue;
        for (size_t r = 1; r < replicas_.size(); ++r) replicas_[r].state[k].copy_(master[k], /*non_blocking=*/true);
        seenVersion_[k] = master[k]._version();
        seenData_[k] = master[k].data_ptr();
      }
    }
    mirrorRequiresGrad();
  }

  void recordMasterState() {
    const auto& master = replicas_[0].state;
    seenVersion_.resize(master.size());
    seenData_.resize(master.size());
    for (size_t k = 0; k < master.size(); ++k) {
      seenVersion_[k] = master[k]._version();
      seenData_[k] = master[k].data_ptr();
    }
  }

  // Replicas other than the model itself train the parameters the model trains (requiresGrad_).
  void mirrorRequiresGrad() {
    for (size_t r = 1; r < replicas_.size(); ++r) {
      for (size_t k = 0; k < paramCount_; ++k) {
        bool wanted = replicas_[0].state[k].requires_grad();
        if (replicas_[r].state[k].requires_grad() != wanted) replicas_[r].state[k].requires_grad_(wanted);
      }
    }
  }

  // One replica's share of a batch: one piece, or several length groups run one after another.
  struct Piece {
    std::vector<at::Tensor> inputs;
    at::Tensor labels;
  };

  // How a batch is shared: as nn.DataParallel's scatter (torch.chunk along dim 0, one piece per
  // replica), or, with length groups, rows sorted by length (inputs[lengthsInput]) and cut into
  // groups x replicas pieces, each trimmed to its longest row along dim 1 of the trimmed inputs,
  // piece p going to replica p % replicas. A loss summed over examples, backward accumulating
  // into .grad, makes both give the same step up to rounding.
  std::vector<std::vector<Piece>> share(const std::vector<at::Tensor>& inputs, const at::Tensor& labels) const {
    const int64_t n = static_cast<int64_t>(replicas_.size());
    std::vector<std::vector<Piece>> plan(replicas_.size());
    if (split_.groups <= 1) {
      std::vector<std::vector<at::Tensor>> inChunks(inputs.size());
      for (size_t k = 0; k < inputs.size(); ++k) inChunks[k] = inputs[k].chunk(n, 0);
      std::vector<at::Tensor> labelChunks = labels.chunk(n, 0);  // fewer than n when the batch is smaller
      for (size_t r = 0; r < labelChunks.size(); ++r) {
        Piece piece{{}, labelChunks[r]};
        for (size_t k = 0; k < inputs.size(); ++k) piece.inputs.push_back(inChunks[k][r]);
        plan[r].push_back(std::move(piece));
      }
      return plan;
    }
    TORCH_CHECK(split_.lengthsInput < inputs.size(), "Trainer: lengthGroups.lengthsInput ", split_.lengthsInput, " is not one of the ",
                inputs.size(), " inputs");
    const at::Tensor& lengths = inputs[split_.lengthsInput];
    TORCH_CHECK(lengths.dim() == 1 && lengths.size(0) == labels.size(0), "Trainer: lengthGroups: inputs[", split_.lengthsInput,
                "] must hold one length per example, got shape ", lengths.sizes());
    at::Tensor order = std::get<1>(lengths.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
    at::Tensor sortedLabels = labels.index_select(0, order.to(labels.device()));
    std::vector<at::Tensor> sorted;
    for (const auto& input : inputs) sorted.push_back(input.index_select(0, order.to(input.device())));
    std::vector<at::Tensor> labelPieces = sortedLabels.chunk(n * split_.groups, 0);
    std::vector<std::vector<at::Tensor>> inputPieces;
    for (const auto& t : sorted) inputPieces.push_back(t.chunk(n * split_.groups, 0));
    for (size_t p = 0; p < labelPieces.size(); ++p) {
      Piece piece{{}, labelPieces[p]};
      const int64_t longest = inputPieces[split_.lengthsInput][p].max().item<int64_t>();
      for (size_t k = 0; k < inputs.size(); ++k) {
        at::Tensor t = inputPieces[k][p];
        bool trim = std::find(split_.trimmedInputs.begin(), split_.trimmedInputs.end(), k) != split_.trimmedInputs.end();
        if (trim && t.dim() >= 2 && longest < t.size(1)) t = t.narrow(1, 0, std::max<int64_t>(longest, 1));
        piece.inputs.push_back(t);
      }
      plan[p % replicas_.size()].push_back(std::move(piece));
    }
    return plan;
  }

  // Runs each replica's share of the batch on that replica's thread and fills parts[r]; returns
  // what the summed loss is divided by (1, or the whole batch's denominator for 'mean'). Called
  // on replica 0's thread.
  double runOnReplicas(const std::vector<at::Tensor>& inputs, const at::Tensor& labels, std::vector<StepResult>& parts,
                       bool train, int threads) {
    std::vector<std::vector<Piece>> plan = share(inputs, labels);
    // 'mean': every piece's sum is scaled by the whole batch's denominator, so that the
    // gradients the replicas add up are those of the batch's mean
    const double denominator = loss_.reduction == at::Reduction::Mean ? meanDenominator(loss_, labels) : 1.0;
    const double scale = 1.0 / denominator;
    size_t used = 0;
    while (used < plan.size() && !plan[used].empty()) ++used;
    std::vector<std::exception_ptr> errors(used);
    auto work = [&](size_t r) {
      try {
        useThreads(threads);
        DropoutRngGuard rng(dropoutRng_);
        AttentionKernelGuard kernel(attention_);
        BlockKernelsGuard blockKernels(kernels_, /*sparseRows=*/!ddp_);
        Replica& rep = replicas_[r];
        c10::Device device = rep.device;
        rep.module->train(train);
        for (size_t j = 0; j < plan[r].size(); ++j) {
          const Piece& piece = plan[r][j];
          // DDP: the gradients are all-reduced by the last piece's backward (the earlier ones
          // accumulate locally, as under no_sync())
          const bool sync = j + 1 == plan[r].size();
          std::vector<at::Tensor> in;
          for (const auto& t : piece.inputs) in.push_back(t.to(device, /*non_blocking=*/true));
          at::Tensor y = piece.labels.to(device, /*non_blocking=*/true);
          if (train) {
            torch::AutoGradMode grad(true);
            at::Tensor pred;
            if (ddp_) ddp_->beforeForward(true, sync);
            {
              AutocastGuard autocast(bf16_, device);
              pred = runForward(rep.any, in);
            }
            if (ddp_) ddp_->afterForward(true, sync);
            // the loss in float32, outside autocast (as a float32 model's)
            if (bf16_ && pred.scalar_type() == at::kBFloat16) pred = pred.to(at::kFloat);
            checkPrediction(loss_, pred, y);
            at::Tensor lsum = lossSum(loss_, pred, y, rep.lossWeight, rep.lossPosWeight);
            (scale == 1.0 ? lsum : lsum * scale).backward();  // accumulates into .grad across the pieces
            parts[r].lossSum += lsum.item<double>();
            if (countsAccuracy(loss_, pred, y)) {
              parts[r].correct += countCorrect(pred.detach(), y);
              parts[r].counted = true;
            }
          } else {
            torch::NoGradGuard noGrad;
            at::Tensor pred;
            if (ddp_) ddp_->beforeForward(false, false);
            {
              AutocastGuard autocast(bf16_, device);
              pred = runForward(rep.any, in);
            }
            if (ddp_) ddp_->afterForward(false, false);
            if (bf16_ && pred.scalar_type() == at::kBFloat16) pred = pred.to(at::kFloat);
            checkPrediction(loss_, pred, y);
            parts[r].lossSum += lossSum(loss_, pred, y, rep.lossWeight, rep.lossPosWeight).item<double>();
            if (countsAccuracy(loss_, pred, y)) {
              parts[r].correct += countCorrect(pred, y);
              parts[r].counted = true;
            }
          }
          parts[r].count += y.size(0);
        }
      } catch (...) {
        errors[r] = std::current_exception();
      }
    };
    std::vector<std::future<void>> done;
    for (size_t r = 1; r < used; ++r) done.push_back(replicas_[r].thread->submit([&work, r] { work(r); }));
    work(0);  // on this thread, replica 0's
    for (auto& d : done) d.get();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
    return denominator;
  }

  Napi::ObjectReference moduleRef_, optimizerRef_;
  std::shared_ptr<torch::nn::Module> model_;
  torch::optim::Optimizer* optimizer_ = nullptr;
  bool fusedOptimizer_ = false;
  std::vector<c10::Device> devices_;
  std::vector<Replica> replicas_;
  size_t paramCount_ = 0;  // replicas' state: parameters [0, paramCount_), then buffers
  std::vector<std::vector<RowGradBuffer>> rowGrads_;  // [replica][parameter]: dense gradients of sparse rows
  std::vector<int64_t> seenVersion_;  // of the model's state when the replicas last copied it
  std::vector<const void*> seenData_;
  std::vector<at::ScalarType> dtypes_;  // of the model's state, as the replicas hold it
  LossSpec loss_;
  DropoutRng dropoutRng_ = DropoutRng::Philox;
  AttentionKernel attention_ = AttentionKernel::Explicit;
  BlockKernels kernels_ = BlockKernels::Fused;
  bool bf16_ = false;
  LengthGroups split_;
  std::mutex mutex_;
  int inFlight_ = 0;  // scheduled tasks not yet settled (JS thread only)
  bool disposed_ = false;
  std::unique_ptr<UsageLease> holds_;  // the model, the optimizer and the group cannot be disposed meanwhile
  std::unique_ptr<DistributedDataParallel> ddp_;  // with a process group
  std::unique_ptr<std::ostringstream> profileOut_;  // between startProfile and stopProfile
  std::unique_ptr<torch::autograd::profiler::RecordProfile> profile_;
};

// Work of a Trainer on a libuv worker thread, settling a Promise: the model, the optimizer (and
// the process group) are busy meanwhile (usage.h), so that JS calls that touch them fail clearly
// instead of racing it. `run` is the work (its exceptions reject the Promise); `resolve` makes
// the value on the JS thread.
class TrainerWork : public Napi::AsyncWorker {
 public:
  TrainerWork(Napi::Env env, const char* name, TrainerWrap& trainer, Napi::Object trainerObject)
      : Napi::AsyncWorker(env, name),
        trainer_(trainer),
        threads_(at::get_num_threads()),  // the JS thread's setting (libtorch keeps it per thread)
        deferred_(Napi::Promise::Deferred::New(env)),
        busy_(std::make_unique<UsageLease>(busyObjects(), trainer.busyKeys())) {
    trainerRef_ = Napi::Persistent(trainerObject);
    ++trainer_.inFlight();
    releaseOmpTeamOfThisThread();  // the JS thread's OpenMP team would throttle the step's (core/omp_pool.h)
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      run();
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }

  void OnOK() override {
    settle();
    deferred_.Resolve(resolve());
  }

  void OnError(const Napi::Error& error) override {
    settle();
    deferred_.Reject(error.Value());
  }

 protected:
  virtual void run() = 0;
  virtual Napi::Value resolve() = 0;
  TrainerWrap& trainer_;
  int threads_;

 private:
  void settle() {
    busy_.reset();
    --trainer_.inFlight();
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference trainerRef_;
  std::unique_ptr<UsageLease> busy_;
};

// A step or an evaluation: {lossSum, loss, correct (null without the accuracy metric), count}.
class TrainerTask : public TrainerWork {
 public:
  TrainerTask(Napi::Env env, TrainerWrap& trainer, Napi::Object trainerObject, std::vector<at::Tensor> inputs,
              at::Tensor labels, bool train)
      : TrainerWork(env, train ? "torchbridge.step" : "torchbridge.evaluate", trainer, trainerObject),
        inputs_(std::move(inputs)),
        labels_(std::move(labels)),
        train_(train) {}

 private:
  void run() override {
    result_ = train_ ? trainer_.step(inputs_, labels_, threads_) : trainer_.evaluate(inputs_, labels_, threads_);
  }

  Napi::Value resolve() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("lossSum", result_.lossSum);
    out.Set("loss", result_.loss);
    out.Set("correct", result_.counted ? Napi::Value(Napi::Number::New(env, static_cast<double>(result_.correct))) : env.Null());
    out.Set("count", static_cast<double>(result_.count));
    return out;
  }

  std::vector<at::Tensor> inputs_;
  at::Tensor labels_;
  bool train_;
  StepResult result_;
};

// The distributed Trainer's start (TrainerWrap::startDistributed): it waits for every rank.
class StartTask : public TrainerWork {
 public:
  StartTask(Napi::Env env, TrainerWrap& trainer, Napi::Object trainerObject)
      : TrainerWork(env, "torchbridge.trainerStart", trainer, trainerObject) {}

 private:
  void run() override { trainer_.startDistributed(threads_); }
  Napi::Value resolve() override { return Env().Undefined(); }
};

// trainerStep(trainer, inputs: Tensor[], labels) / trainerEvaluate(...) -> Promise
Napi::Value schedule(const Args& a, bool train) {
  TrainerWrap& t = TrainerWrap::Get(a, 0);
  t.checkIdle(train ? "Trainer.step" : "Trainer.evaluate");
  std::vector<at::Tensor> inputs = a.tensors(1);
  at::Tensor labels = a.tensor(2);
  // The step reads its batch on another thread, where JS could meanwhile transfer or shrink a
  // typed array that a batch tensor shares (js_memory.h): such tensors are copied first.
  for (at::Tensor& input : inputs) {
    if (sharesJsMemory(input)) input = input.clone();
  }
  if (sharesJsMemory(labels)) labels = labels.clone();
  // The task holds its own references to the tensors: JS may dispose its handles meanwhile.
  auto* task = new TrainerTask(a.env(), t, a[0].As<Napi::Object>(), std::move(inputs), labels, train);  // freed by libuv after OnOK/OnError
  Napi::Promise promise = task->promise();
  task->Queue();
  return promise;
}

const OpEntry trainerOps[] = {
    {"trainerCreate", TrainerWrap::Create},
    {"trainerStep", [](const Args& a) { return schedule(a, true); }},
    {"trainerEvaluate", [](const Args& a) { return schedule(a, false); }},
    {"trainerStart",
     [](const Args& a) {
       TrainerWrap& t = TrainerWrap::Get(a, 0);
       if (!t.distributed()) throw ArgError("trainerStart: the Trainer has no process group");
       t.checkIdle("Trainer.start");
       auto* task = new StartTask(a.env(), t, a[0].As<Napi::Object>());  // freed by libuv after OnOK/OnError
       Napi::Promise promise = task->promise();
       task->Queue();
       return Napi::Value(promise);
     }},
    {"trainerProfileStart",
     [](const Args& a) {
       TrainerWrap::Get(a, 0).startProfile();
       return a.env().Undefined();
     }},
    {"trainerProfileStop", [](const Args& a) -> Napi::Value { return Napi::String::New(a.env(), TrainerWrap::Get(a, 0).stopProfile()); }},
    {"trainerDispose",
     [](const Args& a) {
       TrainerWrap::Get(a, 0).dispose();
       return a.env().Undefined();
     }},
};

}  // namespace

TB_REGISTER_OPS("trainer", trainerOps, TrainerWrap::Init);

}  // namespace tb
