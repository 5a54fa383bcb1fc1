/**
 * A minimal `torch.utils.data.DataLoader` for datasets held as tensors (such as
 * `SNLIBERTDataset`): minibatches of `[inputs, labels]`, optionally shuffled with a seeded
 * generator, each built while the previous one is in use.
 */
import { randomBytes } from 'crypto';

import { tensor } from '../core/creation';
import { keep, tidy } from '../core/scope';
import { Tensor } from '../core/tensor';

/**
 * What `DataLoader` batches: CPU input tensors and a CPU label tensor that share their first
 * dimension (one row per example), e.g. `SNLIBERTDataset` (`inputs` = `[tokens, segments, validLens]`).
 * Batches are moved to a device by whoever consumes them, as in d2l.
 */
export interface BatchableDataset<X extends readonly Tensor[]> {
  /** The model's inputs, each [N, ...]. */
  readonly inputs: X;
  /** [N, ...] targets. */
  readonly labels: Tensor;
}

/** One minibatch: the rows of every input tensor, in the same order, and their labels. */
export type Batch<X extends readonly Tensor[]> = [inputs: { -readonly [K in keyof X]: Tensor }, labels: Tensor];

/** Options of `new DataLoader()`. */
export interface DataLoaderOptions<X extends readonly Tensor[] = readonly Tensor[]> {
  /** Visit the examples in a new random order every epoch (default false: in order). */
  shuffle?: boolean;
  /**
   * Seed of the shuffling generator (a non-negative safe integer): the same seed gives the same
   * sequence of epoch orders in every run. Without it, the generator is seeded from `crypto`.
   */
  seed?: number;
  /** Leave out the last batch when it would be smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /**
   * Applied to each batch as it is built (PyTorch's `collate_fn` role), e.g.
   * `SNLIBERTDataset.trimBatch`. It runs in a scope: the tensors it returns belong to the loader,
   * the batch's own tensors that it does not return are disposed.
   */
  transform?: (batch: Batch<X>) => Batch<X>;
  /**
   * Length bucketing (off by default): each epoch's order (shuffled or not) is cut into pools of
   * `poolBatches` batches, each pool is sorted by `lengths` (one per example) and cut into
   * batches, and with `shuffle` the batches are visited in random order. Batches then hold
   * examples of similar lengths, so trimming them to their longest example removes more padding.
   */
  bucket?: { lengths: ArrayLike<number>; poolBatches?: number };
}

/** Default pool of length bucketing, in batches: large enough to sort well, small enough to stay random. */
const DEFAULT_POOL_BATCHES = 50;

/**
 * Batches `dataset` (d2l's `torch.utils.data.DataLoader(dataset, batch_size, shuffle)`). Each
 * `for await` over the loader is one epoch, yielding `length` batches of `[inputs, labels]`
 * built with `indexSelect(0, rows)`, so int64 inputs stay int64.
 *
 * Ownership: the loader owns the batches it yields. Batch k is disposed when batch k + 1 is
 * requested, and the last one when the epoch ends or the loop is left early (`break`, `return`,
 * an exception: `for await` calls the iterator's `return()`), so a training loop leaks nothing.
 * To keep a batch beyond its step, `clone()` its tensors.
 *
 * Prefetch: once batch k is handed out, batch k + 1 is built on the next turn of the event
 * loop, i.e. while the consumer awaits its (asynchronous) training step; if the consumer asks
 * before that happened, it is built on demand.
 *
 * Shuffling uses xoshiro128** (Blackman and Vigna), its state seeded by SplitMix64 from `seed`,
 * with a Fisher-Yates shuffle and unbiased bounded integers. The generator advances from epoch
 * to epoch, so epochs differ and a given seed reproduces the whole sequence.
 */
export class DataLoader<X extends readonly Tensor[]> implements AsyncIterable<Batch<X>> {
  readonly dataset: BatchableDataset<X>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly examples: number;
  private readonly random: Xoshiro128StarStar;
  private readonly transform: ((batch: Batch<X>) => Batch<X>) | undefined;
  private readonly bucket: { lengths: Float64Array; poolBatches: number } | undefined;

  constructor(dataset: BatchableDataset<X>, batchSize: number, options: DataLoaderOptions<X> = {}) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    const examples = dataset.labels.shape[0];
    if (examples === undefined) throw new RangeError('DataLoader: labels must have at least one dimension (one row per example)');
    dataset.inputs.forEach((input, k) => {
      if (input.shape[0] !== examples) {
        throw new RangeError(`DataLoader: inputs[${k}] has ${input.shape[0]} rows but labels have ${examples}; every tensor needs one row per example`);
      }
    });
    const seed = options.seed ?? randomBytes(6).readUIntLE(0, 6);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`DataLoader: seed must be a non-negative safe integer, got ${seed}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.examples = examples;
    this.random = new Xoshiro128StarStar(seed);
    if (options.transform !== undefined && typeof options.transform !== 'function') throw new TypeError('DataLoader: transform must be a function');
    this.transform = options.transform;
    if (options.bucket !== undefined) {
      const lengths = Float64Array.from(options.bucket.lengths);
      if (lengths.length !== examples) throw new RangeError(`DataLoader: bucket.lengths has ${lengths.length} entries for ${examples} examples`);
      const poolBatches = options.bucket.poolBatches ?? DEFAULT_POOL_BATCHES;
      if (!Number.isInteger(poolBatches) || poolBatches < 1) throw new RangeError(`DataLoader: bucket.poolBatches must be a positive integer, got ${poolBatches}`);
      this.bucket = { lengths, poolBatches };
    }
  }

  /** The number of batches in an epoch (d2l's `len(train_iter)`). */
  get length(): number {
    return this.dropLast ? Math.floor(this.examples / this.batchSize) : Math.ceil(this.examples / this.batchSize);
  }

  /** One epoch: a fresh order (when shuffling), then its batches. See the class notes on ownership. */
  [Symbol.asyncIterator](): AsyncGenerator<Batch<X>, void, undefined> {
    return this.epoch();
  }

  private async *epoch(): AsyncGenerator<Batch<X>, void, undefined> {
    const order = this.order();
    const batches = this.length;
    let current: Batch<X> | undefined;
    let prefetched: Batch<X> | undefined;
    let timer: NodeJS.Immediate | undefined;
    try {
      for (let b = 0; b < batches; ++b) {
        clearImmediate(timer);
        current = prefetched ?? this.batch(order, b);
        prefetched = undefined;
        if (b + 1 < batches) {
          timer = setImmediate(() => {
            timer = undefined;
            prefetched = this.batch(order, b + 1);
          });
        }
        yield current;
        disposeBatch(current);
        current = undefined;
      }
    } finally {
      clearImmediate(timer);
      if (current !== undefined) disposeBatch(current);
      if (prefetched !== undefined) disposeBatch(prefetched);
    }
  }

  // The examples of one epoch, in visiting order.
  private order(): Int32Array {
    const order = new Int32Array(this.examples);
    for (let i = 0; i < order.length; ++i) order[i] = i;
    if (this.shuffle) {
      for (let i = order.length - 1; i > 0; --i) {
        const j = this.random.below(i + 1);
        const t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    return this.bucket === undefined ? order : this.bucketed(order, this.bucket);
  }

  // Pools of the order sorted by length, cut into batches, the batches visited in random order
  // when shuffling. The last (short) batch of the epoch stays last, so dropLast still drops it.
  private bucketed(order: Int32Array, bucket: { lengths: Float64Array; poolBatches: number }): Int32Array {
    const pool = bucket.poolBatches * this.batchSize;
    for (let start = 0; start < order.length; start += pool) {
      order.subarray(start, Math.min(start + pool, order.length)).sort((a, b) => bucket.lengths[a] - bucket.lengths[b] || a - b);
    }
    if (!this.shuffle) return order;
    const full = Math.floor(order.length / this.batchSize);
    const batches = Array.from({ length: full }, (_, b) => b);
    for (let i = batches.length - 1; i > 0; --i) {
      const j = this.random.below(i + 1);
      [batches[i], batches[j]] = [batches[j], batches[i]];
    }
    const out = new Int32Array(order.length);
    batches.forEach((b, k) => out.set(order.subarray(b * this.batchSize, (b + 1) * this.batchSize), k * this.batchSize));
    out.set(order.subarray(full * this.batchSize), full * this.batchSize);
    return out;
  }

  private batch(order: Int32Array, b: number): Batch<X> {
    const start = b * this.batchSize;
    const rows = order.subarray(start, Math.min(start + this.batchSize, order.length));
    return tidy(() => {
      const index = tensor(rows);  // int32, sharing `order`'s memory until the scope ends
      const inputs = this.dataset.inputs.map((input) => input.indexSelect(0, index));
      // map() keeps the tuple's length and order, which its type cannot express.
      const built: Batch<X> = [inputs as Batch<X>[0], this.dataset.labels.indexSelect(0, index)];
      const [outInputs, outLabels] = this.transform === undefined ? built : this.transform(built);
      // keep(): the loader, not whatever scope happens to be open, decides when batches go.
      return [(outInputs as Tensor[]).map((t) => keep(t)) as Batch<X>[0], keep(outLabels)];
    });
  }
}

function disposeBatch<X extends readonly Tensor[]>([inputs, labels]: Batch<X>): void {
  for (const input of inputs as readonly Tensor[]) input.dispose();
  labels.dispose();
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

/** xoshiro128** 1.1: 32-bit outputs, period 2^128 - 1. */
class Xoshiro128StarStar {
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
