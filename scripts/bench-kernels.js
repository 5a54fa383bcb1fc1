#!/usr/bin/env node
// Our Trainer's fused kernels, its reference kernels and PyTorch on the same work, interleaved so
// that a machine whose speed drifts between minutes (shared vCPUs) affects every side alike:
// - fused: the Trainer's default kernels (TrainerOptions.kernels 'fused') and a fused Adam;
// - reference: d2l's ops one by one and libtorch's Adam;
// - pytorch: d2l's own model and train_batch_ch13 in PyTorch with the same schedule
//   (scripts/bench_train_pytorch.py --schedule grouped --serve, a child process that waits while
//   the others run), and on PyTorch 2.x also 'pytorch-sdpa' (scaled_dot_product_attention);
// - with --sides, also fused-bf16 (the default with TrainerOptions.precision 'bf16') and
//   pytorch-bf16 (the same schedule under torch.autocast to bfloat16), compared with each other.
// All train bert.small classifiers on the same 8 trimmed batches of 64 SNLI dev pairs with 4
// length groups and the same threads: 2 warm-up steps each, then ROUNDS rounds of 8 steps, the
// order of the sides rotating each round. Prints each round's examples/sec, each side's median,
// and the ratios of the medians to the fused side.
//
//   node scripts/bench-kernels.js [--rounds 5] [--data DIR] [--no-python]
//       [--sides fused,reference,pytorch,pytorch-sdpa,fused-bf16,pytorch-bf16]   (default: the first four)
// PyTorch: TORCHBRIDGE_PYTHON (default /usr/bin/python3, Debian's python3-torch).
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { performance } = require('perf_hooks');

const torch = require('../lib');
const { BERTClassifier, BERTModel } = require('../lib/d2l/bert');
const { SNLIBERTDataset } = require('../lib/d2l/snli-dataset');
const { BERT_SMALL, LR, PYTHON, UsageError, benchExamples, integer, pythonHasSdpa, runBenchmark, saveBatches } = require('./bench-data');

const BATCH = 64;
const STEPS = 8;
const WARMUP = 2;
const PYTHON_SCRIPT = path.join(__dirname, 'bench_train_pytorch.py');
const SIDES = ['fused', 'reference', 'pytorch', 'pytorch-sdpa', 'fused-bf16', 'pytorch-bf16'];
const DEFAULT_SIDES = SIDES.slice(0, 4);
// Each side's ratio: our side of the same precision over it.
const VERSUS = { reference: 'fused', pytorch: 'fused', 'pytorch-sdpa': 'fused', 'pytorch-bf16': 'fused-bf16', 'fused-bf16': 'fused' };

function parseArgs(argv) {
  const args = { rounds: 5, data: path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0'), python: true, sides: null };
  for (let k = 0; k < argv.length; ++k) {
    const value = () => {
      if (k + 1 >= argv.length) throw new UsageError(`${argv[k]} needs a value`);
      return argv[++k];
    };
    if (argv[k] === '--rounds') args.rounds = integer('--rounds', value(), 1);
    else if (argv[k] === '--data') args.data = value();
    else if (argv[k] === '--no-python') args.python = false;
    else if (argv[k] === '--sides') {
      args.sides = value().split(',');
      const unknown = args.sides.filter((s) => !SIDES.includes(s));
      if (unknown.length || !args.sides.includes('fused')) throw new UsageError(`--sides takes fused (always) and any of ${SIDES.join(', ')}, got '${args.sides.join(',')}'`);
    } else throw new UsageError(`unknown flag ${argv[k]} (flags: --rounds N, --data DIR, --no-python, --sides LIST)`);
  }
  return args;
}

// A side of ours: `round()` trains the 8 batches once and resolves to the examples trained.
function ourSide(kernels, batches, precision = 'float32') {
  torch.manualSeed(0);
  const bert = new BERTModel(BERT_SMALL);
  const net = new BERTClassifier(bert);
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: LR, fused: kernels === 'fused' });
  const trainer = new torch.Trainer(net, optimizer, ['cpu'], undefined, { kernels, precision, lengthGroups: { groups: 4, lengthsInput: 2, trimmedInputs: [0, 1] } });
  const run = async (list) => {
    for (const [inputs, labels] of list) await trainer.step(inputs, labels);
  };
  return {
    warmup: () => run(batches.slice(0, WARMUP)),
    round: async () => {
      await run(batches);
      return BATCH * STEPS;
    },
    close: async () => {
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      bert.dispose();
      return null;
    },
  };
}

// PyTorch's side: bench_train_pytorch.py --serve, one "go" line per round.
function pytorchSide(file, attention, precision = 'float32') {
  const argv = [PYTHON_SCRIPT, '--batches', file, '--steps', String(STEPS), '--warmup', String(WARMUP), '--threads', String(torch.getNumThreads()),
    '--dropout', String(BERT_SMALL.dropout), '--schedule', 'grouped', '--groups', '4', '--attention', attention, '--precision', precision, '--serve'];
  const child = spawn(PYTHON, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  const queued = [];
  let failure = null;
  const fail = (e) => {
    failure = failure ?? e;
    while (waiting.length) waiting.shift().reject(failure);
  };
  lines.on('line', (line) => {
    if (waiting.length) waiting.shift().resolve(line);
    else queued.push(line);
  });
  child.on('error', (e) => fail(new Error(`cannot run ${PYTHON}: ${e.message}`)));
  child.on('exit', (code) => fail(new Error(`bench_train_pytorch.py --serve exited with ${code} (its messages are above)`)));
  const next = () => {
    if (queued.length) return Promise.resolve(queued.shift());
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };
  return {
    warmup: async () => {},  // the child's own warm-up steps run before its first round
    round: async () => {
      child.stdin.write('go\n');
      return JSON.parse(await next()).examples;
    },
    close: async () => {
      child.stdin.end();
      const last = JSON.parse(await next());
      return last;
    },
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dataset = await benchExamples(args.data, BATCH * STEPS, 128);
  const batches = Array.from({ length: STEPS }, (_, k) => SNLIBERTDataset.trimBatch([
    [dataset.tokens, dataset.segments, dataset.validLens].map((t) => t.narrow(0, k * BATCH, BATCH)), dataset.labels.narrow(0, k * BATCH, BATCH)]));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-bench-kernels-'));
  const sides = {};
  let closed = null;  // what each side's close() returned, once all are closed
  try {
    const wanted = (name) => (args.sides ?? DEFAULT_SIDES).includes(name);
    sides.fused = ourSide('fused', batches);
    if (wanted('reference')) sides.reference = ourSide('reference', batches);
    if (wanted('fused-bf16')) sides['fused-bf16'] = ourSide('fused', batches, 'bf16');
    if (args.python && ['pytorch', 'pytorch-sdpa', 'pytorch-bf16'].some(wanted)) {
      // PyTorch's warm-up batches first, then the timed ones (bench_train_pytorch.py's layout)
      const file = path.join(dir, 'batches.pt');
      await saveBatches([...batches.slice(0, WARMUP), ...batches], file);
      if (wanted('pytorch')) sides.pytorch = pytorchSide(file, 'explicit');
      if (wanted('pytorch-sdpa') && pythonHasSdpa()) sides['pytorch-sdpa'] = pytorchSide(file, 'sdpa');
      if (wanted('pytorch-bf16')) sides['pytorch-bf16'] = pytorchSide(file, 'explicit', 'bf16');
    }
    const names = Object.keys(sides);
    const rates = Object.fromEntries(names.map((n) => [n, []]));
    for (const side of Object.values(sides)) await side.warmup();
    for (let round = 0; round < args.rounds; ++round) {
      const order = names.map((_, k) => names[(k + round) % names.length]);
      for (const name of order) {
        const start = performance.now();
        const examples = await sides[name].round();
        rates[name].push(examples / ((performance.now() - start) / 1000));
      }
    }
    const ends = {};
    for (const [name, side] of Object.entries(sides)) ends[name] = await side.close();
    closed = ends;
    const python = closed.pytorch ?? closed['pytorch-sdpa'] ?? closed['pytorch-bf16'];
    const torchVersion = python ? `, PyTorch ${python.torch}` : '';
    console.log(`libtorch ${torch.version().libtorch} (${torch.version().cpuKernels} kernels of ours)${torchVersion}, ${torch.getNumThreads()} threads, bert.small, batch ${BATCH}, 4 length groups, ${args.rounds} interleaved rounds of ${STEPS} steps`);
    for (const name of names) {
      const m = median(rates[name]);
      const versus = VERSUS[name];
      const ratio = versus && rates[versus] ? `   ${versus} / ${name}: ${(median(rates[versus]) / m).toFixed(2)}x` : '';
      console.log(`${name.padEnd(13)} ${rates[name].map((v) => v.toFixed(1).padStart(6)).join(' ')}   median ${m.toFixed(1).padStart(6)} examples/sec${ratio}`);
    }
  } finally {
    if (!closed) for (const side of Object.values(sides)) await side.close().catch(() => {});
    for (const [inputs, labels] of batches) torch.dispose([...inputs, labels]);
    dataset.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBenchmark('bench-kernels', main);
