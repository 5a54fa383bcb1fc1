/**
 * Download progress: a bar (cli-progress) with bytes, speed and ETA on a terminal; elsewhere
 * (CI logs, files, a caller's sink) plain lines, few enough not to flood a log.
 */
import { SingleBar } from 'cli-progress';

/** Receives progress and notices as plain text lines, without a trailing newline. */
export type ProgressSink = (line: string) => void;

/** How a download reports what it does; one instance per transfer. */
export interface Progress {
  /** A one-off message: what is downloaded from where, a cached file that is replaced, a retry. */
  note(line: string): void;
  /** The transfer begins; `total` is the size in bytes when the server says it. */
  start(total: number | undefined): void;
  /** `received` bytes have arrived so far. */
  update(received: number): void;
  /** The transfer ended; `completed` is false when it failed (no "done" line then). */
  stop(completed: boolean): void;
}

/** The stream a bar is drawn on: cli-progress needs `isTTY` and, optionally, `columns`. */
export interface TerminalStream {
  /** Writes text (process.stderr does). */
  write(text: string): unknown;
  /** True on a terminal: progress is drawn as a bar. */
  isTTY?: boolean;
  /** The terminal's width in characters. */
  columns?: number;
}

/** A clock in milliseconds; tests pass a fake one. */
export type Clock = () => number;

const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

// `bytes` with a binary unit: "512 B", "1.5 KiB", "420.3 MiB".
function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= KIB && unit < UNITS.length - 1) {
    value /= KIB;
    ++unit;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

// A duration given in seconds, as "7s", "3m05s" or "1h02m".
function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
}

// Bytes per second since `startedAt`; 0 before any time has passed.
function speedOf(received: number, startedAt: number, now: number): number {
  const seconds = (now - startedAt) / 1000;
  return seconds > 0 ? received / seconds : 0;
}

/**
 * Progress as lines: one when a further tenth of the file has arrived, and, between those, one
 * at most every `heartbeatMs` (a slow transfer, or one of unknown size, still shows signs of
 * life), then a final line with the size, time and average speed.
 */
export class LineProgress implements Progress {
  private total: number | undefined;
  private startedAt = 0;
  private lastLineAt = 0;
  private lastTenth = 0;
  private received = 0;

  /**
   * @param sink where the lines go
   * @param label what is downloaded (the dataset's name), starting every progress line
   * @param now the clock (tests pass a fake one)
   * @param heartbeatMs the longest silence between lines while bytes keep arriving
   */
  constructor(private readonly sink: ProgressSink, private readonly label: string,
    private readonly now: Clock = Date.now, private readonly heartbeatMs = 10_000) {}

  note(line: string): void {
    this.sink(line);
  }

  start(total: number | undefined): void {
    this.total = total;
    this.startedAt = this.lastLineAt = this.now();
  }

  update(received: number): void {
    this.received = received;
    const now = this.now();
    // The last tenth is the "done" line's job.
    const tenth = this.total !== undefined && this.total > 0 ? Math.min(9, Math.floor((10 * received) / this.total)) : 0;
    if (tenth > this.lastTenth || now - this.lastLineAt >= this.heartbeatMs) {
      this.lastTenth = Math.max(tenth, this.lastTenth);
      this.lastLineAt = now;
      this.sink(this.describe(now));
    }
  }

  stop(completed: boolean): void {
    if (!completed) return;
    const now = this.now();
    const speed = formatBytes(speedOf(this.received, this.startedAt, now));
    this.sink(`${this.label}: done, ${formatBytes(this.received)} in ${formatDuration((now - this.startedAt) / 1000)} (${speed}/s)`);
  }

  private describe(now: number): string {
    const speed = speedOf(this.received, this.startedAt, now);
    const rate = `${formatBytes(speed)}/s`;
    if (this.total === undefined || this.total <= 0) return `${this.label}: ${formatBytes(this.received)} (${rate})`;
    const percent = Math.floor((100 * this.received) / this.total);
    const eta = speed > 0 ? formatDuration((this.total - this.received) / speed) : '?';
    return `${this.label}: ${percent}% (${formatBytes(this.received)} of ${formatBytes(this.total)}, ${rate}, ETA ${eta})`;
  }
}

/** Progress as a cli-progress bar redrawn in place on a terminal. */
class BarProgress implements Progress {
  private bar: SingleBar | undefined;
  private total: number | undefined;
  private startedAt = 0;

  constructor(private readonly stream: TerminalStream, private readonly label: string) {}

  note(line: string): void {
    // Over the bar, when one is drawn (a retry's note): the next update draws it again below.
    this.stream.write(`${this.bar !== undefined ? '\r\x1b[2K' : ''}${line}\n`);
  }

  start(total: number | undefined): void {
    this.total = total;
    this.startedAt = Date.now();
    const known = total !== undefined && total > 0;
    this.bar = new SingleBar({
      format: known
        ? `${this.label} |{bar}| {percentage}% | {received} / {size} | {speed} | ETA {remaining}`
        : `${this.label} {received} | {speed}`,
      stream: this.stream as NodeJS.WritableStream,  // cli-progress writes text and reads isTTY and columns only
      barsize: 30,
      // Leave the terminal's settings alone: a Ctrl-C mid-download must not leave line
      // wrapping off, and a SIGINT handler (gracefulExit) would keep Ctrl-C from exiting.
      linewrap: true,
      hideCursor: false,
      gracefulExit: false,
    });
    this.bar.start(known ? total : 0, 0, this.payload(0));
  }

  update(received: number): void {
    this.bar?.update(received, this.payload(received));
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  // cli-progress's own ETA ({eta}, a name it reserves) averages its last few updates, one per
  // network chunk here, so it jumps about; the average since the start is steadier.
  private payload(received: number): { received: string; size: string; speed: string; remaining: string } {
    const speed = speedOf(received, this.startedAt, Date.now());
    const left = this.total !== undefined ? this.total - received : 0;
    return {
      received: formatBytes(received),
      size: this.total !== undefined ? formatBytes(this.total) : '?',
      speed: `${formatBytes(speed)}/s`,
      remaining: speed > 0 ? formatDuration(left / speed) : '?',
    };
  }
}

const SILENT: Progress = { note() {}, start() {}, update() {}, stop() {} };

/**
 * The reporter the `progress` option asks for: `false` none, a function gets lines, `true` a bar
 * when `stream` is a terminal and lines on it otherwise.
 */
export function createProgress(option: boolean | ProgressSink, label: string, stream: TerminalStream = process.stderr): Progress {
  if (option === false) return SILENT;
  if (typeof option === 'function') return new LineProgress(option, label);
  if (stream.isTTY === true) return new BarProgress(stream, label);
  return new LineProgress((line) => stream.write(`${line}\n`), label);
}
