// libtorch's Adam and AdamW steps in one pass over each parameter (the `fused` option of
// optim.Adam and optim.AdamW). libtorch's step runs eight tensor operations per parameter, each a
// pass over memory, two of them allocating (sqrt, div); for bert.small, whose token embedding
// alone holds 5.2M parameters, that is 25 MB of state read and written eight times a step. The
// fused step reads the parameter, its gradient and both moments once and writes them back once,
// in parallel over the elements, with the same arithmetic in the same order as libtorch's
// (each scalar rounded to the tensor's dtype as ATen's kernels round it), so results agree with
// libtorch's to float32 rounding (tests: 1e-6 relative over many steps). The state is libtorch's
// own (AdamParamState: step, exp_avg, exp_avg_sq, max_exp_avg_sq), so state dicts, checkpoints
// and a switch between the two steps are unaffected.
#pragma once

#include "core/common.h"

namespace tb {

// Whether every parameter with a gradient suits the fused step: a dense CPU float32 or float64
// gradient of the parameter's dtype, both contiguous (and contiguous state, if any). When not,
// the caller runs libtorch's step instead (which handles everything).
bool fusedAdamApplies(torch::optim::Optimizer& optimizer);

// One step of `optimizer`, a torch::optim::Adam or AdamW for which fusedAdamApplies holds:
// exactly libtorch's Adam::step / AdamW::step (state created as libtorch creates it, the step
// counter advanced, amsgrad and weight decay as options say), fused.
void fusedAdamStep(torch::optim::Optimizer& optimizer);

}  // namespace tb
