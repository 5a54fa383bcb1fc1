/**
 * nn.utils: gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_ (PyTorch
 * 1.13's algorithm, run natively in one call over every gradient).
 */
import { describe } from '../core/describe';
import { NativeTensor, ops } from '../native';
import { Tensor, optionsOf } from '../core/tensor';

/** Options of `clipGradNorm_`. */
export interface ClipGradNormOptions {
  /** The p of the p-norm: any number, Infinity for the largest |gradient element|; default 2. */
  normType?: number;
  /** Throw (leaving the gradients alone) when the total norm is NaN or infinite; default false (scale anyway). */
  errorIfNonfinite?: boolean;
}

// The handles of a Tensor or an iterable of Tensors (a module's parameters()).
function parameterHandles(parameters: Tensor | Iterable<Tensor>, what: string): NativeTensor[] {
  if (parameters instanceof Tensor) return [parameters.handle];
  if (typeof parameters !== 'object' || parameters === null || typeof (parameters as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function') {
    throw new TypeError(`${what}: parameters must be a Tensor or an iterable of Tensors (e.g. module.parameters()), got ${describe(parameters)}`);
  }
  return [...parameters].map((p, k) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${what}: parameter ${k} must be a Tensor, got ${describe(p)}`);
    return p.handle;
  });
}

function number(value: unknown, what: string, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${what}: ${name} must be a number, got ${describe(value)}`);
  return value;
}

/**
 * Scales the gradients of `parameters` in place so that their total norm (the `normType`-norm
 * of all of them together, as if concatenated) is at most `maxNorm`, and returns that total norm
 * from before the scaling (a 0-dim Tensor, on the first gradient's device; float32 0 when no
 * parameter has a gradient). PyTorch 1.13's clip_grad_norm_: the norm of each gradient, the norm
 * of their stack, then every gradient multiplied by min(1, maxNorm / (total + 1e-6)). Parameters
 * without a gradient are skipped.
 * @throws Error when `errorIfNonfinite` and the total norm is NaN or infinite (PyTorch's message)
 */
export function clipGradNorm_(parameters: Tensor | Iterable<Tensor>, maxNorm: number, options?: ClipGradNormOptions | null): Tensor {
  const o = optionsOf(options, 'clipGradNorm_');
  const handles = parameterHandles(parameters, 'clipGradNorm_');
  const normType = o.normType ?? 2;
  if (typeof normType !== 'number' || Number.isNaN(normType)) {
    throw new TypeError(`clipGradNorm_: normType must be a number (Infinity for the max norm), got ${describe(normType)}`);
  }
  const errorIfNonfinite = o.errorIfNonfinite ?? false;
  if (typeof errorIfNonfinite !== 'boolean') throw new TypeError(`clipGradNorm_: errorIfNonfinite must be a boolean, got ${describe(errorIfNonfinite)}`);
  return new Tensor(ops.clipGradNorm_(handles, number(maxNorm, 'clipGradNorm_', 'maxNorm'), normType, errorIfNonfinite));
}

/**
 * Clamps every gradient element of `parameters` to [-clipValue, clipValue] in place (PyTorch's
 * clip_grad_value_); parameters without a gradient are skipped.
 */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const handles = parameterHandles(parameters, 'clipGradValue_');
  ops.clipGradValue_(handles, number(clipValue, 'clipGradValue_', 'clipValue'));
}
