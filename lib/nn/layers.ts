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
