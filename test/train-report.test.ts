// The CLI's progress output: a bar on a terminal, plain lines elsewhere, JSON with --json.
import { strict as assert } from 'assert';
import { Writable } from 'stream';

import { BarReporter, createReporter, JsonReporter, LineReporter } from '../lib/cli/train-report';
import { EpochEnd, ProgressPoint, StepInfo, TrainCh13Result } from '../lib/d2l/train-ch13';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY = false, readonly columns = 160) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const step = (batch: number): StepInfo => ({
  epoch: 0, batch, numBatches: 4, lossSum: 4, correct: 2, count: 4, trainLoss: 1.25, trainAcc: 0.5, examplesPerSec: 1234.56,
});
const point: ProgressPoint = { epoch: 0, batch: 4, numBatches: 4, x: 1, trainLoss: 1.25, trainAcc: 0.5, examplesPerSec: 1234.56 };
const end: EpochEnd = { epoch: 0, trainLoss: 1.25, trainAcc: 0.5, testAcc: 0.375 };
const result = {
  trainLoss: 1.25, trainAcc: 0.5, testAcc: 0.375, examplesPerSec: 1234.56, progress: [point], epochs: [end],
  lines: ['loss 1.250, train acc 0.500, test acc 0.375', '1234.6 examples/sec on [cpu]'],
} as TrainCh13Result;

function drive(reporter: BarReporter | LineReporter | JsonReporter): void {
  reporter.info('read 16 examples');
  for (let b = 1; b <= 4; ++b) reporter.step(step(b));
  reporter.progress(point);
  reporter.epochEnd(end);
  reporter.done(result);
}

describe('training progress output', () => {
  it('draws a bar with epoch, batches, examples/sec, loss, accuracy and ETA on a terminal', () => {
    const stdout = new Capture();
    const stderr = new Capture(true);
    const reporter = createReporter({ stdout, stderr }, { json: false, numEpochs: 2, devices: ['cpu'] });
    assert.ok(reporter instanceof BarReporter);
    drive(reporter);
    assert.match(stderr.text, /epoch 1\/2 \|[\u2588\u2591]+\| 4\/4 batches \| 1234\.6 examples\/sec \| loss 1\.250 \| train acc 0\.500 \| ETA \S+/);
    assert.equal(stdout.text, 'read 16 examples\nepoch 1/2: loss 1.250, train acc 0.500, test acc 0.375\n' +
      'loss 1.250, train acc 0.500, test acc 0.375\n1234.6 examples/sec on [cpu]\n');
  });

  it('writes plain lines at the progress points when the output is not a terminal', () => {
    const stdout = new Capture();
    const stderr = new Capture(false);
    const reporter = createReporter({ stdout, stderr }, { json: false, numEpochs: 2, devices: ['cpu'] });
    assert.ok(reporter instanceof LineReporter);
    drive(reporter);
    assert.equal(stderr.text, '');
    assert.equal(stdout.text, 'read 16 examples\nepoch 1/2 batch 4/4: loss 1.250, train acc 0.500, 1234.6 examples/sec\n' +
      'epoch 1/2: loss 1.250, train acc 0.500, test acc 0.375\nloss 1.250, train acc 0.500, test acc 0.375\n1234.6 examples/sec on [cpu]\n');
  });

  it('--json: only JSON objects on stdout, with the epoch sums so far; messages on stderr', () => {
    const stdout = new Capture();
    const stderr = new Capture(true);
    const reporter = createReporter({ stdout, stderr }, { json: true, numEpochs: 2, devices: ['cpu', 'cpu'] });
    assert.ok(reporter instanceof JsonReporter);
    drive(reporter);
    const events = stdout.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e.event), ['progress', 'epoch', 'done']);
    assert.deepEqual(events[0], { event: 'progress', ...point, lossSum: 16, correct: 8, examples: 16 });
    assert.deepEqual(events[1], { event: 'epoch', ...end });
    assert.deepEqual(events[2].devices, ['cpu', 'cpu']);
    assert.deepEqual(events[2].lines, result.lines);
    assert.equal(stderr.text, `read 16 examples\n${result.lines.join('\n')}\n`);
  });
});
