// d2l's train_ch13 loop over the native trainer: bookkeeping, progress points, summary lines.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { Accumulator, accuracy, Batch, BatchSource, evaluateAccuracyGpu, trainCh13 } from '../lib/d2l/train-ch13';
import { Trainer } from '../lib/trainer/trainer';

const config = { vocabSize: 30, numHiddens: 8, ffnNumHiddens: 16, numHeads: 2, numBlks: 1, dropout: 0, maxLen: 12 };

// Fixed batches, one epoch per iteration, owned by the test.
class FixedBatches implements BatchSource {
  constructor(private readonly batches: Batch[]) {}
  get length(): number {
    return this.batches.length;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    yield* this.batches;
  }
}

function makeBatches(count: number, size: number): Batch[] {
  return Array.from({ length: count }, () => {
    const tokens = torch.keep(torch.randint(0, config.vocabSize, [size, 6]));
    const segments = torch.keep(torch.zeros([size, 6], { dtype: 'int64' }));
    const validLens = torch.keep(torch.randint(2, 7, [size]));
    const labels = torch.keep(torch.randint(0, 3, [size]));
    return [[tokens, segments, validLens], labels] as const;
  });
}

function disposeBatches(batches: Batch[]): void {
  for (const [X, y] of batches) torch.dispose([...X, y]);
}

describe('d2l train_ch13', function () {
  this.timeout(60_000);

  it('accuracy counts argmax matches; Accumulator sums', () => {
    torch.tidy(() => {
      const yHat = torch.tensor([[0.1, 0.9, 0], [0.8, 0.1, 0.1], [0, 0.2, 0.7]]);
      assert.equal(accuracy(yHat, torch.tensor([1, 0, 1])), 2);
      const m = new Accumulator(3);
      m.add(1, 2, 3);
      m.add(0.5, 0, 1);
      assert.deepEqual([m.get(0), m.get(1), m.get(2)], [1.5, 2, 4]);
    });
  });

  it('trains like a hand-written loop over the Trainer, with d2l progress points and summary lines', async () => {
    torch.manualSeed(1);
    const train = makeBatches(6, 4);
    const test = makeBatches(2, 5);
    // the run under test
    torch.manualSeed(2);
    const bert = new BERTModel(config);
    const net = new BERTClassifier(bert);
    const lines: string[] = [];
    const steps: { lossSum: number; correct: number; count: number }[] = [];
    const optimizer = new torch.optim.Adam(net.parameters(), { lr: 1e-2 });
    const result = await trainCh13(net, new FixedBatches(train), new FixedBatches(test), new torch.nn.CrossEntropyLoss({ reduction: 'none' }),
      optimizer, 2, ['cpu'], { log: (l) => lines.push(l), onStep: (s) => steps.push(s) });
    // the same by hand
    torch.manualSeed(2);
    const bert2 = new BERTModel(config);
    const net2 = new BERTClassifier(bert2);
    const trainer = new Trainer(net2, new torch.optim.Adam(net2.parameters(), { lr: 1e-2 }), ['cpu']);
    const manual: { lossSum: number; correct: number; count: number }[] = [];
    for (let epoch = 0; epoch < 2; ++epoch) {
      for (const [X, y] of train) {
        const { lossSum, correct, count } = await trainer.step(X, y);
        manual.push({ lossSum, correct: correct!, count });
      }
    }
    assert.deepEqual(steps.map(({ lossSum, correct, count }) => ({ lossSum, correct, count })), manual);
    const testAcc = await evaluateAccuracyGpu(trainer, new FixedBatches(test));
    assert.equal(result.testAcc, testAcc);

    // every num_batches // 5 = 1 batch: six progress points per epoch, at x = epoch + i / 6
    assert.equal(result.progress.length, 12);
    assert.deepEqual(result.progress.map((p) => p.x), [0, 1].flatMap((epoch) => [1, 2, 3, 4, 5, 6].map((i) => epoch + i / 6)));
    const last = manual.slice(6);
    const lossSum = last.reduce((a, s) => a + s.lossSum, 0);
    const correct = last.reduce((a, s) => a + s.correct, 0);
    assert.ok(Math.abs(result.trainLoss - lossSum / 24) < 1e-12);
    assert.equal(result.trainAcc, correct / 24);
    assert.equal(result.epochs.length, 2);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], `loss ${(lossSum / 24).toFixed(3)}, train acc ${(correct / 24).toFixed(3)}, test acc ${testAcc.toFixed(3)}`);
    assert.match(lines[1], /^\d+\.\d examples\/sec on \[cpu\]$/);
    assert.ok(result.examplesPerSec > 0);
    trainer.dispose();
    for (const o of [optimizer, trainer.optimizer]) o.dispose();
    for (const m of [net, bert, net2, bert2]) m.dispose();
    disposeBatches(train);
    disposeBatches(test);
  });

  it('maxSteps stops early and still reports the test accuracy', async () => {
    const train = makeBatches(10, 2);
    const test = makeBatches(1, 3);
    const bert = new BERTModel(config);
    const net = new BERTClassifier(bert);
    let steps = 0;
    const optimizer = new torch.optim.Adam(net.parameters());
    const result = await trainCh13(net, new FixedBatches(train), new FixedBatches(test), new torch.nn.CrossEntropyLoss({ reduction: 'none' }),
      optimizer, 5, ['cpu', 'cpu'], { log: () => undefined, onStep: () => ++steps, maxSteps: 3 });
    assert.equal(steps, 3);
    assert.equal(result.epochs.length, 1);
    assert.ok(result.testAcc >= 0 && result.testAcc <= 1);
    assert.match(result.lines[1], /examples\/sec on \[cpu, cpu\]$/);
    optimizer.dispose();
    net.dispose();
    bert.dispose();
    disposeBatches(train);
    disposeBatches(test);
  });
});
