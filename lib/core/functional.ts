/**
 * Functions of several tensors, and function forms of common methods (`torch.cat`, `torch.where`, ...).
 */
import { describe } from './describe';
import { ops } from '../native';
import { Scalar, Tensor, optionsOf, tensorHandle } from './tensor';

function handles(tensors: readonly Tensor[], what: string) {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TypeError(`${what}: expected a non-empty array of Tensors`);
  return tensors.map((t, k) => {
    if (!(t instanceof Tensor)) throw new TypeError(`${what}: element ${k} is not a Tensor`);
    return t.handle;
  });
}

// A Tensor argument of a function form of a method, checked before the method is called on it.
function tensorArg(value: Tensor, what: string, argument: string): Tensor {
  tensorHandle(value, what, argument);
  return value;
}

/** Concatenates along an existing dim (default 0). */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(ops.cat(handles(tensors, 'cat'), dim));
}
/** Stacks along a new dim (default 0). */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return new Tensor(ops.stack(handles(tensors, 'stack'), dim));
}
/** `x` where `condition` (bool) is true, `y` elsewhere; broadcasting. */
export function where(condition: Tensor, x: Tensor | Scalar, y: Tensor | Scalar): Tensor {
  const operand = (v: Tensor | Scalar, argument: string) => {
    if (v instanceof Tensor) return v.handle;
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v;
    throw new TypeError(`where: ${argument} must be a Tensor or a number, got ${describe(v)}`);
  };
  return new Tensor(ops.where(tensorHandle(condition, 'where', 'condition'), operand(x, 'x'), operand(y, 'y')));
}
/** `input @ weight^T + bias`: input [..., in], weight [out, in], bias [out]. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const b = bias === undefined || bias === null ? undefined : tensorHandle(bias, 'linear', 'bias');
  return new Tensor(ops.linear(tensorHandle(input, 'linear', 'input'), tensorHandle(weight, 'linear', 'weight'), b));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return tensorArg(a, 'matmul', 'a').matmul(b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  return tensorArg(a, 'bmm', 'a').bmm(b);
}
export function relu(x: Tensor): Tensor {
  return tensorArg(x, 'relu', 'x').relu();
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return tensorArg(x, 'gelu', 'x').gelu(approximate);
}
export function tanh(x: Tensor): Tensor {
  return tensorArg(x, 'tanh', 'x').tanh();
}
export function sigmoid(x: Tensor): Tensor {
  return tensorArg(x, 'sigmoid', 'x').sigmoid();
}
export function softmax(x: Tensor, dim: number): Tensor {
  return tensorArg(x, 'softmax', 'x').softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return tensorArg(x, 'logSoftmax', 'x').logSoftmax(dim);
}

/**
 * `torch.nn.functional.dropout`: with `training` (default true), each element is zeroed with
 * probability `p` and the others scaled by 1 / (1 - p); without it, `x` itself. `rng` picks the
 * random stream: 'pytorch' (default) draws PyTorch's CPU generator as PyTorch does (the same
 * mask after the same `manualSeed`); 'philox' fills the mask in parallel from a counter-based
 * generator seeded by one draw of it (what the Trainer uses by default; float32/float64 CPU
 * tensors, others fall back to 'pytorch').
 */
export function dropout(x: Tensor, p = 0.5, options?: { training?: boolean; rng?: 'pytorch' | 'philox' } | null): Tensor {
  const o = optionsOf(options, 'dropout');
  if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return new Tensor(ops.dropout(tensorHandle(x, 'dropout', 'x'), p, o.training ?? true, o.rng ?? 'pytorch'));
}
