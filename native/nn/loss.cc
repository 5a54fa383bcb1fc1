// Losses, with PyTorch's names, defaults and reductions (the trainer computes its loss in its
// step, trainer/trainer.cc; these are the ops JS calls). Each calls the ATen function that
// torch.nn.functional calls, so values and gradients are PyTorch's; the size checks and
// broadcasting that F.* does in Python are done in lib/nn/loss.ts.
#include "core/ops.h"

namespace tb {

namespace {

int64_t reductionNamed(const Args& a, size_t i, const char* what) {
  std::string reduction = a.has(i) ? a.string(i) : "mean";
  if (reduction == "none") return at::Reduction::None;
  if (reduction == "mean") return at::Reduction::Mean;
  if (reduction == "sum") return at::Reduction::Sum;
  throw ArgError(std::string(what) + ": reduction must be 'none', 'mean' or 'sum', got '" + reduction + "'");
}

// crossEntropy(logits, target, weight?, reduction, ignoreIndex, labelSmoothing)
Napi::Value crossEntropy(const Args& a) {
  int64_t r = reductionNamed(a, 3, "crossEntropy");
  c10::optional<at::Tensor> weight = a.optTensor(2);
  return a.wrap(at::cross_entropy_loss(a.tensor(0), a.tensor(1), weight, r, a.integerOr(4, -100),
                                       a.has(5) ? a.number(5) : 0.0));
}

// nllLoss(logProbs, target, weight?, reduction, ignoreIndex): F.nll_loss (nll_loss_nd)
Napi::Value nllLoss(const Args& a) {
  int64_t r = reductionNamed(a, 3, "nllLoss");
  return a.wrap(at::nll_loss_nd(a.tensor(0), a.tensor(1), a.optTensor(2), r, a.integerOr(4, -100)));
}

// mseLoss / l1Loss(input, target, reduction)
Napi::Value mseLoss(const Args& a) { return a.wrap(at::mse_loss(a.tensor(0), a.tensor(1), reductionNamed(a, 2, "mseLoss"))); }
Napi::Value l1Loss(const Args& a) { return a.wrap(at::l1_loss(a.tensor(0), a.tensor(1), reductionNamed(a, 2, "l1Loss"))); }

// smoothL1Loss(input, target, reduction, beta): F.smooth_l1_loss (beta 0 is l1_loss, as in Python)
Napi::Value smoothL1Loss(const Args& a) {
  int64_t r = reductionNamed(a, 2, "smoothL1Loss");
  double beta = a.has(3) ? a.number(3) : 1.0;
  if (beta == 0.0) return a.wrap(at::l1_loss(a.tensor(0), a.tensor(1), r));
  return a.wrap(at::smooth_l1_loss(a.tensor(0), a.tensor(1), r, beta));
}

// huberLoss(input, target, reduction, delta)
Napi::Value huberLoss(const Args& a) {
  return a.wrap(at::huber_loss(a.tensor(0), a.tensor(1), reductionNamed(a, 2, "huberLoss"), a.has(3) ? a.number(3) : 1.0));
}

// binaryCrossEntropy(probs, target, weight?, reduction)
Napi::Value binaryCrossEntropy(const Args& a) {
  return a.wrap(at::binary_cross_entropy(a.tensor(0), a.tensor(1), a.optTensor(2), reductionNamed(a, 3, "binaryCrossEntropy")));
}

// binaryCrossEntropyWithLogits(logits, target, weight?, posWeight?, reduction)
Napi::Value binaryCrossEntropyWithLogits(const Args& a) {
  return a.wrap(at::binary_cross_entropy_with_logits(a.tensor(0), a.tensor(1), a.optTensor(2), a.optTensor(3),
                                                     reductionNamed(a, 4, "binaryCrossEntropyWithLogits")));
}

// broadcastTensors(a, b): torch.broadcast_tensors for two tensors (what F.mse_loss and friends do
// when the sizes differ)
Napi::Value broadcastPair(const Args& a) {
  std::vector<at::Tensor> out = at::broadcast_tensors({a.tensor(0), a.tensor(1)});
  Napi::Array list = Napi::Array::New(a.env(), 2);
  list.Set(0u, a.wrap(out[0]));
  list.Set(1u, a.wrap(out[1]));
  return list;
}

const OpEntry lossOps[] = {
    {"crossEntropy", crossEntropy},
    {"nllLoss", nllLoss},
    {"mseLoss", mseLoss},
    {"l1Loss", l1Loss},
    {"smoothL1Loss", smoothL1Loss},
    {"huberLoss", huberLoss},
    {"binaryCrossEntropy", binaryCrossEntropy},
    {"binaryCrossEntropyWithLogits", binaryCrossEntropyWithLogits},
    {"broadcastPair", broadcastPair},
};

}  // namespace

TB_REGISTER_OPS("losses", lossOps);

}  // namespace tb
