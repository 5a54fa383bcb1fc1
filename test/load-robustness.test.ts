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
import { deflatedZeros, OP, pickle, pyTensor, rawZip, torchArchive } from './checkpoint-bytes';

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
      fs.writeFileSync(file, rawZip([{ name: 'archive/data.pkl', data: deflatedZeros(1024), method: 8, size: 453 }]));
      await expectError(torch.load(file), 'load', file, /: 'archive\/data\.pkl' inflates beyond its declared 453 bytes: the file is corrupt$/);
    });

    it('a storage declared as 8 bytes that inflates to 64 MiB', async () => {
      const dataPkl = pickle({ dict: [['w', pyTensor({ numel: 2, size: [2], stride: [1] })]] });
      const file = scratch('bomb-storage.pt');
      fs.writeFileSync(file, rawZip([
        { name: 'archive/data.pkl', data: dataPkl, method: 0, size: dataPkl.length },
        { name: 'archive/data/0', data: deflatedZeros(64), method: 8, size: 8 },
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
      bytes.writeUInt32LE(bytes.length, bytes.length - 6); // the directory's offset
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
