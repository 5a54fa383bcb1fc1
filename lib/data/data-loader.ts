/**
 * A minimal `torch.utils.data.DataLoader`: minibatches of a map-style `Dataset` (collated with
 * `defaultCollate`, or the dataset's own `getBatch`), or of a dataset held as tensors (such as
 * `SNLIBERTDataset`, batched as `[inputs, labels]`), optionally shuffled with a seeded generator,
 * each built while the previous one is in use.
 */
import { tensor } from '../core/creation';
import { keep, tidy } from '../core/scope';
import { Tensor } from '../core/tensor';
import { Collated, Dataset, TensorDataset, Xoshiro128StarStar, batchOf, isDataset, seedOf, shuffleInPlace } from './dataset';
import { Sampler } from './distributed-sampler';

/**
 * What `DataLoader` batches as `[inputs, labels]`: CPU input tensors and a CPU label tensor that
 * share their first dimension (one row per example), e.g. `SNLIBERTDataset` (`inputs` =
 * `[tokens, segments, validLens]`). Batches are moved to a device by whoever consumes them, as in d2l.
 */
export interface BatchableDataset<X extends readonly Tensor[]> {
  /** The model's inputs, each [N, ...]. */
  readonly inputs: X;
  /** [N, ...] targets. */
  readonly labels: Tensor;
}

/** One minibatch of a BatchableDataset: the rows of every input tensor, in the same order, and their labels. */
export type Batch<X extends readonly Tensor[]> = [inputs: { -readonly [K in keyof X]: Tensor }, labels: Tensor];

/**
 * The batches of `DataLoader<S>`: for `S` a tuple of input tensors (a BatchableDataset's
 * `inputs`), `Batch<S>`; for `S` a `Dataset<T>`, `Collated<T>` (a TensorDataset of [x, y]
 * gives `[X, Y]`).
 */
export type LoaderBatch<S> = S extends readonly Tensor[] ? Batch<S> : S extends Dataset<infer T> ? Collated<T> : never;

/** The dataset of `DataLoader<S>`. */
export type LoaderDataset<S> = S extends readonly Tensor[] ? BatchableDataset<S> : S;

/** Options of `new DataLoader()` other than `transform`. */
export interface DataLoaderBaseOptions {
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
   * Length bucketing (off by default): each epoch's order (shuffled or not) is cut into pools of
   * `poolBatches` batches, each pool is sorted by `lengths` (one per example) and cut into
   * batches, and with `shuffle` the batches are visited in random order. Batches then hold
   * examples of similar lengths, so trimming them to their longest example removes more padding.
   */
  bucket?: { lengths: ArrayLike<number>; poolBatches?: number };
  /**
   * Where each epoch's example indices come from instead (PyTorch's `sampler`), e.g. a
   * `DistributedSampler` that gives this rank its shard: the loader visits `sampler.indices()`
   * in order (cut into length buckets when `bucket` is set). Exclusive with `shuffle`, as in
   * PyTorch; call the sampler's `setEpoch` before each epoch.
   */
  sampler?: Sampler;
}

/**
 * Applied to each batch as it is built (after collation; PyTorch's `collate_fn` role), e.g.
 * `SNLIBERTDataset.trimBatch`. It runs in a scope: the tensors it returns belong to the loader,
 * which disposes them with the batch (so return new tensors or the batch's own, never a
 * dataset's), and the batch's own tensors that it does not return are disposed.
 */
export type BatchTransform<B> = (batch: B) => B;

/** Options of `new DataLoader()` for batches of type `LoaderBatch<S>`. */
export interface DataLoaderOptions<S = readonly Tensor[]> extends DataLoaderBaseOptions {
  /** See `BatchTransform`. */
  transform?: BatchTransform<LoaderBatch<S>>;
}

// What the constructor needs of a map-style dataset (a Dataset<T> of any T).
interface MapStyle {
  readonly length: number;
  get(index: number): unknown;
}

/** Default pool of length bucketing, in batches: large enough to sort well, small enough to stay random. */
const DEFAULT_POOL_BATCHES = 50;

/**
 * Batches `dataset` (d2l's `torch.utils.data.DataLoader(dataset, batch_size, shuffle)`). Each
 * `for await` over the loader is one epoch, yielding `length` batches:
 * - a `Dataset<T>` (TensorDataset, Subset, or any object with `length` and `get(index)`): each
 *   batch is `dataset.getBatch(rows)` when the dataset has it (TensorDataset: `indexSelect` of
 *   each tensor), else `defaultCollate` of `get(i)` for its examples (`Collated<T>`);
 * - a `BatchableDataset` (`{inputs, labels}`): `[inputs, labels]` built with `indexSelect(0, rows)`,
 *   so int64 inputs stay int64.
 * Both visit the examples in the same order for the same seed, so a TensorDataset of
 * `[...inputs, labels]` gives the same rows as the BatchableDataset of those tensors. The
 * dataset's `length` is read once, here.
 *
 * Ownership: the loader owns the batches it yields (every tensor in them). Batch k is disposed
 * when batch k + 1 is requested, and the last one when the epoch ends or the loop is left early
 * (`break`, `return`, an exception: `for await` calls the iterator's `return()`), so a training
 * loop leaks nothing. To keep a batch beyond its step, `clone()` its tensors. Tensors that
 * `get()` creates are disposed as soon as the batch is collated.
 *
 * Prefetch: once batch k is handed out, batch k + 1 is built on the next turn of the event
 * loop, i.e. while the consumer awaits its (asynchronous) training step; if the consumer asks
 * before that happened, it is built on demand.
 *
 * Shuffling uses xoshiro128** (Blackman and Vigna), its state seeded by SplitMix64 from `seed`,
 * with a Fisher-Yates shuffle and unbiased bounded integers. The generator advances from epoch
 * to epoch, so epochs differ and a given seed reproduces the whole sequence.
 */
export class DataLoader<S> implements AsyncIterable<LoaderBatch<S>> {
  readonly dataset: LoaderDataset<S>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly examples: number;
  private readonly random: Xoshiro128StarStar;
  private readonly transform: ((batch: LoaderBatch<S>) => LoaderBatch<S>) | undefined;
  private readonly bucket: { lengths: Float64Array; poolBatches: number } | undefined;
  private readonly build: (rows: Int32Array) => LoaderBatch<S>;
  private readonly sampler: Sampler | undefined;
  private readonly datasetExamples: number | undefined;  // with a sampler: the dataset's examples

  /**
   * @param dataset a Dataset, or a BatchableDataset (`{inputs, labels}`)
   * @param batchSize examples per batch (a positive integer)
   * @throws TypeError for anything else than those datasets; RangeError for a bad batch size,
   *   seed or bucket, or (BatchableDataset) tensors with different first dimensions
   */
  constructor(dataset: BatchableDataset<S & readonly Tensor[]>, batchSize: number,
    options?: DataLoaderBaseOptions & { transform?: BatchTransform<Batch<S & readonly Tensor[]>> });
  constructor(dataset: S & MapStyle, batchSize: number, options?: DataLoaderOptions<S>);
  constructor(dataset: BatchableDataset<readonly Tensor[]> | MapStyle, batchSize: number, options: DataLoaderOptions<S> = {}) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    let examples: number;
    if (isBatchable(dataset)) {
      const rows = dataset.labels.shape[0];
      if (rows === undefined) throw new RangeError('DataLoader: labels must have at least one dimension (one row per example)');
      dataset.inputs.forEach((input, k) => {
        if (input.shape[0] !== rows) {
          throw new RangeError(`DataLoader: inputs[${k}] has ${input.shape[0]} rows but labels have ${rows}; every tensor needs one row per example`);
        }
      });
      examples = rows;
      this.build = (index) => tensorBatch(dataset, index) as LoaderBatch<S>;
    } else if (isDataset(dataset)) {
      examples = dataset.length;
      this.build = (index) => batchOf(dataset, index) as LoaderBatch<S>;
    } else {
      throw new TypeError('DataLoader: dataset must be a Dataset (length and get(index), e.g. a TensorDataset) or tensors ' +
        `as {inputs: Tensor[], labels: Tensor}; got ${dataset === null ? 'null' : typeof dataset}`);
    }
    const seed = seedOf(options.seed, 'DataLoader');
    this.dataset = dataset as LoaderDataset<S>;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    if (options.sampler !== undefined) {
      const sampler = options.sampler as Partial<Sampler> | null;
      if (sampler === null || typeof sampler !== 'object' || typeof sampler.indices !== 'function' || !Number.isInteger(sampler.length)) {
        throw new TypeError('DataLoader: sampler must have length and indices() (e.g. a DistributedSampler)');
      }
      if (this.shuffle) throw new TypeError('DataLoader: sampler option is mutually exclusive with shuffle (the sampler decides the order)');
      this.sampler = options.sampler;
      this.datasetExamples = examples;
      examples = options.sampler.length;
    }
    this.examples = examples;
    this.random = new Xoshiro128StarStar(seed);
    if (options.transform !== undefined && typeof options.transform !== 'function') throw new TypeError('DataLoader: transform must be a function');
    this.transform = options.transform;
    if (options.bucket !== undefined) {
      const lengths = Float64Array.from(options.bucket.lengths);
      const total = this.datasetExamples ?? examples;  // one length per example of the dataset
      if (lengths.length !== total) throw new RangeError(`DataLoader: bucket.lengths has ${lengths.length} entries for ${total} examples`);
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
  [Symbol.asyncIterator](): AsyncGenerator<LoaderBatch<S>, void, undefined> {
    return this.epoch();
  }

  private async *epoch(): AsyncGenerator<LoaderBatch<S>, void, undefined> {
    const order = this.order();
    const batches = this.length;
    let current: LoaderBatch<S> | undefined;
    let prefetched: LoaderBatch<S> | undefined;
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
    let order: Int32Array;
    if (this.sampler !== undefined) {
      order = Int32Array.from(this.sampler.indices());
      const n = this.datasetExamples!;
      if (order.length !== this.examples || order.some((i) => !(i >= 0 && i < n))) {
        throw new RangeError(`DataLoader: the sampler gave ${order.length} indices (its length says ${this.examples}), each must be in [0, ${n})`);
      }
    } else {
      order = new Int32Array(this.examples);
      for (let i = 0; i < order.length; ++i) order[i] = i;
    }
    if (this.shuffle) shuffleInPlace(order, this.random);
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
    shuffleInPlace(batches, this.random);
    const out = new Int32Array(order.length);
    batches.forEach((b, k) => out.set(order.subarray(b * this.batchSize, (b + 1) * this.batchSize), k * this.batchSize));
    out.set(order.subarray(full * this.batchSize), full * this.batchSize);
    return out;
  }

  private batch(order: Int32Array, b: number): LoaderBatch<S> {
    const start = b * this.batchSize;
    const rows = order.subarray(start, Math.min(start + this.batchSize, order.length));
    return tidy(() => {
      const built = this.build(rows);
      const out = this.transform === undefined ? built : this.transform(built);
      // keep(): the loader, not whatever scope happens to be open, decides when batches go.
      for (const t of tensorsIn(out)) keep(t);
      return out;
    });
  }
}

function isBatchable(dataset: unknown): dataset is BatchableDataset<readonly Tensor[]> {
  const d = dataset as Partial<BatchableDataset<readonly Tensor[]>> | null;
  return typeof d === 'object' && d !== null && Array.isArray(d.inputs) && d.labels instanceof Tensor;
}

function tensorBatch(dataset: BatchableDataset<readonly Tensor[]>, rows: Int32Array): Batch<readonly Tensor[]> {
  const index = tensor(rows);  // int32, sharing `order`'s memory until the caller's scope ends
  return [dataset.inputs.map((input) => input.indexSelect(0, index)), dataset.labels.indexSelect(0, index)];
}

// The tensors of a batch: in arrays and plain objects, nested (what defaultCollate builds).
function tensorsIn(value: unknown, out: Tensor[] = []): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (Array.isArray(value)) for (const item of value) tensorsIn(item, out);
  else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) tensorsIn(item, out);
  }
  return out;
}

function disposeBatch(batch: unknown): void {
  for (const t of tensorsIn(batch)) t.dispose();
}

/**
 * d2l's `load_array`: a DataLoader over a TensorDataset of `dataArrays` (tensors sharing their
 * first dimension, e.g. `[features, labels]`), shuffled when `isTrain`. The loader refers to the
 * tensors, which the caller keeps owning; its batches are `[X, Y, ...]`.
 */
export function loadArray<T extends readonly Tensor[]>(dataArrays: T, batchSize: number, isTrain = true,
  options?: { seed?: number } | null): DataLoader<TensorDataset<T>> {
  const given: unknown = dataArrays;
  if (!Array.isArray(given)) throw new TypeError('loadArray: dataArrays must be an array of tensors, e.g. [features, labels]');
  return new DataLoader(new TensorDataset<T>(...dataArrays), batchSize, { shuffle: isTrain, seed: options?.seed });
}

