/**
 * Convolution, pooling, normalisation and shape layers and the ModuleList/ModuleDict containers
 * against PyTorch: test/fixtures/nn/layers.json and the layer_*.pt state dicts beside it are
 * written by scripts/gen_nn_fixtures.py (run with /usr/bin/python3 and Debian's python3-torch).
 * Forward cases load the parameters and buffers PyTorch saved, run PyTorch's train-mode warmup
 * forwards, then check the output, the gradients of (out * w).sum() for every parameter and the
 * input, the state dict keys and every buffer afterwards (BatchNorm's running statistics); init
 * cases check that after the same manual seed the constructors draw PyTorch's very parameters;
 * reprs, names and container operations are PyTorch's; state dicts saved here load in PyTorch.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as torch from '../lib';
import { nn, Tensor } from '../lib';
import { EXACT, PYTHON, TensorFixture, assertTensor, forwardTolerance, fromFixture, loadWeights, pythonHasTorch, settledLiveTensors, tensorValues } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures', 'nn');
const GENERATOR = path.join(__dirname, '..', 'scripts', 'gen_nn_fixtures.py');

type Size = number | number[];

/** A module as the generator describes it; omitted options take the constructors' defaults. */
type Spec =
  | { type: 'Linear'; in: number; out: number; bias?: boolean }
  | { type: 'ReLU' } | { type: 'Tanh' } | { type: 'Identity' } | { type: 'Sigmoid' } | { type: 'Stack' }
  | { type: 'Conv1d' | 'Conv2d'; in: number; out: number; kernel: Size; stride?: Size; padding?: Size | 'same' | 'valid'; dilation?: Size;
    groups?: number; bias?: boolean; paddingMode?: nn.PaddingMode }
  | { type: 'MaxPool2d'; kernel: Size; stride?: Size; padding?: Size; dilation?: Size; ceilMode?: boolean }
  | { type: 'AvgPool2d'; kernel: Size; stride?: Size; padding?: Size; ceilMode?: boolean; countIncludePad?: boolean; divisorOverride?: number }
  | { type: 'BatchNorm1d' | 'BatchNorm2d'; num: number; eps?: number; momentum?: number | null; affine?: boolean; track?: boolean }
  | { type: 'Flatten'; start?: number; end?: number }
  | { type: 'Softmax'; dim: number }
  | { type: 'Sequential' | 'ModuleList'; children: Spec[] }
  | { type: 'ModuleDict'; entries: [string, Spec][] };

interface ForwardCase {
  name: string;
  spec: Spec;
  dtype: 'float32' | 'float64';
  /** A state dict file PyTorch saved (parameters and buffers), or null for modules without state. */
  weights: string | null;
  mode: 'eval' | 'train';
  /** Inputs run through the module in train mode without grad, before the measured forward. */
  warmup: TensorFixture[];
  input: TensorFixture;
  w: TensorFixture;
  output: TensorFixture;
  grads: Record<string, TensorFixture>;
  inputGrad: TensorFixture;
  stateDictKeys: string[];
  buffersAfter: Record<string, TensorFixture>;
}

interface InitCase {
  name: string;
  seed: number;
  specs: Spec[];
  params: Record<string, TensorFixture>[];
  buffers: Record<string, TensorFixture>[];
  /** torch.randn(5) drawn after the constructors. */
  after: TensorFixture;
  /** The constructors' dtype. */
  dtype?: 'float64';
}

interface Architecture {
  name: string;
  spec: Spec;
  repr: string;
  namedParameters: [string, number[]][];
  stateDictKeys: string[];
  numParameters: number;
}

type Operation = ['append', Spec] | ['extend', Spec[]] | ['insert', number, Spec] | ['set', number | string, Spec] | ['update', [string, Spec][]];

interface ModuleListCase {
  name: string;
  start: Spec;
  operations: Operation[];
  repr: string;
  length: number;
  stateDictKeys: string[];
}

interface LayerFixtures {
  forward: ForwardCase[];
  init: InitCase[];
  architectures: Architecture[];
  repr: { spec: Spec; text: string };
  moduleList: ModuleListCase[];
}

const fixtures = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'layers.json'), 'utf8')) as LayerFixtures;

/**
 * The generator's Stack: a container whose forward loops over a ModuleList (each layer, `norm`
 * after the first, then acts.hidden, or acts.out after the last layer).
 */
class Stack extends nn.Module {
  readonly layers: nn.ModuleList;
  readonly acts: nn.ModuleDict;
  readonly norm: nn.BatchNorm1d;

  constructor() {
    super();
    this.layers = this.registerModule('layers', new nn.ModuleList([new nn.Linear(4, 6), new nn.Linear(6, 6), new nn.Linear(6, 3)]));
    this.acts = this.registerModule('acts', new nn.ModuleDict({ hidden: new nn.Tanh(), out: new nn.Sigmoid() }));
    this.norm = this.registerModule('norm', new nn.BatchNorm1d(6));
  }

  override forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      let h = x;
      let k = 0;
      for (const layer of this.layers) {
        h = layer.forward(h);
        if (k === 0) h = this.norm.forward(h);
        h = this.acts.get(k < this.layers.length - 1 ? 'hidden' : 'out').forward(h);
        ++k;
      }
      return h;
    });
  }
}

function build(spec: Spec, dtype?: 'float64'): nn.Module {
  const factory = dtype === undefined ? {} : { dtype };
  switch (spec.type) {
    case 'Linear':
      return new nn.Linear(spec.in, spec.out, { bias: spec.bias, ...factory });
    case 'ReLU':
      return new nn.ReLU();
    case 'Tanh':
      return new nn.Tanh();
    case 'Identity':
      return new nn.Identity();
    case 'Sigmoid':
      return new nn.Sigmoid();
    case 'Stack':
      return new Stack();
    case 'Conv1d':
    case 'Conv2d': {
      const options = { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, groups: spec.groups, bias: spec.bias, paddingMode: spec.paddingMode, ...factory };
      return spec.type === 'Conv1d' ? new nn.Conv1d(spec.in, spec.out, spec.kernel, options) : new nn.Conv2d(spec.in, spec.out, spec.kernel, options);
    }
    case 'MaxPool2d':
      return new nn.MaxPool2d(spec.kernel, { stride: spec.stride, padding: spec.padding, dilation: spec.dilation, ceilMode: spec.ceilMode });
    case 'AvgPool2d':
      return new nn.AvgPool2d(spec.kernel, { stride: spec.stride, padding: spec.padding, ceilMode: spec.ceilMode, countIncludePad: spec.countIncludePad,
        divisorOverride: spec.divisorOverride });
    case 'BatchNorm1d':
    case 'BatchNorm2d': {
      const options = { eps: spec.eps, momentum: spec.momentum, affine: spec.affine, trackRunningStats: spec.track, ...factory };
      return spec.type === 'BatchNorm1d' ? new nn.BatchNorm1d(spec.num, options) : new nn.BatchNorm2d(spec.num, options);
    }
    case 'Flatten':
      return new nn.Flatten({ startDim: spec.start, endDim: spec.end });
    case 'Softmax':
      return new nn.Softmax(spec.dim);
    case 'Sequential':
      return new nn.Sequential(...spec.children.map((c) => build(c, dtype)));
    case 'ModuleList':
      return new nn.ModuleList(spec.children.map((c) => build(c, dtype)));
    case 'ModuleDict':
      return new nn.ModuleDict(spec.entries.map(([key, c]): [string, nn.Module] => [key, build(c, dtype)]));
  }
}

// Modules a test creates, disposed after it (with their children).
const owned: nn.Module[] = [];
function own<M extends nn.Module>(module: M): M {
  owned.push(module);
  return module;
}
function disposeOwned(): void {
  for (const m of owned) m.dispose();
  owned.length = 0;
}

describe('layers and containers match PyTorch (test/fixtures/nn/layers.json)', () => {
  let liveBefore = 0;
  let threads = 0;
  before(async () => {
    liveBefore = await settledLiveTensors();
    // As the generator: one thread, so that reductions (convolution weight gradients) sum in PyTorch's order.
    threads = torch.getNumThreads();
    torch.setNumThreads(1);
  });
  after(() => torch.setNumThreads(threads));
  afterEach(disposeOwned);

  describe('forward, gradients and buffers with the state PyTorch saved', () => {
    for (const c of fixtures.forward) {
      it(c.name, async () => {
        const module = own(build(c.spec));
        if (c.dtype === 'float64') module.to({ dtype: 'float64' });
        if (c.weights !== null) await loadWeights(module, path.join(FIXTURES, c.weights));
        const tolerance = forwardTolerance(c.dtype);
        if (c.warmup.length > 0) {
          module.train();
          torch.noGrad(() => torch.tidy(() => {
            for (const w of c.warmup) module.forward(fromFixture(w));
          }));
        }
        module.train(c.mode === 'train');
        torch.tidy(() => {
          const input = fromFixture(c.input).requiresGrad_(true);
          const out = module.forward(input);
          assertTensor(out, c.output, tolerance, `${c.name}: output`);
          out.mul(fromFixture(c.w)).sum().backward();
          const named = module.namedParameters();
          assert.deepEqual(named.map(([n]) => n).sort(), Object.keys(c.grads).sort(), `${c.name}: parameter names`);
          for (const [name, p] of named) {
            assert.ok(p.grad !== undefined, `${c.name}: gradient of ${name} missing`);
            assertTensor(p.grad, c.grads[name], tolerance, `${c.name}: gradient of ${name}`);
          }
          assert.ok(input.grad !== undefined, `${c.name}: gradient of the input missing`);
          assertTensor(input.grad, c.inputGrad, tolerance, `${c.name}: gradient of the input`);
          const state = module.stateDict();
          assert.deepEqual([...state.keys()], c.stateDictKeys, `${c.name}: state_dict() keys and order`);
          const buffers = module.namedBuffers();
          assert.deepEqual(buffers.map(([n]) => n).sort(), Object.keys(c.buffersAfter).sort(), `${c.name}: buffer names`);
          for (const [name, b] of buffers) assertTensor(b, c.buffersAfter[name], forwardTolerance(b.dtype), `${c.name}: buffer ${name} afterwards`);
        });
      });
    }
  });

  describe('initialisation equals PyTorch\'s after the same manual seed', () => {
    for (const c of fixtures.init) {
      it(c.name, () => {
        torch.manualSeed(c.seed);
        const modules = c.specs.map((spec) => own(build(spec, c.dtype)));
        torch.tidy(() => {
          const after = torch.randn([5]);
          modules.forEach((m, k) => {
            const named = m.namedParameters();
            assert.deepEqual(named.map(([n]) => n).sort(), Object.keys(c.params[k]).sort(), `${c.name}: module ${k} parameter names`);
            for (const [name, p] of named) assertTensor(p, c.params[k][name], EXACT, `${c.name}: module ${k} ${name}`);
            const buffers = m.namedBuffers();
            assert.deepEqual(buffers.map(([n]) => n).sort(), Object.keys(c.buffers[k]).sort(), `${c.name}: module ${k} buffer names`);
            for (const [name, b] of buffers) assertTensor(b, c.buffers[k][name], EXACT, `${c.name}: module ${k} buffer ${name}`);
          });
          assertTensor(after, c.after, EXACT, `${c.name}: torch.randn(5) drawn after the constructors`);
        });
      });
    }
  });

  describe('names, state dict keys and repr', () => {
    for (const a of fixtures.architectures) {
      it(`${a.name}: namedParameters(), stateDict() keys, numParameters() and toString() equal PyTorch's`, () => {
        const module = own(build(a.spec));
        assert.deepEqual(module.namedParameters().map(([n, p]) => [n, p.shape]), a.namedParameters, 'named_parameters()');
        torch.tidy(() => assert.deepEqual([...module.stateDict().keys()], a.stateDictKeys, 'state_dict() keys'));
        assert.equal(module.numParameters(), a.numParameters);
        assert.equal(module.toString(), a.repr);
      });
    }

    it('a ModuleList of every layer variant prints as PyTorch\'s repr', () => {
      assert.equal(own(build(fixtures.repr.spec)).toString(), fixtures.repr.text);
    });

    it('clone() keeps the type, options and repr of every layer (pools print their sizes as given)', () => {
      const list = own(build(fixtures.repr.spec) as nn.ModuleList);
      for (const layer of list) {
        if (layer instanceof nn.ModuleList || layer instanceof nn.ModuleDict || layer instanceof Stack) continue;  // written in TypeScript
        const copy = own(layer.clone());
        assert.equal(copy.toString(), layer.toString());
      }
      // a Sequential clones its children through their type-erased forwards (a trainer's replicas)
      const cnn = own(build(fixtures.architectures.find((a) => a.name === 'cnn')!.spec)).eval();
      const copy = own(cnn.clone());
      assert.equal(copy.toString(), cnn.toString());
      torch.tidy(() => {
        const x = torch.randn([2, 3, 6, 6]);
        assert.deepEqual(tensorValues(copy.forward(x)), tensorValues(cnn.forward(x)));
      });
    });
  });

  describe('ModuleList and ModuleDict operations rename and order children as PyTorch does', () => {
    for (const c of fixtures.moduleList) {
      it(c.name, () => {
        const container = own(build(c.start));
        for (const op of c.operations) {
          if (container instanceof nn.ModuleList) {
            if (op[0] === 'append') container.append(build(op[1]));
            else if (op[0] === 'extend') container.extend(op[1].map((s) => build(s)));
            else if (op[0] === 'insert') container.insert(op[1], build(op[2]));
            else if (op[0] === 'set') container.set(op[1] as number, build(op[2]));
            else assert.fail(`no ${op[0]} on a ModuleList`);
          } else if (container instanceof nn.ModuleDict) {
            if (op[0] === 'set') container.set(op[1] as string, build(op[2]));
            else if (op[0] === 'update') container.update(op[1].map(([k, s]): [string, nn.Module] => [k, build(s)]));
            else assert.fail(`no ${op[0]} on a ModuleDict`);
          }
        }
        assert.equal(container.toString(), c.repr);
        assert.equal((container as nn.ModuleList | nn.ModuleDict).length, c.length);
        torch.tidy(() => assert.deepEqual([...container.stateDict().keys()], c.stateDictKeys));
      });
    }
  });

  describe('state dicts saved here load in PyTorch (torch.load(weights_only=True), strict load_state_dict)', function () {
    this.timeout(120_000);
    const available = pythonHasTorch();
    const withPython = available || process.env.CI ? it : it.skip;
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-layers-'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const name of ['cnn', 'stack', 'batch_norms', 'module_dict']) {
      withPython(`${name}, after training-mode forwards${available ? '' : ` (skipped: ${PYTHON} cannot import torch)`}`, async () => {
        const a = fixtures.architectures.find((x) => x.name === name)!;
        const module = own(build(a.spec));
        const input = name === 'cnn' ? [4, 3, 6, 6] : name === 'stack' ? [5, 4] : null;
        if (input !== null) {
          torch.noGrad(() => torch.tidy(() => {
            for (let k = 0; k < 3; ++k) module.forward(torch.randn(input).mul(2).add(1));
          }));
        } else {
          // the containers hold BatchNorms: give every value something other than its default
          torch.noGrad(() => torch.tidy(() => {
            for (const [, t] of module.stateDict()) t.copy_(torch.rand(t.shape).mul(5).add(1));
          }));
        }
        const file = path.join(dir, `${name}.pt`);
        const dict = module.stateDict();
        try {
          await torch.save(dict, file);
        } finally {
          torch.dispose(dict);
        }
        const run = spawnSync(PYTHON, [GENERATOR, 'check-state', JSON.stringify(a.spec), file], { encoding: 'utf8', maxBuffer: 1 << 26 });
        assert.equal(run.status, 0, `PyTorch could not load it:\n${run.stderr}`);
        const loaded = JSON.parse(run.stdout) as { keys: string[]; tensors: Record<string, TensorFixture> };
        torch.tidy(() => {
          const ours = module.stateDict();
          assert.deepEqual(loaded.keys, [...ours.keys()]);
          for (const [key, t] of ours) assertTensor(t, loaded.tensors[key], EXACT, `${name}: ${key} as PyTorch loaded it`);
        });
      });
    }
  });

  describe('ModuleList', () => {
    it('indexes, counts and iterates its modules; a subclass\'s forward loops over it', () => {
      const a = new nn.Linear(2, 3);
      const b = new nn.ReLU();
      const list = own(new nn.ModuleList([a, b]));
      assert.equal(list.length, 2);
      assert.equal(list.at(0), a);
      assert.equal(list.at(-1), b);
      assert.equal(list.at(-2), a);
      assert.deepEqual([...list], [a, b]);
      assert.throws(() => list.at(2), (e: Error) => e instanceof RangeError && /index the number 2 is out of range for 2 modules; use -2 to 1/.test(e.message));
      assert.throws(() => list.at(-3), RangeError);
      const c = new nn.Tanh();
      assert.equal(list.append(c), list, 'append returns the list');
      assert.deepEqual(list.namedChildren().map(([n]) => n), ['0', '1', '2']);
      assert.equal(list.set(-1, new nn.Sigmoid()), list);
      assert.equal(list.at(2).toString(), 'Sigmoid()');
      c.dispose();  // replaced, so no longer the list's
      assert.equal(own(new nn.ModuleList()).length, 0);
      assert.equal(own(new nn.ModuleList(null)).toString(), 'ModuleList()');
    });

    it('has no forward, as PyTorch\'s, and refuses what is not a Module', () => {
      const list = own(new nn.ModuleList([new nn.ReLU()]));
      assert.throws(() => torch.tidy(() => list.forward(torch.ones([1]))), /ModuleList has no forward: call its modules from your own forward/);
      assert.throws(() => list.append({} as nn.Module), (e: Error) => e instanceof TypeError && /ModuleList.append: module must be a Module, got an object/.test(e.message));
      assert.throws(() => new nn.ModuleList([new nn.ReLU(), 3] as unknown as nn.Module[]), /ModuleList.extend: element 1 must be a Module, got the number 3/);
      assert.throws(() => new nn.ModuleList(5 as unknown as nn.Module[]), /must be an iterable/);
      assert.throws(() => list.insert(3, new nn.ReLU()), (e: Error) => e instanceof RangeError && /from 0 to 1 \(the length\)/.test(e.message));
      assert.throws(() => list.insert(-1, new nn.ReLU()), RangeError);
    });
  });

  describe('ModuleDict', () => {
    it('gets, sets, lists and iterates modules by key, in insertion order', () => {
      const enc = new nn.Linear(2, 2);
      const head = new nn.Linear(2, 1);
      const dict = own(new nn.ModuleDict(new Map<string, nn.Module>([['enc', enc], ['head', head]])));
      assert.equal(dict.length, 2);
      assert.equal(dict.get('enc'), enc);
      assert.ok(dict.has('head'));
      assert.ok(!dict.has('missing'));
      assert.deepEqual(dict.keys(), ['enc', 'head']);
      assert.deepEqual(dict.values(), [enc, head]);
      assert.deepEqual(dict.entries(), [['enc', enc], ['head', head]]);
      assert.deepEqual([...dict], ['enc', 'head'], 'iterating yields the keys, as Python\'s');
      const act = new nn.Tanh();
      assert.equal(dict.set('act', act), dict);
      const newEnc = new nn.Linear(2, 2);
      dict.set('enc', newEnc);
      enc.dispose();
      assert.deepEqual(dict.keys(), ['enc', 'head', 'act'], 'a replaced key keeps its place');
      assert.equal(dict.get('enc'), newEnc);
      torch.tidy(() => assert.deepEqual([...dict.stateDict().keys()], ['enc.weight', 'enc.bias', 'head.weight', 'head.bias']));
      assert.throws(() => dict.get('nope'), /ModuleDict: no module "nope" \(keys: "enc", "head", "act"\); check has\(key\) first/);
    });

    it('refuses keys PyTorch\'s module names cannot be, and values that are not Modules', () => {
      assert.throws(() => new nn.ModuleDict({ 'a.b': new nn.ReLU() }), (e: Error) => e instanceof TypeError && /the key "a.b" contains "."/.test(e.message));
      assert.throws(() => new nn.ModuleDict({ '': new nn.ReLU() }), /must not be the empty string/);
      assert.throws(() => new nn.ModuleDict({ a: 'relu' as unknown as nn.Module }), /the module of "a" must be a Module, got the string "relu"/);
      assert.throws(() => new nn.ModuleDict([['a']] as unknown as [string, nn.Module][]), /entry 0 must be a \[key, module\] pair/);
      const dict = own(new nn.ModuleDict({ a: new nn.ReLU() }));
      assert.throws(() => torch.tidy(() => dict.forward(torch.ones([1]))), /ModuleDict has no forward/);
      assert.throws(() => dict.set(3 as unknown as string, new nn.ReLU()), /keys must be strings, got the number 3/);
    });
  });

  describe('layer arguments', () => {
    it('options objects, tuples and the dtype/device options', () => {
      const conv = own(new nn.Conv2d({ inChannels: 2, outChannels: 4, kernelSize: [3, 1], padding: 'same', dtype: 'float64', device: 'cpu' }));
      assert.equal(conv.toString(), 'Conv2d(2, 4, kernel_size=(3, 1), stride=(1, 1), padding=same)');
      assert.ok(conv.parameters().every((p) => p.dtype === 'float64'));
      const bn = own(new nn.BatchNorm2d({ numFeatures: 3, momentum: null, dtype: 'float64' }));
      const bufferDtypes = () => torch.tidy(() => bn.namedBuffers().map(([n, b]) => [n, b.dtype]));
      assert.deepEqual(bufferDtypes(), [['running_mean', 'float64'], ['running_var', 'float64'], ['num_batches_tracked', 'int64']]);
      bn.to('float32');
      assert.deepEqual(bufferDtypes(), [['running_mean', 'float32'], ['running_var', 'float32'], ['num_batches_tracked', 'int64']],
        'to(dtype) converts the floating point state only, as PyTorch\'s');
      assert.equal(own(new nn.MaxPool2d({ kernelSize: 3, stride: [2, 1] })).toString(), 'MaxPool2d(kernel_size=3, stride=(2, 1), padding=0, dilation=1, ceil_mode=False)');
      assert.equal(own(new nn.AvgPool2d({ kernelSize: [2, 2] })).toString(), 'AvgPool2d(kernel_size=(2, 2), stride=(2, 2), padding=0)');
      assert.equal(own(new nn.Flatten(0)).toString(), 'Flatten(start_dim=0, end_dim=-1)');
      assert.equal(own(new nn.Flatten(2, 3)).toString(), 'Flatten(start_dim=2, end_dim=3)');
      assert.equal(own(new nn.Softmax({ dim: -1 })).toString(), 'Softmax(dim=-1)');
      assert.equal(own(new nn.Conv1d(2, 2, 3, null)).toString(), 'Conv1d(2, 2, kernel_size=(3,), stride=(1,))');
    });

    it('bad arguments are errors that name the argument and the fix', () => {
      const refuses = (make: () => unknown, type: typeof TypeError | typeof RangeError, pattern: RegExp) =>
        assert.throws(make, (e: Error) => e instanceof type && pattern.test(e.message), pattern.source);
      refuses(() => new nn.Conv2d(3, 8, [3, 3, 3]), TypeError, /Conv2d: kernelSize must be an integer >= 1 or an array of 2 of them, got an array of 3 elements/);
      refuses(() => new nn.Conv2d(3, 8, 0), TypeError, /Conv2d: kernelSize must be an integer >= 1/);
      refuses(() => new nn.Conv1d(3, 8, 3, { padding: -1 }), TypeError, /Conv1d: padding must be an integer >= 0/);
      refuses(() => new nn.Conv1d(3, 8, 3, { padding: 'full' as 'same' }), TypeError, /padding must be sizes, 'same' or 'valid', got the string "full"/);
      refuses(() => new nn.Conv2d(3, 8, 3, { padding: 'same', stride: 2 }), RangeError, /padding 'same' is not supported for strided convolutions/);
      refuses(() => new nn.Conv2d(3, 8, 3, { groups: 2 }), RangeError, /inChannels \(3\) must be divisible by groups \(2\)/);
      refuses(() => new nn.Conv2d(4, 6, 3, { groups: 4 }), RangeError, /outChannels \(6\) must be divisible by groups \(4\)/);
      refuses(() => new nn.Conv2d(3, 8, 3, { paddingMode: 'mirror' as 'zeros' }), TypeError, /paddingMode must be one of 'zeros', 'reflect', 'replicate', 'circular'/);
      refuses(() => new nn.Conv2d(0, 8, 3), TypeError, /Conv2d: inChannels must be a positive integer/);
      refuses(() => new nn.MaxPool2d(2, { stride: [1, 2, 3] }), TypeError, /MaxPool2d: stride must be an integer >= 1 or an array of 2/);
      refuses(() => new nn.AvgPool2d(2, { divisorOverride: 0 }), RangeError, /divisorOverride must not be 0/);
      refuses(() => new nn.BatchNorm1d(0), TypeError, /BatchNorm1d: numFeatures must be a positive integer/);
      refuses(() => new nn.BatchNorm2d(3, { momentum: 'fast' as unknown as number }), TypeError, /momentum must be a number \(or null for a cumulative average\)/);
      refuses(() => new nn.BatchNorm2d(3, { affine: 1 as unknown as boolean }), TypeError, /BatchNorm2d: affine must be a boolean/);
      refuses(() => new (nn.Softmax as unknown as new () => nn.Softmax)(), TypeError, /Softmax: dim is required/);
      refuses(() => new nn.Flatten(1.5), TypeError, /Flatten: startDim must be an integer/);
    });

    it('bad inputs at forward are errors with libtorch\'s message, not crashes', () => {
      const bn = own(new nn.BatchNorm1d(3));
      assert.throws(() => torch.tidy(() => bn.forward(torch.ones([2, 3, 4, 5]))), /expected 2D or 3D input \(got 4D input\)/);
      assert.throws(() => torch.tidy(() => bn.forward(torch.ones([1, 3]))), /Expected more than 1 value per channel when training/);
      const conv = own(new nn.Conv2d(3, 2, 3));
      assert.throws(() => torch.tidy(() => conv.forward(torch.ones([1, 4, 5, 5]))), /expected input\[1, 4, 5, 5\] to have 3 channels/);
    });
  });

  // Last: mocha runs a describe's own tests before its nested describes.
  describe('memory', () => {
    it('releases every tensor the tests above created', () => {
      disposeOwned();
      assert.equal(torch.memory().liveTensors, liveBefore);
    });
  });
});
