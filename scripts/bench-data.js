// What the training benchmarks share (scripts/bench-train.js, scripts/bench-distributed.js): the
// bert.small shape, and the examples: real SNLI dev pairs, a seeded selection (repeated when more
// are needed), through our pipeline (readSnli, a Vocab of the lowercased dev words with BERT's
// reserved tokens, SNLIBERTDataset padded to maxLen).
'use strict';

const { execFileSync } = require('child_process');

const torch = require('../lib');
const { readSnli } = require('../lib/d2l/snli');
const { SNLIBERTDataset } = require('../lib/d2l/snli-dataset');
const { tokenize, Vocab } = require('../lib/d2l/text');
const { mulberry32 } = require('./seeded-random');

// d2l's bert.small as the fine-tuning section loads it (vocabulary of bert.small's vocab.json).
const BERT_SMALL = { vocabSize: 20256, numHiddens: 256, ffnNumHiddens: 512, numHeads: 4, numBlks: 2, dropout: 0.1, maxLen: 512 };
const LR = 1e-4;
const SELECTION_SEED = 20240607;

// `count` pairs of `data`: seeded shuffles of all of it, one after another, cut at `count`.
function select(data, count) {
  const random = mulberry32(SELECTION_SEED);
  const [premises, hypotheses, labels] = data;
  const out = [[], [], []];
  while (out[0].length < count) {
    const order = Array.from(premises, (_, i) => i);
    for (let i = order.length - 1; i > 0; --i) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order.slice(0, count - out[0].length)) {
      out[0].push(premises[i]);
      out[1].push(hypotheses[i]);
      out[2].push(labels[i]);
    }
  }
  return out;
}

/** `count` selected SNLI dev examples of `dataDir` as an SNLIBERTDataset padded to `maxLen`. */
async function benchExamples(dataDir, count, maxLen) {
  const dev = await readSnli(dataDir, 'dev');
  const vocab = new Vocab(tokenize([...dev[0], ...dev[1]].map((s) => s.toLowerCase())), {
    minFreq: 1,
    reservedTokens: ['<pad>', '<mask>', '<cls>', '<sep>'],
  });
  if (vocab.length > BERT_SMALL.vocabSize) throw new Error(`the dev vocabulary (${vocab.length}) exceeds bert.small's ${BERT_SMALL.vocabSize} embeddings`);
  return SNLIBERTDataset.create(select(dev, count), maxLen, vocab, { log: null });
}

/** The Python of the PyTorch sides: TORCHBRIDGE_PYTHON, default Debian's python3 (python3-torch). */
const PYTHON = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';

/** Whether PYTHON's torch has scaled_dot_product_attention (PyTorch 2.x). */
function pythonHasSdpa() {
  const out = execFileSync(PYTHON, ['-c', 'import torch.nn.functional as F; print(hasattr(F, "scaled_dot_product_attention"))'], { encoding: 'utf8' });
  return out.trim() === 'True';
}

/** `batches` ([[tokens, segments, validLens], labels] each) in one torch.save file, as bench_train_pytorch.py reads them. */
async function saveBatches(batches, file) {
  const dict = {};
  batches.forEach(([[tokens, segments, validLens], labels], k) => {
    Object.assign(dict, { [`tokens.${k}`]: tokens, [`segments.${k}`]: segments, [`validLens.${k}`]: validLens, [`labels.${k}`]: labels });
  });
  await torch.save(dict, file);
}

/** A bad command line (the benchmarks exit with 2). */
class UsageError extends Error {}

/** The integer `text` of `flag`, in [min, max]. */
function integer(flag, text, min, max = Infinity) {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer ${max === Infinity ? `of at least ${min}` : `from ${min} to ${max}`}, got '${text}'`);
  }
  return n;
}

/** Runs a benchmark's async `main`: a UsageError prints `name: message` and exits 2, any other error exits 1. */
function runBenchmark(name, main) {
  main().catch((e) => {
    console.error(e instanceof UsageError ? `${name}: ${e.message}` : e);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}

module.exports = { BERT_SMALL, LR, PYTHON, SELECTION_SEED, UsageError, benchExamples, integer, pythonHasSdpa, runBenchmark, saveBatches };
