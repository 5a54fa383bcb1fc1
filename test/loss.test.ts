/**
 * crossEntropy against PyTorch's F.cross_entropy: test/fixtures/nn/loss.json is written by
 * scripts/gen_nn_fixtures.py (run with /usr/bin/python3 and Debian's python3-torch). Every
 * reduction, with ignoreIndex, labelSmoothing, class weights, class-probability targets,
 * [N, C, d] logits and unbatched input: the loss and the gradients of (loss * w).sum() with
 * respect to the logits and (probability targets) the target.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as torch from '../lib';
import { nn } from '../lib';
import { assertTensor, forwardTolerance, fromFixture, TensorFixture, settledLiveTensors } from './helpers';

interface LossCase {
  name: string;
  logits: TensorFixture;
  target: TensorFixture;
  options: { reduction?: nn.Reduction; ignoreIndex?: number; labelSmoothing?: number; weight?: TensorFixture };
  output: TensorFixture;
  w: TensorFixture;
  logitsGrad: TensorFixture;
  targetGrad: TensorFixture | null;
}

const cases = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'nn', 'loss.json'), 'utf8')) as LossCase[];

function isFloat(fixture: TensorFixture): boolean {
  return fixture.dtype === 'float32' || fixture.dtype === 'float64';
}

type Loss = (logits: torch.Tensor, target: torch.Tensor, options: nn.CrossEntropyOptions) => torch.Tensor;

function checkCase(c: LossCase, loss: Loss): void {
  torch.tidy(() => {
    const logits = fromFixture(c.logits).requiresGrad_(true);
    const target = fromFixture(c.target);
    if (isFloat(c.target)) target.requiresGrad_(true);
    const { weight, ...rest } = c.options;
    const options: nn.CrossEntropyOptions = weight === undefined ? rest : { ...rest, weight: fromFixture(weight) };
    const tolerance = forwardTolerance(c.logits.dtype);
    const out = loss(logits, target, options);
    assertTensor(out, c.output, tolerance, `${c.name}: loss`);
    out.mul(fromFixture(c.w)).sum().backward();
    assert.ok(logits.grad !== undefined, `${c.name}: gradient of the logits missing`);
    assertTensor(logits.grad, c.logitsGrad, tolerance, `${c.name}: gradient of the logits`);
    if (c.targetGrad !== null) {
      assert.ok(target.grad !== undefined, `${c.name}: gradient of the target missing`);
      assertTensor(target.grad, c.targetGrad, tolerance, `${c.name}: gradient of the target`);
    }
  });
}


describe('crossEntropy matches PyTorch (test/fixtures/nn/loss.json)', () => {
  let liveBefore = 0;
  before(async () => {
    liveBefore = await settledLiveTensors();
  });

  it('has fixtures', () => {
    assert.ok(cases.length > 0);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
  });

  describe('nn.crossEntropy', () => {
    for (const c of cases) it(c.name, () => checkCase(c, nn.crossEntropy));
  });

  describe('nn.CrossEntropyLoss', () => {
    for (const c of cases.filter((k) => k.name.startsWith('none/') || k.name === 'mean/weight_ignore_smoothing/float64')) {
      it(c.name, () => checkCase(c, (logits, target, options) => new nn.CrossEntropyLoss(options).forward(logits, target)));
    }

    it('reduction "none" gives one loss per example: shape [batch] (and [batch, d] for [batch, classes, d] logits)', () => {
      torch.tidy(() => {
        const loss = new nn.CrossEntropyLoss({ reduction: 'none' });
        assert.deepEqual(loss.forward(torch.randn([7, 4]), torch.tensor([0, 1, 2, 3, 0, 1, 2], { dtype: 'int64' })).shape, [7]);
        assert.deepEqual(loss.forward(torch.randn([2, 4, 5]), torch.zeros([2, 5], { dtype: 'int64' })).shape, [2, 5]);
        assert.deepEqual(loss.forward(torch.randn([7, 4]), torch.randn([7, 4]).softmax(1)).shape, [7]);
      });
    });

    it('defaults to the mean and keeps its options', () => {
      torch.tidy(() => {
        const logits = torch.tensor([[0, 0], [0, 0]], { dtype: 'float32' });
        const target = torch.tensor([0, 1], { dtype: 'int64' });
        // Uniform logits over 2 classes: every example's loss is log 2.
        const mean = new nn.CrossEntropyLoss().forward(logits, target);
        assert.deepEqual(mean.shape, []);
        assert.ok(Math.abs((mean.item() as number) - Math.LN2) < 1e-6);
        const options: nn.CrossEntropyOptions = { reduction: 'sum', labelSmoothing: 0.1 };
        const loss = new nn.CrossEntropyLoss(options);
        options.reduction = 'none';
        assert.deepEqual(loss.options, { reduction: 'sum', labelSmoothing: 0.1 }, 'a copy of the options');
        assert.ok(Math.abs((loss.forward(logits, target).item() as number) - 2 * Math.LN2) < 1e-6);
      });
    });
  });

  describe('argument errors', () => {
    it('rejects labelSmoothing outside [0, 1], an unknown reduction and mismatched shapes', () => {
      torch.tidy(() => {
        const logits = torch.randn([3, 4]);
        const target = torch.tensor([0, 1, 2], { dtype: 'int64' });
        assert.throws(() => nn.crossEntropy(logits, target, { labelSmoothing: 1.5 }), RangeError);
        assert.throws(() => nn.crossEntropy(logits, target, { labelSmoothing: -0.1 }), RangeError);
        assert.throws(() => nn.crossEntropy(logits, target, { reduction: 'avg' as nn.Reduction }), /reduction/);
        assert.throws(() => nn.crossEntropy(logits, torch.tensor([0, 1], { dtype: 'int64' })), Error);
        assert.throws(() => nn.crossEntropy(logits, target, { weight: torch.ones([3]) }), Error);
      });
    });
  });

  describe('memory', () => {
    it('releases every tensor the tests above created', () => {
      assert.equal(torch.memory().liveTensors, liveBefore);
    });
  });
});
