// What the Trainer accepts is checked: a bad model, loss, label or input is an error that names
// the argument and the fix, never a silently wrong count or libtorch's bare message.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { Trainer } from '../lib/trainer/trainer';

interface Linear {
  net: torch.nn.Sequential;
  optimizer: torch.optim.SGD;
  trainer: Trainer;
  dispose(): void;
}

function linear(outputs: number, loss?: torch.nn.CrossEntropyLoss): Linear {
  torch.manualSeed(0);
  const net = new torch.nn.Sequential(new torch.nn.Linear(4, outputs));
  const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
  const trainer = new Trainer(net, optimizer, ['cpu', 'cpu'], loss);
  return {
    net, optimizer, trainer,
    dispose() {
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
    },
  };
}

describe('Trainer: checked inputs', function () {
  this.timeout(60_000);
  const x = torch.keep(torch.randn([6, 4]));
  const y = torch.keep(torch.tensor([0, 1, 2, 0, 1, 2]));
  after(() => torch.dispose([x, y]));

  it('a model with one output is refused (d2l.accuracy would broadcast [N, 1] against [N])', async () => {
    const m = linear(1);
    try {
      const zeros = torch.zeros([6], { dtype: 'int64' });
      await assert.rejects(m.trainer.step([x], zeros), /returns 1 logit per row; CrossEntropyLoss needs one per class, at least 2/);
      await assert.rejects(m.trainer.evaluate([x], zeros), /returns 1 logit per row/);
      zeros.dispose();
    } finally {
      m.dispose();
    }
  });

  it('logits that are not [rows, classes] are refused', async () => {
    const m = linear(3);
    const x3 = torch.randn([6, 2, 4]);
    try {
      await assert.rejects(m.trainer.step([x3], y), /returned shape \[3, 2, 3\] for 3 rows; the Trainer needs logits of shape \[rows, classes\]/);
    } finally {
      x3.dispose();
      m.dispose();
    }
  });

  it('labels must be int64 class indices [batch], in range', async () => {
    const m = linear(3);
    const float = torch.tensor([0, 1, 2, 0, 1, 2], { dtype: 'float32' });
    const column = torch.tensor([[0], [1], [2], [0], [1], [2]]);
    const probabilities = torch.full([6, 3], 1 / 3);
    const outOfRange = torch.tensor([0, 1, 3, 0, 1, 2]);
    const negative = torch.tensor([0, -1, 2, 0, 1, 2]);
    try {
      await assert.rejects(m.trainer.step([x], float), (e: Error) => e instanceof TypeError &&
        /labels must be int64 class indices of shape \[batch\] \(or class probabilities \[batch, classes\]\) for CrossEntropyLoss, got float32 \[6\]; convert them with labels.to\('int64'\)/.test(e.message));
      await assert.rejects(m.trainer.step([x], column), /labels must be class indices of shape \[rows\] for scores \[3, 3\], got \[3, 1\]; drop the trailing dimension with labels.reshape\(\[-1\]\)/);
      await assert.rejects(m.trainer.step([x], probabilities.to('float64')), /the labels are float64 but the model returns float32; convert the labels with labels.to\('float32'\)/);
      await assert.rejects(m.trainer.step([x], outOfRange), /labels holds class 3 but the model returns 3 logits per row \(classes 0 to 2\)/);
      await assert.rejects(m.trainer.step([x], negative), /labels holds class -1/);
      await assert.rejects(m.trainer.step([x], 'labels' as unknown as torch.Tensor), /labels must be a Tensor/);
    } finally {
      torch.dispose([float, column, probabilities, outOfRange, negative]);
      m.dispose();
    }
  });

  it('labels equal to ignoreIndex are accepted and ignored, as PyTorch\'s cross_entropy', async () => {
    const m = linear(3, new torch.nn.CrossEntropyLoss({ reduction: 'none', ignoreIndex: -1 }));
    const labels = torch.tensor([0, -1, 2, -1, 1, 2]);
    try {
      const expected = torch.tidy(() => torch.nn.crossEntropy(m.net.forward(x), labels, { reduction: 'none', ignoreIndex: -1 }).sum().item() as number);
      const { lossSum, count } = await m.trainer.step([x], labels);
      assert.ok(Math.abs(lossSum - expected) <= 1e-5 * expected, `${lossSum} vs ${expected}`);
      assert.equal(count, 6);
    } finally {
      labels.dispose();
      m.dispose();
    }
  });

  it('counts correct predictions as d2l.accuracy on a well-formed batch', async () => {
    const m = linear(3);
    try {
      const expected = torch.tidy(() => m.net.forward(x).argmax(1).eq(y).sum().item() as number);
      const { correct, count } = await m.trainer.evaluate([x], y);
      assert.equal(correct, expected);
      assert.equal(count, 6);
    } finally {
      m.dispose();
    }
  });

  it('inputs must be 1 to 4 tensors with the batch along dim 0', async () => {
    const m = linear(3);
    const short = torch.randn([5, 4]);
    try {
      await assert.rejects(m.trainer.step([short], y), /inputs\[0\] has shape \[5, 4\] but labels has 6 rows/);
      await assert.rejects(m.trainer.step([], y), /inputs must be an array of 1 to 4 Tensors/);
      await assert.rejects(m.trainer.step([x, x, x, x, x], y), /1 to 4 Tensors/);
      await assert.rejects(m.trainer.step([x, x], y), /the model's forward failed on the batch's 2 input\(s\)/);
    } finally {
      short.dispose();
      m.dispose();
    }
  });

  it('the loss must be one of the losses the Trainer computes; net and optimizer are checked', () => {
    const net = new torch.nn.Sequential(new torch.nn.Linear(4, 3));
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    try {
      const lookalike = { options: { reduction: 'none' }, forward: () => undefined } as unknown as torch.nn.CrossEntropyLoss;
      assert.throws(() => new Trainer(net, optimizer, ['cpu'], lookalike),
        (e: Error) => e instanceof TypeError && /loss must be one of nn.CrossEntropyLoss, nn.NLLLoss, nn.MSELoss, .*nn.BCEWithLogitsLoss, got an object/.test(e.message));
      const bad = new torch.nn.CrossEntropyLoss({ reduction: 'average' as torch.nn.Reduction });
      assert.throws(() => new Trainer(net, optimizer, ['cpu'], bad), /reduction must be 'none', 'mean' or 'sum', got the string "average"/);
      assert.throws(() => new Trainer({} as torch.nn.Module, optimizer, ['cpu']), /net must be an nn.Module/);
      assert.throws(() => new Trainer(net, {} as torch.optim.Optimizer<object>, ['cpu']), /optimizer must be an optim.Optimizer/);
    } finally {
      optimizer.dispose();
      net.dispose();
    }
  });
});
