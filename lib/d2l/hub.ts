/**
 * d2l's data hub (`d2l.DATA_HUB`, `d2l.download`, `d2l.download_extract`): the files d2l's
 * "Natural Language Inference: Fine-Tuning BERT" fetches, cached and verified by sha1.
 *
 * ```ts
 * import { downloadExtract } from 'torchbridge/lib/d2l/hub';
 * const dataDir = await downloadExtract('SNLI');        // ~/.cache/torchbridge/snli_1.0
 * const bertDir = await downloadExtract('bert.small');  // ~/.cache/torchbridge/bert.small.torch
 * ```
 *
 * Without internet, put the archive where the error message says (the cache directory, under
 * the URL's file name); it is then verified by sha1 and used as if downloaded.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ChecksumError, TransferError, fetchToFile, sha1OfFile } from './download';
import { extractZip } from './extract';
import { ProgressSink, createProgress } from './progress';

export type { ProgressSink } from './progress';

/** Where d2l keeps its data files (`d2l.DATA_URL`). */
export const DATA_URL = 'http://d2l-data.s3-accelerate.amazonaws.com/';

/** A downloadable file: where it is, and the sha1 (lowercase hex) it must have. */
export interface HubEntry {
  readonly url: string;
  readonly sha1: string;
}

/** The names `DATA_HUB` knows. */
export type HubName = 'SNLI' | 'bert.small' | 'bert.base';

/**
 * A name to download: one of `DATA_HUB`'s, or of a custom `hub` option. (`string & {}` rather
 * than `string` keeps editors completing the built-in names.)
 */
export type DatasetName = HubName | (string & {});

/**
 * d2l's `DATA_HUB` entries used by the BERT fine-tuning section: the SNLI corpus and d2l's
 * pretrained small and base BERT (`vocab.json` and `pretrained.params` in a folder).
 */
export const DATA_HUB: Readonly<Record<HubName, HubEntry>> = Object.freeze({
  SNLI: Object.freeze({
    url: 'https://nlp.stanford.edu/projects/snli/snli_1.0.zip',
    sha1: '9fcde07509c7e87ec61c640c1b2753d9041758e4',
  }),
  'bert.small': Object.freeze({
    url: `${DATA_URL}bert.small.torch.zip`,
    sha1: 'c72329e68a732bef0452e4b96a1c341c8910f81f',
  }),
  'bert.base': Object.freeze({
    url: `${DATA_URL}bert.base.torch.zip`,
    sha1: '225d66f04cae318b841a13d32af3acc165f253ac',
  }),
});

/** The environment variable naming the cache directory when no `cacheDir` option is given. */
export const CACHE_DIR_ENV = 'TORCHBRIDGE_DATA_DIR';

/** Default of `fetchTimeoutMs`. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;

/** Default of `retries`. */
export const DEFAULT_RETRIES = 5;

/** Default of `retryDelayMs`: with 5 retries, 0.5 + 1 + 2 + 4 + 8 s of waiting at most. */
export const DEFAULT_RETRY_DELAY_MS = 500;

// As many as d2l users meet in practice (S3 and Stanford redirect at most once or twice).
const MAX_REDIRECTS = 5;
// Node's timers take at most 2^31 - 1 ms; a larger delay silently becomes 1 ms.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Where files are cached. */
export interface CacheOptions {
  /** The cache directory; default `$TORCHBRIDGE_DATA_DIR`, else `~/.cache/torchbridge`. */
  cacheDir?: string;
}

/** Options of `download`. */
export interface DownloadOptions extends CacheOptions {
  /**
   * `true` (default): a bar on a terminal (stderr), plain lines every 10% otherwise; a function
   * receives those lines instead; `false` prints nothing.
   */
  progress?: boolean | ProgressSink;
  /** Longest wait, in milliseconds, for a connection, a response or more data; default 30 s. */
  fetchTimeoutMs?: number;
  /**
   * Retries after failures that may pass (connection refused, reset or cut, a timeout, HTTP
   * 408, 429 or 5xx), over the whole download; default 5, 0 for none. A transfer cut short
   * resumes from the bytes received (a `Range` request) where the server allows it, and starts
   * over otherwise. A 404 or another error that waiting does not mend is not retried.
   */
  retries?: number;
  /**
   * The wait before the first retry, in milliseconds, doubled for each further one (at most
   * 30 s apart, or this value when larger); a server's `Retry-After` replaces it. Default 500.
   */
  retryDelayMs?: number;
  /** The entries to look `name` up in instead of `DATA_HUB` (e.g. `{ ...DATA_HUB, mine: {...} }`). */
  hub?: Readonly<Record<string, HubEntry>>;
}

/** Options of `downloadExtract`. */
export interface DownloadExtractOptions extends DownloadOptions {
  /** The folder (relative to the cache directory) to return, as d2l's `folder` argument. */
  folder?: string;
}

/**
 * A download that failed or brought the wrong file. The message names the dataset, the URL,
 * the cause, and the path and sha1 under which a file downloaded by hand is accepted.
 */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  /** The hub name. */
  readonly dataset: string;
  readonly url: string;
  /** Where the file belongs: a file placed there by hand, with `sha1`, is used. */
  readonly path: string;
  readonly sha1: string;

  constructor(message: string, file: { dataset: string; url: string; path: string; sha1: string }) {
    super(message);
    this.dataset = file.dataset;
    this.url = file.url;
    this.path = file.path;
    this.sha1 = file.sha1;
  }
}

/**
 * The cache directory, absolute: the `cacheDir` option, else the environment variable
 * `TORCHBRIDGE_DATA_DIR` (when set and not empty), else `<home>/.cache/torchbridge`.
 */
export function cacheDir(options: CacheOptions = {}): string {
  if (options.cacheDir === '') throw new TypeError('cacheDir: the cacheDir option is an empty string');
  const fromEnv = process.env[CACHE_DIR_ENV];
  const chosen = options.cacheDir ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : path.join(os.homedir(), '.cache', 'torchbridge'));
  return path.resolve(chosen);
}

// `name`'s entry, checked, and the file it is cached in (named as d2l does: after the URL).
function locate(name: string, options: DownloadOptions): { entry: HubEntry; file: string } {
  const hub: Readonly<Record<string, HubEntry>> = options.hub ?? DATA_HUB;
  if (!Object.prototype.hasOwnProperty.call(hub, name)) {
    throw new Error(`unknown dataset '${name}': the hub has ${Object.keys(hub).map((k) => `'${k}'`).join(', ')}`);
  }
  const { url, sha1 } = hub[name];
  if (!/^[0-9a-fA-F]{40}$/.test(sha1)) throw new TypeError(`the hub entry '${name}' has sha1 '${sha1}', not 40 hex digits`);
  let fileName: string;
  try {
    fileName = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch (e) {
    throw new TypeError(`the hub entry '${name}' has an invalid url '${url}': ${(e as Error).message}`);
  }
  if (fileName === '' || fileName === '.' || fileName === '..' || /[\\/]/.test(fileName)) {
    throw new TypeError(`the hub entry '${name}' has url '${url}', which does not end in a file name`);
  }
  return { entry: { url, sha1: sha1.toLowerCase() }, file: path.join(cacheDir(options), fileName) };
}

// The sha1 of the cached file, or undefined when there is none.
async function cachedSha1(file: string): Promise<string | undefined> {
  try {
    return await sha1OfFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

// The cached file of `name`, downloaded unless it is there with the right sha1.
async function fetchCached(name: string, options: DownloadOptions): Promise<{ entry: HubEntry; file: string }> {
  const timeoutMs = options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
    throw new TypeError(`fetchTimeoutMs must be a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, got ${timeoutMs}`);
  }
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!(Number.isSafeInteger(retries) && retries >= 0)) throw new TypeError(`retries must be a whole number from 0, got ${retries}`);
  const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  if (!(Number.isFinite(retryDelayMs) && retryDelayMs >= 0 && retryDelayMs <= MAX_TIMEOUT_MS)) {
    throw new TypeError(`retryDelayMs must be a number of milliseconds from 0 to ${MAX_TIMEOUT_MS}, got ${retryDelayMs}`);
  }
  const { entry, file } = locate(name, options);
  const progress = createProgress(options.progress ?? true, name);
  const cached = await cachedSha1(file);
  if (cached === entry.sha1) return { entry, file };
  if (cached !== undefined) progress.note(`${file} has sha1 ${cached}, expected ${entry.sha1}: downloading it again`);
  const directory = path.dirname(file);
  try {
    await fs.mkdir(directory, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create the cache directory ${directory}: ${(e as Error).message}; ` +
      `choose another with the cacheDir option or ${CACHE_DIR_ENV}`);
  }
  progress.note(`Downloading ${file} from ${entry.url}...`);
  try {
    await fetchToFile(entry.url, file, { sha1: entry.sha1, timeoutMs, maxRedirects: MAX_REDIRECTS, retries, retryDelayMs, progress });
  } catch (e) {
    const where = { dataset: name, url: entry.url, path: file, sha1: entry.sha1 };
    const byHand = `download it elsewhere and place it at ${file} (sha1 ${entry.sha1}), ` +
      `or point ${CACHE_DIR_ENV} (or the cacheDir option) at a directory that holds a copy named ${path.basename(file)}`;
    if (e instanceof TransferError) {
      throw new DownloadError(`cannot download ${name} from ${entry.url}: ${e.message}. Without internet, ${byHand}`, where);
    }
    if (e instanceof ChecksumError) {
      throw new DownloadError(`downloaded ${name} from ${entry.url}, but ${e.message}; the file was removed. ` +
        `The server may hold another version than the one registered; to use the registered one, ${byHand}`, where);
    }
    throw e;
  }
  return { entry, file };
}

/**
 * The path of hub file `name` in the cache directory, downloading it first unless a file with
 * the right sha1 is already there (a cached file with another sha1 is downloaded again, and a
 * note says so). The download streams to a temporary file beside the target, renamed into
 * place only once complete, synced and verified: an interrupted download leaves no file (one
 * left by a killed process is removed by the next download). Failures that may pass are
 * retried (`retries`, `retryDelayMs`); a cut transfer resumes where it stopped when it can.
 * @param name a `DATA_HUB` name ('SNLI', 'bert.small', 'bert.base') or one of `options.hub`
 * @throws DownloadError when the download fails (no network, refused, timed out, HTTP error,
 *   cut short), after its retries, or brings a file with another sha1, saying where to put the
 *   file by hand;
 *   Error for an unknown name or local file system failures; TypeError for bad options.
 */
export async function download(name: DatasetName, options: DownloadOptions = {}): Promise<string> {
  return (await fetchCached(name, options)).file;
}

/**
 * Downloads hub file `name` (as `download`), extracts the zip archive into the cache directory
 * and returns `<cache>/<folder>` when `folder` is given, else the archive's path without its
 * extension (`'SNLI'` -> `<cache>/snli_1.0`, `'bert.small'` -> `<cache>/bert.small.torch`).
 * The extraction is skipped when a marker beside it shows that this archive (same sha1) was
 * extracted completely before; an interrupted extraction leaves no marker and is redone.
 * @throws as `download`; Error when the file is not a zip archive, an entry would land outside
 *   the cache directory (zip slip), or the returned folder is not in the archive.
 */
export async function downloadExtract(name: DatasetName, options: DownloadExtractOptions = {}): Promise<string> {
  const { entry, file: archive } = await fetchCached(name, options);
  const baseDir = path.dirname(archive);
  const extension = path.extname(archive);
  if (extension.toLowerCase() !== '.zip') throw new Error(`cannot extract ${archive}: only zip archives are supported`);
  const progress = createProgress(options.progress ?? true, name);
  await extractZip(archive, baseDir, { sha1: entry.sha1, note: (line) => progress.note(line) });
  const target = options.folder !== undefined ? path.join(baseDir, options.folder) : archive.slice(0, -extension.length);
  try {
    await fs.lstat(target);
  } catch {
    throw new Error(`${archive} was extracted into ${baseDir}, but it holds no ${path.relative(baseDir, target)}`);
  }
  return target;
}
