/**
 * How `node lib/train.js` shows its progress: a live bar on a terminal (epoch, batch,
 * examples/sec, running loss and accuracy, ETA), plain lines at d2l's progress points when the
 * output is not a terminal, or one JSON object per progress point with `--json`.
 */
import { SingleBar } from 'cli-progress';

import { formatFixed } from '../core/format';
import { EpochEnd, ProgressPoint, StepInfo, TrainCh13Result } from '../d2l/train-ch13';
import { Device } from '../core/types';

/** Receives everything a training run reports, in order. */
export interface TrainReporter {
  /** A message (data read, a download, where the chart goes). */
  info(line: string): void;
  /** After every training step. */
  step(step: StepInfo): void;
  /** At each of d2l's progress points (five per epoch). */
  progress(point: ProgressPoint): void;
  /** After each epoch's test pass. */
  epochEnd(end: EpochEnd): void;
  /** The run ended: d2l's two lines. */
  done(result: TrainCh13Result): void;
}

/** The reporter of a distributed job's ranks other than 0: rank 0 reports for the job. */
export class SilentReporter implements TrainReporter {
  info(): void {}
  step(): void {}
  progress(): void {}
  epochEnd(): void {}
  done(): void {}
}

/** The streams a reporter writes to. */
export interface ReportStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

const fixed = (x: number, digits: number): string => (Number.isFinite(x) ? formatFixed(x, digits) : 'nan');

function epochLabel(epoch: number, numEpochs: number): string {
  return `epoch ${epoch + 1}/${numEpochs}`;
}

/** Plain lines on stdout: one per progress point and per epoch, then d2l's two lines. */
export class LineReporter implements TrainReporter {
  constructor(private readonly streams: ReportStreams, private readonly numEpochs: number) {}

  info(line: string): void {
    this.streams.stdout.write(`${line}\n`);
  }

  step(): void {}

  progress(p: ProgressPoint): void {
    this.streams.stdout.write(`${epochLabel(p.epoch, this.numEpochs)} batch ${p.batch}/${p.numBatches}: loss ${fixed(p.trainLoss, 3)}, ` +
      `train acc ${fixed(p.trainAcc, 3)}, ${fixed(p.examplesPerSec, 1)} examples/sec\n`);
  }

  epochEnd(e: EpochEnd): void {
    this.streams.stdout.write(`${epochLabel(e.epoch, this.numEpochs)}: loss ${fixed(e.trainLoss, 3)}, train acc ${fixed(e.trainAcc, 3)}, ` +
      `test acc ${fixed(e.testAcc, 3)}\n`);
  }

  done(result: TrainCh13Result): void {
    this.streams.stdout.write(`${result.lines.join('\n')}\n`);
  }
}

/** A live bar on the terminal (stderr) for each epoch; epoch summaries and d2l's lines on stdout. */
export class BarReporter implements TrainReporter {
  private bar: SingleBar | undefined;
  private barEpoch = -1;

  constructor(private readonly streams: ReportStreams, private readonly numEpochs: number) {}

  info(line: string): void {
    this.stopBar();
    this.streams.stdout.write(`${line}\n`);
  }

  step(s: StepInfo): void {
    if (this.bar === undefined || this.barEpoch !== s.epoch) {
      this.stopBar();
      this.bar = new SingleBar({
        stream: this.streams.stderr,
        format: `${epochLabel(s.epoch, this.numEpochs)} |{bar}| {value}/{total} batches | {speed} examples/sec | loss {loss} | train acc {acc} | ETA {eta_formatted}`,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      });
      this.barEpoch = s.epoch;
      this.bar.start(s.numBatches, 0, { speed: '-', loss: '-', acc: '-' });
    }
    this.bar.update(s.batch, { speed: fixed(s.examplesPerSec, 1), loss: fixed(s.trainLoss, 3), acc: fixed(s.trainAcc, 3) });
  }

  progress(): void {}

  epochEnd(e: EpochEnd): void {
    this.stopBar();
    this.streams.stdout.write(`${epochLabel(e.epoch, this.numEpochs)}: loss ${fixed(e.trainLoss, 3)}, train acc ${fixed(e.trainAcc, 3)}, ` +
      `test acc ${fixed(e.testAcc, 3)}\n`);
  }

  done(result: TrainCh13Result): void {
    this.stopBar();
    this.streams.stdout.write(`${result.lines.join('\n')}\n`);
  }

  private stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * `--json`: stdout holds only JSON objects, one per line: `{"event":"progress",...}` at each
 * progress point (with the epoch's sums so far), `{"event":"epoch",...}` after each test pass,
 * `{"event":"done",...}` at the end. Messages and d2l's two lines go to stderr.
 */
export class JsonReporter implements TrainReporter {
  private sums = { lossSum: 0, correct: 0, examples: 0 };

  constructor(private readonly streams: ReportStreams, private readonly devices: readonly Device[]) {}

  info(line: string): void {
    this.streams.stderr.write(`${line}\n`);
  }

  step(s: StepInfo): void {
    if (s.batch === 1) this.sums = { lossSum: 0, correct: 0, examples: 0 };
    this.sums.lossSum += s.lossSum;
    this.sums.correct += s.correct;
    this.sums.examples += s.count;
  }

  progress(p: ProgressPoint): void {
    this.emit({ event: 'progress', ...p, ...this.sums });
  }

  epochEnd(e: EpochEnd): void {
    this.emit({ event: 'epoch', ...e });
  }

  done(result: TrainCh13Result): void {
    this.emit({
      event: 'done', trainLoss: result.trainLoss, trainAcc: result.trainAcc, testAcc: result.testAcc,
      examplesPerSec: result.examplesPerSec, devices: this.devices, lines: result.lines,
    });
    this.streams.stderr.write(`${result.lines.join('\n')}\n`);
  }

  private emit(value: object): void {
    this.streams.stdout.write(`${JSON.stringify(value)}\n`);
  }
}

/** The reporter for the output: JSON when asked, a bar when stderr is a terminal, lines otherwise. */
export function createReporter(streams: ReportStreams, options: { json: boolean; numEpochs: number; devices: readonly Device[] }): TrainReporter {
  if (options.json) return new JsonReporter(streams, options.devices);
  if (streams.stderr.isTTY === true) return new BarReporter(streams, options.numEpochs);
  return new LineReporter(streams, options.numEpochs);
}
