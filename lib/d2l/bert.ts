/**
 * d2l's BERT (d2l.ai, "Bidirectional Encoder Representations from Transformers" and "Natural
 * Language Inference: Fine-Tuning BERT", PyTorch tab) as native modules with d2l's parameter
 * names: `state_dict()` keys and shapes equal d2l's, so d2l's `pretrained.params` loads here and
 * a classifier fine-tuned here loads into d2l's PyTorch BERTClassifier.
 *
 * Shapes: tokens and segments are int64 [batch, seq]; validLens int64 (or float) [batch]
 * (or [batch, queries] for attention); hidden states [batch, seq, numHiddens].
 */
import { ops } from '../native';
import { Module, ModuleOptions } from '../nn/module';
import { Tensor } from '../core/tensor';
import { BERTConfig, DEFAULT_BERT_MAX_LEN, bertConfigProblem } from './bert-config';

export type { BERTConfig } from './bert-config';

// The config with maxLen's default, checked (bert-config's one check).
function checkConfig(config: BERTConfig): Required<BERTConfig> {
  const full = { maxLen: DEFAULT_BERT_MAX_LEN, ...config };
  const problem = bertConfigProblem(full);
  if (problem !== undefined) {
    const why = problem.why === undefined ? '' : ` (${problem.why})`;
    const message = `BERT: ${problem.field} must be ${problem.expected}, got ${String(problem.given)}${why}`;
    throw problem.kind === 'type' ? new TypeError(message) : new RangeError(message);
  }
  return full;
}

/** The kernels d2l's DotProductAttention can run on: see `attentionKernel`. */
export type AttentionKernel = 'explicit' | 'fused';

/**
 * The kernel of DotProductAttention (in every d2l block) for forwards on the JS thread; sets it
 * when `kernel` is given and returns the previous one. 'explicit' (default): d2l's bmm,
 * masked_softmax (masked scores set to -1e6), dropout and bmm. 'fused': libtorch 2.x's
 * `scaled_dot_product_attention` with a mask of the valid keys and dropout_p on the attention
 * weights: the same function (within float32 rounding; dropout draws libtorch's own noise), and
 * rows without any valid key fall back to the explicit kernel, where d2l weighs every key
 * equally. Throws on libtorch 1.x, which has no fused kernel. The Trainer has its own option.
 */
export function attentionKernel(kernel?: AttentionKernel): AttentionKernel {
  return ops.attentionKernel(kernel);
}

/** True where libtorch has `scaled_dot_product_attention` (2.x), so 'fused' can be chosen. */
export function fusedAttentionAvailable(): boolean {
  return ops.fusedAttentionAvailable();
}

/** Scaled dot-product attention with d2l's masked softmax (masked scores set to -1e6) and dropout on the weights. */
export class DotProductAttention extends Module {
  constructor(dropout: number) {
    super(ops.moduleDotProductAttention(dropout));
  }
  /** queries [b, q, d], keys [b, k, d], values [b, k, v], validLens [b] or [b, q] or null -> [b, q, v]. */
  override forward(queries: Tensor, keys: Tensor, values: Tensor, validLens?: Tensor | null): Tensor {
    return this.forwardNative([queries, keys, values, validLens]) as Tensor;
  }
}

/** d2l's MultiHeadAttention: W_q, W_k, W_v, W_o (bias optional), heads split and merged as transpose_qkv/transpose_output. */
export class MultiHeadAttention extends Module {
  constructor(numHiddens: number, numHeads: number, dropout: number, options: ModuleOptions & { bias?: boolean; querySize?: number } = {}) {
    if (numHiddens % numHeads !== 0) throw new RangeError(`MultiHeadAttention: numHiddens (${numHiddens}) must be divisible by numHeads (${numHeads})`);
    super(ops.moduleMultiHeadAttention(numHiddens, numHeads, dropout, options.bias ?? false, options.querySize ?? numHiddens));
    this.to(options);
  }
  /** queries/keys/values [b, n, querySize], validLens [b] or [b, q] or null -> [b, q, numHiddens]. */
  override forward(queries: Tensor, keys: Tensor, values: Tensor, validLens?: Tensor | null): Tensor {
    return this.forwardNative([queries, keys, values, validLens]) as Tensor;
  }
}

/** dense1 (inputs -> ffnNumHiddens), ReLU, dense2 (-> ffnNumOutputs). */
export class PositionWiseFFN extends Module {
  constructor(ffnNumHiddens: number, ffnNumOutputs: number, options: ModuleOptions & { inputs?: number } = {}) {
    super(ops.modulePositionWiseFFN(options.inputs ?? ffnNumOutputs, ffnNumHiddens, ffnNumOutputs));
    this.to(options);
  }
}

/** LayerNorm(dropout(Y) + X). */
export class AddNorm extends Module {
  constructor(normShape: number, dropout: number, options: ModuleOptions = {}) {
    super(ops.moduleAddNorm(normShape, dropout));
    this.to(options);
  }
  override forward(X: Tensor, Y: Tensor): Tensor {
    return this.forwardNative([X, Y]) as Tensor;
  }
}

/** attention, addnorm1, ffn, addnorm2: X [b, n, numHiddens] -> same shape. */
export class TransformerEncoderBlock extends Module {
  constructor(numHiddens: number, ffnNumHiddens: number, numHeads: number, dropout: number, options: ModuleOptions & { useBias?: boolean } = {}) {
    super(ops.moduleTransformerEncoderBlock(numHiddens, ffnNumHiddens, numHeads, dropout, options.useBias ?? false));
    this.to(options);
  }
  override forward(X: Tensor, validLens?: Tensor | null): Tensor {
    return this.forwardNative([X, validLens]) as Tensor;
  }
}

/** token_embedding + segment_embedding + pos_embedding ([1, maxLen, numHiddens]), then numBlks blocks. */
export class BERTEncoder extends Module {
  constructor(config: BERTConfig, options: ModuleOptions = {}) {
    super(ops.moduleBERTEncoder(checkConfig(config)));
    this.to(options);
  }
  /** tokens, segments [b, seq] int64; validLens [b] or null -> [b, seq, numHiddens]. */
  override forward(tokens: Tensor, segments: Tensor, validLens?: Tensor | null): Tensor {
    return this.forwardNative([tokens, segments, validLens]) as Tensor;
  }
}

/** Masked language model head: mlp (Linear, ReLU, LayerNorm, Linear to vocabSize) at the predicted positions. */
export class MaskLM extends Module {
  constructor(vocabSize: number, numHiddens: number, options: ModuleOptions = {}) {
    super(ops.moduleMaskLM(vocabSize, numHiddens));
    this.to(options);
  }
  /** X [b, seq, numHiddens], predPositions [b, p] int64 -> [b, p, vocabSize]. */
  override forward(X: Tensor, predPositions: Tensor): Tensor {
    return this.forwardNative([X, predPositions]) as Tensor;
  }
}

/** Next-sentence prediction head: output Linear(numInputs, 2). */
export class NextSentencePred extends Module {
  constructor(numInputs: number, options: ModuleOptions = {}) {
    super(ops.moduleNextSentencePred(numInputs));
    this.to(options);
  }
}

/** What BERTModel.forward returns. */
export interface BERTOutput {
  /** [b, seq, numHiddens] */
  encoded: Tensor;
  /** [b, p, vocabSize], or null without predPositions. */
  mlm: Tensor | null;
  /** [b, 2] */
  nsp: Tensor;
}

/** encoder, hidden (Linear + Tanh on the `<cls>` state), mlm, nsp. */
export class BERTModel extends Module {
  readonly config: Readonly<Required<BERTConfig>>;

  constructor(config: BERTConfig, options: ModuleOptions = {}) {
    const full = checkConfig(config);
    super(ops.moduleBERTModel(full));
    this.config = Object.freeze(full);
    this.to(options);
  }

  override forward(tokens: Tensor, segments: Tensor, validLens?: Tensor | null, predPositions?: Tensor | null): Tensor {
    const out = this.run(tokens, segments, validLens, predPositions);
    out.mlm?.dispose();
    out.nsp.dispose();
    return out.encoded;
  }

  /** d2l's forward: `(encoded_X, mlm_Y_hat, nsp_Y_hat)`. */
  run(tokens: Tensor, segments: Tensor, validLens?: Tensor | null, predPositions?: Tensor | null): BERTOutput {
    const [encoded, mlm, nsp] = this.forwardNative([tokens, segments, validLens, predPositions]) as (Tensor | null)[];
    return { encoded: encoded!, mlm, nsp: nsp! };
  }
}

/**
 * The section's classifier: bert's encoder and hidden layer (the same parameters: training the
 * classifier fine-tunes them) and a new output Linear(numHiddens, 3).
 */
export class BERTClassifier extends Module {
  readonly bert: BERTModel;

  constructor(bert: BERTModel) {
    super(ops.moduleBERTClassifier(bert.handle));
    this.bert = bert;
    // the new output layer joins bert on its device and dtype
    const [first] = bert.parameters();
    this.to({ device: first.device, dtype: first.dtype });
  }

  /** tokens, segments [b, seq] int64, validLens [b] -> logits [b, 3]. */
  override forward(tokens: Tensor, segments: Tensor, validLens: Tensor): Tensor {
    return this.forwardNative([tokens, segments, validLens]) as Tensor;
  }
}
