// TorchScript: torch.jit.trace of TypeScript modules, torch.jit.load of archives that Python's
// torch.jit.save wrote (test/fixtures/jit, scripts/gen_jit_fixtures.py), torch.jit.save that
// Python reads back, and the Trainer training traced and loaded modules.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { ScriptModule } from '../lib/jit';
import { ZipReader, ZipWriter, fileSource } from '../lib/serialization/zip';
import { Trainer } from '../lib/trainer/trainer';
import { PYTHON, TensorFixture, assertClose, assertTensor, fromFixture, pythonHasTorch, settledLiveTensors, tensorValues } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures', 'jit');
const TOL = { rtol: 1e-5, atol: 1e-6 };

interface ModuleFixture {
  file: string;
  input: TensorFixture;
  labels: TensorFixture;
  state: Record<string, TensorFixture>;
  eval: TensorFixture;
  train: TensorFixture;
  step: { loss: number; state: Record<string, TensorFixture> };
}
interface Fixtures {
  traced_mlp: ModuleFixture;
  scripted_bn: ModuleFixture;
  scripted_pair: { file: string; x: TensorFixture; y: TensorFixture; withoutY: TensorFixture[]; withY: TensorFixture[] };
}
const fixtures: Fixtures = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'jit.json'), 'utf8'));

/** A classifier written in TypeScript: its forward runs op by op on the JS thread until traced. */
class MLP extends torch.nn.Module {
  readonly fc1: torch.nn.Linear;
  readonly drop: torch.nn.Module;
  readonly fc2: torch.nn.Linear;

  constructor(p = 0) {
    super();
    this.fc1 = this.registerModule('fc1', new torch.nn.Linear(4, 8));
    // Dropout(0) would record aten::dropout(x, 0, train), which differs between the modes
    this.drop = this.registerModule('drop', p > 0 ? new torch.nn.Dropout(p) : new torch.nn.Identity());
    this.fc2 = this.registerModule('fc2', new torch.nn.Linear(8, 3));
  }

  override forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => this.fc2.forward(this.drop.forward(this.fc1.forward(x).tanh())));
  }
}

class WithBatchNorm extends torch.nn.Module {
  readonly fc: torch.nn.Linear;
  readonly bn: torch.nn.BatchNorm1d;

  constructor() {
    super();
    this.fc = this.registerModule('fc', new torch.nn.Linear(4, 5));
    this.bn = this.registerModule('bn', new torch.nn.BatchNorm1d(5));
  }

  override forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => this.bn.forward(this.fc.forward(x)).relu());
  }
}

// stateDict() returns new tensor handles: these helpers dispose them.
function stateValues(m: torch.nn.Module): Map<string, number[]> {
  return torch.tidy(() => new Map([...m.stateDict()].map(([k, t]) => [k, tensorValues(t)])));
}

function stateNames(m: torch.nn.Module): string[] {
  return [...stateValues(m).keys()];
}

function assertState(m: torch.nn.Module, expected: Record<string, TensorFixture>, what: string): void {
  torch.tidy(() => {
    const state = m.stateDict();
    assert.deepEqual([...state.keys()], Object.keys(expected), `${what}: state dict names`);
    for (const [name, t] of state) assertTensor(t, expected[name], TOL, `${what}: ${name}`);
  });
}

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-jit-'));
}

describe('torch.jit', function () {
  this.timeout(120_000);
  // Every test disposes what it made: nothing is left to the garbage collector. The start is
  // taken once earlier files' garbage is collected, the end without collecting (helpers.ts).
  let start = { liveTensors: 0, moduleBytes: 0 };
  const counts: string[] = [];
  before(async () => {
    await settledLiveTensors();
    start = torch.memory();
  });
  afterEach(function () {
    counts.push(`${this.currentTest?.title.slice(0, 40)}: ${torch.memory().liveTensors} tensors, ${torch.memory().moduleBytes} module bytes`);
  });
  after(() => {
    const after = `(from ${start.liveTensors} tensors and ${start.moduleBytes} module bytes; after each test: ${counts.join('; ')})`;
    assert.equal(torch.memory().liveTensors, start.liveTensors, `live tensors ${after}`);
    assert.equal(torch.memory().moduleBytes, start.moduleBytes, `module bytes ${after}`);
  });

  describe('trace', () => {
    it('a TypeScript module traced: same outputs, PyTorch names, shared parameters, forward as a graph', () => {
      torch.manualSeed(0);
      const net = new MLP();
      const x = torch.randn([5, 4]);
      const traced = torch.jit.trace(net, x);
      try {
        assert.ok(traced instanceof ScriptModule);
        assert.deepEqual(stateNames(traced), ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
        assert.equal(traced.toString(), [
          'RecursiveScriptModule(',
          '  original_name=MLP',
          '  (fc1): RecursiveScriptModule(original_name=Linear)',
          '  (drop): RecursiveScriptModule(original_name=Identity)',
          '  (fc2): RecursiveScriptModule(original_name=Linear)',
          ')',
        ].join('\n'));
        assert.equal(traced.signature, 'forward(Tensor x0) -> Tensor');
        assert.match(traced.graph, /prim::GetAttr\[name="fc1"\]/);
        assert.deepEqual(traced.methods, ['forward'], 'without dropout, both modes trace the same graph');
        torch.tidy(() => {
          const other = torch.randn([9, 4]);  // another batch size than the example's
          assertClose(tensorValues(traced.forward(other)), tensorValues(net.forward(other)), { rtol: 0, atol: 0 }, 'outputs');
          // the traced module's parameters are the module's own tensors
          torch.noGrad(() => traced.parameters()[0].mul_(2));
          assertClose(tensorValues(traced.forward(other)), tensorValues(net.forward(other)), { rtol: 0, atol: 0 }, 'after an in-place change');
          // it loads a state dict like any module
          const fresh = new MLP();
          traced.loadStateDict(fresh.stateDict());
          assertClose(tensorValues(traced.forward(other)), tensorValues(fresh.forward(other)), { rtol: 0, atol: 0 }, 'after loadStateDict');
          fresh.dispose();
        });
      } finally {
        traced.dispose();
        net.dispose();
        x.dispose();
      }
    });

    it('dropout: train and eval are both traced, and the traced module follows train() and eval()', () => {
      torch.manualSeed(1);
      const net = new MLP(0.5);
      const x = torch.randn([6, 4]);
      net.train();
      const traced = torch.jit.trace(net, x);
      try {
        assert.deepEqual(traced.methods.sort(), ['forward', 'forward_eval', 'forward_train']);
        assert.equal(traced.training, true);
        torch.tidy(() => {
          torch.manualSeed(7);
          const a = traced.forward(x);
          torch.manualSeed(7);
          const b = net.forward(x);  // PyTorch's dropout stream on the JS thread, as the graph's aten::dropout
          assertClose(tensorValues(a), tensorValues(b), { rtol: 0, atol: 0 }, 'train mode: the same masks');
          traced.eval();
          net.eval();
          assertClose(tensorValues(traced.forward(x)), tensorValues(net.forward(x)), { rtol: 0, atol: 0 }, 'eval mode: no dropout');
          assert.equal(traced.training, false);
        });
        // bothModes: false is PyTorch's trace: the graph of the traced mode runs in both
        net.train();
        const pytorchLike = torch.jit.trace(net, x, { bothModes: false });
        assert.deepEqual(pytorchLike.methods, ['forward']);
        assert.match(pytorchLike.graph, /aten::dropout/);
        pytorchLike.dispose();
      } finally {
        traced.dispose();
        net.dispose();
        x.dispose();
      }
    });

    it('batch norm: running statistics are buffers that the traced graph updates in train mode; the second trace changes nothing', () => {
      torch.manualSeed(2);
      const net = new WithBatchNorm();
      const x = torch.randn([8, 4]);
      const reference = new WithBatchNorm();
      torch.tidy(() => reference.loadStateDict(net.stateDict()));
      net.train();
      const traced = torch.jit.trace(net, x);
      try {
        assert.deepEqual(stateNames(traced),
          ['fc.weight', 'fc.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
        // the trace ran forward once in train mode (as PyTorch's does), and once in eval mode that left no trace
        torch.tidy(() => {
          reference.forward(x);
        });
        const expected = stateValues(reference);
        for (const [name, values] of stateValues(traced)) assertClose(values, expected.get(name)!, TOL, `after tracing: ${name}`);
        assert.equal(stateValues(traced).get('bn.num_batches_tracked')![0], 1);
        torch.tidy(() => {
          assertClose(tensorValues(traced.forward(x)), tensorValues(reference.forward(x)), TOL, 'train forward');
          traced.eval();
          reference.eval();
          assertClose(tensorValues(traced.forward(x)), tensorValues(reference.forward(x)), TOL, 'eval forward uses the running statistics');
        });
        assert.equal(stateValues(traced).get('bn.num_batches_tracked')![0], 2);
      } finally {
        for (const m of [traced, net, reference]) m.dispose();
        x.dispose();
      }
    });

    it('several outputs become a tuple: forwardAll returns them', () => {
      class Two extends torch.nn.Module {
        readonly fc = this.registerModule('fc', new torch.nn.Linear(3, 2));
        override forward(x: torch.Tensor): torch.Tensor {
          return this.forwardAll(x)[0]!;
        }
        override forwardAll(x: torch.Tensor | null): torch.Tensor[] {
          const y = this.fc.forward(x!);
          return [y, y.sum(1)];
        }
      }
      // trace records forward's value: give it a forward returning both
      class Both extends Two {
        override forward(x: torch.Tensor): torch.Tensor {
          return this.forwardAll(x) as unknown as torch.Tensor;
        }
      }
      const net = new Both();
      const x = torch.randn([4, 3]);
      const traced = torch.jit.trace(net, x);
      try {
        assert.equal(traced.signature, 'forward(Tensor x0) -> Tuple[Tensor, Tensor]');
        torch.tidy(() => {
          const [a, b] = traced.forwardAll(x);
          const [c, d] = net.forwardAll(x);
          assert.deepEqual(tensorValues(a!), tensorValues(c));
          assert.deepEqual(tensorValues(b!), tensorValues(d));
          assert.throws(() => traced.forward(x), /ScriptModule.forward returned several tensors|several tensors; use forwardAll/);
        });
      } finally {
        traced.dispose();
        net.dispose();
        x.dispose();
      }
    });

    it('reading tensor values while tracing emits a TracerWarning; a failing forward leaves no tracer behind', async () => {
      class Peeks extends torch.nn.Module {
        readonly fc = this.registerModule('fc', new torch.nn.Linear(2, 2));
        override forward(x: torch.Tensor): torch.Tensor {
          const y = this.fc.forward(x);
          return (y.sum().item() as number) > 0 ? y.relu() : y.tanh();
        }
      }
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on('warning', onWarning);
      const net = new Peeks();
      const x = torch.randn([3, 2]);
      try {
        torch.jit.trace(net, x).dispose();
        await new Promise((resolve) => setImmediate(resolve));
        assert.ok(warnings.some((w) => w.name === 'TracerWarning' && /Tensor.item\(\) was called while tracing/.test(w.message)), warnings.join('; '));
        class Fails extends torch.nn.Module {
          override forward(): torch.Tensor {
            throw new Error('forward says no');
          }
        }
        const fails = new Fails();
        assert.throws(() => torch.jit.trace(fails, x), /forward says no/);
        fails.dispose();
        // the tracer is gone: ops run untraced and a new trace works
        torch.tidy(() => {
          const fresh = new MLP();
          torch.jit.trace(fresh, torch.randn([2, 4])).dispose();
          fresh.dispose();
        });
        assert.throws(() => torch.jit.trace(net, [] as torch.Tensor[]), /exampleInputs must be a Tensor or an array of 1 to 4 Tensors/);
        assert.throws(() => torch.jit.trace({} as torch.nn.Module, x), /module must be an nn.Module, got an object/);
      } finally {
        process.off('warning', onWarning);
        net.dispose();
        x.dispose();
      }
    });

    it('the structure of a ScriptModule is fixed', () => {
      const net = new MLP();
      const x = torch.randn([2, 4]);
      const traced = torch.jit.trace(net, x);
      const relu = new torch.nn.ReLU();
      try {
        torch.tidy(() => assert.throws(() => traced.registerParameter('extra', torch.zeros([1])), /attributes are fixed; register it before tracing/));
        assert.throws(() => traced.registerModule('extra', relu), /submodules are fixed/);
      } finally {
        for (const m of [traced, net, relu]) m.dispose();
        x.dispose();
      }
    });
  });

  describe('load: archives Python wrote', () => {
    for (const name of ['traced_mlp', 'scripted_bn'] as const) {
      it(`${name}.pt: PyTorch's state, eval and train outputs, and one SGD step`, async () => {
        const f = fixtures[name];
        const m = await torch.jit.load(path.join(FIXTURES, f.file));
        const x = fromFixture(f.input);
        const labels = fromFixture(f.labels);
        try {
          assertState(m, f.state, 'loaded');
          m.eval();
          torch.tidy(() => assertTensor(torch.noGrad(() => m.forward(x)), f.eval, TOL, 'eval output'));
          m.train();
          torch.tidy(() => {
            const before = m.stateDict();
            const saved = new Map([...before].map(([k, t]) => [k, t.clone()]));
            assertTensor(torch.noGrad(() => m.forward(x)), f.train, TOL, 'train output');
            for (const [k, t] of before) t.copy_(saved.get(k)!);  // undo the statistics the train forward updated
          });
          // one step in a JS loop, as the generator took it
          const opt = new torch.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
          const loss = torch.tidy(() => {
            opt.zeroGrad();
            const l = torch.nn.crossEntropy(m.forward(x), labels);
            l.backward();
            opt.step();
            return l.item() as number;
          });
          assert.ok(Math.abs(loss - f.step.loss) <= 1e-5 * Math.abs(f.step.loss), `loss ${loss} vs ${f.step.loss}`);
          assertState(m, f.step.state, 'after the step');
          opt.dispose();
        } finally {
          m.dispose();
          torch.dispose([x, labels]);
        }
      });
    }

    it('scripted_pair.pt: an optional input (None when absent) and a tuple of outputs', async () => {
      const f = fixtures.scripted_pair;
      const m = await torch.jit.load(path.join(FIXTURES, f.file));
      const x = fromFixture(f.x);
      const y = fromFixture(f.y);
      try {
        assert.equal(m.signature, 'forward(Tensor x, Optional[Tensor] y) -> Tuple[Tensor, Tensor]');
        torch.tidy(() => {
          m.forwardAll(x).forEach((t, k) => assertTensor(t!, f.withoutY[k], TOL, `without y: output ${k}`));
          m.forwardAll(x, null).forEach((t, k) => assertTensor(t!, f.withoutY[k], TOL, `y null: output ${k}`));
          m.forwardAll(x, y).forEach((t, k) => assertTensor(t!, f.withY[k], TOL, `with y: output ${k}`));
        });
        assert.throws(() => m.forwardAll(x, y, x), /ScriptModule.forward takes 1 to 2 input\(s\), got 3: forward\(Tensor x, Optional\[Tensor\] y\) -> Tuple\[Tensor, Tensor\]/);
        assert.throws(() => m.forwardAll(), /takes 1 to 2 input\(s\), got 0/);
      } finally {
        m.dispose();
        torch.dispose([x, y]);
      }
    });

    it('refuses what it cannot load, naming why', async () => {
      const dir = tmpdir();
      try {
        const missing = path.join(dir, 'missing.pt');
        await assert.rejects(torch.jit.load(missing), new RegExp(`torch.jit.load\\('${missing}'\\): the file does not exist`));
        await assert.rejects(torch.jit.load(dir), /the path is a directory, not a regular file \(TorchScript files are regular files\)/);
        const text = path.join(dir, 'model.txt');
        fs.writeFileSync(text, 'not a model at all');
        await assert.rejects(torch.jit.load(text), /not a torch.jit.save file: it is not a zip archive \(its first bytes are 6e6f7420/);
        await assert.rejects(torch.jit.load(path.join(FIXTURES, 'state_dict.pt')),
          /the file is a torch.save file \(a state dict or another value\), not a TorchScript archive: read it with torch.load\(path\) and give it to a module with loadStateDict\(\)/);
        // a truncated archive
        const bytes = fs.readFileSync(path.join(FIXTURES, 'traced_mlp.pt'));
        const truncated = path.join(dir, 'truncated.pt');
        fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
        await assert.rejects(torch.jit.load(truncated), /torch.jit.load\('.*truncated.pt'\): .*(zip|central directory|end)/i);
        // an archive of a newer format than this libtorch reads: the same archive with version 99
        const newer = path.join(dir, 'newer.pt');
        await rewriteArchive(path.join(FIXTURES, 'traced_mlp.pt'), newer, (name, data) => (name.endsWith('/version') ? Buffer.from('99\n') : data));
        await assert.rejects(torch.jit.load(newer),
          /the archive's format version is 99 \('traced_mlp\/version' holds "99\\n"\), but this libtorch reads versions up to 10: it was written by a newer PyTorch than this libtorch/);
        // an operator this libtorch does not have, as in an archive of a newer PyTorch
        const unknownOp = path.join(dir, 'unknown-op.pt');
        await rewriteArchive(path.join(FIXTURES, 'traced_mlp.pt'), unknownOp, (name, data) =>
          (name.endsWith('activation.py') ? Buffer.from(Buffer.from(data).toString('utf8').replace('torch.tanh(', 'torch.frobnicate(')) : data));
        await assert.rejects(torch.jit.load(unknownOp),
          /the archive uses an operator or type that this libtorch lacks \(it was probably written by a newer PyTorch; .*frobnicate/s);
        // the rewriting itself keeps a loadable archive
        const same = path.join(dir, 'same.pt');
        await rewriteArchive(path.join(FIXTURES, 'traced_mlp.pt'), same, (_, data) => data);
        (await torch.jit.load(same)).dispose();
        await assert.rejects(torch.jit.load(3 as unknown as string), /path must be a string, got the number 3/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('save', () => {
    it('round trip here, and Python\'s torch.jit.load gives the same outputs (live, when TORCHBRIDGE_PYTHON has torch)', async function () {
      torch.manualSeed(4);
      const net = new MLP(0.25);
      const x = torch.randn([5, 4]);
      const traced = torch.jit.trace(net, x);
      const dir = tmpdir();
      const file = path.join(dir, 'mlp.pt');
      try {
        await torch.jit.save(traced, file);
        assert.deepEqual(fs.readdirSync(dir), ['mlp.pt'], 'no temporary file is left');
        const back = await torch.jit.load(file);
        back.eval();
        net.eval();
        const expected = torch.tidy(() => tensorValues(net.forward(x)));
        torch.tidy(() => assertClose(tensorValues(back.forward(x)), expected, { rtol: 0, atol: 0 }, 'loaded here'));
        assert.deepEqual(stateNames(back), stateNames(traced));
        back.dispose();
        if (!pythonHasTorch()) {
          console.warn(`      skipped the Python half: ${PYTHON} cannot import torch (set TORCHBRIDGE_PYTHON)`);
          return;
        }
        const input = path.join(dir, 'x.json');
        fs.writeFileSync(input, JSON.stringify({ x: x.toArray() }));
        const script = 'import json, sys, torch\n' +
          'm = torch.jit.load(sys.argv[1]); m.eval()\n' +
          'x = torch.tensor(json.load(open(sys.argv[2]))["x"], dtype=torch.float32)\n' +
          'print(json.dumps({"out": m(x).reshape(-1).tolist(), "names": list(m.state_dict().keys()), "training": m.training}))\n';
        const run = spawnSync(PYTHON, ['-c', script, file, input], { encoding: 'utf8', timeout: 120_000 });
        assert.equal(run.status, 0, run.stderr);
        const py = JSON.parse(run.stdout);
        assertClose(py.out, expected, TOL, "Python's outputs");
        assert.deepEqual(py.names, ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
      } finally {
        traced.dispose();
        net.dispose();
        x.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a module that is not a ScriptModule and a path in a missing directory, leaving nothing behind', async () => {
      const net = new MLP();
      const x = torch.randn([2, 4]);
      const traced = torch.jit.trace(net, x);
      const dir = tmpdir();
      try {
        await assert.rejects(torch.jit.save(net as unknown as ScriptModule, path.join(dir, 'a.pt')),
          /module must be a ScriptModule \(from torch.jit.trace or torch.jit.load\), got a MLP; trace it first with torch.jit.trace\(module, exampleInputs\)/);
        await assert.rejects(torch.jit.save(traced, path.join(dir, 'no', 'such', 'dir', 'a.pt')), /torch.jit.save\('.*a.pt'\): .*(directory|ENOENT)/);
        assert.deepEqual(fs.readdirSync(dir), []);
      } finally {
        traced.dispose();
        net.dispose();
        x.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the Trainer trains traced and loaded modules', () => {
    it('a traced TypeScript MLP on [cpu, cpu] gives the parameters of a JS loop of the TypeScript module (within 1e-5)', async () => {
      torch.manualSeed(5);
      const net = new MLP();
      const reference = new MLP();
      torch.tidy(() => reference.loadStateDict(net.stateDict()));
      const batches = [0, 1, 2, 3].map((k) => {
        torch.manualSeed(30 + k);
        return { x: torch.randn([7, 4]), y: torch.randint(0, 3, [7]) };
      });
      const traced = torch.jit.trace(net, batches[0].x);
      const loss = new torch.nn.CrossEntropyLoss({ reduction: 'none' });
      const opt = new torch.optim.Adam(traced.parameters(), { lr: 0.01 });
      const trainer = new Trainer(traced, opt, ['cpu', 'cpu'], loss);
      const refOpt = new torch.optim.Adam(reference.parameters(), { lr: 0.01 });
      try {
        for (const { x, y } of batches) {
          const r = await trainer.step([x], y);
          const expected = torch.tidy(() => {
            refOpt.zeroGrad();
            const l = loss.forward(reference.forward(x), y).sum();
            l.backward();
            refOpt.step();
            return l.item() as number;
          });
          assert.ok(Math.abs(r.loss - expected) <= 1e-5 * Math.abs(expected), `${r.loss} vs ${expected}`);
        }
        const expected = stateValues(reference);
        for (const [name, values] of stateValues(traced)) assertClose(values, expected.get(name)!, TOL, name);
        // the original module shares the traced module's parameters: it was trained too
        for (const [name, values] of stateValues(net)) assertClose(values, expected.get(name)!, TOL, `original ${name}`);
        const e = await trainer.evaluate([batches[0].x], batches[0].y);
        const correct = torch.tidy(() => torch.noGrad(() => reference.eval().forward(batches[0].x).argmax(1).eq(batches[0].y).sum().item()));
        assert.equal(e.correct, correct);
      } finally {
        trainer.dispose();
        for (const m of [opt, refOpt, traced, net, reference]) m.dispose();
        torch.dispose(batches.flatMap(({ x, y }) => [x, y]));
      }
    });

    it("Python's traced MLP loaded and trained on [cpu, cpu] takes PyTorch's SGD step; scripted batch norm on [cpu] too", async () => {
      for (const [name, devices] of [['traced_mlp', ['cpu', 'cpu']], ['scripted_bn', ['cpu']]] as const) {
        const f = fixtures[name];
        const m = await torch.jit.load(path.join(FIXTURES, f.file));
        const x = fromFixture(f.input);
        const labels = fromFixture(f.labels);
        const opt = new torch.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
        const trainer = new Trainer(m, opt, devices, new torch.nn.CrossEntropyLoss());
        try {
          const r = await trainer.step([x], labels);
          assert.ok(Math.abs(r.loss - f.step.loss) <= 1e-5 * Math.abs(f.step.loss), `${name}: loss ${r.loss} vs ${f.step.loss}`);
          assertState(m, f.step.state, `${name} after the Trainer's step`);
        } finally {
          trainer.dispose();
          opt.dispose();
          m.dispose();
          torch.dispose([x, labels]);
        }
      }
    });

    it('100 steps and forwards of a traced module leave the live tensor count flat', async () => {
      const net = new MLP(0.1);
      const x = torch.randn([8, 4]);
      const y = torch.randint(0, 3, [8]);
      const traced = torch.jit.trace(net, x);
      const opt = new torch.optim.SGD(traced.parameters(), { lr: 0.01 });
      const trainer = new Trainer(traced, opt, ['cpu', 'cpu']);
      try {
        await trainer.step([x], y);
        const before = torch.memory().liveTensors;
        for (let k = 0; k < 100; ++k) {
          await trainer.step([x], y);
          torch.tidy(() => {
            traced.forward(x);
          });
        }
        assert.equal(torch.memory().liveTensors, before);
      } finally {
        trainer.dispose();
        for (const m of [opt, traced, net]) m.dispose();
        torch.dispose([x, y]);
      }
    });
  });
});

// Copies a zip archive entry by entry through `map` (stored, aligned as PyTorch writes them).
async function rewriteArchive(from: string, to: string, map: (name: string, data: Uint8Array) => Uint8Array): Promise<void> {
  const input = await fs.promises.open(from, 'r');
  const output = await fs.promises.open(to, 'w');
  try {
    const zip = await ZipReader.open(fileSource(input, (await input.stat()).size));
    const writer = new ZipWriter({ write: async (bytes) => { await output.write(bytes); } });
    for (const entry of zip.entries) await writer.add(entry.name, map(entry.name, await zip.read(entry)));
    await writer.finish();
  } finally {
    await input.close();
    await output.close();
  }
}
