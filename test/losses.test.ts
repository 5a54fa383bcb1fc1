/**
 * The losses beside cross-entropy against PyTorch's functional losses: test/fixtures/nn/losses.json
 * is written by scripts/gen_loss_fixtures.py (run with /usr/bin/python3 and Debian's
 * python3-torch). Every reduction and option: the loss, and the gradients of (loss * w).sum()
 * with respect to the input and (regression losses) the target; PyTorch's warning for a target of
 * another size (both broadcast) and its error where it refuses one. Then the module classes, and
 * errors for bad arguments.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as torch from '../lib';
import { nn } from '../lib';
import { assertTensor, forwardTolerance, fromFixture, TensorFixture, settledLiveTensors } from './helpers';

type Options = Record<string, number | string | TensorFixture>;

interface LossCase {
  name: string;
  fn: keyof typeof functions;
  input: TensorFixture;
  target: TensorFixture;
  options: Options;
  error?: string;
  warns?: boolean;
  output?: TensorFixture;
  w?: TensorFixture;
  inputGrad?: TensorFixture;
  targetGrad?: TensorFixture | null;
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'nn', 'losses.json'), 'utf8')) as { torch: string; cases: LossCase[] };

type Loss = (input: torch.Tensor, target: torch.Tensor, options: never) => torch.Tensor;

const functions = {
  mseLoss: nn.mseLoss,
  l1Loss: nn.l1Loss,
  smoothL1Loss: nn.smoothL1Loss,
  huberLoss: nn.huberLoss,
  binaryCrossEntropy: nn.binaryCrossEntropy,
  binaryCrossEntropyWithLogits: nn.binaryCrossEntropyWithLogits,
  nllLoss: nn.nllLoss,
};

const modules: Record<keyof typeof functions, new (options: never) => { forward(input: torch.Tensor, target: torch.Tensor): torch.Tensor }> = {
  mseLoss: nn.MSELoss,
  l1Loss: nn.L1Loss,
  smoothL1Loss: nn.SmoothL1Loss,
  huberLoss: nn.HuberLoss,
  binaryCrossEntropy: nn.BCELoss,
  binaryCrossEntropyWithLogits: nn.BCEWithLogitsLoss,
  nllLoss: nn.NLLLoss,
};

function optionsOf(c: LossCase): Record<string, unknown> {
  return Object.fromEntries(Object.entries(c.options).map(([k, v]) => [k, typeof v === 'object' ? fromFixture(v) : v]));
}

function isFloat(f: TensorFixture): boolean {
  return f.dtype === 'float32' || f.dtype === 'float64';
}

// Runs `fn` and returns the warnings it emitted (process.emitWarning is delivered on the next tick).
async function warningsOf(fn: () => void): Promise<string[]> {
  const seen: string[] = [];
  const listener = (w: Error) => seen.push(w.message);
  process.on('warning', listener);
  try {
    fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

function checkCase(c: LossCase, loss: (input: torch.Tensor, target: torch.Tensor, options: Record<string, unknown>) => torch.Tensor): void {
  torch.tidy(() => {
    const input = fromFixture(c.input).requiresGrad_(true);
    const target = fromFixture(c.target);
    if (c.targetGrad) target.requiresGrad_(true);
    const options = optionsOf(c);
    if (c.error !== undefined) {
      assert.throws(() => loss(input, target, options), (err: Error) => err.message.includes(c.error!), c.name);
      return;
    }
    const tolerance = forwardTolerance(c.input.dtype);
    const out = loss(input, target, options);
    assertTensor(out, c.output!, tolerance, `${c.name}: loss`);
    out.mul(fromFixture(c.w!)).sum().backward();
    assert.ok(input.grad !== undefined, `${c.name}: gradient of the input missing`);
    assertTensor(input.grad, c.inputGrad!, tolerance, `${c.name}: gradient of the input`);
    if (c.targetGrad) {
      assert.ok(target.grad !== undefined, `${c.name}: gradient of the target missing`);
      assertTensor(target.grad, c.targetGrad, tolerance, `${c.name}: gradient of the target`);
    }
  });
}

describe(`losses match PyTorch ${fixture.torch} (test/fixtures/nn/losses.json)`, () => {
  let liveBefore = 0;
  before(async () => {
    liveBefore = await settledLiveTensors();
  });

  for (const c of fixture.cases) {
    it(`${c.name} (function)`, async () => {
      const warnings = await warningsOf(() => checkCase(c, functions[c.fn] as unknown as Parameters<typeof checkCase>[1]));
      const sizeWarnings = warnings.filter((m) => m.includes('that is different to the input size'));
      assert.equal(sizeWarnings.length, c.warns ? 1 : 0, `${c.name}: PyTorch ${c.warns ? 'warns' : 'does not warn'} about the target's size; got ${JSON.stringify(warnings)}`);
    });
  }

  for (const c of fixture.cases.filter((x) => x.error === undefined && !x.warns)) {
    it(`${c.name} (module)`, () => {
      checkCase(c, (input, target, options) => new modules[c.fn](options as never).forward(input, target));
    });
  }

  it('frees every tensor the cases made', async () => {
    assert.equal(await settledLiveTensors(), liveBefore);
  });
});

// Each test's tensors are released when it ends (none is left to the garbage collector, which
// later files count on).
function itTidy(title: string, body: () => void): void {
  it(title, () => torch.tidy(body));
}

describe('losses: bad arguments', () => {
  const x = () => torch.randn([3, 2]);
  itTidy('names a non-tensor input or target', () => {
    assert.throws(() => nn.mseLoss([1, 2] as never, x()), /mseLoss: input must be a Tensor, got/);
    assert.throws(() => nn.nllLoss(x(), 3 as never), /nllLoss: target must be a Tensor, got/);
  });
  itTidy('refuses an unknown reduction', () => {
    assert.throws(() => nn.l1Loss(x(), x(), { reduction: 'avg' as never }), /l1Loss: reduction must be 'none', 'mean' or 'sum', got 'avg'/);
    assert.throws(() => nn.binaryCrossEntropyWithLogits(x(), x(), { reduction: 'all' as never }), /reduction must be 'none', 'mean' or 'sum'/);
  });
  itTidy('refuses a negative beta and a non-positive delta', () => {
    assert.throws(() => nn.smoothL1Loss(x(), x(), { beta: -1 }), /smoothL1Loss: beta must be a non-negative number, got the number -1/);
    assert.throws(() => nn.huberLoss(x(), x(), { delta: 0 }), /huberLoss: delta must be a positive number, got the number 0/);
  });
  itTidy('refuses options that are not an object', () => {
    assert.throws(() => nn.mseLoss(x(), x(), 'sum' as never), TypeError);
  });
  itTidy('names an out-of-range class index (libtorch checks it)', () => {
    const logp = torch.randn([2, 3]).logSoftmax(1);
    assert.throws(() => nn.nllLoss(logp, torch.tensor([0, 5], { dtype: 'int64' })), /out of bounds|Target 5/);
  });
  itTidy('BCE refuses probabilities outside [0, 1] (libtorch checks them)', () => {
    assert.throws(() => nn.binaryCrossEntropy(torch.tensor([1.5, 0.2]), torch.tensor([1, 0], { dtype: 'float32' })), /between 0 and 1/);
  });
  itTidy('names an integer target of a regression or binary loss, and the fix', () => {
    const labels = torch.tensor([1, 0], { dtype: 'int64' });
    assert.throws(() => nn.binaryCrossEntropyWithLogits(torch.tensor([0.5, -1]), labels),
      /binaryCrossEntropyWithLogits: target must be floating point like the input \(float32\), got int64; convert it with target.to\('float32'\)/);
    assert.throws(() => nn.mseLoss(torch.tensor([0.5, -1]), labels), /mseLoss: target must be floating point/);
  });
});
