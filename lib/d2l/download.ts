/**
 * Fetching one URL into one file, on undici.
 *
 * undici does the HTTP: connections, timeouts (connecting, waiting for headers, a stalled
 * body), redirects (its redirect interceptor) and retries (its RetryAgent), which resume a cut
 * transfer where it stopped with a `Range` request (and `If-Match` when the server sent a
 * strong ETag), checking the server's `Content-Range` before it passes on more bytes.
 *
 * What stays here: which failures are retried and how long to wait (one budget of retries for
 * the whole download, shared by undici's resumes and our restarts), starting over from byte 0
 * when a transfer cannot be resumed (the server ignores `Range` and answers 200, the file
 * changed, the size was never announced), the body streamed to a temporary file while its
 * sha1 is computed, the rename into place only once the file is complete, synced and
 * verified, progress, and errors in words. Whatever fails, no partial file stays.
 */
import { createHash, randomBytes } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import { STATUS_CODES } from 'http';
import * as os from 'os';
import type { Agent, Dispatcher, RetryHandler } from 'undici';

import { TemporaryNames, writeAtomically } from '../core/atomic-file';
import { Progress } from './progress';

// undici, loaded at the first download: its HTTP parser is a WebAssembly instance that it starts
// creating as soon as the module loads, which costs every program that never downloads, and
// under an address-space limit (ulimit -v, RLIMIT_AS as batch schedulers set) the reservation
// fails and the rejection ends the process.
let undiciModule: typeof import('undici') | undefined;
function undici(): typeof import('undici') {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  undiciModule ??= require('undici') as typeof import('undici');
  return undiciModule;
}

/** A network-side failure (no connection, timeout, HTTP error, cut transfer), in words. */
export class TransferError extends Error {
  override readonly name = 'TransferError';
}

/** The transfer completed, but the bytes are not the expected file. */
export class ChecksumError extends Error {
  override readonly name = 'ChecksumError';

  /**
   * @param expected the sha1 the file should have had
   * @param actual the sha1 of the bytes received
   */
  constructor(readonly expected: string, readonly actual: string) {
    super(`its sha1 is ${actual}, expected ${expected}`);
  }
}

/** How `fetchToFile` behaves. */
export interface FetchOptions {
  /** The lowercase hex sha1 the file must have. */
  readonly sha1: string;
  /** Longest wait, in milliseconds, for a connection, a response or more body bytes. */
  readonly timeoutMs: number;
  /** Redirects followed before giving up. */
  readonly maxRedirects: number;
  /**
   * Retries after failures that may pass (connection refused, reset or cut, a timeout, HTTP
   * 408, 429 or 5xx), counted over the whole download: resumes and restarts together.
   */
  readonly retries: number;
  /**
   * The wait before the first retry, in milliseconds; it doubles with each further retry, up to
   * `MAX_RETRY_DELAY_MS` (or this value, when larger). A server's `Retry-After` replaces it.
   */
  readonly retryDelayMs: number;
  /** Told about the transfer, and about each retry (a note). */
  readonly progress: Progress;
}

/** The longest wait between two retries (unless `retryDelayMs` itself is longer). */
export const MAX_RETRY_DELAY_MS = 30_000;

// Failures that may pass by themselves: the network's, and undici's timeouts and cut sockets.
// ENOTFOUND is not among them: a name that does not resolve will not by waiting.
const RETRY_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN',
  'ENETDOWN', 'ENETUNREACH', 'EHOSTDOWN', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);
// Statuses a server sends when it is momentarily unable (RetryAgent turns them into errors).
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECTS = new Set([300, 301, 302, 303, 307, 308]);

// The fields of the errors undici and Node's sockets throw that matter here.
interface NetworkError extends Error {
  code?: string;
  statusCode?: number;
  headers?: Record<string, string | string[] | undefined>;
  errors?: unknown[];
}

// undici's RetryHandler reports an HTTP status (a retryable one, or one that ended a resume)
// as a RequestRetryError.
function statusOf(error: NetworkError): number | undefined {
  return error.code === 'UND_ERR_REQ_RETRY' && typeof error.statusCode === 'number' ? error.statusCode : undefined;
}

// A failure worth another try of the same request (undici resumes it when it can).
function isRetryable(error: NetworkError): boolean {
  const status = statusOf(error);
  return status !== undefined ? RETRY_STATUSES.has(status) : RETRY_CODES.has(error.code ?? '');
}

// A resume the server turned down: it answered the Range request with the whole file (200),
// with another range or ETag (206), with 412 (the If-Match ETag changed) or 416.
function isResumeRefused(error: NetworkError): boolean {
  const status = statusOf(error);
  return status !== undefined && ((status >= 200 && status < 300) || status === 412 || status === 416);
}

// A transfer that broke off and is worth starting again from byte 0.
function isRestartable(error: NetworkError): boolean {
  return isRetryable(error) || isResumeRefused(error);
}

// A failure in words, for messages.
function describe(error: NetworkError, timeoutMs: number): string {
  switch (error.code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return `timed out: nothing received for ${timeoutMs} ms`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `timed out: no connection within ${timeoutMs} ms`;
    case 'UND_ERR_SOCKET':
      return 'the server closed the connection';
  }
  const status = statusOf(error);
  if (status !== undefined) {
    const http = `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd();
    return isResumeRefused(error) ? `the server did not resume it: ${http}, ${error.message}` : http;
  }
  // Connecting to a name with several addresses fails with all of their errors.
  if (error.message === '' && Array.isArray(error.errors)) return error.errors.map((e) => (e as Error).message).join('; ');
  return error.message || String(error.code ?? error.name);
}

// Milliseconds a `Retry-After` header asks to wait (seconds or an HTTP date), if it is there.
function retryAfterMs(error: NetworkError): number | undefined {
  const header = error.headers?.['retry-after'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

// One download's budget of retries, spent by undici's retries and by our restarts alike.
class RetryBudget {
  /** Retries (resumes and restarts) so far. */
  used = 0;
  /** The failure the last retry was for: the cause of a resume the server then refused. */
  lastRetried: NetworkError | undefined;

  constructor(private readonly options: FetchOptions) {}

  /**
   * Spends one retry on `error` when `worthIt` says it may pass and some are left: tells the
   * progress and returns the wait in milliseconds; undefined when there is no retry.
   */
  claim(error: NetworkError, worthIt: (error: NetworkError) => boolean, what: string): number | undefined {
    const { retries, retryDelayMs, timeoutMs, progress } = this.options;
    if (!worthIt(error) || this.used >= retries) return undefined;
    ++this.used;
    this.lastRetried = error;
    const cap = Math.max(MAX_RETRY_DELAY_MS, retryDelayMs);
    const delay = Math.min(retryAfterMs(error) ?? retryDelayMs * 2 ** (this.used - 1), cap);
    progress.note(`${describe(error, timeoutMs)}; ${what} in ${formatDelay(delay)} (retry ${this.used} of ${retries})`);
    return delay;
  }

  /** ", after 3 retries" once some were spent. */
  suffix(): string {
    return this.used === 0 ? '' : `, after ${this.used} ${this.used === 1 ? 'retry' : 'retries'}`;
  }
}

// undici's stack for one download: a connection pool with our timeouts; its RetryAgent, whose
// retry decisions are ours; redirects outside the retries, so that each hop is retried on its
// own and a resume asks the URL that served the bytes.
function dispatcherFor(options: FetchOptions, budget: RetryBudget): { agent: Agent; dispatcher: Dispatcher } {
  const { timeoutMs } = options;
  const { Agent, RetryAgent, interceptors } = undici();
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const retry: RetryHandler.RetryCallback = (error, _context, callback) => {
    const delay = budget.claim(error, isRetryable, 'retrying');
    if (delay === undefined) callback(error);
    else setTimeout(() => callback(null), delay);
  };
  // statusCodes: the statuses RetryHandler turns into errors for `retry` to judge.
  const dispatcher = new RetryAgent(agent, { retry, statusCodes: [...RETRY_STATUSES] }).compose(interceptors.redirect({ maxRedirections: options.maxRedirects }));
  return { agent, dispatcher };
}

/** The sha1 (lowercase hex) of a file's contents, read as a stream. */
export async function sha1OfFile(filePath: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// A network failure of one attempt, with how far the body had got (undefined: no body yet).
class Interrupted extends Error {
  constructor(readonly failure: NetworkError, readonly received: number | undefined, readonly total: number | undefined) {
    super(failure.message);
  }

  toTransferError(timeoutMs: number, budget: RetryBudget): TransferError {
    let reason = describe(this.failure, timeoutMs);
    // What cut the transfer, besides the server's refusal to resume it.
    if (isResumeRefused(this.failure) && budget.lastRetried !== undefined) reason = `${describe(budget.lastRetried, timeoutMs)}; ${reason}`;
    const what = this.received === undefined
      ? reason
      : `the transfer broke off after ${this.received}${this.total !== undefined ? ` of ${this.total}` : ''} bytes (${reason})`;
    return new TransferError(what + budget.suffix());
  }
}

async function writeAll(file: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

// One GET of `url`, its body written to `file` from offset 0 while hashing it; returns the sha1.
// undici's resumes happen inside it (the body goes on); a failure it cannot resume is thrown as
// Interrupted, an HTTP answer that is no file as TransferError, a failing write as Error.
async function attempt(url: string, dispatcher: Dispatcher, file: fs.FileHandle, partPath: string,
  options: FetchOptions): Promise<string> {
  let response: Dispatcher.ResponseData;
  try {
    response = await undici().request(url, { dispatcher, method: 'GET' });
  } catch (e) {
    throw new Interrupted(e as NetworkError, undefined, undefined);
  }
  const { statusCode, headers, body } = response;
  const history = (response.context as { history?: URL[] } | undefined)?.history;
  const at = history !== undefined && history.length > 0 ? history[history.length - 1].href : url;
  const lengthHeader = headers['content-length'];
  const total = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const hash = createHash('sha1');
  let received = 0;
  let completed = false;
  try {
    if (REDIRECTS.has(statusCode) && headers.location !== undefined) {
      throw new TransferError(`more than ${options.maxRedirects} redirects (the last one to ${String(headers.location)})`);
    }
    if (statusCode < 200 || statusCode >= 300) {
      const where = at === url ? '' : ` (at ${at})`;
      throw new TransferError(`HTTP ${statusCode} ${STATUS_CODES[statusCode] ?? ''}`.trimEnd() + where);
    }
    options.progress.start(total);
    // Iterated by hand to tell a failing read (the network) from a failing write (the disk).
    const chunks: AsyncIterator<Buffer> = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw new Interrupted(e as NetworkError, received, total);
      }
      if (next.done === true) break;
      hash.update(next.value);
      try {
        await writeAll(file, next.value, received);
      } catch (e) {
        throw new Error(`cannot write ${partPath}: ${(e as Error).message}`);
      }
      received += next.value.length;
      options.progress.update(received);
    }
    completed = true;
  } finally {
    options.progress.stop(completed);
    // Frees the connection of a body that was not read to its end (destroying it emits an
    // 'error' nobody else listens to).
    if (!completed) body.once('error', () => undefined).destroy();
  }
  return hash.digest('hex');
}

// The host name as it may appear in a file name.
const HOST = os.hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'host';

// The part files of downloads: `<destination>.part-<host>-<pid>-<random hex>`, named after this
// machine, so that the clean-up before each download (atomic-file's, of killed writers) removes
// this machine's only: a cache shared between machines keeps the others', which may be under way.
const PART_NAME = new RegExp(`^.+\\.part-${HOST.replace(/\./g, '\\.')}-(\\d{1,10})-[0-9a-f]{12}$`, 's');
const PART_FILES: TemporaryNames = Object.freeze({
  pathFor(destination: string, pid: number = process.pid): string {
    return `${destination}.part-${HOST}-${pid}-${randomBytes(6).toString('hex')}`;
  },
  writerOf(name: string): number | undefined {
    const match = PART_NAME.exec(name);
    return match === null ? undefined : Number(match[1]);
  },
});

/** The name of the temporary file a download of `destination` by process `pid` writes. */
export function partPathOf(destination: string, pid: number = process.pid): string {
  return PART_FILES.pathFor(destination, pid);
}

/**
 * Downloads `url` into `destination` (whose directory exists), replacing it atomically: the
 * body goes to `<destination>.part-<host>-<pid>-<random>` and is renamed over `destination`
 * only once all of it arrived, it was synced to disk and its sha1 is `options.sha1`. On any
 * failure the partial file is removed and `destination` is as it was; temporary files of
 * earlier downloads on this machine whose process is gone (killed) are removed first.
 *
 * Failures that may pass are retried (`options.retries` in all, waiting `options.retryDelayMs`,
 * then twice as long each time): a transfer cut short resumes from the bytes already received
 * where the server supports ranges, and starts over from byte 0 where it does not.
 * @throws TransferError for network and HTTP failures, ChecksumError for a file with another
 *   sha1, Error for local file system failures.
 */
export async function fetchToFile(url: string, destination: string, options: FetchOptions): Promise<void> {
  const protocol = new URL(url).protocol;
  if (protocol !== 'http:' && protocol !== 'https:') throw new TransferError(`unsupported protocol ${protocol} in ${url}`);
  const budget = new RetryBudget(options);
  const { agent, dispatcher } = dispatcherFor(options, budget);
  try {
    // The part file appears as `destination` only once complete, synced and verified; on any
    // failure it is removed (atomic-file's rename and clean-up, with the part files' names).
    await writeAtomically(destination, async (file, partPath) => {
      let sha1: string;
      for (;;) {
        try {
          sha1 = await attempt(url, dispatcher, file, partPath, options);
          break;
        } catch (e) {
          if (!(e instanceof Interrupted)) throw e;
          const delay = budget.claim(e.failure, isRestartable, 'starting over from byte 0');
          if (delay === undefined) throw e.toTransferError(options.timeoutMs, budget);
          await new Promise((resolve) => setTimeout(resolve, delay));
          await file.truncate(0);
        }
      }
      if (sha1 !== options.sha1) throw new ChecksumError(options.sha1, sha1);
    }, { names: PART_FILES });
  } finally {
    await agent.destroy();
  }
}
