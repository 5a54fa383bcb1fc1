// Access to the optimizer behind a JS optimizer handle, for the trainer.
#pragma once

#include "core/args.h"

namespace tb {

// The optimizer behind argument i; TypeError when it is not an optimizer handle.
torch::optim::Optimizer& optimizerFromHandle(const Args& a, size_t i);

// optimizer.step(), then the version counter of every parameter it updated (those with a
// gradient) bumped, as PyTorch's in-place `param.add_` does. libtorch's SGD writes through
// `p.data()`, which has a counter of its own, so without this a step would leave no trace that
// autograd's saved-tensor checks and the trainer's replica refresh can see.
// With `fused`, Adam and AdamW take their one-pass step where it applies (optim/fused_adam.h).
void stepAndBumpVersions(torch::optim::Optimizer& optimizer, bool fused);

// Whether the optimizer behind argument i was created with {fused: true}.
bool optimizerIsFused(const Args& a, size_t i);

}  // namespace tb
