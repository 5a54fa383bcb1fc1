// torch.load / loadValue on hostile and corrupt files: no hang (FIFOs, devices), no memory
// sized by what a file claims (zip bombs, huge storages), no stack overflow on deep nesting, and
// every failure an Error that names the file and the problem. The bytes are made by hand
// (test/checkpoint-bytes.ts), next to PyTorch-made fixtures from scripts/gen_state_dict_fixtures.py.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { settledLiveTensors } from './helpers';
import { PYTHON } from './helpers';
import { deflatedZeros, OP, pickle, pyTensor, rawZip, recordsArchive, torchArchive } from './checkpoint-bytes';

const FIXTURES = path.join(__dirname, 'fixtures', 'state_dicts');

let workDir = '';

function scratch(name: string): string {
  return path.join(workDir, name);
}

async function expectError(promise: Promise<unknown>, what: 'load' | 'loadValue', file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (e: Error) => {
    assert.equal(e.constructor, Error, `${e.constructor.name}: ${e.message}`);
    assert.ok(e.message.startsWith(`${what}('${file}'): `), e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

async function writeArchive(name: string, dataPkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Promise<string> {
  const file = scratch(name);
  fs.writeFileSync(file, await torchArchive(dataPkl, storages));
  return file;
}

/** The body of a pickle: its opcodes without PROTO and STOP, to splice into another. */
function body(bytes: Buffer): Buffer {
  return bytes.subarray(2, bytes.length - 1);
}

const FLOATS = Buffer.from(new Float32Array([1.5, -2]).buffer);
const VERSION_ENTRY = { name: 'archive/version', data: Buffer.from('3\n'), method: 0 as const, size: 2 };

/** The offset of the zip64 end record of a PyTorch-written archive (whose end record is last). */
function zip64RecordAt(bytes: Buffer): number {
  const locator = bytes.length - 22 - 20;
  assert.equal(bytes.readUInt32LE(locator), 0x07064b50, 'PyTorch writes a zip64 locator');
  return Number(bytes.readBigUInt64LE(locator + 8));
}

describe('torch.load on hostile and corrupt files', function () {
  this.timeout(120_000);

  before(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-load-robustness-'));
  });
  after(() => fs.rmSync(workDir, { recursive: true, force: true }));

  describe('only regular files are read', () => {
    it('a FIFO is refused at once rather than waited on (in a child process, so that a hang fails)', function () {
      const fifo = scratch('pipe.pt');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      const script = `require(${JSON.stringify(path.join(__dirname, '..', 'lib'))}).load(${JSON.stringify(fifo)})
        .then(() => console.log('loaded'), (e) => console.log(e.message));`;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.signal, null, `load() of a FIFO still ran after 30 s:\n${run.stdout}${run.stderr}`);
      assert.equal(run.stdout.trim(), `load('${fifo}'): the path is a FIFO (named pipe), not a regular file (torch.save files are regular files)`);
    });

    it('/dev/zero is a character device, not an empty file', async function () {
      if (!fs.existsSync('/dev/zero')) this.skip();
      await expectError(torch.load('/dev/zero'), 'load', '/dev/zero', /: the path is a character device, not a regular file/);
    });

    it('a directory', async () => {
      await expectError(torch.loadValue(workDir), 'loadValue', workDir, /: the path is a directory, not a regular file/);
    });

    it('a symbolic link to a regular file is read', async () => {
      const link = scratch('link.pt');
      fs.symlinkSync(path.join(FIXTURES, 'plain_dict.pt'), link);
      const state = await torch.load(link);
      assert.ok(state.size > 0);
      torch.dispose(state);
    });
  });

  describe('zip bombs stop at the declared size', () => {
    it('a data.pkl declared as 453 bytes that inflates to 1 GiB', async () => {
      const file = scratch('bomb-pkl.pt');
      fs.writeFileSync(file, rawZip([{ name: 'archive/data.pkl', data: deflatedZeros(1024), method: 8, size: 453 }, VERSION_ENTRY]));
      await expectError(torch.load(file), 'load', file, /: 'archive\/data\.pkl' inflates beyond its declared 453 bytes: the file is corrupt$/);
    });

    it('a storage declared as 8 bytes that inflates to 64 MiB', async () => {
      const dataPkl = pickle({ dict: [['w', pyTensor({ numel: 2, size: [2], stride: [1] })]] });
      const file = scratch('bomb-storage.pt');
      fs.writeFileSync(file, rawZip([
        { name: 'archive/data.pkl', data: dataPkl, method: 0, size: dataPkl.length },
        { name: 'archive/data/0', data: deflatedZeros(64), method: 8, size: 8 },
        VERSION_ENTRY,
      ]));
      await expectError(torch.load(file), 'load', file, /: 'archive\/data\/0' inflates beyond its declared 8 bytes: the file is corrupt$/);
    });
  });

  describe('storages and views are checked against the file before anything is allocated', () => {
    it('a storage claiming 1e12 elements names the storage and the file size', async () => {
      const file = await writeArchive('huge-storage.pt', pickle({ dict: [['w', pyTensor({ numel: 1e12, size: [1e12], stride: [1] })]] }), { 0: FLOATS });
      const size = fs.statSync(file).size;
      await expectError(torch.load(file), 'load', file, new RegExp(`: the storage record 'archive/data/0' holds 8 bytes but its 1000000000000 float32 ` +
        `elements need 4000000000000 \\(the whole file has ${size} bytes: truncated or corrupt\\)$`));
    });

    it('a view reaching past its storage', async () => {
      const file = await writeArchive('past-storage.pt', pickle({ dict: [['w', pyTensor({ numel: 2, offset: 1, size: [2], stride: [1] })]] }), { 0: FLOATS });
      await expectError(torch.load(file), 'load', file, /a tensor of size \[2\] reaches element 2 of storage '0', which holds 2 \(corrupt data\.pkl\)$/);
    });

    it('one storage named with two dtypes', async () => {
      const dataPkl = pickle({ dict: [['a', pyTensor({ numel: 2, size: [2], stride: [1] })],
        ['b', pyTensor({ storageClass: 'IntStorage', numel: 2, size: [2], stride: [1] })]] });
      const file = await writeArchive('two-dtypes.pt', dataPkl, { 0: FLOATS });
      await expectError(torch.load(file), 'load', file, /storage '0' is named twice with different types or sizes/);
    });

    it('a stride-0 view of more than 2^53 elements', async () => {
      const file = await writeArchive('huge-view.pt', pickle({ dict: [['w', pyTensor({ numel: 1, size: [2 ** 27, 2 ** 27], stride: [0, 0] })]] }), { 0: FLOATS });
      await expectError(torch.load(file), 'load', file, /size \[134217728, 134217728\] has 18014398509481984 elements, more than 2\^53/);
    });

    it('a stride-0 view of many elements over one stored element loads as an expanded view', async () => {
      const file = await writeArchive('expanded.pt', pickle({ dict: [['w', pyTensor({ numel: 1, size: [1000, 1000], stride: [0, 0] })]] }), { 0: FLOATS });
      const state = await torch.load(file);
      const w = state.get('w') as torch.Tensor;
      assert.deepEqual(w.shape, [1000, 1000]);
      assert.equal(w.sum().item(), 1.5e6);
      torch.dispose(state);
    });

    it('a failure after some tensors were made leaves no live tensors', async () => {
      const before = await settledLiveTensors();
      const dataPkl = pickle({ dict: [['a', pyTensor({ numel: 2, size: [2], stride: [1] })],
        ['b', pyTensor({ storageClass: 'LongStorage', key: '1', numel: 1, size: [1], stride: [1], requiresGrad: true })]] });
      const file = await writeArchive('int-grad.pt', dataPkl, { 0: FLOATS, 1: new Uint8Array(8) });
      await expectError(torch.load(file), 'load', file, /floating point/);
      assert.equal(torch.memory().liveTensors, before);
    });
  });

  describe('deep nesting loads, as in Python', () => {
    for (const depth of [10_000, 100_000]) {
      it(`a tensor inside ${depth} nested lists`, async () => {
        const before = await settledLiveTensors();
        const dataPkl = Buffer.concat([Buffer.of(OP.PROTO, 2), Buffer.alloc(depth, OP.EMPTY_LIST),
          body(pickle(pyTensor({ numel: 2, size: [2], stride: [1] }))), Buffer.alloc(depth, OP.APPEND), Buffer.of(OP.STOP)]);
        const value = await torch.loadValue(await writeArchive(`deep-${depth}.pt`, dataPkl, { 0: FLOATS }));
        let node: torch.PickleValue = value;
        let levels = 0;
        for (; Array.isArray(node); ++levels) node = node[0];
        assert.equal(levels, depth);
        assert.ok(node instanceof torch.Tensor);
        assert.deepEqual(node.toArray(), [1.5, -2]);
        node.dispose();
        assert.equal(torch.memory().liveTensors, before);
      });
    }

    it('a list naming the one before it twice, 60 times over (2^60 paths), loads in linear time, shared as in Python', async () => {
      const ops: Buffer[] = [Buffer.of(OP.PROTO, 2), body(pickle(pyTensor({ numel: 2, size: [2], stride: [1] }))), Buffer.of(OP.BINPUT, 0)];
      for (let k = 1; k <= 60; ++k) ops.push(Buffer.of(OP.EMPTY_LIST, OP.BINGET, k - 1, OP.APPEND, OP.BINGET, k - 1, OP.APPEND, OP.BINPUT, k));
      ops.push(Buffer.of(OP.STOP));
      const value = await torch.loadValue(await writeArchive('laughs.pt', Buffer.concat(ops), { 0: FLOATS }));
      let node: torch.PickleValue = value;
      for (let k = 0; k < 60; ++k) {
        assert.ok(Array.isArray(node) && node.length === 2 && node[0] === node[1]);
        node = node[0];
      }
      assert.ok(node instanceof torch.Tensor);
      node.dispose();
    });

    it('load() of 100,000 nested dicts says it is not a state dict and frees its tensors', async () => {
      const before = await settledLiveTensors();
      const depth = 100_000;
      const level = Buffer.concat([Buffer.of(OP.EMPTY_DICT), body(pickle('k'))]);
      const dataPkl = Buffer.concat([Buffer.of(OP.PROTO, 2), Buffer.concat(new Array<Buffer>(depth).fill(level)),
        body(pickle(pyTensor({ numel: 2, size: [2], stride: [1] }))), Buffer.alloc(depth, OP.SETITEM), Buffer.of(OP.STOP)]);
      const file = await writeArchive('deep-dicts.pt', dataPkl, { 0: FLOATS });
      await expectError(torch.load(file), 'load', file, /the file holds a dict whose entry 'k' is not a tensor, not a state dict/);
      assert.equal(torch.memory().liveTensors, before);
    });
  });

  describe('the version record is read and checked, as PyTorch reads it', () => {
    const dataPkl = pickle({ dict: [['w', pyTensor({ numel: 2, size: [2], stride: [1] })]] });
    const withVersion = (name: string, records: Array<[string, string]>): Promise<string> => {
      const file = scratch(name);
      return recordsArchive([['archive/data.pkl', dataPkl], ['archive/data/0', FLOATS], ...records])
        .then((bytes) => fs.writeFileSync(file, bytes)).then(() => file);
    };
    // Each with what PyTorch 1.13 and 2.11 do (PyTorchStreamReader::init: std::stoull, then 1..10).
    const cases: Array<{ name: string; records: Array<[string, string]>; refused?: RegExp }> = [
      { name: 'missing', records: [], refused: /: the archive has no version record 'archive\/version', which every torch\.save file has/ },
      { name: 'empty', records: [['archive/version', '']], refused: /: the version record 'archive\/version' holds "", not a number \(corrupt file\)$/ },
      { name: 'not-a-number', records: [['archive/version', 'abc\n']], refused: /holds "abc\\n", not a number/ },
      { name: 'nul-first', records: [['archive/version', '\u00003']], refused: /holds "\\u00003", not a number/ },
      { name: 'zero', records: [['archive/version', '0\n']], refused: /holds "0\\n": format version 0 is older than any torch\.save format \(the oldest is 1; corrupt file\)$/ },
      { name: 'minus-one', records: [['archive/version', '-1']], refused: /archive format version is 18446744073709551615 \('archive\/version' holds "-1"\)/ },
      { name: 'beyond-64-bits', records: [['archive/version', '18446744073709551616']], refused: /holds "18446744073709551616", a number beyond 64 bits/ },
      { name: 'newer', records: [['archive/version', '11\n']],
        refused: /: the file's archive format version is 11 \('archive\/version' holds "11\\n"\), but torchbridge reads versions 1 to 10, as PyTorch 1\.13 to 2\.11 do: it was written by a newer PyTorch/ },
      { name: 'one', records: [['archive/version', '1']] },
      { name: 'ten', records: [['archive/version', '10\n']] },
      { name: 'spaces-sign-and-trailing-text', records: [['archive/version', ' \t+3 and more']] },
      { name: 'dot-data-first', records: [['archive/version', 'abc'], ['archive/.data/version', '3\n']] },
      { name: 'dot-data-bad', records: [['archive/version', '3\n'], ['archive/.data/version', '99']], refused: /'archive\/\.data\/version' holds "99"/ },
    ];
    for (const { name, records, refused } of cases) {
      it(`${name}: ${refused === undefined ? 'loads' : 'refused'}`, async () => {
        const file = await withVersion(`version-${name}.pt`, records);
        if (refused !== undefined) {
          await expectError(torch.load(file), 'load', file, refused);
        } else {
          const state = await torch.load(file);
          assert.deepEqual((state.get('w') as torch.Tensor).toArray(), [1.5, -2]);
          torch.dispose(state);
        }
      });
    }

    it('our own torch.save writes the version record 3\\n, and the file loads', async () => {
      const file = scratch('own-version.pt');
      const t = torch.tensor([1, 2], { dtype: 'float32' });
      try {
        await torch.save(new Map([['t', t]]), file);
      } finally {
        t.dispose();
      }
      const state = await torch.load(file);
      torch.dispose(state);
      const python = spawnSync(PYTHON, ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(repr(z.read(z.namelist()[0].split("/")[0] + "/version")))', file], { encoding: 'utf8' });
      if (python.status === 0) assert.equal(python.stdout.trim(), "b'3\\n'");
    });

    it('PyTorch refuses and loads the same files', async function () {
      const check = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
      if (check.status !== 0) this.skip();
      const files = await Promise.all(cases.map(({ name, records }) => withVersion(`py-version-${name}.pt`, records)));
      const script = `
import sys, torch
for path in sys.argv[1:]:
    try:
        torch.load(path)
        print('loads')
    except Exception as e:
        print('refused')
`;
      const run = spawnSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8', timeout: 120_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split('\n'), cases.map((c) => (c.refused === undefined ? 'loads' : 'refused')));
    });
  });

  describe('zip archives PyTorch (miniz) refuses', () => {
    it('bytes appended after the archive name the file and the count', async () => {
      const good = fs.readFileSync(path.join(FIXTURES, 'plain_dict.pt'));
      const file = scratch('appended.pt');
      fs.writeFileSync(file, Buffer.concat([good, Buffer.alloc(5000, 0xa5)]));
      await expectError(torch.load(file), 'load', file, /: corrupt zip archive: 5000 bytes follow its end-of-central-directory record \(data appended to the file\?\)$/);
    });

    it("a multi-disk end record (entries on this disk 65535, as PyTorch's 'unsupported multidisk archive')", async () => {
      const file = await writeArchive('multidisk.pt', pickle({ dict: [['w', pyTensor({ numel: 2, size: [2], stride: [1] })]] }), { 0: FLOATS });
      const bytes = fs.readFileSync(file);
      bytes.writeUInt16LE(0xffff, bytes.length - 22 + 8);
      fs.writeFileSync(file, bytes);
      await expectError(torch.loadValue(file), 'loadValue', file, /: unsupported zip archive: the end record counts 65535 entries on this disk but 3 in all: a multi-disk/);
    });

    it("a PyTorch file whose 32-bit end record is damaged loads, as in PyTorch: the zip64 record is what miniz reads", async () => {
      const bytes = Buffer.from(fs.readFileSync(path.join(FIXTURES, 'plain_dict.pt')));
      bytes.writeUInt32LE(bytes.length, bytes.length - 6);
      const file = scratch('damaged-end-record.pt');
      fs.writeFileSync(file, bytes);
      const state = await torch.load(file);
      assert.ok(state.size > 0);
      torch.dispose(state);
    });
  });

  describe('truncated and corrupted PyTorch files', () => {
    it('every truncation of a PyTorch-made state dict is a clear error naming the file', async () => {
      const good = fs.readFileSync(path.join(FIXTURES, 'plain_dict.pt'));
      const file = scratch('truncated.pt');
      for (let n = 1; n < good.length; n += 13) {
        fs.writeFileSync(file, good.subarray(0, n));
        await expectError(torch.load(file), 'load', file, /(truncated|corrupt|not a torch\.save file|not a zip archive)/);
      }
    });

    it('a central directory that points past the end of the file', async () => {
      const bytes = Buffer.from(fs.readFileSync(path.join(FIXTURES, 'plain_dict.pt')));
      // PyTorch writes zip64 end records, and miniz takes the directory's offset from them
      bytes.writeBigUInt64LE(BigInt(bytes.length), zip64RecordAt(bytes) + 48);
      const file = scratch('bad-directory.pt');
      fs.writeFileSync(file, bytes);
      await expectError(torch.load(file), 'load', file, /truncated zip archive: the central directory \(\d+ bytes at \d+\) extends past the end of the file/);
    });

    it('a local header offset past the end of the file', async () => {
      const bytes = Buffer.from(fs.readFileSync(path.join(FIXTURES, 'plain_dict.pt')));
      const directory = bytes.readUInt32LE(bytes.length - 6);
      bytes.writeUInt32LE(0x7fffffff, directory + 42); // the first entry's local header
      const file = scratch('bad-offset.pt');
      fs.writeFileSync(file, bytes);
      await expectError(torch.load(file), 'load', file, /truncated zip archive: the local header of '.*' is past the end of the file/);
    });
  });
});
