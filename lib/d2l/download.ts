/**
 * Fetching one URL into one file with Node's http/https: redirects followed, an idle timeout,
 * the body streamed to a temporary file while its sha1 is computed, and the file renamed into
 * place only once it is complete, synced and verified. Whatever fails, no partial file stays.
 */
import { createHash, randomBytes } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as http from 'http';
import * as https from 'https';

import { Progress } from './progress';

/** A network-side failure (no connection, timeout, HTTP error, cut transfer), in words. */
export class TransferError extends Error {
  override readonly name = 'TransferError';
}

/** The transfer completed, but the bytes are not the expected file. */
export class ChecksumError extends Error {
  override readonly name = 'ChecksumError';

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
  readonly progress: Progress;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The sha1 (lowercase hex) of a file's contents, read as a stream. */
export async function sha1OfFile(path: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// One request in flight, with the failure that ended it, if any: once the response has begun,
// a timeout or socket error shows on the body only as a generic "aborted".
interface Exchange {
  readonly request: http.ClientRequest;
  readonly response: http.IncomingMessage;
  readonly failure: () => Error | undefined;
}

function get(url: URL, timeoutMs: number): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    let failure: Error | undefined;
    const request = client.get(url);
    // Idle time on the socket: covers connecting, waiting for headers and a stalled body, but
    // not a large file that keeps arriving slowly.
    request.setTimeout(timeoutMs, () => {
      request.destroy(new TransferError(`timed out: nothing received for ${timeoutMs} ms`));
    });
    // Stays attached for the request's whole life, so that an error after the response began
    // is recorded rather than thrown as an unhandled 'error' event.
    request.on('error', (e) => {
      failure ??= e;
      reject(e instanceof TransferError ? e : new TransferError(e.message));
    });
    request.on('response', (response) => resolve({ request, response, failure: () => failure }));
  });
}

// The response with the body to save, after following redirects (http to https included).
async function open(url: string, options: FetchOptions): Promise<Exchange> {
  let current = new URL(url);
  for (let redirects = 0; ; ++redirects) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new TransferError(`unsupported protocol ${current.protocol} in ${current.href}`);
    }
    const exchange = await get(current, options.timeoutMs);
    const { statusCode = 0, statusMessage = '', headers } = exchange.response;
    if (REDIRECTS.has(statusCode) && headers.location !== undefined) {
      // Drained, so that a keep-alive socket can serve the next request.
      exchange.response.resume();
      if (redirects === options.maxRedirects) {
        throw new TransferError(`more than ${options.maxRedirects} redirects (the last one to ${headers.location})`);
      }
      current = new URL(headers.location, current);
      continue;
    }
    if (statusCode < 200 || statusCode >= 300) {
      exchange.request.destroy();
      const where = current.href === url ? '' : ` (at ${current.href})`;
      throw new TransferError(`HTTP ${statusCode} ${statusMessage}`.trimEnd() + where);
    }
    return exchange;
  }
}

async function writeAll(file: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done);
    done += bytesWritten;
  }
}

// Streams the body into `file`, hashing it on the way; returns the sha1.
async function receive(exchange: Exchange, file: fs.FileHandle, partPath: string, progress: Progress): Promise<string> {
  const { response } = exchange;
  const lengthHeader = response.headers['content-length'];
  const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const hash = createHash('sha1');
  let received = 0;
  const brokeOff = (why: string): TransferError =>
    new TransferError(`the transfer broke off after ${received}${total !== undefined ? ` of ${total}` : ''} bytes (${why})`);
  // Iterated by hand to tell a failing read (the network) from a failing write (the disk).
  const chunks: AsyncIterator<Buffer> = response[Symbol.asyncIterator]();
  let completed = false;
  progress.start(total);
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (e) {
        throw brokeOff((exchange.failure() ?? (e as Error)).message);
      }
      if (next.done === true) break;
      hash.update(next.value);
      try {
        await writeAll(file, next.value);
      } catch (e) {
        throw new Error(`cannot write ${partPath}: ${(e as Error).message}`);
      }
      received += next.value.length;
      progress.update(received);
    }
    // A body shorter than its Content-Length needs no check here: Node's parser reports the
    // early close as an error ("aborted") on the stream, handled above.
    completed = true;
  } finally {
    progress.stop(completed);
  }
  return hash.digest('hex');
}

/**
 * Downloads `url` into `destination` (whose directory exists), replacing it atomically: the
 * body goes to `<destination>.part-<pid>-<random>` and is renamed over `destination` only
 * once all of it arrived, it was synced to disk and its sha1 is `options.sha1`. On any failure
 * the partial file is removed and `destination` is as it was.
 * @throws TransferError for network and HTTP failures, ChecksumError for a file with another
 *   sha1, Error for local file system failures.
 */
export async function fetchToFile(url: string, destination: string, options: FetchOptions): Promise<void> {
  const partPath = `${destination}.part-${process.pid}-${randomBytes(6).toString('hex')}`;
  let exchange: Exchange | undefined;
  let renamed = false;
  try {
    exchange = await open(url, options);
    const file = await fs.open(partPath, 'wx');
    let sha1: string;
    try {
      sha1 = await receive(exchange, file, partPath, options.progress);
      await file.sync();
    } finally {
      await file.close();
    }
    if (sha1 !== options.sha1) throw new ChecksumError(options.sha1, sha1);
    await fs.rename(partPath, destination);
    renamed = true;
  } finally {
    // Frees the socket of a response that was not read to its end.
    if (exchange !== undefined && !exchange.response.complete) exchange.request.destroy();
    if (!renamed) await fs.rm(partPath, { force: true });
  }
}
