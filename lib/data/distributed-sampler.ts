/**
 * `torch.utils.data.distributed.DistributedSampler`: the indices of one rank's shard of a
 * dataset, for data-parallel training over several processes. Every rank builds the same epoch
 * order (a permutation drawn from a generator seeded with `seed + epoch`, as PyTorch draws it,
 * so a Node rank and a Python rank read the same shards), makes it divisible by the number of
 * replicas (padding it with its own first indices, or dropping the tail with `dropLast`), and
 * takes every `numReplicas`-th index from `rank` on.
 */
import { describe } from '../core/describe';
import { randperm } from '../core/creation';
import { optionsOf } from '../core/tensor';

/** What a DataLoader's `sampler` option takes: the example indices of each epoch. */
export interface Sampler {
  /** The number of indices `indices()` returns. */
  readonly length: number;
  /** The example indices of the next epoch, in visiting order. */
  indices(): Int32Array;
}

/** Options of `new DistributedSampler()`; `numReplicas` and `rank` are required (the world size and this process's rank). */
export interface DistributedSamplerOptions {
  /** The number of processes (PyTorch's `num_replicas`, the world size). */
  numReplicas: number;
  /** This process's rank, in [0, numReplicas). */
  rank: number;
  /** Draw a new order every epoch (default true). */
  shuffle?: boolean;
  /** The seed every rank shares (default 0); epoch e draws with seed + e. */
  seed?: number;
  /**
   * Drop the tail that does not divide among the replicas (default false: pad with the first
   * indices again, so that some examples are seen twice per epoch).
   */
  dropLast?: boolean;
}

/**
 * One rank's shard of a dataset's indices, as PyTorch's DistributedSampler (see the file
 * comment): give it to `new DataLoader(dataset, batchSize, { sampler })` and call `setEpoch(e)`
 * before each epoch.
 */
export class DistributedSampler implements Sampler {
  readonly datasetLength: number;
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** The indices of each rank per epoch (PyTorch's `num_samples`). */
  readonly length: number;
  /** numReplicas x length: the epoch's order after padding or dropping. */
  readonly totalSize: number;
  private epochNumber = 0;

  /**
   * @param datasetLength the number of examples (`len(dataset)`), or the dataset itself
   * @throws RangeError for a rank outside [0, numReplicas), a non-positive numReplicas, a bad seed
   */
  constructor(datasetLength: number | { readonly length: number }, options: DistributedSamplerOptions) {
    const o = optionsOf(options, 'DistributedSampler') as Partial<DistributedSamplerOptions>;
    if (o.numReplicas === undefined || o.rank === undefined) throw new TypeError('DistributedSampler: options.numReplicas and options.rank are required (the world size and this rank)');
    const n = typeof datasetLength === 'number' ? datasetLength : datasetLength?.length;
    if (!Number.isInteger(n) || (n as number) < 0) throw new RangeError(`DistributedSampler: the dataset length must be a non-negative integer, got ${describe(n)}`);
    if (!Number.isInteger(o.numReplicas) || o.numReplicas < 1) throw new RangeError(`DistributedSampler: numReplicas must be a positive integer, got ${describe(o.numReplicas)}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.numReplicas) {
      throw new RangeError(`Invalid rank ${String(o.rank)}, rank should be in the interval [0, ${o.numReplicas - 1}]`);
    }
    const seed = o.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`DistributedSampler: seed must be a safe integer, got ${describe(seed)}`);
    this.datasetLength = n as number;
    this.numReplicas = o.numReplicas;
    this.rank = o.rank;
    this.shuffle = o.shuffle ?? true;
    this.seed = seed;
    this.dropLast = o.dropLast ?? false;
    // PyTorch: with drop_last and a length that does not divide, ceil((n - R) / R); else ceil(n / R)
    const r = this.numReplicas;
    this.length = this.dropLast && this.datasetLength % r !== 0 ? Math.max(0, Math.ceil((this.datasetLength - r) / r)) : Math.ceil(this.datasetLength / r);
    this.totalSize = this.length * r;
  }

  /** The epoch the next `indices()` draws for (PyTorch's `set_epoch`): call it before each epoch so that epochs differ. */
  setEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch)) throw new RangeError(`DistributedSampler.setEpoch: epoch must be a safe integer, got ${describe(epoch)}`);
    this.epochNumber = epoch;
  }

  /** The epoch set by `setEpoch` (0 until then). */
  get epoch(): number {
    return this.epochNumber;
  }

  /** This rank's indices for the current epoch (the same on every call until setEpoch). */
  indices(): Int32Array {
    const n = this.datasetLength;
    let order: Int32Array;
    if (this.shuffle) {
      const perm = randperm(n, { seed: this.seed + this.epochNumber });
      order = Int32Array.from(perm.data() as BigInt64Array, Number);
      perm.dispose();
    } else {
      order = Int32Array.from({ length: n }, (_, i) => i);
    }
    const all = new Int32Array(this.totalSize);
    if (this.totalSize <= n) {
      all.set(order.subarray(0, this.totalSize));  // dropLast: the tail goes
    } else {
      // padding: the order repeated from its start (PyTorch repeats it whole when the padding is longer)
      for (let k = 0; k < this.totalSize; ++k) all[k] = order[k % n];
    }
    const mine = new Int32Array(this.length);
    for (let k = 0; k < this.length; ++k) mine[k] = all[this.rank + k * this.numReplicas];
    return mine;
  }
}
