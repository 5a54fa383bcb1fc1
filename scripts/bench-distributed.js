#!/usr/bin/env node
// Distributed training on this machine against PyTorch, in one invocation: the same global
// batches (bert.small classifier, SNLI dev pairs through our pipeline, scripts/bench-data.js),
// the same schedule (each batch's rows sorted by length, 4 groups trimmed to their longest,
// gradients accumulated, one Adam step: node lib/train.js's default), trained
//   1. by one process with T threads, and
//   2. by R processes with T / R threads each, as DistributedDataParallel over c10d's Gloo on
//      127.0.0.1 (each rank takes its contiguous 1/R of every global batch; the groups but the
//      last accumulate without synchronising, DDP's no_sync()),
// once with torchbridge (the Trainer, with a ProcessGroup for 2) and once with PyTorch
// (scripts/bench_ddp_pytorch.py: d2l's BERTClassifier, torch.nn.parallel.DistributedDataParallel).
// Then the communication alone: the median time of all-reducing one float32 tensor of the
// classifier's gradient size across the R ranks (ProcessGroup.allReduce, dist.all_reduce).
// Prints examples/sec, each side's scaling (2 over 1) and ours over PyTorch's.
//
//   node scripts/bench-distributed.js [--ranks 2] [--threads 2] [--batch-size 64] [--max-len 128]
//       [--steps 20] [--warmup 3] [--data DIR] [--no-python] [--json]
//
// Needs lib/ compiled (`npx tsc -p .`) and the dev split (../shared/data/snli_1.0). PyTorch is
// TORCHBRIDGE_PYTHON (default /usr/bin/python3), whose torch the addon should be built against.
'use strict';

const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');

const torch = require('../lib');
const { BERTClassifier, BERTModel } = require('../lib/d2l/bert');
const { initProcessGroup } = require('../lib/distributed/process-group');
const { BERT_SMALL, LR, PYTHON, UsageError, benchExamples, integer, runBenchmark } = require('./bench-data');

const PYTHON_SCRIPT = path.join(__dirname, 'bench_ddp_pytorch.py');
const GROUPS = 4;
const ALLREDUCE_REPS = 10;


function parseArgs(argv) {
  const args = {
    ranks: 2, threads: 2, batchSize: 64, maxLen: 128, steps: 20, warmup: 3,
    data: path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0'), python: true, json: false,
  };
  for (let k = 0; k < argv.length; ++k) {
    const flag = argv[k];
    const value = () => {
      if (k + 1 >= argv.length || argv[k + 1].startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return argv[++k];
    };
    if (flag === '--ranks') args.ranks = integer(flag, value(), 2, 64);
    else if (flag === '--threads') args.threads = integer(flag, value(), 1);
    else if (flag === '--batch-size') args.batchSize = integer(flag, value(), 1);
    else if (flag === '--max-len') args.maxLen = integer(flag, value(), 3, BERT_SMALL.maxLen);
    else if (flag === '--steps') args.steps = integer(flag, value(), 1);
    else if (flag === '--warmup') args.warmup = integer(flag, value(), 0);
    else if (flag === '--data') args.data = path.resolve(value());
    else if (flag === '--no-python') args.python = false;
    else if (flag === '--json') args.json = true;
    // internal: one rank, in the child processes run() starts
    else if (flag === '--worker') args.worker = value();
    else throw new UsageError(`unknown argument '${flag}' (see the header of ${path.relative(process.cwd(), __filename)})`);
  }
  if (args.worker !== undefined) return args;
  if (args.threads % args.ranks !== 0) throw new UsageError(`--threads ${args.threads} must split evenly over --ranks ${args.ranks}`);
  if (args.batchSize % (args.ranks * GROUPS) !== 0) {
    throw new UsageError(`--batch-size ${args.batchSize} must split into ${args.ranks} ranks of ${GROUPS} length groups (a multiple of ${args.ranks * GROUPS})`);
  }
  return args;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// `ranks` processes of `command` (1: one without the launch environment), each printing one JSON
// line last; their results, rank by rank.
async function run(command, argv, ranks, threads) {
  const port = await freePort();
  const outputs = await Promise.all(Array.from({ length: ranks }, (_, rank) => new Promise((resolve, reject) => {
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), GLOO_SOCKET_IFNAME: 'lo' };
    for (const name of ['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE']) delete env[name];
    if (ranks > 1) {
      Object.assign(env, { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(ranks), RANK: String(rank),
        LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(ranks) });
    }
    const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.on('close', (status) => (status === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()))
      : reject(new Error(`${path.basename(argv[0])} rank ${rank} of ${ranks} exited with ${status}`))));
  })));
  // the job's throughput: every rank's examples over the slowest rank's time
  const seconds = Math.max(...outputs.map((o) => o.seconds));
  const examples = outputs.reduce((sum, o) => sum + o.examples, 0);
  return { ranks, threads, seconds, examples, examplesPerSec: examples / seconds, allReduceMs: outputs[0].allReduceMs, parameters: outputs[0].parameters, torch: outputs[0].torch };
}

// One rank (or the single process): the global batches of the examples file, this rank's rows of each.
async function worker(args) {
  torch.setNumThreads(args.threads);
  const group = await initProcessGroup();
  const rank = group?.rank ?? 0;
  const ranks = group?.worldSize ?? 1;
  const saved = await torch.load(args.worker);
  const per = args.batchSize / ranks;
  torch.manualSeed(0);
  const bert = new BERTModel(BERT_SMALL);
  const model = new BERTClassifier(bert);
  const optimizer = new torch.optim.Adam(model.parameters(), { lr: LR });
  const trainer = new torch.Trainer(model, optimizer, ['cpu'], new torch.nn.CrossEntropyLoss({ reduction: 'none' }), {
    lengthGroups: { groups: GROUPS, lengthsInput: 2, trimmedInputs: [0, 1] },
    ...(group ? { processGroup: group } : {}),
  });
  await trainer.ready;
  let start = performance.now();
  let examples = 0;
  for (let k = 0; k < args.warmup + args.steps; ++k) {
    if (k === args.warmup) start = performance.now();
    const rows = (name) => saved.get(name).narrow(0, k * args.batchSize + rank * per, per);
    const inputs = ['tokens', 'segments', 'validLens'].map(rows);
    const labels = rows('labels');
    const { count } = await trainer.step(inputs, labels);
    if (k >= args.warmup) examples += count;
    torch.dispose([...inputs, labels]);
  }
  const seconds = (performance.now() - start) / 1000;
  let allReduceMs = null;
  const numel = model.parameters().reduce((n, p) => n + p.numel, 0);
  if (group) {
    const grads = torch.zeros([numel]);
    const times = [];
    for (let k = 0; k < ALLREDUCE_REPS + 2; ++k) {
      const t0 = performance.now();
      (await group.allReduce(grads)).dispose();
      if (k >= 2) times.push(performance.now() - t0);
    }
    grads.dispose();
    allReduceMs = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  }
  trainer.dispose();
  optimizer.dispose();
  model.dispose();
  bert.dispose();
  torch.dispose([...saved.values()]);
  group?.dispose();
  console.log(JSON.stringify({ examples, seconds, allReduceMs, parameters: numel, torch: torch.version().libtorch }));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.worker !== undefined) return worker(args);
  const dataset = await benchExamples(args.data, (args.warmup + args.steps) * args.batchSize, args.maxLen);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-distributed-'));
  const file = path.join(dir, 'examples.pt');
  try {
    await torch.save(new Map([['tokens', dataset.tokens], ['segments', dataset.segments], ['validLens', dataset.validLens], ['labels', dataset.labels]]), file);
    const common = ['--batch-size', String(args.batchSize), '--steps', String(args.steps), '--warmup', String(args.warmup)];
    const ours = (ranks) => run(process.execPath, [__filename, '--worker', file, ...common, '--threads', String(args.threads / ranks)], ranks, args.threads / ranks);
    const pytorch = (ranks) => run(PYTHON, [PYTHON_SCRIPT, '--examples', file, ...common, '--threads', String(args.threads / ranks), '--groups', String(GROUPS)],
      ranks, args.threads / ranks);
    // one job at a time, never alongside another
    const results = { ours: { single: await ours(1), ddp: await ours(args.ranks) } };
    if (args.python) {
      execFileSync(PYTHON, ['-c', 'import torch.distributed as d; assert d.is_available()'], { stdio: 'inherit' });
      results.pytorch = { single: await pytorch(1), ddp: await pytorch(args.ranks) };
    }
    const heading = `bert.small classifier, global batch ${args.batchSize}, max_len ${args.maxLen}, ${GROUPS} length groups, ` +
      `${args.steps} timed steps after ${args.warmup} warm-up, ${args.threads} threads in all; DDP over Gloo on 127.0.0.1`;
    const gradientBytes = results.ours.ddp.parameters * 4;
    if (args.json) {
      console.log(JSON.stringify({ heading, gradientBytes, ...results }));
      return;
    }
    console.log(heading);
    const line = (who, r) => `${who.padEnd(44)} ${r.examplesPerSec.toFixed(1).padStart(8)} examples/sec` +
      (r.allReduceMs === null ? '' : `  all-reduce of ${(gradientBytes / 1e6).toFixed(1)} MB: ${r.allReduceMs.toFixed(1)} ms`);
    for (const [side, r] of Object.entries(results)) {
      const name = side === 'ours' ? 'torchbridge' : `pytorch ${r.single.torch}`;
      console.log(line(`${name}, 1 process x ${args.threads} threads`, r.single));
      console.log(line(`${name}, ${args.ranks} processes x ${args.threads / args.ranks} threads`, r.ddp));
      console.log(`${`${name}, scaling (${args.ranks} processes over 1)`.padEnd(44)} ${(r.ddp.examplesPerSec / r.single.examplesPerSec).toFixed(2).padStart(8)}x`);
    }
    if (results.pytorch) {
      console.log(`torchbridge over PyTorch: 1 process ${(results.ours.single.examplesPerSec / results.pytorch.single.examplesPerSec).toFixed(2)}x, ` +
        `${args.ranks} processes ${(results.ours.ddp.examplesPerSec / results.pytorch.ddp.examplesPerSec).toFixed(2)}x, ` +
        `all-reduce ${(results.pytorch.ddp.allReduceMs / results.ours.ddp.allReduceMs).toFixed(2)}x`);
    }
  } finally {
    dataset.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBenchmark('bench-distributed', main);
