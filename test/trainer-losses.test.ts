// The Trainer trains with any of PyTorch's losses, reduced as the loss's reduction says: its
// steps on two replicas give the parameters of a JS loop that runs the same loss on the whole
// batch on one device (loss(net(X), y), summed for 'none', then backward and the optimizer step).
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { Trainer, TrainerLoss } from '../lib/trainer/trainer';
import { assertClose, tensorValues } from './helpers';

const ROWS = 7;  // odd: the replicas get 4 and 3 rows
const TOL = { rtol: 1e-5, atol: 1e-6 };

type Targets = 'classes' | 'probabilities' | 'values' | 'binary';

interface Case {
  name: string;
  loss: () => TrainerLoss;
  targets: Targets;
  outputs: number;
  sigmoid?: boolean;
}

const cases: Case[] = [
  { name: "CrossEntropyLoss 'none' (d2l's)", loss: () => new torch.nn.CrossEntropyLoss({ reduction: 'none' }), targets: 'classes', outputs: 3 },
  { name: "CrossEntropyLoss 'mean'", loss: () => new torch.nn.CrossEntropyLoss(), targets: 'classes', outputs: 3 },
  {
    name: "CrossEntropyLoss 'mean' with class weights, label smoothing and an ignored class",
    loss: () => new torch.nn.CrossEntropyLoss({ weight: torch.keep(torch.tensor([0.2, 1.5, 0.7])), labelSmoothing: 0.1, ignoreIndex: 1 }),
    targets: 'classes', outputs: 3,
  },
  { name: "CrossEntropyLoss 'sum' with class probabilities", loss: () => new torch.nn.CrossEntropyLoss({ reduction: 'sum' }), targets: 'probabilities', outputs: 3 },
  { name: "CrossEntropyLoss 'mean' with class probabilities", loss: () => new torch.nn.CrossEntropyLoss(), targets: 'probabilities', outputs: 3 },
  {
    name: "NLLLoss 'mean' with class weights",
    loss: () => new torch.nn.NLLLoss({ weight: torch.keep(torch.tensor([1, 2, 0.5, 1])) }), targets: 'classes', outputs: 4,
  },
  { name: "MSELoss 'mean'", loss: () => new torch.nn.MSELoss(), targets: 'values', outputs: 2 },
  { name: "MSELoss 'none'", loss: () => new torch.nn.MSELoss({ reduction: 'none' }), targets: 'values', outputs: 1 },
  { name: "L1Loss 'sum'", loss: () => new torch.nn.L1Loss({ reduction: 'sum' }), targets: 'values', outputs: 2 },
  { name: "SmoothL1Loss 'mean', beta 0.5", loss: () => new torch.nn.SmoothL1Loss({ beta: 0.5 }), targets: 'values', outputs: 2 },
  { name: "HuberLoss 'mean', delta 0.3", loss: () => new torch.nn.HuberLoss({ delta: 0.3 }), targets: 'values', outputs: 2 },
  { name: "BCELoss 'mean' after a Sigmoid", loss: () => new torch.nn.BCELoss(), targets: 'binary', outputs: 3, sigmoid: true },
  {
    name: "BCEWithLogitsLoss 'mean' with posWeight and weight",
    loss: () => new torch.nn.BCEWithLogitsLoss({ posWeight: torch.keep(torch.tensor([2, 0.5, 1])), weight: torch.keep(torch.tensor([1, 1, 3], { dtype: 'float32' })) }),
    targets: 'binary', outputs: 3,
  },
];

function model(c: Case): torch.nn.Sequential {
  torch.manualSeed(3);
  const layers: torch.nn.Module[] = [new torch.nn.Linear(5, 6), new torch.nn.Tanh(), new torch.nn.Linear(6, c.outputs)];
  if (c.sigmoid) layers.push(new torch.nn.Sigmoid());
  return new torch.nn.Sequential(...layers);
}

function targets(kind: Targets, outputs: number, seed: number): torch.Tensor {
  torch.manualSeed(seed);
  switch (kind) {
    case 'classes': return torch.randint(0, outputs, [ROWS]);
    case 'probabilities': return torch.tidy(() => torch.randn([ROWS, outputs]).softmax(1));
    case 'values': return torch.randn([ROWS, outputs]);
    case 'binary': return torch.tidy(() => torch.rand([ROWS, outputs]).gt(0.5).float());
  }
}

function lossTensors(loss: TrainerLoss): torch.Tensor[] {
  const o = loss.options as { weight?: torch.Tensor; posWeight?: torch.Tensor };
  return [o.weight, o.posWeight].filter((t): t is torch.Tensor => t !== undefined);
}

describe('Trainer: any loss', function () {
  this.timeout(60_000);

  for (const c of cases) {
    it(`${c.name}: three steps on [cpu, cpu] give the parameters of a JS loop on the whole batch (within 1e-5)`, async () => {
      const loss = c.loss();
      const batches = [0, 1, 2].map((k) => {
        torch.manualSeed(10 + k);
        return { x: torch.randn([ROWS, 5]), y: targets(c.targets, c.outputs, 20 + k) };
      });
      const reduction = loss.options.reduction ?? 'mean';
      // the JS loop: d2l's train_batch_ch13 on one device
      const reference = model(c);
      const refOpt = new torch.optim.SGD(reference.parameters(), { lr: 0.1, momentum: 0.9 });
      const refLosses: number[] = [];
      for (const { x, y } of batches) {
        torch.tidy(() => {
          refOpt.zeroGrad();
          const l = loss.forward(reference.forward(x), y);
          const reduced = reduction === 'none' ? l.sum() : l;
          reduced.backward();
          refOpt.step();
          refLosses.push(reduced.item() as number);
        });
      }
      const net = model(c);
      const opt = new torch.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
      const trainer = new Trainer(net, opt, ['cpu', 'cpu'], loss);
      try {
        assert.equal(trainer.reduction, reduction);
        for (const [k, { x, y }] of batches.entries()) {
          const r = await trainer.step([x], y);
          assert.ok(Math.abs(r.loss - refLosses[k]) <= 1e-5 * Math.abs(refLosses[k]) + 1e-6, `step ${k}: loss ${r.loss} vs ${refLosses[k]}`);
          if (reduction !== 'mean') assert.equal(r.loss, r.lossSum);
          assert.equal(r.count, ROWS);
          // accuracy is counted for class indices only (by default)
          assert.equal(r.correct === null, c.targets !== 'classes', `correct is ${r.correct}`);
        }
        const expected = reference.parameters().map(tensorValues);
        net.parameters().forEach((p, k) => assertClose(tensorValues(p), expected[k], TOL, `parameter ${k}`));
        // evaluate: the loss of the trained model in eval mode, as the JS loop computes it
        const { x, y } = batches[0];
        const e = await trainer.evaluate([x], y);
        const refEval = torch.tidy(() => {
          const l = loss.forward(reference.forward(x), y);
          return (reduction === 'none' ? l.sum() : l).item() as number;
        });
        assert.ok(Math.abs(e.loss - refEval) <= 1e-5 * Math.abs(refEval) + 1e-6, `evaluate: ${e.loss} vs ${refEval}`);
      } finally {
        trainer.dispose();
        torch.dispose([...batches.flatMap(({ x, y }) => [x, y]), ...lossTensors(loss)]);
        for (const m of [opt, refOpt, net, reference]) m.dispose();
      }
    });
  }

  it("'mean' on three replicas (rows 3, 2, 2) takes the step of one replica on the whole batch", async () => {
    const loss = new torch.nn.MSELoss();
    const x = torch.randn([ROWS, 5]);
    const y = torch.randn([ROWS, 2]);
    const c = cases.find((k) => k.name === "MSELoss 'mean'")!;
    const plain = model(c);
    const grouped = model(c);
    const opts = [plain, grouped].map((m) => new torch.optim.SGD(m.parameters(), { lr: 0.5 }));
    const one = new Trainer(plain, opts[0], ['cpu'], loss);
    const two = new Trainer(grouped, opts[1], ['cpu', 'cpu', 'cpu'], loss);
    try {
      const a = await one.step([x], y);
      const b = await two.step([x], y);
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-6 * a.loss, `${a.loss} vs ${b.loss}`);
      const expected = plain.parameters().map(tensorValues);
      grouped.parameters().forEach((p, k) => assertClose(tensorValues(p), expected[k], TOL, `parameter ${k}`));
    } finally {
      one.dispose();
      two.dispose();
      torch.dispose([x, y]);
      for (const m of [...opts, plain, grouped]) m.dispose();
    }
  });

  it('the accuracy metric: counted for class indices, null otherwise, refused where it means nothing', async () => {
    const c = cases[0];
    const net = model(c);
    const opt = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const x = torch.randn([ROWS, 5]);
    const classes = targets('classes', 3, 1);
    const probabilities = targets('probabilities', 3, 2);
    const off = new Trainer(net, opt, ['cpu'], new torch.nn.CrossEntropyLoss({ reduction: 'none' }), { accuracy: false });
    try {
      assert.equal((await off.evaluate([x], classes)).correct, null);
    } finally {
      off.dispose();
    }
    const on = new Trainer(net, opt, ['cpu'], new torch.nn.CrossEntropyLoss({ reduction: 'none' }), { accuracy: true });
    try {
      const expected = torch.tidy(() => net.forward(x).argmax(1).eq(classes).sum().item() as number);
      assert.equal((await on.evaluate([x], classes)).correct, expected);
      await assert.rejects(on.step([x], probabilities), /accuracy metric \(options.accuracy: true\) needs class indices \[rows\] against scores \[rows, classes\], got labels \[7, 3\] \(float32\)/);
    } finally {
      on.dispose();
    }
    const auto = new Trainer(net, opt, ['cpu'], new torch.nn.CrossEntropyLoss({ reduction: 'none' }));
    try {
      assert.equal((await auto.step([x], probabilities)).correct, null);
      assert.equal(typeof (await auto.step([x], classes)).correct, 'number');
    } finally {
      auto.dispose();
    }
    assert.throws(() => new Trainer(net, opt, ['cpu'], new torch.nn.L1Loss(), { accuracy: 'yes' as unknown as boolean }), /options.accuracy must be a boolean, got the string "yes"/);
    torch.dispose([x, classes, probabilities]);
    opt.dispose();
    net.dispose();
  });

  it('targets that are not of the prediction\'s shape and dtype are refused, never broadcast', async () => {
    const c = cases.find((k) => k.name === "MSELoss 'none'")!;  // one output per row: [7, 1]
    const net = model(c);
    const opt = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const trainer = new Trainer(net, opt, ['cpu', 'cpu'], new torch.nn.MSELoss());
    const x = torch.randn([ROWS, 5]);
    const flat = torch.randn([ROWS]);
    const double = torch.randn([ROWS, 1], { dtype: 'float64' });
    const ints = torch.zeros([ROWS, 1], { dtype: 'int64' });
    try {
      await assert.rejects(trainer.step([x], flat),
        /the model returned shape \[4, 1\] but the labels have shape \[4\]; MSELoss needs targets of the prediction's shape \(PyTorch would broadcast them\) \(the model ends with one output per row: give labels the shape \[4, 1\] with labels.reshape\(\[-1, 1\]\)\)/);
      await assert.rejects(trainer.step([x], double), /the labels are float64 but the model returns float32; convert the labels with labels.to\('float32'\)/);
      await assert.rejects(trainer.step([x], ints), (e: Error) => e instanceof TypeError &&
        /MSELoss needs floating targets \[batch, ...\] of the model's output shape and dtype, got int64 \[7, 1\]; convert them with labels.to\('float32'\)/.test(e.message));
      // nothing was trained by the refused steps
      const before = net.parameters().map(tensorValues);
      await trainer.step([x], flat.reshape([-1, 1]));
      assert.notDeepEqual(net.parameters().map(tensorValues), before);
    } finally {
      trainer.dispose();
      torch.dispose([x, flat, double, ints]);
      opt.dispose();
      net.dispose();
    }
  });

  it("a loss's options are checked, and its weight is copied when the Trainer is created", async () => {
    const c = cases[0];
    const net = model(c);
    const opt = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const weight = torch.tensor([1, 2, 3], { dtype: 'float32' });
    try {
      torch.tidy(() => assert.throws(() => new Trainer(net, opt, ['cpu'], new torch.nn.CrossEntropyLoss({ weight: torch.tensor([1, 2, 3], { dtype: 'int64' }) })),
        /the loss's weight must be a floating \[classes\] tensor, got int64 \[3\]/));
      assert.throws(() => new Trainer(net, opt, ['cpu'], new torch.nn.HuberLoss({ delta: 0 })), /the loss's delta must be greater than 0, got the number 0/);
      const loss = new torch.nn.CrossEntropyLoss({ weight, reduction: 'sum' });
      const trainer = new Trainer(net, opt, ['cpu'], loss);
      const x = torch.randn([ROWS, 5]);
      const y = targets('classes', 3, 4);
      try {
        const expected = torch.tidy(() => loss.forward(net.forward(x), y).item() as number);
        weight.mul_(10);  // after the Trainer copied it
        const r = await trainer.evaluate([x], y);
        assert.ok(Math.abs(r.loss - expected) <= 1e-5 * Math.abs(expected), `${r.loss} vs ${expected}`);
        const wide = new torch.nn.CrossEntropyLoss({ weight: torch.keep(torch.tensor([1, 1], { dtype: 'float32' })) });
        const narrow = new Trainer(net, opt, ['cpu'], wide);
        await assert.rejects(narrow.step([x], y), /labels holds class 2 but the loss's weight has 2 classes \(0 to 1\)|the loss's weight has 2 classes but the model returns 3 scores per row/);
        narrow.dispose();
        torch.dispose(lossTensors(wide));
      } finally {
        trainer.dispose();
        torch.dispose([x, y]);
      }
    } finally {
      weight.dispose();
      opt.dispose();
      net.dispose();
    }
  });
});
