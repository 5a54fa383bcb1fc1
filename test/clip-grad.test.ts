/**
 * nn.utils.clipGradNorm_ and clipGradValue_ against PyTorch: test/fixtures/nn/clip_grad.json is
 * written by scripts/gen_nn_fixtures.py (torch.nn.utils.clip_grad_norm_ / clip_grad_value_ of
 * PyTorch 1.13 on parameters with the given gradients). Each case checks the returned total
 * norm and every gradient afterwards, or the error and the gradients left alone.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as torch from '../lib';
import { nn, Tensor } from '../lib';
import { assertTensor, decodeValue, forwardTolerance, fromFixture, TensorFixture, tensorValues, settledLiveTensors } from './helpers';

interface NormCase {
  name: string;
  kind: 'norm';
  /** Each parameter's gradient; null: a parameter without one. */
  grads: (TensorFixture | null)[];
  maxNorm: number;
  /** A number, or "inf" / "-inf". */
  normType: number | string;
  errorIfNonfinite: boolean;
  totalNorm?: TensorFixture;
  error?: string;
  gradsAfter: (TensorFixture | null)[];
}

interface ValueCase {
  name: string;
  kind: 'value';
  grads: (TensorFixture | null)[];
  clipValue: number;
  gradsAfter: (TensorFixture | null)[];
}

const cases = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'nn', 'clip_grad.json'), 'utf8')) as (NormCase | ValueCase)[];

// Parameters (zeros) whose gradient is exactly each fixture gradient: d/dp sum(p * g) = g.
function parametersWithGrads(grads: (TensorFixture | null)[]): Tensor[] {
  return grads.map((g) => {
    if (g === null) return torch.zeros([], { requiresGrad: true });
    const p = torch.zeros(g.shape, { dtype: g.dtype, requiresGrad: true });
    torch.tidy(() => p.mul(fromFixture(g)).sum().backward());
    return p;
  });
}

function checkGrads(params: Tensor[], expected: (TensorFixture | null)[], what: string): void {
  params.forEach((p, k) => {
    const e = expected[k];
    if (e === null) {
      assert.equal(p.grad, undefined, `${what}: parameter ${k} has no gradient`);
      return;
    }
    assert.ok(p.grad !== undefined, `${what}: parameter ${k} lost its gradient`);
    assertTensor(p.grad, e, forwardTolerance(e.dtype), `${what}: gradient ${k}`);
  });
}

describe('nn.utils gradient clipping matches PyTorch (test/fixtures/nn/clip_grad.json)', () => {
  let liveBefore = 0;
  before(async () => {
    liveBefore = await settledLiveTensors();
  });

  for (const c of cases) {
    it(c.name, () => {
      const params = parametersWithGrads(c.grads);
      try {
        if (c.kind === 'value') {
          assert.equal(nn.utils.clipGradValue_(params, c.clipValue), undefined);
        } else if (c.error !== undefined) {
          const message = c.error;
          assert.throws(() => nn.utils.clipGradNorm_(params, c.maxNorm, { normType: decodeValue(c.normType), errorIfNonfinite: c.errorIfNonfinite }),
            (e: Error) => {
              assert.ok(e.message.startsWith(message), `PyTorch's message: ${e.message}`);
              assert.match(e.message, /errorIfNonfinite: false/, 'and the torchbridge option that disables it');
              return true;
            });
        } else {
          const total = nn.utils.clipGradNorm_(params, c.maxNorm, { normType: decodeValue(c.normType), errorIfNonfinite: c.errorIfNonfinite });
          try {
            assertTensor(total, c.totalNorm!, forwardTolerance(c.totalNorm!.dtype), `${c.name}: the total norm`);
          } finally {
            total.dispose();
          }
        }
        checkGrads(params, c.gradsAfter, c.name);
      } finally {
        torch.dispose(params);
      }
    });
  }

  it('takes a single Tensor, or any iterable of them (module.parameters())', () => {
    const p = parametersWithGrads([{ dtype: 'float32', shape: [2], values: [3, 4] }])[0];
    const total = nn.utils.clipGradNorm_(p, 1);
    assert.ok(Math.abs((total.item() as number) - 5) < 1e-6, 'the 2-norm of [3, 4]');
    assert.ok(tensorValues(p.grad!).every((v, k) => Math.abs(v - [3, 4][k] / (5 + 1e-6)) < 1e-6), 'scaled to norm 1');
    total.dispose();
    p.dispose();

    const linear = new nn.Linear(3, 2);
    torch.tidy(() => linear.forward(torch.ones([4, 3])).sum().backward());
    function* parameters(): Generator<Tensor> {
      yield* linear.parameters();
    }
    torch.tidy(() => {
      nn.utils.clipGradNorm_(parameters(), 0.5, { normType: Infinity });
      const largest = Math.max(...linear.parameters().flatMap((q) => tensorValues(q.grad!).map(Math.abs)));
      assert.ok(Math.abs(largest - 0.5) < 1e-5, `the largest |gradient| is now maxNorm: ${largest}`);
      nn.utils.clipGradValue_(linear.parameters(), 0.1);
      assert.ok(linear.parameters().every((q) => tensorValues(q.grad!).every((v) => Math.abs(v) <= 0.1 + 1e-7)));
    });
    linear.dispose();
  });

  it('with no gradients at all returns float32 0, as PyTorch\'s torch.tensor(0.)', () => {
    torch.tidy(() => {
      const total = nn.utils.clipGradNorm_([torch.ones([2], { requiresGrad: true })], 1);
      assert.equal(total.dtype, 'float32');
      assert.deepEqual(total.shape, []);
      assert.equal(total.item(), 0);
      assert.equal(nn.utils.clipGradNorm_([], 1).item(), 0);
    });
  });

  it('bad arguments are TypeErrors that name the argument', () => {
    const p = torch.zeros([2], { requiresGrad: true });
    try {
      assert.throws(() => nn.utils.clipGradNorm_(3 as unknown as Tensor[], 1), /clipGradNorm_: parameters must be a Tensor or an iterable of Tensors/);
      assert.throws(() => nn.utils.clipGradNorm_([p, 'x' as unknown as Tensor], 1), /clipGradNorm_: parameter 1 must be a Tensor, got the string "x"/);
      assert.throws(() => nn.utils.clipGradNorm_([p], '1' as unknown as number), /clipGradNorm_: maxNorm must be a number/);
      assert.throws(() => nn.utils.clipGradNorm_([p], 1, { normType: 'inf' as unknown as number }), /normType must be a number \(Infinity for the max norm\)/);
      assert.throws(() => nn.utils.clipGradNorm_([p], 1, { errorIfNonfinite: 1 as unknown as boolean }), /errorIfNonfinite must be a boolean/);
      assert.throws(() => nn.utils.clipGradNorm_([p], 1, 2 as unknown as null), /the options must be an object/);
      assert.throws(() => nn.utils.clipGradValue_([p], NaN), /clipGradValue_: clipValue must be a number/);
    } finally {
      p.dispose();
    }
  });

  it('releases every tensor it creates', async () => {
    assert.equal(await settledLiveTensors(), liveBefore);
  });
});
