/**
 * d2l's `SNLIBERTDataset`: SNLI pairs as BERT inputs (token ids, segment ids, valid lengths)
 * and labels, all int64 tensors, preprocessed in parallel worker threads.
 */
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';

import { empty, tensor } from '../core/creation';
import { Disposable, keep, tidy } from '../core/scope';
import { Tensor } from '../core/tensor';
import { Batch } from '../data/data-loader';
import { encodePairs, EncodedPairs, WorkerResult, WorkerSetup, WorkerTask } from './snli-worker';
import { SnliData } from './snli';
import { Vocab } from './text';

/** Options of `SNLIBERTDataset.create`. */
export interface SNLIBERTDatasetOptions {
  /**
   * Worker threads that preprocess the pairs; default `os.availableParallelism()`. 0 keeps all
   * the work on the calling thread.
   */
  workers?: number;
  /**
   * Pairs per worker task (default 8192). Inputs of at most one chunk are processed on the
   * calling thread, where starting workers would cost more than it saves.
   */
  chunkSize?: number;
  /** Where 'read N examples' goes, as d2l prints it: default `console.log`; null for silence. */
  log?: ((line: string) => void) | null;
}

const DEFAULT_CHUNK_SIZE = 8192;

/** One example, as d2l's `__getitem__` returns it: `((token_ids, segments, valid_len), label)`. */
export type SNLIBERTExample = [inputs: [tokens: Tensor, segments: Tensor, validLen: Tensor], label: Tensor];

function defaultWorkers(): number {
  // os.availableParallelism arrived in Node 18.14; cpus() is the older estimate.
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : Math.max(1, os.cpus().length);
}

/**
 * d2l's `SNLIBERTDataset(dataset, max_len, vocab)`. Each pair becomes
 * `<cls> premise <sep> hypothesis <sep> <pad>...` (lowercased words; the longer sequence, or the
 * hypothesis on ties, loses its last token until the pair fits), with segment ids 0 then 1
 * (0 on padding) and its valid (unpadded) length. The dataset owns its tensors: `dispose()` frees them.
 */
export class SNLIBERTDataset implements Disposable {
  /** [N, maxLen] int64 token ids (d2l's `all_token_ids`). */
  readonly tokens: Tensor;
  /** [N, maxLen] int64 segment ids (d2l's `all_segments`). */
  readonly segments: Tensor;
  /** [N] int64 lengths before padding (d2l's `valid_lens`). */
  readonly validLens: Tensor;
  /** [N] int64 labels: 0 entailment, 1 contradiction, 2 neutral (d2l's `labels`). */
  readonly labels: Tensor;

  private constructor(
    tokens: Tensor, segments: Tensor, validLens: Tensor, labels: Tensor,
    /** Every row's length, padding included (d2l's `max_len`). */
    readonly maxLen: number,
    /** The vocabulary the token ids index (d2l's `vocab`). */
    readonly vocab: Vocab,
  ) {
    this.tokens = tokens;
    this.segments = segments;
    this.validLens = validLens;
    this.labels = labels;
  }

  /**
   * Preprocesses `dataset` (as `readSnli` returns it) into BERT inputs of `maxLen` tokens (at
   * least 3). Large inputs are split into chunks encoded by worker threads, so the event loop
   * keeps running meanwhile; prints 'read N examples' through `options.log`.
   */
  static async create(dataset: SnliData, maxLen: number, vocab: Vocab, options: SNLIBERTDatasetOptions = {}): Promise<SNLIBERTDataset> {
    const [premises, hypotheses, labels] = dataset;
    if (!Number.isInteger(maxLen) || maxLen < 3) {
      throw new RangeError(`SNLIBERTDataset: maxLen must be an integer of at least 3 (<cls> and two <sep>), got ${maxLen}`);
    }
    const n = premises.length;
    if (hypotheses.length !== n || labels.length !== n) {
      throw new RangeError(`SNLIBERTDataset: ${n} premises, ${hypotheses.length} hypotheses and ${labels.length} labels; expected one of each per pair`);
    }
    const badLabel = labels.findIndex((label) => !Number.isInteger(label) || (label | 0) !== label);
    if (badLabel >= 0) throw new TypeError(`SNLIBERTDataset: label ${badLabel} is ${labels[badLabel]}, not a 32-bit integer`);
    const workers = options.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 0) throw new RangeError(`SNLIBERTDataset: workers must be a non-negative integer, got ${workers}`);
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`SNLIBERTDataset: chunkSize must be a positive integer, got ${chunkSize}`);
    // Every lookup needs `<unk>` (d2l: KeyError): fail here, naming the vocabulary's file, not in a worker.
    if (n > 0) void vocab.unk;

    // keep(): the dataset owns its tensors, whatever scope its caller has open.
    const tokens = keep(empty([n, maxLen], { dtype: 'int64' }));
    const segments = keep(empty([n, maxLen], { dtype: 'int64' }));
    const validLens = keep(empty([n], { dtype: 'int64' }));
    // Each encoded chunk is widened into its rows as soon as it arrives. The tensors own their
    // memory (dispose() frees it at once) rather than sharing the chunks' JS buffers.
    const write = (start: number, encoded: EncodedPairs): void => {
      const count = encoded.validLens.length;
      tidy(() => {
        tokens.narrow(0, start, count).copy_(tensor(encoded.tokenIds, { shape: [count, maxLen] }));
        segments.narrow(0, start, count).copy_(tensor(encoded.segments, { shape: [count, maxLen] }));
        validLens.narrow(0, start, count).copy_(tensor(encoded.validLens));
      });
    };
    try {
      if (workers === 0 || n <= chunkSize) write(0, encodePairs(premises, hypotheses, maxLen, vocab));
      else await encodeInWorkers(premises, hypotheses, maxLen, vocab, Math.min(workers, Math.ceil(n / chunkSize)), chunkSize, write);
    } catch (e) {
      tokens.dispose();
      segments.dispose();
      validLens.dispose();
      throw e;
    }
    const labelTensor = keep(tensor(Int32Array.from(labels), { dtype: 'int64' }));
    const out = new SNLIBERTDataset(tokens, segments, validLens, labelTensor, maxLen, vocab);
    const log = options.log === undefined ? console.log : options.log;
    log?.(`read ${n} examples`);
    return out;
  }

  /** The number of examples (d2l's `len(dataset)`). */
  get length(): number {
    return this.labels.shape[0];
  }

  /**
   * A batch cut to its longest example: tokens and segments keep their first
   * `max(validLens)` columns (the rest is padding). With d2l's masking (padded keys get weight
   * exp(-1e6) = 0 and only the `<cls>` position is classified) the classifier's outputs and
   * gradients are those of the padded batch, up to rounding, for a fraction of the work. Use it
   * as `new DataLoader(dataset, batchSize, { transform: SNLIBERTDataset.trimBatch })`.
   */
  static trimBatch(this: void, batch: Batch<[Tensor, Tensor, Tensor]>): Batch<[Tensor, Tensor, Tensor]> {
    const [[tokens, segments, validLens], labels] = batch;
    const width = tokens.shape[1];
    const longest = validLens.numel === 0 ? width : Number(validLens.max().item());
    if (longest >= width) return batch;
    return [[tokens.narrow(1, 0, longest).contiguous(), segments.narrow(1, 0, longest).contiguous(), validLens], labels];
  }

  /** `[tokens, segments, validLens]`: the model's inputs, as `DataLoader` batches them. */
  get inputs(): [tokens: Tensor, segments: Tensor, validLens: Tensor] {
    return [this.tokens, this.segments, this.validLens];
  }

  /**
   * Example `i` (negative counts from the end) as d2l's `__getitem__`: `[[tokens [maxLen],
   * segments [maxLen], validLen []], label []]`, int64 views of the dataset's tensors that the
   * caller owns (dispose them when done).
   */
  get(i: number): SNLIBERTExample {
    const n = this.length;
    if (!Number.isInteger(i) || i < -n || i >= n) throw new RangeError(`SNLIBERTDataset.get: index ${i} is out of range for ${n} examples`);
    const k = i < 0 ? i + n : i;
    return [[this.tokens.select(0, k), this.segments.select(0, k), this.validLens.select(0, k)], this.labels.select(0, k)];
  }

  /** Frees the four tensors. Idempotent. */
  dispose(): void {
    this.tokens.dispose();
    this.segments.dispose();
    this.validLens.dispose();
    this.labels.dispose();
  }

  /** True once `dispose()` ran. */
  get isDisposed(): boolean {
    return this.tokens.isDisposed;
  }
}

// Encodes chunks of `chunkSize` pairs on `workerCount` threads, handing each result to `write`
// (on this thread) with the index of its first pair. The workers are terminated before it settles.
async function encodeInWorkers(
  premises: readonly string[], hypotheses: readonly string[], maxLen: number, vocab: Vocab,
  workerCount: number, chunkSize: number, write: (start: number, encoded: EncodedPairs) => void,
): Promise<void> {
  const n = premises.length;
  const chunks = Math.ceil(n / chunkSize);
  const script = path.join(__dirname, 'snli-worker.js');
  const setup: WorkerSetup = { idxToToken: vocab.idxToToken, maxLen };
  const workers = Array.from({ length: workerCount }, () => new Worker(script, { workerData: setup }));
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      let failed = false;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const dispatch = (worker: Worker): void => {
        if (next >= chunks) return;
        const id = next++;
        const start = id * chunkSize;
        const end = Math.min(n, start + chunkSize);
        const task: WorkerTask = { id, premises: premises.slice(start, end), hypotheses: hypotheses.slice(start, end) };
        worker.postMessage(task);
      };
      for (const worker of workers) {
        worker.on('message', (result: WorkerResult) => {
          if (failed) return;
          if ('error' in result) {
            fail(new Error(`SNLIBERTDataset: a preprocessing worker failed: ${result.error}`));
            return;
          }
          // The next task goes out before this result is written, so the worker is not idle meanwhile.
          dispatch(worker);
          try {
            write(result.id * chunkSize, result.encoded);
          } catch (e) {
            fail(e as Error);
            return;
          }
          if (++done === chunks) resolve();
        });
        worker.on('error', (e) => fail(new Error(`SNLIBERTDataset: a preprocessing worker (${script}) failed: ${e.message}`)));
        worker.on('exit', (code) => {
          if (done < chunks) fail(new Error(`SNLIBERTDataset: a preprocessing worker exited (code ${code}) with work outstanding`));
        });
        // Two tasks in flight per worker: one to work on, one queued behind it.
        dispatch(worker);
        dispatch(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
