/**
 * d2l's `train_ch13` loop and its helpers (`Accumulator`, `Timer`, `accuracy`,
 * `evaluate_accuracy_gpu`), driving the native data-parallel Trainer.
 */
import { formatFixed } from '../core/format';
import { Module } from '../nn/module';
import { CrossEntropyLoss } from '../nn/loss';
import { Optimizer } from '../optim/optimizer';
import { noGrad } from '../core/runtime';
import { tidy } from '../core/scope';
import { Tensor } from '../core/tensor';
import { Trainer, TrainerOptions } from '../trainer/trainer';
import { Device } from '../core/types';
import { ProcessGroup } from '../distributed/process-group';
import { tensor } from '../core/creation';

/** One batch: the model's inputs (e.g. [tokens, segments, validLens]) and int64 labels [batch]. */
export type Batch = readonly [readonly Tensor[], Tensor];

/** Batches of one epoch per iteration (as d2l's DataLoader); `length` is the number of batches. */
export interface BatchSource extends AsyncIterable<Batch> {
  readonly length: number;
}

/** d2l.Accumulator: sums over n variables. */
export class Accumulator {
  private data: number[];
  constructor(n: number) {
    this.data = new Array<number>(n).fill(0);
  }
  add(...values: number[]): void {
    this.data = this.data.map((a, k) => a + (values[k] ?? 0));
  }
  reset(): void {
    this.data = this.data.map(() => 0);
  }
  get(k: number): number {
    return this.data[k];
  }
}

/** d2l.Timer: records the duration of each start/stop interval, in seconds. */
export class Timer {
  private readonly times: number[] = [];
  private started = 0;
  constructor() {
    this.start();
  }
  start(): void {
    this.started = performance.now();
  }
  /** Stops the interval and returns its length (seconds). */
  stop(): number {
    this.times.push((performance.now() - this.started) / 1000);
    return this.times[this.times.length - 1];
  }
  sum(): number {
    return this.times.reduce((a, b) => a + b, 0);
  }
  avg(): number {
    return this.times.length === 0 ? 0 : this.sum() / this.times.length;
  }
}

/** d2l.accuracy: the number of correct predictions (argmax over dim 1 when yHat has several columns). */
export function accuracy(yHat: Tensor, y: Tensor): number {
  return tidy(() => {
    const predicted = yHat.ndim > 1 && yHat.shape[1] > 1 ? yHat.argmax(1) : yHat;
    return predicted.to(y.dtype).eq(y).to(y.dtype).sum().item() as number;
  });
}

/**
 * d2l.evaluate_accuracy_gpu: the accuracy over every batch of `dataIter`, in eval mode without
 * gradients. Given a Trainer it runs off the JS thread on all its devices; given a module it
 * runs on the JS thread.
 */
export async function evaluateAccuracyGpu(net: Trainer | Module, dataIter: AsyncIterable<Batch>): Promise<number> {
  const metric = new Accumulator(2);
  const group = net instanceof Trainer ? net.processGroup : undefined;
  if (net instanceof Module) net.eval();
  for await (const [X, y] of dataIter) {
    if (net instanceof Trainer) {
      const { correct, count } = await net.evaluate(X, y);
      metric.add(counted(correct), count);
    } else {
      const correct = tidy(() => noGrad(() => accuracy(net.forward(...X), y)));
      metric.add(correct, y.numel);
    }
  }
  // a distributed Trainer: every rank evaluated its shard; all report the whole set's accuracy
  if (group !== undefined) {
    const [correct, count] = await sumOverRanks(group, [metric.get(0), metric.get(1)]);
    return correct / count;
  }
  return metric.get(0) / metric.get(1);
}

/** `values` summed over the ranks of `group` (float64, exact for counts). */
export async function sumOverRanks(group: ProcessGroup, values: number[]): Promise<number[]> {
  const local = tensor(values, { dtype: 'float64' });
  try {
    const total = await group.allReduce(local);
    try {
      return total.toArray() as number[];
    } finally {
      total.dispose();
    }
  } finally {
    local.dispose();
  }
}

// train_ch13 reports accuracy, which the Trainer counts for class-index labels [batch] only.
function counted(correct: number | null): number {
  if (correct === null) throw new TypeError('trainCh13: the Trainer counted no accuracy for the batch; d2l\'s train_ch13 needs class-index labels [batch] (int64)');
  return correct;
}

/** A progress point: five per epoch (and the last batch), as where d2l's animator adds points. */
export interface ProgressPoint {
  /** 0-based epoch. */
  epoch: number;
  /** 1-based batch index within the epoch, and the number of batches. */
  batch: number;
  numBatches: number;
  /** epoch + batch / numBatches: the x coordinate of d2l's chart. */
  x: number;
  /** Running averages over the epoch so far. */
  trainLoss: number;
  trainAcc: number;
  /** Training examples per second so far (steps only, as d2l's timer). */
  examplesPerSec: number;
}

/** One training step: its own sums and the epoch's running figures after it. */
export interface StepInfo {
  /** 0-based epoch; 1-based batch index within it, of numBatches. */
  epoch: number;
  batch: number;
  numBatches: number;
  /** This step's d2l `l.sum()` (the loss sum for reduction 'none', the mean for 'mean'), correct predictions and examples. */
  lossSum: number;
  correct: number;
  count: number;
  /** Running averages over the epoch so far. */
  trainLoss: number;
  trainAcc: number;
  /** Training examples per second so far (steps only). */
  examplesPerSec: number;
}

/** The end of an epoch, after the test pass. */
export interface EpochEnd {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
}

export interface TrainCh13Options {
  /** Called at each progress point. */
  onProgress?: (point: ProgressPoint) => void;
  /** Called after each epoch's test pass. */
  onEpochEnd?: (end: EpochEnd) => void;
  /** Called with every step's result (for detailed logs and tests). */
  onStep?: (step: StepInfo) => void;
  /** Called before each epoch's first step (e.g. `DistributedSampler.setEpoch`). */
  onEpochStart?: (epoch: number) => void;
  /** Stop after this many training steps in total (the epoch in progress still ends with its test pass). */
  maxSteps?: number;
  /**
   * Options of the native Trainer (dropout stream, precision, length groups, and a process
   * group: then every step's loss, correct predictions and examples are summed over the ranks,
   * so progress, epoch figures and the test accuracy are the whole job's on every rank, as one
   * process on the global batches would report them).
   */
  trainer?: TrainerOptions;
  /** Where d2l's two summary lines go; default console.log. */
  log?: (line: string) => void;
}

export interface TrainCh13Result {
  /** Final train loss and accuracy (of the last epoch) and test accuracy. */
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
  /** Training examples per second over all epochs (d2l's figure). */
  examplesPerSec: number;
  /** Every progress point and epoch end, in order. */
  progress: ProgressPoint[];
  epochs: EpochEnd[];
  /** d2l's two summary lines. */
  lines: [string, string];
}

/**
 * d2l's train_ch13 with the native data-parallel Trainer: for each epoch, a step per batch
 * (forward, `loss` with reduction 'none', `l.sum().backward()`, optimizer step) accumulating
 * (loss sum, correct, examples, predictions), five progress points per epoch, then the test
 * accuracy; at the end d2l's two lines, e.g.
 * `loss 0.520, train acc 0.791, test acc 0.786` and `10588.8 examples/sec on [cuda:0, cuda:1]`.
 */
export async function trainCh13(net: Module, trainIter: BatchSource, testIter: AsyncIterable<Batch>, loss: CrossEntropyLoss,
  optimizer: Optimizer<object>, numEpochs: number, devices: readonly Device[], options: TrainCh13Options = {}): Promise<TrainCh13Result> {
  if (!Number.isInteger(numEpochs) || numEpochs < 1) throw new RangeError(`trainCh13: numEpochs must be a positive integer, got ${numEpochs}`);
  const trainer = new Trainer(net, optimizer, devices, loss, options.trainer);
  const group = trainer.processGroup;
  const timer = new Timer();
  const numBatches = trainIter.length;
  // d2l reports every num_batches // 5 batches (and divides by zero below 5 batches; we report each batch then)
  const every = Math.max(1, Math.floor(numBatches / 5));
  const progress: ProgressPoint[] = [];
  const epochs: EpochEnd[] = [];
  let metric = new Accumulator(4);
  let testAcc = NaN;
  let steps = 0;
  let seen = 0;  // training examples so far; d2l's metric[2] * num_epochs when every epoch runs in full
  try {
    for (let epoch = 0; epoch < numEpochs && !(options.maxSteps !== undefined && steps >= options.maxSteps); ++epoch) {
      metric = new Accumulator(4);
      options.onEpochStart?.(epoch);
      let i = 0;
      for await (const [features, labels] of trainIter) {
        timer.start();
        // d2l's train_batch_ch13: l.sum() of the loss as its reduction left it (the sum for 'none')
        const step = await trainer.step(features, labels);
        let { loss: lossSum, count } = step;
        let correct = counted(step.correct);
        if (group !== undefined) [lossSum, correct, count] = await sumOverRanks(group, [lossSum, correct, count]);
        metric.add(lossSum, correct, count, count);
        timer.stop();
        seen += count;
        ++steps;
        const running = { trainLoss: metric.get(0) / metric.get(2), trainAcc: metric.get(1) / metric.get(3), examplesPerSec: seen / timer.sum() };
        options.onStep?.({ epoch, batch: i + 1, numBatches, lossSum, correct, count, ...running });
        const last = i === numBatches - 1 || (options.maxSteps !== undefined && steps >= options.maxSteps);
        if ((i + 1) % every === 0 || last) {
          const point: ProgressPoint = { epoch, batch: i + 1, numBatches, x: epoch + (i + 1) / numBatches, ...running };
          progress.push(point);
          options.onProgress?.(point);
        }
        ++i;
        if (options.maxSteps !== undefined && steps >= options.maxSteps) break;
      }
      testAcc = await evaluateAccuracyGpu(trainer, testIter);
      const end: EpochEnd = { epoch, trainLoss: metric.get(0) / metric.get(2), trainAcc: metric.get(1) / metric.get(3), testAcc };
      epochs.push(end);
      options.onEpochEnd?.(end);
    }
  } finally {
    trainer.dispose();  // its replicas and threads; the model and optimizer stay the caller's
  }
  const examplesPerSec = seen / timer.sum();
  const lines: [string, string] = [
    `loss ${formatFixed(metric.get(0) / metric.get(2), 3)}, train acc ${formatFixed(metric.get(1) / metric.get(3), 3)}, test acc ${formatFixed(testAcc, 3)}`,
    `${formatFixed(examplesPerSec, 1)} examples/sec on [${devices.join(', ')}]`,
  ];
  const log = options.log ?? ((line: string) => console.log(line));
  lines.forEach((line) => log(line));
  return { trainLoss: metric.get(0) / metric.get(2), trainAcc: metric.get(1) / metric.get(3), testAcc, examplesPerSec, progress, epochs, lines };
}
