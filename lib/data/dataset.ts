/**
 * Map-style datasets, as `torch.utils.data`: the `Dataset` interface (`length` and `get(index)`,
 * PyTorch's `__len__` and `__getitem__`), `TensorDataset`, `Subset`, `randomSplit` and
 * `defaultCollate`, which `DataLoader` uses to batch any Dataset.
 *
 * Ownership: a dataset never disposes what it was given; `get()` returns new tensors (or views)
 * that the caller owns; `defaultCollate` returns new tensors. The DataLoader calls `get()` inside
 * a scope and frees what it returned once the batch is built, so a dataset whose `get()` creates
 * tensors leaks nothing there, and one that returns tensors it keeps (created before) keeps them.
 */
import { randomBytes } from 'crypto';

import { NestedInput, tensor } from '../core/creation';
import { describe } from '../core/describe';
import { stack } from '../core/functional';
import { tidy } from '../core/scope';
import { Tensor } from '../core/tensor';

/**
 * A map-style dataset: `length` examples, example `index` (0 <= index < length) from
 * `get(index)`. A sample may be a Tensor, a number, a bigint, a boolean, a string, or arrays
 * and plain objects of those (what `defaultCollate` batches).
 */
export interface Dataset<T> {
  /** The number of examples (PyTorch's `__len__`). */
  readonly length: number;
  /** Example `index` (PyTorch's `__getitem__`); the caller owns the tensors it returns. */
  get(index: number): T;
  /**
   * Optional: the examples at `indices`, already collated, equal to
   * `defaultCollate([...indices].map((i) => this.get(i)))` but built at once (TensorDataset:
   * one `indexSelect` per tensor). DataLoader uses it when present. The caller owns the result;
   * `indices` may be a view of the loader's memory, valid during the call only.
   */
  getBatch?(indices: Int32Array): Collated<T>;
}

/**
 * What `defaultCollate` makes of samples of type `T` (torch's default_collate): tensors are
 * stacked along a new first dimension, numbers become a float64 tensor, bigints int64 and
 * booleans bool; strings stay strings (an array of them); arrays and plain objects are collated
 * element by element (by position, by key).
 */
export type Collated<T> = T extends Tensor ? Tensor
  : T extends number | bigint | boolean ? Tensor
    : T extends string ? string[]
      : T extends readonly unknown[] ? { -readonly [K in keyof T]: Collated<T[K]> }
        : T extends object ? { -readonly [K in keyof T]: Collated<T[K]> }
          : never;

/** A row of a TensorDataset: one tensor per dataset tensor, without the first dimension. */
export type TensorRow<T extends readonly Tensor[]> = { -readonly [K in keyof T]: Tensor };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type SampleKind = 'tensor' | 'number' | 'bigint' | 'boolean' | 'string' | 'array' | 'object' | 'other';

function kindOf(sample: unknown): SampleKind {
  if (sample instanceof Tensor) return 'tensor';
  if (Array.isArray(sample)) return 'array';
  if (isPlainObject(sample)) return 'object';
  const type = typeof sample;
  return type === 'number' || type === 'bigint' || type === 'boolean' || type === 'string' ? type : 'other';
}

function collate(samples: readonly unknown[], where: string): unknown {
  const first = samples[0];
  const kind = kindOf(first);
  if (kind === 'other') {
    throw new TypeError(`defaultCollate: batch must contain tensors, numbers, bigints, booleans, strings, arrays or plain objects; ` +
      `found ${describe(first)}${where}`);
  }
  samples.forEach((sample, k) => {
    if (kindOf(sample) !== kind) {
      throw new TypeError(`defaultCollate: sample ${k}${where} is ${describe(sample)} but sample 0${where} is ${describe(first)}; ` +
        'every sample needs the same structure');
    }
  });
  switch (kind) {
    case 'tensor':
      return stack(samples as Tensor[], 0);
    case 'number':
      // torch's default_collate makes Python floats float64 (JS numbers cannot say they are ints).
      return tensor(Float64Array.from(samples as number[]), { copy: true });
    case 'bigint':
      return tensor(BigInt64Array.from(samples as bigint[]), { copy: true });
    case 'boolean':
      return tensor(Uint8Array.from(samples as boolean[], Number), { dtype: 'bool', copy: true });
    case 'string':
      return [...samples];
    case 'array': {
      const size = (first as unknown[]).length;
      samples.forEach((sample, k) => {
        if ((sample as unknown[]).length !== size) {
          throw new RangeError(`defaultCollate: each element in list of batch should be of equal size: sample ${k}${where} has ` +
            `${(sample as unknown[]).length} elements, sample 0${where} ${size}`);
        }
      });
      return Array.from({ length: size }, (_, j) => collate(samples.map((s) => (s as unknown[])[j]), `${where}[${j}]`));
    }
    default: {
      const keys = Object.keys(first as object);
      return Object.fromEntries(keys.map((key) => {
        const values = samples.map((sample, k) => {
          if (!Object.prototype.hasOwnProperty.call(sample, key)) {
            throw new TypeError(`defaultCollate: sample ${k}${where} has no key '${key}', which sample 0${where} has`);
          }
          return (sample as Record<string, unknown>)[key];
        });
        return [key, collate(values, `${where}.${key}`)];
      }));
    }
  }
}

/**
 * torch's `default_collate`: batches `samples` (one per example, all of the same structure) as
 * `Collated<T>` describes. Tensors must have equal shapes (stacking them makes a [B, ...]
 * tensor of their dtype). Numbers give float64 (as Python floats do): for int64 labels return
 * bigints or int64 tensors from `get()`. The tensors returned are new and owned by the caller;
 * on an error none is left behind.
 * @throws TypeError for an empty batch, samples of different structure, and values other than
 *   the ones listed; RangeError for arrays of different lengths; Error for tensors of different shapes
 */
export function defaultCollate<T>(samples: readonly T[]): Collated<T> {
  if (!Array.isArray(samples) || samples.length === 0) {
    throw new TypeError(`defaultCollate: expected a non-empty array of samples, got ${describe(samples)}`);
  }
  return tidy(() => collate(samples, '')) as Collated<T>;
}

/**
 * A dataset of tensors that share their first dimension (one row per example), as
 * `torch.utils.data.TensorDataset`: example i is `[t[i] for t of tensors]`. The dataset holds the
 * tensors it was given (not copies) and does not dispose them; `dispose()` does, when you are done
 * with them. Tensors on a GPU are batched there.
 */
export class TensorDataset<T extends readonly Tensor[] = Tensor[]> implements Dataset<TensorRow<T>> {
  /** The tensors, as given. */
  readonly tensors: T;

  /**
   * @throws TypeError without tensors or for a non-Tensor; RangeError (PyTorch's "Size mismatch
   *   between tensors") when their first dimensions differ or one has no dimension
   */
  constructor(...tensors: T) {
    if (tensors.length === 0) throw new TypeError('TensorDataset: pass at least one tensor (one row per example)');
    tensors.forEach((t, k) => {
      if (!(t instanceof Tensor)) throw new TypeError(`TensorDataset: argument ${k} is ${describe(t)}, not a Tensor`);
      if (t.ndim === 0) throw new RangeError(`TensorDataset: tensors[${k}] is 0-dimensional; every tensor needs a first dimension (one row per example)`);
    });
    const rows = tensors[0].shape[0];
    tensors.forEach((t, k) => {
      if (t.shape[0] !== rows) {
        throw new RangeError(`TensorDataset: Size mismatch between tensors: tensors[${k}] has ${t.shape[0]} rows (size(0)), tensors[0] has ${rows}; ` +
          'every tensor needs one row per example');
      }
    });
    this.tensors = tensors;
  }

  /**
   * A dataset from plain JS arrays: `features[i]` (a number or nested arrays, the same shape for
   * every i) and `labels[i]`. Features are float32 (or `featureDtype`). Labels are float32 when
   * one of them has a fraction; when all are integers, `labelDtype` must say what they are
   * ('int64' for class indices, as crossEntropy takes them, 'float32'/'float64' for values),
   * so that no dtype is ever guessed from the values. The tensors are new: free them with
   * `dispose()`.
   * @throws RangeError when the arrays differ in length, when all labels are integers and
   *   `labelDtype` is absent, or when `labelDtype` is 'int64' and a label is not an integer;
   *   TypeError for ragged or non-numeric arrays
   */
  static fromArrays(features: readonly NestedInput[], labels: readonly NestedInput[], options?: FromArraysOptions | null): TensorDataset<[Tensor, Tensor]> {
    if (!Array.isArray(features) || !Array.isArray(labels)) {
      throw new TypeError(`TensorDataset.fromArrays: features and labels must be arrays (one entry per example), got ${describe(features)} and ${describe(labels)}`);
    }
    if (features.length !== labels.length) {
      throw new RangeError(`TensorDataset.fromArrays: Size mismatch between tensors: ${features.length} feature rows but ${labels.length} labels; one of each per example`);
    }
    const o = options ?? {};
    const featureDtype = o.featureDtype ?? 'float32';
    if (featureDtype !== 'float32' && featureDtype !== 'float64') {
      throw new RangeError(`TensorDataset.fromArrays: featureDtype must be 'float32' or 'float64', got ${describe(featureDtype)}`);
    }
    const leaves: number[] = [];
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (typeof v === 'number') leaves.push(v);
      else if (typeof v === 'boolean') leaves.push(Number(v));
      else throw new TypeError(`TensorDataset.fromArrays: labels must be numbers (or arrays of numbers), found ${describe(v)}`);
    };
    labels.forEach(visit);
    const fraction = leaves.find((v) => !Number.isInteger(v));
    let labelDtype = o.labelDtype;
    if (labelDtype === undefined) {
      if (fraction === undefined) {
        throw new RangeError("TensorDataset.fromArrays: every label is an integer: pass labelDtype: 'int64' for class indices " +
          "(what crossEntropy takes) or 'float32' for values, since a dtype guessed from the values could be the wrong one");
      }
      labelDtype = 'float32';
    } else if (labelDtype !== 'int64' && labelDtype !== 'float32' && labelDtype !== 'float64') {
      throw new RangeError(`TensorDataset.fromArrays: labelDtype must be 'int64', 'float32' or 'float64', got ${describe(labelDtype)}`);
    } else if (labelDtype === 'int64' && fraction !== undefined) {
      throw new RangeError(`TensorDataset.fromArrays: labelDtype is 'int64' but label ${fraction} is not an integer`);
    }
    const dtype = labelDtype;
    // A scope, so that nothing is left behind when the second conversion fails.
    const [x, y] = tidy(() => [tensor(features as NestedInput, { dtype: featureDtype }), tensor(labels as NestedInput, { dtype })]);
    return new TensorDataset(x, y);
  }

  /** The number of examples: the tensors' first dimension. */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /**
   * Example `index`: each tensor's row `index` (a view, `t.select(0, index)`: it shares the
   * dataset's memory). The caller owns the returned tensors.
   * @throws RangeError for an index outside 0..length-1
   */
  get(index: number): TensorRow<T> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`TensorDataset.get: index ${describe(index)} is out of range for ${this.length} examples (0..${this.length - 1})`);
    }
    return this.tensors.map((t) => t.select(0, index)) as unknown as TensorRow<T>;
  }

  /** The rows at `indices` of every tensor (`indexSelect(0, indices)`): new tensors the caller owns. */
  getBatch(indices: Int32Array): Collated<TensorRow<T>> {
    return tidy(() => {
      const onDevice = new Map<string, Tensor>();
      return this.tensors.map((t) => {
        let index = onDevice.get(t.device);
        if (index === undefined) {
          // int32, sharing `indices`' memory on the CPU until the scope ends
          index = t.device === 'cpu' ? tensor(indices) : tensor(indices, { device: t.device });
          onDevice.set(t.device, index);
        }
        return t.indexSelect(0, index);
      });
    }) as unknown as Collated<TensorRow<T>>;
  }

  /** Disposes the dataset's tensors (those given to the constructor too). Idempotent. */
  dispose(): void {
    for (const t of this.tensors) t.dispose();
  }

  /** `using data = ...` disposes the tensors at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True once every tensor is disposed. */
  get isDisposed(): boolean {
    return this.tensors.every((t) => t.isDisposed);
  }
}

/** Options of `TensorDataset.fromArrays()`. */
export interface FromArraysOptions {
  /** dtype of the feature tensor; default 'float32'. */
  featureDtype?: 'float32' | 'float64';
  /**
   * dtype of the label tensor: 'int64' (class indices), 'float32' or 'float64'. Required when
   * every label is an integer; otherwise 'float32' by default.
   */
  labelDtype?: 'int64' | 'float32' | 'float64';
}

/**
 * The examples of `dataset` at `indices`, in that order, as `torch.utils.data.Subset`. It
 * refers to the dataset, which must outlive it.
 */
export class Subset<T> implements Dataset<T> {
  readonly dataset: Dataset<T>;
  /** Indices into `dataset`, each in 0..dataset.length-1. */
  readonly indices: readonly number[];

  /** @throws TypeError unless `dataset` is a Dataset; RangeError for an index outside the dataset */
  constructor(dataset: Dataset<T>, indices: readonly number[]) {
    checkDataset(dataset, 'Subset');
    if (!Array.isArray(indices) && !ArrayBuffer.isView(indices)) throw new TypeError(`Subset: indices must be an array of integers, got ${describe(indices)}`);
    const n = dataset.length;
    const copy = Array.from(indices as ArrayLike<number>);
    copy.forEach((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= n) {
        throw new RangeError(`Subset: indices[${k}] = ${describe(i)} is outside the dataset's ${n} examples (0..${n - 1})`);
      }
    });
    this.dataset = dataset;
    this.indices = Object.freeze(copy);
  }

  get length(): number {
    return this.indices.length;
  }

  /** Example `indices[index]` of the dataset. */
  get(index: number): T {
    if (!Number.isInteger(index) || index < 0 || index >= this.indices.length) {
      throw new RangeError(`Subset.get: index ${describe(index)} is out of range for ${this.indices.length} examples (0..${this.indices.length - 1})`);
    }
    return this.dataset.get(this.indices[index]);
  }

  /** The dataset's batch of those examples: its own `getBatch` when it has one, else `defaultCollate` of `get()`. */
  getBatch(indices: Int32Array): Collated<T> {
    const mapped = Int32Array.from(indices, (i) => {
      if (i < 0 || i >= this.indices.length) throw new RangeError(`Subset.getBatch: index ${i} is out of range for ${this.indices.length} examples`);
      return this.indices[i];
    });
    return batchOf(this.dataset, mapped);
  }
}

/** The collated examples at `indices` of `dataset` (its getBatch, or defaultCollate of get()), owned by the caller. @internal */
export function batchOf<T>(dataset: Dataset<T>, indices: Int32Array): Collated<T> {
  if (typeof dataset.getBatch === 'function') return dataset.getBatch(indices);
  return tidy(() => defaultCollate(Array.from(indices, (i) => dataset.get(i))));
}

/** Whether `value` looks like a Dataset (a non-negative integer `length` and a `get` method). @internal */
export function isDataset(value: unknown): value is Dataset<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Partial<Dataset<unknown>>;
  return typeof d.get === 'function' && typeof d.length === 'number' && Number.isInteger(d.length) && d.length >= 0;
}

function checkDataset(dataset: unknown, what: string): asserts dataset is Dataset<unknown> {
  if (!isDataset(dataset)) {
    throw new TypeError(`${what}: expected a Dataset (an object with a non-negative integer length and get(index)), got ${describe(dataset)}`);
  }
}

/** Options of `randomSplit()`. */
export interface RandomSplitOptions {
  /** Seed of the permutation (a non-negative safe integer); without it, seeded from `crypto`. */
  seed?: number;
}

// Python's math.isclose(a, b) with its defaults (rel_tol=1e-09, abs_tol=0).
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Splits `dataset` into non-overlapping Subsets of the given lengths, with PyTorch's
 * `random_split` rules: lengths summing to the dataset's length, or fractions summing to 1
 * (within Python's math.isclose, and not above 1), which become floor(fraction * length) each,
 * the remainder handed out one by one from the first split on. The examples are permuted with
 * the DataLoader's generator (xoshiro128**, Fisher-Yates), not PyTorch's: a seed reproduces the
 * same split in every torchbridge run, not the one PyTorch draws.
 * @throws RangeError with PyTorch's messages ("Fraction at index i is not between 0 and 1", "Sum
 *   of input lengths does not equal the length of the input dataset!") and for lengths that are
 *   not non-negative integers
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], options?: RandomSplitOptions | null): Subset<T>[] {
  checkDataset(dataset, 'randomSplit');
  if (!Array.isArray(lengths) || lengths.length === 0 || lengths.some((l) => typeof l !== 'number')) {
    throw new TypeError(`randomSplit: lengths must be a non-empty array of numbers (lengths or fractions), got ${describe(lengths)}`);
  }
  const n = dataset.length;
  let sizes = [...lengths];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (isClose(total, 1) && total <= 1) {
    sizes = sizes.map((fraction, i) => {
      if (fraction < 0 || fraction > 1) throw new RangeError(`randomSplit: Fraction at index ${i} is not between 0 and 1`);
      return Math.floor(n * fraction);
    });
    const remainder = n - sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; ++i) sizes[i % sizes.length] += 1;
  }
  const sum = sizes.reduce((a, b) => a + b, 0);
  if (sum !== n) {
    throw new RangeError(`randomSplit: Sum of input lengths does not equal the length of the input dataset! (lengths sum to ${sum}, ` +
      `the dataset has ${n} examples)`);
  }
  sizes.forEach((size, i) => {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`randomSplit: lengths[${i}] is ${size}; pass non-negative integer lengths, or fractions that sum to 1`);
    }
  });
  const order = Array.from(permutation(n, new Xoshiro128StarStar(seedOf(options?.seed, 'randomSplit'))));
  let offset = 0;
  return sizes.map((size) => new Subset(dataset, order.slice(offset, (offset += size))));
}

/** A seed as the DataLoader and randomSplit take it: `seed`, or one from `crypto`. @internal */
export function seedOf(seed: number | undefined, what: string): number {
  const value = seed ?? randomBytes(6).readUIntLE(0, 6);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what}: seed must be a non-negative safe integer, got ${value}`);
  return value;
}

/** 0..n-1 in the order of a Fisher-Yates shuffle driven by `random`. @internal */
export function permutation(n: number, random: Xoshiro128StarStar): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; ++i) order[i] = i;
  shuffleInPlace(order, random);
  return order;
}

/** Fisher-Yates shuffle of `items` with unbiased bounded integers from `random`. @internal */
export function shuffleInPlace(items: Int32Array | number[], random: Xoshiro128StarStar): void {
  for (let i = items.length - 1; i > 0; --i) {
    const j = random.below(i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

const MASK64 = (1n << 64n) - 1n;

// SplitMix64 (Steele, Lea and Flood), the seeding Blackman and Vigna recommend for xoshiro.
function splitMix64(state: bigint): [next: bigint, output: bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** xoshiro128** 1.1: 32-bit outputs, period 2^128 - 1, its state seeded by SplitMix64. @internal */
export class Xoshiro128StarStar {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    let state = BigInt(seed);
    for (let k = 0; k < 4; k += 2) {
      const [next, output] = splitMix64(state);
      state = next;
      this.s[k] = Number(output & 0xffffffffn);
      this.s[k + 1] = Number(output >> 32n);
    }
  }

  /** The next 32-bit output, as an unsigned integer. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform integer in [0, bound), bound <= 2^32, without modulo bias (rejection as OpenBSD's arc4random_uniform). */
  below(bound: number): number {
    const threshold = (2 ** 32 - bound) % bound;
    for (;;) {
      const r = this.next();
      if (r >= threshold) return r % bound;
    }
  }
}
