// d2l's BERT building blocks (d2l.ai, PyTorch tab, chapters 11 and 15-16) as Cloneable libtorch
// modules, with d2l's submodule and parameter names so that state dicts match d2l's exactly.
// d2l creates most Linear layers lazily; here their input sizes are known up front, which gives
// the same parameters (and the same initialisation) without a warm-up forward.
#pragma once

#include "nn/layers.h"

namespace tb::d2l {

// d2l.masked_softmax: softmax over the last axis of X [batch, queries, keys], with the scores at
// key positions >= valid_len set to -1e6 first. validLens: undefined, [batch] or [batch, queries].
at::Tensor maskedSoftmax(const at::Tensor& X, const at::Tensor& validLens);

struct DotProductAttentionImpl : torch::nn::Cloneable<DotProductAttentionImpl> {
  explicit DotProductAttentionImpl(double dropout) : p(dropout) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& validLens);

  double p;
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(DotProductAttention);

struct MultiHeadAttentionImpl : torch::nn::Cloneable<MultiHeadAttentionImpl> {
  MultiHeadAttentionImpl(int64_t numHiddens, int64_t numHeads, double dropout, bool bias, int64_t querySize)
      : numHiddens(numHiddens), numHeads(numHeads), p(dropout), bias(bias), querySize(querySize) {
    reset();
  }
  void reset() override;
  at::Tensor forward(const at::Tensor& queries, const at::Tensor& keys, const at::Tensor& values, const at::Tensor& validLens);
  at::Tensor transposeQkv(const at::Tensor& X) const;
  at::Tensor transposeOutput(const at::Tensor& X) const;

  int64_t numHiddens, numHeads;
  double p;
  bool bias;
  int64_t querySize;
  DotProductAttention attention{nullptr};
  torch::nn::Linear W_q{nullptr}, W_k{nullptr}, W_v{nullptr}, W_o{nullptr};
};
TORCH_MODULE(MultiHeadAttention);

struct PositionWiseFFNImpl : torch::nn::Cloneable<PositionWiseFFNImpl> {
  PositionWiseFFNImpl(int64_t inputs, int64_t ffnNumHiddens, int64_t ffnNumOutputs)
      : inputs(inputs), ffnNumHiddens(ffnNumHiddens), ffnNumOutputs(ffnNumOutputs) {
    reset();
  }
  void reset() override;
  at::Tensor forward(const at::Tensor& X);

  int64_t inputs, ffnNumHiddens, ffnNumOutputs;
  torch::nn::Linear dense1{nullptr}, dense2{nullptr};
  torch::nn::ReLU relu{nullptr};
};
TORCH_MODULE(PositionWiseFFN);

struct AddNormImpl : torch::nn::Cloneable<AddNormImpl> {
  AddNormImpl(int64_t normShape, double dropout) : normShape(normShape), p(dropout) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& X, const at::Tensor& Y);

  int64_t normShape;
  double p;
  torch::nn::Dropout dropout{nullptr};
  torch::nn::LayerNorm ln{nullptr};
};
TORCH_MODULE(AddNorm);

struct TransformerEncoderBlockImpl : torch::nn::Cloneable<TransformerEncoderBlockImpl> {
  TransformerEncoderBlockImpl(int64_t numHiddens, int64_t ffnNumHiddens, int64_t numHeads, double dropout, bool useBias)
      : numHiddens(numHiddens), ffnNumHiddens(ffnNumHiddens), numHeads(numHeads), p(dropout), useBias(useBias) {
    reset();
  }
  void reset() override;
  at::Tensor forward(const at::Tensor& X, const at::Tensor& validLens);

  int64_t numHiddens, ffnNumHiddens, numHeads;
  double p;
  bool useBias;
  MultiHeadAttention attention{nullptr};
  AddNorm addnorm1{nullptr}, addnorm2{nullptr};
  PositionWiseFFN ffn{nullptr};
};
TORCH_MODULE(TransformerEncoderBlock);

struct BERTConfig {
  int64_t vocabSize, numHiddens, ffnNumHiddens, numHeads, numBlks;
  double dropout;
  int64_t maxLen;
};

struct BERTEncoderImpl : torch::nn::Cloneable<BERTEncoderImpl> {
  explicit BERTEncoderImpl(BERTConfig config) : config(config) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& segments, const at::Tensor& validLens);

  BERTConfig config;
  at::Tensor pos_embedding;
  torch::nn::Embedding token_embedding{nullptr}, segment_embedding{nullptr};
  Sequential blks{nullptr};  // d2l's nn.Sequential of TransformerEncoderBlocks (called with two inputs)
};
TORCH_MODULE(BERTEncoder);

struct MaskLMImpl : torch::nn::Cloneable<MaskLMImpl> {
  MaskLMImpl(int64_t vocabSize, int64_t numHiddens) : vocabSize(vocabSize), numHiddens(numHiddens) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& X, const at::Tensor& predPositions);

  int64_t vocabSize, numHiddens;
  Sequential mlp{nullptr};
};
TORCH_MODULE(MaskLM);

struct NextSentencePredImpl : torch::nn::Cloneable<NextSentencePredImpl> {
  explicit NextSentencePredImpl(int64_t numInputs) : numInputs(numInputs) { reset(); }
  void reset() override;
  at::Tensor forward(const at::Tensor& X);

  int64_t numInputs;
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(NextSentencePred);

// forward returns {encoded [batch, seq, hidden], mlm [batch, preds, vocab] or undefined when
// predPositions is undefined, nsp [batch, 2]}.
struct BERTModelImpl : torch::nn::Cloneable<BERTModelImpl> {
  explicit BERTModelImpl(BERTConfig config) : config(config) { reset(); }
  void reset() override;
  std::vector<at::Tensor> forward(const at::Tensor& tokens, const at::Tensor& segments, const at::Tensor& validLens,
                                  const at::Tensor& predPositions);

  BERTConfig config;
  BERTEncoder encoder{nullptr};
  Sequential hidden{nullptr};
  MaskLM mlm{nullptr};
  NextSentencePred nsp{nullptr};
};
TORCH_MODULE(BERTModel);

// The section's classifier: bert's encoder and hidden layer (the same modules, so that training
// the classifier fine-tunes them) and a new output layer of 3 classes. forward -> logits [batch, 3].
struct BERTClassifierImpl : torch::nn::Cloneable<BERTClassifierImpl> {
  BERTClassifierImpl(BERTEncoder encoder, Sequential hidden, int64_t numHiddens);
  void reset() override;
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& segments, const at::Tensor& validLens);

  int64_t numHiddens;
  BERTEncoder encoder;
  Sequential hidden;
  torch::nn::Linear output{nullptr};
};
TORCH_MODULE(BERTClassifier);

}  // namespace tb::d2l
