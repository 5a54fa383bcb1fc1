// DistributedDataParallel's work around a module (torch/nn/parallel/distributed.py, 1.13 and
// 2.x alike for the defaults used here), on c10d's C++ Reducer.
#define TB_WITH_C10D
#include "distributed/ddp.h"

#include <limits>
#include <type_traits>

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>

#include "distributed/process_group.h"

namespace tb {

namespace {

constexpr size_t kBroadcastBucketBytes = 250 * 1024 * 1024;  // DDP's broadcast_bucket_size
constexpr int64_t kFirstBucketBytes = 1024 * 1024;           // dist._DEFAULT_FIRST_BUCKET_BYTES

// The Reducer's constructor lost per_bucket_size_limits and gained three arguments in 2.x
// (after 2.6); both are called as Python's DDP calls them.
template <class R>
std::unique_ptr<R> makeReducer(std::vector<at::Tensor> params, std::vector<std::vector<size_t>> buckets, std::vector<size_t> limits,
                               c10::intrusive_ptr<c10d::ProcessGroup> group, int64_t bucketBytes) {
  std::vector<bool> sparse(params.size(), false);
  if constexpr (std::is_constructible_v<R, std::vector<at::Tensor>, std::vector<std::vector<size_t>>, c10::intrusive_ptr<c10d::ProcessGroup>,
                                        std::vector<bool>, int64_t, bool, bool, std::unordered_map<size_t, std::string>, int64_t, bool, bool,
                                        std::vector<int64_t>>) {
    return std::make_unique<R>(std::move(params), std::move(buckets), std::move(group), std::move(sparse), bucketBytes,
                               /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                               std::unordered_map<size_t, std::string>(), kFirstBucketBytes,
                               /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
                               /*bucket_bytes_cap_list=*/std::vector<int64_t>());
  } else {
    return std::make_unique<R>(std::move(params), std::move(buckets), std::move(limits), std::move(group), std::move(sparse), bucketBytes,
                               /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
                               std::unordered_map<size_t, std::string>(), kFirstBucketBytes);
  }
}

// The ranks' bucket summed, not averaged: what c10d's internal _AllReduceBySumCommHook does
// (whose vtable Debian's 1.13 does not export). With a hook registered, the Reducer copies the
// gradients into the bucket without dividing them by the world size.
class SumCommHook : public c10d::CommHookInterface {
 public:
  explicit SumCommHook(c10::intrusive_ptr<c10d::ProcessGroup> group) : group_(std::move(group)) {}
  c10::intrusive_ptr<c10::ivalue::Future> runHook(c10d::GradBucket& bucket) override {
    std::vector<at::Tensor> tensors{bucket.getBufferRef()};
    return group_->allreduce(tensors)->getFuture();
  }
  at::Tensor parseHookResult(const c10::IValue& result) override {
    return result.isTensor() ? result.toTensor() : result.toTensorVector()[0];
  }

 private:
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
};

}  // namespace

struct DistributedDataParallel::Impl {
  std::shared_ptr<DistributedGroup> group;
  DistributedOptions options;
  std::vector<at::Tensor> buffers;
  std::unique_ptr<c10d::Reducer> reducer;
  bool requireForwardParamSync = true;  // DDP's require_forward_param_sync

  void syncBuffers() {
    if (buffers.empty()) return;
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> detached;
    for (const auto& b : buffers) detached.push_back(b.detach());
    c10d::broadcast_coalesced(group->group, detached, kBroadcastBucketBytes, 0);
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<DistributedGroup> group, DistributedOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = std::move(group);
  impl_->options = options;
}

DistributedDataParallel::~DistributedDataParallel() = default;

const void* DistributedDataParallel::groupKey() const { return impl_->group->key(); }
bool DistributedDataParallel::started() const { return impl_->reducer != nullptr; }

void DistributedDataParallel::start(const std::vector<at::Tensor>& parameters, const std::vector<at::Tensor>& buffers) {
  Impl& d = *impl_;
  std::vector<at::Tensor> trained;
  for (const auto& p : parameters) {
    if (p.requires_grad()) trained.push_back(p);
  }
  if (trained.empty()) throw std::invalid_argument("the model has no parameter that requires grad: there is nothing to synchronise");
  // _verify_param_shape_across_processes, then _sync_module_states
  c10d::verify_params_across_processes(d.group->group, trained, {});
  {
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> states;
    for (const auto& p : parameters) states.push_back(p.detach());
    for (const auto& b : buffers) states.push_back(b.detach());
    c10d::broadcast_coalesced(d.group->group, states, kBroadcastBucketBytes, 0);
  }
  d.buffers = buffers;
  // _ddp_init_helper: without find_unused_parameters, one bucket until the first backward has
  // shown the order gradients arrive in; the lists reversed, as Python reverses them
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(trained, {static_cast<size_t>(std::numeric_limits<int64_t>::max())},
                                                                  std::vector<bool>(trained.size(), false));
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  d.reducer = makeReducer<c10d::Reducer>(trained, buckets, limits, d.group->group, d.options.bucketBytes);
  // Without a hook the Reducer divides each gradient by the world size before summing (DDP's
  // mean); the sum hook all-reduces without dividing.
  if (d.options.sumGradients) d.reducer->register_comm_hook(std::make_unique<SumCommHook>(d.group->group));
}

void DistributedDataParallel::beforeForward(bool gradEnabled, bool sync) {
  Impl& d = *impl_;
  if (gradEnabled && sync) d.reducer->prepare_for_forward();
  if (gradEnabled) d.reducer->rebuild_buckets();
  if (d.requireForwardParamSync) d.syncBuffers();  // will_sync_module_buffers (broadcast_buffers=True)
}

void DistributedDataParallel::afterForward(bool gradEnabled, bool sync) {
  Impl& d = *impl_;
  if (gradEnabled && sync) {
    d.requireForwardParamSync = true;
    d.reducer->prepare_for_backward(std::vector<at::Tensor>());
  } else {
    d.requireForwardParamSync = false;
  }
}

std::string DistributedDataParallel::failure(const std::string& what, const std::string& error) const {
  return collectiveFailure(*impl_->group, what, error);
}

}  // namespace tb
