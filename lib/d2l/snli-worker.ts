/**
 * The preprocessing of d2l's `SNLIBERTDataset` (its `_mp_worker`) for a run of premise and
 * hypothesis pairs, and the worker-thread script that runs it: `SNLIBERTDataset.create` starts
 * this file (compiled, `snli-worker.js`) with `worker_threads`. It never loads the native addon
 * (a worker pays neither its ~0.4 s start nor its memory): results travel back as typed arrays
 * whose buffers are transferred, and the main thread turns them into int64 tensors.
 */
import { MessagePort, parentPort, workerData } from 'worker_threads';

import { splitWhitespace, Vocab } from './text';

/**
 * Token ids, segment ids and valid lengths of `count` pairs, row-major with `maxLen` columns.
 * Int32 and uint8 rather than int64: JS writes them without boxing BigInts, they are half and an
 * eighth of the bytes to write, and libtorch widens them to int64 in one multithreaded copy.
 */
export interface EncodedPairs {
  /** [count * maxLen] vocabulary indices: `<cls> premise <sep> hypothesis <sep>`, then `<pad>`. */
  tokenIds: Int32Array;
  /** [count * maxLen] 0 for `<cls> premise <sep>` and padding, 1 for `hypothesis <sep>`. */
  segments: Uint8Array;
  /** [count] the unpadded length of each row. */
  validLens: Int32Array;
}

/**
 * d2l's `SNLIBERTDataset` preprocessing of pairs (`premises[i]`, `hypotheses[i]`): lowercased,
 * split on whitespace (`d2l.tokenize`), truncated by `_truncate_pair_of_tokens` (drop the last
 * token of the longer sequence, the hypothesis on ties, until both fit in `maxLen - 3`),
 * packed by `get_tokens_and_segments` and padded to `maxLen` with `vocab['<pad>']`.
 */
export function encodePairs(premises: readonly string[], hypotheses: readonly string[], maxLen: number, vocab: Vocab): EncodedPairs {
  const count = premises.length;
  const tokenIds = new Int32Array(count * maxLen);
  const segments = new Uint8Array(count * maxLen);
  const validLens = new Int32Array(count);
  // d2l looks tokens up only per pair (and every lookup needs `<unk>`): no pairs, no lookups.
  if (count === 0) return { tokenIds, segments, validLens };
  const table = vocab.tokenToIdx;
  const unk = vocab.unk;  // wherever `<unk>` stands (d2l 1.0 sorts it in)
  const cls = vocab.get('<cls>');
  const sep = vocab.get('<sep>');
  const pad = vocab.get('<pad>');
  const budget = maxLen - 3;  // room left by <cls>, <sep> and <sep>
  for (let i = 0; i < count; ++i) {
    const p = splitWhitespace(premises[i].toLowerCase());
    const h = splitWhitespace(hypotheses[i].toLowerCase());
    // _truncate_pair_of_tokens, counting instead of popping: the same lengths come out.
    let lp = p.length;
    let lh = h.length;
    while (lp + lh > budget) {
      if (lp > lh) --lp;
      else --lh;
    }
    const row = i * maxLen;
    let k = row;
    tokenIds[k++] = cls;
    for (let j = 0; j < lp; ++j) tokenIds[k++] = table.get(p[j]) ?? unk;
    tokenIds[k++] = sep;
    const hypothesisStart = k;
    for (let j = 0; j < lh; ++j) tokenIds[k++] = table.get(h[j]) ?? unk;
    tokenIds[k++] = sep;
    segments.fill(1, hypothesisStart, k);
    tokenIds.fill(pad, k, row + maxLen);
    validLens[i] = lp + lh + 3;
  }
  return { tokenIds, segments, validLens };
}

/** What a worker is started with (its `workerData`). */
export interface WorkerSetup {
  idxToToken: readonly string[];
  maxLen: number;
}

/** One run of pairs to encode. */
export interface WorkerTask {
  id: number;
  premises: string[];
  hypotheses: string[];
}

/** The worker's answer to a task: its encoding, or the error that stopped it. */
export type WorkerResult = { id: number; encoded: EncodedPairs } | { id: number; error: string };

function serve(port: MessagePort, setup: WorkerSetup): void {
  const vocab = Vocab.fromIdxToToken(setup.idxToToken);
  port.on('message', (task: WorkerTask) => {
    let encoded: EncodedPairs;
    try {
      encoded = encodePairs(task.premises, task.hypotheses, setup.maxLen, vocab);
    } catch (e) {
      port.postMessage({ id: task.id, error: (e as Error).stack ?? String(e) } satisfies WorkerResult);
      return;
    }
    const { tokenIds, segments, validLens } = encoded;
    // Transferred, not copied; encodePairs allocates plain (never shared) ArrayBuffers.
    port.postMessage({ id: task.id, encoded } satisfies WorkerResult,
      [tokenIds.buffer as ArrayBuffer, segments.buffer as ArrayBuffer, validLens.buffer as ArrayBuffer]);
  });
}

// Serve only when started as a worker's script, not when imported (the main thread imports
// encodePairs for small inputs, possibly from inside a worker of its own).
if (require.main === module && parentPort !== null) serve(parentPort, workerData);
