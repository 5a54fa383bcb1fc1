// Losses, with PyTorch's names, defaults and reductions (the trainer computes its loss in its
// step, trainer/trainer.cc; these are the ops JS calls).
#include "core/ops.h"

namespace tb {

namespace {

// crossEntropy(logits, target, weight?, reduction, ignoreIndex, labelSmoothing)
Napi::Value crossEntropy(const Args& a) {
  std::string reduction = a.has(3) ? a.string(3) : "mean";
  int64_t r;
  if (reduction == "none") r = at::Reduction::None;
  else if (reduction == "mean") r = at::Reduction::Mean;
  else if (reduction == "sum") r = at::Reduction::Sum;
  else throw ArgError("crossEntropy: reduction must be 'none', 'mean' or 'sum', got '" + reduction + "'");
  c10::optional<at::Tensor> weight = a.optTensor(2);
  return a.wrap(at::cross_entropy_loss(a.tensor(0), a.tensor(1), weight, r, a.integerOr(4, -100),
                                       a.has(5) ? a.number(5) : 0.0));
}

const OpEntry lossOps[] = {
    {"crossEntropy", crossEntropy},
};

}  // namespace

TB_REGISTER_OPS("losses", lossOps);

}  // namespace tb
