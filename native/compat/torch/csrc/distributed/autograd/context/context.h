// Debian's libtorch-dev 1.13 ships c10d's reducer.hpp but not the distributed-autograd header
// it includes, of which the Reducer's declaration needs two names only: the RPC context pointer
// it keeps (never set without torch.distributed.rpc) and the gradient callback type it checks
// against its own. This stand-in declares just those, with the same types as the real header;
// it is on the include path after the system's (-idirafter), so a libtorch that ships the real
// header (2.x) uses that one.
#pragma once

#include <functional>
#include <memory>

#include <ATen/core/Tensor.h>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
