// Access to the optimizer behind a JS optimizer handle, for the trainer.
#pragma once

#include "args.h"

namespace tb {

// The optimizer behind argument i; TypeError when it is not an optimizer handle.
torch::optim::Optimizer& optimizerFromHandle(const Args& a, size_t i);

}  // namespace tb
