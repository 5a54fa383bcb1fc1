/**
 * Layers, each a native libtorch module initialised as PyTorch initialises it (same
 * distributions, same bounds, same random stream: after the same `manualSeed` a layer gets
 * PyTorch's very weights).
 */
import { describe } from '../core/describe';
import { ops } from '../native';
import { Tensor, intList, optionsOf } from '../core/tensor';
import { Module, ModuleOptions } from './module';

function positiveInt(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new TypeError(`${what} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** `y = x W^T + b`: input [..., inFeatures] -> [..., outFeatures]. Parameters `weight` [out, in], `bias` [out]. */
export class Linear extends Module {
  constructor(inFeatures: number, outFeatures: number, options?: ModuleOptions & { bias?: boolean } | null) {
    const o = optionsOf(options, 'Linear');
    super(ops.moduleLinear(positiveInt(inFeatures, 'Linear: inFeatures'), positiveInt(outFeatures, 'Linear: outFeatures'), o.bias ?? true, o.dtype));
    // parameters were created in the dtype natively; this moves them to the device
    placeOn(this, o.device);
  }
}

// Moves a new layer's parameters to `device`, when one is given.
function placeOn(module: Module, device: ModuleOptions['device']): void {
  if (device !== undefined && device !== null) module.to({ device });
}

/**
 * A Linear layer whose `inFeatures` is taken from the first input it sees (nn.LazyLinear). Its
 * parameters exist only after that first forward: run one before building an optimizer.
 */
export class LazyLinear extends Module {
  constructor(outFeatures: number, options?: ModuleOptions & { bias?: boolean } | null) {
    const o = optionsOf(options, 'LazyLinear');
    super(ops.moduleLazyLinear(positiveInt(outFeatures, 'LazyLinear: outFeatures'), o.bias ?? true, o.dtype));
    placeOn(this, o.device);
  }
}

/** A lookup table: int64 indices [...] -> [..., embeddingDim]. Parameter `weight` ~ N(0, 1). */
export class Embedding extends Module {
  constructor(numEmbeddings: number, embeddingDim: number, options?: ModuleOptions & { paddingIdx?: number } | null) {
    const o = optionsOf(options, 'Embedding');
    super(ops.moduleEmbedding(positiveInt(numEmbeddings, 'Embedding: numEmbeddings'), positiveInt(embeddingDim, 'Embedding: embeddingDim'), o.paddingIdx ?? undefined, o.dtype));
    placeOn(this, o.device);
  }
}

/** Layer normalisation over the trailing `normalizedShape` dims; `weight` = 1, `bias` = 0. */
export class LayerNorm extends Module {
  constructor(normalizedShape: number | readonly number[], options?: ModuleOptions & { eps?: number; elementwiseAffine?: boolean } | null) {
    const o = optionsOf(options, 'LayerNorm');
    const shape = intList(normalizedShape, 'LayerNorm', 'normalizedShape', { nonNegative: true, expected: 'a positive integer or an array of them' });
    shape.forEach((d) => positiveInt(d, 'LayerNorm: normalizedShape'));
    super(ops.moduleLayerNorm(shape, o.eps ?? 1e-5, o.elementwiseAffine ?? true, o.dtype));
    placeOn(this, o.device);
  }
}

/** Zeroes elements with probability `p` in training mode (scaling the rest by 1/(1-p)); identity in eval mode. */
export class Dropout extends Module {
  constructor(p = 0.5) {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be a number in [0, 1], got ${describe(p)}`);
    super(ops.moduleDropout(p));
  }
}

export class ReLU extends Module {
  constructor() {
    super(ops.moduleReLU());
  }
}

export class Tanh extends Module {
  constructor() {
    super(ops.moduleTanh());
  }
}

/** GELU, exact (default) or with the tanh approximation. */
export class GELU extends Module {
  constructor(approximate: 'none' | 'tanh' = 'none') {
    super(ops.moduleGELU(approximate));
  }
}

/** Applies its children in order; they are named '0', '1', ... as in PyTorch. */
export class Sequential extends Module {
  constructor(...layers: Module[]) {
    layers.forEach((layer, k) => {
      if (!(layer instanceof Module)) throw new TypeError(`Sequential: argument ${k + 1} is not a Module`);
    });
    super(ops.moduleSequential(layers.map((l) => l.handle)), new Map(layers.map((l, k): [string, Module] => [String(k), l])));
  }

  /** The k-th child. */
  at(k: number): Module {
    const child = this.children()[k < 0 ? this.children().length + k : k];
    if (child === undefined) throw new RangeError(`Sequential: no child ${k}`);
    return child;
  }

  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

// ---- convolution, pooling, normalisation and shape layers ---------------------------------

/** One size for every dim of a layer, or one per dim (PyTorch's int or tuple). */
export type LayerSize = number | readonly number[];

// A size as `dims` integers >= `min` (a bare number repeats), or a TypeError naming the argument.
function sizeList(value: unknown, dims: number, what: string, name: string, min: number): number[] {
  const expected = `an integer >= ${min} or an array of ${dims} of them`;
  const values = typeof value === 'number' ? new Array<number>(dims).fill(value) : value;
  if (!Array.isArray(values) || values.length !== dims) throw new TypeError(`${what}: ${name} must be ${expected}, got ${describe(value)}`);
  values.forEach((v: unknown, k) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new TypeError(`${what}: ${name} must be ${expected}; ${Array.isArray(value) ? `element ${k} is ` : 'got '}${describe(v)}`);
    }
  });
  return values as number[];
}

// A pooling size as it was given: PyTorch's repr prints a number as a number and a tuple as a tuple.
function poolSize(value: unknown, what: string, name: string, min: number): number | number[] {
  const values = sizeList(value, 2, what, name, min);
  return typeof value === 'number' ? values[0] : values;
}

function optionalBoolean(value: unknown, what: string, name: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${what}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function integer(value: unknown, what: string, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${what}: ${name} must be an integer, got ${describe(value)}`);
  return value;
}

// The arguments of a layer built either as (positional..., options) or from one options object.
function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a convolution pads its input: PyTorch's `padding_mode`. */
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
const PADDING_MODES: readonly PaddingMode[] = ['zeros', 'reflect', 'replicate', 'circular'];

/** The options of Conv1d and Conv2d, with PyTorch's defaults. Sizes are one number for every dim, or one per dim. */
export interface ConvOptions extends ModuleOptions {
  /** Default 1. */
  stride?: LayerSize;
  /**
   * Zeros (or `paddingMode` values) added on both sides of each dim: sizes (default 0), 'valid'
   * (none) or 'same' (the output as long as the input; stride 1 only; an odd total puts the extra
   * element on the right).
   */
  padding?: LayerSize | 'same' | 'valid';
  /** Spacing between kernel elements; default 1. */
  dilation?: LayerSize;
  /** Input and output channels split into this many groups (both must be divisible by it); default 1. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** Default 'zeros'. */
  paddingMode?: PaddingMode;
}

/** Every argument of a convolution as one options object (PyTorch's keyword arguments). */
export interface ConvArgs extends ConvOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: LayerSize;
}

// The native module of a Conv1d/Conv2d from its constructor's arguments, checked as PyTorch checks them.
function convModule(dims: 1 | 2, what: string, args: unknown[]): { handle: ReturnType<typeof ops.moduleConv1d>; device: ModuleOptions['device'] } {
  let o: Partial<ConvArgs>;
  if (isOptionsObject(args[0])) {
    if (args.length > 1) throw new TypeError(`${what}: given an options object first, it takes no further arguments`);
    o = args[0] as Partial<ConvArgs>;
  } else {
    o = { ...optionsOf(args[3] as ConvOptions | null | undefined, what), inChannels: args[0] as number, outChannels: args[1] as number, kernelSize: args[2] as LayerSize };
  }
  const inChannels = positiveInt(o.inChannels as number, `${what}: inChannels`);
  const outChannels = positiveInt(o.outChannels as number, `${what}: outChannels`);
  const kernelSize = sizeList(o.kernelSize, dims, what, 'kernelSize', 1);
  const stride = sizeList(o.stride ?? 1, dims, what, 'stride', 1);
  const dilation = sizeList(o.dilation ?? 1, dims, what, 'dilation', 1);
  const groups = positiveInt(o.groups ?? 1 as number, `${what}: groups`);
  if (inChannels % groups !== 0) throw new RangeError(`${what}: inChannels (${inChannels}) must be divisible by groups (${groups})`);
  if (outChannels % groups !== 0) throw new RangeError(`${what}: outChannels (${outChannels}) must be divisible by groups (${groups})`);
  let padding: number[] | 'same' | 'valid';
  if (typeof o.padding === 'string') {
    if (o.padding !== 'same' && o.padding !== 'valid') {
      throw new TypeError(`${what}: padding must be sizes, 'same' or 'valid', got ${describe(o.padding)}`);
    }
    if (o.padding === 'same' && stride.some((s) => s !== 1)) {
      throw new RangeError(`${what}: padding 'same' is not supported for strided convolutions (stride ${stride.join(', ')}); use stride 1 or numeric padding`);
    }
    padding = o.padding;
  } else {
    padding = sizeList(o.padding ?? 0, dims, what, 'padding', 0);
  }
  const paddingMode = o.paddingMode ?? 'zeros';
  if (!PADDING_MODES.includes(paddingMode)) {
    throw new TypeError(`${what}: paddingMode must be one of ${PADDING_MODES.map((m) => `'${m}'`).join(', ')}, got ${describe(paddingMode)}`);
  }
  const bias = optionalBoolean(o.bias, what, 'bias', true);
  const make = dims === 1 ? ops.moduleConv1d : ops.moduleConv2d;
  return { handle: make(inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias, paddingMode, o.dtype ?? undefined), device: o.device };
}

/**
 * A 1-D convolution (nn.Conv1d): input [N, inChannels, L] (or unbatched [inChannels, L]) ->
 * [N, outChannels, L_out]. Parameters `weight` [outChannels, inChannels / groups, kernelSize] and
 * `bias` [outChannels], both ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = inChannels / groups *
 * kernelSize, as PyTorch draws them. `new Conv1d(2, 4, 3, { padding: 1 })` or
 * `new Conv1d({ inChannels: 2, outChannels: 4, kernelSize: 3, padding: 1 })`.
 */
export class Conv1d extends Module {
  constructor(inChannels: number, outChannels: number, kernelSize: LayerSize, options?: ConvOptions | null);
  constructor(args: ConvArgs);
  constructor(...args: unknown[]) {
    const { handle, device } = convModule(1, 'Conv1d', args);
    super(handle);
    placeOn(this, device);
  }

  /** [N, inChannels, L] or [inChannels, L] -> [N, outChannels, L_out] or [outChannels, L_out]. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/**
 * A 2-D convolution (nn.Conv2d): input [N, inChannels, H, W] (or unbatched [inChannels, H, W]) ->
 * [N, outChannels, H_out, W_out]. Parameters `weight` [outChannels, inChannels / groups, kH, kW]
 * and `bias` [outChannels], both ~ U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn = inChannels /
 * groups * kH * kW, as PyTorch draws them. `new Conv2d(3, 8, 3, { padding: 1 })` or
 * `new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: [3, 3], padding: 'same' })`.
 */
export class Conv2d extends Module {
  constructor(inChannels: number, outChannels: number, kernelSize: LayerSize, options?: ConvOptions | null);
  constructor(args: ConvArgs);
  constructor(...args: unknown[]) {
    const { handle, device } = convModule(2, 'Conv2d', args);
    super(handle);
    placeOn(this, device);
  }

  /** [N, inChannels, H, W] or [inChannels, H, W] -> [N, outChannels, H_out, W_out] or [outChannels, H_out, W_out]. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** The options of MaxPool2d, with PyTorch's defaults; sizes are one number or [height, width]. */
export interface MaxPool2dOptions {
  /** Default: kernelSize. */
  stride?: LayerSize;
  /** Implicit -Infinity padding on both sides, at most half the kernel size; default 0. */
  padding?: LayerSize;
  /** Spacing between window elements; default 1. */
  dilation?: LayerSize;
  /** Round the output size up instead of down; default false. */
  ceilMode?: boolean;
}

/**
 * The maximum of each window (nn.MaxPool2d): [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out].
 * `new MaxPool2d(2)`, `new MaxPool2d([3, 2], { stride: 1 })` or `new MaxPool2d({ kernelSize: 2 })`.
 * Sizes print as given (`kernel_size=2` or `kernel_size=(2, 2)`), as PyTorch's repr.
 */
export class MaxPool2d extends Module {
  constructor(kernelSize: LayerSize, options?: MaxPool2dOptions | null);
  constructor(args: MaxPool2dOptions & { kernelSize: LayerSize });
  constructor(kernelSize: LayerSize | (MaxPool2dOptions & { kernelSize: LayerSize }), options?: MaxPool2dOptions | null) {
    const o = isOptionsObject(kernelSize) ? kernelSize : { ...optionsOf(options, 'MaxPool2d'), kernelSize };
    const stride = o.stride === undefined || o.stride === null ? undefined : poolSize(o.stride, 'MaxPool2d', 'stride', 1);
    super(ops.moduleMaxPool2d(poolSize(o.kernelSize, 'MaxPool2d', 'kernelSize', 1), stride, poolSize(o.padding ?? 0, 'MaxPool2d', 'padding', 0),
      poolSize(o.dilation ?? 1, 'MaxPool2d', 'dilation', 1), optionalBoolean(o.ceilMode, 'MaxPool2d', 'ceilMode', false)));
  }

  /** [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out] or [C, H_out, W_out]. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** The options of AvgPool2d, with PyTorch's defaults; sizes are one number or [height, width]. */
export interface AvgPool2dOptions {
  /** Default: kernelSize. */
  stride?: LayerSize;
  /** Implicit zero padding on both sides, at most half the kernel size; default 0. */
  padding?: LayerSize;
  /** Round the output size up instead of down; default false. */
  ceilMode?: boolean;
  /** Count the zero padding in the averages' denominators; default true. */
  countIncludePad?: boolean;
  /** Divide every sum by this (a non-zero integer) instead of the window size; default none. */
  divisorOverride?: number;
}

/**
 * The mean of each window (nn.AvgPool2d): [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out].
 * `new AvgPool2d(2)` or `new AvgPool2d({ kernelSize: 3, stride: 1, padding: 1, countIncludePad: false })`.
 */
export class AvgPool2d extends Module {
  constructor(kernelSize: LayerSize, options?: AvgPool2dOptions | null);
  constructor(args: AvgPool2dOptions & { kernelSize: LayerSize });
  constructor(kernelSize: LayerSize | (AvgPool2dOptions & { kernelSize: LayerSize }), options?: AvgPool2dOptions | null) {
    const o = isOptionsObject(kernelSize) ? kernelSize : { ...optionsOf(options, 'AvgPool2d'), kernelSize };
    const stride = o.stride === undefined || o.stride === null ? undefined : poolSize(o.stride, 'AvgPool2d', 'stride', 1);
    let divisor: number | undefined;
    if (o.divisorOverride !== undefined && o.divisorOverride !== null) {
      divisor = integer(o.divisorOverride, 'AvgPool2d', 'divisorOverride');
      if (divisor === 0) throw new RangeError('AvgPool2d: divisorOverride must not be 0; leave it out to divide by the window size');
    }
    super(ops.moduleAvgPool2d(poolSize(o.kernelSize, 'AvgPool2d', 'kernelSize', 1), stride, poolSize(o.padding ?? 0, 'AvgPool2d', 'padding', 0),
      optionalBoolean(o.ceilMode, 'AvgPool2d', 'ceilMode', false), optionalBoolean(o.countIncludePad, 'AvgPool2d', 'countIncludePad', true), divisor));
  }

  /** [N, C, H, W] or [C, H, W] -> [N, C, H_out, W_out] or [C, H_out, W_out]. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** The options of BatchNorm1d and BatchNorm2d, with PyTorch's defaults. */
export interface BatchNormOptions extends ModuleOptions {
  /** Added to the variance; default 1e-5. */
  eps?: number;
  /**
   * Weight of a batch's statistics in the running ones (running = (1 - momentum) * running +
   * momentum * batch); default 0.1. null averages every batch so far equally (PyTorch's None).
   */
  momentum?: number | null;
  /** Learn `weight` (1) and `bias` (0); default true. */
  affine?: boolean;
  /** Keep the buffers running_mean, running_var and num_batches_tracked, used in eval mode; default true. */
  trackRunningStats?: boolean;
}

function batchNormModule(what: string, dims: 1 | 2, numFeatures: unknown, options: unknown): { handle: ReturnType<typeof ops.moduleBatchNorm1d>; device: ModuleOptions['device'] } {
  let o: Partial<BatchNormOptions & { numFeatures: number }>;
  if (isOptionsObject(numFeatures)) {
    if (options !== undefined) throw new TypeError(`${what}: given an options object first, it takes no further arguments`);
    o = numFeatures;
  } else {
    o = { ...optionsOf(options as BatchNormOptions | null | undefined, what), numFeatures: numFeatures as number };
  }
  const eps = o.eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new TypeError(`${what}: eps must be a non-negative number, got ${describe(eps)}`);
  const momentum = o.momentum === undefined ? 0.1 : o.momentum;
  if (momentum !== null && (typeof momentum !== 'number' || !Number.isFinite(momentum))) {
    throw new TypeError(`${what}: momentum must be a number (or null for a cumulative average), got ${describe(momentum)}`);
  }
  const make = dims === 1 ? ops.moduleBatchNorm1d : ops.moduleBatchNorm2d;
  return {
    handle: make(positiveInt(o.numFeatures as number, `${what}: numFeatures`), eps, momentum, optionalBoolean(o.affine, what, 'affine', true),
      optionalBoolean(o.trackRunningStats, what, 'trackRunningStats', true), o.dtype ?? undefined),
    device: o.device,
  };
}

/**
 * Batch normalisation over [N, C] or [N, C, L] (nn.BatchNorm1d), per channel C = numFeatures.
 * Training mode normalises with the batch's mean and biased variance and updates the running
 * statistics with the unbiased one; eval mode normalises with the running statistics. Parameters
 * `weight` (1) and `bias` (0) when `affine`; buffers `running_mean` (0), `running_var` (1) and
 * `num_batches_tracked` (int64, 0) when `trackRunningStats`, in stateDict() under those names.
 */
export class BatchNorm1d extends Module {
  constructor(numFeatures: number, options?: BatchNormOptions | null);
  constructor(args: BatchNormOptions & { numFeatures: number });
  constructor(numFeatures: number | (BatchNormOptions & { numFeatures: number }), options?: BatchNormOptions | null) {
    const { handle, device } = batchNormModule('BatchNorm1d', 1, numFeatures, options);
    super(handle);
    placeOn(this, device);
  }

  /** [N, C] or [N, C, L] -> the same shape. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/**
 * Batch normalisation over [N, C, H, W] (nn.BatchNorm2d), per channel C = numFeatures; as
 * BatchNorm1d otherwise (parameters, buffers, training and eval modes).
 */
export class BatchNorm2d extends Module {
  constructor(numFeatures: number, options?: BatchNormOptions | null);
  constructor(args: BatchNormOptions & { numFeatures: number });
  constructor(numFeatures: number | (BatchNormOptions & { numFeatures: number }), options?: BatchNormOptions | null) {
    const { handle, device } = batchNormModule('BatchNorm2d', 2, numFeatures, options);
    super(handle);
    placeOn(this, device);
  }

  /** [N, C, H, W] -> the same shape. */
  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** The dims Flatten merges; PyTorch's defaults. */
export interface FlattenOptions {
  /** Default 1 (the batch dim stays). */
  startDim?: number;
  /** Default -1. */
  endDim?: number;
}

/** Merges dims startDim..endDim into one (nn.Flatten): [N, C, H, W] -> [N, C * H * W] by default. */
export class Flatten extends Module {
  constructor(startDim?: number | FlattenOptions | null, endDim?: number) {
    const o: FlattenOptions = isOptionsObject(startDim) ? startDim : { startDim: startDim ?? undefined, endDim };
    super(ops.moduleFlatten(integer(o.startDim ?? 1, 'Flatten', 'startDim'), integer(o.endDim ?? -1, 'Flatten', 'endDim')));
  }

  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** Returns its input (nn.Identity): a placeholder layer. */
export class Identity extends Module {
  constructor() {
    super(ops.moduleIdentity());
  }

  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/** 1 / (1 + exp(-x)), elementwise (nn.Sigmoid). */
export class Sigmoid extends Module {
  constructor() {
    super(ops.moduleSigmoid());
  }

  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

/**
 * Softmax along `dim` (nn.Softmax): the elements along it are positive and sum to 1. `dim` is
 * required: PyTorch's Softmax() without one picks a dim implicitly, which it deprecates.
 */
export class Softmax extends Module {
  constructor(dim: number | { dim: number }) {
    const d = isOptionsObject(dim) ? dim.dim : dim;
    if (d === undefined || d === null) {
      throw new TypeError('Softmax: dim is required (PyTorch deprecates choosing it implicitly): new nn.Softmax(1) or new nn.Softmax({ dim: 1 })');
    }
    super(ops.moduleSoftmax(integer(d, 'Softmax', 'dim')));
  }

  override forward(input: Tensor): Tensor {
    return super.forward(input);
  }
}

// ---- containers without forward ----------------------------------------------------------

function checkModule(value: unknown, what: string): Module {
  if (!(value instanceof Module)) throw new TypeError(`${what} must be a Module, got ${describe(value)}`);
  return value;
}

function iterableOf(value: unknown, what: string): Iterable<unknown> {
  if (typeof value !== 'object' || value === null || typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new TypeError(`${what} must be an iterable (e.g. an array) of Modules, got ${describe(value)}`);
  }
  return value as Iterable<unknown>;
}

/**
 * A list of modules (nn.ModuleList): children named '0', '1', ..., so that a ModuleList
 * registered as `layers` names its parameters `layers.0.weight`, ... as PyTorch does. It has no
 * forward: a Module subclass calls its entries in its own forward
 * (`for (const layer of this.layers) x = layer.forward(x)`). toString() prints PyTorch 1.13's repr,
 * one line per module (PyTorch 2.x folds runs of equal modules into `(0-2): 3 x Linear(...)`).
 */
export class ModuleList extends Module implements Iterable<Module> {
  constructor(modules?: Iterable<Module> | null) {
    super(undefined, new Map());
    if (modules !== undefined && modules !== null) this.extend(modules);
  }

  /** The number of modules. */
  get length(): number {
    return this.namedChildren().length;
  }

  /** The k-th module; negative k counts from the end. */
  at(k: number): Module {
    return this.children()[this.index(k, 'at')];
  }

  /** Replaces the k-th module (negative k counts from the end), as PyTorch's `list[k] = module`. */
  set(k: number, module: Module): this {
    this.registerModule(String(this.index(k, 'set')), checkModule(module, 'ModuleList.set: module'));
    return this;
  }

  /** Adds a module at the end. */
  append(module: Module): this {
    this.registerModule(String(this.length), checkModule(module, 'ModuleList.append: module'));
    return this;
  }

  /** Adds modules at the end, in order. */
  extend(modules: Iterable<Module>): this {
    const list = [...iterableOf(modules, 'ModuleList.extend: modules')];
    list.forEach((m, k) => checkModule(m, `ModuleList.extend: element ${k}`));
    for (const m of list) this.append(m as Module);
    return this;
  }

  /**
   * Inserts a module before position `index` (0 to length), renaming the ones after it as
   * PyTorch's insert does: each moves to the next name ('1' -> '2', ...).
   */
  insert(index: number, module: Module): this {
    checkModule(module, 'ModuleList.insert: module');
    const modules = this.children();
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > modules.length) {
      throw new RangeError(`ModuleList.insert: index must be an integer from 0 to ${modules.length} (the length), got ${describe(index)}`);
    }
    for (let k = modules.length; k > index; --k) this.registerModule(String(k), modules[k - 1]);
    this.registerModule(String(index), module);
    return this;
  }

  /** The modules, in order. */
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }

  /** A ModuleList has no forward (PyTorch's has none either): call its modules from your own. */
  override forward(..._inputs: Tensor[]): Tensor {
    throw new Error('ModuleList has no forward: call its modules from your own forward, e.g. for (const layer of this.layers) x = layer.forward(x)');
  }

  private index(k: number, what: string): number {
    const n = this.length;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < -n || k >= n) {
      throw new RangeError(`ModuleList.${what}: index ${describe(k)} is out of range for ${n} module${n === 1 ? '' : 's'}; use -${n} to ${n - 1}`);
    }
    return k < 0 ? k + n : k;
  }
}

// A ModuleDict key: a non-empty string without '.', as PyTorch's module names.
function moduleKey(key: unknown, what: string): string {
  if (typeof key !== 'string') throw new TypeError(`${what}: keys must be strings, got ${describe(key)}`);
  if (key === '') throw new TypeError(`${what}: a key must not be the empty string (PyTorch's module names cannot be)`);
  if (key.includes('.')) throw new TypeError(`${what}: the key "${key}" contains ".", which PyTorch's module names cannot; use another key`);
  return key;
}

/** What a ModuleDict is built from: a Map, an object, or [key, module] pairs, in their order. */
export type ModuleEntries = ReadonlyMap<string, Module> | Readonly<Record<string, Module>> | Iterable<readonly [string, Module]>;

function entriesOf(modules: ModuleEntries, what: string): [string, Module][] {
  let pairs: unknown[];
  if (modules instanceof Map) pairs = [...modules.entries()];
  else if (typeof (modules as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') pairs = [...(modules as Iterable<unknown>)];
  else if (typeof modules === 'object' && modules !== null) pairs = Object.entries(modules);
  else throw new TypeError(`${what}: expected a Map, an object or [key, module] pairs, got ${describe(modules)}`);
  return pairs.map((pair, k) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`${what}: entry ${k} must be a [key, module] pair, got ${describe(pair)}`);
    return [moduleKey(pair[0], what), checkModule(pair[1], `${what}: the module of "${String(pair[0])}"`)];
  });
}

/**
 * Modules by key (nn.ModuleDict), in insertion order: a ModuleDict registered as `heads` names
 * its parameters `heads.<key>.weight`, as PyTorch does. It has no forward. Built from a Map, an
 * object (JavaScript orders integer-like keys first) or [key, module] pairs; iterating it yields
 * the keys, as Python's. Keys are PyTorch's module names (non-empty, no '.'); names of ModuleDict's
 * Python attributes ('keys', 'training', ...), which PyTorch refuses, are accepted here.
 */
export class ModuleDict extends Module implements Iterable<string> {
  constructor(modules?: ModuleEntries | null) {
    super(undefined, new Map());
    if (modules !== undefined && modules !== null) this.update(modules);
  }

  /** The number of modules. */
  get length(): number {
    return this.namedChildren().length;
  }

  /** The module of `key`; an Error for a missing key (as PyTorch's KeyError). */
  get(key: string): Module {
    const found = this.namedChildren().find(([name]) => name === key);
    if (found === undefined) {
      throw new Error(`ModuleDict: no module "${String(key)}" (keys: ${this.keys().map((k) => `"${k}"`).join(', ') || 'none'}); check has(key) first`);
    }
    return found[1];
  }

  /** Sets the module of `key`; an existing key keeps its place. */
  set(key: string, module: Module): this {
    this.registerModule(moduleKey(key, 'ModuleDict.set'), checkModule(module, 'ModuleDict.set: module'));
    return this;
  }

  /** Whether `key` has a module. */
  has(key: string): boolean {
    return this.namedChildren().some(([name]) => name === key);
  }

  /** Sets every entry of `modules`, in order (PyTorch's update). */
  update(modules: ModuleEntries): this {
    for (const [key, module] of entriesOf(modules, 'ModuleDict')) this.registerModule(key, module);
    return this;
  }

  keys(): string[] {
    return this.namedChildren().map(([name]) => name);
  }

  values(): Module[] {
    return this.children();
  }

  entries(): [string, Module][] {
    return this.namedChildren();
  }

  /** The keys, in order (as iterating a Python dict). */
  [Symbol.iterator](): Iterator<string> {
    return this.keys()[Symbol.iterator]();
  }

  /** A ModuleDict has no forward (PyTorch's has none either): call its modules from your own. */
  override forward(..._inputs: Tensor[]): Tensor {
    throw new Error('ModuleDict has no forward: call its modules from your own forward, e.g. this.heads.get("out").forward(x)');
  }
}
