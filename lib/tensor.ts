/**
 * The Tensor class: a typed view of one libtorch tensor. Every op returns a new Tensor (in-place
 * ops, named with a trailing underscore, return the receiver). Shapes are arrays of numbers,
 * dims may be negative (counted from the end), and binary ops broadcast and promote types as
 * PyTorch does. A JS number that is an integer acts as a Python int (it keeps integer tensors
 * integral); other numbers act as Python floats.
 */
import { inspect } from 'util';

import { formatTensor } from './format';
import { NativeIndex, NativeOperand, NativeTensor, ops } from './native';
import { Disposable, track } from './scope';
import { DType, Device, Shape } from './types';

/** A scalar operand: combined with a tensor as PyTorch combines a Python number. */
export type Scalar = number | boolean | bigint;

/** A slice of one dimension, as Python's `start:stop:step` (absent fields are open). */
export interface Slice {
  readonly start?: number;
  readonly stop?: number;
  readonly step?: number;
}

/** Python's `start:stop:step`; `slice()` is `:`. */
export function slice(start?: number | null, stop?: number | null, step?: number | null): Slice {
  return { start: start ?? undefined, stop: stop ?? undefined, step: step ?? undefined };
}

/**
 * One index of `Tensor.index()`: an integer (selects and removes the dim), `':'` or a `Slice`,
 * `null` (a new axis of size 1), `'...'` (as many `:` as needed), a boolean, or an int64 or
 * bool Tensor (advanced indexing, as `X[batch_idx, positions]`).
 */
export type Index = number | Slice | ':' | '...' | null | boolean | Tensor;

/** Elements in row-major order, in the typed array that matches the dtype. */
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** Nested arrays of numbers (or booleans for bool tensors), as `Tensor.toArray()` returns. */
export type NestedArray = number | boolean | NestedArray[];

function operand(value: Tensor | Scalar, what: string): NativeOperand {
  if (value instanceof Tensor) return value.handle;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  throw new TypeError(`${what}: expected a Tensor or a number, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

function dims(value: number | readonly number[] | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' ? [value] : [...value];
}

// The dims a reduction runs over: all of them, listed, when keepdim must keep them.
function reducedDims(t: Tensor, dim: number | readonly number[] | undefined, keepdim: boolean | undefined): number[] | undefined {
  if (dim === undefined && keepdim) return Array.from({ length: t.ndim }, (_, k) => k);
  return dims(dim);
}

function nativeIndex(index: Index, position: number): NativeIndex {
  if (index instanceof Tensor) return index.handle;
  if (index === ':') return {};
  if (index === null || index === '...' || typeof index === 'number' || typeof index === 'boolean') return index;
  if (typeof index === 'object') return { start: index.start, stop: index.stop, step: index.step };
  throw new TypeError(`index: position ${position} must be an integer, ':', '...', null, a boolean, a slice or a Tensor`);
}

function nest(flat: ArrayLike<number | boolean>, shape: readonly number[], offset: number, depth: number): NestedArray {
  if (depth === shape.length) return flat[offset];
  const size = shape[depth];
  let stride = 1;
  for (let k = depth + 1; k < shape.length; ++k) stride *= shape[k];
  const out: NestedArray[] = new Array(size);
  for (let k = 0; k < size; ++k) out[k] = nest(flat, shape, offset + k * stride, depth + 1);
  return out;
}

export class Tensor implements Disposable {
  private _handle: NativeTensor | undefined;
  private _grad: Tensor | undefined;

  /** Wraps a native handle; new tensors come from factory functions and ops. @internal */
  constructor(handle: NativeTensor, tracked = true) {
    this._handle = handle;
    if (tracked) track(this);
  }

  /** The native handle. @internal */
  get handle(): NativeTensor {
    if (this._handle === undefined) {
      throw new Error('This tensor was disposed: it was released by dispose() or by the tidy() scope that created it. ' +
        'Return it from the scope or keep() it to use it afterwards.');
    }
    return this._handle;
  }

  // ---- memory ---------------------------------------------------------------------------

  /** Releases the tensor's memory now (its gradient handle too). Idempotent. */
  dispose(): void {
    this._grad?.dispose();
    this._grad = undefined;
    this._handle?.dispose();
    this._handle = undefined;
  }

  /** `using t = ...` disposes the tensor at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True once `dispose()` ran (directly or through a `tidy()` scope). */
  get isDisposed(): boolean {
    return this._handle === undefined;
  }

  // ---- metadata -------------------------------------------------------------------------

  /** The size of each dimension; `[]` for a 0-dim (scalar) tensor. */
  get shape(): number[] {
    return ops.shape(this.handle);
  }
  /** The element type. */
  get dtype(): DType {
    return ops.dtype(this.handle) as DType;
  }
  /** Where the tensor lives: 'cpu' or 'cuda:N'. */
  get device(): Device {
    return ops.device(this.handle) as Device;
  }
  /** The number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** The number of elements. */
  get numel(): number {
    return this.shape.reduce((n, d) => n * d, 1);
  }
  /** Same as `shape[dim]`, with negative dims counted from the end. */
  size(dim: number): number {
    const shape = this.shape;
    const d = dim < 0 ? dim + shape.length : dim;
    if (!Number.isInteger(d) || d < 0 || d >= shape.length) {
      throw new RangeError(`size(${dim}): dimension out of range for a ${shape.length}-dim tensor`);
    }
    return shape[d];
  }
  /** Element strides of each dimension. */
  get strides(): number[] {
    return ops.strides(this.handle);
  }
  /** Offset (in elements) of the first element within the underlying storage. */
  get storageOffset(): number {
    return ops.storageOffset(this.handle);
  }
  /** True when elements are laid out densely in row-major order. */
  isContiguous(): boolean {
    return ops.isContiguous(this.handle);
  }

  // ---- reading --------------------------------------------------------------------------

  /** The value of a one-element tensor (number, or boolean for bool tensors). */
  item(): number | boolean {
    return ops.item(this.handle);
  }
  /** A copy of the elements in row-major order (float16/bfloat16 -> Float32Array, bool -> Uint8Array, int64 -> BigInt64Array). */
  data(): TensorData {
    return ops.toTypedArray(this.handle);
  }
  /** The elements as nested arrays (numbers; booleans for bool tensors; a bare value for 0-dim tensors). */
  toArray(): NestedArray {
    const raw = this.data();
    const dtype = this.dtype;
    let flat: ArrayLike<number | boolean>;
    if (raw instanceof BigInt64Array) flat = Array.from(raw, Number);
    else if (dtype === 'bool') flat = Array.from(raw, (v) => v !== 0);
    else flat = raw;
    return nest(flat, this.shape, 0, 0);
  }
  /** PyTorch's repr, e.g. `tensor([1., 2.], requires_grad=True)`. */
  toString(): string {
    return formatTensor(this.data(), this.shape, this.dtype, {
      device: this.device,
      requiresGrad: this.requiresGrad,
      gradFn: this.gradFn,
    });
  }
  [inspect.custom](): string {
    return this.isDisposed ? 'Tensor <disposed>' : this.toString();
  }

  // ---- autograd -------------------------------------------------------------------------

  /** Whether operations on this tensor are recorded for autograd. */
  get requiresGrad(): boolean {
    return ops.requiresGrad(this.handle);
  }
  /** Sets `requiresGrad` in place (leaf tensors only) and returns this tensor. */
  requiresGrad_(requiresGrad = true): this {
    ops.setRequiresGrad(this.handle, requiresGrad);
    return this;
  }
  /** True for tensors not produced by a recorded operation (their `grad` is filled by backward). */
  get isLeaf(): boolean {
    return ops.isLeaf(this.handle);
  }
  /** The name of the autograd node that produced this tensor (e.g. 'AddBackward0'), or null. */
  get gradFn(): string | null {
    return ops.gradFn(this.handle);
  }
  /**
   * The accumulated gradient, or undefined. The returned Tensor belongs to this tensor: it is
   * the same object while the gradient is the same, is not released by tidy() scopes, and is
   * disposed with this tensor.
   */
  get grad(): Tensor | undefined {
    const h = this.handle;
    if (this._grad !== undefined && !this._grad.isDisposed && ops.gradIs(h, this._grad.handle)) return this._grad;
    if (this._grad === undefined && ops.gradIs(h, undefined)) return undefined;
    this._grad?.dispose();
    const g = ops.grad(h);
    this._grad = g === undefined ? undefined : new Tensor(g, false);
    return this._grad;
  }
  /** Drops the gradient (as `x.grad = None`). */
  clearGrad(): void {
    this._grad?.dispose();
    this._grad = undefined;
    ops.clearGrad(this.handle);
  }
  /**
   * Computes gradients of this tensor with respect to the leaves that require grad, accumulating
   * into their `grad`. A non-scalar tensor needs `gradient` (same shape).
   */
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    ops.backward(this.handle, gradient?.handle, options.retainGraph, options.createGraph);
  }
  /** Keeps the gradient of this non-leaf tensor after backward. */
  retainGrad(): this {
    ops.retainGrad(this.handle);
    return this;
  }
  /** A tensor sharing this one's data, outside the autograd graph. */
  detach(): Tensor {
    return new Tensor(ops.detach(this.handle));
  }

  // ---- arithmetic (broadcasting) --------------------------------------------------------

  /** this + alpha * other. */
  add(other: Tensor | Scalar, alpha?: number): Tensor {
    return new Tensor(ops.add(this.handle, operand(other, 'add'), alpha));
  }
  /** this - alpha * other. */
  sub(other: Tensor | Scalar, alpha?: number): Tensor {
    return new Tensor(ops.sub(this.handle, operand(other, 'sub'), alpha));
  }
  mul(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.mul(this.handle, operand(other, 'mul')));
  }
  /** True division (integers promote to float) unless `roundingMode` is 'trunc' or 'floor'. */
  div(other: Tensor | Scalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    return new Tensor(ops.div(this.handle, operand(other, 'div'), roundingMode));
  }
  pow(exponent: Tensor | Scalar): Tensor {
    return new Tensor(ops.pow(this.handle, operand(exponent, 'pow')));
  }
  /** Elementwise maximum with another tensor. */
  maximum(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.maximum(this.handle, operand(other, 'maximum')));
  }
  /** Elementwise minimum with another tensor. */
  minimum(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.minimum(this.handle, operand(other, 'minimum')));
  }
  neg(): Tensor {
    return new Tensor(ops.neg(this.handle));
  }
  sqrt(): Tensor {
    return new Tensor(ops.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return new Tensor(ops.rsqrt(this.handle));
  }
  exp(): Tensor {
    return new Tensor(ops.exp(this.handle));
  }
  log(): Tensor {
    return new Tensor(ops.log(this.handle));
  }
  abs(): Tensor {
    return new Tensor(ops.abs(this.handle));
  }
  sin(): Tensor {
    return new Tensor(ops.sin(this.handle));
  }
  cos(): Tensor {
    return new Tensor(ops.cos(this.handle));
  }
  /** Limits every element to [min, max]; either bound may be omitted (not both). */
  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(ops.clamp(this.handle, min ?? undefined, max ?? undefined));
  }

  // ---- activations ----------------------------------------------------------------------

  relu(): Tensor {
    return new Tensor(ops.relu(this.handle));
  }
  tanh(): Tensor {
    return new Tensor(ops.tanh(this.handle));
  }
  sigmoid(): Tensor {
    return new Tensor(ops.sigmoid(this.handle));
  }
  /** GELU; `approximate: 'tanh'` uses the tanh approximation (PyTorch's default is exact). */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return new Tensor(ops.gelu(this.handle, approximate));
  }
  /** Softmax along `dim`; `dtype` casts the input first (as PyTorch's dtype argument). */
  softmax(dim: number, dtype?: DType): Tensor {
    return new Tensor(ops.softmax(this.handle, dim, dtype));
  }
  logSoftmax(dim: number, dtype?: DType): Tensor {
    return new Tensor(ops.logSoftmax(this.handle, dim, dtype));
  }

  // ---- reductions -----------------------------------------------------------------------

  /** Sum of all elements, or along `dim` (a dim or a list of dims); `keepdim` keeps reduced dims as size 1. */
  sum(dim?: number | readonly number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return new Tensor(ops.sum(this.handle, reducedDims(this, dim, options.keepdim), options.keepdim, options.dtype));
  }
  /** Mean of all elements, or along `dim` (floating point dtypes); `keepdim` keeps reduced dims as size 1. */
  mean(dim?: number | readonly number[], options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return new Tensor(ops.mean(this.handle, reducedDims(this, dim, options.keepdim), options.keepdim, options.dtype));
  }

  /** The largest element; with `dim`, `{values, indices}` along that dim. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim?: boolean): Tensor | { values: Tensor; indices: Tensor } {
    const out = ops.max(this.handle, dim, keepdim);
    if (Array.isArray(out)) return { values: new Tensor(out[0]), indices: new Tensor(out[1]) };
    return new Tensor(out);
  }
  /** The smallest element; with `dim`, `{values, indices}` along that dim. */
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim?: boolean): Tensor | { values: Tensor; indices: Tensor } {
    const out = ops.min(this.handle, dim, keepdim);
    if (Array.isArray(out)) return { values: new Tensor(out[0]), indices: new Tensor(out[1]) };
    return new Tensor(out);
  }
  /** Index of the largest element (of the flattened tensor, or along `dim`), int64. */
  argmax(dim?: number, keepdim = false): Tensor {
    return new Tensor(ops.argmax(this.handle, dim, keepdim));
  }
  /** Index of the smallest element (of the flattened tensor, or along `dim`), int64. */
  argmin(dim?: number, keepdim = false): Tensor {
    return new Tensor(ops.argmin(this.handle, dim, keepdim));
  }

  // ---- comparison and logic (bool results) ----------------------------------------------

  eq(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.eq(this.handle, operand(other, 'eq')));
  }
  ne(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.ne(this.handle, operand(other, 'ne')));
  }
  lt(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.lt(this.handle, operand(other, 'lt')));
  }
  le(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.le(this.handle, operand(other, 'le')));
  }
  gt(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.gt(this.handle, operand(other, 'gt')));
  }
  ge(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.ge(this.handle, operand(other, 'ge')));
  }
  logicalAnd(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.logicalAnd(this.handle, operand(other, 'logicalAnd')));
  }
  logicalOr(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.logicalOr(this.handle, operand(other, 'logicalOr')));
  }
  logicalXor(other: Tensor | Scalar): Tensor {
    return new Tensor(ops.logicalXor(this.handle, operand(other, 'logicalXor')));
  }
  logicalNot(): Tensor {
    return new Tensor(ops.logicalNot(this.handle));
  }
  /** `value` where `mask` (bool, broadcastable) is true, this tensor elsewhere. */
  maskedFill(mask: Tensor, value: Tensor | Scalar): Tensor {
    return new Tensor(ops.maskedFill(this.handle, mask.handle, operand(value, 'maskedFill')));
  }

  // ---- linear algebra -------------------------------------------------------------------

  /** Matrix product with PyTorch's matmul broadcasting rules (1-D, 2-D and batched). */
  matmul(other: Tensor): Tensor {
    return new Tensor(ops.matmul(this.handle, other.handle));
  }
  /** Batched matrix product: [b, n, m] x [b, m, p] -> [b, n, p]. */
  bmm(other: Tensor): Tensor {
    return new Tensor(ops.bmm(this.handle, other.handle));
  }

  // ---- shape ----------------------------------------------------------------------------

  /** The same elements in a new shape (one size may be -1); copies only when it must. */
  reshape(shape: Shape): Tensor {
    return new Tensor(ops.reshape(this.handle, [...shape]));
  }
  /**
   * A view with a new shape (the tensor must be compatible; see `contiguous()`), or, given a
   * dtype, the same bytes read as that dtype (the last dim scales by the ratio of element sizes).
   */
  view(shapeOrDtype: Shape | DType): Tensor {
    if (typeof shapeOrDtype === 'string') return new Tensor(ops.viewDtype(this.handle, shapeOrDtype));
    return new Tensor(ops.view(this.handle, [...shapeOrDtype]));
  }
  permute(dims: Shape): Tensor {
    return new Tensor(ops.permute(this.handle, [...dims]));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return new Tensor(ops.transpose(this.handle, dim0, dim1));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(ops.unsqueeze(this.handle, dim));
  }
  /** Removes dims of size 1 (all of them, or only `dim`). */
  squeeze(dim?: number): Tensor {
    return new Tensor(ops.squeeze(this.handle, dim));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(ops.flatten(this.handle, startDim, endDim));
  }
  /** A broadcast view with larger sizes (-1 keeps a size). */
  expand(sizes: Shape): Tensor {
    return new Tensor(ops.expand(this.handle, [...sizes]));
  }
  contiguous(): Tensor {
    return new Tensor(ops.contiguous(this.handle));
  }
  /** A view of this tensor's storage with the given sizes, strides and storage offset (elements). */
  asStrided(size: Shape, stride: Shape, storageOffset = 0): Tensor {
    return new Tensor(ops.asStrided(this.handle, [...size], [...stride], storageOffset));
  }

  /** Pieces of `sizeOrSizes` along `dim` (the last one may be smaller), or of the listed sizes. */
  split(sizeOrSizes: number | Shape, dim = 0): Tensor[] {
    const arg = typeof sizeOrSizes === 'number' ? sizeOrSizes : [...sizeOrSizes];
    return ops.split(this.handle, arg, dim).map((h) => new Tensor(h));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ops.chunk(this.handle, chunks, dim).map((h) => new Tensor(h));
  }
  /** A view of `length` elements along `dim` starting at `start`. */
  narrow(dim: number, start: number, length: number): Tensor {
    return new Tensor(ops.narrow(this.handle, dim, start, length));
  }
  /** The slice at `index` along `dim`, without that dim. */
  select(dim: number, index: number): Tensor {
    return new Tensor(ops.select(this.handle, dim, index));
  }
  /**
   * Python's `x[...]`: `x.index(':', 0, ':')` is `X[:, 0, :]`, `x.index(batchIdx, positions)`
   * is `X[batch_idx, positions]`, `x.index(slice(1, null, 2))` is `X[1::2]`.
   */
  index(...indices: Index[]): Tensor {
    return new Tensor(ops.index(this.handle, indices.map(nativeIndex)));
  }
  /** Python's `x[...] = value`, in place. */
  indexPut_(indices: readonly Index[], value: Tensor | Scalar): this {
    ops.indexPut_(this.handle, indices.map(nativeIndex), operand(value, 'indexPut_'));
    return this;
  }
  /** Entries of `index` (1-D, int64 or int32) along `dim`. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(ops.indexSelect(this.handle, dim, index.handle));
  }
  /** out[i][j] = this[index[i][j]][j] for dim 0 (and likewise for other dims); index is int64. */
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(ops.gather(this.handle, dim, index.handle));
  }
  /** Repeats each element (along `dim`, or of the flattened tensor) `repeats` times. */
  repeatInterleave(repeats: number | Tensor, dim?: number): Tensor {
    return new Tensor(ops.repeatInterleave(this.handle, repeats instanceof Tensor ? repeats.handle : repeats, dim));
  }

  // ---- conversion -----------------------------------------------------------------------

  /** A tensor on another device and/or of another dtype (this one when nothing changes, unless `copy`). */
  to(target: Device | DType | { device?: Device; dtype?: DType; nonBlocking?: boolean; copy?: boolean }): Tensor {
    let options: { device?: Device; dtype?: DType; nonBlocking?: boolean; copy?: boolean };
    if (typeof target === 'string') {
      options = /^(cpu|cuda)/.test(target) ? { device: target as Device } : { dtype: target as DType };
    } else {
      options = target;
    }
    return new Tensor(ops.to(this.handle, options.device, options.dtype, options.nonBlocking, options.copy));
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(device: number = 0): Tensor {
    return this.to({ device: `cuda:${device}` });
  }
  /** A copy that is part of the autograd graph (gradients flow back to this tensor). */
  clone(): Tensor {
    return new Tensor(ops.clone(this.handle));
  }

  // ---- in place -------------------------------------------------------------------------

  add_(other: Tensor | Scalar, alpha?: number): this {
    ops.add_(this.handle, operand(other, 'add_'), alpha);
    return this;
  }
  sub_(other: Tensor | Scalar, alpha?: number): this {
    ops.sub_(this.handle, operand(other, 'sub_'), alpha);
    return this;
  }
  mul_(other: Tensor | Scalar): this {
    ops.mul_(this.handle, operand(other, 'mul_'));
    return this;
  }
  div_(other: Tensor | Scalar): this {
    ops.div_(this.handle, operand(other, 'div_'));
    return this;
  }
  zero_(): this {
    ops.zero_(this.handle);
    return this;
  }
  fill_(value: number | boolean): this {
    ops.fill_(this.handle, value);
    return this;
  }
  /** Copies `src` (broadcastable, any dtype/device) into this tensor. */
  copy_(src: Tensor): this {
    ops.copy_(this.handle, src.handle);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    ops.clamp_(this.handle, min ?? undefined, max ?? undefined);
    return this;
  }
  maskedFill_(mask: Tensor, value: Tensor | Scalar): this {
    ops.maskedFill_(this.handle, mask.handle, operand(value, 'maskedFill_'));
    return this;
  }
}
