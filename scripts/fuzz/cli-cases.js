// Bad command lines for scripts/fuzz.js: `node lib/train.js` and `node lib/predict.js` with
// unknown flags, missing values, out-of-range numbers, and paths that are missing, directories,
// FIFOs, devices, empty, truncated or garbage. Every training run is tiny.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const TINY_ROWS = 24;

/** The flags of a tiny, valid training run (as a Map, so mutations can replace and drop flags). */
function tinyTrainFlags(files) {
  return new Map([
    ['--pretrained', 'random'], ['--data-dir', files.data], ['--train-split', 'dev'], ['--test-split', 'test'],
    ['--epochs', '1'], ['--batch-size', '8'], ['--max-len', '16'], ['--bert-max-len', '32'], ['--num-hiddens', '8'],
    ['--ffn-num-hiddens', '16'], ['--num-heads', '2'], ['--num-blks', '1'], ['--devices', 'cpu'], ['--threads', '1'],
    ['--seed', '0'], ['--max-steps', '2'], ['--no-plot', null],
  ]);
}

/** The command line of a flag Map: `--flag value`, `--flag` alone for null, and '__twice' spliced in. */
function argvOf(flags) {
  const argv = [];
  for (const [k, val] of flags) {
    if (k === '__twice') argv.push(...val);
    else {
      argv.push(k);
      if (val !== null) argv.push(val);
    }
  }
  return argv;
}

const SPLIT_VARIANTS = {
  missing: null,
  directory: 'dir',
  fifo: 'fifo',
  'dev-zero': 'devzero',
  empty: '',
  'header-only': 'header',
  garbage: 'garbage',
  'invalid-utf8': 'utf8',
  'missing-columns': 'short',
  'all-unlabelled': 'dash',
  'unknown-labels': 'labels',
  'long-line': 'long',
  crlf: 'crlf',
  'nul-bytes': 'nul',
  'no-header': 'noheader',
};
// What each split variant must give: 'bad' exit 2, 'any' exit 0 or 2 (data d2l's reader would
// skip or read differently: a judgement call, but never exit 1 or a crash).
const SPLIT_EXPECT = {
  missing: 'bad', directory: 'bad', fifo: 'bad', 'dev-zero': 'bad', empty: 'bad', 'header-only': 'bad', garbage: 'bad',
  'invalid-utf8': 'any', 'missing-columns': 'any', 'all-unlabelled': 'bad', 'unknown-labels': 'any', 'long-line': 'any',
  crlf: 'any', 'nul-bytes': 'any', 'no-header': 'any',
};

function writeSplitVariant(file, variant, goodText, rng) {
  const lines = goodText.split('\n').filter((l) => l !== '');
  const [header, ...rows] = lines;
  switch (variant) {
    case 'missing': return;
    case 'directory': fs.mkdirSync(file); return;
    case 'fifo': execFileSync('mkfifo', [file]); return;
    case 'dev-zero': fs.symlinkSync('/dev/zero', file); return;
    case 'empty': fs.writeFileSync(file, ''); return;
    case 'header-only': fs.writeFileSync(file, `${header}\n`); return;
    case 'garbage': fs.writeFileSync(file, rng.bytes(8192)); return;
    case 'invalid-utf8': fs.writeFileSync(file, Buffer.concat([Buffer.from(`${header}\n${rows[0]}\n`), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x09]), Buffer.from(`${rows.slice(1).join('\n')}\n`)])); return;
    case 'missing-columns': fs.writeFileSync(file, `${header}\n${rows.map((r, k) => (k % 3 === 0 ? r.split('\t').slice(0, 2).join('\t') : r)).join('\n')}\n`); return;
    case 'all-unlabelled': fs.writeFileSync(file, `${header}\n${rows.map((r) => `-${r.slice(r.indexOf('\t'))}`).join('\n')}\n`); return;
    case 'unknown-labels': fs.writeFileSync(file, `${header}\n${rows.map((r, k) => (k % 2 ? `maybe${r.slice(r.indexOf('\t'))}` : r)).join('\n')}\n`); return;
    case 'long-line': {
      const cols = rows[0].split('\t');
      cols[5] = 'word '.repeat(200000);
      fs.writeFileSync(file, `${header}\n${cols.join('\t')}\n${rows.slice(1).join('\n')}\n`);
      return;
    }
    case 'crlf': fs.writeFileSync(file, `${lines.join('\r\n')}\r\n`); return;
    case 'nul-bytes': fs.writeFileSync(file, `${header}\n${rows.map((r) => r.replace(/ /, ' \u0000 ')).join('\n')}\n`); return;
    case 'no-header': fs.writeFileSync(file, `${rows.join('\n')}\n`); return;
    default: throw new Error(variant);
  }
}

/**
 * Everything the CLI cases point at, made once under `dir`: tiny SNLI splits and broken
 * variants of them, broken files of every kind, and a classifier saved by a tiny run.
 */
function prepareCliFiles(dir, rng, snliDir, checkpointBases) {
  const files = { dir };
  files.data = path.join(dir, 'data');
  fs.mkdirSync(files.data, { recursive: true });
  const good = {};
  for (const split of ['dev', 'test']) {
    const text = fs.readFileSync(path.join(snliDir, `snli_1.0_${split}.txt`), 'utf8').split('\n').slice(0, TINY_ROWS + 1).join('\n');
    good[split] = `${text}\n`;
    fs.writeFileSync(path.join(files.data, `snli_1.0_${split}.txt`), good[split]);
  }
  files.splitDirs = {};
  for (const variant of Object.keys(SPLIT_VARIANTS)) {
    for (const split of ['dev', 'test']) {
      const d = path.join(dir, `data-${split}-${variant}`);
      fs.mkdirSync(d);
      for (const other of ['dev', 'test']) {
        const f = path.join(d, `snli_1.0_${other}.txt`);
        if (other === split) writeSplitVariant(f, variant, good[other], rng);
        else fs.writeFileSync(f, good[other]);
      }
      files.splitDirs[`${split}:${variant}`] = d;
    }
  }
  files.empty = path.join(dir, 'empty.bin');
  fs.writeFileSync(files.empty, '');
  files.garbage = path.join(dir, 'garbage.bin');
  fs.writeFileSync(files.garbage, rng.bytes(4096));
  files.fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [files.fifo]);
  files.directory = path.join(dir, 'a-directory');
  fs.mkdirSync(files.directory);
  files.regular = path.join(dir, 'regular-file');
  fs.writeFileSync(files.regular, 'not a directory\n');
  files.checkpointBases = checkpointBases;
  // pretrained directories that are not
  files.preEmpty = path.join(dir, 'pretrained-empty');
  fs.mkdirSync(files.preEmpty);
  files.preGarbage = path.join(dir, 'pretrained-garbage');
  fs.mkdirSync(files.preGarbage);
  fs.writeFileSync(path.join(files.preGarbage, 'vocab.json'), '{"idx_to_token": 5');
  fs.writeFileSync(path.join(files.preGarbage, 'pretrained.params'), rng.bytes(1000));
  files.preVocabOnly = path.join(dir, 'pretrained-vocab-only');
  fs.mkdirSync(files.preVocabOnly);
  fs.writeFileSync(path.join(files.preVocabOnly, 'vocab.json'), JSON.stringify(['<unk>', '<pad>', '<bos>', '<eos>', '<sep>', '<cls>', '<mask>', 'a']));
  fs.mkdirSync(path.join(dir, 'save-dir-json.pt.json'));
  files.saveJsonIsDir = path.join(dir, 'save-dir-json.pt');
  return files;
}

/** Trains the tiny classifiers predict.js cases use (FILE and FILE.json each). */
function trainModels(files, run) {
  const out = {};
  for (const [name, hiddens] of [['model', '8'], ['model16', '16']]) {
    const flags = tinyTrainFlags(files);
    flags.set('--num-hiddens', hiddens);
    flags.set('--save', path.join(files.dir, `${name}.pt`));
    const r = run(argvOf(flags));
    if (r.status !== 0) throw new Error(`the tiny training run for ${name}.pt failed (${r.status}): ${r.stderr.slice(-500)}`);
    out[name] = path.join(files.dir, `${name}.pt`);
  }
  const model = fs.readFileSync(out.model);
  const json = fs.readFileSync(`${out.model}.json`);
  const variant = (name, pt, js) => {
    const f = path.join(files.dir, name);
    if (pt !== null) fs.writeFileSync(f, pt);
    if (js !== null) fs.writeFileSync(`${f}.json`, js);
    return f;
  };
  files.model = out.model;
  files.model16 = out.model16;
  files.models = {
    truncated: variant('truncated.pt', model.subarray(0, model.length >> 1), json),
    'corrupt-json': variant('corrupt-json.pt', model, json.subarray(0, json.length >> 1)),
    'json-of-other-model': variant('mixed.pt', model, fs.readFileSync(`${out.model16}.json`)),
    'no-json': variant('no-json.pt', model, null),
    'json-garbage': variant('json-garbage.pt', model, Buffer.from([0xff, 0x00, 0x7b])),
    'flipped-byte': variant('flipped.pt', Buffer.from(model).fill(0x55, model.length >> 1, (model.length >> 1) + 8), json),
    'json-array': variant('json-array.pt', model, '[]'),
    'json-empty-object': variant('json-empty.pt', model, '{}'),
  };
  return files;
}

// ---- the cases ----------------------------------------------------------------------------

const INT_FLAGS = ['--epochs', '--batch-size', '--max-len', '--bert-max-len', '--num-hiddens', '--ffn-num-hiddens', '--num-heads',
  '--num-blks', '--threads', '--seed', '--length-groups', '--max-steps'];
const NUMBER_FLAGS = ['--lr', '--dropout'];
// Values no numeric flag takes (seed and dropout take 0; lr takes huge numbers and hex).
const BAD_NUMBERS = ['0', '-1', '1e9', 'NaN', 'abc', String(2 ** 70), '2**70', '', '1.5', 'Infinity', '-Infinity', '99999999999999999999',
  '0x10', '1e-400', '- 1', '１', '3abc', '+-3', '1_000'];
// Valid alternatives that keep the run tiny and consistent with the other flags.
const NEUTRAL = {
  '--epochs': ['1', '2'], '--batch-size': ['4', '16', ' 8'], '--max-len': ['8', '16', '32'], '--bert-max-len': ['32', '64'],
  '--num-hiddens': ['8', '16'], '--ffn-num-hiddens': ['8', '32'], '--num-heads': ['1', '2'], '--num-blks': ['1', '2'],
  '--threads': ['1', '2'], '--seed': ['0', '7', '4294967296'], '--length-groups': ['1', '2', '1024'], '--max-steps': ['1', '3'],
  '--lr': ['1e-3', '1', '0x10'], '--dropout': ['0', '0.5', '0.999'],
};

const INT_RANGES = {
  '--epochs': [1], '--batch-size': [1, 2 ** 20], '--max-len': [3, 4096], '--bert-max-len': [3, 4096], '--num-hiddens': [1, 65536],
  '--ffn-num-hiddens': [1, 65536], '--num-heads': [1, 65536], '--num-blks': [1, 256], '--threads': [1, 4 * os.availableParallelism()],
  '--seed': [0], '--length-groups': [1, 1024], '--max-steps': [1],
};

/**
 * Why the numbers of a final training command line are invalid (README and --help: ranges,
 * heads dividing the hidden units, --max-len within --bert-max-len, ...), or null.
 */
function numericProblem(flags) {
  for (const [flag, [min, max = Number.MAX_SAFE_INTEGER]] of Object.entries(INT_RANGES)) {
    const value = flags.get(flag);
    if (typeof value !== 'string') continue;
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) return `${flag} ${JSON.stringify(value)} out of range`;
  }
  for (const flag of NUMBER_FLAGS) {
    const value = flags.get(flag);
    if (typeof value !== 'string') continue;
    const n = value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n) || (flag === '--lr' ? n <= 0 : n < 0 || n >= 1)) return `${flag} ${JSON.stringify(value)} out of range`;
  }
  const int = (flag, fallback) => (typeof flags.get(flag) === 'string' ? Number(flags.get(flag)) : fallback);
  const [h, ffn, heads, blocks] = [int('--num-hiddens', 256), int('--ffn-num-hiddens', 512), int('--num-heads', 4), int('--num-blks', 2)];
  const positions = int('--bert-max-len', 512);
  if (h % heads !== 0) return 'heads do not divide the hidden units';
  const block = 4 * (h * h + h) + 2 * h + (h * ffn + ffn) + (ffn * h + h) + 2 * h;
  if (blocks * block + 2 * h + positions * h + (h * h + h) + (3 * h + 3) > 2 ** 31) return 'more than 2^31 parameters';
  if (int('--max-len', 128) > positions) return '--max-len beyond --bert-max-len';
  const devices = flags.get('--devices');
  if (typeof devices === 'string' && devices.split(',').length > int('--batch-size', 512)) return 'fewer examples than devices';
  if (flags.has('--fixed-padding') && flags.has('--length-groups')) return '--fixed-padding with --length-groups';
  if (flags.has('--plot') && flags.has('--no-plot')) return '--plot with --no-plot';
  return null;
}

function setPathFlag(flags, files, flag, rng) {
  const choices = {
    missing: path.join(files.dir, 'no-such-file'), 'missing-dir': path.join(files.dir, 'no-such-dir', 'x'), directory: files.directory,
    fifo: files.fifo, 'dev-zero': '/dev/zero', 'dev-null': '/dev/null', empty: files.empty, garbage: files.garbage, proc: '/proc/self/status',
    'under-a-file': path.join(files.regular, 'x'), 'empty-string': '',
  };
  const name = rng.pick(Object.keys(choices));
  flags.set(flag, choices[name]);
  return `${flag} ${name}`;
}

// One mutation of a training command line: [description, expectation] ('bad', 'any', 'fail', 'ok').
function mutateTrain(rng, flags, files) {
  const kind = rng.weighted([[8, 'number'], [3, 'neutral'], [3, 'structure'], [3, 'split'], [2, 'data-dir'], [3, 'init'], [3, 'save'],
    [1, 'plot'], [2, 'devices'], [2, 'pretrained'], [2, 'combo']]);
  if (kind === 'number') {
    // judged on the final command line (numericProblem): a later mutation may change the context
    const flag = rng.pick([...INT_FLAGS, ...NUMBER_FLAGS]);
    const value = rng.chance(0.85) ? rng.pick(BAD_NUMBERS) : String(rng.pick([3, 5, 9, 17, 100, 4096, 4097, 65536, 65537, 1 << 20, (1 << 20) + 1, 256, 257, 1025]));
    const probe = new Map(flags).set(flag, value);
    // valid but large values make a long run, not bad input: left out
    if (numericProblem(probe) === null && !BAD_NUMBERS.includes(value)) return [`${flag} ${value} (valid, left out)`, 'ok'];
    flags.set(flag, value);
    return [`${flag} ${JSON.stringify(value)}`, 'ok'];
  }
  if (kind === 'neutral') {
    const flag = rng.pick(Object.keys(NEUTRAL));
    const value = rng.pick(NEUTRAL[flag]);
    flags.set(flag, value);
    return [`${flag} ${JSON.stringify(value)} (valid)`, 'ok'];
  }
  if (kind === 'structure') {
    const how = rng.pick(['unknown', 'typo', 'twice', 'bool-value', 'missing-value', 'positional', 'short', 'dashdash', 'help', 'single-dash', 'equals-empty']);
    switch (how) {
      case 'unknown': flags.set('--frobnicate', '1'); return ['an unknown flag --frobnicate', 'bad'];
      case 'typo': flags.set('--epoch', '1'); return ['a typo --epoch', 'bad'];
      case 'twice': flags.set('__twice', ['--epochs', '1']); return ['--epochs given twice', 'bad'];
      case 'bool-value': flags.delete('--no-plot'); flags.set('--no-plot=1', null); return ['--no-plot=1', 'bad'];
      case 'missing-value': {
        const flag = rng.pick([...INT_FLAGS, '--data-dir', '--save', '--init']);
        flags.delete(flag);
        flags.set(flag, null);
        return [`${flag} without a value`, 'bad'];
      }
      case 'positional': flags.set('extra-argument', null); return ['a positional argument', 'bad'];
      case 'short': flags.set('-e', '1'); return ['a short flag -e 1', 'bad'];
      case 'dashdash': flags.set('--', null); flags.set('--epochs=3', null); return ['-- then --epochs=3', 'bad'];
      case 'help': flags.set('--help', null); return ['--help', 'ok'];
      case 'single-dash': flags.set('-', null); return ['a lone -', 'bad'];
      default: flags.set('--lr=', null); flags.delete('--lr'); return ['--lr= (empty)', 'bad'];
    }
  }
  if (kind === 'split') {
    const split = rng.pick(['dev', 'test']);
    const variant = rng.pick(Object.keys(SPLIT_VARIANTS));
    flags.set('--data-dir', files.splitDirs[`${split}:${variant}`]);
    return [`the ${split} split is ${variant}`, SPLIT_EXPECT[variant]];
  }
  if (kind === 'data-dir') {
    const what = rng.pick(['missing', 'a file', '/dev/null', '/proc', 'empty string', 'no splits']);
    const to = { missing: path.join(files.dir, 'nope'), 'a file': files.regular, '/dev/null': '/dev/null', '/proc': '/proc', 'empty string': '', 'no splits': files.directory }[what];
    flags.set('--data-dir', to);
    return [`--data-dir ${what}`, 'bad'];
  }
  if (kind === 'init') {
    const what = rng.pick(['path', 'path', 'wrong-shapes', 'python-state', 'hostile', 'truncated', 'flipped']);
    if (what === 'path') return [setPathFlag(flags, files, '--init', rng), 'bad'];
    if (what === 'wrong-shapes') { flags.set('--init', files.model16); return ['--init of a classifier with other sizes', 'bad']; }
    if (what === 'truncated') { flags.set('--init', files.models.truncated); return ['--init of a truncated classifier', 'bad']; }
    if (what === 'flipped') { flags.set('--init', files.models['flipped-byte']); return ['--init of a classifier with 8 damaged bytes', 'bad']; }
    const bases = files.checkpointBases.filter((b) => (what === 'hostile' ? b.kind === 'hostile' : b.name === 'py_state.pt'));
    const base = rng.pick(bases);
    flags.set('--init', base.path);
    return [`--init ${base.name}`, 'bad'];
  }
  if (kind === 'save') {
    const choices = {
      'missing dir': path.join(files.dir, 'no-such-dir', 'm.pt'), 'an existing directory': files.directory, '/proc/x': '/proc/x',
      'under a regular file': path.join(files.regular, 'm.pt'), 'empty string': '', '/': '/', '/dev/full': '/dev/full',
      'FILE.json is a directory': files.saveJsonIsDir, '/proc/self/status': '/proc/self/status', 'a FIFO': files.fifo,
    };
    const name = rng.pick(Object.keys(choices));
    flags.set('--save', choices[name]);
    return [`--save into ${name}`, 'bad'];
  }
  if (kind === 'plot') {
    flags.delete('--no-plot');
    const choices = { 'missing dir': path.join(files.dir, 'nope', 'c'), '.txt': path.join(files.dir, 'c.txt'), 'under a regular file': path.join(files.regular, 'c'), 'empty string': '' };
    const name = rng.pick(Object.keys(choices));
    flags.set('--plot', choices[name]);
    return [`--plot into ${name}`, 'bad'];
  }
  if (kind === 'devices') {
    const value = rng.pick(['cuda:0', 'cuda', 'gpu', '', 'cpu,', ',', 'cuda:-1', 'cpu:0', 'cpu,cpu', 'all', 'cuda:99', 'cpu;cpu', 'CPU']);
    flags.set('--devices', value);
    const ok = ['cpu,cpu', 'all'].includes(value) ? 'ok' : ['cpu:0', 'CPU'].includes(value) ? 'any' : 'bad';
    return [`--devices ${JSON.stringify(value)}`, ok];
  }
  if (kind === 'pretrained') {
    const choices = { 'a missing directory': path.join(files.dir, 'nope'), 'a regular file': files.regular, 'an empty directory': files.preEmpty,
      'garbage files': files.preGarbage, 'vocab.json only': files.preVocabOnly, 'empty string': '', 'bert.tiny': 'bert.tiny', 'bert.small (a download, offline)': 'bert.small' };
    const name = rng.pick(Object.keys(choices));
    flags.set('--pretrained', choices[name]);
    return [`--pretrained ${name}`, /download/.test(name) ? 'fail' : 'bad'];
  }
  const how = rng.pick(['max-len>bert', 'heads', 'fixed+groups', 'plot+noplot', 'fused', 'params', 'batch<devices', 'threads']);
  switch (how) {
    case 'max-len>bert': flags.set('--max-len', '64'); return ['--max-len 64 (--bert-max-len 32)', 'ok'];
    case 'heads': flags.set('--num-hiddens', '9'); return ['--num-hiddens 9 (--num-heads 2)', 'ok'];
    case 'fixed+groups': flags.set('--fixed-padding', null); flags.set('--length-groups', '2'); return ['--fixed-padding with --length-groups', 'ok'];
    case 'plot+noplot': flags.set('--plot', path.join(files.dir, 'c')); return ['--plot with --no-plot', 'ok'];
    case 'fused': flags.set('--attention', 'fused'); return ['--attention fused', 'any'];
    case 'params': flags.set('--num-hiddens', '65536'); flags.set('--ffn-num-hiddens', '65536'); flags.set('--num-heads', '1'); return ['65536 hidden units', 'ok'];
    case 'batch<devices': flags.set('--batch-size', '1'); flags.set('--devices', 'cpu,cpu'); return ['--batch-size 1 on two devices', 'ok'];
    default: flags.set('--threads', String(4 * os.availableParallelism() + 1)); return ['more than 4 threads per core', 'ok'];
  }
}

// One mutation of a predict command line.
function mutatePredict(rng, state, files) {
  const kind = rng.weighted([[4, 'model'], [3, 'model-file'], [3, 'sentences'], [2, 'flags'], [1, 'neutral']]);
  if (kind === 'model') {
    const choices = {
      missing: path.join(files.dir, 'no-such.pt'), directory: files.directory, fifo: files.fifo, '/dev/zero': '/dev/zero', empty: files.empty,
      garbage: files.garbage, 'empty string': '', 'a python state dict': files.checkpointBases.find((b) => b.name === 'py_state.pt').path,
      'a hostile pickle': files.checkpointBases.find((b) => b.kind === 'hostile').path,
    };
    const name = rng.pick(Object.keys(choices));
    state.model = choices[name];
    return [`--model ${name}`, 'bad'];
  }
  if (kind === 'model-file') {
    const name = rng.pick(Object.keys(files.models));
    state.model = files.models[name];
    return [`--model with ${name}`, 'bad'];
  }
  if (kind === 'sentences') {
    const how = rng.pick(['odd', 'none', 'empty', 'huge', 'many', 'control', 'lone-surrogate']);
    switch (how) {
      case 'odd': state.sentences = ['One sentence.']; return ['one sentence (no pair)', 'bad'];
      case 'none': state.sentences = []; return ['no sentences', 'bad'];
      case 'empty': state.sentences = ['', '']; return ['two empty sentences', 'any'];
      case 'huge': state.sentences = ['word '.repeat(20000), 'A person.']; return ['a 20000-word premise', 'any'];
      case 'many': state.sentences = Array.from({ length: 400 }, (_, k) => `Sentence ${k} .`); return ['200 pairs', 'ok'];
      case 'control': state.sentences = ['\u0007\u001b[2J', '\t\r\n']; return ['control characters', 'any'];
      default: state.sentences = ['\ud800 broken', 'A person.']; return ['a lone surrogate (becomes U+FFFD in argv)', 'any'];
    }
  }
  if (kind === 'flags') {
    const how = rng.pick(['no-model', 'twice', 'device-cuda', 'device-two', 'device-garbage', 'format', 'unknown', 'missing-value']);
    switch (how) {
      case 'no-model': state.model = undefined; return ['no --model', 'bad'];
      case 'twice': state.extra.push('--model', files.model); return ['--model given twice', 'bad'];
      case 'device-cuda': state.extra.push('--device', 'cuda:0'); return ['--device cuda:0 (no GPU)', 'bad'];
      case 'device-two': state.extra.push('--device', 'cpu,cpu'); return ['--device cpu,cpu', 'bad'];
      case 'device-garbage': state.extra.push('--device', 'x'); return ['--device x', 'bad'];
      case 'format': state.extra.push('--format', 'xml'); return ['--format xml', 'bad'];
      case 'unknown': state.extra.push('--modle', files.model); return ['a typo --modle', 'bad'];
      default: state.trailing = '--format'; return ['--format without a value', 'bad'];
    }
  }
  // once: a second --format is a usage error ("given twice"), not valid input
  if (!state.extra.includes('--format')) state.extra.push('--format', 'json');
  return ['--format json (valid)', 'ok'];
}

const RANK = { ok: 0, any: 1, fail: 2, bad: 3 };

/** One CLI case: { script, argv, steps, expect }. */
function cliCase(rng, files) {
  const steps = [];
  let expect = 'ok';
  const n = rng.weighted([[6, 1], [3, 2], [1, 3]]);
  const note = (what, e) => {
    steps.push(what);
    if (RANK[e] > RANK[expect]) expect = e;
  };
  if (rng.chance(0.3) && files.model) {
    const state = { model: files.model, sentences: ['A man plays a guitar.', 'A person makes music.'], extra: [], trailing: null };
    for (let k = 0; k < n; ++k) note(...mutatePredict(rng, state, files));
    const argv = [...(state.model === undefined ? [] : ['--model', state.model]), ...state.extra, ...state.sentences, ...(state.trailing ? [state.trailing] : [])];
    return { script: 'lib/predict.js', argv, steps, expect };
  }
  const flags = tinyTrainFlags(files);
  for (let k = 0; k < n; ++k) note(...mutateTrain(rng, flags, files));
  if (flags.has('--help')) {
    // --help answers before the values are checked; only the flag syntax can still fail
    expect = 'any';
  } else {
    const problem = numericProblem(flags);
    if (problem !== null) note(`(so: ${problem})`, 'bad');
  }
  return { script: 'lib/train.js', argv: argvOf(flags), steps, expect };
}

module.exports = { cliCase, prepareCliFiles, trainModels, tinyTrainFlags, argvOf };
