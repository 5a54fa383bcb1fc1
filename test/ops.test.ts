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
  /** "method": a Tensor method (of inputs[0] first, then of the previous result); "function": a torchbridge function. */
  kind: 'method' | 'function';
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

  it('every function of functional.ts and creation.ts', () => {
    const notOps = new Set(['manualSeed']); // every random case calls it
    const exported = [...exportedFunctions(functional), ...exportedFunctions(creation)];
    const missing = exported.filter((name) => !notOps.has(name) && !functions.has(name));
    assert.deepEqual(missing, [], 'functions without a fixture case');
  });
});
