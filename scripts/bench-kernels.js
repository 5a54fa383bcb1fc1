#!/usr/bin/env node
// The Trainer's fused kernels against its reference kernels (TrainerOptions.kernels), interleaved
// so that a machine whose speed drifts between minutes (shared vCPUs) affects both alike: two
// Trainers of the same bert.small classifier (fused: fused kernels and a fused Adam; reference:
// d2l's ops one by one and libtorch's Adam) on the same 8 trimmed batches of SNLI dev pairs with
// 4 length groups, 2 warm-up steps each, then ROUNDS rounds of 8 steps, alternating which goes
// first. Prints each round's examples/sec and the ratio of the medians.
//
//   node scripts/bench-kernels.js [--rounds 5] [--data DIR]
'use strict';

const path = require('path');
const { performance } = require('perf_hooks');

const torch = require('../lib');
const { BERTClassifier, BERTModel } = require('../lib/d2l/bert');
const { SNLIBERTDataset } = require('../lib/d2l/snli-dataset');
const { BERT_SMALL, LR, UsageError, benchExamples, integer, runBenchmark } = require('./bench-data');

const BATCH = 64;
const STEPS = 8;

function parseArgs(argv) {
  const args = { rounds: 5, data: path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0') };
  for (let k = 0; k < argv.length; ++k) {
    const value = () => {
      if (k + 1 >= argv.length) throw new UsageError(`${argv[k]} needs a value`);
      return argv[++k];
    };
    if (argv[k] === '--rounds') args.rounds = integer('--rounds', value(), 1);
    else if (argv[k] === '--data') args.data = value();
    else throw new UsageError(`unknown flag ${argv[k]} (flags: --rounds N, --data DIR)`);
  }
  return args;
}

function makeTrainer(kernels) {
  torch.manualSeed(0);
  const bert = new BERTModel(BERT_SMALL);
  const net = new BERTClassifier(bert);
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: LR, fused: kernels === 'fused' });
  const trainer = new torch.Trainer(net, optimizer, ['cpu'], undefined, { kernels, lengthGroups: { groups: 4, lengthsInput: 2, trimmedInputs: [0, 1] } });
  return { trainer, dispose: () => { trainer.dispose(); optimizer.dispose(); net.dispose(); bert.dispose(); } };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dataset = await benchExamples(args.data, BATCH * STEPS, 128);
  const batches = Array.from({ length: STEPS }, (_, k) => SNLIBERTDataset.trimBatch([
    [dataset.tokens, dataset.segments, dataset.validLens].map((t) => t.narrow(0, k * BATCH, BATCH)), dataset.labels.narrow(0, k * BATCH, BATCH)]));
  const sides = { fused: makeTrainer('fused'), reference: makeTrainer('reference') };
  const rates = { fused: [], reference: [] };
  try {
    for (const side of Object.values(sides)) for (const [inputs, labels] of batches.slice(0, 2)) await side.trainer.step(inputs, labels);
    for (let round = 0; round < args.rounds; ++round) {
      for (const name of round % 2 === 0 ? ['reference', 'fused'] : ['fused', 'reference']) {
        const start = performance.now();
        for (const [inputs, labels] of batches) await sides[name].trainer.step(inputs, labels);
        rates[name].push((BATCH * STEPS) / ((performance.now() - start) / 1000));
      }
    }
  } finally {
    for (const side of Object.values(sides)) side.dispose();
    for (const [inputs, labels] of batches) torch.dispose([...inputs, labels]);
    dataset.dispose();
  }
  console.log(`libtorch ${torch.version().libtorch}, ${torch.getNumThreads()} threads, bert.small, batch ${BATCH}, 4 length groups`);
  for (const [name, values] of Object.entries(rates)) console.log(`${name.padEnd(9)} ${values.map((v) => v.toFixed(1)).join('  ')} examples/sec`);
  console.log(`fused / reference (medians): ${(median(rates.fused) / median(rates.reference)).toFixed(3)}x`);
}

runBenchmark('bench-kernels', main);
