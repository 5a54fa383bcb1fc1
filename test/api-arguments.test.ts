// Issue 13's findings in the core API's argument handling: null options, bigints and bare
// numbers where arrays are expected, non-string state dict keys, to() targets, shapes with
// holes, values nested 100,000 deep (dispose, tidy, save) or shared 2^60 ways (save), and
// lone surrogates in saved strings. Each refusal says what was given and what is expected.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { PYTHON, pythonHasTorch } from './helpers';

// The messages of JS errors raised inside the library rather than by its checks.
const INTERNAL = /Cannot read propert|is not iterable|is not a function|Maximum call stack/;

function refuses(run: () => unknown, type: new (...args: never[]) => Error, pattern: RegExp): void {
  assert.throws(run, (e: Error) => {
    assert.ok(e instanceof type, `expected a ${type.name}, got ${e.constructor.name}: ${e.message}`);
    assert.doesNotMatch(e.message, INTERNAL);
    assert.match(e.message, pattern);
    return true;
  });
}

// What Python prints for a script run on `file` (passed as sys.argv[1]).
function python(script: string, file: string): string {
  const run = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(run.status, 0, `Python failed:\n${run.stdout}${run.stderr}`);
  return run.stdout.trim();
}

function nested(depth: number, leaf: unknown): unknown[] {
  let value: unknown[] = [leaf];
  for (let k = 1; k < depth; ++k) value = [value];
  return value;
}

function depthOf(value: unknown): number {
  let n = 0;
  for (let v = value; Array.isArray(v); v = v[0]) ++n;
  return n;
}

describe('API arguments', function () {
  this.timeout(120_000);
  let workDir: string;
  before(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-api-arguments-'));
  });
  after(() => fs.rmSync(workDir, { recursive: true, force: true }));

  describe('null options are no options, everywhere', () => {
    it('factory functions', () => {
      torch.tidy(() => {
        refuses(() => torch.tensor([[1, 2], [3]], null), TypeError, /ragged nested array/);
        assert.deepEqual(torch.tensor([1, 2], null).toArray(), [1, 2]);
        assert.deepEqual(torch.tensor(new Float32Array([1, 2]), null).shape, [2]);
        for (const make of [torch.zeros, torch.ones, torch.empty, torch.rand, torch.randn]) {
          assert.deepEqual(make([2, 3], null).shape, [2, 3], make.name);
        }
        assert.deepEqual(torch.full([2], 7, null).toArray(), [7, 7]);
        assert.deepEqual(torch.arange(3, null).toArray(), [0, 1, 2]);
        assert.deepEqual(torch.arange(1, 3, null).toArray(), [1, 2]);
        assert.deepEqual(torch.arange(0, 6, 2, null).toArray(), [0, 2, 4]);
        assert.deepEqual(torch.arange(0, 3, null, { dtype: 'float64' }).dtype, 'float64');
        assert.deepEqual(torch.linspace(0, 1, 3, null).toArray(), [0, 0.5, 1]);
        assert.deepEqual(torch.eye(2, null, null).toArray(), [[1, 0], [0, 1]]);
        assert.deepEqual(torch.randint(0, 5, [4], null).shape, [4]);
        const like = torch.ones([2]);
        for (const make of [torch.zerosLike, torch.onesLike, torch.emptyLike, torch.randLike, torch.randnLike]) {
          assert.deepEqual(make(like, null).shape, [2], make.name);
        }
        assert.deepEqual(torch.fullLike(like, 3, null).toArray(), [3, 3]);
        assert.deepEqual(torch.randintLike(like, 0, 3, null).shape, [2]);
      });
    });

    it('tensor methods', () => {
      torch.tidy(() => {
        const t = torch.arange(6, { dtype: 'float32' }).reshape([2, 3]);
        assert.equal(t.sum(null, null).item(), 15);
        assert.deepEqual(t.sum(0, null).toArray(), [3, 5, 7]);
        assert.equal(t.mean(undefined, null).item(), 2.5);
        const x = torch.ones([2], { requiresGrad: true });
        x.mul(2).sum().backward(null, null);
        assert.deepEqual(x.grad!.toArray(), [2, 2]);
        assert.deepEqual(torch.dropout(t, 0.5, null).shape, [2, 3]);
      });
    });

    it('nn layers, losses and modules', () => {
      const layers = [new torch.nn.Linear(3, 2, null), new torch.nn.LazyLinear(2, null), new torch.nn.Embedding(4, 2, null),
        new torch.nn.LayerNorm(3, null)];
      try {
        assert.deepEqual(layers.map((m) => m.toString()), [
          'Linear(in_features=3, out_features=2, bias=True)',
          'LazyLinear(in_features=0, out_features=2, bias=True)',
          'Embedding(4, 2)',
          'LayerNorm((3,), eps=1e-05, elementwise_affine=True)',
        ]);
        const linear = layers[0];
        linear.zeroGrad(null);
        const result = linear.loadStateDict(linear.stateDict(), null);
        assert.deepEqual(result, { missingKeys: [], unexpectedKeys: [] });
        torch.tidy(() => {
          const loss = new torch.nn.CrossEntropyLoss(null);
          const logits = torch.tensor([[1, 2, 3]], { dtype: 'float32' });
          const target = torch.tensor([2]);
          const expected = torch.nn.crossEntropy(logits, target).item() as number;
          assert.equal(loss.forward(logits, target).item(), expected);
          assert.equal(torch.nn.crossEntropy(logits, target, null).item(), expected);
        });
      } finally {
        layers.forEach((m) => m.dispose());
      }
    });

    it('optimizers and the Trainer', async () => {
      const net = new torch.nn.Linear(3, 2);
      const optimizers = [new torch.optim.Adam(net.parameters(), null), new torch.optim.AdamW(net.parameters(), null)];
      try {
        assert.deepEqual(optimizers.map((o) => o.getLr()), [1e-3, 1e-3]);
        optimizers[0].zeroGrad(null);
        refuses(() => new torch.optim.SGD(net.parameters(), null as unknown as { lr: number }), TypeError, /SGD: options\.lr .* is required, got none/);
        const trainer = new torch.Trainer(net, optimizers[0], ['cpu'], undefined, null);
        try {
          const x = torch.ones([2, 3]);
          const y = torch.tensor([0, 1]);
          const step = await trainer.step([x], y);
          assert.equal(step.count, 2);
          torch.dispose([x, y]);
        } finally {
          trainer.dispose();
        }
      } finally {
        optimizers.forEach((o) => o.dispose());
        net.dispose();
      }
    });

    it('options that are not objects are refused, naming what was given', () => {
      refuses(() => torch.zeros([2], 5 as unknown as torch.TensorOptions), TypeError, /^zeros: the options must be an object \(or undefined or null\), got the number 5$/);
      refuses(() => torch.ones([2], 'float64' as unknown as torch.TensorOptions), TypeError, /ones: .* got the string "float64" \(for a dtype, pass \{ dtype: 'float64' \}\)/);
      refuses(() => torch.tensor([1], [] as unknown as torch.TensorOptions), TypeError, /tensor: the options must be an object .* got an array of 0 elements/);
      refuses(() => new torch.nn.Linear(3, 2, 1 as unknown as torch.nn.ModuleOptions), TypeError, /Linear: the options must be an object .* got the number 1/);
      const t = torch.ones([2]);
      refuses(() => t.sum(0, true as unknown as { keepdim: boolean }), TypeError, /sum: the options must be an object .* got the boolean true/);
      t.dispose();
    });
  });

  describe('shapes and dims: one parser, bare numbers where PyTorch takes them, no bigints', () => {
    it('a bare number is a 1-D shape or one dim, as in PyTorch', () => {
      torch.tidy(() => {
        const t = torch.arange(3);
        // PyTorch: t.reshape(3), t.view(3), t.expand(2, 3) / t.expand(3), t.permute(0), t.sum(0)
        assert.deepEqual(t.reshape(3).shape, [3]);
        assert.deepEqual(t.view(3).shape, [3]);
        assert.deepEqual(t.expand(3).shape, [3]);
        assert.deepEqual(t.permute(0).shape, [3]);
        assert.equal(t.sum(0).item(), 3);
        assert.deepEqual(t.split(1, 0).length, 3);
        assert.deepEqual(torch.ones([2, 3]).reshape(6).shape, [6]);
        assert.deepEqual(new torch.nn.LayerNorm(3).toString(), 'LayerNorm((3,), eps=1e-05, elementwise_affine=True)');
      });
    });

    it('a bare number where PyTorch refuses it gives PyTorch\'s refusal, not a JS error', () => {
      const t = torch.ones([2, 3]);
      // PyTorch: "the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)"
      refuses(() => t.expand(1), Error, /the number of sizes provided \(1\) must be greater or equal to the number of dimensions in the tensor \(2\)/);
      t.dispose();
    });

    it('bigints and other non-arrays are refused naming the method, the argument and the value', () => {
      const t = torch.ones([3]);
      try {
        refuses(() => new torch.nn.LayerNorm(3n as unknown as number), TypeError, /^LayerNorm: normalizedShape must be a positive integer or an array of them, got the bigint 3n \(use a number\)$/);
        refuses(() => t.reshape(3n as unknown as number), TypeError, /^reshape: shape must be an integer or an array of integers, got the bigint 3n \(use a number\)$/);
        refuses(() => t.view(undefined as unknown as number), TypeError, /^view: shape must be a dtype name, an integer or an array of integers, got undefined$/);
        refuses(() => t.sum(0n as unknown as number), TypeError, /^sum: dim must be an integer or an array of integers, got the bigint 0n \(use a number\)$/);
        refuses(() => t.mean('0' as unknown as number), TypeError, /^mean: dim must be an integer or an array of integers, got the string "0"$/);
        refuses(() => t.split(1n as unknown as number, 0), TypeError, /^split: sizeOrSizes must be a non-negative integer or an array of them, got the bigint 1n \(use a number\)$/);
        refuses(() => t.permute([0n] as unknown as number[]), TypeError, /^permute: dims must be an integer or an array of integers; element 0 is the bigint 0n \(use a number\)$/);
        refuses(() => t.expand({ length: 1 } as unknown as number[]), TypeError, /^expand: sizes must be an integer or an array of integers, got an object$/);
        refuses(() => t.reshape([2 ** 70]), TypeError, /^reshape: shape must be an integer or an array of integers; element 0 is the number 1\.1805916207174113e\+21, beyond int64$/);
        refuses(() => t.asStrided(3 as unknown as number[], [1]), TypeError, /^asStrided: size must be an array of integers, got the number 3$/);
      } finally {
        t.dispose();
      }
    });

    it('shapes with holes are refused, by every shape parser', () => {
      // eslint-disable-next-line no-sparse-arrays
      const holed = [2, , 3] as number[];
      const t = torch.ones([6]);
      try {
        refuses(() => torch.full(holed, 1), TypeError, /^full: shape must be a non-negative integer or an array of them; element 1 is missing \(the array has a hole\)$/);
        refuses(() => torch.zeros(holed), TypeError, /^zeros: .*element 1 is missing/);
        refuses(() => torch.tensor(new Float32Array(6), { shape: holed }), TypeError, /^tensor: .*element 1 is missing/);
        refuses(() => t.reshape(holed), TypeError, /^reshape: .*element 1 is missing/);
        refuses(() => t.view(holed), TypeError, /^view: .*element 1 is missing/);
        refuses(() => new torch.nn.LayerNorm(holed), TypeError, /^LayerNorm: .*element 1 is missing/);
        refuses(() => torch.ones(new Array(3) as number[]), TypeError, /^ones: .*element 0 is missing/);
      } finally {
        t.dispose();
      }
    });
  });

  describe('Tensor arguments', () => {
    it('null or a non-tensor where a Tensor is expected is named, not read', () => {
      const t = torch.ones([2]);
      try {
        refuses(() => torch.where(null as unknown as torch.Tensor, 1, 2), TypeError, /^where: condition must be a Tensor, got null$/);
        refuses(() => torch.where(t.gt(0), 'x' as unknown as number, 2), TypeError, /^where: x must be a Tensor or a number, got the string "x"$/);
        refuses(() => t.maskedFill(null as unknown as torch.Tensor, 0), TypeError, /^maskedFill: mask must be a Tensor, got null$/);
        refuses(() => t.matmul({} as torch.Tensor), TypeError, /^matmul: other must be a Tensor, got an object$/);
        refuses(() => t.copy_(null as unknown as torch.Tensor), TypeError, /^copy_: src must be a Tensor, got null$/);
        refuses(() => torch.linear(t, null as unknown as torch.Tensor), TypeError, /^linear: weight must be a Tensor, got null$/);
        refuses(() => torch.relu(null as unknown as torch.Tensor), TypeError, /^relu: x must be a Tensor, got null$/);
        refuses(() => torch.nn.crossEntropy(null as unknown as torch.Tensor, t), TypeError, /^crossEntropy: logits must be a Tensor, got null$/);
        refuses(() => torch.zerosLike(null as unknown as torch.Tensor), TypeError, /^zerosLike: expected a Tensor to take the shape of, got null$/);
      } finally {
        t.dispose();
      }
    });

    it('nested data claiming more elements than JS can hold is refused with its shape', () => {
      const huge = new Proxy([1, 2], { get: (target, key) => (key === 'length' ? 2 ** 40 : Reflect.get(target, key)) });
      refuses(() => torch.tensor(huge), RangeError, /^tensor: the nested arrays claim shape \[1099511627776\] \(1099511627776 elements\); JS could not allocate/);
    });
  });

  describe('loadStateDict keys', () => {
    it('a key that is not a string is refused by name', () => {
      const net = new torch.nn.Linear(3, 2);
      const w = torch.ones([2, 3]);
      try {
        refuses(() => net.loadStateDict(new Map<unknown, torch.Tensor>([[5, w]]) as unknown as torch.StateDict), TypeError,
          /^loadStateDict: state dict keys must be strings \(parameter and buffer names such as "weight"\), got the key the number 5$/);
        refuses(() => net.loadStateDict(new Map<unknown, torch.Tensor>([['weight', w], [Symbol('b'), w]]) as unknown as torch.StateDict), TypeError,
          /got the key the symbol Symbol\(b\)$/);
        refuses(() => net.loadStateDict(null as unknown as torch.StateDict), TypeError, /^loadStateDict: expected a state dict .* got null$/);
      } finally {
        w.dispose();
        net.dispose();
      }
    });
  });

  describe('to() targets', () => {
    it('refuses numbers, empty and unknown options, listing the dtypes and devices', () => {
      const t = torch.ones([2]);
      const valid = /float32, float64, float16, bfloat16, int64, int32, uint8, bool.*'cpu', 'cuda' or 'cuda:N'/;
      try {
        refuses(() => t.to(42 as unknown as torch.DType), TypeError, /^to: expected a dtype .* got the number 42$/);
        refuses(() => t.to(5 as unknown as torch.DType), TypeError, valid);
        refuses(() => t.to({}), TypeError, /^to: the options name neither a dtype nor a device; expected a dtype/);
        refuses(() => t.to({}), TypeError, valid);
        refuses(() => t.to({ dtpye: 'float64' } as unknown as torch.TensorOptions), TypeError, /^to: unknown option 'dtpye'/);
        refuses(() => t.to({ dtype: 5 } as unknown as torch.TensorOptions), TypeError, /^to: dtype must be one of float32, .* got the number 5$/);
        refuses(() => t.to('float' as torch.DType), TypeError, /^to: the string "float" is neither a dtype nor a device/);
        refuses(() => t.to(null as unknown as torch.DType), TypeError, /^to: expected a dtype .* got null$/);
      } finally {
        t.dispose();
      }
    });

    it('accepts dtype and device names and options, as before', () => {
      torch.tidy(() => {
        const t = torch.ones([2]);
        assert.equal(t.to('float64').dtype, 'float64');
        assert.equal(t.to('cpu').device, 'cpu');
        assert.equal(t.to({ dtype: 'int32', device: 'cpu' }).dtype, 'int32');
        assert.notEqual(t.to({ device: 'cpu', copy: true }), t);
        refuses(() => t.to('cpu:x' as torch.Device), TypeError, /unknown device 'cpu:x'/);
      });
      const net = new torch.nn.Linear(2, 2);
      try {
        assert.equal(net.to('float64').parameters()[0].dtype, 'float64');
        refuses(() => net.to(42 as unknown as torch.DType), TypeError, /^Linear\.to: expected a dtype .* got the number 42$/);
      } finally {
        net.dispose();
      }
    });
  });

  describe('deep and shared values', () => {
    it('dispose() and tidy() walk values nested 100,000 deep without recursion', () => {
      const before = torch.memory().liveTensors;
      const t = torch.ones([1]);
      torch.dispose(nested(100_000, t));
      assert.ok(t.isDisposed);
      const kept = torch.tidy(() => {
        torch.ones([1]);  // released
        return nested(100_000, torch.ones([2]));
      });
      let leaf: unknown = kept;
      while (Array.isArray(leaf)) leaf = leaf[0];
      assert.ok(leaf instanceof torch.Tensor && !leaf.isDisposed);
      assert.equal(torch.memory().liveTensors, before + 1);
      // cycles, Sets, Maps and plain objects, as before
      const cyclic: unknown[] = [leaf, new Set([new Map([['k', { t: leaf }]])])];
      cyclic.push(cyclic);
      torch.dispose(cyclic);
      assert.ok((leaf as torch.Tensor).isDisposed);
      assert.equal(torch.memory().liveTensors, before);
    });

    it('save() writes values nested 100,000 deep; loadValue reads them back', async () => {
      const file = path.join(workDir, 'deep.pt');
      await torch.save(nested(100_000, 7) as torch.PickleValue, file);
      const back = await torch.loadValue(file);
      assert.equal(depthOf(back), 100_000);
      if (pythonHasTorch()) {
        assert.equal(python('import sys, torch\nv = torch.load(sys.argv[1]); n = 0\nwhile isinstance(v, list): v = v[0]; n += 1\nprint(n, v)', file), '100000 7');
      }
    });

    it('save() writes a list shared 2^60 ways once (the memo), and the sharing survives a load', async () => {
      let shared: unknown[] = [1];
      for (let k = 0; k < 60; ++k) shared = [shared, shared];
      const t = torch.ones([2]);
      const file = path.join(workDir, 'shared.pt');
      try {
        await torch.save(new Map<string, torch.PickleValue>([['list', shared as torch.PickleValue], ['a', t], ['b', t]]), file);
      } finally {
        t.dispose();
      }
      assert.ok(fs.statSync(file).size < 10_000, `${fs.statSync(file).size} bytes`);
      const back = await torch.loadValue(file) as Map<string, torch.PickleValue>;
      try {
        let level = back.get('list') as torch.PickleValue[];
        for (let k = 0; k < 60; ++k) {
          assert.equal(level[0], level[1], `level ${k}`);
          level = level[0] as torch.PickleValue[];
        }
        assert.deepEqual(level, [1]);
        assert.equal(back.get('a'), back.get('b'), 'one tensor named twice loads as one tensor');
      } finally {
        torch.dispose(back);
      }
      if (pythonHasTorch()) {
        const script = 'import sys, torch\nd = torch.load(sys.argv[1]); v = d["list"]; ok = True\n' +
          'for _ in range(60): ok = ok and v[0] is v[1]; v = v[0]\nprint(ok, v, d["a"] is d["b"], d["a"].tolist())';
        assert.equal(python(script, file), 'True [1] True [1.0, 1.0]');
      }
    });

    it('save() names the place of a refused value in a deep value, shortened', async () => {
      const file = path.join(workDir, 'refused.pt');
      const value = nested(100_000, () => 1);
      await assert.rejects(torch.save(value as torch.PickleValue, file), (e: Error) => e instanceof TypeError &&
        /^save\('.*refused\.pt'\): value(\[0\]){8}\.\.\.\(99984 levels\)\.\.\.(\[0\]){8} is a function, which cannot be saved/.test(e.message));
      const cyclic: unknown[] = [1];
      cyclic.push([cyclic]);
      await assert.rejects(torch.save(cyclic as torch.PickleValue, file), /value\[1\]\[0\] contains itself; cyclic values cannot be saved/);
      // eslint-disable-next-line no-sparse-arrays
      await assert.rejects(torch.save([1, , 2] as torch.PickleValue, file), /value\[1\] is missing \(the array has a hole\)/);
      assert.ok(!fs.existsSync(file));
    });
  });

  describe('strings with lone surrogates', () => {
    // Python's pickler writes str with 'surrogatepass': U+D800 alone is ED A0 80.
    const keys = ['a\uD800b', '\uDC00', 'x\uDBFF', 'pair \uD83D\uDE00 ok'];

    it('round-trip through save and loadValue', async () => {
      const file = path.join(workDir, 'surrogates.pt');
      await torch.save(new Map<string, torch.PickleValue>(keys.map((k, i): [string, number] => [k, i])), file);
      const back = await torch.loadValue(file) as Map<string, number>;
      assert.deepEqual([...back.entries()], keys.map((k, i) => [k, i]));
    });

    it('Python reads the keys as the same strings', async function () {
      if (!pythonHasTorch()) this.skip();
      const file = path.join(workDir, 'surrogates-python.pt');
      await torch.save(new Map<string, torch.PickleValue>(keys.map((k, i): [string, number] => [k, i])), file);
      const printed = python('import sys, torch\nfor k, v in torch.load(sys.argv[1]).items(): print(v, [hex(ord(c)) for c in k])', file);
      const expected = keys.map((k, i) => `${i} [${[...k].map((c) => `'0x${(c.codePointAt(0) as number).toString(16)}'`).join(', ')}]`);
      assert.deepEqual(printed.split('\n'), expected);
    });
  });
});
