// What used to crash the process (SIGSEGV, abort) now ends in a JS error, or works: memory shared
// with JS that JS then transfers or shrinks, unbounded thread counts, worker threads using the
// addon beside the main thread or terminated mid-op, and optimizer calls racing trainer steps.
// Each case runs in a child process, so that a regression fails the test (by its signal) rather
// than killing the suite.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';

import * as torch from '../lib';

const lib = JSON.stringify(path.resolve(__dirname, '..', 'lib'));

interface Child {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// Runs `body` (async JS, with `torch` and `lib`, the library's path, in scope) in a fresh Node
// process with --expose-gc; what it prints on stdout comes back.
function child(body: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Child {
  const script = `
    const torch = require(${lib});
    const lib = ${lib};
    (async () => { ${body} })().then(() => process.exit(0), (e) => { console.error(e && e.stack || e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
    encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// The child ended by itself, with `status`, not by a signal (a crash, or our timeout).
function assertExited(r: Child, status = 0): void {
  assert.equal(r.signal, null, `the child died of ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.status, status, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr.slice(-2000)}`);
}

// In the child: `f()` must throw an Error whose message matches `re`; prints 'ok <label>'.
const expectThrow = `
  function expectThrow(label, f, re) {
    try { f(); } catch (e) {
      if (!re.test(e.message)) throw new Error(label + ': wrong message: ' + e.message);
      console.log('ok ' + label);
      return;
    }
    throw new Error(label + ': no error');
  }`;

describe('no crashes: memory shared with JS', function () {
  this.timeout(120_000);

  it('a tensor over a typed array whose buffer was transferred (structuredClone) and collected is refused, not a SIGSEGV', () => {
    const r = child(`${expectThrow}
      for (let round = 0; round < 3; ++round) {
        const a = new Float32Array(1 << 22).fill(1);
        const t = torch.tensor(a);
        const view = t.reshape([1024, -1]);
        let moved = structuredClone(a.buffer, { transfer: [a.buffer] });
        moved = null;
        for (let k = 0; k < 3; ++k) { global.gc(); await new Promise((r) => setImmediate(r)); }
        expectThrow('sum', () => t.sum().item(), /transferred or detached.*copy: true/s);
        expectThrow('view', () => view.mul(2), /transferred or detached/);
        expectThrow('data', () => t.toArray(), /transferred or detached/);
        t.dispose();   // disposing stays possible
        view.dispose();
      }
      // a copy is the caller's own memory and survives the transfer
      const b = new Float32Array(16).fill(2);
      const c = torch.tensor(b, { copy: true });
      structuredClone(b.buffer, { transfer: [b.buffer] });
      global.gc();
      if (c.sum().item() !== 32) throw new Error('the copy changed');
      console.log('ok copy');`);
    assertExited(r);
    assert.match(r.stdout, /ok sum[\s\S]*ok view[\s\S]*ok data[\s\S]*ok copy/);
  });

  it('a tensor whose buffer was posted to a worker (transfer list) is refused', () => {
    const r = child(`${expectThrow}
      const { Worker } = require('worker_threads');
      const a = new Float64Array(1 << 20).fill(3);
      const t = torch.tensor(a);
      const w = new Worker('require("worker_threads").parentPort.once("message", () => process.exit(0))', { eval: true });
      w.postMessage(a, [a.buffer]);
      await new Promise((r) => w.once('exit', r));
      for (let k = 0; k < 3; ++k) { global.gc(); await new Promise((r) => setImmediate(r)); }
      expectThrow('after postMessage', () => t.add(1), /transferred or detached/);`);
    assertExited(r);
    assert.match(r.stdout, /ok after postMessage/);
  });

  it('a tensor over a resizable ArrayBuffer that was shrunk is refused; grown back, it works again', () => {
    const r = child(`${expectThrow}
      const buffer = new ArrayBuffer(4096 * 4, { maxByteLength: 8192 * 4 });
      const a = new Float32Array(buffer, 0, 4096).fill(1);
      const t = torch.tensor(a);
      buffer.resize(0);
      expectThrow('resize(0)', () => t.sum().item(), /resized to 0 bytes.*needs its first 16384/s);
      buffer.resize(100);
      expectThrow('resize(100)', () => t.sum().item(), /resized to 100 bytes/);
      buffer.resize(8192 * 4);
      console.log('grown', t.sum().item());`);
    assertExited(r);
    assert.match(r.stdout, /ok resize\(0\)[\s\S]*ok resize\(100\)/);
    assert.match(r.stdout, /grown 0/, 'grown back, the pages read as zeros');
  });

  it('a typed array over a SharedArrayBuffer is shared, and stays alive as long as the tensor', () => {
    const shared = new Float32Array(new SharedArrayBuffer(16));
    const t = torch.tensor(shared);
    shared[2] = 5;
    assert.equal(t.sum().item(), 5);
    t.dispose();
  });

  it('the trainer copies batch tensors that share JS memory, so the step never reads memory JS gave away', async () => {
    const net = new torch.nn.Sequential(new torch.nn.Linear(4, 3));
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const { Trainer } = await import('../lib/trainer/trainer');
    const trainer = new Trainer(net, optimizer, ['cpu']);
    try {
      const x = new Float32Array(8 * 4).fill(0.5);
      const inputs = torch.tensor(x, { shape: [8, 4] });
      const labels = torch.tensor(new BigInt64Array(8));
      const step = trainer.step([inputs], labels);
      structuredClone(x.buffer, { transfer: [x.buffer] });
      const result = await step;
      assert.equal(result.count, 8);
      assert.ok(Number.isFinite(result.lossSum));
      assert.throws(() => inputs.sum(), /transferred or detached/);
      torch.dispose([inputs, labels]);
    } finally {
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
    }
  });
});

describe('no crashes: threads', function () {
  this.timeout(120_000);

  it('setNumThreads refuses more than 4 per core, and non-integers, with the range', () => {
    const max = torch.maxNumThreads();
    assert.equal(max, 4 * require('os').cpus().length);
    const before = torch.getNumThreads();
    assert.throws(() => torch.setNumThreads(1e9), (e: Error) => e instanceof RangeError && new RegExp(`from 1 to ${max} \\(4 per core\\), got the number 1000000000`).test(e.message));
    assert.throws(() => torch.setNumThreads(max + 1), /from 1 to/);
    assert.throws(() => torch.setNumThreads(0), /from 1 to/);
    assert.throws(() => torch.setNumThreads(1.5), /got the number 1.5/);
    assert.throws(() => torch.setNumThreads('2' as unknown as number), /got the string "2"/);
    assert.equal(torch.getNumThreads(), before);
    torch.setNumThreads(max);
    assert.equal(torch.getNumThreads(), max);
    torch.setNumThreads(before);
  });

  it('TORCHBRIDGE_NUM_THREADS out of range fails the load with a message, not libgomp running out of memory', () => {
    for (const value of ['1000000000', '0', 'many']) {
      const r = child('torch.zeros([2, 2]).matmul(torch.zeros([2, 2]));', { TORCHBRIDGE_NUM_THREADS: value });
      assertExited(r, 1);
      assert.match(r.stderr, new RegExp(`TORCHBRIDGE_NUM_THREADS='${value}': the number of threads must be an integer from 1 to \\d+`));
    }
  });
});

describe('no crashes: worker threads', function () {
  this.timeout(180_000);

  it('the main thread and a worker create and dispose tensors over typed arrays at the same time', () => {
    const r = child(`
      const { Worker } = require('worker_threads');
      const churn = (seconds) => {
        const end = Date.now() + seconds * 1000;
        let n = 0;
        while (Date.now() < end) {
          const a = new Float32Array(256).fill(1);
          const t = torch.tensor(a);
          const u = t.add(1);
          const sum = u.sum();
          if (sum.item() !== 512) throw new Error('wrong sum');
          sum.dispose(); u.dispose(); t.dispose();
          if (++n % 500 === 0 && global.gc) global.gc();
        }
        return n;
      };
      const source = 'const torch = require(' + JSON.stringify(lib) + ');' +
        'const { parentPort } = require("worker_threads");' +
        'const churn = ' + churn.toString() + ';' +
        'parentPort.postMessage(churn(2));';
      const before = torch.memory().liveTensors;
      const workers = [0, 1].map(() => new Worker(source, { eval: true }));
      const counts = workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
      const mine = churn(2);
      const theirs = await Promise.all(counts);
      console.log('main', mine, 'workers', theirs.join(' '));
      // each thread counts its own handles: the workers' never show here
      if (torch.memory().liveTensors !== before) throw new Error('live tensors here: ' + torch.memory().liveTensors + ', not ' + before);`);
    assertExited(r);
    assert.match(r.stdout, /main \d+ workers \d+ \d+/);
  });

  it('worker.terminate() while the worker runs ops, or a trainer step, ends the worker only', () => {
    const r = child(`
      const { Worker } = require('worker_threads');
      const ops = 'const torch = require(' + JSON.stringify(lib) + ');' +
        'require("worker_threads").parentPort.postMessage("go");' +
        'const a = torch.randn([256, 256]);' +
        'for (;;) { const t = torch.tensor(new Float32Array(65536).fill(1), { shape: [256, 256] }); a.matmul(t).relu().sum().item(); t.dispose(); }';
      const training = 'const torch = require(' + JSON.stringify(lib) + ');' +
        'const { Trainer } = require(' + JSON.stringify(lib + '/trainer/trainer') + ');' +
        'const net = new torch.nn.Sequential(new torch.nn.Linear(256, 256), new torch.nn.ReLU(), new torch.nn.Linear(256, 3));' +
        'const opt = new torch.optim.Adam(net.parameters());' +
        'const trainer = new Trainer(net, opt, ["cpu", "cpu"]);' +
        'const x = torch.randn([512, 256]); const y = torch.randint(0, 3, [512]);' +
        'require("worker_threads").parentPort.postMessage("go");' +
        '(async () => { for (;;) await trainer.step([x], y); })();';
      for (const [name, source] of [['ops', ops], ['training', training]]) {
        for (let round = 0; round < 4; ++round) {
          const w = new Worker(source, { eval: true });
          w.on('error', () => {});
          await new Promise((r) => w.once('message', r));
          await new Promise((r) => setTimeout(r, 20 + 40 * round));
          await w.terminate();
        }
        console.log('terminated', name);
      }
      console.log('main still works', torch.ones([3]).sum().item());`);
    assertExited(r);
    assert.match(r.stdout, /terminated ops\nterminated training\nmain still works 3/);
  });
});

describe('no crashes: optimizer calls racing trainer steps', function () {
  this.timeout(180_000);

  it('opt.step() every 2 ms beside running steps is refused as busy, 8 runs of 12 steps, no SIGSEGV', () => {
    const r = child(`
      const { Trainer } = require(lib + '/trainer/trainer');
      let refused = 0, ran = 0;
      for (let run = 0; run < 8; ++run) {
        torch.manualSeed(run);
        const net = new torch.nn.Sequential(new torch.nn.Linear(64, 128), new torch.nn.ReLU(), new torch.nn.Linear(128, 3));
        const opt = new torch.optim.Adam(net.parameters(), { lr: 1e-3 });
        const trainer = new Trainer(net, opt, ['cpu', 'cpu']);
        const x = torch.randn([256, 64]); const y = torch.randint(0, 3, [256]);
        const timer = setInterval(() => {
          try { opt.zeroGrad(); opt.step(); ++ran; } catch (e) {
            if (e.code !== 'ERR_TORCHBRIDGE_BUSY') throw e;
            ++refused;
          }
        }, 2);
        for (let s = 0; s < 12; ++s) await trainer.step([x], y);
        clearInterval(timer);
        trainer.dispose(); opt.dispose(); net.dispose(); x.dispose(); y.dispose();
      }
      console.log('refused', refused, 'ran', ran);`);
    assertExited(r);
    const m = /refused (\d+) ran (\d+)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 0, 'no optimizer call met a running step: the test did not race');
  });
});

describe('no crashes: an address-space limit', function () {
  // Batch schedulers and shells cap virtual memory (ulimit -v, RLIMIT_AS). Loading the library
  // must not reserve what such a cap refuses: undici's WebAssembly HTTP parser did, at load,
  // and its failure ended the process (exit 1) before train.js could report a usage error.
  const cap = ['--as=4294967296', '--'];
  before(function () {
    if (spawnSync('prlimit', ['--version']).status !== 0) this.skip();
  });

  it('torchbridge and torchbridge/d2l load and run under a 4 GiB cap; train.js still exits 2 on a bad flag', function () {
    const script = `const torch = require(${lib}); const d2l = require(${lib} + '/d2l');
      console.log(torch.tensor([1, 2]).sum().item(), typeof d2l.BERTModel)`;
    const loaded = spawnSync('prlimit', [...cap, process.execPath, '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assertExited({ status: loaded.status, signal: loaded.signal, stdout: loaded.stdout, stderr: loaded.stderr });
    assert.equal(loaded.stdout, '3 function\n');
    const train = spawnSync('prlimit', [...cap, process.execPath, path.resolve(__dirname, '..', 'lib', 'train.js'), '--max-steps', '1.5'],
      { encoding: 'utf8', timeout: 60_000 });
    assertExited({ status: train.status, signal: train.signal, stdout: train.stdout, stderr: train.stderr }, 2);
    assert.match(train.stderr, /^train: error: --max-steps must be an integer of at least 1, got "1\.5"\n$/);
  });
});
