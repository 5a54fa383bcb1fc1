// Corrupt and hostile checkpoint bytes, at the level of the zip reader and the unpickler (no
// native addon involved): every failure is a plain Error that says what is wrong, memory stays
// bounded by the file rather than by what its headers claim, and what Python's pickle loads
// (deep nesting, surrogates) loads here the same way.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { unpickle } from '../lib/serialization/pickle-read';
import { ZipReader } from '../lib/serialization/zip';
import { deflatedZeros, memorySource, OP, pickle, pickleString, Py, pyTensor, rawZip, torchArchive } from './checkpoint-bytes';


const PYTHON = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';
const hasPython = fs.existsSync(PYTHON);

/** Asserts that `fn` throws a plain Error (not a RangeError or TypeError) matching `pattern`. */
function throwsPlain(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.equal(e.constructor, Error, `${e.constructor.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

async function rejectsPlain(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error) => {
    assert.equal(e.constructor, Error, `${e.constructor.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

async function readEntry(zip: Buffer, name: string): Promise<Uint8Array> {
  const reader = await ZipReader.open(memorySource(zip));
  const entry = reader.find(name);
  assert.ok(entry !== undefined, `no entry ${name}`);
  return reader.read(entry);
}

/** The body of a pickle: its opcodes without PROTO and STOP, to splice into another. */
function body(bytes: Buffer): Buffer {
  return bytes.subarray(2, bytes.length - 1);
}

// ---- deep nesting, written opcode by opcode ---------------------------------------------------

/** [[[...[]...]]]: `depth` lists, each but the innermost holding the next. */
function nestedLists(depth: number): Buffer {
  return Buffer.concat([Buffer.of(OP.PROTO, 2), Buffer.alloc(depth, OP.EMPTY_LIST), Buffer.alloc(depth - 1, OP.APPEND), Buffer.of(OP.STOP)]);
}

/** ((((),),),): `depth` tuples, through MARK ... TUPLE. */
function nestedTuples(depth: number): Buffer {
  return Buffer.concat([Buffer.of(OP.PROTO, 2), Buffer.alloc(depth - 1, OP.MARK), Buffer.of(OP.EMPTY_TUPLE),
    Buffer.alloc(depth - 1, OP.TUPLE), Buffer.of(OP.STOP)]);
}

/** {'k': {'k': ... {} ...}}: `depth` dicts. */
function nestedDicts(depth: number): Buffer {
  const level = Buffer.concat([Buffer.of(OP.EMPTY_DICT), pickleString('k', OP.SHORT_BINUNICODE)]);
  return Buffer.concat([Buffer.of(OP.PROTO, 2), Buffer.concat(new Array<Buffer>(depth - 1).fill(level)), Buffer.of(OP.EMPTY_DICT),
    Buffer.alloc(depth - 1, OP.SETITEM), Buffer.of(OP.STOP)]);
}

/** How deep `value` nests, following the first item (or the value of key 'k'), counting itself. */
function depthOf(value: unknown): number {
  let depth = 0;
  for (let node = value; node !== undefined; ++depth) {
    node = Array.isArray(node) ? node[0] : node instanceof Map ? node.get('k') : undefined;
  }
  return depth;
}

/** What Python's pickle makes of each pickle: the nesting depth, or the exception. */
function pythonDepths(pickles: Buffer[]): string[] {
  const script = `
import pickle, sys
for line in sys.stdin.read().split():
    try:
        v = pickle.loads(bytes.fromhex(line))
        d = 0
        while v is not None:
            d += 1
            v = v[0] if isinstance(v, (list, tuple)) and v else v.get('k') if isinstance(v, dict) else None
        print(d)
    except Exception as e:
        print(type(e).__name__)
`;
  const run = spawnSync(PYTHON, ['-c', script], { input: pickles.map((p) => p.toString('hex')).join('\n'), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim().split('\n');
}

// ---- UTF-8 as pickle's str opcodes decode it ---------------------------------------------------

/** Byte strings around the edges of UTF-8 and of 'surrogatepass'. */
const UTF8_CASES: Array<{ bytes: number[]; expect: string | RegExp }> = [
  { bytes: [0x68, 0xc3, 0xa9], expect: 'h\u00e9' },
  { bytes: [0xef, 0xbb, 0xbf, 0x61], expect: '\ufeffa' }, // a BOM is kept, not stripped
  { bytes: [0xf0, 0x9f, 0x98, 0x80], expect: '\u{1f600}' },
  { bytes: [0xed, 0xa0, 0x80], expect: '\ud800' }, // a lone high surrogate, as surrogatepass reads it
  { bytes: [0x61, 0xed, 0xbf, 0xbf, 0x62], expect: 'a\udfffb' },
  { bytes: [0xed, 0x9f, 0xbf], expect: '\ud7ff' },
  { bytes: [0xff], expect: /byte 0xff at position 0 of its 1 bytes: invalid start byte/ },
  { bytes: [0x61, 0x80], expect: /byte 0x80 at position 1 of its 2 bytes: invalid start byte/ },
  { bytes: [0xc0, 0x80], expect: /byte 0xc0 at position 0 .*invalid start byte/ }, // overlong NUL
  { bytes: [0xe0, 0x80, 0x80], expect: /byte 0xe0 at position 0 .*invalid continuation byte/ },
  { bytes: [0xf4, 0x90, 0x80, 0x80], expect: /byte 0xf4 at position 0 .*invalid continuation byte/ }, // past U+10FFFF
  { bytes: [0xf5, 0x80, 0x80, 0x80], expect: /byte 0xf5 at position 0 .*invalid start byte/ },
  { bytes: [0x61, 0x62, 0xc3], expect: /byte 0xc3 at position 2 .*unexpected end of data/ },
  { bytes: [0x61, 0xed, 0xa0], expect: /byte 0xed at position 1 .*invalid continuation byte/ },
  { bytes: [0xe2, 0x82, 0x41], expect: /byte 0xe2 at position 0 .*invalid continuation byte/ },
];

function loadString(bytes: number[], op: number = OP.BINUNICODE): unknown {
  return unpickle(Buffer.concat([Buffer.of(OP.PROTO, 2), pickleString(Uint8Array.from(bytes), op), Buffer.of(OP.STOP)]));
}

describe('checkpoint parsing (zip and pickle) on bad input', function () {
  this.timeout(120_000);

  describe('zip entries never inflate past their declared size', () => {
    it('an entry declared as 453 bytes that inflates to 1 GiB fails at 453 bytes, in little memory', function () {
      // In a fresh process, so that its peak RSS is this read's alone.
      const script = `
        const { ZipReader } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'serialization', 'zip.js'))});
        const bytes = require(${JSON.stringify(path.join(__dirname, 'checkpoint-bytes.js'))});
        const zip = bytes.rawZip([{ name: 'archive/data.pkl', data: bytes.deflatedZeros(1024), method: 8, size: 453 }]);
        const before = process.resourceUsage().maxRSS;
        (async () => {
          const reader = await ZipReader.open(bytes.memorySource(zip));
          let message = 'no error';
          try { await reader.read(reader.entries[0]); } catch (e) { message = e.message; }
          console.log(JSON.stringify({ message, grewKiB: process.resourceUsage().maxRSS - before, fileBytes: zip.length }));
        })();`;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      const report = JSON.parse(run.stdout) as { message: string; grewKiB: number; fileBytes: number };
      assert.ok(report.fileBytes < 1.2e6, `the archive is ${report.fileBytes} bytes`);
      assert.match(report.message, /^'archive\/data\.pkl' inflates beyond its declared 453 bytes: the file is corrupt$/);
      assert.ok(report.grewKiB < 100 * 1024, `peak RSS grew by ${report.grewKiB} KiB`);
    });

    it('an entry that inflates to exactly its declared size is still checked against its CRC-32', async () => {
      const zip = rawZip([{ name: 'a', data: deflatedZeros(4), method: 8, size: 4 << 20, crc: 1234 }]);
      await rejectsPlain(readEntry(zip, 'a'), /CRC-32 mismatch in 'a'/);
    });

    it('an entry that inflates to less than its declared size', async () => {
      const zip = rawZip([{ name: 'a', data: deflatedZeros(1), method: 8, size: (1 << 20) + 1 }]);
      await rejectsPlain(readEntry(zip, 'a'), /^'a' inflates to only 1048576 bytes, short of its declared 1048577: the file is corrupt$/);
    });

    it('a declared size beyond deflate\'s 1032:1 is refused before anything is allocated', async () => {
      const zip = rawZip([{ name: 'a', data: deflatedZeros(1), method: 8, size: 0xfffffffe }]);
      await rejectsPlain(readEntry(zip, 'a'), /corrupt zip archive: 'a' declares 4294967294 bytes from 1039 compressed, beyond deflate's maximum ratio of 1032:1/);
    });

    it('a stored entry whose two sizes disagree', async () => {
      const zip = rawZip([{ name: 'a', data: Buffer.from('hello'), method: 0, size: 1 << 30 }]);
      await rejectsPlain(readEntry(zip, 'a'), /corrupt zip archive: 'a' is stored uncompressed but declares 1073741824 bytes of data in 5/);
    });

    it('a deflate stream that is not one', async () => {
      const zip = rawZip([{ name: 'a', data: Buffer.from([0xff, 0xff, 0xff, 0xff]), method: 8, size: 10 }]);
      await rejectsPlain(readEntry(zip, 'a'), /corrupt zip archive: 'a' does not inflate/);
    });

    it('an entry count the central directory cannot hold', async () => {
      const zip = rawZip([{ name: 'a', data: Buffer.from('x'), method: 0, size: 1 }]);
      zip.writeUInt16LE(0xfffe, zip.length - 14); // entries on this disk
      zip.writeUInt16LE(0xfffe, zip.length - 12); // entries in all
      await rejectsPlain(ZipReader.open(memorySource(zip)), /the end record counts 65534 entries, more than its 47-byte central directory can hold/);
    });
  });

  describe('archives miniz (PyTorch\'s zip reader) refuses are refused', () => {
    const oneEntry = (): Buffer => rawZip([{ name: 'a/b', data: Buffer.from('x'), method: 0, size: 1 }]);
    const endAt = (zip: Buffer): number => zip.length - 22;

    it('entries on this disk differing from the entries in all: a multi-disk archive', async () => {
      const zip = oneEntry();
      zip.writeUInt16LE(0xffff, endAt(zip) + 8);
      await rejectsPlain(ZipReader.open(memorySource(zip)), /^unsupported zip archive: the end record counts 65535 entries on this disk but 1 in all: a multi-disk \(split\) archive/);
    });

    it('an end record on another disk than 0 (or 1 with its directory on 1)', async () => {
      for (const [disk, directoryDisk] of [[2, 0], [0, 1], [1, 0], [3, 3]]) {
        const zip = oneEntry();
        zip.writeUInt16LE(disk, endAt(zip) + 4);
        zip.writeUInt16LE(directoryDisk, endAt(zip) + 6);
        await rejectsPlain(ZipReader.open(memorySource(zip)),
          new RegExp(`^unsupported zip archive: the end record is on disk ${disk} and the central directory on disk ${directoryDisk}: a multi-disk`));
      }
      const zip = oneEntry();
      zip.writeUInt16LE(1, endAt(zip) + 4);
      zip.writeUInt16LE(1, endAt(zip) + 6);
      zip.writeUInt16LE(1, zip.length - 22 - 46 - 3 + 34); // the entry's start disk
      assert.equal((await ZipReader.open(memorySource(zip))).entries.length, 1); // disk 1 of 1, as miniz allows
    });

    it('an entry starting on another disk', async () => {
      const zip = oneEntry();
      const central = zip.length - 22 - 46 - 3;
      zip.writeUInt16LE(5, central + 34);
      await rejectsPlain(ZipReader.open(memorySource(zip)), /^unsupported zip archive: 'a\/b' starts on disk 5: a multi-disk/);
    });

    it('bytes appended after the end record', async () => {
      for (const extra of [1, 21, 22, 5000]) {
        const zip = Buffer.concat([oneEntry(), Buffer.alloc(extra, 0x5a)]);
        await rejectsPlain(ZipReader.open(memorySource(zip)),
          new RegExp(`^corrupt zip archive: ${extra} bytes follow its end-of-central-directory record \\(data appended to the file\\?\\)$`));
      }
    });

    it('a comment that ends the file is read past; one that runs past it, or stops short, is not', async () => {
      const withComment = (declared: number, actual: number): Buffer => {
        const zip = Buffer.concat([oneEntry(), Buffer.alloc(actual, 0x63)]);
        zip.writeUInt16LE(declared, zip.length - actual - 2);
        return zip;
      };
      assert.equal((await ZipReader.open(memorySource(withComment(7, 7)))).entries.length, 1);
      await rejectsPlain(ZipReader.open(memorySource(withComment(7, 3))), /^truncated zip archive: the end record's comment of 7 bytes runs past the end of the file \(3 bytes follow the record\)$/);
      await rejectsPlain(ZipReader.open(memorySource(withComment(3, 7))), /^corrupt zip archive: 4 bytes follow its end-of-central-directory record and 3-byte comment/);
    });

    it('a record named twice (PyTorch reads whichever miniz\'s unstable sort finds) is refused', async () => {
      const zip = rawZip([{ name: 'a/data/0', data: Buffer.from('x'), method: 0, size: 1 }, { name: 'a/data/0', data: Buffer.from('y'), method: 0, size: 1 }]);
      await rejectsPlain(ZipReader.open(memorySource(zip)), /^corrupt zip archive: the record 'a\/data\/0' appears twice in the central directory$/);
    });

    it('an entry declaring data but no compressed bytes, checked before any entry is read', async () => {
      const zip = rawZip([{ name: 'a/ok', data: Buffer.from('x'), method: 0, size: 1 }, { name: 'a/bad', data: Buffer.alloc(0), method: 8, size: 10 }]);
      await rejectsPlain(ZipReader.open(memorySource(zip)), /^corrupt zip archive: 'a\/bad' declares 10 bytes from no compressed data$/);
    });
  });

  describe('FRAME as CPython\'s unpickler (torch.load\'s) reads it', () => {
    const framed = (length: bigint, content: Buffer): Buffer => {
      const header = Buffer.alloc(9);
      header[0] = OP.FRAME;
      header.writeBigUInt64LE(length, 1);
      return Buffer.concat([Buffer.of(OP.PROTO, 4), header, content]);
    };
    const content = Buffer.from(body(pickle({ tuple: [5, 6] })));
    const withStop = Buffer.concat([content, Buffer.of(OP.STOP)]);

    it('a frame that holds the rest of the pickle', () => assert.deepEqual(unpickle(framed(BigInt(withStop.length), withStop)), [5, 6]));
    it('frames shorter than their opcodes, or splitting one, are not checked (as in CPython\'s C unpickler)', () => {
      assert.deepEqual(unpickle(framed(3n, withStop)), [5, 6]);
      assert.deepEqual(unpickle(framed(1n, withStop)), [5, 6]);
      assert.deepEqual(unpickle(framed(0n, withStop)), [5, 6]);
    });
    for (const length of [BigInt(withStop.length + 1), 0x7fffffffffffffffn, 0xffffffffffffffffn]) {
      it(`a frame of ${length} bytes in a pickle with ${withStop.length} left (Python: truncated, or read would overflow)`, () =>
        throwsPlain(() => unpickle(framed(length, withStop)),
          new RegExp(`^the frame declares ${length} bytes but only ${withStop.length} remain in the pickle \\(truncated or corrupt\\) \\(in FRAME at byte 2\\)$`)));
    }
  });

  describe('_rebuild_tensor_v2\'s 7th argument, metadata, as PyTorch 2.x reads it', () => {
    // torch/_utils.py (2.x): `if metadata: set_tensor_metadata(tensor, metadata)`, which asserts a
    // dict and hands it to pybind as Mapping[str, bool]; outcomes checked with torch 2.11.
    const call = (args: Py[]): Py => ({ dict: [['t', { call: [{ global: ['torch._utils', '_rebuild_tensor_v2'] }, args] }]] });
    const storage: Py = { persid: { tuple: ['storage', { global: ['torch', 'FloatStorage'] }, '0', 'cpu', 2] } };
    const hooks: Py = { call: [{ global: ['collections', 'OrderedDict'] }, []] };
    const tensorArgs: Py[] = [storage, 0, { tuple: [2] }, { tuple: [1] }, false, hooks];
    const loadsWith = (metadata: Py): unknown => unpickle(pickle(call([...tensorArgs, metadata])));

    for (const [what, metadata] of [['None', null], ['an empty dict', { dict: [] }], ['an empty tuple (false in Python)', { tuple: [] }],
      ['0', 0], ['False', false], ['\'\'', ''], ['a dict with neg False and a key PyTorch ignores', { dict: [['neg', false], ['other', true]] }]] as Array<[string, Py]>) {
      it(`${what} loads`, () => {
        const t = (loadsWith(metadata) as Map<string, { kind: string; size: number[] }>).get('t');
        assert.equal(t?.kind, 'tensor');
        assert.deepEqual(t?.size, [2]);
      });
    }
    it('a true value other than a dict', () => {
      throwsPlain(() => loadsWith(5), /^torch\._utils\._rebuild_tensor_v2: metadata \(the 7th argument\) must be a dict or None, got an int/);
      throwsPlain(() => loadsWith({ tuple: [1] }), /metadata \(the 7th argument\) must be a dict or None, got a list or tuple/);
    });
    it('a dict with a non-str key, or a value that is not a bool', () => {
      throwsPlain(() => loadsWith({ dict: [[1, true]] }), /metadata keys must be strs, got an int/);
      throwsPlain(() => loadsWith({ dict: [['neg', 'yes']] }), /metadata\['neg'\] must be a bool, got a str/);
    });
    it('the conjugate bit (complex tensors only) and the negative bit', () => {
      throwsPlain(() => loadsWith({ dict: [['conj', false]] }), /sets the conjugate bit \('conj'\), which only complex tensors have/);
      throwsPlain(() => loadsWith({ dict: [['neg', true]] }), /sets the negative bit \('neg'\): torchbridge does not read tensors saved as negated views/);
    });
    it('5 or 8 arguments', () => {
      throwsPlain(() => unpickle(pickle(call(tensorArgs.slice(0, 5)))), /^torch\._utils\._rebuild_tensor_v2 takes 6 to 7 arguments, the pickle passes 5/);
      throwsPlain(() => unpickle(pickle(call([...tensorArgs, null, null]))), /takes 6 to 7 arguments, the pickle passes 8/);
    });
  });

  describe('every truncation and every corrupted byte of an archive is a clear Error', () => {
    it('parsing any prefix, or the archive with any one byte changed, throws only plain Errors', async function () {
      const dataPkl = pickle({ dict: [['w', pyTensor({ numel: 2, size: [2], stride: [1] })], ['n', 3]] });
      const archive = await torchArchive(dataPkl, { 0: new Uint8Array(8) });
      const parse = async (bytes: Buffer): Promise<void> => {
        const reader = await ZipReader.open(memorySource(bytes));
        for (const entry of reader.entries) {
          const data = await reader.read(entry);
          if (entry.name.endsWith('.pkl')) unpickle(data);
        }
      };
      await parse(archive); // intact, it parses
      const broken: Buffer[] = [];
      for (let n = 0; n < archive.length; ++n) broken.push(archive.subarray(0, n));
      for (let at = 0; at < archive.length; ++at) {
        for (const value of [0x00, 0xff, archive[at] ^ 0x80]) {
          if (value === archive[at]) continue;
          const copy = Buffer.from(archive);
          copy[at] = value;
          broken.push(copy);
        }
      }
      let failures = 0;
      for (const bytes of broken) {
        try {
          await parse(bytes);
        } catch (e) {
          ++failures;
          assert.equal((e as Error).constructor, Error, `${(e as Error).constructor.name}: ${(e as Error).message}`);
          assert.ok((e as Error).message.length > 10, (e as Error).message);
        }
      }
      // Most corruptions are caught (by structure or by CRC-32); padding bytes are not read.
      assert.ok(failures > broken.length / 2, `${failures} of ${broken.length} corrupt archives failed`);
    });
  });

  describe('strs decode as Python\'s pickle decodes them (UTF-8 with surrogatepass)', () => {
    for (const { bytes, expect } of UTF8_CASES) {
      const hex = Buffer.from(bytes).toString('hex');
      it(`${hex}: ${typeof expect === 'string' ? JSON.stringify(expect) : 'UnicodeDecodeError'}`, () => {
        for (const op of [OP.BINUNICODE, OP.SHORT_BINUNICODE, OP.BINUNICODE8]) {
          if (typeof expect === 'string') assert.equal(loadString(bytes, op), expect);
          else throwsPlain(() => loadString(bytes, op), new RegExp(`^a str is not valid UTF-8: ${expect.source}.*UnicodeDecodeError`));
        }
      });
    }

    it('the cases above are what Python itself does', function () {
      if (!hasPython) this.skip();
      const script = `
import pickle, sys
for line in sys.stdin.read().split():
    try:
        s = pickle.loads(bytes.fromhex(line))
        print(' '.join('%x' % ord(c) for c in s))
    except UnicodeDecodeError as e:
        print('error %d %s' % (e.start, e.reason))
`;
      const pickles = UTF8_CASES.map(({ bytes }) => Buffer.concat([Buffer.of(OP.PROTO, 2), pickleString(Uint8Array.from(bytes)), Buffer.of(OP.STOP)]));
      const run = spawnSync(PYTHON, ['-c', script], { input: pickles.map((p) => p.toString('hex')).join('\n'), encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      const python = run.stdout.trim().split('\n');
      UTF8_CASES.forEach(({ bytes }, k) => {
        let ours: string;
        try {
          const text = loadString(bytes) as string;
          ours = [...text].map((c) => (c.codePointAt(0) as number).toString(16)).join(' ');
        } catch (e) {
          const [, at, reason] = /at position (\d+) of its \d+ bytes: ([a-z ]+) \(/.exec((e as Error).message) as RegExpExecArray;
          ours = `error ${at} ${reason}`;
        }
        assert.equal(ours, python[k], Buffer.from(bytes).toString('hex'));
      });
    });

    it('an invalid dict key fails, naming the opcode and where it is', () => {
      const data = Buffer.concat([Buffer.of(OP.PROTO, 2, OP.EMPTY_DICT), pickleString(Uint8Array.of(0x77, 0xfe), OP.SHORT_BINUNICODE),
        Buffer.of(OP.NONE, OP.SETITEM, OP.STOP)]);
      throwsPlain(() => unpickle(data), /^a str is not valid UTF-8: byte 0xfe at position 1 of its 2 bytes: invalid start byte .*\(in SHORT_BINUNICODE at byte 3\)$/);
    });
  });

  describe('deep nesting loads as in Python', () => {
    for (const depth of [10_000, 100_000]) {
      for (const [kind, make] of [['lists', nestedLists], ['tuples', nestedTuples], ['dicts', nestedDicts]] as const) {
        it(`${depth} nested ${kind}`, () => assert.equal(depthOf(unpickle(make(depth))), depth));
      }
    }

    it('Python loads the same pickles to the same depths', function () {
      if (!hasPython) this.skip();
      assert.deepEqual(pythonDepths([nestedLists(100_000), nestedTuples(100_000), nestedDicts(100_000)]), ['100000', '100000', '100000']);
    });

    it('a LONG_BINPUT index beyond the pickle\'s length is corrupt (CPython: MemoryError at 2^31 - 1), one within it loads', () => {
      const put = (index: number): Buffer => {
        const op = Buffer.alloc(5);
        op[0] = 0x72;  // LONG_BINPUT
        op.writeUInt32LE(index, 1);
        return Buffer.concat([Buffer.of(OP.PROTO, 2, OP.EMPTY_LIST), op, Buffer.of(OP.STOP)]);
      };
      throwsPlain(() => unpickle(put(0x7fffffff)), /LONG_BINPUT memo index 2147483647 is beyond anything a pickler writes in a 9-byte pickle/);
      assert.deepEqual(unpickle(put(3)), []);
    });

    it('appending to a tuple, or calling with a list of arguments, fails as in Python', () => {
      // (1,) then ']a': APPEND pops the new list and appends it to the tuple below
      throwsPlain(() => unpickle(Buffer.of(OP.PROTO, 2, OP.MARK, OP.NONE, OP.TUPLE, OP.EMPTY_LIST, 0x61, OP.STOP)), /cannot append to a tuple/);
      throwsPlain(() => unpickle(Buffer.of(OP.PROTO, 2, OP.EMPTY_TUPLE, OP.MARK, OP.NONE, 0x65, OP.STOP)), /cannot append to a tuple/);
      assert.deepEqual(unpickle(Buffer.of(OP.PROTO, 2, OP.EMPTY_LIST, OP.NONE, 0x61, OP.STOP)), [null]);
    });

    it('a cycle deep down is named by an abridged path', () => {
      // 50,000 lists; the innermost holds the outermost (memo 0).
      const depth = 50_000;
      const data = Buffer.concat([Buffer.of(OP.PROTO, 2, OP.EMPTY_LIST, OP.BINPUT, 0), Buffer.alloc(depth - 1, OP.EMPTY_LIST),
        Buffer.of(OP.BINGET, 0, OP.APPEND), Buffer.alloc(depth - 1, OP.APPEND), Buffer.of(OP.STOP)]);
      throwsPlain(() => unpickle(data), /^the value(\[0\]){8}\.\.\.\(49984 levels\)\.\.\.(\[0\]){8} contains itself; cyclic values are not supported$/);
    });
  });

  describe('tensor arguments out of range are refused, with their values', () => {
    const tensorPickle = (options: Parameters<typeof pyTensor>[0]): Buffer => pickle({ dict: [['t', pyTensor(options)]] });

    it('a negative stride', () =>
      throwsPlain(() => unpickle(tensorPickle({ numel: 4, size: [2, 2], stride: [2, -1] })), /_rebuild_tensor_v2: stride\[1\] must be a non-negative int below 2\^53, got -1/));
    it('a negative storage offset', () =>
      throwsPlain(() => unpickle(tensorPickle({ numel: 4, offset: -4, size: [2], stride: [1] })), /storage_offset must be a non-negative int below 2\^53, got -4/));
    it('a size beyond 2^64', () =>
      throwsPlain(() => unpickle(tensorPickle({ numel: 4, size: [2n ** 64n], stride: [0] })), /size\[0\] must be a non-negative int below 2\^53, got 18446744073709551616/));
    it('a storage size beyond 2^53', () =>
      throwsPlain(() => unpickle(tensorPickle({ numel: 2n ** 60n, size: [2], stride: [1] })), /the storage size must be a non-negative int below 2\^53, got 1152921504606846976/));
    it('a stride-0 view with more than 2^53 elements', () =>
      throwsPlain(() => unpickle(tensorPickle({ numel: 1, size: [2 ** 30, 2 ** 30, 2 ** 30], stride: [0, 0, 0] })), /size \[1073741824, 1073741824, 1073741824\] has 1\.2379400392853803e\+27 elements, more than 2\^53/));
  });

  describe('only the known globals are ever resolved', () => {
    const calls: Array<[string, Py]> = [
      ['GLOBAL os.system', { call: [{ global: ['os', 'system'] }, ['true']] }],
      ['GLOBAL builtins.eval', { call: [{ global: ['builtins', 'eval'] }, ['1']] }],
      ['GLOBAL torch.load', { global: ['torch', 'load'] }],
      ['STACK_GLOBAL subprocess.run', { raw: Buffer.concat([pickleString('subprocess'), pickleString('run'), Buffer.of(OP.STACK_GLOBAL)]) }],
    ];
    for (const [what, value] of calls) {
      it(what, () => throwsPlain(() => unpickle(pickle(value)), /unsupported global (os\.system|builtins\.eval|torch\.load|subprocess\.run): torchbridge reads tensors/));
    }
  });
});
