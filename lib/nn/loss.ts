/**
 * Losses, equal to PyTorch's.
 */
import { describe } from '../core/describe';
import { torchSize } from '../core/format';
import { NativeTensor, ops } from '../native';
import { Tensor, optionsOf, tensorHandle } from '../core/tensor';

/** How per-example losses are combined: kept ([batch]), averaged or summed. */
export type Reduction = 'none' | 'mean' | 'sum';

export interface CrossEntropyOptions {
  /** Default 'mean'; 'none' returns one loss per example (d2l's `reduction='none'`). */
  reduction?: Reduction;
  /** Targets equal to this class index contribute nothing (and are left out of the mean). Default -100. */
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution by this amount, in [0, 1]. Default 0. */
  labelSmoothing?: number;
  /** A weight per class, shape [classes]. */
  weight?: Tensor;
}

/**
 * `F.cross_entropy`: logits [batch, classes] (or [batch, classes, d1, ...]) against class
 * indices (int64, [batch, ...]) or class probabilities (same shape as logits).
 */
export function crossEntropy(logits: Tensor, target: Tensor, options?: CrossEntropyOptions | null): Tensor {
  const o = optionsOf(options, 'crossEntropy');
  if (!(logits instanceof Tensor)) throw new TypeError(`crossEntropy: logits must be a Tensor, got ${describe(logits)}`);
  if (!(target instanceof Tensor)) throw new TypeError(`crossEntropy: target must be a Tensor, got ${describe(target)}`);
  const labelSmoothing = o.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  return new Tensor(ops.crossEntropy(logits.handle, target.handle, o.weight === undefined || o.weight === null ? undefined : tensorHandle(o.weight, 'crossEntropy', 'weight'), o.reduction ?? 'mean',
    o.ignoreIndex ?? -100, labelSmoothing));
}

/** `nn.CrossEntropyLoss`: `forward(logits, target)` is `crossEntropy(logits, target, options)`. */
export class CrossEntropyLoss {
  readonly options: Readonly<CrossEntropyOptions>;

  constructor(options?: CrossEntropyOptions | null) {
    this.options = { ...optionsOf(options, 'CrossEntropyLoss') };
  }

  forward(logits: Tensor, target: Tensor): Tensor {
    return crossEntropy(logits, target, this.options);
  }
}

/** Options of the regression losses (`mseLoss`, `l1Loss`). */
export interface RegressionLossOptions {
  /** Default 'mean' (over every element); 'none' keeps the elementwise losses. */
  reduction?: Reduction;
}

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.ndim === b.ndim && a.shape.every((d, k) => d === b.shape[k]);
}

function checkPair(what: string, input: unknown, target: unknown, floatTarget = true): asserts input is Tensor {
  if (!(input instanceof Tensor)) throw new TypeError(`${what}: input must be a Tensor, got ${describe(input)}`);
  if (!(target instanceof Tensor)) throw new TypeError(`${what}: target must be a Tensor, got ${describe(target)}`);
  // libtorch's own message for this is "Found dtype Long but expected Float"
  if (floatTarget && input.dtype !== target.dtype && (target.dtype === 'int64' || target.dtype === 'int32' || target.dtype === 'uint8' || target.dtype === 'bool')) {
    throw new TypeError(`${what}: target must be floating point like the input (${input.dtype}), got ${target.dtype}; ` +
      `convert it with target.to('${input.dtype}')`);
  }
}

// What F.mse_loss, F.l1_loss, F.smooth_l1_loss and F.huber_loss do with a target of another
// size: PyTorch's warning, then both broadcast to a common shape.
function broadcastWithWarning(what: string, input: Tensor, target: Tensor, run: (i: NativeTensor, t: NativeTensor) => NativeTensor): Tensor {
  if (sameShape(input, target)) return new Tensor(run(input.handle, target.handle));
  process.emitWarning(`${what}: Using a target size (${torchSize(target.shape)}) that is different to the input size (${torchSize(input.shape)}). ` +
    'This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.', 'UserWarning');
  const [i, t] = ops.broadcastPair(input.handle, target.handle);
  try {
    return new Tensor(run(i, t));
  } finally {
    i.dispose();
    t.dispose();
  }
}

function optionalTensor(value: Tensor | null | undefined, what: string, name: string): NativeTensor | undefined {
  return value === undefined || value === null ? undefined : tensorHandle(value, what, name);
}

/** `F.mse_loss`: `(input - target)^2`, elementwise, then reduced. input and target of the same shape (floating point). */
export function mseLoss(input: Tensor, target: Tensor, options?: RegressionLossOptions | null): Tensor {
  const o = optionsOf(options, 'mseLoss');
  checkPair('mseLoss', input, target);
  return broadcastWithWarning('mseLoss', input, target, (i, t) => ops.mseLoss(i, t, o.reduction ?? 'mean'));
}

/** `F.l1_loss`: `|input - target|`, elementwise, then reduced. */
export function l1Loss(input: Tensor, target: Tensor, options?: RegressionLossOptions | null): Tensor {
  const o = optionsOf(options, 'l1Loss');
  checkPair('l1Loss', input, target);
  return broadcastWithWarning('l1Loss', input, target, (i, t) => ops.l1Loss(i, t, o.reduction ?? 'mean'));
}

/** Options of `smoothL1Loss`. */
export interface SmoothL1LossOptions extends RegressionLossOptions {
  /** Where the loss turns from quadratic to linear; default 1.0, non-negative (0 gives the L1 loss). */
  beta?: number;
}

/**
 * `F.smooth_l1_loss`: `0.5 x^2 / beta` for `|x| < beta`, else `|x| - 0.5 beta`, with
 * `x = input - target` elementwise, then reduced.
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options?: SmoothL1LossOptions | null): Tensor {
  const o = optionsOf(options, 'smoothL1Loss');
  checkPair('smoothL1Loss', input, target);
  const beta = o.beta ?? 1.0;
  if (typeof beta !== 'number' || !(beta >= 0)) throw new RangeError(`smoothL1Loss: beta must be a non-negative number, got ${describe(beta)}`);
  return broadcastWithWarning('smoothL1Loss', input, target, (i, t) => ops.smoothL1Loss(i, t, o.reduction ?? 'mean', beta));
}

/** Options of `huberLoss`. */
export interface HuberLossOptions extends RegressionLossOptions {
  /** Where the loss turns from quadratic to linear; default 1.0, positive. */
  delta?: number;
}

/**
 * `F.huber_loss`: `0.5 x^2` for `|x| < delta`, else `delta (|x| - 0.5 delta)`, with
 * `x = input - target` elementwise, then reduced.
 */
export function huberLoss(input: Tensor, target: Tensor, options?: HuberLossOptions | null): Tensor {
  const o = optionsOf(options, 'huberLoss');
  checkPair('huberLoss', input, target);
  const delta = o.delta ?? 1.0;
  if (typeof delta !== 'number' || !(delta > 0)) throw new RangeError(`huberLoss: delta must be a positive number, got ${describe(delta)}`);
  return broadcastWithWarning('huberLoss', input, target, (i, t) => ops.huberLoss(i, t, o.reduction ?? 'mean', delta));
}

/** Options of `binaryCrossEntropy`. */
export interface BCELossOptions {
  /** Default 'mean' (over every element). */
  reduction?: Reduction;
  /** A rescaling weight per element, broadcastable to the input's shape. */
  weight?: Tensor | null;
}

/**
 * `F.binary_cross_entropy`: `-w (t log p + (1 - t) log(1 - p))` elementwise for probabilities
 * `p` in [0, 1] (e.g. after sigmoid) and targets `t` in [0, 1] of the same shape, then reduced.
 * Logs are clamped at -100, as PyTorch's. Prefer `binaryCrossEntropyWithLogits`, which is
 * numerically stable.
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options?: BCELossOptions | null): Tensor {
  const o = optionsOf(options, 'binaryCrossEntropy');
  checkPair('binaryCrossEntropy', input, target);
  if (!sameShape(input, target)) {
    throw new RangeError(`binaryCrossEntropy: Using a target size (${torchSize(target.shape)}) that is different to the input size (${torchSize(input.shape)}) ` +
      'is deprecated. Please ensure they have the same size.');
  }
  let weight = optionalTensor(o.weight, 'binaryCrossEntropy', 'weight');
  // as F.binary_cross_entropy: the weight expanded to the target's size
  const expanded = weight === undefined ? undefined : ops.expand(weight, broadcastShape(o.weight!.shape, target.shape, 'binaryCrossEntropy'));
  weight = expanded ?? weight;
  try {
    return new Tensor(ops.binaryCrossEntropy(input.handle, target.handle, weight, o.reduction ?? 'mean'));
  } finally {
    expanded?.dispose();
  }
}

// torch's _infer_size: the broadcast of two shapes, or PyTorch's error.
function broadcastShape(a: readonly number[], b: readonly number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; ++k) {
    const x = a[a.length - n + k] ?? 1;
    const y = b[b.length - n + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1) {
      throw new RangeError(`${what}: the size of the weight (${x}) must match the size of the target (${y}) at non-singleton dimension ${k}`);
    }
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /**
   * A weight of the positive examples per class, broadcastable against the input along its
   * last dimension (`[classes]`): > 1 raises recall, < 1 precision.
   */
  posWeight?: Tensor | null;
}

/**
 * `F.binary_cross_entropy_with_logits`: sigmoid and binary cross-entropy in one numerically
 * stable op, for logits and targets in [0, 1] of the same shape, then reduced.
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options?: BCEWithLogitsLossOptions | null): Tensor {
  const o = optionsOf(options, 'binaryCrossEntropyWithLogits');
  checkPair('binaryCrossEntropyWithLogits', input, target);
  if (!sameShape(input, target)) {
    throw new RangeError(`binaryCrossEntropyWithLogits: Target size (${torchSize(target.shape)}) must be the same as input size (${torchSize(input.shape)})`);
  }
  return new Tensor(ops.binaryCrossEntropyWithLogits(input.handle, target.handle, optionalTensor(o.weight, 'binaryCrossEntropyWithLogits', 'weight'),
    optionalTensor(o.posWeight, 'binaryCrossEntropyWithLogits', 'posWeight'), o.reduction ?? 'mean'));
}

/** Options of `nllLoss`. */
export interface NLLLossOptions {
  /** Default 'mean' (weighted by the targets' class weights, ignored targets left out). */
  reduction?: Reduction;
  /** Targets equal to this class index contribute nothing. Default -100. */
  ignoreIndex?: number;
  /** A weight per class, shape [classes]. */
  weight?: Tensor | null;
}

/**
 * `F.nll_loss`: the negative log-likelihood of class indices (int64, [batch] or [batch, d1, ...])
 * under log-probabilities [batch, classes] (or [batch, classes, d1, ...]; e.g. after logSoftmax(1)).
 */
export function nllLoss(input: Tensor, target: Tensor, options?: NLLLossOptions | null): Tensor {
  const o = optionsOf(options, 'nllLoss');
  checkPair('nllLoss', input, target, false);
  return new Tensor(ops.nllLoss(input.handle, target.handle, optionalTensor(o.weight, 'nllLoss', 'weight'), o.reduction ?? 'mean', o.ignoreIndex ?? -100));
}

/** `nn.MSELoss`: `forward(input, target)` is `mseLoss(input, target, options)`. */
export class MSELoss {
  readonly options: Readonly<RegressionLossOptions>;
  constructor(options?: RegressionLossOptions | null) {
    this.options = { ...optionsOf(options, 'MSELoss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.options);
  }
}

/** `nn.L1Loss`: `forward(input, target)` is `l1Loss(input, target, options)`. */
export class L1Loss {
  readonly options: Readonly<RegressionLossOptions>;
  constructor(options?: RegressionLossOptions | null) {
    this.options = { ...optionsOf(options, 'L1Loss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, this.options);
  }
}

/** `nn.SmoothL1Loss`: `forward(input, target)` is `smoothL1Loss(input, target, options)`. */
export class SmoothL1Loss {
  readonly options: Readonly<SmoothL1LossOptions>;
  constructor(options?: SmoothL1LossOptions | null) {
    this.options = { ...optionsOf(options, 'SmoothL1Loss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, this.options);
  }
}

/** `nn.HuberLoss`: `forward(input, target)` is `huberLoss(input, target, options)`. */
export class HuberLoss {
  readonly options: Readonly<HuberLossOptions>;
  constructor(options?: HuberLossOptions | null) {
    this.options = { ...optionsOf(options, 'HuberLoss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, this.options);
  }
}

/** `nn.BCELoss`: `forward(probs, target)` is `binaryCrossEntropy(probs, target, options)`. */
export class BCELoss {
  readonly options: Readonly<BCELossOptions>;
  constructor(options?: BCELossOptions | null) {
    this.options = { ...optionsOf(options, 'BCELoss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, this.options);
  }
}

/** `nn.BCEWithLogitsLoss`: `forward(logits, target)` is `binaryCrossEntropyWithLogits(logits, target, options)`. */
export class BCEWithLogitsLoss {
  readonly options: Readonly<BCEWithLogitsLossOptions>;
  constructor(options?: BCEWithLogitsLossOptions | null) {
    this.options = { ...optionsOf(options, 'BCEWithLogitsLoss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, this.options);
  }
}

/** `nn.NLLLoss`: `forward(logProbs, target)` is `nllLoss(logProbs, target, options)`. */
export class NLLLoss {
  readonly options: Readonly<NLLLossOptions>;
  constructor(options?: NLLLossOptions | null) {
    this.options = { ...optionsOf(options, 'NLLLoss') };
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, this.options);
  }
}
