/**
 * The Tensor class: a typed view of one libtorch tensor. Every op returns a new Tensor (in-place
 * ops, named with a trailing underscore, return the receiver). Shapes are arrays of numbers,
 * dims may be negative (counted from the end), and binary ops broadcast and promote types as
 * PyTorch does. A JS number that is an integer acts as a Python int (it keeps integer tensors
 * integral); other numbers act as Python floats.
 */

import { warnTracedRead } from './tracing';
import { describe } from './describe';
import { formatTensor } from './format';
import { NativeIndex, NativeOperand, NativeTensor, ops } from '../native';
import { Disposable, track } from './scope';
import { DTYPES, DType, Device, Shape } from './types';

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
  throw new TypeError(`${what}: expected a Tensor or a number, got ${kindOf(value)}`);
}

// The kind of a value, as operand() has always named it ('a string', 'an object (Map)').
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

/** The handle of a Tensor argument, or a TypeError naming the method and the argument. @internal */
export function tensorHandle(value: unknown, what: string, argument: string): NativeTensor {
  if (!(value instanceof Tensor)) throw new TypeError(`${what}: ${argument} must be a Tensor, got ${describe(value)}`);
  return value.handle;
}

/**
 * An optional options argument: `undefined` and `null` both mean "none given" (every option
 * at its default, as Python's None); anything else must be an object. @internal
 */
export function optionsOf<T extends object>(options: T | null | undefined, what: string): Partial<T> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    const hint = typeof options === 'string' && (DTYPES as readonly string[]).includes(options) ? ` (for a dtype, pass { dtype: '${options}' })` : '';
    throw new TypeError(`${what}: the options must be an object (or undefined or null), got ${describe(options)}${hint}`);
  }
  return options;
}

/** How `intList` reads an argument. @internal */
export interface IntListRule {
  /** A bare integer stands for a list of one (as PyTorch's `reshape(6)`); default true. */
  single?: boolean;
  /** Elements must be >= 0 (sizes of new tensors); default false. */
  nonNegative?: boolean;
  /** What the argument must be, when the message should say more than the default. */
  expected?: string;
}

// Why one element of an int list is refused, or undefined when it is fine.
function badInt(d: unknown, nonNegative: boolean): string | undefined {
  if (typeof d === 'number' && Number.isInteger(d) && Math.abs(d) < 2 ** 63 && (!nonNegative || d >= 0)) return undefined;
  if (typeof d === 'bigint') return `${describe(d)} (use a number)`;
  if (typeof d === 'number' && Number.isInteger(d) && Math.abs(d) >= 2 ** 63) return `${describe(d)}, beyond int64`;
  return describe(d);
}

/**
 * The one parser of shapes, sizes and dim lists: an array of integers (no holes, no bigints),
 * or a bare integer where `rule.single` allows one. Messages name the method, the argument and
 * what was given. @internal
 */
export function intList(value: unknown, what: string, argument: string, rule: IntListRule = {}): number[] {
  const single = rule.single ?? true;
  const nonNegative = rule.nonNegative ?? false;
  const expected = rule.expected ??
    (nonNegative ? (single ? 'a non-negative integer or an array of them' : 'an array of non-negative integers')
      : (single ? 'an integer or an array of integers' : 'an array of integers'));
  if (single && (typeof value === 'number' || typeof value === 'bigint')) {
    const why = badInt(value, nonNegative);
    if (why !== undefined) throw new TypeError(`${what}: ${argument} must be ${expected}, got ${why}`);
    return [value as number];
  }
  if (!Array.isArray(value)) throw new TypeError(`${what}: ${argument} must be ${expected}, got ${describe(value)}`);
  const out: number[] = new Array(value.length);
  for (let k = 0; k < value.length; ++k) {
    if (!(k in value)) {
      throw new TypeError(`${what}: ${argument} must be ${expected}; element ${k} is missing (the array has a hole)`);
    }
    const d: unknown = value[k];
    const why = badInt(d, nonNegative);
    if (why !== undefined) throw new TypeError(`${what}: ${argument} must be ${expected}; element ${k} is ${why}`);
    out[k] = d as number;
  }
  return out;
}

/** What `Tensor.to()` takes besides a dtype or device name. */
export interface ToOptions {
  device?: Device;
  dtype?: DType;
  /** Copy asynchronously (host to pinned memory and back); default false. */
  nonBlocking?: boolean;
  /** Always return a new tensor, even when nothing changes; default false. */
  copy?: boolean;
}

const DEVICES = "'cpu', 'cuda' or 'cuda:N'";

/**
 * The target of `to()`: a dtype name, a device name, or an options object whose dtype and
 * device are checked; anything else is refused with the valid names. `allowed` lists the keys
 * of a strict options object, which must name a dtype or a device; without it (Module.to, to
 * which modules pass their constructor options) other keys are ignored. @internal
 */
export function conversionTarget(target: unknown, what: string, allowed?: readonly string[]): { device?: Device; dtype?: DType } & Record<string, unknown> {
  const expected = `a dtype (${DTYPES.join(', ')}), a device (${DEVICES}) or an object { ${(allowed ?? ['device', 'dtype']).join(', ')} }` +
    (allowed !== undefined ? ' naming a dtype or a device' : '');
  if (typeof target === 'string') {
    if ((DTYPES as readonly string[]).includes(target)) return { dtype: target as DType };
    if (/^(cpu|cuda)\b/.test(target)) return { device: target as Device };  // the native side checks the exact form
    throw new TypeError(`${what}: ${describe(target)} is neither a dtype nor a device; expected ${expected}`);
  }
  if (typeof target !== 'object' || target === null || Array.isArray(target)) {
    throw new TypeError(`${what}: expected ${expected}, got ${describe(target)}`);
  }
  const options = target as Record<string, unknown>;
  for (const key of allowed === undefined ? [] : Object.keys(options)) {
    if (!allowed?.includes(key)) throw new TypeError(`${what}: unknown option '${key}'; expected ${expected}`);
  }
  const { dtype, device } = options;
  if (dtype !== undefined && dtype !== null && !(DTYPES as readonly unknown[]).includes(dtype)) {
    throw new TypeError(`${what}: dtype must be one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
  }
  if (device !== undefined && device !== null && typeof device !== 'string') {
    throw new TypeError(`${what}: device must be ${DEVICES}, got ${describe(device)}`);
  }
  if (allowed !== undefined && (dtype === undefined || dtype === null) && (device === undefined || device === null)) {
    throw new TypeError(`${what}: the options name neither a dtype nor a device; expected ${expected}`);
  }
  return { ...options, dtype: (dtype ?? undefined) as DType | undefined, device: (device ?? undefined) as Device | undefined };
}

// A dim or list of dims (reductions); undefined and null mean every dim.
function dims(value: number | readonly number[] | null | undefined, what: string): number[] | undefined {
  if (value === undefined || value === null) return undefined;
  return intList(value, what, 'dim');
}

// The dims a reduction runs over: all of them, listed, when keepdim must keep them.
function reducedDims(t: Tensor, dim: number | readonly number[] | null | undefined, keepdim: boolean | undefined, what: string): number[] | undefined {
  const listed = dims(dim, what);
  if (listed === undefined && keepdim) return Array.from({ length: t.ndim }, (_, k) => k);
  return listed;
}

// A dim of `t`, or a RangeError naming the valid range. A 0-dim tensor takes 0 and -1, as in PyTorch.
function checkedDim(t: Tensor, dim: unknown, what: string, ndim = t.ndim): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new TypeError(`${what}: dim must be an integer, got ${describe(dim)}`);
  const n = Math.max(ndim, 1);
  if (dim < -n || dim >= n) {
    throw new RangeError(`${what}: dim ${dim} is out of range for a ${ndim}-dim tensor; use a dim from ${-n} to ${n - 1}`);
  }
  return dim;
}

// The dims a reduction runs over (as reducedDims), each checked, none twice.
function checkedReducedDims(t: Tensor, dim: number | readonly number[] | null | undefined, keepdim: boolean | undefined, what: string): number[] | undefined {
  const listed = reducedDims(t, dim, keepdim, what);
  if (listed === undefined) return undefined;
  const ndim = t.ndim;
  const seen = new Set<number>();
  for (const d of listed) {
    checkedDim(t, d, what, ndim);
    const wrapped = d < 0 ? d + Math.max(ndim, 1) : d;
    if (seen.has(wrapped)) throw new RangeError(`${what}: dim ${d} appears more than once in the list of dims; list each dim once`);
    seen.add(wrapped);
  }
  return listed;
}

function checkedBoolean(value: unknown, what: string, name: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${what}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

// The dim of any()/all(): none (every element) or one; keepdim needs one.
function logicalDim(t: Tensor, dim: number | null | undefined, keepdim: unknown, what: string): number | undefined {
  if (checkedBoolean(keepdim, what, 'keepdim') && (dim === undefined || dim === null)) {
    throw new TypeError(`${what}: keepdim needs a dim (${what}() of every element returns a 0-dim tensor); pass a dim, e.g. ${what}(0, true)`);
  }
  return dim === undefined || dim === null ? undefined : checkedDim(t, dim, what);
}

// std/var's correction: PyTorch's `correction`, or its older `unbiased` flag (correction 1 or 0).
function correctionOf(options: VarianceOptions, what: string): number | undefined {
  const { correction } = options;
  const unbiased = checkedBoolean(options.unbiased, what, 'unbiased');
  if (correction !== undefined && correction !== null) {
    if (unbiased !== undefined) throw new TypeError(`${what}: give either correction or unbiased, not both (unbiased: false is correction: 0)`);
    if (typeof correction !== 'number' || !Number.isFinite(correction)) {
      throw new TypeError(`${what}: correction must be a finite number (1 for the unbiased estimate, 0 for the population one), got ${describe(correction)}`);
    }
    return correction;
  }
  return unbiased === undefined ? undefined : (unbiased ? 1 : 0);
}

/** Options of `std()` and `var()`. */
export interface VarianceOptions {
  /**
   * Subtracted from the number of elements N in the denominator (N - correction): 1 (the default)
   * is Bessel's correction (the unbiased estimate), 0 the population variance. An integer with
   * libtorch 1.13; libtorch 2.x also takes fractional corrections.
   */
  correction?: number;
  /** PyTorch's older flag: true is correction 1, false correction 0. Give correction or unbiased, not both. */
  unbiased?: boolean;
  /** Keep reduced dims as size 1; default false. */
  keepdim?: boolean;
}

/** Options of `sort()`. */
export interface SortOptions {
  /** Largest first; default false (ascending). */
  descending?: boolean;
  /** Keep equal elements in their original order; default false (the order of ties is unspecified). */
  stable?: boolean;
}

/** Options of `topk()`. */
export interface TopkOptions {
  /** The k largest (default true) or the k smallest elements. */
  largest?: boolean;
  /** Return them sorted (largest first when `largest`, smallest first otherwise); default true. */
  sorted?: boolean;
}

/**
 * Values and their int64 indices, as PyTorch's `(values, indices)` named tuple: destructure it
 * (`const [values, indices] = x.sort()`) or read `.values` and `.indices`.
 */
export type ValuesIndices = [values: Tensor, indices: Tensor] & { readonly values: Tensor; readonly indices: Tensor };

function valuesIndices(pair: [NativeTensor, NativeTensor]): ValuesIndices {
  const out = [new Tensor(pair[0]), new Tensor(pair[1])];
  // not enumerable: the result compares and prints as the pair it is
  Object.defineProperties(out, { values: { value: out[0] }, indices: { value: out[1] } });
  return out as ValuesIndices;
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
    warnTracedRead('Tensor.item()');
    return ops.item(this.handle);
  }
  /** A copy of the elements in row-major order (float16/bfloat16 -> Float32Array, bool -> Uint8Array, int64 -> BigInt64Array). */
  data(): TensorData {
    warnTracedRead('Tensor.data()');
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
  backward(gradient?: Tensor | null, options?: { retainGraph?: boolean; createGraph?: boolean } | null): void {
    const o = optionsOf(options, 'backward');
    if (gradient !== undefined && gradient !== null && !(gradient instanceof Tensor)) {
      throw new TypeError(`backward: gradient must be a Tensor (or undefined for a scalar), got ${describe(gradient)}`);
    }
    ops.backward(this.handle, gradient?.handle, o.retainGraph, o.createGraph);
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

  /**
   * Sum of all elements, or along `dim` (a dim or a list of dims; null is all of them);
   * `keepdim` keeps reduced dims as size 1.
   */
  sum(dim?: number | readonly number[] | null, options?: { keepdim?: boolean; dtype?: DType } | null): Tensor {
    const o = optionsOf(options, 'sum');
    return new Tensor(ops.sum(this.handle, reducedDims(this, dim, o.keepdim, 'sum'), o.keepdim, o.dtype));
  }
  /**
   * Mean of all elements, or along `dim` (a dim or a list of dims; null is all of them;
   * floating point dtypes); `keepdim` keeps reduced dims as size 1.
   */
  mean(dim?: number | readonly number[] | null, options?: { keepdim?: boolean; dtype?: DType } | null): Tensor {
    const o = optionsOf(options, 'mean');
    return new Tensor(ops.mean(this.handle, reducedDims(this, dim, o.keepdim, 'mean'), o.keepdim, o.dtype));
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

  /**
   * Standard deviation of all elements, or along `dim` (a dim or a list of dims; null is all of
   * them), with `correction` (default 1, Bessel's) subtracted from the element count in the
   * denominator; floating point dtypes. A 0-dim tensor without `keepdim`; PyTorch's `std`.
   */
  std(dim?: number | readonly number[] | null, options?: VarianceOptions | null): Tensor {
    const o = optionsOf(options, 'std');
    const keepdim = checkedBoolean(o.keepdim, 'std', 'keepdim');
    return new Tensor(ops.std(this.handle, checkedReducedDims(this, dim, keepdim, 'std'), correctionOf(o, 'std'), keepdim));
  }
  /** Variance, as `std()` (the square of it): same dims, `correction` (default 1) and `keepdim`; PyTorch's `var`. */
  var(dim?: number | readonly number[] | null, options?: VarianceOptions | null): Tensor {
    const o = optionsOf(options, 'var');
    const keepdim = checkedBoolean(o.keepdim, 'var', 'keepdim');
    return new Tensor(ops.var(this.handle, checkedReducedDims(this, dim, keepdim, 'var'), correctionOf(o, 'var'), keepdim));
  }
  /**
   * The vector p-norm of all elements, or over `dim` (a dim or a list of dims, flattened
   * together): `torch.linalg.vector_norm`, which `torch.norm` computes for a number p and for
   * 'fro'. `p` (default 2): any number; Infinity is max |x|, -Infinity min |x|, 0 the count of
   * non-zero elements; 'fro' is the 2-norm (over at most 2 listed dims, as torch.norm). Floating
   * point dtypes; `dtype` computes and returns in that dtype (no narrower than the input's).
   */
  norm(p: number | 'fro' = 2, dim?: number | readonly number[] | null, options?: { keepdim?: boolean; dtype?: DType } | null): Tensor {
    const o = optionsOf(options, 'norm');
    const keepdim = checkedBoolean(o.keepdim, 'norm', 'keepdim');
    const dims = checkedReducedDims(this, dim, keepdim, 'norm');
    let order: number;
    if (p === 'fro') {
      const listed = dim === undefined || dim === null ? 0 : (dims ?? []).length;
      if (listed > 2) throw new RangeError(`norm: p='fro' takes at most 2 dims, got ${listed}; use p=2 for the 2-norm over more dims`);
      order = 2;
    } else if (typeof p === 'number' && !Number.isNaN(p)) {
      order = p;
    } else {
      throw new TypeError(`norm: p must be a number (Infinity and -Infinity included) or 'fro', got ${describe(p)}` +
        ((p as unknown) === 'nuc' ? ' (the nuclear norm is not supported)' : ''));
    }
    return new Tensor(ops.norm(this.handle, order, dims, keepdim, o.dtype));
  }
  /**
   * Cumulative sums along `dim`: out[i] = this[0] + ... + this[i]. Integer and bool inputs give
   * int64 (as PyTorch's); `dtype` casts the input first.
   */
  cumsum(dim: number, options?: { dtype?: DType } | null): Tensor {
    const o = optionsOf(options, 'cumsum');
    return new Tensor(ops.cumsum(this.handle, checkedDim(this, dim, 'cumsum'), o.dtype));
  }
  /**
   * Whether any element is non-zero (true): of the whole tensor (0-dim), or along `dim` with
   * `keepdim`. Bool results, except that a uint8 tensor gives uint8, as PyTorch's.
   */
  any(dim?: number | null, keepdim = false): Tensor {
    return new Tensor(ops.any(this.handle, logicalDim(this, dim, keepdim, 'any'), keepdim));
  }
  /**
   * Whether every element is non-zero (true): of the whole tensor (0-dim), or along `dim` with
   * `keepdim`. Bool results, except that a uint8 tensor gives uint8, as PyTorch's.
   */
  all(dim?: number | null, keepdim = false): Tensor {
    return new Tensor(ops.all(this.handle, logicalDim(this, dim, keepdim, 'all'), keepdim));
  }

  // ---- sorting --------------------------------------------------------------------------

  /**
   * The elements sorted along `dim` (default -1, the last), ascending unless `descending`, and
   * the int64 indices they came from: `[values, indices]` (also `.values`, `.indices`). NaN sorts
   * as the largest value. `stable` keeps ties in their original order.
   */
  sort(dim = -1, options?: SortOptions | null): ValuesIndices {
    const o = optionsOf(options, 'sort');
    const descending = checkedBoolean(o.descending, 'sort', 'descending') ?? false;
    const stable = checkedBoolean(o.stable, 'sort', 'stable') ?? false;
    return valuesIndices(ops.sort(this.handle, checkedDim(this, dim, 'sort'), descending, stable));
  }
  /**
   * The k largest elements along `dim` (default -1; the k smallest with `largest: false`),
   * sorted unless `sorted: false`, and their int64 indices: `[values, indices]` (also `.values`,
   * `.indices`). k must be from 0 to the size of `dim`.
   */
  topk(k: number, dim = -1, options?: TopkOptions | null): ValuesIndices {
    const o = optionsOf(options, 'topk');
    const ndim = this.ndim;
    const d = checkedDim(this, dim, 'topk', ndim);
    const size = ndim === 0 ? 1 : this.shape[d < 0 ? d + ndim : d];
    if (typeof k !== 'number' || !Number.isInteger(k)) throw new TypeError(`topk: k must be an integer, got ${describe(k)}`);
    if (k < 0 || k > size) throw new RangeError(`topk: k (${k}) is out of range: dim ${dim} has ${size} elements; use a k from 0 to ${size}`);
    const largest = checkedBoolean(o.largest, 'topk', 'largest') ?? true;
    const sorted = checkedBoolean(o.sorted, 'topk', 'sorted') ?? true;
    return valuesIndices(ops.topk(this.handle, k, d, largest, sorted));
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
    return new Tensor(ops.maskedFill(this.handle, tensorHandle(mask, 'maskedFill', 'mask'), operand(value, 'maskedFill')));
  }

  // ---- linear algebra -------------------------------------------------------------------

  /** Matrix product with PyTorch's matmul broadcasting rules (1-D, 2-D and batched). */
  matmul(other: Tensor): Tensor {
    return new Tensor(ops.matmul(this.handle, tensorHandle(other, 'matmul', 'other')));
  }
  /** Batched matrix product: [b, n, m] x [b, m, p] -> [b, n, p]. */
  bmm(other: Tensor): Tensor {
    return new Tensor(ops.bmm(this.handle, tensorHandle(other, 'bmm', 'other')));
  }

  // ---- shape ----------------------------------------------------------------------------

  /**
   * The same elements in a new shape (one size may be -1; a bare number is a 1-D shape, as
   * PyTorch's `reshape(6)`); copies only when it must.
   */
  reshape(shape: number | Shape): Tensor {
    return new Tensor(ops.reshape(this.handle, intList(shape, 'reshape', 'shape')));
  }
  /**
   * A view with a new shape (the tensor must be compatible; see `contiguous()`; a bare number
   * is a 1-D shape), or, given a dtype, the same bytes read as that dtype (the last dim scales
   * by the ratio of element sizes).
   */
  view(shapeOrDtype: number | Shape | DType): Tensor {
    if (typeof shapeOrDtype === 'string') return new Tensor(ops.viewDtype(this.handle, shapeOrDtype));
    return new Tensor(ops.view(this.handle, intList(shapeOrDtype, 'view', 'shape',
      { expected: 'a dtype name, an integer or an array of integers' })));
  }
  /** The dims in a new order (a bare number for a 1-D tensor, as PyTorch's `permute(0)`). */
  permute(dims: number | Shape): Tensor {
    return new Tensor(ops.permute(this.handle, intList(dims, 'permute', 'dims')));
  }
  /**
   * This tensor with its dims reversed, a view (`permute(ndim - 1, ..., 0)`): the transpose of a
   * matrix; a 1-D or 0-dim tensor unchanged. PyTorch 1.13's `x.T` for every ndim. PyTorch (1.13
   * and 2.x) warns that `.T` on ndim other than 2 is deprecated (use `permute`, or `mT` for batches
   * of matrices); torchbridge reverses the dims without the warning.
   */
  get T(): Tensor {
    const n = this.ndim;
    return new Tensor(ops.permute(this.handle, Array.from({ length: n }, (_, k) => n - 1 - k)));
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
  /** A broadcast view with larger sizes (-1 keeps a size; a bare number for one dim). */
  expand(sizes: number | Shape): Tensor {
    return new Tensor(ops.expand(this.handle, intList(sizes, 'expand', 'sizes')));
  }
  contiguous(): Tensor {
    return new Tensor(ops.contiguous(this.handle));
  }
  /** A view of this tensor's storage with the given sizes, strides and storage offset (elements). */
  asStrided(size: Shape, stride: Shape, storageOffset = 0): Tensor {
    return new Tensor(ops.asStrided(this.handle, intList(size, 'asStrided', 'size', { single: false }),
      intList(stride, 'asStrided', 'stride', { single: false }), storageOffset));
  }

  /** Pieces of `sizeOrSizes` along `dim` (the last one may be smaller), or of the listed sizes. */
  split(sizeOrSizes: number | Shape, dim = 0): Tensor[] {
    const sizes = intList(sizeOrSizes, 'split', 'sizeOrSizes', { nonNegative: true });
    const arg = typeof sizeOrSizes === 'number' ? sizes[0] : sizes;
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
    return new Tensor(ops.indexSelect(this.handle, dim, tensorHandle(index, 'indexSelect', 'index')));
  }
  /** out[i][j] = this[index[i][j]][j] for dim 0 (and likewise for other dims); index is int64. */
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(ops.gather(this.handle, dim, tensorHandle(index, 'gather', 'index')));
  }
  /** Repeats each element (along `dim`, or of the flattened tensor) `repeats` times. */
  repeatInterleave(repeats: number | Tensor, dim?: number): Tensor {
    return new Tensor(ops.repeatInterleave(this.handle, repeats instanceof Tensor ? repeats.handle : repeats, dim));
  }

  // ---- conversion -----------------------------------------------------------------------

  /**
   * A tensor on another device and/or of another dtype (this one when nothing changes, unless
   * `copy`): a dtype name, a device name, or options naming at least one of them.
   */
  to(target: Device | DType | ToOptions): Tensor {
    const o = conversionTarget(target, 'to', ['device', 'dtype', 'nonBlocking', 'copy']) as ToOptions;
    return new Tensor(ops.to(this.handle, o.device, o.dtype, o.nonBlocking, o.copy));
  }
  /** This tensor as float32 (itself when it is float32 already), as PyTorch's `x.float()`. */
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  /** This tensor as int64 (floats truncated toward zero; itself when it is int64 already), as PyTorch's `x.long()`. */
  long(): Tensor {
    return this.to({ dtype: 'int64' });
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
    ops.copy_(this.handle, tensorHandle(src, 'copy_', 'src'));
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    ops.clamp_(this.handle, min ?? undefined, max ?? undefined);
    return this;
  }
  maskedFill_(mask: Tensor, value: Tensor | Scalar): this {
    ops.maskedFill_(this.handle, tensorHandle(mask, 'maskedFill_', 'mask'), operand(value, 'maskedFill_'));
    return this;
  }
}

// console.log and util.inspect print the repr (`Tensor <disposed>` once disposed). Node's
// util.inspect.custom is Symbol.for('nodejs.util.inspect.custom'); set here, outside the class,
// so that the public declarations need no Node types.
Object.defineProperty(Tensor.prototype, Symbol.for('nodejs.util.inspect.custom'), {
  value(this: Tensor): string {
    return this.isDisposed ? 'Tensor <disposed>' : this.toString();
  },
  writable: true,
  configurable: true,
});
