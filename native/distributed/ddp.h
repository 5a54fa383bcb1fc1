// The Trainer's distributed mode: what PyTorch's DistributedDataParallel does around a module,
// in C++, with c10d's own Reducer (distributed/ddp.cc). Its header names no c10d type, so that
// the trainer's translation unit does not parse c10d's headers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace tb {

struct DistributedGroup;

struct DistributedOptions {
  // How the ranks' gradients are combined: summed (the step of one process on the whole global
  // batch, for losses summed over examples), or averaged (DDP's default: the global batch's
  // mean when every rank's loss is its own shard's mean).
  bool sumGradients = true;
  int64_t bucketBytes = 25 * 1024 * 1024;  // DDP's bucket_cap_mb = 25
};

// What DDP does around a module, with DDP's defaults (find_unused_parameters=False,
// broadcast_buffers=True, gradient_as_bucket_view=False), issuing the collectives that Python's
// DDP issues, in its order, so that Python ranks can share the group:
//   start():        DDP's constructor: parameter shapes verified across the ranks (an allgather),
//                   parameters and buffers broadcast from rank 0 (250 MB buckets), the Reducer
//                   built with one bucket, rebuilt by gradient order after the first step;
//   beforeForward:  the bucket rebuild (once, with a broadcast of the new buckets from rank 0)
//                   and the broadcast of buffers from rank 0 when DDP would sync them;
//   afterForward:   prepare_for_backward: the backward that follows all-reduces the gradients
//                   in buckets while it runs (c10d's Reducer), and waits for them at its end.
// A backward after a forward without `sync` accumulates locally (DDP's no_sync()).
class DistributedDataParallel {
 public:
  DistributedDataParallel(std::shared_ptr<DistributedGroup> group, DistributedOptions options);
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  // The group's key in busyObjects()/heldObjects().
  const void* groupKey() const;
  bool started() const;

  // `parameters` are every parameter of the module (frozen ones too) and `buffers` its buffers,
  // in registration order; the Reducer takes those that require grad.
  void start(const std::vector<at::Tensor>& parameters, const std::vector<at::Tensor>& buffers);
  void beforeForward(bool gradEnabled, bool sync);
  void afterForward(bool gradEnabled, bool sync);

  // A failure of one of the above, as a message naming the rank and the likely cause.
  std::string failure(const std::string& what, const std::string& error) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tb
