#!/usr/bin/env node
// Training throughput of the native data-parallel Trainer against PyTorch, in one invocation:
// examples/sec of d2l's train_batch_ch13 steps (net.train(), zero_grad, forward, per-example
// CrossEntropyLoss, l.sum().backward(), Adam step, then the loss sum and correct count read back
// as numbers, as d2l's Accumulator does every step) on a randomly initialised classifier of
// d2l's bert.small shape (BERTModel(20256, 256, 512, 4 heads, 2 blocks, dropout 0.1, max_len
// 512) in a BERTClassifier, Adam lr 1e-4), timed around the steps only, as d2l's Timer.
//
// The batches are real SNLI dev pairs (a seeded shuffle, repeated when more are needed) through
// our pipeline: readSnli, a Vocab of the lowercased dev words (min_freq 1, BERT's reserved
// tokens), SNLIBERTDataset padded to --max-len. They go to a temporary file with save(), and
// scripts/bench_train_pytorch.py (/usr/bin/python3, Debian's python3-torch) trains d2l's own
// BERTClassifier on exactly those batches (nn.DataParallel on CUDA, as d2l's train_ch13), after
// our measurement, with the same number of intra-op threads. Each side reports its peak RSS
// (whole process: ours includes building the dataset) and PyTorch its CUDA peak allocation.
// Several '--devices cpu,cpu' replicas are ours alone: PyTorch trains the same batches in one
// CPU process (nn.DataParallel has no CPU replicas).
//
// --check trains 2 steps on both sides from the same initial weights (ours, saved with save()
// and loaded with load_state_dict(strict=True)), dropout 0, and compares the loss sums.
//
// Needs lib/ compiled (`npx tsc -p .`) and the dev split (../shared/data/snli_1.0).
//
// Our configurations, as node lib/train.js's flags name them: d2l's fixed padding, batches
// trimmed to their longest example, trimmed with 4 length groups per step (the default, with the
// CLI's fused kernels and fused Adam), the default with reference kernels (d2l's ops one by one,
// libtorch's Adam), and the default with length bucketing, fused attention (libtorch 2.x) or
// bfloat16 autocast. PyTorch runs
// d2l's program (fixed padding, float32), and the programs a PyTorch user writes with the same
// tricks (the same length groups with accumulated gradients, scaled_dot_product_attention on 2.x,
// autocast to bfloat16). Each of ours is printed over d2l's loop and over PyTorch doing the same
// work: the second is the honest headline.
//
//   node scripts/bench-train.js [--batch-size 64] [--max-len 128] [--steps 20] [--warmup 3]
//       [--devices cpu|cpu,cpu|cuda:0,...] [--threads N] [--data DIR] [--no-python] [--json] [--check]
//       [--profile TOP [--profile-config default|bf16] [--trace FILE]]
//
// --profile TOP runs only the default configuration and PyTorch's same schedule, each with its
// timed steps under libtorch's profiler (Trainer.startProfile; torch.profiler on the PyTorch
// side), and prints the TOP operators of each by self time per step; --profile-config bf16 profiles
// the bf16 row and PyTorch's bf16 autocast instead. --trace FILE keeps our
// side's Chrome trace there (chrome://tracing or ui.perfetto.dev), for a look at parent ops.
//
// Defaults: batch 64 on ['cpu'] without a GPU, batch 512 on every GPU with them; the threads
// torchbridge starts with (one per core).
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');

const torch = require('../lib');
const { BERTClassifier, BERTModel, fusedAttentionAvailable } = require('../lib/d2l/bert');
const { SNLIBERTDataset } = require('../lib/d2l/snli-dataset');
const { DataLoader } = require('../lib/data/data-loader');

const { BERT_SMALL, LR, PYTHON, SELECTION_SEED, UsageError, benchExamples, integer, pythonHasSdpa, runBenchmark, saveBatches } = require('./bench-data');

// The Python whose torch the addon was built against.
const PYTHON_SCRIPT = path.join(__dirname, 'bench_train_pytorch.py');

const CHECK_STEPS = 2;
const CHECK_TOLERANCE = 1e-4;  // relative, on each step's loss sum


function parseArgs(argv) {
  const args = {
    batchSize: undefined,
    maxLen: 128,
    steps: 20,
    warmup: 3,
    devices: undefined,
    threads: undefined,
    data: path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0'),
    python: true,
    json: false,
    check: false,
    profile: 0,
    profileConfig: 'default',
    trace: undefined,
  };
  for (let k = 0; k < argv.length; ++k) {
    const flag = argv[k];
    const value = () => {
      if (k + 1 >= argv.length || argv[k + 1].startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return argv[++k];
    };
    if (flag === '--batch-size') args.batchSize = integer(flag, value(), 1);
    // at least <cls> and two <sep>; at most the position table of bert.small
    else if (flag === '--max-len') args.maxLen = integer(flag, value(), 3, BERT_SMALL.maxLen);
    else if (flag === '--steps') args.steps = integer(flag, value(), 1);
    else if (flag === '--warmup') args.warmup = integer(flag, value(), 0);
    else if (flag === '--devices') args.devices = parseDevices(value());
    else if (flag === '--threads') args.threads = integer(flag, value(), 1);
    else if (flag === '--data') args.data = path.resolve(value());
    else if (flag === '--no-python') args.python = false;
    else if (flag === '--profile') args.profile = integer(flag, value(), 0);
    else if (flag === '--trace') args.trace = path.resolve(value());
    else if (flag === '--profile-config') {
      args.profileConfig = value();
      if (!Object.hasOwn(PROFILED, args.profileConfig)) throw new UsageError(`--profile-config: '${args.profileConfig}' is not one of ${Object.keys(PROFILED).join(', ')}`);
    }
    else if (flag === '--json') args.json = true;
    else if (flag === '--check') args.check = true;
    // internal: one configuration, in the child process measureInChild starts
    else if (flag === '--measure') args.measure = integer(flag, value(), 0, configurations.length - 1);
    else if (flag === '--examples') args.examples = value();
    else throw new UsageError(`unknown argument '${flag}' (see the header of ${path.relative(process.cwd(), __filename)})`);
  }
  if (args.profileConfig !== 'default' && args.profile === 0) throw new UsageError('--profile-config picks what --profile TOP profiles: it needs --profile TOP');
  if (args.trace !== undefined && args.profile === 0) throw new UsageError('--trace keeps the profiler\'s trace: it needs --profile TOP');
  if (args.check && !args.python) throw new UsageError('--check compares with PyTorch: it cannot go with --no-python');
  const gpus = torch.cuda.deviceCount();
  args.devices ??= torch.devices();
  args.batchSize ??= gpus > 0 ? 512 : 64;
  for (const d of args.devices) {
    if (d.startsWith('cuda:') && Number(d.slice(5)) >= gpus) {
      throw new UsageError(`--devices: ${d} is not there (${gpus === 0 ? 'no GPU is visible' : `${gpus} GPUs: cuda:0 to cuda:${gpus - 1}`})`);
    }
  }
  if (args.batchSize < args.devices.length) {
    throw new UsageError(`--batch-size ${args.batchSize} is smaller than the ${args.devices.length} devices it is split over`);
  }
  return args;
}

function parseDevices(text) {
  const devices = text.split(',').map((d) => d.trim());
  for (const d of devices) {
    if (!/^(cpu|cuda:\d+)$/.test(d)) throw new UsageError(`--devices: '${d}' is not 'cpu' or 'cuda:N' (in '${text}')`);
  }
  const cpu = devices.filter((d) => d === 'cpu').length;
  if (cpu !== 0 && cpu !== devices.length) throw new UsageError(`--devices: use either CPU replicas or GPUs, not both ('${text}')`);
  if (cpu === 0 && new Set(devices).size !== devices.length) throw new UsageError(`--devices: a GPU is listed twice ('${text}')`);
  return devices;
}

// Our configurations, each measured in its own process (so that each peak RSS is its own) on the
// same selected examples, through the DataLoader that node lib/train.js uses. `versus` names the
// PyTorch program that does the same work with the same tricks (see pytorchPrograms).
const trimmed = (dataset, batchSize, options = {}) => new DataLoader(dataset, batchSize, { transform: SNLIBERTDataset.trimBatch, ...options });
const groups = { lengthGroups: { groups: 4, lengthsInput: 2, trimmedInputs: [0, 1] } };
const configurations = [
  { name: 'fixed padding (d2l; --fixed-padding)', loader: (dataset, batchSize) => new DataLoader(dataset, batchSize), versus: 'd2l' },
  { name: 'trimmed (--length-groups 1)', loader: trimmed, versus: 'grouped1' },
  { name: 'trimmed, 4 length groups (default)', loader: trimmed, trainer: groups, versus: 'grouped' },
  {
    name: 'default, reference kernels (--kernels reference)', loader: trimmed, trainer: { ...groups, kernels: 'reference' }, fusedAdam: false,
    versus: 'grouped',
  },
  {
    name: 'default + bucketing (--bucket)',
    loader: (dataset, batchSize) => trimmed(dataset, batchSize, { shuffle: true, seed: SELECTION_SEED, bucket: { lengths: dataset.inputs[2].toArray() } }),
    trainer: groups,
    versus: null,  // PyTorch trains the loader's order of batches here, not bucketed ones
  },
  { name: 'default + fused attention (--attention fused)', loader: trimmed, trainer: { ...groups, attention: 'fused' }, versus: 'groupedSdpa', needsFused: true },
  { name: 'default + bf16 (--precision bf16)', loader: trimmed, trainer: { ...groups, precision: 'bf16' }, versus: 'groupedBf16' },
];

// what --profile-config names: our configuration (its PyTorch side is its `versus`)
const PROFILED = { default: 'trimmed, 4 length groups (default)', bf16: 'default + bf16 (--precision bf16)' };

// PyTorch's programs (scripts/bench_train_pytorch.py), all on d2l's batches: d2l's own loop, and
// what a PyTorch user gets by applying the same tricks as our configurations (trimmed length
// groups, gradients accumulated, one Adam step; scaled_dot_product_attention on 2.x; autocast).
const pytorchPrograms = {
  d2l: { name: "d2l's loop (fixed padding)", argv: [] },
  grouped1: { name: 'trimmed (1 group)', argv: ['--schedule', 'grouped', '--groups', '1'] },
  grouped: { name: 'trimmed, 4 length groups', argv: ['--schedule', 'grouped', '--groups', '4'] },
  groupedSdpa: { name: 'trimmed, 4 length groups, SDPA', argv: ['--schedule', 'grouped', '--groups', '4', '--attention', 'sdpa'], needsSdpa: true },
  groupedBf16: { name: 'trimmed, 4 length groups, bf16 autocast', argv: ['--schedule', 'grouped', '--groups', '4', '--precision', 'bf16'] },
};

// d2l's batches: consecutive rows, padded to maxLen. A batch is [[tokens, segments, validLens], labels].
function fixedBatches(dataset, batchSize, count) {
  return Array.from({ length: count }, (_, k) => [
    dataset.inputs.map((t) => t.narrow(0, k * batchSize, batchSize)),
    dataset.labels.narrow(0, k * batchSize, batchSize),
  ]);
}

function disposeBatches(batches) {
  for (const [inputs, labels] of batches) {
    inputs.forEach((t) => t.dispose());
    labels.dispose();
  }
}

/**
 * Our side: a fresh bert.small-shaped classifier (seeded), Adam, the Trainer on `devices`, over
 * `batches` (an array or a DataLoader epoch): `warmup` untimed steps then the timed ones, timed
 * with the loader's work included. `saveInitTo` writes the initial weights first.
 */
async function measureOurs(batches, { warmup, devices, dropout = BERT_SMALL.dropout, saveInitTo, trainerOptions = {}, fusedAdam = true, profile = 0, trace }) {
  torch.manualSeed(0);
  const bert = new BERTModel({ ...BERT_SMALL, dropout });
  const net = new BERTClassifier(bert);
  let optimizer;
  let trainer;
  try {
    if (saveInitTo !== undefined) {
      const state = net.stateDict();
      try {
        await torch.save(state, saveInitTo);
      } finally {
        for (const t of state.values()) t.dispose();
      }
    }
    optimizer = new torch.optim.Adam(net.parameters(), { lr: LR, fused: fusedAdam });
    trainer = new torch.Trainer(net, optimizer, devices, new torch.nn.CrossEntropyLoss({ reduction: 'none' }), trainerOptions);
    const lossSums = [];
    const corrects = [];
    let examples = 0;
    let k = 0;
    let start = performance.now();
    for await (const [inputs, labels] of batches) {
      if (k === warmup) {
        if (profile > 0) trainer.startProfile();
        start = performance.now();
      }
      const { lossSum, correct, count } = await trainer.step(inputs, labels);
      lossSums.push(lossSum);
      corrects.push(correct);
      if (k >= warmup) examples += count;
      ++k;
    }
    const seconds = (performance.now() - start) / 1000;
    let top = null;
    if (profile > 0) {
      // beside --trace's file when there is one, so that the rename stays on its file system
      const file = trace !== undefined ? `${trace}.${process.pid}.tmp` : path.join(os.tmpdir(), `bench-train-profile-${process.pid}.json`);
      try {
        await trainer.stopProfile(file);
        top = torch.summarizeProfile(fs.readFileSync(file, 'utf8'), k - warmup).slice(0, profile);
        // only a trace that was written and parsed whole replaces FILE
        if (trace !== undefined) fs.renameSync(file, trace);
      } finally {
        fs.rmSync(file, { force: true });
      }
    }
    return { examples, seconds, examplesPerSec: examples / seconds, lossSums, corrects, maxRssKiB: process.resourceUsage().maxRSS, profile: top };
  } finally {
    trainer?.dispose();
    optimizer?.dispose();
    net.dispose();
    bert.dispose();
  }
}

/** PyTorch's side, in a child process, on the batches saved in `file`. */
function measurePytorch(file, { steps, warmup, devices, threads, dropout = BERT_SMALL.dropout, init }, program = []) {
  const pythonDevices = devices.every((d) => d === 'cpu') ? ['cpu'] : devices;
  const argv = [PYTHON_SCRIPT, '--batches', file, '--steps', String(steps), '--warmup', String(warmup),
    '--threads', String(threads), '--devices', pythonDevices.join(','), '--dropout', String(dropout), ...program];
  if (init !== undefined) argv.push('--init', init);
  const out = execFileSync(PYTHON, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

const mib = (kib) => `${Math.round(kib / 1024)} MiB`;

// One configuration in a child process (`--measure K --examples FILE`): prints our result as JSON.
function measureInChild(index, examplesFile, args) {
  const argv = [__filename, '--measure', String(index), '--examples', examplesFile, '--batch-size', String(args.batchSize),
    '--steps', String(args.steps), '--warmup', String(args.warmup), '--devices', args.devices.join(','), '--threads', String(args.threads),
    '--profile', String(args.profile), ...(args.trace !== undefined ? ['--trace', args.trace] : [])];
  const out = execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

// The child's side of measureInChild.
async function measureChild(args) {
  const saved = await torch.load(args.examples);
  const dataset = { inputs: [saved.get('tokens'), saved.get('segments'), saved.get('validLens')], labels: saved.get('labels') };
  try {
    const config = configurations[args.measure];
    console.log(JSON.stringify(await measureOurs(config.loader(dataset, args.batchSize), { ...args, trainerOptions: config.trainer, fusedAdam: config.fusedAdam })));
  } finally {
    torch.dispose([...saved.values()]);
  }
}

// The roofline: the FLOPs of the default schedule's steps (the same for PyTorch's grouped program),
// counted from the GEMMs of bert.small's forward and backward (each GEMM of the forward runs
// twice more in backward: the input's and the weight's gradients), and the GEMM rate this
// machine's libtorch reaches on their shape, measured here with our threads.
function stepFlops(validLens, batchSize, first, count, groups = 4) {
  const { numHiddens: h, ffnNumHiddens: f, numHeads, numBlks } = BERT_SMALL;
  let total = 0;
  for (let b = first; b < first + count; ++b) {
    const lens = validLens.slice(b * batchSize, (b + 1) * batchSize).sort((x, y) => x - y);
    const size = Math.ceil(lens.length / groups);  // torch.chunk
    for (let start = 0; start < lens.length; start += size) {
      const rows = Math.min(size, lens.length - start);
      const L = Math.max(lens[start + rows - 1], 1);
      const tokens = rows * L;
      // W_q, W_k, W_v, W_o, dense1, dense2; scores and weighted values; then hidden and output on <cls>
      const perBlock = 2 * tokens * (4 * h * h + 2 * h * f) + 2 * 2 * rows * numHeads * L * L * (h / numHeads);
      total += 3 * (numBlks * perBlock + 2 * rows * (h * h + 3 * h));
    }
  }
  return total / count;
}

function gemmRate() {
  const [m, k, n] = [2048, 256, 512];
  const a = torch.randn([m, k]);
  const b = torch.randn([k, n]);
  try {
    for (let i = 0; i < 5; ++i) torch.tidy(() => { a.matmul(b); });
    let best = Infinity;
    for (let round = 0; round < 5; ++round) {
      const start = performance.now();
      for (let i = 0; i < 20; ++i) torch.tidy(() => { a.matmul(b); });
      best = Math.min(best, (performance.now() - start) / 20 / 1000);
    }
    return { shape: [m, k, n], flopsPerSec: (2 * m * k * n) / best };
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function benchmark(args, dataset, dir) {
  const examplesFile = path.join(dir, 'examples.pt');
  await torch.save(new Map([['tokens', dataset.tokens], ['segments', dataset.segments], ['validLens', dataset.validLens], ['labels', dataset.labels]]), examplesFile);
  const fused = fusedAttentionAvailable();
  // --profile: one configuration (--profile-config) and PyTorch's same schedule only
  const profiled = (index) => args.profile === 0 || configurations[index].name === PROFILED[args.profileConfig];
  const results = configurations.flatMap((config, index) => (config.needsFused && !fused || !profiled(index) ? [] : [{
    name: config.name, versus: config.versus, torchbridge: measureInChild(index, examplesFile, args),
  }]));
  // PyTorch after all of ours, never alongside, on d2l's (fixed-padding) batches
  const pytorch = {};
  if (args.python) {
    const batches = fixedBatches(dataset, args.batchSize, args.warmup + args.steps);
    const file = path.join(dir, 'batches-fixed.pt');
    try {
      await saveBatches(batches, file);
    } finally {
      disposeBatches(batches);
    }
    const sdpa = pythonHasSdpa();
    for (const [key, program] of Object.entries(pytorchPrograms)) {
      if (program.needsSdpa && !sdpa) continue;
      if (args.profile > 0 && key !== configurations.find((c) => c.name === PROFILED[args.profileConfig]).versus) continue;
      const profile = args.profile > 0 ? ['--profile', String(args.profile)] : [];
      pytorch[key] = { name: program.name, ...measurePytorch(file, args, [...program.argv, ...profile]) };
    }
  }
  const flops = stepFlops(dataset.validLens.toArray(), args.batchSize, args.warmup, args.steps);
  const gemm = gemmRate();
  const roofline = { gemmShape: gemm.shape, gemmFlopsPerSec: gemm.flopsPerSec, defaultStepFlops: flops };
  const fraction = (examplesPerSec) => (examplesPerSec / args.batchSize) * flops / gemm.flopsPerSec;
  for (const result of results) {
    if (result.versus === 'grouped' || result.versus === 'groupedBf16' || result.versus === 'groupedSdpa') result.gemmFraction = fraction(result.torchbridge.examplesPerSec);
  }
  for (const p of [pytorch.grouped, pytorch.groupedSdpa, pytorch.groupedBf16]) if (p) p.gemmFraction = fraction(p.examplesPerSec);
  for (const result of results) {
    result.ratio = pytorch.d2l ? result.torchbridge.examplesPerSec / pytorch.d2l.examplesPerSec : null;
    const same = result.versus ? pytorch[result.versus] : undefined;
    result.sameWorkRatio = same ? result.torchbridge.examplesPerSec / same.examplesPerSec : null;
  }
  return { results, pytorch, roofline };
}

async function check(args, dataset, dir) {
  const batches = fixedBatches(dataset, args.batchSize, CHECK_STEPS);
  const file = path.join(dir, 'batches-check.pt');
  const init = path.join(dir, 'classifier-init.pt');
  let ours;
  try {
    await saveBatches(batches, file);
    ours = await measureOurs(batches, { warmup: 0, devices: args.devices, dropout: 0, saveInitTo: init });
  } finally {
    disposeBatches(batches);
  }
  const pytorch = measurePytorch(file, { ...args, steps: CHECK_STEPS, warmup: 0, dropout: 0, init });
  const steps = ours.lossSums.map((lossSum, k) => ({
    step: k + 1,
    torchbridge: { lossSum, correct: ours.corrects[k] },
    pytorch: { lossSum: pytorch.lossSums[k], correct: pytorch.corrects[k] },
    relativeDifference: Math.abs(lossSum - pytorch.lossSums[k]) / Math.abs(pytorch.lossSums[k]),
  }));
  return { steps, tolerance: CHECK_TOLERANCE, ok: steps.every((s) => s.relativeDifference <= CHECK_TOLERANCE), torch: pytorch.torch };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.threads !== undefined) torch.setNumThreads(args.threads);
  args.threads = torch.getNumThreads();
  if (args.measure !== undefined) return measureChild(args);

  const count = (args.check ? CHECK_STEPS : args.warmup + args.steps) * args.batchSize;
  const dataset = await benchExamples(args.data, count, args.maxLen);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  const heading = `bert.small classifier, batch ${args.batchSize}, max_len ${args.maxLen}, ` +
    (args.check ? `${CHECK_STEPS} steps from the same weights, dropout 0` : `${args.steps} timed steps after ${args.warmup} warm-up`) +
    `, devices [${args.devices.join(', ')}], ${args.threads} threads`;
  try {
    if (args.check) {
      const result = await check(args, dataset, dir);
      if (args.json) {
        console.log(JSON.stringify({ check: true, batchSize: args.batchSize, maxLen: args.maxLen, devices: args.devices, threads: args.threads, ...result }));
      } else {
        console.log(heading);
        for (const s of result.steps) {
          console.log(`step ${s.step}  loss sum: torchbridge ${s.torchbridge.lossSum.toFixed(6)}  pytorch ${s.pytorch.lossSum.toFixed(6)}  ` +
            `relative difference ${s.relativeDifference.toExponential(2)}  correct: ${s.torchbridge.correct} and ${s.pytorch.correct}`);
        }
        console.log(result.ok ? `agree within ${CHECK_TOLERANCE} relative (PyTorch ${result.torch})` : `DISAGREE beyond ${CHECK_TOLERANCE} relative`);
      }
      if (!result.ok) process.exitCode = 1;
    } else {
      const { results, pytorch, roofline } = await benchmark(args, dataset, dir);
      if (args.json) {
        console.log(JSON.stringify({
          model: 'bert.small classifier', batchSize: args.batchSize, maxLen: args.maxLen, steps: args.steps, warmup: args.warmup,
          devices: args.devices, threads: args.threads, configurations: results, pytorch, roofline,
        }));
      } else {
        console.log(heading);
        const names = [...results.map((r) => `torchbridge, ${r.name}`), ...Object.values(pytorch).map((p) => `pytorch, ${p.name}`)];
        const width = Math.max(...names.map((n) => n.length));
        const roof = (x) => (x === undefined ? '' : `  ${(100 * x).toFixed(0)}% of GEMM peak`);
        for (const r of results) {
          const same = (r.sameWorkRatio === null ? '' : `  vs PyTorch doing the same: ${r.sameWorkRatio.toFixed(2)}x`) + roof(r.gemmFraction);
          console.log(`${`torchbridge, ${r.name}`.padEnd(width)}  ${r.torchbridge.examplesPerSec.toFixed(1).padStart(8)} examples/sec  ` +
            `peak RSS ${mib(r.torchbridge.maxRssKiB).padStart(9)}${r.ratio === null ? '' : `  vs d2l's loop ${r.ratio.toFixed(2)}x`}${same}`);
        }
        for (const p of Object.values(pytorch)) {
          const cudaPeak = p.cudaMaxMemoryAllocated ? `  CUDA peak ${p.cudaMaxMemoryAllocated.map((b) => mib(b / 1024)).join(', ')}` : '';
          console.log(`${`pytorch, ${p.name}`.padEnd(width)}  ${p.examplesPerSec.toFixed(1).padStart(8)} examples/sec  ` +
            `peak RSS ${mib(p.maxRssKiB).padStart(9)}${cudaPeak}  (PyTorch ${p.torch})${roof(p.gemmFraction)}`);
        }
        console.log(`roofline: mm ${roofline.gemmShape.join('x')} at ${(roofline.gemmFlopsPerSec / 1e9).toFixed(1)} GFLOP/s here, ` +
          `${(roofline.defaultStepFlops / 1e9).toFixed(2)} GFLOP of GEMMs per step of the default schedule ` +
          `(bound: ${(args.batchSize * roofline.gemmFlopsPerSec / roofline.defaultStepFlops).toFixed(0)} examples/sec)`);
        if (args.profile > 0) {
          const sides = [...results.map((r) => [`torchbridge, ${r.name}`, r.torchbridge.profile]), ...Object.values(pytorch).map((p) => [`pytorch, ${p.name}`, p.profile])];
          for (const [name, top] of sides) {
            console.log(`\n${name}: operators by self time per step`);
            for (const e of top ?? []) {
              console.log(`  ${e.name.slice(0, 56).padEnd(56)} ${e.selfMs.toFixed(2).padStart(8)} ms ${e.calls.toFixed(1).padStart(8)} calls ${e.percent.toFixed(1).padStart(5)}%`);
            }
          }
        }
      }
    }
  } finally {
    dataset.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (torch.memory().liveTensors !== 0) throw new Error(`${torch.memory().liveTensors} tensors leaked`);
}

runBenchmark('bench-train', main);
