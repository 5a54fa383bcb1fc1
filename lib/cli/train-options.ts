/**
 * The flags of `node lib/train.js`, their defaults (d2l's section: bert.small, SNLI, 5 epochs,
 * Adam lr 1e-4, batch 512, max_len 128, every GPU) and the help text.
 */
import { statSync } from 'fs';
import { availableParallelism } from 'os';
import * as path from 'path';

import { checkWritableSync } from '../core/atomic-file';
import { fusedAttentionAvailable } from '../d2l/bert';
import { BERT_PRESETS, BERTConfigField, BERTConfigLimits, bertConfigProblem } from '../d2l/bert-config';
import { version } from '../core/runtime';
import { Device } from '../core/types';
import { parseDevices } from './devices';
import { choiceFlag, formatFlagHelp, integerFlag, numberFlag, parseFlags, UsageError } from './flags';

// The defaults: bert.small's sizes as the section loads it (bert.base's with --pretrained bert.base).
const SMALL = BERT_PRESETS['bert.small'];
const BASE = BERT_PRESETS['bert.base'];

const FLAGS = {
  pretrained: { type: 'string', value: 'NAME|DIR', help: 'bert.small (default), bert.base, a directory with vocab.json and pretrained.params,\nor random: no pretrained weights, a vocabulary built from the training split' },
  'data-dir': { type: 'string', value: 'DIR', help: 'directory with snli_1.0_<split>.txt (default: download SNLI into the cache,\n$TORCHBRIDGE_DATA_DIR or ~/.cache/torchbridge)' },
  'train-split': { type: 'string', value: 'train|dev', help: 'the split to train on (default train)' },
  'test-split': { type: 'string', value: 'test|dev', help: 'the split to evaluate on after each epoch (default test)' },
  epochs: { type: 'string', value: 'N', help: 'training epochs (default 5)' },
  lr: { type: 'string', value: 'LR', help: "Adam's learning rate (default 1e-4)" },
  'batch-size': { type: 'string', value: 'N', help: 'examples per step, split across the devices and the ranks of a distributed job\n(default 512, at most 1048576)' },
  'max-len': { type: 'string', value: 'N', help: 'tokens per example after truncation and padding (default 128, 3 to --bert-max-len)' },
  'bert-max-len': { type: 'string', value: 'N', help: `the checkpoint's position table (default ${SMALL.maxLen}, at most 4096)` },
  'num-hiddens': { type: 'string', value: 'N', help: `BERT sizes: hidden units (default ${SMALL.numHiddens}; bert.base ${BASE.numHiddens}),` },
  'ffn-num-hiddens': { type: 'string', value: 'N', help: `feed-forward units (default ${SMALL.ffnNumHiddens}; bert.base ${BASE.ffnNumHiddens}),` },
  'num-heads': { type: 'string', value: 'N', help: `attention heads (default ${SMALL.numHeads}; bert.base ${BASE.numHeads}),` },
  'num-blks': { type: 'string', value: 'N', help: `encoder blocks (default ${SMALL.numBlks}; bert.base ${BASE.numBlks}); sizes at most 65536, 256 blocks` },
  dropout: { type: 'string', value: 'P', help: `dropout probability (default ${SMALL.dropout})` },
  devices: { type: 'string', value: 'LIST', help: 'all (default: every GPU, else the CPU), cpu, cpu,cpu, cuda:0,cuda:1; one replica each' },
  threads: { type: 'string', value: 'N', help: 'intra-op CPU threads (default: one per core, or $TORCHBRIDGE_NUM_THREADS;\nat most 4 per core)' },
  seed: { type: 'string', value: 'N', help: 'seed of the initialisation, dropout and shuffling (default: random)' },
  'no-shuffle': { type: 'boolean', help: 'visit the training examples in file order' },
  'fixed-padding': { type: 'boolean', help: "feed every batch padded to --max-len, as d2l does (default: cut each batch to\nits longest example, which gives the same outputs for less work)" },
  'length-groups': { type: 'string', value: 'N', help: 'run each step as N groups of similar lengths, each cut to its longest example,\ngradients accumulated: the same step for less work (default 4; 1: one group;\nat most 1024)' },
  'exact-dropout': { type: 'boolean', help: "draw dropout masks from PyTorch's serial CPU stream (default: a parallel\ncounter-based generator, same distribution, a third less time per CPU step)" },
  kernels: { type: 'string', value: 'fused|reference', help: "fused (default): d2l's blocks and Adam with fused native kernels, the same\nfunctions with less work (equal to float rounding); reference: op for op as d2l" },
  attention: { type: 'string', value: 'explicit|fused', help: "d2l's attention kernel: explicit (default; d2l's masked softmax) or fused\n(libtorch 2.x's scaled_dot_product_attention, the same function)" },
  precision: { type: 'string', value: 'float32|bf16', help: 'bf16: forward passes under autocast to bfloat16, float32 weights (default float32)' },
  bucket: { type: 'boolean', help: 'batch training examples of similar lengths together (in random batch order)' },
  init: { type: 'string', value: 'FILE', help: 'start from this classifier state dict (d2l names, e.g. a --save output)' },
  save: { type: 'string', value: 'FILE', help: 'write the fine-tuned classifier as a PyTorch state dict (plus FILE.json\nwith the vocabulary and sizes, for predict.js)' },
  plot: { type: 'string', value: 'FILE', help: 'the chart: FILE.svg and FILE.png, or FILE.svg / FILE.png alone (default train-chart)' },
  'no-plot': { type: 'boolean', help: 'write no chart' },
  'max-steps': { type: 'string', value: 'N', help: 'stop after N training steps (the epoch still ends with its test pass)' },
  json: { type: 'boolean', help: 'one JSON object per progress point on stdout (other messages on stderr)' },
  'dist-timeout': { type: 'string', value: 'S', help: 'in a distributed job: seconds a rank waits for the others before it fails\n(default 300)' },
  'dist-backend': { type: 'string', value: 'auto|gloo|nccl', help: "in a distributed job: c10d's backend. auto (default): nccl where this rank trains\non a GPU and the binary has NCCL (version().nccl), else gloo. nccl: Python's\n'cpu:gloo,cuda:nccl', one GPU per rank" },
  help: { type: 'boolean', help: 'print this help' },
} as const;

/**
 * The bounds of the numeric flags: beyond them a value is a typo or a model that no machine
 * holds, refused before anything is allocated. d2l's pretrained BERTs have 512 positions;
 * bert.large has 1024 hidden units, 4096 feed-forward units, 16 heads and 24 blocks.
 */
export const FLAG_LIMITS = Object.freeze({
  /** --bert-max-len (and so --max-len): the rows of the position table. */
  positions: 4096,
  /** --num-hiddens, --ffn-num-hiddens, --num-heads. */
  width: 65536,
  /** --num-blks. */
  blocks: 256,
  /** --batch-size. */
  batchSize: 1 << 20,
  /** --length-groups. */
  lengthGroups: 1024,
  /** The parameters of the encoder the sizes describe (2^31: 8 GiB of float32), vocabulary apart. */
  parameters: 2 ** 31,
  /** --threads: this many per core (native setNumThreads enforces the same rule). */
  threadsPerCore: 4,
});

/** The parameters of a BERT encoder, hidden layer and classifier head of these sizes, without the token embedding. */
function encoderParameters(h: number, ffn: number, blocks: number, positions: number): number {
  const block = 4 * (h * h + h) + 2 * h + (h * ffn + ffn) + (ffn * h + h) + 2 * h;
  return blocks * block + 2 * h + positions * h + (h * h + h) + (3 * h + 3);
}

/** Everything `node lib/train.js` was asked to do, checked and with defaults filled in. */
export interface TrainCliOptions {
  /** 'bert.small', 'bert.base', a directory, or 'random'. */
  pretrained: string;
  /** Where snli_1.0_<split>.txt are; undefined: download SNLI. */
  dataDir: string | undefined;
  trainSplit: 'train' | 'dev';
  testSplit: 'test' | 'dev';
  epochs: number;
  lr: number;
  batchSize: number;
  maxLen: number;
  bertMaxLen: number;
  numHiddens: number;
  ffnNumHiddens: number;
  numHeads: number;
  numBlks: number;
  dropout: number;
  devices: Device[];
  /** Intra-op threads; undefined keeps the default. */
  threads: number | undefined;
  seed: number | undefined;
  shuffle: boolean;
  /** Cut each batch to its longest example (default), or keep d2l's fixed padding. */
  trim: boolean;
  /** Length groups per step (1: none). */
  lengthGroups: number;
  /** The trainer's dropout stream. */
  dropoutRng: 'philox' | 'pytorch';
  /** The trainer's attention kernel. */
  attention: 'explicit' | 'fused';
  /** Fused native kernels for d2l's blocks and Adam, or d2l's ops one by one. */
  kernels: 'fused' | 'reference';
  /** Autocast to bfloat16 in forward passes, or plain float32. */
  precision: 'float32' | 'bf16';
  /** Length bucketing of the training batches. */
  bucket: boolean;
  init: string | undefined;
  save: string | undefined;
  /** The chart's path, or null for none. */
  plot: string | null;
  maxSteps: number | undefined;
  json: boolean;
  /** Seconds a rank of a distributed job waits for the others. */
  distTimeout: number;
  /** c10d's backend in a distributed job: 'auto' takes NCCL for a CUDA rank of a binary with it. */
  distBackend: 'auto' | 'gloo' | 'nccl';
}

export const TRAIN_HELP = `Usage: node lib/train.js [options]

Fine-tunes d2l's pretrained BERT with an MLP head on SNLI (d2l.ai, "Natural Language Inference:
Fine-Tuning BERT"): Adam, CrossEntropyLoss(reduction='none'), data parallel over the devices.
With no options it reproduces the section: bert.small, 5 epochs, lr 1e-4, batch 512, max_len 128,
every GPU (the CPU when there is none), and ends with d2l's two lines, e.g.
  loss 0.520, train acc 0.791, test acc 0.786
  10588.8 examples/sec on [cuda:0, cuda:1]

Options:
${formatFlagHelp(FLAGS)}

Examples:
  node lib/train.js
  node lib/train.js --pretrained bert.base --devices cuda:0,cuda:1 --save bert-snli.pt
  node lib/train.js --pretrained random --data-dir snli_1.0 --train-split dev --devices cpu

Distributed (one process per device, PyTorch's DistributedDataParallel over c10d's Gloo, or
NCCL for GPU ranks where the binary has it: --dist-backend): start
every rank with torchrun's variables (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK,
LOCAL_WORLD_SIZE), e.g. torchrun --nproc-per-node 2 --no-python node lib/train.js, or
torchbridge-launch --nproc-per-node 2 node lib/train.js. Each rank trains on --devices[LOCAL_RANK]
(or the one device given), takes its shard of every global batch of --batch-size, and reports
the whole job's figures; rank 0 alone prints, draws the chart and saves.

Exit status: 0 done, 2 bad options or inputs (the message says which and how to fix it), 1 other failures.`;

function checkDirectoryOf(flag: string, file: string): void {
  if (file.trim() === '') throw new UsageError(`--${flag} needs a file name`);
  // the directory must exist before training starts, not only when the file is written at the end
  const dir = path.dirname(path.resolve(file));
  let stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw new UsageError(`--${flag} ${file}: ${dir} is not a directory (a part of that path is a file); choose another path`);
    }
    throw new UsageError(`--${flag} ${file}: the directory ${dir} does not exist; create it or choose another path`);
  }
  if (!stats.isDirectory()) throw new UsageError(`--${flag} ${file}: ${dir} is not a directory; choose another path`);
}

// --save writes FILE and FILE.json at the end: both must be writable now, before hours of training.
function checkSaveTarget(file: string): void {
  checkDirectoryOf('save', file);
  for (const target of [file, `${file}.json`]) {
    try {
      checkWritableSync(target);
    } catch (error) {
      throw new UsageError(`--save ${file}: ${(error as Error).message}; choose a file in a writable directory`);
    }
  }
}

// The flag of each BERT size (the vocabulary's comes from the pretrained model or the data).
const SIZE_FLAGS: Readonly<Partial<Record<BERTConfigField, string>>> = {
  numHiddens: '--num-hiddens', ffnNumHiddens: '--ffn-num-hiddens', numHeads: '--num-heads', numBlks: '--num-blks',
  dropout: '--dropout', maxLen: '--bert-max-len',
};
const SIZE_LIMITS: BERTConfigLimits = {
  numHiddens: FLAG_LIMITS.width, ffnNumHiddens: FLAG_LIMITS.width, numHeads: FLAG_LIMITS.width, numBlks: FLAG_LIMITS.blocks,
  maxLen: FLAG_LIMITS.positions,
};

// The BERT config's one check (bert-config's) on the sizes the flags give: the flags' parsing
// has checked each on its own, this adds what ties them (each head gets numHiddens / numHeads units).
function checkSizes(options: TrainCliOptions): void {
  const flagOf = (field: BERTConfigField): string => SIZE_FLAGS[field] ?? field;
  const problem = bertConfigProblem({ ...options, maxLen: options.bertMaxLen }, {
    fields: ['numHiddens', 'ffnNumHiddens', 'numHeads', 'numBlks', 'dropout', 'maxLen'], limits: SIZE_LIMITS, nameOf: flagOf,
  });
  if (problem !== undefined) {
    const why = problem.why === undefined ? '' : `: ${problem.why}`;
    throw new UsageError(`${flagOf(problem.field)} ${String(problem.given)} is not ${problem.expected}${why}; change ${flagOf(problem.field)}`);
  }
}

/** Parses and checks the CLI's arguments; `null` when `--help` was asked for. */
export function parseTrainArgs(argv: readonly string[]): TrainCliOptions | null {
  const { flags } = parseFlags(argv, FLAGS);
  if (flags.help) return null;
  const pretrained = flags.pretrained ?? 'bert.small';
  if (pretrained.trim() === '') throw new UsageError('--pretrained needs a name (bert.small, bert.base, random) or a directory');
  const sizes = pretrained === 'bert.base' ? BASE : SMALL;
  const options: TrainCliOptions = {
    pretrained,
    dataDir: flags['data-dir'],
    trainSplit: choiceFlag('train-split', flags['train-split'], ['train', 'dev'] as const, 'train'),
    testSplit: choiceFlag('test-split', flags['test-split'], ['test', 'dev'] as const, 'test'),
    epochs: integerFlag('epochs', flags.epochs, 5),
    lr: numberFlag('lr', flags.lr, 1e-4, { min: 0, minOpen: true }),
    batchSize: integerFlag('batch-size', flags['batch-size'], 512, 1, FLAG_LIMITS.batchSize),
    maxLen: integerFlag('max-len', flags['max-len'], 128, 3, FLAG_LIMITS.positions),
    bertMaxLen: integerFlag('bert-max-len', flags['bert-max-len'], sizes.maxLen, 3, FLAG_LIMITS.positions),
    numHiddens: integerFlag('num-hiddens', flags['num-hiddens'], sizes.numHiddens, 1, FLAG_LIMITS.width),
    ffnNumHiddens: integerFlag('ffn-num-hiddens', flags['ffn-num-hiddens'], sizes.ffnNumHiddens, 1, FLAG_LIMITS.width),
    numHeads: integerFlag('num-heads', flags['num-heads'], sizes.numHeads, 1, FLAG_LIMITS.width),
    numBlks: integerFlag('num-blks', flags['num-blks'], sizes.numBlks, 1, FLAG_LIMITS.blocks),
    dropout: numberFlag('dropout', flags.dropout, sizes.dropout, { min: 0, max: 1, maxOpen: true }),
    devices: parseDevices(flags.devices ?? 'all'),
    threads: flags.threads === undefined ? undefined : integerFlag('threads', flags.threads, 1, 1, FLAG_LIMITS.threadsPerCore * availableParallelism()),
    seed: flags.seed === undefined ? undefined : integerFlag('seed', flags.seed, 0, 0),
    shuffle: !flags['no-shuffle'],
    trim: !flags['fixed-padding'],
    lengthGroups: flags['fixed-padding'] ? 1 : integerFlag('length-groups', flags['length-groups'], 4, 1, FLAG_LIMITS.lengthGroups),
    bucket: flags.bucket ?? false,
    dropoutRng: flags['exact-dropout'] ? 'pytorch' : 'philox',
    attention: choiceFlag('attention', flags.attention, ['explicit', 'fused'] as const, 'explicit'),
    kernels: choiceFlag('kernels', flags.kernels, ['fused', 'reference'] as const, 'fused'),
    precision: choiceFlag('precision', flags.precision, ['float32', 'bf16'] as const, 'float32'),
    init: flags.init,
    save: flags.save,
    plot: flags['no-plot'] ? null : flags.plot ?? 'train-chart',
    maxSteps: flags['max-steps'] === undefined ? undefined : integerFlag('max-steps', flags['max-steps'], 1),
    json: flags.json ?? false,
    distTimeout: numberFlag('dist-timeout', flags['dist-timeout'], 300, { min: 0, minOpen: true }),
    distBackend: choiceFlag('dist-backend', flags['dist-backend'], ['auto', 'gloo', 'nccl'] as const, 'auto'),
  };
  if (flags['fixed-padding'] && flags['length-groups'] !== undefined) {
    throw new UsageError('--fixed-padding and --length-groups contradict each other (length groups trim); give one');
  }
  if (options.attention === 'fused' && !fusedAttentionAvailable()) {
    throw new UsageError(`--attention fused needs libtorch 2.x (scaled_dot_product_attention); this build uses libtorch ${version().libtorch}: use --attention explicit`);
  }
  if (flags['no-plot'] && flags.plot !== undefined) throw new UsageError('--plot and --no-plot contradict each other; give one');
  checkSizes(options);
  const parameters = encoderParameters(options.numHiddens, options.ffnNumHiddens, options.numBlks, options.bertMaxLen);
  if (parameters > FLAG_LIMITS.parameters) {
    throw new UsageError(`--num-hiddens ${options.numHiddens}, --ffn-num-hiddens ${options.ffnNumHiddens}, --num-blks ${options.numBlks} ` +
      `and --bert-max-len ${options.bertMaxLen} make a model of ${parameters.toExponential(2)} parameters before the vocabulary; ` +
      `at most ${FLAG_LIMITS.parameters} (2^31) are allowed: lower the sizes`);
  }
  if (options.maxLen > options.bertMaxLen) {
    throw new UsageError(`--max-len ${options.maxLen} exceeds BERT's position table (--bert-max-len ${options.bertMaxLen}); lower --max-len`);
  }
  if (options.batchSize < options.devices.length) {
    throw new UsageError(`--batch-size ${options.batchSize} is smaller than the number of devices (${options.devices.length}); each replica needs examples`);
  }
  if (options.save !== undefined) checkSaveTarget(options.save);
  if (options.plot !== null) {
    checkDirectoryOf('plot', options.plot);
    const ext = path.extname(options.plot).toLowerCase();
    if (ext !== '' && ext !== '.svg' && ext !== '.png') throw new UsageError(`--plot ${options.plot}: use .svg, .png, or no extension for both`);
  }
  return options;
}
