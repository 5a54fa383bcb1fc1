// PyTorch's c10d from Node: the TCPStore rendezvous and the Gloo process group, built the way
// Python's `torch.distributed.init_process_group('gloo', init_method='env://')` builds them on
// the same libtorch, store keys and all, so that Node ranks and Python ranks form one group.
//
// The store, as Python nests it (keys are joined with '/'):
//   1.x: TCPStore (rank 0 serves it) -> PrefixStore("default_pg") -> PrefixStore("0") -> Gloo,
//        then a store-based barrier on "default_pg" ("store_based_barrier_key:1");
//   2.x: TCPStore -> PrefixStore("default_pg") -> PrefixStore("0/") -> PrefixStore("cpu/") -> Gloo,
//        the Gloo backend registered in a c10d::ProcessGroup for the CPU and CUDA, no barrier;
//        with NCCL (2.x CUDA builds, TB_WITH_NCCL), Python's init_process_group('cpu:gloo,cuda:nccl'):
//        Gloo for the CPU as above, then ProcessGroupNCCL on PrefixStore("cuda/") for CUDA.
// Under torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True) the agent serves the store:
// every rank is a client, and 1.x puts it under PrefixStore("/worker/attempt_<restart count>").
// The store never uses libuv (Node exports its own libuv symbols, and Debian's builds have no
// libuv store): Python's libuv server speaks the same protocol to it.
#define TB_WITH_C10D
#include "distributed/process_group.h"

#include <thread>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#if TB_WITH_NCCL
// c10d wraps its NCCL header in USE_C10D_NCCL; it needs CUDA's and NCCL's headers (find-libtorch.js)
#define USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/args.h"
#include "core/env_data.h"
#include "core/handle.h"
#include "core/ops.h"
#include "core/usage.h"

namespace tb {

namespace {

constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

struct JoinOptions {
  std::string masterAddr;
  int masterPort = 0;
  int rank = 0;
  int worldSize = 1;
  std::chrono::milliseconds timeout{0};
  bool agentStore = false;           // TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent serves the store
  std::string restartCount = "0";    // TORCHELASTIC_RESTART_COUNT
  std::vector<std::string> interfaces;  // GLOO_SOCKET_IFNAME
  bool nccl = false;                    // CUDA tensors through NCCL (CPU ones still through Gloo)
};

std::string seconds(std::chrono::milliseconds t) {
  std::ostringstream out;
  out << t.count() / 1000.0 << " s";
  return out.str();
}

#if TORCH_VERSION_MAJOR >= 2
// A TCP socket listening on `host`:`port` only (not on every interface, as TCPStore's own
// server listens), for the store's server to take over (2.x's masterListenFd). Throws naming
// the address when this machine cannot listen there (MASTER_ADDR is another machine's).
int listenOn(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve MASTER_ADDR " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
  std::string why;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) return fd;
    why = std::strerror(errno);
    close(fd);
  }
  throw std::runtime_error("rank 0 serves the store on MASTER_ADDR, but cannot listen on " + host + ":" + service + " (" + why +
                           "): start rank 0 on the machine MASTER_ADDR names, with a free MASTER_PORT");
}
#endif

#if TORCH_VERSION_MAJOR >= 2
// The NCCL backend of init_process_group('cpu:gloo,cuda:nccl') on 2.x, for the CUDA tensors of
// this rank (each rank drives its own GPU: NCCL refuses two ranks on one device).
c10::intrusive_ptr<c10d::Backend> ncclBackend(const c10::intrusive_ptr<c10d::Store>& groupStore, const JoinOptions& o) {
#if TB_WITH_NCCL
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = o.timeout;
  options->group_name = "0";
  options->group_desc = "default_pg";
  auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("cuda/", groupStore), o.rank,
                                                          o.worldSize, options);
  nccl->setSequenceNumberForGroup();
  return nccl;
#else
  (void)groupStore, (void)o;
  throw std::logic_error("ncclBackend: built without NCCL");
#endif
}
#endif

// As Python's env:// rendezvous and init_process_group('gloo'), up to the group itself.
std::shared_ptr<DistributedGroup> join(const JoinOptions& o) {
  auto g = std::make_shared<DistributedGroup>();
  g->rank = o.rank;
  g->size = o.worldSize;
  g->timeout = o.timeout;
  const std::string where = o.masterAddr + ":" + std::to_string(o.masterPort);  // for messages
  const std::string who = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize);
  c10d::TCPStoreOptions storeOptions;
  storeOptions.port = static_cast<uint16_t>(o.masterPort);
  storeOptions.isServer = o.rank == 0 && !o.agentStore;
  storeOptions.numWorkers = static_cast<size_t>(o.worldSize);
  storeOptions.waitWorkers = true;
  storeOptions.timeout = o.timeout;
  storeOptions.multiTenant = !o.agentStore;
  c10::intrusive_ptr<c10d::TCPStore> tcp;
  try {
#if TORCH_VERSION_MAJOR >= 2
    storeOptions.useLibUV = false;
    // 2.x: the store listens on MASTER_ADDR alone (1.x's server can only listen on every interface)
    if (storeOptions.isServer) storeOptions.masterListenFd = listenOn(o.masterAddr, o.masterPort);
#endif
    tcp = c10::make_intrusive<c10d::TCPStore>(o.masterAddr, storeOptions);
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) message = c10->what_without_backtrace();
    throw std::runtime_error("distributed: " + who + " could not " +
                             (storeOptions.isServer ? "serve the rendezvous store on port " + std::to_string(o.masterPort) +
                                                          " and gather the other ranks"
                                                    : "reach the rendezvous store at " + where) +
                             " within " + seconds(o.timeout) + ": " + message +
                             "\nEvery rank needs the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, rank 0 must be running, "
                             "MASTER_PORT must be free on rank 0's machine and open to the others, and the store's server (rank 0, or "
                             "torchrun's agent) must be a PyTorch of the same major version as this libtorch (" TORCH_VERSION ").");
  }
  tcp->setTimeout(o.timeout);
  g->store = tcp;
  c10::intrusive_ptr<c10d::Store> base = tcp;
  if (!kTorch2 && o.agentStore) base = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + o.restartCount, base);
  auto defaultPg = c10::make_intrusive<c10d::PrefixStore>("default_pg", base);

  auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
  try {
    if (o.interfaces.empty()) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    } else {
      for (const auto& name : o.interfaces) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("distributed: " + who + " could not open a Gloo device" +
                             (o.interfaces.empty() ? std::string(" on this machine's address") : " on GLOO_SOCKET_IFNAME's interfaces") +
                             ": " + e.what() + "\nSet GLOO_SOCKET_IFNAME to the network interface the ranks reach each other on (e.g. eth0).");
  }
  options->threads = static_cast<int>(options->devices.size()) * 2;  // as Python's ProcessGroupGloo binding
  try {
#if TORCH_VERSION_MAJOR >= 2
    auto groupStore = c10::make_intrusive<c10d::PrefixStore>("0/", defaultPg);
    auto backendStore = c10::make_intrusive<c10d::PrefixStore>("cpu/", groupStore);
    auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(backendStore, o.rank, o.worldSize, options);
    gloo->setSequenceNumberForGroup();
    auto pg = c10::make_intrusive<c10d::ProcessGroup>(groupStore, o.rank, o.worldSize);
    pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
    if (o.nccl) {
      pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, ncclBackend(groupStore, o));
    } else {
      pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::GLOO, gloo);
    }
    g->group = pg;
    g->backend = o.nccl ? "nccl" : "gloo";
#else
    auto groupStore = c10::make_intrusive<c10d::PrefixStore>("0", defaultPg);
    auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(groupStore, o.rank, o.worldSize, options);
    // Python 1.x's store-based barrier after the group is made, on the "default_pg" store
    const std::string key = "store_based_barrier_key:1";
    defaultPg->add(key, 1);
    const auto deadline = std::chrono::steady_clock::now() + o.timeout;
    int64_t arrived = defaultPg->add(key, 0);
    while (arrived != o.worldSize) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("only " + std::to_string(arrived) + " of " + std::to_string(o.worldSize) + " ranks reached the barrier");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      arrived = defaultPg->add(key, 0);
    }
    gloo->setSequenceNumberForGroup();
    g->group = gloo;
#endif
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) message = c10->what_without_backtrace();
    throw std::runtime_error("distributed: " + who + " could not connect to every other rank (rendezvous at " + where + ") within " +
                             seconds(o.timeout) + ": " +
                             message + "\nA rank did not start, stopped, or cannot be reached on the address its Gloo device "
                             "announced (set GLOO_SOCKET_IFNAME to the interface the machines share).");
  }
  return g;
}

class ProcessGroupWrap : public HandleClass<ProcessGroupWrap> {
 public:
  static constexpr const char* kClassName = "NativeProcessGroup";
  static constexpr Napi::FunctionReference EnvData::*kConstructor = &EnvData::processGroupConstructor;

  static void Init(Napi::Env env, Napi::Object exports) { HandleClass::Init(env, exports); }
  using HandleClass::HandleClass;

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DistributedGroup> group) {
    auto [object, wrap] = Make(env);
    wrap->group_ = std::move(group);
    return object;
  }

  static ProcessGroupWrap& Get(const Napi::Value& value, const std::string& what) {
    ProcessGroupWrap* wrap = TryUnwrap(value);
    if (!wrap) throw ArgError(what + " must be a ProcessGroup (from distributed.initProcessGroup())");
    if (!wrap->group_) throw std::runtime_error(what + ": the ProcessGroup was disposed; join a new one");
    return *wrap;
  }

  const std::shared_ptr<DistributedGroup>& group() const { return group_; }

  void dispose(const char* what) {
    if (!group_) return;
    if (busyObjects().contains(group_->key())) {
      throw BusyError(std::string(what) + ": a collective or a Trainer step on this group is running; await it first");
    }
    if (heldObjects().contains(group_->key())) {
      throw BusyError(std::string(what) + ": a Trainer synchronises through this group; dispose the Trainer first");
    }
    group_.reset();
  }

 private:
  std::shared_ptr<DistributedGroup> group_;
};

// Joins on a libuv worker thread (the rendezvous blocks until every rank arrives or the timeout).
class JoinTask : public Napi::AsyncWorker {
 public:
  JoinTask(Napi::Env env, JoinOptions options)
      : Napi::AsyncWorker(env, "torchbridge.processGroupJoin"), deferred_(Napi::Promise::Deferred::New(env)), options_(std::move(options)) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      group_ = join(options_);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ProcessGroupWrap::Wrap(Env(), std::move(group_))); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  JoinOptions options_;
  std::shared_ptr<DistributedGroup> group_;
};

// One collective on a libuv worker thread; the group is busy meanwhile. Resolves with the
// result tensor (a new one: the input is never written), or undefined for a barrier.
class CollectiveTask : public Napi::AsyncWorker {
 public:
  using Body = std::function<at::Tensor(c10d::ProcessGroup&)>;
  CollectiveTask(Napi::Env env, std::shared_ptr<DistributedGroup> group, std::string what, Body body)
      : Napi::AsyncWorker(env, "torchbridge.collective"),
        deferred_(Napi::Promise::Deferred::New(env)),
        group_(std::move(group)),
        what_(std::move(what)),
        body_(std::move(body)),
        busy_(std::make_unique<UsageLease>(busyObjects(), std::vector<const void*>{group_->key()})) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      result_ = body_(*group_->group);
    } catch (const c10::Error& e) {
      SetError(collectiveFailure(*group_, what_, e.what_without_backtrace()));
    } catch (const std::exception& e) {
      SetError(collectiveFailure(*group_, what_, e.what()));
    }
  }
  void OnOK() override {
    busy_.reset();
    deferred_.Resolve(result_.defined() ? Napi::Value(TensorWrap::New(Env(), result_)) : Env().Undefined());
  }
  void OnError(const Napi::Error& error) override {
    busy_.reset();
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<DistributedGroup> group_;
  std::string what_;
  Body body_;
  std::unique_ptr<UsageLease> busy_;
  at::Tensor result_;
};

Napi::Value schedule(const Args& a, std::string what, CollectiveTask::Body body) {
  std::shared_ptr<DistributedGroup> group = distributedGroupOf(a[0], what);
  if (busyObjects().contains(group->key())) {
    throw BusyError(what + ": another collective or a Trainer step on this group is running; await it first (every rank must "
                           "issue the same collectives in the same order)");
  }
  auto* task = new CollectiveTask(a.env(), std::move(group), std::move(what), std::move(body));  // freed by libuv after OnOK/OnError
  Napi::Promise promise = task->promise();
  task->Queue();
  return promise;
}

c10d::ReduceOp reduceOpNamed(const std::string& name) {
  if (name == "sum") return c10d::ReduceOp::SUM;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "max") return c10d::ReduceOp::MAX;
  throw ArgError("allReduce: op must be 'sum', 'product', 'min' or 'max', got '" + name + "'");
}

// A tensor that collectives may write: contiguous, its own memory, never a JS buffer's; on the
// CPU, or on CUDA in an NCCL group.
at::Tensor collectiveInput(const DistributedGroup& g, const at::Tensor& t, const char* what) {
  if (g.backend == "nccl") {
    if (!t.device().is_cpu() && !t.device().is_cuda()) {
      throw ArgError(std::string(what) + ": the NCCL group reduces CUDA tensors (and CPU ones through Gloo), got one on " + t.device().str());
    }
  } else if (!t.device().is_cpu()) {
    throw ArgError(std::string(what) + ": the Gloo group reduces CPU tensors; move it with .to('cpu') first");
  }
  return t.detach().clone(at::MemoryFormat::Contiguous);
}

// processGroupJoin({masterAddr, masterPort, rank, worldSize, timeoutMs, agentStore, restartCount, interfaces, backend}) -> Promise<handle>
Napi::Value joinOp(const Args& a) {
  if (!a[0].IsObject()) a.fail(0, "the join options");
  Napi::Object o = a[0].As<Napi::Object>();
  auto integer = [&](const char* key, int64_t min, int64_t max) {
    Napi::Value v = o.Get(key);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(d == std::trunc(d)) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
      throw ArgError(std::string("processGroupJoin: ") + key + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return static_cast<int64_t>(d);
  };
  JoinOptions j;
  Napi::Value addr = o.Get("masterAddr");
  if (!addr.IsString() || addr.As<Napi::String>().Utf8Value().empty()) throw ArgError("processGroupJoin: masterAddr must be a host name or address");
  j.masterAddr = addr.As<Napi::String>().Utf8Value();
  j.masterPort = static_cast<int>(integer("masterPort", 1, 65535));
  j.worldSize = static_cast<int>(integer("worldSize", 1, 1 << 20));
  j.rank = static_cast<int>(integer("rank", 0, j.worldSize - 1));
  j.timeout = std::chrono::milliseconds(integer("timeoutMs", 1, int64_t(1) << 40));
  Napi::Value agent = o.Get("agentStore");
  j.agentStore = agent.IsBoolean() && agent.As<Napi::Boolean>().Value();
  Napi::Value restart = o.Get("restartCount");
  if (restart.IsString()) j.restartCount = restart.As<Napi::String>().Utf8Value();
  Napi::Value interfaces = o.Get("interfaces");
  if (interfaces.IsArray()) {
    Napi::Array list = interfaces.As<Napi::Array>();
    for (uint32_t k = 0; k < list.Length(); ++k) j.interfaces.push_back(list.Get(k).ToString().Utf8Value());
  }
  Napi::Value backend = o.Get("backend");
  if (!backend.IsUndefined()) {
    const std::string name = backend.IsString() ? backend.As<Napi::String>().Utf8Value() : "";
    if (name != "gloo" && name != "nccl") throw ArgError("processGroupJoin: backend must be 'gloo' or 'nccl'");
    j.nccl = name == "nccl";
  }
  if (j.nccl && ncclVersion().empty()) {
    throw ArgError("distributed: backend 'nccl' needs a torchbridge built with NCCL (a CUDA libtorch 2.x, and CUDA's and NCCL's "
                   "headers: `node scripts/find-libtorch.js` says what is missing), and this one is not; use backend 'gloo'");
  }
  if (j.nccl && torch::cuda::device_count() == 0) {
    throw ArgError("distributed: backend 'nccl' reduces CUDA tensors, and this machine has no CUDA GPU that libtorch can use; use backend 'gloo'");
  }
  auto* task = new JoinTask(a.env(), std::move(j));  // freed by libuv after OnOK/OnError
  Napi::Promise promise = task->promise();
  task->Queue();
  return promise;
}

const OpEntry processGroupOps[] = {
    {"processGroupJoin", joinOp},
    // ncclVersion() -> the NCCL version of c10d's NCCL backend, or null where this build has none
    {"ncclVersion",
     [](const Args& a) -> Napi::Value {
       const std::string v = ncclVersion();
       return v.empty() ? a.env().Null() : Napi::Value(Napi::String::New(a.env(), v));
     }},
    {"processGroupInfo",
     [](const Args& a) {
       const auto& g = *ProcessGroupWrap::Get(a[0], a.name()).group();
       Napi::Object out = Napi::Object::New(a.env());
       out.Set("rank", g.rank);
       out.Set("worldSize", g.size);
       out.Set("backend", g.backend);
       out.Set("timeoutMs", static_cast<double>(g.timeout.count()));
       return Napi::Value(out);
     }},
    {"processGroupAllReduce",
     [](const Args& a) {
       at::Tensor t = collectiveInput(*distributedGroupOf(a[0], "allReduce"), a.tensor(1), "allReduce");
       c10d::AllreduceOptions options;
       options.reduceOp = reduceOpNamed(a.string(2));
       return schedule(a, "allReduce", [t, options](c10d::ProcessGroup& pg) mutable {
         std::vector<at::Tensor> tensors{t};
         pg.allreduce(tensors, options)->wait();
         return t;
       });
     }},
    {"processGroupBroadcast",
     [](const Args& a) {
       std::shared_ptr<DistributedGroup> g = distributedGroupOf(a[0], "broadcast");
       at::Tensor t = collectiveInput(*g, a.tensor(1), "broadcast");
       int64_t src = a.integer(2);
       if (src < 0 || src >= g->size) throw ArgError("broadcast: src must be a rank from 0 to " + std::to_string(g->size - 1));
       c10d::BroadcastOptions options;
       options.rootRank = src;
       return schedule(a, "broadcast", [t, options](c10d::ProcessGroup& pg) mutable {
         std::vector<at::Tensor> tensors{t};
         pg.broadcast(tensors, options)->wait();
         return t;
       });
     }},
    {"processGroupBarrier",
     [](const Args& a) {
       return schedule(a, "barrier", [](c10d::ProcessGroup& pg) {
         pg.barrier()->wait();
         return at::Tensor();
       });
     }},
    {"processGroupDispose",
     [](const Args& a) {
       ProcessGroupWrap* wrap = ProcessGroupWrap::TryUnwrap(a[0]);
       if (!wrap) a.fail(0, "a ProcessGroup");
       wrap->dispose("ProcessGroup.dispose");
       return a.env().Undefined();
     }},
};

}  // namespace

std::string ncclVersion() {
#if TB_WITH_NCCL
  return c10d::getNcclVersion();
#else
  return "";
#endif
}

std::shared_ptr<DistributedGroup> distributedGroupOf(const Napi::Value& handle, const std::string& what) {
  return ProcessGroupWrap::Get(handle, what).group();
}

std::string collectiveFailure(const DistributedGroup& group, const std::string& what, const std::string& error) {
  return "distributed: " + what + " failed on rank " + std::to_string(group.rank) + " of " + std::to_string(group.size) + ": " + error +
         "\nAnother rank died, stopped, or issued other collectives (every rank must run the same steps in the same "
         "order); the timeout is " + seconds(group.timeout) + ".";
}

TB_REGISTER_OPS("distributed", processGroupOps, ProcessGroupWrap::Init);

}  // namespace tb
