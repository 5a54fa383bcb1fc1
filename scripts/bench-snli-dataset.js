#!/usr/bin/env node
// Times SNLIBERTDataset.create on a synthetic split the size of SNLI's training split
// (549,367 pairs), against d2l's PyTorch SNLIBERTDataset (multiprocessing.Pool(4)) on the same
// pairs, in the same invocation. Sentence lengths are those of real dev pairs, drawn at random,
// and words are drawn from the dev split's words (so their frequencies and capitalisation are
// SNLI's). Needs lib/ compiled (`npx tsc -p .`) and the dev split (../shared/data/snli_1.0).
//
//   node scripts/bench-snli-dataset.js [--pairs N] [--max-len L] [--workers W] [--no-python] [--data DIR]
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const torch = require('../lib');
const { readSnli } = require('../lib/d2l/snli');
const { SNLIBERTDataset } = require('../lib/d2l/snli-dataset');
const { tokenize, Vocab } = require('../lib/d2l/text');

const { mulberry32 } = require('./seeded-random');

// The Python whose torch the addon was built against.
const PYTHON = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';

function parseArgs(argv) {
  const args = {
    pairs: 549367,
    maxLen: 128,
    workers: undefined,
    python: true,
    data: path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0'),
  };
  for (let k = 0; k < argv.length; ++k) {
    const flag = argv[k];
    const value = () => {
      if (k + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++k];
    };
    if (flag === '--pairs') args.pairs = Number(value());
    else if (flag === '--max-len') args.maxLen = Number(value());
    else if (flag === '--workers') args.workers = Number(value());
    else if (flag === '--data') args.data = path.resolve(value());
    else if (flag === '--no-python') args.python = false;
    else throw new Error(`unknown argument ${flag}`);
  }
  return args;
}

function synthesize(dev, pairs) {
  const random = mulberry32(20240607);
  const [devPremises, devHypotheses] = dev;
  const premiseTokens = tokenize(devPremises);
  const hypothesisTokens = tokenize(devHypotheses);
  const words = premiseTokens.flat().concat(hypothesisTokens.flat());
  const sentence = (length) => {
    const out = new Array(length);
    for (let k = 0; k < length; ++k) out[k] = words[Math.floor(random() * words.length)];
    return out.join(' ');
  };
  const premises = new Array(pairs);
  const hypotheses = new Array(pairs);
  const labels = new Array(pairs);
  for (let i = 0; i < pairs; ++i) {
    const j = Math.floor(random() * devPremises.length);
    premises[i] = sentence(premiseTokens[j].length);
    hypotheses[i] = sentence(hypothesisTokens[j].length);
    labels[i] = i % 3;
  }
  return [premises, hypotheses, labels];
}

const LABEL_NAMES = ['entailment', 'contradiction', 'neutral'];

// The split as snli_1.0_train.txt (d2l's column layout) and the vocabulary as vocab.json, for Python.
function writeForPython(dir, data, vocab) {
  const [premises, hypotheses, labels] = data;
  const fd = fs.openSync(path.join(dir, 'snli_1.0_train.txt'), 'w');
  fs.writeSync(fd, 'gold_label\tsentence1_binary_parse\tsentence2_binary_parse\n');
  const block = [];
  for (let i = 0; i < premises.length; ++i) {
    block.push(`${LABEL_NAMES[labels[i]]}\t${premises[i]}\t${hypotheses[i]}\n`);
    if (block.length === 10000 || i === premises.length - 1) {
      fs.writeSync(fd, block.join(''));
      block.length = 0;
    }
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab.idxToToken));
}

function seconds(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dev = await readSnli(args.data, 'dev');
  const data = synthesize(dev, args.pairs);
  // A BERT-like vocabulary (d2l 1.0's Vocab): d2l's reserved tokens and the dev words seen at least twice, sorted (the rest map to <unk>).
  const vocab = new Vocab(tokenize([...dev[0], ...dev[1]].map((s) => s.toLowerCase())), {
    minFreq: 2,
    reservedTokens: ['<pad>', '<mask>', '<cls>', '<sep>'],
  });
  const workers = args.workers ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  console.log(`synthetic split: ${args.pairs} pairs (lengths and words from ${dev[0].length} dev pairs), max_len ${args.maxLen}, ` +
    `vocabulary of ${vocab.length}; ${os.cpus().length} CPUs, node ${process.version}`);

  const timeCreate = async (options) => {
    const start = process.hrtime.bigint();
    const dataset = await SNLIBERTDataset.create(data, args.maxLen, vocab, { ...options, log: null });
    const elapsed = seconds(start);
    const shape = dataset.tokens.shape;
    dataset.dispose();
    return { elapsed, shape };
  };
  await timeCreate({ workers, chunkSize: 8192 });  // warm-up: JIT and the worker script from disk
  const threaded = await timeCreate({ workers });
  console.log(`SNLIBERTDataset.create, ${workers} worker threads: ${threaded.elapsed.toFixed(2)} s  (tokens [${threaded.shape.join(', ')}] int64)`);
  const single = await timeCreate({ workers: 0 });
  console.log(`SNLIBERTDataset.create, calling thread only:  ${single.elapsed.toFixed(2)} s`);

  if (!args.python) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-snli-'));
  try {
    writeForPython(dir, data, vocab);
    const script = path.join(__dirname, 'gen_d2l_data_fixtures.py');
    const out = execFileSync(PYTHON, [script, '--bench', dir, String(args.maxLen)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const python = JSON.parse(out.trim().split('\n').pop());
    console.log(`d2l SNLIBERTDataset (PyTorch ${python.torch}, multiprocessing.Pool(4)): ${python.seconds.toFixed(2)} s  ` +
      `(tokens [${python.shape.join(', ')}] ${python.dtype})`);
    console.log(`ratio, PyTorch / torchbridge: ${(python.seconds / threaded.elapsed).toFixed(1)}x with worker threads, ` +
      `${(python.seconds / single.elapsed).toFixed(1)}x on the calling thread`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (torch.memory().liveTensors !== 0) throw new Error(`${torch.memory().liveTensors} tensors leaked`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
