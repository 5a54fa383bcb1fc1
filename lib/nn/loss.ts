/**
 * Losses, equal to PyTorch's.
 */
import { describe } from '../core/describe';
import { ops } from '../native';
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
