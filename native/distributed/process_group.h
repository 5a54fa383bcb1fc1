// A c10d process group joined from Node (distributed/process_group.cc), shared by the JS handle
// and the Trainers that synchronise through it (distributed/ddp.cc). Only the files that call
// c10d define TB_WITH_C10D before including this, and see the group's members.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <napi.h>

#ifdef TB_WITH_C10D
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#endif

namespace tb {

struct DistributedGroup;

// The NCCL version c10d's NCCL backend runs (libtorch_cuda's), or "" where this build has none.
std::string ncclVersion();

// The group behind a NativeProcessGroup handle; TypeError naming `what` for anything else,
// Error once disposed. Its address is its key in busyObjects() and heldObjects() (usage.h).
std::shared_ptr<DistributedGroup> distributedGroupOf(const Napi::Value& handle, const std::string& what);

#ifdef TB_WITH_C10D

// One rank's membership: the TCP store of the rendezvous and the Gloo group built on it, as
// Python's init_process_group('gloo') builds them (or 'cpu:gloo,cuda:nccl'). Collectives on it must be issued in the same
// order on every rank: the JS handle and the Trainers mark it busy (usage.h) while they use it.
struct DistributedGroup {
  c10::intrusive_ptr<c10d::Store> store;  // the TCP store (clients and, on rank 0, its server)
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout{0};
  std::string backend = "gloo";  // 'gloo', or 'nccl' (CUDA tensors through NCCL, CPU ones through Gloo)

  // The key of this group in busyObjects() and heldObjects().
  const void* key() const { return this; }
};

// `error`'s message as a collective's failure on this rank: what failed, and what usually
// causes it (a rank that died or stopped, or ranks that issued different collectives).
std::string collectiveFailure(const DistributedGroup& group, const std::string& what, const std::string& error);
#endif

}  // namespace tb
