// The Trainer's loss: one of PyTorch's losses (lib/nn/loss.ts), with its options, computed on
// each replica's piece of a batch. Every piece's loss is a sum; how the step reduces them
// follows the loss's reduction:
// - 'none' and 'sum': backward of the sum over the batch (d2l's l.sum().backward());
// - 'mean': backward of the whole batch's mean, as loss(net(X), y).backward() on one device:
//   each piece's sum is divided by the denominator of the whole batch (the element count; the
//   summed class weights of the non-ignored targets for class indices; rows x positions for
//   class probabilities), so the replicas' gradients add up to the mean's.
// Only included by trainer/trainer.cc.
#pragma once

#include "core/args.h"
#include "core/common.h"

namespace tb {

enum class LossKind { CrossEntropy, NLL, MSE, L1, SmoothL1, Huber, BCE, BCEWithLogits };

struct LossSpec {
  LossKind kind = LossKind::CrossEntropy;
  std::string name = "CrossEntropyLoss";
  int64_t reduction = at::Reduction::None;
  int64_t ignoreIndex = -100;
  double labelSmoothing = 0.0;
  double beta = 1.0;   // SmoothL1Loss
  double delta = 1.0;  // HuberLoss
  at::Tensor weight;     // class weights (CE, NLL) or element weights (BCE, BCEWithLogits); a copy
  at::Tensor posWeight;  // BCEWithLogits
  // Count argmax == label (d2l.accuracy): always (refused where it cannot be), never, or for
  // class-index labels [batch] only (the default).
  enum class Accuracy { Off, On, Auto } accuracy = Accuracy::Auto;

  // Targets that are class indices (int64) rather than values of the prediction's shape.
  bool classIndices(const at::Tensor& y) const {
    return kind == LossKind::NLL || (kind == LossKind::CrossEntropy && !at::isFloatingType(y.scalar_type()));
  }
};

inline LossKind lossKindNamed(const std::string& name) {
  static const std::pair<const char*, LossKind> kinds[] = {
      {"CrossEntropyLoss", LossKind::CrossEntropy}, {"NLLLoss", LossKind::NLL},        {"MSELoss", LossKind::MSE},
      {"L1Loss", LossKind::L1},                     {"SmoothL1Loss", LossKind::SmoothL1}, {"HuberLoss", LossKind::Huber},
      {"BCELoss", LossKind::BCE},                   {"BCEWithLogitsLoss", LossKind::BCEWithLogits},
  };
  for (const auto& [n, k] : kinds) {
    if (name == n) return k;
  }
  throw ArgError("Trainer: loss.kind '" + name + "' is not one of the losses the Trainer computes");
}

// {kind, reduction, ignoreIndex, labelSmoothing, beta, delta, weight, posWeight, accuracy}, as
// lib/trainer/trainer.ts passes it (checked there; the tensors are copied here, so that later
// changes to the user's tensors do not reach a running step).
inline LossSpec lossSpecFrom(Napi::Value value) {
  LossSpec spec;
  if (!value.IsObject()) return spec;
  Napi::Object o = value.As<Napi::Object>();
  if (o.Get("kind").IsString()) {
    spec.name = o.Get("kind").As<Napi::String>().Utf8Value();
    spec.kind = lossKindNamed(spec.name);
  }
  Napi::Value reduction = o.Get("reduction");
  if (reduction.IsString()) {
    std::string r = reduction.As<Napi::String>().Utf8Value();
    if (r == "none") spec.reduction = at::Reduction::None;
    else if (r == "sum") spec.reduction = at::Reduction::Sum;
    else if (r == "mean") spec.reduction = at::Reduction::Mean;
    else throw ArgError("Trainer: the loss's reduction must be 'none', 'mean' or 'sum', got '" + r + "'");
  }
  auto number = [&](const char* key, double& out) {
    if (o.Get(key).IsNumber()) out = o.Get(key).As<Napi::Number>().DoubleValue();
  };
  double ignore = -100;
  number("ignoreIndex", ignore);
  spec.ignoreIndex = static_cast<int64_t>(ignore);
  number("labelSmoothing", spec.labelSmoothing);
  number("beta", spec.beta);
  number("delta", spec.delta);
  auto tensor = [&](const char* key, at::Tensor& out) {
    Napi::Value v = o.Get(key);
    if (!v.IsUndefined() && !v.IsNull()) out = TensorWrap::Get(v, (std::string("Trainer: loss ") + key).c_str()).detach().clone();
  };
  tensor("weight", spec.weight);
  tensor("posWeight", spec.posWeight);
  if (o.Get("accuracy").IsBoolean()) spec.accuracy = o.Get("accuracy").As<Napi::Boolean>().Value() ? LossSpec::Accuracy::On : LossSpec::Accuracy::Off;
  return spec;
}

// The denominator of a 'mean' over the whole batch's targets, as PyTorch's loss computes it.
inline double meanDenominator(const LossSpec& spec, const at::Tensor& labels) {
  if (!spec.classIndices(labels)) {
    if (spec.kind == LossKind::CrossEntropy && labels.dim() >= 2) {
      return static_cast<double>(labels.numel() / std::max<int64_t>(labels.size(1), 1));  // rows x positions
    }
    return static_cast<double>(labels.numel());  // elementwise losses: the mean of every element
  }
  at::Tensor kept = labels.ne(spec.ignoreIndex);
  if (!spec.weight.defined()) return static_cast<double>(kept.sum().item<int64_t>());
  at::Tensor classes = labels.masked_select(kept);
  int64_t n = spec.weight.size(0);
  if (classes.numel() > 0 && (classes.min().item<int64_t>() < 0 || classes.max().item<int64_t>() >= n)) {
    int64_t bad = classes.masked_select(classes.lt(0) | classes.ge(n))[0].item<int64_t>();
    throw std::invalid_argument("Trainer: labels holds class " + std::to_string(bad) + " but the loss's weight has " + std::to_string(n) +
                                " classes (0 to " + std::to_string(n - 1) + "); fix the labels or the weight");
  }
  return spec.weight.to(at::kDouble).index_select(0, classes.to(spec.weight.device())).sum().item<double>();
}

// The ATen loss the spec names, with `sum` as its reduction (None or Sum).
inline at::Tensor lossOf(const LossSpec& spec, const at::Tensor& pred, const at::Tensor& y, const at::Tensor& weight,
                         const at::Tensor& posWeight, int64_t sum) {
  c10::optional<at::Tensor> w = weight.defined() ? c10::optional<at::Tensor>(weight) : c10::nullopt;
  switch (spec.kind) {
    case LossKind::CrossEntropy: return at::cross_entropy_loss(pred, y, w, sum, spec.ignoreIndex, spec.labelSmoothing);
    case LossKind::NLL: return at::nll_loss_nd(pred, y, w, sum, spec.ignoreIndex);
    case LossKind::MSE: return at::mse_loss(pred, y, sum);
    case LossKind::L1: return at::l1_loss(pred, y, sum);
    case LossKind::SmoothL1: return spec.beta == 0.0 ? at::l1_loss(pred, y, sum) : at::smooth_l1_loss(pred, y, sum, spec.beta);
    case LossKind::Huber: return at::huber_loss(pred, y, sum, spec.delta);
    case LossKind::BCE: return at::binary_cross_entropy(pred, y, w, sum);
    case LossKind::BCEWithLogits:
      return at::binary_cross_entropy_with_logits(pred, y, w, posWeight.defined() ? c10::optional<at::Tensor>(posWeight) : c10::nullopt,
                                                  sum);
  }
  throw std::logic_error("Trainer: unknown loss");
}

// The piece's loss summed: for reduction 'none' the per-element losses then .sum(), as d2l's
// l.sum() (bit for bit), otherwise the ATen function's own 'sum' (the function that
// torch.nn.functional calls; `weight` and `posWeight` are the spec's on the piece's device).
inline at::Tensor lossSum(const LossSpec& spec, const at::Tensor& pred, const at::Tensor& y, const at::Tensor& weight,
                          const at::Tensor& posWeight) {
  const int64_t sum = spec.reduction == at::Reduction::None ? at::Reduction::None : at::Reduction::Sum;
  at::Tensor l = lossOf(spec, pred, y, weight, posWeight, sum);
  return spec.reduction == at::Reduction::None ? l.sum() : l;
}

inline std::string shapeOf(const at::Tensor& t) { return "[" + c10::Join(", ", t.sizes()) + "]"; }

// Whether a piece's correct predictions are counted: class indices [rows] against scores
// [rows, classes] only, where d2l.accuracy means something.
inline bool countsAccuracy(const LossSpec& spec, const at::Tensor& pred, const at::Tensor& y) {
  if (spec.accuracy == LossSpec::Accuracy::Off) return false;
  const bool countable = spec.classIndices(y) && y.dim() == 1 && pred.dim() == 2;
  if (!countable && spec.accuracy == LossSpec::Accuracy::On) {
    throw std::invalid_argument("Trainer: the accuracy metric (options.accuracy: true) needs class indices [rows] against scores [rows, "
                                "classes], got labels " + shapeOf(y) + " (" + dtypeName(y.scalar_type()) + ") for predictions " +
                                shapeOf(pred) + "; leave options.accuracy unset or false");
  }
  return countable;
}

// The prediction a model returned for a piece, checked against its targets as the loss needs
// them, with errors that name the fix instead of libtorch's message or a silent broadcast.
inline void checkPrediction(const LossSpec& spec, const at::Tensor& pred, const at::Tensor& y) {
  if (spec.classIndices(y)) {
    const bool rows = pred.dim() == y.dim() + 1 && pred.size(0) == y.size(0) && pred.sizes().slice(2) == y.sizes().slice(1);
    if (!rows) {
      if (y.dim() == 2 && y.size(1) == 1 && pred.dim() == 2 && pred.size(0) == y.size(0)) {
        throw std::invalid_argument("Trainer: labels must be class indices of shape [rows] for scores " + shapeOf(pred) + ", got " + shapeOf(y) +
                                    "; drop the trailing dimension with labels.reshape([-1])");
      }
      if (y.dim() == 1) {
        throw std::invalid_argument("Trainer: the model returned shape " + shapeOf(pred) + " for " + std::to_string(y.size(0)) +
                                    " rows; the Trainer needs " + (spec.kind == LossKind::NLL ? "log-probabilities" : "logits") +
                                    " of shape [rows, classes] (one score per class)");
      }
      throw std::invalid_argument("Trainer: the model returned shape " + shapeOf(pred) + " for labels of shape " + shapeOf(y) + "; " +
                                  spec.name + " with class indices needs [rows, classes, d1, ...] for labels [rows, d1, ...]");
    }
    const int64_t classes = pred.size(1);
    if (spec.kind == LossKind::CrossEntropy && classes < 2) {
      throw std::invalid_argument("Trainer: the model returns " + std::to_string(classes) +
                                  " logit per row; CrossEntropyLoss needs one per class, at least 2 (end the model with "
                                  "Linear(hidden, numClasses))");
    }
    if (spec.weight.defined() && spec.weight.size(0) != classes) {
      throw std::invalid_argument("Trainer: the loss's weight has " + std::to_string(spec.weight.size(0)) + " classes but the model returns " +
                                  std::to_string(classes) + " scores per row");
    }
    at::Tensor bad = (y.lt(0) | y.ge(classes)).logical_and_(y.ne(spec.ignoreIndex));
    if (bad.any().item<bool>()) {
      int64_t label = y.masked_select(bad)[0].item<int64_t>();
      throw std::invalid_argument("Trainer: labels holds class " + std::to_string(label) + " but the model returns " +
                                  std::to_string(classes) + " " + (spec.kind == LossKind::NLL ? "scores" : "logits") +
                                  " per row (classes 0 to " + std::to_string(classes - 1) +
                                  "); fix the labels or the model's number of outputs");
    }
    return;
  }
  if (pred.sizes() != y.sizes()) {
    std::string hint = pred.dim() == y.dim() + 1 && pred.size(-1) == 1
                           ? " (the model ends with one output per row: give labels the shape " + shapeOf(pred) +
                                 " with labels.reshape([-1, 1]))"
                           : "";
    throw std::invalid_argument("Trainer: the model returned shape " + shapeOf(pred) + " but the labels have shape " + shapeOf(y) + "; " +
                                spec.name + " needs targets of the prediction's shape (PyTorch would broadcast them" +
                                (spec.kind == LossKind::BCE || spec.kind == LossKind::BCEWithLogits ? " or refuse" : "") + ")" +
                                hint);
  }
  if (pred.scalar_type() != y.scalar_type()) {
    throw std::invalid_argument(std::string("Trainer: the labels are ") + dtypeName(y.scalar_type()) + " but the model returns " +
                                dtypeName(pred.scalar_type()) + "; convert the labels with labels.to('" + dtypeName(pred.scalar_type()) +
                                "')");
  }
}

}  // namespace tb
