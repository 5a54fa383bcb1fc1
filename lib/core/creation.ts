/**
 * Factory functions: tensors from JS data, filled tensors, ranges, random tensors and their
 * `*Like` variants. Options are `{dtype, device, requiresGrad}`; the default dtype is float32
 * (int64 for randint and for integer data), the default device 'cpu'.
 */
import { describe } from './describe';
import { ops } from '../native';
import { Tensor, intList, optionsOf } from './tensor';
import { DType, Shape, TensorOptions } from './types';

/** Typed arrays a tensor can be built from (and shares memory with, see `tensor()`). */
export type TypedArrayInput = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** Nested arrays of numbers or booleans; every level rectangular. */
export type NestedInput = number | boolean | readonly NestedInput[];

/** Options of `tensor()`. */
export interface TensorDataOptions extends TensorOptions {
  /** Shape for typed-array data (default: 1-D). */
  shape?: Shape;
  /**
   * Typed arrays only: copy the data even when it could be shared. By default a CPU tensor of
   * the array's own dtype shares the array's memory, as `torch.from_numpy` does: writes to one
   * show in the other, and the array must not be transferred to another thread meanwhile.
   */
  copy?: boolean;
}

// A shape of a new tensor: a size or an array of sizes (holes refused, as every shape parser does).
function shapeOf(shape: number | Shape, what: string): number[] {
  return intList(shape, what, 'shape', { nonNegative: true });
}

/** PyTorch's limit on dimensions for tensors built from nested sequences (torch.tensor). */
const MAX_NESTED_DIMS = 128;

// The integer range of each integral dtype, for PyTorch's overflow check of Python values.
const INTEGER_RANGES: Partial<Record<DType, { lowest: number; max: number; unsigned: boolean }>> = {
  uint8: { lowest: 0, max: 255, unsigned: true },
  int32: { lowest: -(2 ** 31), max: 2 ** 31 - 1, unsigned: false },
  int64: { lowest: -(2 ** 63), max: 2 ** 63 - 1, unsigned: false },
};

/**
 * PyTorch's check when `torch.tensor(values, dtype=<integral>)` stores Python numbers
 * (c10::checked_convert): a value outside the dtype's range, NaN or an infinity is refused with
 * "value cannot be converted to type ... without overflow". Integer values follow the rule for
 * Python ints, which lets negatives wrap into unsigned types as two's complement (-1 -> 255 in
 * uint8) down to -max; other numbers follow the rule for Python floats (-0.5 or 255.5 as uint8
 * overflow). Floating and bool dtypes take any number, as in PyTorch (1e300 -> inf in float32).
 */
function checkIntegral(values: Float64Array, dtype: DType, where: (index: number) => string): void {
  const range = INTEGER_RANGES[dtype];
  if (range === undefined) return;
  // int64's max, 2^63 - 1, is not a double: the doubles above it are >= 2^63.
  const tooBig = (v: number): boolean => (dtype === 'int64' ? v >= 2 ** 63 : v > range.max);
  for (let k = 0; k < values.length; ++k) {
    const v = values[k];
    const overflows = Number.isInteger(v)
      ? tooBig(v) || (range.unsigned ? v < -range.max : v < range.lowest)
      : !(v >= range.lowest) || tooBig(v);  // NaN fails the first comparison
    if (overflows) {
      throw new RangeError(`tensor: value ${String(v)}${where(k)} cannot be converted to type ${dtype} without overflow`);
    }
  }
}

function isTypedArrayInput(data: unknown): data is TypedArrayInput {
  return data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array ||
    data instanceof BigInt64Array || data instanceof Uint8Array;
}

// Shape, flat values and inferred dtype of nested arrays.
function flatten(data: NestedInput): { shape: number[]; values: Float64Array; dtype: DType } {
  const shape: number[] = [];
  let level: NestedInput = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (shape.length > MAX_NESTED_DIMS) {
      throw new RangeError(`tensor: the nested arrays are more than ${MAX_NESTED_DIMS} levels deep; a tensor built from ` +
        `nested arrays has at most ${MAX_NESTED_DIMS} dimensions (PyTorch's limit too)`);
    }
    if (level.length === 0) break;
    level = level[0];
  }
  const count = shape.reduce((n, d) => n * d, 1);
  let values: Float64Array;
  try {
    values = new Float64Array(count);
  } catch (e) {
    // V8's own message ("Array buffer allocation failed") names neither the data nor its size.
    throw new RangeError(`tensor: the nested arrays claim shape [${shape.join(', ')}] (${count} elements); ` +
      `JS could not allocate the ${count * 8} bytes that reading them takes (${(e as Error).message})`);
  }
  let n = 0;
  let allBool = true;
  let allInt = true;
  const visit = (node: NestedInput, depth: number, where: string): void => {
    if (depth === shape.length) {
      if (typeof node === 'boolean') {
        values[n++] = node ? 1 : 0;
      } else if (typeof node === 'number') {
        allBool = false;
        if (!Number.isInteger(node)) allInt = false;
        values[n++] = node;
      } else {
        throw new TypeError(`tensor: element ${where} is ${Array.isArray(node) ? 'an array (the nesting is ragged)' : typeof node}; expected a number or boolean`);
      }
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new TypeError(`tensor: ragged nested array: ${where} should be an array of length ${shape[depth]}, like the first one at that depth`);
    }
    for (let k = 0; k < node.length; ++k) visit(node[k], depth + 1, `${where}[${k}]`);
  };
  visit(data, 0, 'data');
  const dtype: DType = count === 0 ? 'float32' : allBool ? 'bool' : allInt ? 'int64' : 'float32';
  return { shape, values, dtype };
}

/**
 * A tensor from JS data:
 * - a number or boolean: a 0-dim tensor;
 * - nested arrays: their shape; dtype inferred as PyTorch does for Python values (all booleans:
 *   bool, all integers: int64, otherwise float32) unless `dtype` is given;
 * - a typed array (Float32Array -> float32, Float64Array -> float64, Int32Array -> int32,
 *   BigInt64Array -> int64, Uint8Array -> uint8): 1-D or `shape`, zero-copy when the tensor is
 *   on the CPU with the array's dtype (see `copy`).
 */
export function tensor(data: NestedInput | TypedArrayInput, options?: TensorDataOptions | null): Tensor {
  return fromData(data, optionsOf(options, 'tensor'));
}

function fromData(data: NestedInput | TypedArrayInput, options: TensorDataOptions): Tensor {
  if (isTypedArrayInput(data)) {
    const shape = options.shape === undefined ? [data.length] : shapeOf(options.shape, 'tensor');
    return new Tensor(ops.fromTypedArray(data, shape, options.dtype, options.device, options.requiresGrad ?? false, !options.copy));
  }
  if (options.shape !== undefined) throw new TypeError('tensor: `shape` applies to typed-array data only; nested arrays carry their own shape');
  if (typeof data === 'number' || typeof data === 'boolean') {
    const dtype: DType = typeof data === 'boolean' ? 'bool' : Number.isInteger(data) ? 'int64' : 'float32';
    const values = Float64Array.of(typeof data === 'boolean' ? Number(data) : data);
    checkIntegral(values, options.dtype ?? dtype, () => '');
    return new Tensor(ops.fromTypedArray(values, [], options.dtype ?? dtype, options.device, options.requiresGrad ?? false, false));
  }
  if (!Array.isArray(data)) {
    throw new TypeError(`tensor: data must be a number, a boolean, nested arrays of them, or a typed array; got ${describe(data)}`);
  }
  const flat = flatten(data);
  checkIntegral(flat.values, options.dtype ?? flat.dtype, (k) => {
    const index: number[] = [];
    for (let d = flat.shape.length - 1, rest = k; d >= 0; --d) {
      index.unshift(rest % flat.shape[d]);
      rest = Math.floor(rest / flat.shape[d]);
    }
    return ` (at data${index.map((i) => `[${i}]`).join('')})`;
  });
  return new Tensor(ops.fromTypedArray(flat.values, flat.shape, options.dtype ?? flat.dtype, options.device, options.requiresGrad ?? false, false));
}

/** A tensor of zeros. */
export function zeros(shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'zeros');
  return new Tensor(ops.zeros(shapeOf(shape, 'zeros'), o.dtype, o.device, o.requiresGrad));
}
/** A tensor of ones. */
export function ones(shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'ones');
  return new Tensor(ops.ones(shapeOf(shape, 'ones'), o.dtype, o.device, o.requiresGrad));
}
/** A tensor whose elements are not initialised. */
export function empty(shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'empty');
  return new Tensor(ops.empty(shapeOf(shape, 'empty'), o.dtype, o.device, o.requiresGrad));
}
/** A tensor filled with `value` (dtype inferred from the value, as PyTorch: bool, int64 or float32). */
export function full(shape: number | Shape, value: number | boolean, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'full');
  const dtype = o.dtype ?? (typeof value === 'boolean' ? 'bool' : Number.isInteger(value) ? 'int64' : 'float32');
  return new Tensor(ops.full(shapeOf(shape, 'full'), value, dtype, o.device, o.requiresGrad));
}

/**
 * `arange(end)` or `arange(start, end, step = 1)`: values from start (inclusive) to end
 * (exclusive). int64 when every argument is an integer (as PyTorch with Python ints), float32 otherwise.
 */
export function arange(end: number, options?: TensorOptions | null): Tensor;
export function arange(start: number, end: number, step?: number | null, options?: TensorOptions | null): Tensor;
export function arange(a: number, b?: number | TensorOptions | null, c?: number | TensorOptions | null, d?: TensorOptions | null): Tensor {
  // Options are the first trailing object (or null); a non-object is a bound or the step.
  const isOptions = (x: unknown): boolean => x === null || (typeof x === 'object' && !Array.isArray(x));
  let start = 0;
  let end: unknown = a;
  let step: unknown = 1;
  let options: unknown;
  if (b !== undefined && !isOptions(b)) {
    start = a;
    end = b;
    if (c !== undefined && !isOptions(c)) step = c;
    else options = c;
    if (d !== undefined) options = d;
  } else {
    options = b;
  }
  const o = optionsOf(options as TensorOptions | null | undefined, 'arange');
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`arange: ${name} must be a number, got ${describe(v)}`);
  }
  const bounds = [start, end, step] as number[];
  const dtype = o.dtype ?? (bounds.every(Number.isInteger) ? 'int64' : 'float32');
  return new Tensor(ops.arange(bounds[0], bounds[1], bounds[2], dtype, o.device, o.requiresGrad));
}

/** `steps` evenly spaced values from start to end, both included. */
export function linspace(start: number, end: number, steps: number, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'linspace');
  return new Tensor(ops.linspace(start, end, steps, o.dtype, o.device, o.requiresGrad));
}
/** An n x m (default n x n) matrix with ones on the diagonal. */
export function eye(n: number, m?: number | null, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'eye');
  return new Tensor(ops.eye(n, m ?? undefined, o.dtype, o.device, o.requiresGrad));
}
/** Uniform samples in [0, 1). */
export function rand(shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'rand');
  return new Tensor(ops.rand(shapeOf(shape, 'rand'), o.dtype, o.device, o.requiresGrad));
}
/** Standard normal samples. */
export function randn(shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'randn');
  return new Tensor(ops.randn(shapeOf(shape, 'randn'), o.dtype, o.device, o.requiresGrad));
}
/** Integers uniform in [low, high); int64 unless `dtype` says otherwise. */
export function randint(low: number, high: number, shape: number | Shape, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'randint');
  return new Tensor(ops.randint(low, high, shapeOf(shape, 'randint'), o.dtype, o.device, o.requiresGrad));
}

// The tensor a *Like function copies the shape of.
function likeHandle(like: Tensor, what: string) {
  if (!(like instanceof Tensor)) throw new TypeError(`${what}: expected a Tensor to take the shape of, got ${describe(like)}`);
  return like.handle;
}

/** Zeros with `like`'s shape (and dtype and device unless given). */
export function zerosLike(like: Tensor, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'zerosLike');
  return new Tensor(ops.zerosLike(likeHandle(like, 'zerosLike'), o.dtype, o.device, o.requiresGrad));
}
/** Ones with `like`'s shape (and dtype and device unless given). */
export function onesLike(like: Tensor, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'onesLike');
  return new Tensor(ops.onesLike(likeHandle(like, 'onesLike'), o.dtype, o.device, o.requiresGrad));
}
/** Uninitialised, with `like`'s shape (and dtype and device unless given). */
export function emptyLike(like: Tensor, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'emptyLike');
  return new Tensor(ops.emptyLike(likeHandle(like, 'emptyLike'), o.dtype, o.device, o.requiresGrad));
}
/** `value` everywhere, with `like`'s shape (and dtype and device unless given). */
export function fullLike(like: Tensor, value: number | boolean, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'fullLike');
  return new Tensor(ops.fullLike(likeHandle(like, 'fullLike'), value, o.dtype, o.device, o.requiresGrad));
}
/** Uniform samples in [0, 1) with `like`'s shape. */
export function randLike(like: Tensor, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'randLike');
  return new Tensor(ops.randLike(likeHandle(like, 'randLike'), o.dtype, o.device, o.requiresGrad));
}
/** Standard normal samples with `like`'s shape. */
export function randnLike(like: Tensor, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'randnLike');
  return new Tensor(ops.randnLike(likeHandle(like, 'randnLike'), o.dtype, o.device, o.requiresGrad));
}
/** Integers in [low, high) with `like`'s shape. */
export function randintLike(like: Tensor, low: number, high: number, options?: TensorOptions | null): Tensor {
  const o = optionsOf(options, 'randintLike');
  return new Tensor(ops.randintLike(likeHandle(like, 'randintLike'), low, high, o.dtype, o.device, o.requiresGrad));
}

const SEED_RANGE = 'an integer (number or bigint) from -2^63 to 2^64 - 1, as torch.manual_seed takes';

/** Options of `randperm`. */
export interface RandpermOptions extends TensorOptions {
  /**
   * Draw from a fresh CPU generator seeded with this, as
   * `torch.randperm(n, generator=torch.Generator().manual_seed(seed))` (what DistributedSampler
   * does each epoch), leaving the global generator alone; otherwise the global generator.
   */
  seed?: number | bigint;
}

/** A random permutation of 0 .. n-1 (int64 unless `dtype` says otherwise), as `torch.randperm`. */
export function randperm(n: number, options?: RandpermOptions | null): Tensor {
  const o = optionsOf(options, 'randperm');
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`randperm: n must be a non-negative integer, got ${describe(n)}`);
  const seed = o.seed === undefined ? null : seedValue(o.seed, 'randperm');
  return new Tensor(ops.randperm(n, seed, o.dtype, o.device, o.requiresGrad));
}

// A seed in PyTorch's range as the unsigned 64-bit value PyTorch uses (negative: two's complement).
function seedValue(seed: number | bigint, what: string): bigint {
  let value: bigint;
  if (typeof seed === 'bigint') value = seed;
  else if (typeof seed === 'number' && Number.isInteger(seed)) value = BigInt(seed);
  else throw new TypeError(`${what}: the seed must be ${SEED_RANGE}; got ${describe(seed)}`);
  if (value < -(2n ** 63n) || value > 2n ** 64n - 1n) {
    throw new RangeError(`${what}: the seed must be ${SEED_RANGE}; got ${String(value)}`);
  }
  return value < 0n ? 2n ** 64n + value : value;
}

/**
 * Seeds every random generator (CPU and CUDA), as `torch.manual_seed`: same seed, same samples
 * as PyTorch. Seeds above 2^53 need a bigint to be exact; a negative seed is taken as PyTorch
 * takes it, as its 64-bit two's complement (-2 seeds as 2^64 - 2).
 */
export function manualSeed(seed: number | bigint): void {
  ops.manualSeed(seedValue(seed, 'manualSeed'));
}
