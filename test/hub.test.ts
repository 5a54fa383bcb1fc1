// The data hub against a local HTTP server (127.0.0.1 only): downloads, the cache, sha1
// checks, retries and Range resumes of cut transfers, failures that leave no file and explain
// where to put one by hand, redirects, zip extraction, progress.
import { strict as assert } from 'assert';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import * as zlib from 'zlib';

import { partPathOf } from '../lib/d2l/download';
import { entryComponents } from '../lib/d2l/extract';
import { CACHE_DIR_ENV, DATA_HUB, DownloadError, HubEntry, cacheDir, download, downloadExtract } from '../lib/d2l/hub';
import { LineProgress, createProgress } from '../lib/d2l/progress';
import { crc32 } from '../lib/serialization/zip';

// ---- a zip writer independent of lib/'s (stored and deflated entries) ----------------------
// Only the CRC-32 is lib/'s, the one of the whole project: the checkpoints PyTorch wrote for
// test/serialization pin it to Python's zlib.crc32.

/** An entry to zip; without `data` it is a directory entry (its name ends in '/'). */
interface ZipItem {
  name: string;
  data?: Buffer;
  deflate?: boolean;
}

function zipArchive(items: ZipItem[]): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const { name, data = Buffer.alloc(0), deflate = false } of items) {
    const nameBytes = Buffer.from(name, 'utf8');
    const body = deflate ? zlib.deflateRawSync(data) : data;
    const method = deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, nameBytes, body);
    directory.push(central, nameBytes);
    offset += local.length + nameBytes.length + body.length;
  }
  const centralDirectory = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(items.length, 8);
  end.writeUInt16LE(items.length, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralDirectory, end]);
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

// A deterministic byte pattern that deflate cannot shrink much.
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; ++i) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

// ---- fixtures ------------------------------------------------------------------------------

const VOCAB = Buffer.from(JSON.stringify(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 200 }, (_, k) => `token${k}`)]));
const PARAMS = pseudoRandomBytes(50_000, 7);
const BERT_ZIP = zipArchive([
  { name: 'bert.small.torch/' },
  { name: 'bert.small.torch/vocab.json', data: VOCAB, deflate: true },
  { name: 'bert.small.torch/pretrained.params', data: PARAMS },
]);
const SNLI_DEV = Buffer.from('gold_label\tsentence1\tsentence2\nneutral\tA man.\tA person.\n'.repeat(50));
const SNLI_ZIP = zipArchive([
  { name: 'snli_1.0/' },
  { name: 'snli_1.0/snli_1.0_dev.txt', data: SNLI_DEV, deflate: true },
  { name: '__MACOSX/' },
  { name: '__MACOSX/snli_1.0/._snli_1.0_dev.txt', data: Buffer.from('mac metadata') },
]);
const EVIL_ZIP = zipArchive([
  { name: 'good.txt', data: Buffer.from('fine') },
  { name: '../evil.txt', data: Buffer.from('escaped') },
]);
// Sent in ten parts, so that progress has something to report.
const PROGRESS_FILE = pseudoRandomBytes(1 << 20, 3);
const PROGRESS_PARTS = 10;

// ---- the server ----------------------------------------------------------------------------

let server: http.Server;
let base: string;
let refusedUrl: string;
/** The paths the server was asked for, in order, and the headers of each request. */
const requests: string[] = [];
const requestHeaders: http.IncomingHttpHeaders[] = [];
/** How often each path was asked for in the current test. */
const hits = new Map<string, number>();

const L = BERT_ZIP.length;
// Where the connection is cut: bytes of each response's body sent before the cut.
const CUT = 20_000;
// BERT_ZIP changed in one byte: what a server holding another version sends.
const OTHER_ZIP = Buffer.from(BERT_ZIP);
OTHER_ZIP[100] ^= 0xff;

/** How `sendFile` answers. */
interface Send {
  /** Honour a Range header (206 with Content-Range); otherwise send the whole file (200). */
  ranges?: boolean;
  etag?: string;
  /** Send no Content-Length (chunked). */
  chunked?: boolean;
  /** Send this many bytes of the body, then close the connection (FIN; `reset`: destroy it). */
  cutAfter?: number;
  reset?: boolean;
  /** Send this many bytes of the body, then nothing more. */
  stallAfter?: number;
}

function sendFile(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, how: Send = {}): void {
  const range = how.ranges === true ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
  const start = range !== null ? Number(range[1]) : 0;
  const end = range !== null && range[2] !== '' ? Number(range[2]) : body.length - 1;
  const part = body.subarray(start, end + 1);
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/zip' };
  if (how.chunked !== true) headers['Content-Length'] = part.length;
  if (how.etag !== undefined) headers.ETag = how.etag;
  if (how.ranges === true) headers['Accept-Ranges'] = 'bytes';
  if (range !== null) headers['Content-Range'] = `bytes ${start}-${end}/${body.length}`;
  res.writeHead(range !== null ? 206 : 200, headers);
  if (how.cutAfter !== undefined) {
    res.write(part.subarray(0, how.cutAfter), () => (how.reset === true ? res.socket?.destroy() : res.socket?.end()));
  } else if (how.stallAfter !== undefined) {
    res.write(part.subarray(0, how.stallAfter));
  } else {
    res.end(part);
  }
}

const FILES: Record<string, Buffer> = {
  '/files/bert.small.torch.zip': BERT_ZIP,
  '/files/snli_1.0.zip': SNLI_ZIP,
  '/files/evil.zip': EVIL_ZIP,
};

// `hit` is how many times the path was asked for before, in this test.
function route(req: http.IncomingMessage, res: http.ServerResponse, hit: number): void {
  const url = req.url ?? '';
  const file = FILES[url];
  if (file !== undefined) return sendFile(req, res, file);
  switch (url.replace(/\/bert\.small\.torch\.zip$/, '')) {
    case '/chunked':
      // No Content-Length: the size is unknown until the end.
      return sendFile(req, res, BERT_ZIP, { chunked: true });
    case '/flaky':
      // Resumable; the first two responses are cut after CUT bytes.
      return sendFile(req, res, BERT_ZIP, { ranges: true, etag: '"v1"', cutAfter: hit < 2 ? CUT : undefined });
    case '/reset':
      // As /flaky, once, but the connection is destroyed, not closed (maybe a reset).
      return sendFile(req, res, BERT_ZIP, { ranges: true, cutAfter: hit < 1 ? CUT : undefined, reset: true });
    case '/cut':
      // Resumable, but every response is cut.
      return sendFile(req, res, BERT_ZIP, { ranges: true, cutAfter: 10_000 });
    case '/norange':
      // Cut once; ignores Range, always sending the whole file.
      return sendFile(req, res, BERT_ZIP, { etag: '"v1"', cutAfter: hit < 1 ? CUT : undefined });
    case '/changing':
      // Cut once; the file then changes: If-Match "v1" fails, and the new version has "v2".
      if (hit === 0) return sendFile(req, res, BERT_ZIP, { ranges: true, etag: '"v1"', cutAfter: CUT });
      if (req.headers['if-match'] === '"v1"') return void res.writeHead(412).end();
      return sendFile(req, res, OTHER_ZIP, { ranges: true, etag: '"v2"' });
    case '/chunked-cut':
      // Unannounced size, so not resumable: cut once.
      return sendFile(req, res, BERT_ZIP, { chunked: true, cutAfter: hit < 1 ? CUT : undefined });
    case '/busy':
      // Unavailable twice (the second time asking for a second's wait), then there.
      if (hit === 0) return void res.writeHead(503).end();
      if (hit === 1) return void res.writeHead(503, { 'Retry-After': '1' }).end();
      return sendFile(req, res, BERT_ZIP);
    case '/down':
      return void res.writeHead(503).end();
    case '/moved':
      return void res.writeHead(301, { Location: '/again/bert.small.torch.zip' }).end();
    case '/again':
      return void res.writeHead(307, { Location: `${base}/files/bert.small.torch.zip` }).end();
    case '/moved-flaky':
      return void res.writeHead(302, { Location: '/flaky/bert.small.torch.zip' }).end();
    case '/moved-missing':
      return void res.writeHead(302, { Location: '/missing/bert.small.torch.zip' }).end();
    case '/loop':
      return void res.writeHead(302, { Location: url }).end();
    case '/stall':
      // Resumable; each response stops after 1000 bytes.
      return sendFile(req, res, BERT_ZIP, { ranges: true, stallAfter: 1000 });
    case '/silent':
      return;
    case '/files/progress.bin': {
      res.writeHead(200, { 'Content-Length': PROGRESS_FILE.length });
      const size = PROGRESS_FILE.length / PROGRESS_PARTS;
      const send = (k: number): void => {
        if (k === PROGRESS_PARTS) return void res.end();
        res.write(PROGRESS_FILE.subarray(k * size, (k + 1) * size));
        setTimeout(() => send(k + 1), 25);
      };
      send(0);
      return;
    }
    default:
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here');
  }
}

function hub(): Record<string, HubEntry> {
  const good = sha1(BERT_ZIP);
  const entries: Record<string, HubEntry> = {
    wrong: { url: `${base}/files/bert.small.torch.zip`, sha1: 'c72329e68a732bef0452e4b96a1c341c8910f81f' },
    refused: { url: refusedUrl, sha1: good },
    SNLI: { url: `${base}/files/snli_1.0.zip`, sha1: sha1(SNLI_ZIP) },
    evil: { url: `${base}/files/evil.zip`, sha1: sha1(EVIL_ZIP) },
    progress: { url: `${base}/files/progress.bin`, sha1: sha1(PROGRESS_FILE) },
    'bert.small': { url: `${base}/files/bert.small.torch.zip`, sha1: good },
  };
  for (const name of ['chunked', 'flaky', 'reset', 'cut', 'norange', 'changing', 'chunked-cut', 'busy', 'down', 'moved',
    'moved-flaky', 'moved-missing', 'loop', 'stall', 'silent', 'missing']) {
    entries[name] = { url: `${base}/${name}/bert.small.torch.zip`, sha1: good };
  }
  return entries;
}

function listen(s: http.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

describe('data hub', function () {
  this.timeout(20_000);
  let root: string;
  let cache: string;

  before(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(url);
      requestHeaders.push(req.headers);
      const hit = hits.get(url) ?? 0;
      hits.set(url, hit + 1);
      route(req, res, hit);
    });
    base = `http://127.0.0.1:${await listen(server)}`;
    // A port that was just free: nothing listens there, so connecting is refused.
    const closed = http.createServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    refusedUrl = `http://127.0.0.1:${port}/bert.small.torch.zip`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-hub-'));
    cache = path.join(root, 'cache');
    requests.length = 0;
    requestHeaders.length = 0;
    hits.clear();
  });

  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  interface TestOptions {
    progress?: boolean | ((line: string) => void);
    fetchTimeoutMs?: number;
    retries?: number;
    retryDelayMs?: number;
    folder?: string;
  }
  // Three retries, 10 ms apart at first: failures that pass are tested without waiting long.
  const options = (more: TestOptions = {}) =>
    ({ cacheDir: cache, hub: hub(), progress: false, retries: 3, retryDelayMs: 10, ...more });

  const ranges = (): (string | undefined)[] => requestHeaders.map((h) => h.range);
  const byHandAdvice = (target: string, sha: string): string =>
    `download it elsewhere and place it at ${target} (sha1 ${sha}), ` +
    `or point ${CACHE_DIR_ENV} (or the cacheDir option) at a directory that holds a copy named ${path.basename(target)}`;

  // Checks the "place it by hand" advice and that the cache holds nothing.
  async function assertFailsLeavingNothing(name: string, cause: RegExp, more: TestOptions = {}): Promise<void> {
    const target = path.join(cache, 'bert.small.torch.zip');
    await assert.rejects(download(name, options({ fetchTimeoutMs: 300, ...more })), (e: unknown) => {
      assert.ok(e instanceof DownloadError, String(e));
      assert.ok(e.message.startsWith(`cannot download ${name} from ${hub()[name].url}: `), e.message);
      assert.match(e.message, cause);
      assert.ok(e.message.endsWith(`Without internet, ${byHandAdvice(target, sha1(BERT_ZIP))}`), e.message);
      assert.deepEqual([e.dataset, e.url, e.path, e.sha1], [name, hub()[name].url, target, sha1(BERT_ZIP)]);
      return true;
    });
    assert.deepEqual(fs.readdirSync(cache), []);
  }

  describe('DATA_HUB and the cache directory', () => {
    it("holds d2l's URLs and sha1 sums", () => {
      assert.deepEqual(DATA_HUB, {
        SNLI: { url: 'https://nlp.stanford.edu/projects/snli/snli_1.0.zip', sha1: '9fcde07509c7e87ec61c640c1b2753d9041758e4' },
        'bert.small': { url: 'http://d2l-data.s3-accelerate.amazonaws.com/bert.small.torch.zip', sha1: 'c72329e68a732bef0452e4b96a1c341c8910f81f' },
        'bert.base': { url: 'http://d2l-data.s3-accelerate.amazonaws.com/bert.base.torch.zip', sha1: '225d66f04cae318b841a13d32af3acc165f253ac' },
      });
      assert.ok(Object.isFrozen(DATA_HUB) && Object.isFrozen(DATA_HUB.SNLI));
    });

    it('resolves the cache directory: option, then environment, then ~/.cache/torchbridge', () => {
      const saved = process.env[CACHE_DIR_ENV];
      try {
        process.env[CACHE_DIR_ENV] = path.join(root, 'from-env');
        assert.equal(cacheDir({ cacheDir: 'relative/dir' }), path.resolve('relative/dir'));
        assert.equal(cacheDir(), path.join(root, 'from-env'));
        process.env[CACHE_DIR_ENV] = '';
        assert.equal(cacheDir(), path.join(os.homedir(), '.cache', 'torchbridge'));
        delete process.env[CACHE_DIR_ENV];
        assert.equal(cacheDir({}), path.join(os.homedir(), '.cache', 'torchbridge'));
      } finally {
        if (saved === undefined) delete process.env[CACHE_DIR_ENV];
        else process.env[CACHE_DIR_ENV] = saved;
      }
    });

    it('downloads into the directory the environment variable names', async () => {
      const saved = process.env[CACHE_DIR_ENV];
      try {
        process.env[CACHE_DIR_ENV] = cache;
        const file = await download('bert.small', { hub: hub(), progress: false });
        assert.equal(file, path.join(cache, 'bert.small.torch.zip'));
        assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      } finally {
        if (saved === undefined) delete process.env[CACHE_DIR_ENV];
        else process.env[CACHE_DIR_ENV] = saved;
      }
    });

    it('rejects unknown names, malformed entries and bad options', async () => {
      await assert.rejects(download('bert.tiny', { cacheDir: cache, progress: false }),
        /unknown dataset 'bert.tiny': the hub has 'SNLI', 'bert.small', 'bert.base'/);
      await assert.rejects(download('x', { cacheDir: cache, hub: { x: { url: `${base}/files/x.zip`, sha1: 'abc' } } }),
        (e: unknown) => e instanceof TypeError && /'x' has sha1 'abc', not 40 hex digits/.test(e.message));
      await assert.rejects(download('x', { cacheDir: cache, hub: { x: { url: `${base}/files/`, sha1: sha1(BERT_ZIP) } } }),
        (e: unknown) => e instanceof TypeError && /does not end in a file name/.test(e.message));
      for (const fetchTimeoutMs of [0, 2 ** 31, Number.NaN]) {
        await assert.rejects(download('bert.small', options({ fetchTimeoutMs })),
          (e: unknown) => e instanceof TypeError && /fetchTimeoutMs must be a number of milliseconds from 1 to 2147483647/.test(e.message));
      }
      for (const retries of [-1, 1.5, Number.NaN, Infinity]) {
        await assert.rejects(download('bert.small', options({ retries })),
          (e: unknown) => e instanceof TypeError && e.message === `retries must be a whole number from 0, got ${retries}`);
      }
      for (const retryDelayMs of [-1, 2 ** 31, Number.NaN]) {
        await assert.rejects(download('bert.small', options({ retryDelayMs })),
          (e: unknown) => e instanceof TypeError && /retryDelayMs must be a number of milliseconds from 0 to 2147483647/.test(e.message));
      }
      assert.equal(requests.length, 0);
    });
  });

  describe('download', () => {
    it('downloads the file into the cache, named after the URL, and verifies it', async () => {
      const file = await download('bert.small', options());
      assert.equal(file, path.join(cache, 'bert.small.torch.zip'));
      assert.equal(sha1(fs.readFileSync(file)), sha1(BERT_ZIP));
      assert.deepEqual(requests, ['/files/bert.small.torch.zip']);
      assert.deepEqual(ranges(), [undefined]);
      assert.deepEqual(fs.readdirSync(cache), ['bert.small.torch.zip']);
    });

    it('uses a cached file with the right sha1 without asking the server', async () => {
      const first = await download('bert.small', options());
      const again = await download('bert.small', options());
      assert.equal(again, first);
      assert.equal(requests.length, 1);
    });

    it('downloads again over a cached file with another sha1, and says so', async () => {
      fs.mkdirSync(cache);
      const target = path.join(cache, 'bert.small.torch.zip');
      fs.writeFileSync(target, 'half a download');
      const lines: string[] = [];
      const file = await download('bert.small', options({ progress: (line) => lines.push(line) }));
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.equal(requests.length, 1);
      assert.equal(lines[0], `${target} has sha1 ${sha1(Buffer.from('half a download'))}, expected ${sha1(BERT_ZIP)}: downloading it again`);
    });

    it('reports a file with another sha1 (expected and got), removes it, and does not retry', async () => {
      const target = path.join(cache, 'bert.small.torch.zip');
      await assert.rejects(download('wrong', options()), (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.ok(e.message.startsWith(`downloaded wrong from ${base}/files/bert.small.torch.zip, but its sha1 is ${sha1(BERT_ZIP)}, ` +
          'expected c72329e68a732bef0452e4b96a1c341c8910f81f; the file was removed.'), e.message);
        assert.ok(e.message.endsWith(byHandAdvice(target, 'c72329e68a732bef0452e4b96a1c341c8910f81f')), e.message);
        return true;
      });
      assert.equal(requests.length, 1);
      assert.deepEqual(fs.readdirSync(cache), []);
    });

    it('removes the temporary files of killed downloads on this machine, and keeps those of running ones', async () => {
      fs.mkdirSync(cache);
      const target = path.join(cache, 'bert.small.torch.zip');
      // Above Linux's largest pid (2^22): no such process.
      const dead = partPathOf(target, 2 ** 22 + 1);
      const running = partPathOf(target, process.ppid);
      const ours = partPathOf(target);
      const otherMachine = `${target}.part-elsewhere.example-${2 ** 22 + 1}-0123456789ab`;
      for (const file of [dead, running, ours, otherMachine]) fs.writeFileSync(file, 'partial');
      await download('bert.small', options());
      assert.deepEqual(fs.readdirSync(cache).sort(), ['bert.small.torch.zip', ...[running, ours, otherMachine].map((f) => path.basename(f))].sort());
    });
  });

  describe('download: retries and resumes', () => {
    it('resumes a transfer cut twice with Range requests from the bytes received', async () => {
      const lines: string[] = [];
      const file = await download('flaky', options({ progress: (line) => lines.push(line) }));
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.deepEqual(requests, Array(3).fill('/flaky/bert.small.torch.zip'));
      assert.deepEqual(ranges(), [undefined, `bytes=${CUT}-${L - 1}`, `bytes=${2 * CUT}-${L - 1}`]);
      // The strong ETag of the first response makes the resumes conditional.
      assert.deepEqual(requestHeaders.map((h) => h['if-match']), [undefined, '"v1"', '"v1"']);
      assert.deepEqual(lines.filter((line) => /retry/.test(line)), [
        'the server closed the connection; retrying in 10 ms (retry 1 of 3)',
        'the server closed the connection; retrying in 20 ms (retry 2 of 3)',
      ]);
      assert.match(lines[lines.length - 1], /^flaky: done, /);
      assert.deepEqual(fs.readdirSync(cache), ['bert.small.torch.zip']);
    });

    it('resumes after the connection is destroyed', async () => {
      const file = await download('reset', options());
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.equal(requests.length, 2);
      // How much arrived before the connection went depends on whether it was reset.
      assert.match(requestHeaders[1].range ?? '', new RegExp(`^bytes=\\d+-${L - 1}$`));
      assert.ok(Number(/=(\d+)/.exec(requestHeaders[1].range ?? '')?.[1]) <= CUT);
    });

    it('starts over from byte 0 when the server ignores Range and sends the whole file again', async () => {
      const lines: string[] = [];
      const file = await download('norange', options({ progress: (line) => lines.push(line) }));
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.deepEqual(ranges(), [undefined, `bytes=${CUT}-${L - 1}`, undefined]);
      assert.deepEqual(lines.filter((line) => /retry/.test(line)), [
        'the server closed the connection; retrying in 10 ms (retry 1 of 3)',
        'the server did not resume it: HTTP 200 OK, server does not support the range header and the payload was partially consumed; ' +
          'starting over from byte 0 in 20 ms (retry 2 of 3)',
      ]);
    });

    it('starts over when the file changed on the server (If-Match fails), then reports its other sha1', async () => {
      await assert.rejects(download('changing', options()), (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.ok(e.message.startsWith(`downloaded changing from ${hub().changing.url}, but its sha1 is ${sha1(OTHER_ZIP)}, ` +
          `expected ${sha1(BERT_ZIP)}; the file was removed.`), e.message);
        return true;
      });
      assert.deepEqual(ranges(), [undefined, `bytes=${CUT}-${L - 1}`, undefined]);
      assert.deepEqual(requestHeaders.map((h) => h['if-match']), [undefined, '"v1"', undefined]);
      assert.deepEqual(fs.readdirSync(cache), []);
    });

    it('starts over a cut transfer of unannounced size from a server that ignores Range', async () => {
      const file = await download('chunked-cut', options());
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      // undici asks for the rest even without a Content-Length; the server sends it all again.
      assert.deepEqual(ranges(), [undefined, `bytes=${CUT}-`, undefined]);
    });

    it('gives up on a server that never lets a cut transfer resume, naming both failures', async () => {
      await assertFailsLeavingNothing('norange', new RegExp(`: the transfer broke off after ${CUT} of ${L} bytes \\(the server closed the connection; ` +
        'the server did not resume it: HTTP 200 OK, server does not support the range header and the payload was partially consumed\\), after 1 retry\\. '),
      { retries: 1 });
      assert.deepEqual(ranges(), [undefined, `bytes=${CUT}-${L - 1}`]);
    });

    it('gives up on a transfer cut every time after its retries, and leaves no file', async () => {
      await assertFailsLeavingNothing('cut',
        new RegExp(`: the transfer broke off after 40000 of ${L} bytes \\(the server closed the connection\\), after 3 retries\\. `));
      assert.deepEqual(ranges(), [undefined, ...[10_000, 20_000, 30_000].map((k) => `bytes=${k}-${L - 1}`)]);
    });

    it('does not retry at all with retries: 0', async () => {
      await assertFailsLeavingNothing('cut', new RegExp(`: the transfer broke off after 10000 of ${L} bytes \\(the server closed the connection\\)\\. `),
        { retries: 0 });
      assert.equal(requests.length, 1);
    });

    it('retries HTTP 503, waiting as long as Retry-After asks', async () => {
      const lines: string[] = [];
      const started = Date.now();
      const file = await download('busy', options({ progress: (line) => lines.push(line) }));
      assert.ok(Date.now() - started >= 950, `${Date.now() - started} ms`);
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.equal(requests.length, 3);
      assert.deepEqual(lines.filter((line) => /retry/.test(line)), [
        'HTTP 503 Service Unavailable; retrying in 10 ms (retry 1 of 3)',
        'HTTP 503 Service Unavailable; retrying in 1 s (retry 2 of 3)',
      ]);
    });

    it('gives up on a server that stays unavailable', async () => {
      await assertFailsLeavingNothing('down', /: HTTP 503 Service Unavailable, after 2 retries\. /, { retries: 2 });
      assert.equal(requests.length, 3);
    });

    it('explains an HTTP 404, without retrying', async () => {
      await assertFailsLeavingNothing('missing', /: HTTP 404 Not Found\. /);
      assert.equal(requests.length, 1);
    });

    it('explains a refused connection, after retrying', async () => {
      await assertFailsLeavingNothing('refused', /: connect ECONNREFUSED 127\.0\.0\.1:\d+, after 2 retries\. /, { retries: 2 });
    });

    // undici's timers tick about twice a second: each timeout here takes up to a second.
    it('gives up on a server that stops sending, resuming once, and on one that never answers', async () => {
      await assertFailsLeavingNothing('stall',
        new RegExp(`: the transfer broke off after 2000 of ${L} bytes \\(timed out: nothing received for 300 ms\\), after 1 retry\\. `),
        { retries: 1 });
      assert.deepEqual(ranges(), [undefined, `bytes=1000-${L - 1}`]);
      requests.length = 0;
      await assertFailsLeavingNothing('silent', /: timed out: nothing received for 300 ms\. /, { retries: 0 });
      assert.equal(requests.length, 1);
    });
  });

  describe('download: redirects', () => {
    it('follows redirects (relative and absolute), up to 5', async () => {
      const file = await download('moved', options());
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.deepEqual(requests, ['/moved/bert.small.torch.zip', '/again/bert.small.torch.zip', '/files/bert.small.torch.zip']);
      fs.rmSync(file);
      requests.length = 0;
      await assertFailsLeavingNothing('loop', /: more than 5 redirects \(the last one to \/loop\/bert\.small\.torch\.zip\)\. /);
      assert.equal(requests.length, 6);
    });

    it('resumes at the URL redirected to', async () => {
      const file = await download('moved-flaky', options());
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
      assert.deepEqual(requests, ['/moved-flaky/bert.small.torch.zip', ...Array(3).fill('/flaky/bert.small.torch.zip')]);
      assert.deepEqual(ranges(), [undefined, undefined, `bytes=${CUT}-${L - 1}`, `bytes=${2 * CUT}-${L - 1}`]);
    });

    it('names the URL redirected to in an HTTP error', async () => {
      await assertFailsLeavingNothing('moved-missing', new RegExp(`: HTTP 404 Not Found \\(at ${base}/missing/bert\\.small\\.torch\\.zip\\)\\. `));
    });

    it('downloads a body of unannounced size (chunked)', async () => {
      const file = await download('chunked', options());
      assert.ok(fs.readFileSync(file).equals(BERT_ZIP));
    });
  });

  describe('progress', () => {
    it('writes plain lines to a sink: where from, one per tenth, and a summary', async () => {
      const lines: string[] = [];
      const file = await download('progress', options({ progress: (line) => lines.push(line) }));
      assert.equal(lines[0], `Downloading ${file} from ${base}/files/progress.bin...`);
      assert.match(lines[lines.length - 1], /^progress: done, 1\.0 MiB in \d+s \([\d.]+ (KiB|MiB|GiB)\/s\)$/);
      const percents = lines.slice(1, -1).map((line) => {
        const match = /^progress: (\d+)% \([\d.]+ KiB of 1\.0 MiB, [\d.]+ (B|KiB|MiB|GiB)\/s, ETA \d+s\)$/.exec(line);
        assert.ok(match !== null, line);
        return Number(match[1]);
      });
      assert.ok(percents.length >= 1, lines.join('\n'));
      // A line when a further tenth has arrived: each in a higher tenth than the one before.
      const tenths = percents.map((p) => Math.floor(p / 10));
      tenths.forEach((t, k) => assert.ok(t >= 1 && t <= 9 && (k === 0 || t > tenths[k - 1]), lines.join('\n')));
    });

    it('prints one line per tenth, and in between one at most every heartbeat', () => {
      let now = 0;
      const lines: string[] = [];
      const known = new LineProgress((line) => lines.push(line), 'x', () => now, 5000);
      known.start(1000);
      for (let k = 1; k <= 100; ++k) {
        now = 10 * k;
        known.update(10 * k);
      }
      known.stop(true);
      assert.deepEqual(lines.map((line) => /^x: (\d+)%/.exec(line)?.[1]), ['10', '20', '30', '40', '50', '60', '70', '80', '90', undefined]);
      // At 100 bytes after 0.1 s: 1000 B/s, 0.9 s left.
      assert.equal(lines[0], 'x: 10% (100 B of 1000 B, 1000 B/s, ETA 1s)');
      assert.equal(lines[9], 'x: done, 1000 B in 1s (1000 B/s)');

      lines.length = 0;
      now = 0;
      const unknown = new LineProgress((line) => lines.push(line), 'y', () => now, 5000);
      unknown.start(undefined);
      for (let k = 1; k <= 12; ++k) {
        now = 1000 * k;
        unknown.update(2048 * k);
      }
      unknown.stop(false);
      assert.deepEqual(lines, ['y: 10.0 KiB (2.0 KiB/s)', 'y: 20.0 KiB (2.0 KiB/s)']);
    });

    it('draws a bar with bytes, speed and ETA on a terminal', () => {
      const written: string[] = [];
      const terminal = Object.assign(new Writable({
        write(chunk: Buffer, _encoding, done) {
          written.push(chunk.toString());
          done();
        },
      }), { isTTY: true, columns: 120 });
      const progress = createProgress(true, 'bert.small', terminal);
      progress.note('Downloading it');
      progress.start(2048);
      progress.update(1024);
      progress.stop(true);
      const output = written.join('');
      assert.ok(output.startsWith('Downloading it\n'), output);
      assert.match(output, /bert\.small \|[^|]{30}\| 50% \| 1\.0 KiB \/ 2\.0 KiB \| [\d.]+ (B|KiB|MiB)\/s \| ETA (\d+s|\?)/);
      // A note while a bar is drawn (a retry's) replaces the bar's line; the bar comes back below.
      written.length = 0;
      const again = createProgress(true, 'bert.small', terminal);
      again.start(2048);
      again.note('a retry');
      again.update(1536);
      again.stop(true);
      const note = written.findIndex((chunk) => chunk.includes('a retry'));
      assert.equal(written[note], '\r\x1b[2Ka retry\n');
      assert.match(written.slice(note + 1).join(''), /bert\.small \|[^|]{30}\| 75% \| 1\.5 KiB \/ 2\.0 KiB/);
    });

    it('is silent with progress: false, and writes lines to a stream that is no terminal', () => {
      const written: string[] = [];
      const pipe = new Writable({
        write(chunk: Buffer, _encoding, done) {
          written.push(chunk.toString());
          done();
        },
      });
      const silent = createProgress(false, 'a', pipe);
      silent.note('hidden');
      silent.start(10);
      silent.stop(true);
      assert.deepEqual(written, []);
      const lines = createProgress(true, 'b', pipe);
      lines.note('shown');
      lines.start(10);
      lines.update(10);
      lines.stop(true);
      assert.equal(written[0], 'shown\n');
      assert.match(written[written.length - 1], /^b: done, 10 B in \d+s/);
    });
  });

  describe('downloadExtract', () => {
    it('extracts the archive into the cache and returns the folder named after it', async () => {
      const folder = await downloadExtract('bert.small', options());
      assert.equal(folder, path.join(cache, 'bert.small.torch'));
      assert.ok(fs.readFileSync(path.join(folder, 'vocab.json')).equals(VOCAB));
      assert.ok(fs.readFileSync(path.join(folder, 'pretrained.params')).equals(PARAMS));
      assert.deepEqual(fs.readdirSync(folder).sort(), ['pretrained.params', 'vocab.json']);
      // No staging directory is left behind.
      assert.deepEqual(fs.readdirSync(cache).sort(), ['bert.small.torch', 'bert.small.torch.zip', 'bert.small.torch.zip.extracted']);
    });

    it('returns `folder` when given, and extracts every top-level entry', async () => {
      const folder = await downloadExtract('SNLI', options({ folder: 'snli_1.0' }));
      assert.equal(folder, path.join(cache, 'snli_1.0'));
      assert.ok(fs.readFileSync(path.join(folder, 'snli_1.0_dev.txt')).equals(SNLI_DEV));
      assert.equal(fs.readFileSync(path.join(cache, '__MACOSX', 'snli_1.0', '._snli_1.0_dev.txt'), 'utf8'), 'mac metadata');
      assert.equal(await downloadExtract('SNLI', options()), folder);
      await assert.rejects(downloadExtract('SNLI', options({ folder: 'snli_2.0' })), /snli_1\.0\.zip was extracted into .*, but it holds no snli_2\.0$/);
    });

    it('skips a complete extraction, and redoes one without its marker', async () => {
      const folder = await downloadExtract('bert.small', options());
      const vocab = path.join(folder, 'vocab.json');
      fs.writeFileSync(vocab, 'edited');
      await downloadExtract('bert.small', options());
      assert.equal(fs.readFileSync(vocab, 'utf8'), 'edited');
      assert.equal(requests.length, 1);
      // What an interrupted extraction would have left: a folder, partly there, and no marker.
      fs.rmSync(path.join(cache, 'bert.small.torch.zip.extracted'));
      fs.rmSync(path.join(folder, 'pretrained.params'));
      await downloadExtract('bert.small', options());
      assert.ok(fs.readFileSync(vocab).equals(VOCAB));
      assert.ok(fs.readFileSync(path.join(folder, 'pretrained.params')).equals(PARAMS));
      // A marker whose folder was deleted since.
      fs.rmSync(folder, { recursive: true });
      await downloadExtract('bert.small', options());
      assert.ok(fs.readFileSync(vocab).equals(VOCAB));
      assert.equal(requests.length, 1);
    });

    it('refuses an entry that would land outside the cache (zip slip) and writes nothing', async () => {
      await assert.rejects(downloadExtract('evil', options()),
        /cannot extract .*evil\.zip: its entry '\.\.\/evil\.txt' points outside the directory it is extracted into/);
      assert.equal(fs.existsSync(path.join(root, 'evil.txt')), false);
      assert.deepEqual(fs.readdirSync(cache), ['evil.zip']);
    });

    it('refuses what is not a zip archive', async () => {
      await assert.rejects(downloadExtract('progress', options()), /cannot extract .*progress\.bin: only zip archives are supported/);
    });

    it('tells safe entry names from absolute and parent paths', () => {
      assert.deepEqual(entryComponents('a/b.txt'), ['a', 'b.txt']);
      assert.deepEqual(entryComponents('./a//b/'), ['a', 'b']);
      assert.deepEqual(entryComponents('a/..b'), ['a', '..b']);
      for (const name of ['../x', 'a/../../x', 'a/..', '/etc/passwd', '\\x', 'C:\\x', 'c:x', 'a\\..\\..\\x', 'a\0b']) {
        assert.equal(entryComponents(name), undefined, name);
      }
    });
  });
});
