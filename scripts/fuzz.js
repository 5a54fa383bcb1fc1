#!/usr/bin/env node
// Fuzzing torchbridge with bad input (issue 13: no crash, no hang, no nonsense on bad input).
// Three campaigns, each case in a child process, every case reproducible from the seed and its
// index; run `node scripts/fuzz.js --help` for the options and what counts as what.
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

// SNLI's real splits, beside the repository (as scripts/bench-train.js finds them); the CLI
// campaign cuts its tiny splits from them.
const SNLI_DIR = process.env.SNLI_DIR || path.resolve(__dirname, '..', '..', 'shared', 'data', 'snli_1.0');

const { caseSeed, makeRng, judgeError, oneLine, rssOf, underAddressSpaceCap, CaseChild } = require('./fuzz/common');
const { checkpointCase } = require('./fuzz/checkpoint-cases');
const { tensorCase } = require('./fuzz/tensor-cases');
const { cliCase, prepareCliFiles, trainModels } = require('./fuzz/cli-cases');

const ROOT = path.resolve(__dirname, '..');
const CAMPAIGNS = ['checkpoint', 'tensor', 'cli'];
// Shares of --seconds when all campaigns run (the CLI's cases are whole processes: slower).
const SHARES = { checkpoint: 0.35, tensor: 0.35, cli: 0.3 };

const HELP = `Usage: node scripts/fuzz.js [options]

Feeds torchbridge bad input and sorts what happens into: ok, clean error, crash (a signal or an
abort), hang (the case ran past its timeout) and nonsense (an internal-looking error message,
a wrong result, runaway memory, exit status 1 where the README promises 2 for bad input, or a
success on input that PyTorch refuses or that the case knows to be invalid). Cases run in child
processes; case K of a seed is always the same case.

Memory: every child runs under an address-space cap (RLIMIT_AS, through prlimit or ulimit -v),
so that an allocation beyond it fails inside libtorch with its own error ("DefaultCPUAllocator:
can't allocate memory"), a clean error, as PyTorch's would on a smaller machine: asking for a
huge tensor is not nonsense. Node and libtorch map about 2 GiB of address space before any case,
so the default cap leaves a case about 2 GiB to allocate. Under the cap, growth without bound
ends in an allocation failure (libtorch's error, or V8's fatal out-of-memory: a crash) or a
hang; the count of cases that libtorch refused memory is noted. Runaway memory (resident memory
above --runaway-gb) is the safety net where the cap did not hold or could not be set.

Campaigns:
  checkpoint  torch.load / loadValue of mutated torch.save files (PyTorch-written and our own;
              stored and deflated; bit flips, truncation, zip header fields, pickle opcodes and
              ints, storage records, hostile GLOBALs such as os.system), each compared with
              PyTorch's torch.load of the same bytes (one long-running Python: $TORCHBRIDGE_PYTHON
              or /usr/bin/python3), whose unpickler is restricted to the globals torchbridge reads
  tensor      random calls into the public API (creation, shape ops, reductions, nn layers,
              losses, optimizers, manualSeed, setNumThreads, tidy/keep/dispose, use after
              dispose, detached and resized typed arrays) with good and bad arguments
  cli         node lib/train.js and lib/predict.js with bad flags, numbers out of range, and
              paths that are missing, directories, FIFOs, /dev/zero, empty or garbage; every
              training run is tiny (random weights, 24 SNLI rows, 2 steps)

Options:
  --seed N          the seed (default 1)
  --seconds S       stop starting new cases after S seconds in all, shared among the
                    campaigns (default 120)
  --campaign NAME   checkpoint, tensor, cli or all (default all)
  --case K          run only case K of the campaign (with its seed) and show everything
  --timeout S       seconds a checkpoint or tensor case may take (default 10; CLI runs 30)
  --memory-gb G     each child's address-space cap, in GiB (default 4; at least 3: node and
                    libtorch need about 2 GiB of it to start)
  --runaway-gb R    resident memory that counts as runaway, in GiB (default: the cap)
  --keep            keep the temporary directory (inputs of failing cases are kept anyway)
  --verbose         print every case
  --help            print this help

Exit status: 0 when nothing crashed, hung or made nonsense; 1 when something did; 2 for bad
options or a setup failure.`;

// ---- options ------------------------------------------------------------------------------

function usage(message) {
  process.stderr.write(`fuzz: ${message}; see --help\n`);
  process.exit(2);
}

function parseOptions(argv) {
  const o = { seed: 1, seconds: 120, campaign: 'all', case: undefined, timeout: 10, memoryGb: 4, runawayGb: undefined, keep: false, verbose: false };
  const numeric = { '--seed': 'seed', '--seconds': 'seconds', '--case': 'case', '--timeout': 'timeout', '--memory-gb': 'memoryGb', '--runaway-gb': 'runawayGb' };
  for (let k = 0; k < argv.length; ++k) {
    const [flag, inline] = argv[k].includes('=') ? [argv[k].slice(0, argv[k].indexOf('=')), argv[k].slice(argv[k].indexOf('=') + 1)] : [argv[k], undefined];
    if (flag === '--help') {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    } else if (flag === '--keep') o.keep = true;
    else if (flag === '--verbose') o.verbose = true;
    else if (flag === '--campaign' || numeric[flag]) {
      const value = inline ?? argv[++k];
      if (value === undefined) usage(`${flag} needs a value`);
      if (flag === '--campaign') {
        if (![...CAMPAIGNS, 'all'].includes(value)) usage(`--campaign must be one of ${CAMPAIGNS.join(', ')}, all; got ${JSON.stringify(value)}`);
        o.campaign = value;
      } else {
        const n = Number(value);
        const integer = ['--seed', '--case'].includes(flag);
        if (!Number.isFinite(n) || n < 0 || (integer && !Number.isSafeInteger(n)) || (!integer && n <= 0)) usage(`${flag} must be a ${integer ? 'non-negative integer' : 'positive number'}, got ${JSON.stringify(value)}`);
        o[numeric[flag]] = n;
      }
    } else usage(`unknown option ${JSON.stringify(argv[k])}`);
  }
  if (o.case !== undefined && o.campaign === 'all') usage('--case needs --campaign (checkpoint, tensor or cli)');
  if (o.memoryGb < 3) usage(`--memory-gb must be at least 3 (node and libtorch map about 2 GiB before any case), got ${o.memoryGb}`);
  if (o.runawayGb === undefined) o.runawayGb = o.memoryGb;
  return o;
}

// ---- bookkeeping --------------------------------------------------------------------------

class Campaign {
  constructor(name) {
    this.name = name;
    this.counts = { cases: 0, ok: 0, clean: 0, crash: 0, hang: 0, nonsense: 0 };
    this.notes = {};
    this.failures = [];
    this.setupError = null;
  }

  note(key) {
    this.notes[key] = (this.notes[key] ?? 0) + 1;
  }

  record(index, kind, detail, repro) {
    this.counts.cases += 1;
    this.counts[kind] += 1;
    if (kind === 'crash' || kind === 'hang' || kind === 'nonsense') this.failures.push({ index, kind, detail, repro });
  }
}

function shellQuote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${String(arg).replace(/'/g, "'\\''")}'`;
}

// What groups failures: the kind and the message with its numbers, paths and quotes blurred.
function signature(f) {
  const text = f.detail
    .replace(/'[^']*'|"[^"]*"/g, 'Q')
    .replace(/\/[\w./-]+/g, 'P')
    .replace(/0x[0-9a-f]+|\d+(\.\d+)?(e[+-]?\d+)?/gi, 'N')
    .replace(/\[[^\]]*\]/g, '[..]');
  return `${f.kind}: ${text.slice(0, 160)}`;
}

// ---- the Python oracle --------------------------------------------------------------------

const PYTHON = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';
const ORACLE = path.join(__dirname, 'fuzz', 'oracle.py');

class Oracle {
  async start() {
    this.proc = spawn(PYTHON, [ORACLE, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.lines = [];
    this.waiter = null;
    this.stderr = '';
    this.exited = false;
    let buffered = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (this.waiter) this.waiter(line);
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (c) => { this.stderr = (this.stderr + c).slice(-2000); });
    this.proc.stdin.on('error', () => {});
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      if (this.waiter) this.waiter(null, signal || `code ${code}`);
    });
    const ready = await this.next(60000);
    if (!ready.ok) throw new Error(`the PyTorch oracle (${PYTHON}) did not start: ${ready.error} ${oneLine(this.stderr, 500)}`);
  }

  next(timeoutMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiter = null; resolve({ ok: false, error: 'timeout' }); }, timeoutMs);
      this.waiter = (line, died) => {
        clearTimeout(timer);
        this.waiter = null;
        if (line === null) resolve({ ok: false, error: `died (${died})` });
        else {
          try {
            resolve({ ok: true, answer: JSON.parse(line) });
          } catch {
            resolve({ ok: false, error: `unreadable answer ${oneLine(line, 100)}` });
          }
        }
      };
      if (this.exited) this.waiter(null, 'exited');
    });
  }

  /** PyTorch's view of a file: { ok, digest } or { ok: false, error }, or { unknown } when the oracle failed. */
  async query(file, timeoutMs) {
    if (!this.proc || this.exited) await this.start();
    this.proc.stdin.write(`${file}\n`);
    const r = await this.next(timeoutMs);
    if (r.ok) return r.answer;
    this.proc.kill('SIGKILL');
    this.proc = null;
    return { unknown: `PyTorch's torch.load ${r.error === 'timeout' ? 'timed out' : r.error}` };
  }

  close() {
    if (this.proc && !this.exited) this.proc.stdin.end();
  }
}

// The first place two digests differ, as a path.
function firstDifference(a, b, where = '$') {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${where}: ${a.length} items vs PyTorch's ${b.length}`;
    for (let k = 0; k < a.length; ++k) {
      const d = firstDifference(a[k], b[k], `${where}[${k}]`);
      if (d) return d;
    }
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && a.D && b.D) {
    if (a.D.length !== b.D.length) return `${where}: ${a.D.length} keys vs PyTorch's ${b.D.length}`;
    for (let k = 0; k < a.D.length; ++k) {
      const d = firstDifference(a.D[k][0], b.D[k][0], `${where}.key${k}`) || firstDifference(a.D[k][1], b.D[k][1], `${where}[${JSON.stringify(a.D[k][0])}]`);
      if (d) return d;
    }
  }
  if (a && b && a.T && b.T) {
    const parts = ['T', 's', 'g', 'h'].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    const names = { T: 'dtype', s: 'shape', g: 'requires_grad', h: 'values' };
    return `${where}: ${parts.map((k) => `${names[k]} ${k === 'h' ? a.h.slice(0, 8) : JSON.stringify(a[k])} vs PyTorch's ${k === 'h' ? b.h.slice(0, 8) : JSON.stringify(b[k])}`).join(', ')}`;
  }
  return `${where}: ${oneLine(JSON.stringify(a), 80)} vs PyTorch's ${oneLine(JSON.stringify(b), 80)}`;
}

// ---- setup --------------------------------------------------------------------------------

function generateBases(dir, markDir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(markDir, { recursive: true });
  const py = spawnSync(PYTHON, [ORACLE, 'gen', dir, markDir], { encoding: 'utf8', timeout: 120000 });
  if (py.status !== 0) throw new Error(`${PYTHON} ${ORACLE} gen failed: ${oneLine(py.stderr || py.error, 800)}`);
  const bases = JSON.parse(py.stdout);
  // and two written by our own torch.save
  const ours = `
    const torch = require(${JSON.stringify(path.join(ROOT, 'lib'))});
    (async () => {
      torch.manualSeed(0);
      const base = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]);
      const sd = new Map([['w', torch.randn([3, 4])], ['i64', torch.arange(5)], ['b', torch.tensor([true, false])],
        ['f16', torch.ones([2], { dtype: 'float16' })], ['bf16', torch.ones([2, 2], { dtype: 'bfloat16' })],
        ['f64', torch.tensor([1.5, -2], { dtype: 'float64' })], ['i32', torch.tensor([7, -7], { dtype: 'int32' })],
        ['u8', torch.tensor([1, 255], { dtype: 'uint8' })], ['empty', torch.zeros([0, 2])], ['scalar', torch.tensor(2.5)],
        ['t', base.transpose(0, 1)]]);
      await torch.save(sd, process.argv[1]);
      await torch.save(new Map([['state', sd], ['list', [sd.get('w'), 3, 'x', null, [true, 2.5]]], ['step', 5], ['big', 2n ** 60n]]), process.argv[2]);
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const files = [path.join(dir, 'tb_state.pt'), path.join(dir, 'tb_nested.pt')];
  const node = spawnSync(process.execPath, ['-e', ours, ...files], { encoding: 'utf8', timeout: 60000, cwd: ROOT });
  if (node.status !== 0) throw new Error(`torchbridge's torch.save failed: ${oneLine(node.stderr, 800)}`);
  bases.push({ name: 'tb_state.pt', path: files[0], kind: 'valid', note: "torchbridge's torch.save of a state dict" });
  bases.push({ name: 'tb_nested.pt', path: files[1], kind: 'valid', note: "torchbridge's torch.save of a nested value" });
  for (const b of bases) b.bytes = fs.readFileSync(b.path);
  return bases;
}

// Lets the addon load (another engineer may be rebuilding it): a few tries, a minute apart at most.
async function waitForLibrary(log) {
  for (let attempt = 1; ; ++attempt) {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'lib'))})`], { encoding: 'utf8', timeout: 60000 });
    if (r.status === 0) return;
    if (attempt >= 4) throw new Error(`require('./lib') fails: ${oneLine(r.stderr, 600)}`);
    log(`require('./lib') fails (attempt ${attempt}), retrying in 20 s: ${oneLine(r.stderr, 200)}`);
    await new Promise((res) => setTimeout(res, 20000));
  }
}

// ---- the campaigns ------------------------------------------------------------------------

class Run {
  constructor(options) {
    this.o = options;
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-fuzz-'));
    this.results = null;
    this.keepCli = false;
    this.memoryLimit = options.runawayGb * 2 ** 30;
    this.addressSpace = Math.floor(options.memoryGb * 2 ** 30);
    this.childEnv = { ...process.env, TORCHBRIDGE_NUM_THREADS: process.env.TORCHBRIDGE_NUM_THREADS || '1', TORCHBRIDGE_DEBUG: '' };
    delete this.childEnv.TORCHBRIDGE_DEBUG;
  }

  log(line) {
    process.stdout.write(`${line}\n`);
  }

  resultsDir() {
    if (this.results === null) this.results = fs.mkdtempSync(path.join(os.tmpdir(), `torchbridge-fuzz-results-seed${this.o.seed}-`));
    return this.results;
  }

  repro(name, index) {
    return `node scripts/fuzz.js --campaign ${name} --seed ${this.o.seed} --case ${index}`;
  }

  bases() {
    if (!this.baseFiles) this.baseFiles = generateBases(path.join(this.tmp, 'bases'), path.join(this.tmp, 'markers'));
    return this.baseFiles;
  }

  markers() {
    const dir = path.join(this.tmp, 'markers');
    const found = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    for (const f of found) fs.rmSync(path.join(dir, f), { force: true });
    return found;
  }

  indices(deadline) {
    const o = this.o;
    if (o.case !== undefined) return [o.case];
    return { [Symbol.iterator]: function* () { for (let i = 0; Date.now() < deadline; ++i) yield i; } };
  }

  async checkpoint(c, deadline) {
    const bases = this.bases();
    const oracle = new Oracle();
    await oracle.start();
    const child = new CaseChild(['--expose-gc', path.join(__dirname, 'fuzz', 'worker.js'), 'checkpoint'], { env: this.childEnv, cwd: this.tmp, memoryLimit: this.memoryLimit, addressSpace: this.addressSpace });
    const dir = path.join(this.tmp, 'checkpoint');
    fs.mkdirSync(dir, { recursive: true });
    const timeoutMs = this.o.timeout * 1000;
    try {
      for (const i of this.indices(deadline)) {
        const rng = makeRng(caseSeed(this.o.seed, 'checkpoint', i));
        const k = checkpointCase(rng, bases);
        const file = path.join(dir, `case-${i}.pt`);
        fs.writeFileSync(file, k.data);
        const what = `${k.base.name}${k.steps.length ? `: ${k.steps.join('; ')}` : ' unchanged'} -> ${k.api}()`;
        const py = await oracle.query(file, 30000);
        const pyMarks = this.markers();
        if (child.starts > 0 && c.counts.cases % 1000 === 999) child.kill(); // a fresh worker now and then
        const r = await child.run({ i, path: file, api: k.api }, timeoutMs);
        const marks = this.markers();
        let kind;
        let detail;
        if (marks.length > 0) [kind, detail] = ['nonsense', `CRITICAL: loading ran the pickle (it created ${marks.join(', ')})`];
        else if (r.kind === 'crash') [kind, detail] = ['crash', `the worker died (${r.signal || `exit ${r.code}`}): ${oneLine(r.stderr, 300)}`];
        else if (r.kind === 'hang') [kind, detail] = ['hang', `no answer within ${this.o.timeout} s`];
        else if (r.kind === 'memory') [kind, detail] = ['nonsense', `runaway memory: ${(r.rss / 2 ** 30).toFixed(1)} GiB resident (--runaway-gb ${this.o.runawayGb})`];
        else if (r.result.outcome === 'nonsense') [kind, detail] = ['nonsense', r.result.detail];
        else if (r.result.outcome === 'error') {
          kind = 'clean';
          if (py.ok === true) c.note('refused what PyTorch loads');
        } else if (k.base.kind === 'hostile' && k.steps.length === 0) [kind, detail] = ['nonsense', `loaded a hostile pickle (${k.base.note})`];
        else if (py.unknown) {
          kind = 'ok';
          c.note('loaded, PyTorch unknown');
        } else if (py.ok === false) [kind, detail] = ['nonsense', `loaded what PyTorch refuses (${oneLine(py.error, 200)})`];
        else if (py.digest === null || r.result.digest === null || r.result.digest === undefined) {
          kind = 'ok';
          c.note('loaded, not comparable');
        } else {
          const diff = firstDifference(r.result.digest, py.digest);
          if (diff === null) kind = 'ok';
          else [kind, detail] = ['nonsense', `loaded values differ from PyTorch's: ${diff}`];
        }
        if (pyMarks.length > 0) c.note(`PyTorch's oracle ran a pickle (${pyMarks.join(', ')})`);
        let repro = this.repro('checkpoint', i);
        if (kind === 'crash' || kind === 'hang' || kind === 'nonsense') {
          const kept = path.join(this.resultsDir(), `checkpoint-${i}.pt`);
          fs.copyFileSync(file, kept);
          repro += `\n      what: ${what}\n      file: ${kept} (node -e "require('./lib').loadValue('${kept}').then(console.log, console.error)")`;
        }
        c.record(i, kind, detail ?? '', repro);
        if (this.o.verbose || this.o.case !== undefined) {
          this.log(`checkpoint #${i} ${kind}: ${what}${detail ? `\n    ${detail}` : ''}${r.kind === 'done' && r.result.outcome === 'error' ? `\n    ours: ${r.result.detail}` : ''}` +
            `\n    PyTorch: ${py.ok === true ? 'loads' : py.unknown || py.error}`);
        }
        fs.rmSync(file, { force: true });
      }
    } finally {
      child.close();
      oracle.close();
    }
  }

  async tensor(c, deadline) {
    const child = new CaseChild(['--expose-gc', path.join(__dirname, 'fuzz', 'worker.js'), 'tensor'], { env: this.childEnv, cwd: this.tmp, memoryLimit: this.memoryLimit, addressSpace: this.addressSpace });
    const timeoutMs = this.o.timeout * 1000;
    try {
      for (const i of this.indices(deadline)) {
        const rng = makeRng(caseSeed(this.o.seed, 'tensor', i));
        const k = tensorCase(rng);
        if (child.starts > 0 && c.counts.cases % 1000 === 999) child.kill();
        const r = await child.run({ i, code: k.code, expectError: k.expectError }, timeoutMs);
        let kind;
        let detail = '';
        if (r.kind === 'crash') [kind, detail] = ['crash', `the worker died (${r.signal || `exit ${r.code}`}): ${oneLine(r.stderr, 300)}`];
        else if (r.kind === 'hang') [kind, detail] = ['hang', `no answer within ${this.o.timeout} s`];
        else if (r.kind === 'memory') [kind, detail] = ['nonsense', `runaway memory: ${(r.rss / 2 ** 30).toFixed(1)} GiB resident (--runaway-gb ${this.o.runawayGb})`];
        else if (r.result.outcome === 'nonsense') [kind, detail] = ['nonsense', r.result.detail];
        else if (r.result.outcome === 'error') {
          kind = 'clean';
          if (/DefaultCPUAllocator: can't allocate memory/.test(r.result.detail)) c.note(`libtorch refused an allocation beyond the ${this.o.memoryGb} GiB cap`);
        } else kind = 'ok';
        let repro = this.repro('tensor', i);
        if (kind !== 'ok' && kind !== 'clean') {
          const file = path.join(this.resultsDir(), `tensor-${i}.js`);
          fs.writeFileSync(file, `// node --expose-gc ${file}\n// ${kind}: ${detail}\n'use strict';\nconst torch = require(${JSON.stringify(path.join(ROOT, 'lib'))});\n` +
            `function check(cond, what) { if (!cond) throw new Error('WRONG RESULT: ' + what); }\nconst gc = globalThis.gc || (() => {});\n` +
            `(async () => {\n${k.code}\n})().then((r) => console.log('returned', r), (e) => console.log('threw', e));\n`);
          repro += `\n      code: ${k.code.replace(/\n/g, ' ')}\n      file: node --expose-gc ${file}`;
        }
        c.record(i, kind, detail, repro);
        if (this.o.verbose || this.o.case !== undefined) {
          this.log(`tensor #${i} ${kind}${k.expectError ? ` (expects an error: ${k.expectError})` : ''}:\n    ${k.code.replace(/\n/g, '\n    ')}` +
            `${detail ? `\n    -> ${detail}` : ''}${r.kind === 'done' && r.result.outcome === 'error' ? `\n    -> ${r.result.detail}` : ''}`);
        }
      }
    } finally {
      child.close();
    }
  }

  runCli(script, argv, timeoutMs) {
    return new Promise((resolve) => {
      const cwd = path.join(this.tmp, 'cli-cwd');
      fs.mkdirSync(cwd, { recursive: true });
      const env = { ...this.childEnv, HOME: path.join(this.tmp, 'home'), TORCHBRIDGE_DATA_DIR: path.join(this.tmp, 'data-cache') };
      let proc;
      const run = underAddressSpaceCap(process.execPath, [path.join(ROOT, script), ...argv], this.addressSpace);
      try {
        proc = spawn(run.command, run.args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        resolve({ spawnError: e.message });
        return;
      }
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let memory = 0;
      proc.stdout.on('data', (d) => { stdout = (stdout + d).slice(-2000); });
      proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
      const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
      const watch = setInterval(() => {
        const rss = rssOf(proc.pid);
        if (rss > this.memoryLimit) { memory = rss; proc.kill('SIGKILL'); }
      }, 50);
      proc.on('error', (e) => { stderr += String(e); });
      proc.on('close', (status, signal) => {
        clearTimeout(timer);
        clearInterval(watch);
        resolve({ status, signal, stdout, stderr, timedOut, memory });
      });
    });
  }

  async cli(c, deadline) {
    const setupRng = makeRng(caseSeed(this.o.seed, 'cli-setup', 0));
    const files = prepareCliFiles(path.join(this.tmp, 'cli'), setupRng, SNLI_DIR, this.bases());
    const sync = (argv) => spawnSync(process.execPath, [path.join(ROOT, 'lib', 'train.js'), ...argv], { encoding: 'utf8', cwd: this.tmp, env: this.childEnv, timeout: 120000 });
    trainModels(files, sync);
    const timeoutMs = 30000;
    for (const i of this.indices(deadline)) {
      const rng = makeRng(caseSeed(this.o.seed, 'cli', i));
      const k = cliCase(rng, files);
      const r = await this.runCli(k.script, k.argv, timeoutMs);
      if (r.spawnError) {
        c.note(`case not run (${r.spawnError})`);
        continue;
      }
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      const last = lines.length ? oneLine(lines[lines.length - 1], 300) : '(nothing on stderr)';
      let kind;
      let detail = '';
      if (r.memory) [kind, detail] = ['nonsense', `runaway memory: ${(r.memory / 2 ** 30).toFixed(1)} GiB resident (--runaway-gb ${this.o.runawayGb})`];
      else if (r.timedOut) [kind, detail] = ['hang', `still running after ${timeoutMs / 1000} s; stderr: ${last}`];
      else if (r.signal) [kind, detail] = ['crash', `killed by ${r.signal}: ${oneLine(r.stderr, 300)}`];
      else if (r.status === 0) {
        if (k.expect === 'bad' || k.expect === 'fail') [kind, detail] = ['nonsense', `exit 0 on bad input (${k.steps.join('; ')})`];
        else kind = 'ok';
      } else if (r.status === 2) {
        // progress lines (reading, downloading) may come first: the error is one line, the last
        const errorLines = lines.filter((l) => /^(train|predict): error: /.test(l));
        const bad = judgeError({ message: last.replace(/^(train|predict): error: /, '') });
        if (errorLines.length !== 1 || !/^(train|predict): error: /.test(last)) [kind, detail] = ['nonsense', `exit 2 without one "error:" line last on stderr: ${oneLine(r.stderr, 300)}`];
        else if (bad !== null) [kind, detail] = ['nonsense', `exit 2 with ${bad}: ${last}`];
        else if (k.expect === 'ok') [kind, detail] = ['nonsense', `exit 2 on valid input: ${last}`];
        else kind = 'clean';
      } else if (r.status === 1 && k.expect === 'fail') kind = 'clean';
      else if (r.status === 1) [kind, detail] = ['nonsense', `exit 1 (the README promises 2 for bad input): ${last}`];
      else [kind, detail] = ['crash', `exit status ${r.status}: ${oneLine(r.stderr, 300)}`];
      const command = `node ${k.script} ${k.argv.map(shellQuote).join(' ')}`;
      let repro = this.repro('cli', i);
      if (kind !== 'ok' && kind !== 'clean') {
        this.keepCli = true;
        repro += `\n      what: ${k.steps.join('; ')}\n      run: (cd ${path.join(this.tmp, 'cli-cwd')} && ${command.replace(`node ${k.script}`, `node ${path.join(ROOT, k.script)}`)})`;
      }
      c.record(i, kind, detail, repro);
      if (this.o.verbose || this.o.case !== undefined) {
        this.log(`cli #${i} ${kind} (expects ${k.expect}): ${k.steps.join('; ')}\n    ${command}\n    -> exit ${r.signal || r.status}: ${last}${detail ? `\n    ${detail}` : ''}`);
      }
    }
  }

  cleanup() {
    if (this.o.keep) {
      this.log(`temporary directory kept: ${this.tmp}`);
      return;
    }
    if (this.keepCli) {
      // failing CLI cases point at these files: keep them, drop the rest
      for (const entry of fs.readdirSync(this.tmp)) {
        if (!['cli', 'bases', 'cli-cwd'].includes(entry)) fs.rmSync(path.join(this.tmp, entry), { recursive: true, force: true });
      }
      this.log(`the CLI cases' files are kept for the reproductions: ${this.tmp}`);
    } else {
      fs.rmSync(this.tmp, { recursive: true, force: true });
    }
  }
}

// ---- main -----------------------------------------------------------------------------------

function report(run, campaigns, started) {
  const log = (l) => run.log(l);
  log('');
  const cap = underAddressSpaceCap(process.execPath, [], run.addressSpace).how;
  log(`torchbridge fuzz: seed ${run.o.seed}, ${((Date.now() - started) / 1000).toFixed(0)} s; children capped at ${run.o.memoryGb} GiB of ` +
    `address space (${cap ?? 'NO CAP: neither prlimit nor ulimit -v works here; only the RSS watchdog'}), runaway at ${run.o.runawayGb} GiB resident`);
  const head = ['campaign', 'cases', 'ok', 'clean errors', 'crashes', 'hangs', 'nonsense'];
  const rows = campaigns.map((c) => [c.name, c.counts.cases, c.counts.ok, c.counts.clean, c.counts.crash, c.counts.hang, c.counts.nonsense].map(String));
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const fmt = (r) => r.map((x, k) => (k === 0 ? x.padEnd(widths[k]) : x.padStart(widths[k]))).join('  ');
  log(fmt(head));
  for (const r of rows) log(fmt(r));
  for (const c of campaigns) {
    if (c.setupError) log(`${c.name}: SETUP FAILED: ${c.setupError}`);
    const notes = Object.entries(c.notes);
    if (notes.length) log(`${c.name} notes (not failures): ${notes.map(([k, n]) => `${k}: ${n}`).join('; ')}`);
  }
  for (const c of campaigns) {
    if (c.failures.length === 0) continue;
    const groups = new Map();
    for (const f of c.failures) {
      const key = signature(f);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(f);
    }
    log('');
    log(`${c.name}: ${c.failures.length} failing cases in ${groups.size} groups`);
    for (const list of [...groups.values()].sort((a, b) => b.length - a.length)) {
      const first = list[0];
      log(`  [${list.length}x] ${first.kind.toUpperCase()}: ${first.detail}`);
      for (const f of list.slice(0, 2)) log(`    #${f.index}: ${f.repro}`);
      if (list.length > 2) log(`    ... and cases ${list.slice(2, 12).map((f) => f.index).join(', ')}${list.length > 12 ? ', ...' : ''}`);
    }
  }
  if (run.results) {
    const all = campaigns.flatMap((c) => c.failures.map((f) => `[${c.name} #${f.index}] ${f.kind}: ${f.detail}\n    ${f.repro}`));
    fs.writeFileSync(path.join(run.results, 'failures.txt'), `${all.join('\n')}\n`);
    log('');
    log(`failing inputs and the full list (failures.txt): ${run.results}`);
  }
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const run = new Run(o);
  const selected = o.campaign === 'all' ? CAMPAIGNS : [o.campaign];
  const shareTotal = selected.reduce((s, n) => s + SHARES[n], 0);
  const campaigns = [];
  let setupFailed = false;
  try {
    await waitForLibrary((l) => run.log(l));
    let budgetEnd = started;
    for (const name of selected) {
      budgetEnd += (o.seconds * 1000 * SHARES[name]) / shareTotal;
      const c = new Campaign(name);
      campaigns.push(c);
      const t = Date.now();
      if (o.case === undefined) run.log(`${name}: running until ${((budgetEnd - started) / 1000).toFixed(0)} s ...`);
      try {
        await run[name](c, budgetEnd);
      } catch (e) {
        c.setupError = oneLine(e && e.stack ? e.stack : e, 1200);
        setupFailed = true;
      }
      if (o.case === undefined) run.log(`${name}: ${c.counts.cases} cases in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  } catch (e) {
    run.log(`fuzz: setup failed: ${e.message}`);
    setupFailed = true;
  } finally {
    report(run, campaigns, started);
    run.cleanup();
  }
  const failed = campaigns.some((c) => c.failures.length > 0);
  process.exitCode = failed ? 1 : setupFailed ? 2 : 0;
}

main();
