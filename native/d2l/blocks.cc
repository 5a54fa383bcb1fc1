// d2l's BERT blocks (see blocks.h), their module types and their constructors for JS.
#include "d2l/blocks.h"

#include <ATen/TracerMode.h>

#include "d2l/fused_add_norm.h"
#include "d2l/fused_attention.h"
#include "nn/attention.h"
#include "nn/block_kernels.h"
#include "nn/dropout.h"
#include "nn/module_types.h"
#include "nn/module_wrap.h"
#include "core/ops.h"

namespace tb {

namespace d2l {

namespace {
torch::nn::Linear linear(int64_t in, int64_t out, bool bias = true) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// nn.Linear's forward as PyTorch's Python runs it: at::linear, which folds the bias of a
// contiguous [batch, n, in] input into one addmm. (libtorch's C++ Linear::forward takes
// matmul and then adds the bias in place: two passes, and another kernel's rounding.)
at::Tensor applyLinear(const torch::nn::Linear& layer, const at::Tensor& input) { return at::linear(input, layer->weight, layer->bias); }

// An embedding lookup; with the fused block kernels in a training forward, its weight's gradient
// comes as sparse rows (nn/block_kernels.h).
at::Tensor applyEmbedding(torch::nn::Embedding& embedding, const at::Tensor& indices) {
  const bool rows = sparseRowGradients() && at::GradMode::is_enabled() && embedding->weight.requires_grad() &&
                    !at::tracer::impl::is_dispatch_enabled() && !embedding->options.padding_idx().has_value() &&
                    !embedding->options.scale_grad_by_freq() && !embedding->options.max_norm().has_value();
  if (!rows) return embedding->forward(indices);
  return at::embedding(embedding->weight, indices, /*padding_idx=*/-1, /*scale_grad_by_freq=*/false, /*sparse=*/true);
}
}  // namespace

at::Tensor maskedSoftmax(const at::Tensor& X, const at::Tensor& validLens) {
  if (!validLens.defined()) return at::softmax(X, -1);
  auto shape = X.sizes();
  at::Tensor lens = validLens.dim() == 1 ? at::repeat_interleave(validLens, shape[1]) : validLens.reshape(-1);
  at::Tensor flat = X.reshape({-1, shape.back()});
  // d2l's _sequence_mask: positions (as float32) compared with the valid lengths
  at::Tensor positions = at::arange(flat.size(1), X.options().dtype(at::kFloat));
  at::Tensor mask = positions.unsqueeze(0) < lens.unsqueeze(1);
  return at::softmax(flat.masked_fill(mask.logical_not(), -1e6).reshape(shape), -1);
}

void DotProductAttentionImpl::reset() { dropout = register_module("dropout", torch::nn::Dropout(p)); }

namespace {
// d2l's attention through at::scaled_dot_product_attention (see attention.h), or an undefined
// tensor where the explicit kernel must run (no fused kernel, or a row without valid keys).
at::Tensor fusedAttention(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& validLens,
                          double p, bool train) {
#if TB_FUSED_ATTENTION
  c10::optional<at::Tensor> mask;
  if (validLens.defined()) {
    if (validLens.le(0).any().item<bool>()) return {};
    // d2l's _sequence_mask: key positions (float32) below the row's valid length take part
    at::Tensor positions = at::arange(keys.size(1), keys.options().dtype(at::kFloat)).view({1, 1, -1});
    at::Tensor lens = validLens.dim() == 1 ? validLens.view({-1, 1, 1}) : validLens.unsqueeze(-1);
    mask = positions < lens;  // [batch, 1 or queries, keys]
  }
  return at::scaled_dot_product_attention(queries, keys, values, mask, train ? p : 0.0, /*is_causal=*/false);
#else
  (void)queries, (void)keys, (void)values, (void)validLens, (void)p, (void)train;
  return {};
#endif
}
}  // namespace

at::Tensor DotProductAttentionImpl::forward(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values,
                                            const at::Tensor& validLens) {
  if (currentAttentionKernel() == AttentionKernel::Fused) {
    at::Tensor out = fusedAttention(queries, keys, values, validLens, dropout->options.p(), dropout->is_training());
    if (out.defined()) return out;
  } else if (currentBlockKernels() == BlockKernels::Fused &&
             fusedAttentionApplies(queries, keys, values, validLens, dropout->options.p(), dropout->is_training())) {
    return fusedDotProductAttention(queries, keys, values, validLens, dropout->options.p(), dropout->is_training());
  }
  double d = static_cast<double>(queries.size(-1));
  at::Tensor scores = at::bmm(queries, keys.transpose(1, 2)) / std::sqrt(d);
  return at::bmm(tb::applyDropout(dropout, maskedSoftmax(scores, validLens)), values);
}

void MultiHeadAttentionImpl::reset() {
  TORCH_CHECK(numHiddens % numHeads == 0, "MultiHeadAttention: numHiddens (", numHiddens,
              ") must be divisible by numHeads (", numHeads, ")");
  attention = register_module("attention", DotProductAttention(p));
  W_q = register_module("W_q", linear(querySize, numHiddens, bias));
  W_k = register_module("W_k", linear(querySize, numHiddens, bias));
  W_v = register_module("W_v", linear(querySize, numHiddens, bias));
  W_o = register_module("W_o", linear(numHiddens, numHiddens, bias));
}

// [batch, n, hidden] -> [batch * heads, n, hidden / heads]
at::Tensor MultiHeadAttentionImpl::transposeQkv(const at::Tensor& X) const {
  at::Tensor Y = X.reshape({X.size(0), X.size(1), numHeads, -1}).permute({0, 2, 1, 3});
  return Y.reshape({-1, Y.size(2), Y.size(3)});
}

// [batch * heads, n, hidden / heads] -> [batch, n, hidden]
at::Tensor MultiHeadAttentionImpl::transposeOutput(const at::Tensor& X) const {
  at::Tensor Y = X.reshape({-1, numHeads, X.size(1), X.size(2)}).permute({0, 2, 1, 3});
  return Y.reshape({Y.size(0), Y.size(1), -1});
}

at::Tensor MultiHeadAttentionImpl::forward(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values,
                                           const at::Tensor& validLens) {
  at::Tensor q, k, v;
  // Self-attention (d2l's encoder blocks pass X three times) with the fused block kernels: one
  // product with W_q, W_k and W_v stacked into [3 hidden, in] (the parameters stay d2l's three;
  // the stacking is part of the graph, so each gets its rows of the gradient), and the heads read
  // in place from it unless PyTorch's fused attention (SDPA) runs.
  if (currentBlockKernels() == BlockKernels::Fused && queries.is_same(keys) && keys.is_same(values) &&
      !at::tracer::impl::is_dispatch_enabled()) {
    at::Tensor weight = at::cat({W_q->weight, W_k->weight, W_v->weight});
    at::Tensor biases = W_q->bias.defined() ? at::cat({W_q->bias, W_k->bias, W_v->bias}) : at::Tensor();
    at::Tensor qkv = at::linear(queries, weight, biases);
    const double p = attention->dropout->options.p();
    const bool train = attention->dropout->is_training();
    if (currentAttentionKernel() != AttentionKernel::Fused && fusedSelfAttentionApplies(qkv, validLens, numHeads, p, train)) {
      return applyLinear(W_o, fusedSelfAttention(qkv, validLens, numHeads, p, train));
    }
    std::vector<at::Tensor> parts = qkv.chunk(3, -1);
    q = transposeQkv(parts[0]), k = transposeQkv(parts[1]), v = transposeQkv(parts[2]);
  } else {
    q = transposeQkv(applyLinear(W_q, queries));
    k = transposeQkv(applyLinear(W_k, keys));
    v = transposeQkv(applyLinear(W_v, values));
  }
  at::Tensor lens = validLens.defined() ? at::repeat_interleave(validLens, numHeads, 0) : validLens;
  return applyLinear(W_o, transposeOutput(attention->forward(q, k, v, lens)));
}

void PositionWiseFFNImpl::reset() {
  dense1 = register_module("dense1", linear(inputs, ffnNumHiddens));
  relu = register_module("relu", torch::nn::ReLU());
  dense2 = register_module("dense2", linear(ffnNumHiddens, ffnNumOutputs));
}

at::Tensor PositionWiseFFNImpl::forward(const at::Tensor& X) { return applyLinear(dense2, relu->forward(applyLinear(dense1, X))); }

void AddNormImpl::reset() {
  dropout = register_module("dropout", torch::nn::Dropout(p));
  ln = register_module("ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({normShape})));
}

at::Tensor AddNormImpl::forward(const at::Tensor& X, const at::Tensor& Y) {
  if (currentBlockKernels() == BlockKernels::Fused && fusedAddNormApplies(X, Y, ln, dropout->options.p(), dropout->is_training())) {
    return fusedAddNorm(X, Y, ln, dropout->options.p(), dropout->is_training());
  }
  return ln->forward(tb::applyDropout(dropout, Y) + X);
}

void TransformerEncoderBlockImpl::reset() {
  attention = register_module("attention", MultiHeadAttention(numHiddens, numHeads, p, useBias, numHiddens));
  addnorm1 = register_module("addnorm1", AddNorm(numHiddens, p));
  ffn = register_module("ffn", PositionWiseFFN(numHiddens, ffnNumHiddens, numHiddens));
  addnorm2 = register_module("addnorm2", AddNorm(numHiddens, p));
}

at::Tensor TransformerEncoderBlockImpl::forward(const at::Tensor& X, const at::Tensor& validLens) {
  at::Tensor Y = addnorm1->forward(X, attention->forward(X, X, X, validLens));
  return addnorm2->forward(Y, ffn->forward(Y));
}

void BERTEncoderImpl::reset() {
  // Registration order gives d2l's state_dict order: pos_embedding (a parameter of this module)
  // first, then the children in the order d2l creates them.
  pos_embedding = register_parameter("pos_embedding", torch::randn({1, config.maxLen, config.numHiddens}));
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocabSize, config.numHiddens));
  segment_embedding = register_module("segment_embedding", torch::nn::Embedding(2, config.numHiddens));
  blks = register_module("blks", Sequential());
  for (int64_t i = 0; i < config.numBlks; ++i) {
    blks->push_back(torch::nn::AnyModule(
        TransformerEncoderBlock(config.numHiddens, config.ffnNumHiddens, config.numHeads, config.dropout, true)));
  }
}

at::Tensor BERTEncoderImpl::forward(const at::Tensor& tokens, const at::Tensor& segments, const at::Tensor& validLens) {
  TORCH_CHECK(tokens.dim() == 2, "BERTEncoder: tokens must be [batch, seq], got ", tokens.sizes());
  TORCH_CHECK(tokens.size(1) <= config.maxLen, "BERTEncoder: sequences of length ", tokens.size(1),
              " exceed the position table (maxLen ", config.maxLen, ")");
  at::Tensor X = applyEmbedding(token_embedding, tokens) + applyEmbedding(segment_embedding, segments);
  X = X + pos_embedding.narrow(1, 0, X.size(1));
  for (auto& blk : blks->items) X = blk.forward<at::Tensor>(X, validLens);
  return X;
}

void MaskLMImpl::reset() {
  mlp = register_module("mlp", Sequential());
  mlp->push_back(torch::nn::AnyModule(linear(numHiddens, numHiddens)));
  mlp->push_back(torch::nn::AnyModule(torch::nn::ReLU()));
  mlp->push_back(torch::nn::AnyModule(torch::nn::LayerNorm(torch::nn::LayerNormOptions({numHiddens}))));
  mlp->push_back(torch::nn::AnyModule(linear(numHiddens, vocabSize)));
}

at::Tensor MaskLMImpl::forward(const at::Tensor& X, const at::Tensor& predPositions) {
  int64_t numPredPositions = predPositions.size(1);
  int64_t batchSize = X.size(0);
  at::Tensor batchIdx = at::repeat_interleave(at::arange(0, batchSize, predPositions.options().dtype(at::kLong)), numPredPositions);
  at::Tensor maskedX = X.index({batchIdx, predPositions.reshape(-1)}).reshape({batchSize, numPredPositions, -1});
  return mlp->forward(maskedX);
}

void NextSentencePredImpl::reset() { output = register_module("output", linear(numInputs, 2)); }

at::Tensor NextSentencePredImpl::forward(const at::Tensor& X) { return output->forward(X); }

void BERTModelImpl::reset() {
  encoder = register_module("encoder", BERTEncoder(config));
  hidden = register_module("hidden", Sequential());
  hidden->push_back(torch::nn::AnyModule(linear(config.numHiddens, config.numHiddens)));
  hidden->push_back(torch::nn::AnyModule(torch::nn::Tanh()));
  mlm = register_module("mlm", MaskLM(config.vocabSize, config.numHiddens));
  nsp = register_module("nsp", NextSentencePred(config.numHiddens));
}

std::vector<at::Tensor> BERTModelImpl::forward(const at::Tensor& tokens, const at::Tensor& segments,
                                               const at::Tensor& validLens, const at::Tensor& predPositions) {
  at::Tensor encoded = encoder->forward(tokens, segments, validLens);
  at::Tensor mlmYHat = predPositions.defined() ? mlm->forward(encoded, predPositions) : at::Tensor();
  // 0 is the index of the '<cls>' token
  at::Tensor nspYHat = nsp->forward(hidden->forward(encoded.select(1, 0)));
  return {encoded, mlmYHat, nspYHat};
}

BERTClassifierImpl::BERTClassifierImpl(BERTEncoder encoder, Sequential hidden, int64_t numHiddens)
    : numHiddens(numHiddens), encoder(std::move(encoder)), hidden(std::move(hidden)) {
  register_module("encoder", this->encoder);
  register_module("hidden", this->hidden);
  output = register_module("output", linear(numHiddens, 3));
}

// Only used by clone(): rebuilds the structure (the clone then copies the parameters in).
void BERTClassifierImpl::reset() {
  encoder = register_module("encoder", BERTEncoder(encoder->config));
  hidden = register_module("hidden", Sequential());
  hidden->push_back(torch::nn::AnyModule(linear(numHiddens, numHiddens)));
  hidden->push_back(torch::nn::AnyModule(torch::nn::Tanh()));
  output = register_module("output", linear(numHiddens, 3));
}

at::Tensor BERTClassifierImpl::forward(const at::Tensor& tokens, const at::Tensor& segments, const at::Tensor& validLens) {
  at::Tensor encoded = encoder->forward(tokens, segments, validLens);
  return output->forward(hidden->forward(encoded.select(1, 0)));
}

}  // namespace d2l
}  // namespace tb

namespace tb {

namespace {

using namespace d2l;

// BERTModel and BERTEncoder options: {vocabSize, numHiddens, ffnNumHiddens, numHeads, numBlks, dropout, maxLen}.
BERTConfig bertConfig(const Args& a, size_t i) {
  if (!a[i].IsObject()) a.fail(i, "a BERT configuration object");
  Napi::Object o = a[i].As<Napi::Object>();
  auto field = [&](const char* key) -> double {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) throw ArgError(std::string("BERT configuration: ") + key + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  BERTConfig c{static_cast<int64_t>(field("vocabSize")), static_cast<int64_t>(field("numHiddens")),
               static_cast<int64_t>(field("ffnNumHiddens")), static_cast<int64_t>(field("numHeads")),
               static_cast<int64_t>(field("numBlks")), field("dropout"), static_cast<int64_t>(field("maxLen"))};
  if (c.numHiddens % c.numHeads != 0) {
    throw ArgError("BERT configuration: numHiddens (" + std::to_string(c.numHiddens) + ") must be divisible by numHeads (" +
                   std::to_string(c.numHeads) + ")");
  }
  return c;
}

const OpEntry d2lOps[] = {
    // attentionKernel(name?): the JS thread's kernel of DotProductAttention; sets it when given, returns the previous one
    {"attentionKernel",
     [](const Args& a) -> Napi::Value {
       AttentionKernel previous = currentAttentionKernel();
       if (a.has(0)) setAttentionKernel(attentionKernelNamed(a.string(0), "attention kernel"));
       return Napi::String::New(a.env(), previous == AttentionKernel::Fused ? "fused" : "explicit");
     }},
    {"fusedAttentionAvailable", [](const Args& a) -> Napi::Value { return Napi::Boolean::New(a.env(), kFusedAttentionAvailable); }},
    {"moduleDotProductAttention", [](const Args& a) { return wrapModule(a.env(), DotProductAttention(a.number(0))); }},
    {"moduleMultiHeadAttention",
     [](const Args& a) {
       return wrapModule(a.env(), MultiHeadAttention(a.integer(0), a.integer(1), a.number(2), a.boolean(3, false), a.integer(4)));
     }},
    {"modulePositionWiseFFN",
     [](const Args& a) { return wrapModule(a.env(), PositionWiseFFN(a.integer(0), a.integer(1), a.integer(2))); }},
    {"moduleAddNorm", [](const Args& a) { return wrapModule(a.env(), AddNorm(a.integer(0), a.number(1))); }},
    {"moduleTransformerEncoderBlock",
     [](const Args& a) {
       return wrapModule(a.env(), TransformerEncoderBlock(a.integer(0), a.integer(1), a.integer(2), a.number(3), a.boolean(4, false)));
     }},
    {"moduleBERTEncoder", [](const Args& a) { return wrapModule(a.env(), BERTEncoder(bertConfig(a, 0))); }},
    {"moduleMaskLM", [](const Args& a) { return wrapModule(a.env(), MaskLM(a.integer(0), a.integer(1))); }},
    {"moduleNextSentencePred", [](const Args& a) { return wrapModule(a.env(), NextSentencePred(a.integer(0))); }},
    {"moduleBERTModel", [](const Args& a) { return wrapModule(a.env(), BERTModel(bertConfig(a, 0))); }},
    // moduleBERTClassifier(bert): shares bert's encoder and hidden modules
    {"moduleBERTClassifier",
     [](const Args& a) {
       auto bert = std::dynamic_pointer_cast<BERTModelImpl>(a.module(0).modulePtr());
       if (!bert) throw ArgError("BERTClassifier: the argument must be a BERTModel");
       return wrapModule(a.env(), BERTClassifier(bert->encoder, bert->hidden, bert->config.numHiddens));
     }},
};

}  // namespace

TB_REGISTER_OPS("d2l", d2lOps);

// d2l's blocks print as their class name with no options, as in PyTorch.
TB_REGISTER_MODULE(d2l::DotProductAttentionImpl, "DotProductAttention");
TB_REGISTER_MODULE(d2l::MultiHeadAttentionImpl, "MultiHeadAttention");
TB_REGISTER_MODULE(d2l::PositionWiseFFNImpl, "PositionWiseFFN");
TB_REGISTER_MODULE(d2l::AddNormImpl, "AddNorm");
TB_REGISTER_MODULE(d2l::TransformerEncoderBlockImpl, "TransformerEncoderBlock");
TB_REGISTER_MODULE(d2l::BERTEncoderImpl, "BERTEncoder");
TB_REGISTER_MODULE(d2l::MaskLMImpl, "MaskLM");
TB_REGISTER_MODULE(d2l::NextSentencePredImpl, "NextSentencePred");
TB_REGISTER_MODULE(d2l::BERTModelImpl, "BERTModel");
TB_REGISTER_MODULE(d2l::BERTClassifierImpl, "BERTClassifier");

}  // namespace tb
