// Per JS environment (the main thread or a worker): the constructors of the native handle
// classes, the live-handle accounting and the link that lets other threads hand JS references
// back to this environment's thread. Owned by the environment (napi instance data) and freed
// with it, so that no state of one environment reaches into another (a context-aware addon).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tb {

// What a memory owner running on any thread needs to release a JS reference of one
// environment: the environment's JS thread, whether it is still alive, and a queue of releases
// that wait for that thread. Shared (shared_ptr) by the environment and every such owner, so it
// outlives whichever goes first.
struct JsThreadLink {
  explicit JsThreadLink(napi_env e) : env(e), thread(std::this_thread::get_id()) {}
  const napi_env env;
  const std::thread::id thread;
  std::mutex mutex;
  bool alive = true;                  // false once the environment is torn down
  std::vector<napi_ref> pending;      // released on `thread` by the next call from JS
  std::atomic<bool> hasPending{false};
};

// Storages kept alive by this environment's live tensor handles: several handles (views) can
// share one storage, whose bytes are counted once.
struct TensorStats {
  struct StorageUse {
    int64_t handles = 0;
    int64_t bytes = 0;
    bool cpu = false;
  };
  std::unordered_map<const void*, StorageUse> storages;
  int64_t liveTensors = 0;
  int64_t bytes = 0;
  int64_t cpuBytes = 0;
};

// CPU storages of the parameters and buffers of modules that live module handles reach, reported
// to V8 as external memory so that dropping module handles without dispose() triggers GC in time.
// Counted separately from tensor handles: a parameter that also has a tensor handle is reported
// twice, which only makes V8 collect somewhat earlier.
struct ModuleStats {
  // A storage as a module handle last saw it. Handles hold no reference to what they count (that
  // would keep it alive), so a freed storage's address can come back for a new one: the data
  // address and size are part of the key.
  struct Key {
    const void* impl;
    const void* data;
    int64_t bytes;
    bool operator==(const Key& o) const { return impl == o.impl && data == o.data && bytes == o.bytes; }
    bool operator<(const Key& o) const {
      if (impl != o.impl) return impl < o.impl;
      if (data != o.data) return data < o.data;
      return bytes < o.bytes;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.impl) ^ (std::hash<const void*>()(k.data) << 1) ^ std::hash<int64_t>()(k.bytes);
    }
  };
  std::unordered_map<Key, int64_t, KeyHash> handles;  // how many module handles count each storage
  int64_t bytes = 0;                                   // reported to V8 now
  std::unordered_set<void*> live;                      // the live module handles (ModuleWrap*), for accountAll
};

struct EnvData {
  explicit EnvData(napi_env env) : jsLink(std::make_shared<JsThreadLink>(env)) {}
  ~EnvData() {
    // The environment is going away: its references die with it, so owners that let go later
    // must not touch them.
    std::lock_guard<std::mutex> lock(jsLink->mutex);
    jsLink->alive = false;
    jsLink->pending.clear();
  }
  EnvData(const EnvData&) = delete;
  EnvData& operator=(const EnvData&) = delete;

  Napi::FunctionReference tensorConstructor;
  Napi::FunctionReference moduleConstructor;
  Napi::FunctionReference optimizerConstructor;
  Napi::FunctionReference trainerConstructor;
  Napi::FunctionReference processGroupConstructor;
  std::shared_ptr<JsThreadLink> jsLink;
  TensorStats tensors;
  ModuleStats modules;

  static EnvData& of(Napi::Env env) { return *env.GetInstanceData<EnvData>(); }
};

}  // namespace tb
