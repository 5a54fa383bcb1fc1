// Replicas never go stale: whatever changes the model between two steps (loadStateDict, an
// in-place op on a parameter, another optimizer's step, freezing a layer) reaches every replica,
// so [cpu, cpu] keeps training exactly as [cpu] does. And a failed construction leaves the model
// where and as it was.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';

const config = { vocabSize: 50, numHiddens: 16, ffnNumHiddens: 32, numHeads: 4, numBlks: 2, dropout: 0, maxLen: 24 };

type Change = (net: BERTClassifier, trainer: Trainer) => void;

// Two steps with `change` between them; the per-step loss sums and the final parameters.
async function twoSteps(devices: torch.Device[], change: Change): Promise<{ losses: number[]; params: torch.Tensor[] }> {
  torch.manualSeed(0);
  const bert = new BERTModel(config);
  const net = new BERTClassifier(bert);
  const inputs = [torch.randint(0, config.vocabSize, [8, 12]), torch.zeros([8, 12], { dtype: 'int64' }), torch.tensor([12, 5, 7, 3, 12, 9, 2, 4])];
  const labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]);
  const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
  const trainer = new Trainer(net, optimizer, devices);
  try {
    const losses = [(await trainer.step(inputs, labels)).lossSum];
    change(net, trainer);
    losses.push((await trainer.step(inputs, labels)).lossSum);
    losses.push((await trainer.step(inputs, labels)).lossSum);
    return { losses, params: net.parameters().map((p) => torch.keep(p.detach().clone())) };
  } finally {
    torch.dispose([inputs, labels]);
    trainer.dispose();
    optimizer.dispose();
    net.dispose();
    bert.dispose();
  }
}

const changes: [string, Change][] = [
  ['loadStateDict of other weights', (net) => {
    torch.manualSeed(7);
    const bert = new BERTModel(config);
    const other = new BERTClassifier(bert);
    torch.tidy(() => other.forward(torch.zeros([1, 2], { dtype: 'int64' }), torch.zeros([1, 2], { dtype: 'int64' }), torch.tensor([2])));
    const state = other.stateDict();
    net.loadStateDict(state);
    torch.dispose([...state.values()]);
    other.dispose();
    bert.dispose();
  }],
  ['an in-place op on a parameter', (net) => {
    torch.noGrad(() => net.parameters()[0].mul_(2));
  }],
  ["another optimizer's step (libtorch's SGD writes through .data())", (net) => {
    const other = new torch.optim.SGD(net.parameters(), { lr: 0.5 });
    other.step();  // the trainer's step left the reduced gradients on the parameters
    other.dispose();
  }],
  ['freezing the output layer', (net) => {
    for (const [name, p] of net.namedParameters()) if (name.startsWith('output.')) p.requiresGrad_(false);
  }],
];

describe('Trainer: replicas see the current model at every step', function () {
  this.timeout(120_000);

  for (const [name, change] of changes) {
    it(`${name} between steps reaches every replica`, async () => {
      const one = await twoSteps(['cpu'], change);
      const two = await twoSteps(['cpu', 'cpu'], change);
      one.losses.forEach((l, k) => assert.ok(Math.abs(l - two.losses[k]) <= 1e-5 * Math.abs(l), `step ${k}: [cpu] ${l}, [cpu, cpu] ${two.losses[k]}`));
      const worst = torch.tidy(() => Math.max(...one.params.map((p, k) => p.sub(two.params[k]).abs().max().item() as number)));
      assert.ok(worst <= 1e-5, `parameters differ by ${worst}`);
      torch.dispose([one.params, two.params]);
    });
  }

  it('the change itself takes effect: a step after it differs from a step without it', async () => {
    const unchanged = await twoSteps(['cpu', 'cpu'], () => undefined);
    const changed = await twoSteps(['cpu', 'cpu'], changes[1][1]);
    assert.notEqual(changed.losses[1], unchanged.losses[1]);
    torch.dispose([unchanged.params, changed.params]);
  });

  it('refuses a step after a parameter was registered, or the model was moved or converted', async () => {
    torch.manualSeed(0);
    const net = new torch.nn.Sequential(new torch.nn.Linear(4, 3));
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const trainer = new Trainer(net, optimizer, ['cpu']);
    const x = torch.randn([6, 4]);
    const y = torch.tensor([0, 1, 2, 0, 1, 2]);
    try {
      await trainer.step([x], y);
      net.to('float64');
      await assert.rejects(trainer.step([x], y), /the model's parameters were converted to float64 after the Trainer was created/);
      net.to('float32');
      await trainer.step([x], y);
      net.registerParameter('extra', torch.zeros([2]));
      await assert.rejects(trainer.step([x], y), /parameters or buffers changed since the Trainer was created/);
    } finally {
      torch.dispose([x, y]);
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
    }
  });
});

describe('Trainer: construction leaves nothing half-done', function () {
  it('an optimizer that misses parameters is refused before the model moves (cuda:0)', function () {
    if (!torch.cuda.isAvailable()) this.skip();
    const net = new torch.nn.Linear(4, 3);
    const partial = new torch.optim.SGD([net.parameters()[0]], { lr: 0.1 });
    try {
      assert.throws(() => new Trainer(net, partial, ['cuda:0']), /does not hold every trainable parameter/);
      assert.deepEqual(net.parameters().map((p) => p.device), ['cpu', 'cpu']);
    } finally {
      partial.dispose();
      net.dispose();
    }
  });

  it('a refused construction leaves the model usable and disposable', () => {
    const net = new torch.nn.Linear(4, 3);
    const partial = new torch.optim.SGD([net.parameters()[0]], { lr: 0.1 });
    assert.throws(() => new Trainer(net, partial, ['cpu']), /does not hold every trainable parameter/);
    partial.dispose();
    torch.tidy(() => assert.deepEqual(net.forward(torch.zeros([2, 4])).shape, [2, 3]));
    net.dispose();  // no Trainer holds it
    assert.ok(net.isDisposed);
  });
});
