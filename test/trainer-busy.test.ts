// The one busy rule: from trainer.step()/evaluate() until its Promise settles, everything that
// reads or writes the model (any submodule, parameter, view of a parameter, buffer, mode) or the
// optimizer is refused with ERR_TORCHBRIDGE_BUSY, nothing races the step, and all of it works
// again once the step settled.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';

const config = { vocabSize: 50, numHiddens: 32, ffnNumHiddens: 64, numHeads: 4, numBlks: 2, dropout: 0, maxLen: 40 };

interface Rig {
  bert: BERTModel;
  net: BERTClassifier;
  optimizer: torch.optim.Adam;
  trainer: Trainer;
  inputs: torch.Tensor[];
  labels: torch.Tensor;
  dispose(): void;
}

function rig(devices: torch.Device[] = ['cpu', 'cpu']): Rig {
  torch.manualSeed(0);
  const bert = new BERTModel(config);
  const net = new BERTClassifier(bert);
  const inputs = [torch.randint(0, config.vocabSize, [64, 40]), torch.zeros([64, 40], { dtype: 'int64' }), torch.randint(5, 41, [64])];
  const labels = torch.randint(0, 3, [64]);
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: 1e-2 });
  const trainer = new Trainer(net, optimizer, devices);
  return {
    bert, net, optimizer, trainer, inputs, labels,
    dispose() {
      torch.dispose([inputs, labels]);
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      bert.dispose();
    },
  };
}

function isBusy(err: unknown): boolean {
  const e = err as Error & { code?: string };
  return e instanceof Error && e.code === 'ERR_TORCHBRIDGE_BUSY' && /busy/.test(e.message) && /[Aa]wait/.test(e.message);
}

function parameterSum(net: torch.nn.Module): number {
  return torch.tidy(() => net.parameters().reduce((sum, p) => sum + (p.sum().item() as number), 0));
}

describe('Trainer: the busy rule', function () {
  this.timeout(120_000);

  it('refuses every read and write of the model and the optimizer while a step runs, and nothing changes the step', async () => {
    const reference = rig();
    const expected = await reference.trainer.step(reference.inputs, reference.labels);
    const expectedSum = parameterSum(reference.net);
    reference.dispose();

    const r = rig();
    const param = r.net.parameters()[0];
    const view = param.view([-1]);
    const child = r.net.children()[0];
    const saved = r.net.stateDict();
    const other = new torch.optim.SGD(r.net.parameters(), { lr: 1 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-busy-'));
    let step: Promise<unknown> = Promise.resolve();
    try {
      step = r.trainer.step(r.inputs, r.labels);
      const attempts: [string, () => unknown][] = [
        ['net.forward', () => torch.tidy(() => r.net.forward(r.inputs[0], r.inputs[1], r.inputs[2]))],
        ['net.stateDict', () => r.net.stateDict()],
        ['net.loadStateDict', () => r.net.loadStateDict(saved)],
        ['net.parameters', () => r.net.parameters()],
        ['net.train', () => r.net.train(false)],
        ['net.training', () => r.net.training],
        ['net.to', () => r.net.to('float64')],
        ['net.zeroGrad', () => r.net.zeroGrad()],
        ['child.train', () => child.train(false)],
        ['bert.stateDict (shares the encoder)', () => r.bert.stateDict()],
        ['param.mul_', () => param.mul_(2)],
        ['param.sum', () => torch.tidy(() => param.sum())],
        ['param.grad', () => param.grad],
        ['param.dispose', () => param.dispose()],
        ['a view of a parameter', () => torch.tidy(() => view.mul_(0))],
        ['optimizer.step', () => r.optimizer.step()],
        ['optimizer.zeroGrad', () => r.optimizer.zeroGrad()],
        ['optimizer.paramGroups[0].lr =', () => (r.optimizer.paramGroups[0].lr = 5)],
        ['optimizer.paramGroups[0].lr', () => r.optimizer.paramGroups[0].lr],
        ['optimizer.setLr', () => r.optimizer.setLr(5)],
        ['optimizer.stateDict', () => r.optimizer.stateDict()],
        ['another optimizer of the same parameters', () => other.step()],
        ['optimizer.dispose', () => r.optimizer.dispose()],
        ['net.dispose', () => r.net.dispose()],
        ['trainer.dispose', () => r.trainer.dispose()],
      ];
      for (const [what, attempt] of attempts) {
        assert.throws(attempt, isBusy, `${what} was not refused while the step ran`);
      }
      // torch.save of the model's state cannot even start: the state dict is refused
      await assert.rejects(async () => torch.save(r.net.stateDict(), path.join(dir, 'net.pt')), isBusy);
      assert.equal(fs.readdirSync(dir).length, 0);
      const result = await (step as Promise<torch.StepResult>);
      assert.deepEqual(result, expected, 'the refused calls changed the step');
      assert.ok(Math.abs(parameterSum(r.net) - expectedSum) <= 1e-5 * Math.abs(expectedSum));
      // settled: everything works again
      assert.ok(!param.isDisposed);
      r.optimizer.paramGroups[0].lr = 0.5;
      assert.equal(r.optimizer.getLr(), 0.5);
      torch.tidy(() => {
        r.net.forward(r.inputs[0], r.inputs[1], r.inputs[2]);
      });
      const state = r.net.stateDict();
      try {
        await torch.save(state, path.join(dir, 'net.pt'));
      } finally {
        torch.dispose(state);
      }
      assert.ok(fs.existsSync(path.join(dir, 'net.pt')));
    } finally {
      await step.catch(() => undefined);  // a failed assertion above must not leave the step running
      fs.rmSync(dir, { recursive: true, force: true });
      torch.dispose([...saved.values()]);
      view.dispose();
      other.dispose();
      r.dispose();
    }
  });

  it('an evaluation is busy too, and a step queued behind it runs once it settled', async () => {
    const r = rig(['cpu']);
    try {
      const evaluation = r.trainer.evaluate(r.inputs, r.labels);
      const step = r.trainer.step(r.inputs, r.labels);  // queued behind the evaluation
      assert.throws(() => r.optimizer.setLr(1), isBusy);
      await evaluation;
      assert.equal((await step).count, 64);
      r.optimizer.setLr(1);
    } finally {
      r.dispose();
    }
  });

  it('a failed step releases the model', async () => {
    const r = rig(['cpu']);
    try {
      const bad = torch.tensor([0, 1, 7, 0, 1, 2, 0, 1]);
      await assert.rejects(r.trainer.step(r.inputs.map((t) => t.narrow(0, 0, 8)), bad), /labels holds class 7/);
      r.optimizer.setLr(1);
      bad.dispose();
    } finally {
      r.dispose();
    }
  });
});
