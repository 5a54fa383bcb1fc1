// The child process of scripts/fuzz.js: runs checkpoint loads or tensor-call snippets one at a
// time, reading one JSON case per line on stdin and answering `@@FUZZ {...}` lines on stdout
// (start before, end after), so that the parent can blame a crash on the case that started.
//   node --expose-gc scripts/fuzz/worker.js checkpoint|tensor
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const { judgeError, oneLine, PROTOCOL_PREFIX } = require('./common');

const mode = process.argv[2];
const root = path.resolve(__dirname, '..', '..');

function send(message) {
  fs.writeSync(1, `${PROTOCOL_PREFIX}${JSON.stringify(message)}\n`);
}

let torch;
let scope;
try {
  torch = require(path.join(root, 'lib'));
  scope = require(path.join(root, 'lib', 'core', 'scope'));
} catch (e) {
  process.stderr.write(`cannot load torchbridge: ${e.message}\n`);
  process.exit(3);
}

const DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'uint8', 'bool']);
const SAFE = Number.MAX_SAFE_INTEGER;

// ---- checkpoint loads -----------------------------------------------------------------------

// The canonical form of a loaded value, as scripts/fuzz/oracle.py computes it for PyTorch's.
function digest(value, depth = 0) {
  if (depth > 2000) throw new RangeError('too deep to compare');
  if (value instanceof torch.Tensor) {
    const shape = value.shape;
    let bytes;
    try {
      bytes = torch.tidy(() => value.detach().flatten().contiguous().view('uint8').data());
    } catch (e) {
      const err = new Error(`a loaded tensor cannot be read back: ${oneLine(e.message)}`);
      err.unusable = true;
      throw err;
    }
    const h = crypto.createHash('sha256').update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest('hex');
    return { T: value.dtype, s: [...shape], g: Boolean(value.requiresGrad), h };
  }
  if (value instanceof Map) return { D: [...value].map(([k, v]) => [digest(k, depth + 1), digest(v, depth + 1)]) };
  if (Array.isArray(value)) return value.map((v) => digest(v, depth + 1));
  if (value instanceof Uint8Array) return { B: Buffer.from(value).toString('hex') };
  if (typeof value === 'bigint') return value >= -SAFE && value <= SAFE ? Number(value) : { I: value.toString() };
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { F: 'nan' };
    if (!Number.isFinite(value)) return { F: value > 0 ? 'inf' : '-inf' };
    return value;
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  return { X: `js ${typeof value} ${Object.prototype.toString.call(value)}` };
}

// What is wrong with a tensor's shape (non-negative safe integers) or dtype (a known one), said
// of `what`; null when nothing is.
function tensorProblem(shape, dtype, what) {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return `${what} has shape ${JSON.stringify(shape)}`;
  if (!DTYPES.has(dtype)) return `${what} has dtype ${dtype}`;
  return null;
}

// What a loaded value must look like: tensors with sane shapes and dtypes.
function checkLoaded(value) {
  const todo = [value];
  const seen = new Set();
  while (todo.length > 0) {
    const v = todo.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof torch.Tensor) {
      const wrong = tensorProblem(v.shape, v.dtype, 'a loaded tensor');
      if (wrong !== null) return wrong;
    } else if (Array.isArray(v)) {
      todo.push(...v);
    } else if (v instanceof Map) {
      for (const [k, item] of v) {
        if (typeof k !== 'string' && typeof k !== 'number') return `a loaded dict has a ${typeof k} key`;
        todo.push(item);
      }
    }
  }
  return null;
}

async function runCheckpoint(c) {
  let value;
  try {
    value = c.api === 'load' ? await torch.load(c.path) : await torch.loadValue(c.path);
  } catch (e) {
    const bad = judgeError(e);
    return bad === null ? { outcome: 'error', detail: oneLine(e.message) } : { outcome: 'nonsense', detail: `${bad}: ${oneLine(e && e.message)}` };
  }
  try {
    const wrong = checkLoaded(value);
    if (wrong !== null) return { outcome: 'nonsense', detail: wrong };
    let d;
    try {
      d = digest(value);
    } catch (e) {
      if (e.unusable) return { outcome: 'nonsense', detail: e.message };
      d = null;
    }
    return { outcome: 'ok', digest: d };
  } finally {
    try {
      torch.dispose(value);
    } catch {
      // what was loaded is dropped either way
    }
  }
}

// ---- tensor calls -------------------------------------------------------------------------

const defaultThreads = torch.getNumThreads();
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;

class CheckFailure extends Error {}

/** The snippets' assertion: a false `cond` is silent nonsense (a wrong value, not an error). */
function check(cond, what) {
  if (!cond) throw new CheckFailure(what);
}

// Every tensor in a returned value must be usable: a shape of non-negative ints, a known dtype.
function checkResult(value) {
  const todo = [value];
  const seen = new Set();
  while (todo.length > 0) {
    const v = todo.pop();
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof torch.Tensor) {
      let shape;
      let dtype;
      let numel;
      try {
        shape = v.shape;
        dtype = v.dtype;
        numel = v.numel;
      } catch {
        continue; // a disposed tensor returned on purpose
      }
      const wrong = tensorProblem(shape, dtype, 'the result');
      if (wrong !== null) return wrong;
      const product = shape.reduce((a, b) => a * b, 1);
      if (numel !== product) return `the result has numel ${numel} but shape [${shape}]`;
    } else if (Array.isArray(v)) {
      todo.push(...v.slice(0, 64));
    } else if (v instanceof Map || v instanceof Set) {
      todo.push(...[...v.values()].slice(0, 64));
    } else if (Object.getPrototypeOf(v) === Object.prototype) {
      todo.push(...Object.values(v).slice(0, 64));
    }
  }
  return null;
}

async function runTensor(c) {
  const fn = new AsyncFunction('torch', 'check', 'gc', c.code);
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};
  let result;
  let failure = null;
  try {
    result = await fn(torch, check, gc);
  } catch (e) {
    failure = e;
  }
  const after = [];
  if (!torch.isGradEnabled()) after.push('grad mode was left disabled');
  if (scope.scopeDepth() !== 0) after.push(`a tidy() scope was left open (depth ${scope.scopeDepth()})`);
  try {
    if (torch.getNumThreads() !== defaultThreads) torch.setNumThreads(defaultThreads);
  } catch {
    // the case's own setNumThreads fight; the next restart resets it
  }
  try {
    torch.dispose(result);
  } catch {
    // not ours to judge: the snippet may return anything
  }
  if (after.length > 0) return { outcome: 'nonsense', detail: after.join('; '), restart: true };
  if (failure instanceof CheckFailure) return { outcome: 'nonsense', detail: `wrong result: ${failure.message}` };
  if (failure !== null) {
    const bad = judgeError(failure);
    if (bad !== null) return { outcome: 'nonsense', detail: `${bad}: ${oneLine(failure && failure.message)}` };
    return { outcome: 'error', detail: `${failure.name}: ${oneLine(failure.message)}` };
  }
  const wrong = checkResult(result);
  if (wrong !== null) return { outcome: 'nonsense', detail: wrong };
  if (c.expectError && !(/\(none here\)/.test(c.expectError) && torch.cuda.isAvailable())) return { outcome: 'nonsense', detail: `accepted ${c.expectError}` };
  return { outcome: 'ok' };
}

// ---- the loop -----------------------------------------------------------------------------

const lines = readline.createInterface({ input: process.stdin });
const queue = [];
let busy = false;

async function drain() {
  if (busy) return;
  busy = true;
  while (queue.length > 0) {
    const c = queue.shift();
    send({ ev: 'start', i: c.i });
    let answer;
    try {
      answer = mode === 'checkpoint' ? await runCheckpoint(c) : await runTensor(c);
    } catch (e) {
      answer = { outcome: 'nonsense', detail: `the worker failed: ${oneLine(e && e.stack)}` };
    }
    send({ ev: 'end', i: c.i, ...answer, rss: process.memoryUsage().rss });
    if (answer.restart) process.exit(0);
  }
  busy = false;
}

lines.on('line', (line) => {
  if (line.trim() === '') return;
  queue.push(JSON.parse(line));
  void drain();
});
lines.on('close', () => {
  const wait = setInterval(() => { if (!busy) { clearInterval(wait); process.exit(0); } }, 10);
});

send({ ev: 'ready', torch: torch.version().libtorch, cuda: torch.cuda.isAvailable(), threads: defaultThreads });
