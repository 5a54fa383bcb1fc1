/**
 * Every op against PyTorch: test/fixtures/ops.json is written by scripts/gen_op_fixtures.py
 * (run with /usr/bin/python3 and Debian's python3-torch). Each case replays a torchbridge call
 * chain on the fixture's inputs and checks the outputs' values, shape and dtype and, for
 * differentiable cases, the gradients of sum_k (out_k * w_k).sum().
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as torch from '../lib';
import { Tensor } from '../lib';
import * as creation from '../lib/core/creation';
import * as functional from '../lib/core/functional';
import { assertTensor, decodeValue, forwardTolerance, fromFixture, TensorFixture, Tolerance } from './helpers';

/** Arguments as JSON, with markers for tensors, slices, omitted arguments, non-finite numbers and bigints. */
type FixtureArg = number | boolean | string | null | FixtureArg[] | { [key: string]: FixtureArg };

interface FixtureCall {
  /**
   * "method": a Tensor method (of inputs[0] first, then of the previous result); "property": a
   * Tensor getter (`x.T`) of the same receiver; "function": a torchbridge function.
   */
  kind: 'method' | 'property' | 'function';
  op: string;
  args: FixtureArg[];
}

interface OpCase {
  name: string;
  calls: FixtureCall[];
  inputs: TensorFixture[];
  outputs: TensorFixture[];
  /** torch.manual_seed(seed) ran right before the calls. */
  seed?: number;
  /** The outputs are the inputs after the calls (writes through views), not the calls' result. */
  outputsAreInputs?: boolean;
  weights?: Array<TensorFixture | null>;
  grads?: Array<TensorFixture | null>;
}

const fixturePath = path.join(__dirname, 'fixtures', 'ops.json');
const cases = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as OpCase[];

const GRAD_TOLERANCE: Record<'float32' | 'float64', Tolerance> = {
  float32: { rtol: 1e-5, atol: 1e-6 },
  float64: { rtol: 1e-10, atol: 1e-12 },
};

function isRecord(value: FixtureArg): value is { [key: string]: FixtureArg } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Replaces the markers of scripts/gen_op_fixtures.py with what torchbridge takes.
function decodeArg(arg: FixtureArg, inputs: readonly Tensor[]): unknown {
  if (Array.isArray(arg)) return arg.map((a) => decodeArg(a, inputs));
  if (!isRecord(arg)) return arg;
  if ('$tensor' in arg) return inputs[arg.$tensor as number];
  if ('$slice' in arg) {
    const [start, stop, step] = arg.$slice as Array<number | null>;
    return torch.slice(start, stop, step);
  }
  if ('$undefined' in arg) return undefined;
  if ('$number' in arg) return decodeValue(arg.$number as string);
  if ('$bigint' in arg) return BigInt(arg.$bigint as string);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(arg)) out[key] = decodeArg(value, inputs);
  return out;
}

// Calls `target[op](...args)`; the op names come from the fixture, so they are looked up at run time.
function invoke(target: object, op: string, args: unknown[]): unknown {
  const fn: unknown = Reflect.get(target, op);
  if (typeof fn !== 'function') throw new Error(`torchbridge has no ${op}() here`);
  return Reflect.apply(fn, target, args) as unknown;
}

// A result as a list of tensors: a Tensor, an array of them, or max/min's {values, indices}.
function resultTensors(result: unknown, what: string): Tensor[] {
  if (result instanceof Tensor) return [result];
  if (Array.isArray(result) && result.every((r) => r instanceof Tensor)) return result as Tensor[];
  if (typeof result === 'object' && result !== null && 'values' in result && 'indices' in result) {
    const { values, indices } = result as { values: unknown; indices: unknown };
    if (values instanceof Tensor && indices instanceof Tensor) return [values, indices];
  }
  throw new Error(`${what}: the result is not a Tensor, an array of Tensors or {values, indices}`);
}

function run(c: OpCase, inputs: Tensor[]): unknown {
  let result: unknown;
  c.calls.forEach((call, k) => {
    const args = call.args.map((a) => decodeArg(a, inputs));
    if (call.kind === 'function') {
      assert.equal(k, 0, `${c.name}: only the first call may be a function`);
      result = invoke(torch, call.op, args);
    } else {
      const receiver = k === 0 ? inputs[0] : result;
      if (!(receiver instanceof Tensor)) throw new Error(`${c.name}: ${call.op}() needs a Tensor receiver`);
      if (call.kind === 'property') {
        result = Reflect.get(receiver, call.op) as unknown;
        return;
      }
      result = invoke(receiver, call.op, args);
      // In-place ops return their receiver.
      if (call.op.endsWith('_')) assert.equal(result, receiver, `${c.name}: ${call.op}() returns its receiver`);
    }
  });
  return result;
}

function checkCase(c: OpCase): void {
  torch.tidy(() => {
    const inputs = c.inputs.map(fromFixture);
    if (c.seed !== undefined) torch.manualSeed(c.seed);
    const result = run(c, inputs);
    const outputs = c.outputsAreInputs ? inputs : resultTensors(result, c.name);
    assert.equal(outputs.length, c.outputs.length, `${c.name}: number of outputs`);
    outputs.forEach((out, k) => {
      assertTensor(out, c.outputs[k], forwardTolerance(c.outputs[k].dtype), `${c.name}: output ${k}`);
    });
    if (c.grads === undefined || c.weights === undefined) return;

    // loss = sum_k (out_k * w_k).sum() over the floating outputs, as the generator computed it.
    const weights = c.weights;
    const terms = outputs.flatMap((out, k) => {
      const w = weights[k];
      return w === null ? [] : [out.mul(fromFixture(w)).sum()];
    });
    terms.reduce((a, b) => a.add(b)).backward();
    c.grads.forEach((expected, k) => {
      const grad = inputs[k].grad;
      const what = `${c.name}: gradient of input ${k}`;
      if (expected === null) {
        assert.equal(grad, undefined, `${what}: PyTorch leaves it undefined`);
        return;
      }
      assert.ok(grad !== undefined, `${what}: missing`);
      assertTensor(grad, expected, GRAD_TOLERANCE[expected.dtype === 'float64' ? 'float64' : 'float32'], what);
    });
  });
}

describe('ops match PyTorch (test/fixtures/ops.json)', () => {
  it('has fixtures', () => {
    assert.ok(cases.length > 0);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  });

  for (const c of cases) it(c.name, () => checkCase(c));

  it('releases every tensor it creates', () => {
    const before = torch.memory().liveTensors;
    for (const c of cases) {
      try {
        checkCase(c);
      } catch {
        // Reported by the case's own test; tidy() must release its tensors all the same.
      }
    }
    assert.equal(torch.memory().liveTensors, before);
  });
});

// The methods of a prototype (not its getters).
function methodNames(prototype: object): string[] {
  return Object.getOwnPropertyNames(prototype)
    .filter((name) => typeof Object.getOwnPropertyDescriptor(prototype, name)?.value === 'function');
}

// The exported functions of a module.
function exportedFunctions(module: object): string[] {
  return Object.keys(module).filter((name) => typeof Reflect.get(module, name) === 'function');
}

describe('op fixtures cover the API', () => {
  const methods = new Set(cases.flatMap((c) => c.calls.filter((k) => k.kind === 'method').map((k) => k.op)));
  const functions = new Set(cases.flatMap((c) => c.calls.filter((k) => k.kind === 'function').map((k) => k.op)));

  it('every Tensor method that computes a tensor', () => {
    // Memory, metadata, reading, autograd plumbing (tested elsewhere), and cuda() (no GPU in CI).
    const notOps = new Set(['constructor', 'dispose', 'size', 'isContiguous', 'item', 'data', 'toArray', 'toString',
      'requiresGrad_', 'clearGrad', 'backward', 'retainGrad', 'cuda']);
    const missing = methodNames(Tensor.prototype).filter((name) => !notOps.has(name) && !methods.has(name));
    assert.deepEqual(missing, [], 'Tensor methods without a fixture case');
  });

  it('every Tensor getter that computes a tensor', () => {
    const properties = new Set(cases.flatMap((c) => c.calls.filter((k) => k.kind === 'property').map((k) => k.op)));
    // Metadata and autograd getters return numbers, strings or the gradient (tested elsewhere).
    const notOps = new Set(['handle', 'isDisposed', 'shape', 'dtype', 'device', 'ndim', 'numel', 'strides', 'storageOffset',
      'requiresGrad', 'isLeaf', 'gradFn', 'grad']);
    const getters = Object.getOwnPropertyNames(Tensor.prototype).filter((name) => Object.getOwnPropertyDescriptor(Tensor.prototype, name)?.get !== undefined);
    assert.deepEqual(getters.filter((name) => !notOps.has(name) && !properties.has(name)), [], 'Tensor getters without a fixture case');
  });

  it('every function of functional.ts and creation.ts', () => {
    const notOps = new Set(['manualSeed']); // every random case calls it
    const exported = [...exportedFunctions(functional), ...exportedFunctions(creation)];
    const missing = exported.filter((name) => !notOps.has(name) && !functions.has(name));
    assert.deepEqual(missing, [], 'functions without a fixture case');
  });
});

// What fixtures cannot say: refusals (each names the argument and the fix), results whose order
// PyTorch leaves unspecified, and what differs between libtorch versions.
describe('statistics, sorting and logic ops: arguments', () => {
  const refuses = (run: () => unknown, type: typeof TypeError | typeof RangeError, pattern: RegExp): void => {
    assert.throws(() => torch.tidy(run), (e: Error) => e instanceof type && pattern.test(e.message), `${type.name} matching ${pattern.source}`);
  };

  it('dims out of range or listed twice are RangeErrors that give the valid range', () => {
    const x = torch.ones([2, 3]);
    try {
      refuses(() => x.std(2), RangeError, /^std: dim 2 is out of range for a 2-dim tensor; use a dim from -2 to 1$/);
      refuses(() => x.var([0, -3]), RangeError, /^var: dim -3 is out of range/);
      refuses(() => x.norm(2, [1, -1]), RangeError, /^norm: dim -1 appears more than once in the list of dims; list each dim once$/);
      refuses(() => x.sort(5), RangeError, /^sort: dim 5 is out of range for a 2-dim tensor; use a dim from -2 to 1$/);
      refuses(() => x.topk(1, -3), RangeError, /^topk: dim -3 is out of range/);
      refuses(() => x.cumsum(2), RangeError, /^cumsum: dim 2 is out of range/);
      refuses(() => x.any(3), RangeError, /^any: dim 3 is out of range/);
      refuses(() => x.all(-3), RangeError, /^all: dim -3 is out of range/);
      refuses(() => torch.tensor(1.5).std(1), RangeError, /for a 0-dim tensor; use a dim from -1 to 0/);
      refuses(() => x.cumsum(undefined as unknown as number), TypeError, /^cumsum: dim must be an integer, got undefined$/);
      refuses(() => x.sort(0.5), TypeError, /^sort: dim must be an integer, got the number 0.5$/);
    } finally {
      x.dispose();
    }
  });

  it('refuses bad options with what to give instead', () => {
    const x = torch.ones([2, 3]);
    try {
      refuses(() => x.std(0, { correction: 1, unbiased: true }), TypeError, /give either correction or unbiased, not both/);
      refuses(() => x.var(0, { correction: '1' as unknown as number }), TypeError, /var: correction must be a finite number/);
      refuses(() => x.std(0, { unbiased: 1 as unknown as boolean }), TypeError, /std: unbiased must be a boolean/);
      refuses(() => x.norm('nuc' as 'fro'), TypeError, /norm: p must be a number .* or 'fro', got the string "nuc" \(the nuclear norm is not supported\)/);
      refuses(() => x.norm(NaN), TypeError, /norm: p must be a number/);
      refuses(() => torch.ones([2, 2, 2]).norm('fro', [0, 1, 2]), RangeError, /p='fro' takes at most 2 dims, got 3; use p=2/);
      refuses(() => x.topk(4), RangeError, /^topk: k \(4\) is out of range: dim -1 has 3 elements; use a k from 0 to 3$/);
      refuses(() => x.topk(-1), RangeError, /topk: k \(-1\) is out of range/);
      refuses(() => x.topk(1.5), TypeError, /topk: k must be an integer, got the number 1.5/);
      refuses(() => x.topk(1, -1, { sorted: 'yes' as unknown as boolean }), TypeError, /topk: sorted must be a boolean/);
      refuses(() => x.sort(0, { descending: 1 as unknown as boolean }), TypeError, /sort: descending must be a boolean/);
      refuses(() => x.any(undefined, true), TypeError, /any: keepdim needs a dim .*pass a dim, e.g. any\(0, true\)/);
      refuses(() => x.sum(0, { keepdim: false }).std(0, 3 as unknown as null), TypeError, /std: the options must be an object/);
      // libtorch's own refusal of integer inputs (PyTorch's message)
      assert.throws(() => torch.tidy(() => torch.tensor([1, 2]).std()), /std and var only support floating point and complex dtypes/);
      assert.throws(() => torch.tidy(() => torch.tensor([1, 2]).norm()), /floating point/);
    } finally {
      x.dispose();
    }
  });

  it('topk(sorted: false) gives the same elements as sorted, each with its index', () => {
    torch.tidy(() => {
      torch.manualSeed(3);
      const x = torch.randn([4, 50]);
      const [values, indices] = x.topk(7, 1, { sorted: false });
      const sorted = x.topk(7, 1);
      const rows = values.toArray() as number[][];
      const sortedRows = sorted.values.toArray() as number[][];
      rows.forEach((row, r) => assert.deepEqual([...row].sort((a, b) => b - a), sortedRows[r], `row ${r}: the 7 largest`));
      assert.deepEqual(x.gather(1, indices).toArray(), values.toArray(), 'indices point at the values');
    });
  });

  it('sort and topk results destructure and have .values and .indices, as PyTorch\'s named tuples', () => {
    torch.tidy(() => {
      const result = torch.tensor([3, 1, 2]).sort();
      const [values, indices] = result;
      assert.equal(result.values, values);
      assert.equal(result.indices, indices);
      assert.deepEqual(Object.keys(result), ['0', '1'], 'a pair: values and indices are not enumerable');
      assert.equal(indices.dtype, 'int64');
      assert.deepEqual(torch.tensor([3, 1, 2]).topk(1).indices.toArray(), [0]);
    });
  });

  it('a fractional correction: refused with libtorch 1.x, computed with 2.x (PyTorch 2.x accepts it)', () => {
    torch.tidy(() => {
      const x = torch.tensor([1, 2, 4, 7], { dtype: 'float64' });
      if (torch.version().libtorch.startsWith('1.')) {
        refuses(() => x.var(0, { correction: 0.5 }), TypeError, /correction must be an integer with libtorch 1\.\d+.* \(libtorch 2\.x also takes fractional ones\)/);
      } else {
        // sum((x - 3.5)^2) / (4 - 0.5), by hand
        const expected = (6.25 + 2.25 + 0.25 + 12.25) / 3.5;
        assert.ok(Math.abs((x.var(0, { correction: 0.5 }).item() as number) - expected) < 1e-12);
      }
    });
  });
});
