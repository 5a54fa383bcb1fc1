// The native data-parallel trainer: replicas agree with a single device, steps run off the JS
// thread, overlapping calls queue, the module is locked while in use, and loops leak nothing.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';
import { settledLiveTensors } from './helpers';

const config = { vocabSize: 50, numHiddens: 16, ffnNumHiddens: 32, numHeads: 4, numBlks: 2, dropout: 0, maxLen: 24 };

interface Setup {
  net: BERTClassifier;
  trainer: Trainer;
  batch: torch.Tensor[];
  labels: torch.Tensor;
  dispose(): void;
}

// The same model and batch for every device list: the data is drawn before the trainer clones
// replicas (cloning re-initialises them and so consumes random numbers).
function setup(devices: torch.Device[], makeOptimizer: (params: torch.Tensor[]) => torch.optim.Optimizer<object>): Setup {
  torch.manualSeed(0);
  const bert = new BERTModel(config);
  const net = new BERTClassifier(bert);
  const batch = [
    torch.randint(0, config.vocabSize, [8, 10]),
    torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1, 1]]).expand([8, 10]).contiguous(),
    torch.tensor([10, 5, 7, 3, 10, 9, 2, 4]),
  ];
  const labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]);
  const optimizer = makeOptimizer(net.parameters());
  const trainer = new Trainer(net, optimizer, devices);
  return {
    net, trainer, batch, labels,
    dispose() {
      torch.dispose([batch, labels]);
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      bert.dispose();
    },
  };
}

async function trainedParameters(devices: torch.Device[], makeOptimizer: (params: torch.Tensor[]) => torch.optim.Optimizer<object>, steps: number) {
  const s = setup(devices, makeOptimizer);
  const losses: number[] = [];
  for (let k = 0; k < steps; ++k) losses.push((await s.trainer.step(s.batch, s.labels)).lossSum);
  const params = new Map(s.net.namedParameters().map(([name, p]): [string, torch.Tensor] => [name, torch.keep(p.clone())]));
  s.dispose();
  return { params, losses };
}

function maxDiff(a: Map<string, torch.Tensor>, b: Map<string, torch.Tensor>, skip: (name: string) => boolean = () => false): number {
  let worst = 0;
  torch.tidy(() => {
    for (const [name, p] of a) {
      if (!skip(name)) worst = Math.max(worst, p.sub(b.get(name)!).abs().max().item() as number);
    }
  });
  return worst;
}

describe('trainer', function () {
  this.timeout(120_000);

  it('[cpu, cpu] gives the parameters of [cpu] after several SGD-with-momentum steps (within 1e-5)', async () => {
    const sgd = (params: torch.Tensor[]) => new torch.optim.SGD(params, { lr: 0.1, momentum: 0.9 });
    const one = await trainedParameters(['cpu'], sgd, 6);
    const two = await trainedParameters(['cpu', 'cpu'], sgd, 6);
    assert.ok(maxDiff(one.params, two.params) < 1e-5);
    one.losses.forEach((l, k) => assert.ok(Math.abs(l - two.losses[k]) < 1e-4 * Math.abs(l), `step ${k}: ${l} vs ${two.losses[k]}`));
    torch.dispose([[...one.params.values()], [...two.params.values()]]);
  });

  it('[cpu, cpu] gives the parameters of [cpu] after several Adam steps (within 1e-5)', async () => {
    const adam = (params: torch.Tensor[]) => new torch.optim.Adam(params, { lr: 1e-3 });
    const one = await trainedParameters(['cpu'], adam, 6);
    const two = await trainedParameters(['cpu', 'cpu'], adam, 6);
    // The gradient of an attention key bias is zero in exact arithmetic (softmax ignores a shift
    // shared by all of a query's scores), so it holds rounding noise that differs with the
    // summation order, and Adam normalises noise into steps of about lr. PyTorch's DataParallel
    // behaves the same. Every other parameter must agree.
    const isKeyBias = (name: string) => /attention\.W_k\.bias$/.test(name);
    assert.ok(maxDiff(one.params, two.params, isKeyBias) < 1e-5);
    torch.dispose([[...one.params.values()], [...two.params.values()]]);
  });

  it('keeps the JS event loop free while a step runs', async () => {
    const s = setup(['cpu'], (p) => new torch.optim.Adam(p));
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 1);
    const started = Date.now();
    for (let k = 0; k < 5; ++k) await s.trainer.step(s.batch, s.labels);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    // a blocked loop would fire no timer at all until the steps finish
    assert.ok(ticks >= 3, `only ${ticks} timer callbacks in ${elapsed} ms`);
    s.dispose();
  });

  it('queues a step called while another runs, and locks the module meanwhile', async () => {
    const a = setup(['cpu'], (p) => new torch.optim.Adam(p));
    const first = a.trainer.step(a.batch, a.labels);
    const second = a.trainer.step(a.batch, a.labels);  // queued behind the first
    assert.throws(() => torch.tidy(() => a.net.forward(a.batch[0], a.batch[1], a.batch[2])), (e: Error & { code?: string }) =>
      e.code === 'ERR_TORCHBRIDGE_BUSY' && /busy: a Trainer step or evaluation that uses it is running/.test(e.message));
    const results = await Promise.all([first, second]);
    const b = setup(['cpu'], (p) => new torch.optim.Adam(p));
    const sequential = [await b.trainer.step(b.batch, b.labels), await b.trainer.step(b.batch, b.labels)];
    assert.deepEqual(results, sequential);
    a.dispose();
    b.dispose();
  });

  it('accepts batch tensors disposed right after the call', async () => {
    const s = setup(['cpu'], (p) => new torch.optim.Adam(p));
    const copies = s.batch.map((t) => t.clone());
    const labels = s.labels.clone();
    const pending = s.trainer.step(copies, labels);
    torch.dispose([copies, labels]);
    const result = await pending;
    assert.equal(result.count, 8);
    s.dispose();
  });

  it('evaluates in eval mode without gradients: correct predictions and the loss', async () => {
    const s = setup(['cpu', 'cpu'], (p) => new torch.optim.Adam(p));
    const result = await s.trainer.evaluate(s.batch, s.labels);
    const [expected, lossSum] = torch.tidy(() => {
      s.net.eval();
      const logits = torch.noGrad(() => s.net.forward(s.batch[0], s.batch[1], s.batch[2]));
      const l = torch.nn.crossEntropy(logits, s.labels, { reduction: 'none' }).sum().item() as number;
      return [logits.argmax(1).eq(s.labels).sum().item(), l];
    });
    assert.deepEqual({ correct: result.correct, count: result.count }, { correct: expected, count: 8 });
    assert.ok(Math.abs(result.lossSum - lossSum) <= 1e-5 * lossSum, `${result.lossSum} vs ${lossSum}`);
    assert.equal(result.loss, result.lossSum);  // reduction 'none'
    s.dispose();
  });

  it('200 training steps leave the live tensor count flat', async () => {
    const s = setup(['cpu', 'cpu'], (p) => new torch.optim.Adam(p));
    await s.trainer.step(s.batch, s.labels);  // optimizer state is created on the first step
    const before = await settledLiveTensors();
    for (let k = 0; k < 200; ++k) await s.trainer.step(s.batch, s.labels);
    assert.equal(torch.memory().liveTensors, before);
    s.dispose();
  });

  it('rejects an optimizer that does not hold the model parameters, and an accuracy without class indices', () => {
    torch.tidy(() => {
      const bert = new BERTModel(config);
      const net = new BERTClassifier(bert);
      const other = new torch.optim.Adam([torch.zeros([1], { requiresGrad: true })]);
      assert.throws(() => new Trainer(net, other, ['cpu']), /optimizer does not hold every trainable parameter/);
      const opt = new torch.optim.Adam(net.parameters());
      assert.throws(() => new Trainer(net, opt, ['cpu'], new torch.nn.MSELoss({ reduction: 'mean' }), { accuracy: true }),
        /options.accuracy counts argmax predictions equal to class-index labels, which MSELoss does not have/);
      assert.throws(() => new Trainer(net, opt, ['cuda:0']), /CUDA is not available|cuda:0/);
      other.dispose();
      opt.dispose();
      net.dispose();
      bert.dispose();
    });
  });
});
