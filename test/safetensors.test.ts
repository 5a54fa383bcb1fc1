// safetensors, both ways: files Python's safetensors wrote (test/fixtures/safetensors, from
// scripts/gen_safetensors_fixtures.py) read exactly and written again byte for byte; corrupt and
// hostile files refused with errors that name the field and the tensor; and, when
// TORCHBRIDGE_PYTHON can import safetensors, live exchanges with Python in both directions.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { loadSafetensors, loadSafetensorsHeader, saveSafetensors } from '../lib/serialization';
import { PYTHON, settledLiveTensors } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures', 'safetensors');
const SCRIPT = path.join(__dirname, '..', 'scripts', 'gen_safetensors_fixtures.py');

/** A tensor as expected.json describes it (see the generator's docstring). */
interface TensorSpec {
  name: string;
  dtype: torch.DType;
  shape: number[];
  data_offsets: [number, number];
  hex: string;
  values: Array<number | string | boolean>;
}

/** A file as expected.json (and the generator's write mode) describes it. */
interface FileSpec {
  metadata: Record<string, string> | null;
  saved_order: string[];
  byte_identical: boolean;
  tensors: TensorSpec[];
  resave_identical?: boolean;
}

const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as { files: Record<string, FileSpec> };

let workDir = '';

function scratch(name: string): string {
  return path.join(workDir, name);
}

function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

// ---- tensors and their bytes ----------------------------------------------------------------

/** The elements' little-endian bytes, as hex. */
function hexOf(t: torch.Tensor): string {
  return torch.tidy(() => {
    const flat = t.contiguous().reshape([t.numel]);
    return Buffer.from((flat.dtype === 'uint8' ? flat : flat.view('uint8')).data() as Uint8Array).toString('hex');
  });
}

const NON_FINITE: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

function decoded(value: number | string | boolean): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  assert.ok(value in NON_FINITE, `unexpected encoded value ${value}`);
  return NON_FINITE[value];
}

/**
 * A new tensor built from a spec's values (not its bytes). Floats go through float64: libtorch
 * 1.13's float32 -> bfloat16 conversion turns NaN into 0xffff, its float64 one into 0x7fc0 (Python's).
 */
function fromValues(spec: TensorSpec): torch.Tensor {
  const options = { shape: spec.shape, dtype: spec.dtype, copy: true };
  switch (spec.dtype) {
    case 'int64':
      return torch.tensor(BigInt64Array.from(spec.values, (v) => BigInt(v as string)), options);
    case 'int32':
      return torch.tensor(Int32Array.from(spec.values, decoded), options);
    case 'uint8':
    case 'bool':
      return torch.tensor(Uint8Array.from(spec.values, decoded), options);
    default:
      return torch.tensor(Float64Array.from(spec.values, decoded), options);
  }
}

/** Asserts a tensor's dtype, shape, bytes and values (NaN, -0 and int64 beyond 2^53 exactly). */
function assertMatches(t: torch.Tensor, spec: TensorSpec, what: string): void {
  assert.equal(t.dtype, spec.dtype, `${what}: dtype`);
  assert.deepEqual(t.shape, spec.shape, `${what}: shape`);
  assert.equal(t.device, 'cpu', `${what}: device`);
  assert.equal(t.requiresGrad, false, `${what}: requiresGrad`);
  assert.equal(hexOf(t), spec.hex, `${what}: bytes`);
  const data = t.data();
  assert.equal(data.length, spec.values.length, `${what}: element count`);
  for (let k = 0; k < spec.values.length; ++k) {
    if (data instanceof BigInt64Array) {
      assert.equal(data[k], BigInt(spec.values[k] as string), `${what}: element ${k}`);
    } else {
      assert.ok(Object.is(data[k], decoded(spec.values[k])), `${what}: element ${k} is ${data[k]}, expected ${spec.values[k]}`);
    }
  }
}

function metadataObject(metadata: Map<string, string> | null): Record<string, string> | null {
  return metadata === null ? null : Object.fromEntries(metadata);
}

// ---- hand-made files --------------------------------------------------------------------------

/** The bytes of a safetensors file: the length field (the header's, unless given), header, data. */
function fileBytes(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), length?: bigint): Buffer {
  const text = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(header);
  const field = Buffer.alloc(8);
  field.writeBigUInt64LE(length ?? BigInt(text.length));
  return Buffer.concat([field, text, data]);
}

let fileCount = 0;

function writeFile(bytes: Uint8Array): string {
  const file = scratch(`case-${fileCount++}.safetensors`);
  fs.writeFileSync(file, bytes);
  return file;
}

function entry(dtype: string, shape: unknown[], offsets: unknown[]): object {
  return { dtype, shape, data_offsets: offsets };
}

/** Asserts that both readers refuse `file` with an Error starting with their name and the path. */
async function expectRefused(file: string, pattern: RegExp, which: 'both' | 'tensors' = 'both'): Promise<void> {
  const before = await settledLiveTensors();
  const readers = which === 'both' ? [['loadSafetensors', loadSafetensors], ['loadSafetensorsHeader', loadSafetensorsHeader]] as const
    : [['loadSafetensors', loadSafetensors]] as const;
  for (const [name, read] of readers) {
    await assert.rejects(read(file), (e: Error) => {
      assert.equal(e.constructor, Error, `${name}: ${e.constructor.name}: ${e.message}`);
      assert.ok(e.message.startsWith(`${name}('${file}'): `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  }
  assert.equal(torch.memory().liveTensors, before, 'a refused file leaves no tensors behind');
}

async function refusedHeader(header: string | Uint8Array, data: Uint8Array, pattern: RegExp, length?: bigint): Promise<void> {
  await expectRefused(writeFile(fileBytes(header, data, length)), pattern);
}

// ---- Python ---------------------------------------------------------------------------------

function pythonHasSafetensors(): boolean {
  return fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import safetensors.torch'], { stdio: 'ignore' }).status === 0;
}

function runScript(args: string[]): void {
  const run = spawnSync(PYTHON, [SCRIPT, ...args], { encoding: 'utf8', timeout: 300_000, cwd: path.dirname(SCRIPT) });
  assert.equal(run.status, 0, `${path.basename(SCRIPT)} ${args[0]} failed:\n${run.stdout}${run.stderr}`);
}

// ---- the tests ------------------------------------------------------------------------------

describe('safetensors', function () {
  this.timeout(120_000);

  before(() => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-safetensors-'));
  });
  after(() => fs.rmSync(workDir, { recursive: true, force: true }));

  describe('reads what Python wrote', () => {
    for (const [name, spec] of Object.entries(expected.files)) {
      it(`${name}: names in file order, dtypes, shapes, every byte, the metadata`, async () => {
        const state = await loadSafetensors(fixture(name));
        try {
          assert.deepEqual([...state.keys()], spec.tensors.map((t) => t.name));
          for (const t of spec.tensors) assertMatches(state.get(t.name) as torch.Tensor, t, `${name} ${JSON.stringify(t.name)}`);
        } finally {
          torch.dispose(state);
        }
        const header = await loadSafetensorsHeader(fixture(name));
        assert.deepEqual(metadataObject(header.metadata), spec.metadata);
        assert.deepEqual(header.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets]),
          spec.tensors.map((t) => [t.name, t.dtype, t.shape, t.data_offsets]));
        const size = fs.statSync(fixture(name)).size;
        assert.equal(header.dataStart + header.dataLength, size);
        assert.equal(header.dataStart % 8, 0, 'Python pads the header to a multiple of 8 bytes');
      });
    }

    it('the fixtures cover every dtype, 0-dim and empty tensors, a 4-dim shape, NaN, infinities and -0', () => {
      const tensors = Object.values(expected.files).flatMap((f) => f.tensors);
      assert.deepEqual([...new Set(tensors.map((t) => t.dtype))].sort(), [...torch.DTYPES].sort());
      assert.ok(tensors.some((t) => t.shape.length === 0));
      assert.ok(tensors.some((t) => t.shape.includes(0) && t.shape.length > 1));
      assert.ok(tensors.some((t) => t.shape.length === 4));
      const values = tensors.flatMap((t) => t.values);
      for (const v of ['nan', 'inf', '-inf']) assert.ok(values.includes(v), v);
      assert.ok(values.some((v) => Object.is(v, -0)), '-0');
    });

    it('a dtype torchbridge lacks (int8, written by Python) is refused by name', async () => {
      await expectRefused(fixture('int8.safetensors'), /: tensor "q" has dtype I8 \(int8\), which torchbridge has no tensors for; it reads F32 \(float32\), .*BOOL \(bool\)$/);
    });

    it('loading and disposing leaves no live tensors', async () => {
      const before = await settledLiveTensors();
      for (const name of Object.keys(expected.files)) torch.dispose(await loadSafetensors(fixture(name)));
      assert.equal(torch.memory().liveTensors, before);
    });

    it('loaded tensors own their memory: writing to one changes no other', async () => {
      const state = await loadSafetensors(fixture('dtypes.safetensors'));
      try {
        const u8 = state.get('u8') as torch.Tensor;
        const cube = state.get('cube.u8') as torch.Tensor;
        u8.fill_(9);
        assert.deepEqual(Array.from(cube.data() as Uint8Array), [0, 1, 2, 3, 4, 5]);
        assert.ok((u8.data() as Uint8Array).every((b) => b === 9));
      } finally {
        torch.dispose(state);
      }
    });
  });

  describe('writes what Python writes, byte for byte', () => {
    for (const [name, spec] of Object.entries(expected.files)) {
      if (!spec.byte_identical) continue;
      it(`${name}: the tensors (built from their values, in Python's dict order) and metadata give the same bytes`, async () => {
        const byName = new Map(spec.tensors.map((t) => [t.name, t]));
        const state = new Map(spec.saved_order.map((n) => [n, fromValues(byName.get(n) as TensorSpec)]));
        const file = scratch(`rewritten-${name}`);
        try {
          await saveSafetensors(state, file, { metadata: spec.metadata });
        } finally {
          torch.dispose(state);
        }
        const ours = fs.readFileSync(file);
        const theirs = fs.readFileSync(fixture(name));
        const at = ours.findIndex((b, k) => b !== theirs[k]);
        assert.ok(ours.equals(theirs), `${ours.length} bytes against Python's ${theirs.length}; first difference at byte ${at}: ` +
          `${JSON.stringify(ours.subarray(Math.max(0, at - 30), at + 30).toString('latin1'))} against ` +
          `${JSON.stringify(theirs.subarray(Math.max(0, at - 30), at + 30).toString('latin1'))}`);
      });
    }

    it('metadata.safetensors (several keys, which Python orders at random): same tensors bytes, same metadata, key order as given', async () => {
      const spec = expected.files['metadata.safetensors'];
      const state = await loadSafetensors(fixture('metadata.safetensors'));
      const file = scratch('metadata-copy.safetensors');
      try {
        await saveSafetensors(state, file, { metadata: spec.metadata });
      } finally {
        torch.dispose(state);
      }
      const header = await loadSafetensorsHeader(file);
      assert.deepEqual([...(header.metadata as Map<string, string>).entries()], Object.entries(spec.metadata as object));
      const ours = fs.readFileSync(file);
      const theirs = fs.readFileSync(fixture('metadata.safetensors'));
      assert.equal(ours.length, theirs.length);
      assert.ok(ours.subarray(header.dataStart).equals(theirs.subarray(header.dataStart)), 'the data buffer');
    });

    it('no tensors with empty metadata: valid JSON {"__metadata__":{}} (Python 0.8 writes {},"__metadata__":{}}, which no reader accepts)', async () => {
      const file = scratch('empty-metadata.safetensors');
      await saveSafetensors({}, file, { metadata: {} });
      assert.ok(fs.readFileSync(file).equals(fileBytes('{"__metadata__":{}}     ')));
      const header = await loadSafetensorsHeader(file);
      assert.deepEqual([header.metadata?.size, header.tensors.length, header.dataLength], [0, 0, 0]);
    });

    it('no metadata option (or null) writes no __metadata__ entry; a plain object works as a Map', async () => {
      const a = scratch('plain-a.safetensors');
      const b = scratch('plain-b.safetensors');
      const t = torch.tensor([1, 2, 3], { dtype: 'int32' });
      try {
        await saveSafetensors({ x: t }, a);
        await saveSafetensors(new Map([['x', t]]), b, { metadata: null });
      } finally {
        t.dispose();
      }
      const expectedBytes = fileBytes('{"x":{"dtype":"I32","shape":[3],"data_offsets":[0,12]}} ', Buffer.from(Int32Array.of(1, 2, 3).buffer));
      assert.ok(fs.readFileSync(a).equals(expectedBytes), fs.readFileSync(a).toString('latin1'));
      assert.ok(fs.readFileSync(b).equals(expectedBytes));
    });
  });

  describe('round trip here (save, then load)', () => {
    it('views are written as their values, contiguous: transposed, expanded, sliced, 0-dim', async () => {
      const before = await settledLiveTensors();
      const state = torch.tidy(() => {
        const base = torch.arange(12, { dtype: 'float32' }).reshape([3, 4]);
        return new Map<string, torch.Tensor>([
          ['transposed', base.transpose(0, 1)],
          ['expanded', torch.tensor([1, 2], { dtype: 'int64' }).reshape([2, 1]).expand([2, 3])],
          ['sliced', base.narrow(1, 1, 2)],
          ['element', base.select(0, 2).select(0, 3)],
          ['half', base.to('bfloat16').transpose(0, 1)],
        ]);
      });
      assert.ok(!(state.get('transposed') as torch.Tensor).isContiguous() && !(state.get('expanded') as torch.Tensor).isContiguous());
      const file = scratch('views.safetensors');
      await saveSafetensors(state, file);
      const loaded = await loadSafetensors(file);
      try {
        for (const [name, t] of state) {
          const back = loaded.get(name) as torch.Tensor;
          assert.deepEqual(back.shape, t.shape, name);
          assert.equal(back.dtype, t.dtype, name);
          assert.deepEqual(back.toArray(), t.toArray(), name);
          assert.ok(back.isContiguous(), name);
        }
      } finally {
        torch.dispose([state, loaded]);
      }
      assert.equal(torch.memory().liveTensors, before, 'no tensor is leaked by save or load');
    });

    it('shared memory: one tensor under two names, or two views of one tensor, is written in full for each name', async () => {
      const weight = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
      const row = weight.select(0, 1);
      const file = scratch('shared.safetensors');
      try {
        await saveSafetensors({ 'encoder.weight': weight, 'decoder.weight': weight, 'row': row }, file);
      } finally {
        torch.dispose([weight, row]);
      }
      const header = await loadSafetensorsHeader(file);
      assert.deepEqual(header.tensors.map((t) => [t.name, t.dataOffsets]),
        [['decoder.weight', [0, 16]], ['encoder.weight', [16, 32]], ['row', [32, 40]]]);
      const loaded = await loadSafetensors(file);
      try {
        const [a, b] = [loaded.get('encoder.weight') as torch.Tensor, loaded.get('decoder.weight') as torch.Tensor];
        assert.deepEqual(a.toArray(), [[1, 2], [3, 4]]);
        a.fill_(0);
        assert.deepEqual(b.toArray(), [[1, 2], [3, 4]], 'loaded tensors are independent');
        assert.deepEqual((loaded.get('row') as torch.Tensor).toArray(), [3, 4]);
      } finally {
        torch.dispose(loaded);
      }
    });

    it('requires_grad is not stored; a tensor the caller disposes while the save runs is still written', async () => {
      const t = torch.tensor([0.5, -1], { requiresGrad: true });
      const file = scratch('grad.safetensors');
      const saving = saveSafetensors({ w: t }, file);
      t.dispose();
      await saving;
      const loaded = await loadSafetensors(file);
      try {
        const w = loaded.get('w') as torch.Tensor;
        assert.equal(w.requiresGrad, false);
        assert.deepEqual(w.toArray(), [0.5, -1]);
      } finally {
        torch.dispose(loaded);
      }
    });

    it('a larger tensor of every dtype, bit for bit', async () => {
      torch.manualSeed(7);
      const state = new Map<string, torch.Tensor>();
      for (const dtype of torch.DTYPES) {
        state.set(`t.${dtype}`, dtype === 'bool' ? torch.rand([301, 7]).gt(0.5)
          : torch.isFloatingPoint(dtype) ? torch.randn([301, 7]).mul(1000).to(dtype)
            : torch.randint(0, 200, [301, 7], { dtype }));
      }
      const file = scratch('large.safetensors');
      await saveSafetensors(state, file);
      const loaded = await loadSafetensors(file);
      try {
        assert.deepEqual([...loaded.keys()], ['t.int64', 't.float64', 't.float32', 't.int32', 't.bfloat16', 't.float16', 't.uint8', 't.bool']);
        for (const [name, t] of state) assert.equal(hexOf(loaded.get(name) as torch.Tensor), hexOf(t), name);
      } finally {
        torch.dispose([state, loaded]);
      }
    });
  });

  describe('saveSafetensors refuses what it cannot write, and leaves the target as it was', () => {
    async function refusedSave(tensors: unknown, pattern: RegExp, options?: unknown): Promise<void> {
      const file = scratch('target.safetensors');
      fs.writeFileSync(file, 'previous contents');
      const before = await settledLiveTensors();
      await assert.rejects(saveSafetensors(tensors as Map<string, torch.Tensor>, file, options as undefined), (e: Error) => {
        assert.equal(e.constructor, TypeError, `${e.constructor.name}: ${e.message}`);
        assert.ok(e.message.startsWith(`saveSafetensors('${file}'): `), e.message);
        assert.match(e.message, pattern);
        return true;
      });
      assert.equal(torch.memory().liveTensors, before, 'the save releases its handles');
      assert.equal(fs.readFileSync(file, 'utf8'), 'previous contents');
      assert.deepEqual(fs.readdirSync(workDir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file remains');
    }

    it('values that are not tensors, disposed tensors, names that are not strings', async () => {
      const t = torch.zeros([2]);
      const gone = torch.zeros([2]);
      gone.dispose();
      try {
        await refusedSave({ a: t, b: 3 }, /tensors\["b"\] is a number, not a Tensor/);
        await refusedSave({ a: t, b: gone }, /tensors\["b"\] is a disposed tensor/);
        await refusedSave(new Map<unknown, unknown>([[1, t]]), /tensors has the key a number; tensor names must be strings/);
        await refusedSave([t], /tensors must be a Map or a plain object, got an array/);
        await refusedSave(t, /tensors must be a Map or a plain object, got an object \(Tensor\)/);
        await refusedSave(null, /tensors must be a Map or a plain object, got null/);
      } finally {
        t.dispose();
      }
    });

    it('the name "__metadata__", lone surrogates, metadata that is not strings, options that are not an object', async () => {
      const t = torch.zeros([2]);
      try {
        await refusedSave({ __metadata__: t }, /a tensor cannot be named "__metadata__"/);
        await refusedSave({ ['bad\ud800']: t }, /the tensor name "bad\\ud800" holds a lone surrogate \(U\+D800 at index 3\)/);
        await refusedSave({ a: t }, /options\.metadata\["n"\] is a number; metadata values must be strings/, { metadata: { n: 1 } });
        await refusedSave({ a: t }, /options\.metadata\["k"\] holds a lone surrogate \(U\+DC00 at index 0\)/, { metadata: { k: '\udc00' } });
        await refusedSave({ a: t }, /options\.metadata must be a Map or a plain object, got a string/, { metadata: 'format=pt' });
        await refusedSave({ a: t }, /the options must be an object/, 'pt');
      } finally {
        t.dispose();
      }
    });

    it('a header over the 100 MB readers accept', async () => {
      const t = torch.zeros([1]);
      try {
        await refusedSave({ a: t }, /the header would take 1000000\d\d bytes, more than the 100000000 that safetensors readers accept/,
          { metadata: { big: 'x'.repeat(100_000_000) } });
      } finally {
        t.dispose();
      }
    });

    it('a path that is empty or not a string; a missing directory; a directory as the target', async () => {
      const t = torch.zeros([1]);
      try {
        await assert.rejects(saveSafetensors({ a: t }, ''), /^TypeError: saveSafetensors\(tensors, path\): path must be a non-empty string$/);
        await assert.rejects(saveSafetensors({ a: t }, 5 as unknown as string), TypeError);
        const missing = path.join(workDir, 'no-such-dir', 'x.safetensors');
        await assert.rejects(saveSafetensors({ a: t }, missing), (e: Error) =>
          e.constructor === Error && e.message === `saveSafetensors('${missing}'): cannot write ${missing}: directory ${path.dirname(missing)} does not exist`);
        await assert.rejects(saveSafetensors({ a: t }, workDir), (e: Error) =>
          e.constructor === Error && e.message.startsWith(`saveSafetensors('${workDir}'): `));
      } finally {
        t.dispose();
      }
    });
  });

  describe('unusual but valid files (accepted, as the reference reader accepts them)', () => {
    it('entries in any order, an unpadded header, white space around it, unknown fields, null metadata, zero-size tensors anywhere, escapes', async () => {
      const header = ' \n{"__metadata__": null, "b" : {"data_offsets":[4,6],"shape":[2],"dtype":"U8","note":{"any":[1,2.5,true,null]}},\r\n' +
        '"a\\u00e9\\ud83d\\ude00\\/":{"dtype":"F32","shape":[],"data_offsets":[0,4]}, "z":{"dtype":"BOOL","shape":[0,3],"data_offsets":[6,6]},' +
        '"e":{"dtype":"I64","shape":[4,0],"data_offsets":[0,0]}}\t ';
      const data = Buffer.concat([Buffer.from(Float32Array.of(-2.5).buffer), Buffer.from([7, 255])]);
      const file = writeFile(fileBytes(header, data));
      const loaded = await loadSafetensors(file);
      try {
        assert.deepEqual([...loaded.keys()], ['e', 'a\u00e9\u{1F600}/', 'b', 'z']);
        assert.deepEqual([...loaded.values()].map((t) => [t.dtype, t.shape, t.toArray()]),
          [['int64', [4, 0], [[], [], [], []]], ['float32', [], -2.5], ['uint8', [2], [7, 255]], ['bool', [0, 3], []]]);
      } finally {
        torch.dispose(loaded);
      }
      const info = await loadSafetensorsHeader(file);
      assert.equal(info.metadata, null);
      assert.equal(info.dataStart, 8 + Buffer.byteLength(header));
    });
  });

  describe('corrupt files are refused, naming the problem, before anything is read or allocated', () => {
    const F32x2 = Buffer.from(Float32Array.of(1, 2).buffer);

    it('files too short for the length field', async () => {
      await expectRefused(writeFile(Buffer.alloc(0)), /: the file has 0 bytes, fewer than the 8-byte header length/);
      await expectRefused(writeFile(Buffer.from([1, 0, 0])), /: the file has 3 bytes, fewer than the 8-byte header length/);
    });

    it('a header length of 0, beyond 100 MB, beyond 2^63, or beyond the file', async () => {
      await refusedHeader('', Buffer.alloc(0), /: the header length is 0; a safetensors header is a JSON object/, 0n);
      await refusedHeader('{}', Buffer.alloc(0), /: the header length is 100000001 bytes, more than the 100000000 safetensors allows/, 100_000_001n);
      await refusedHeader('{}', Buffer.alloc(0), /: the header length is 18446744073709551615 bytes, more than the 100000000/, 2n ** 64n - 1n);
      await refusedHeader('{}', Buffer.alloc(8), /: the header length is 1000 bytes, but only 10 follow the length field \(the file has 18 bytes: truncated/, 1000n);
      await refusedHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', F32x2.subarray(0, 3),
        /: tensor "a": data_offsets \[0, 8\] end past the data buffer, which holds 3 bytes \(truncated file, or corrupt header\)/);
    });

    it('a torch.save file (a zip archive) is named as one', async () => {
      await expectRefused(path.join(__dirname, 'fixtures', 'state_dicts', 'sequential.pt'),
        /: the header length is \d+ bytes, more than the 100000000 safetensors allows \(the file is a zip archive, perhaps a torch.save file: read it with load\(\)\)/);
    });

    it('a header that is not UTF-8, not JSON, or JSON with anything but white space after it', async () => {
      await refusedHeader(Uint8Array.of(0x7b, 0xff, 0x7d), Buffer.alloc(0), /: the header is not valid UTF-8 text/);
      await refusedHeader('{"a":', Buffer.alloc(0), /: the header is not valid JSON: expected a value for the header\["a"\], the header ends \(line 1, column 6\)/);
      await refusedHeader('{"a":{},}', Buffer.alloc(0), /: the header is not valid JSON: expected a key \(a string\) in the header, found "}" \(line 1, column 9\)/);
      await refusedHeader("{'a':1}", Buffer.alloc(0), /not valid JSON: expected a key \(a string\) in the header, found "'"/);
      await refusedHeader('{} // comment', Buffer.alloc(0), /not valid JSON: found "\/" after the end of the JSON object \(safetensors pads headers with spaces only\) \(line 1, column 4\)/);
      await refusedHeader('{}\0\0', Buffer.alloc(0), /not valid JSON: found the character U\+0000 after the end of the JSON object/);
      await refusedHeader('\ufeff{}', Buffer.alloc(0), /not valid JSON: expected a value for the header, found "\ufeff"/);
      await refusedHeader('{"a"\n:{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}', Buffer.alloc(4), /not valid JSON: expected ',' or '\]' after the header\["a"\]\["shape"\]\[0\], found "1" \(line 2, column 27\)$/);
      await refusedHeader('{"a\nb":1}', Buffer.alloc(0), /not valid JSON: a string holds the control character U\+000A unescaped/);
      await refusedHeader('{"a\\x":1}', Buffer.alloc(0), /not valid JSON: a string holds the invalid escape \\x/);
      await refusedHeader('{"\\ud800":1}', Buffer.alloc(0), /not valid JSON: a string holds a lone high surrogate/);
      await refusedHeader('{"\\udc00x":1}', Buffer.alloc(0), /not valid JSON: a string holds a lone low surrogate/);
      await refusedHeader('{"a":1 "b":2}', Buffer.alloc(0), /not valid JSON: expected ',' or '}' after the header\["a"\], found "\\"" \(line 1, column 8\)$/);
      await refusedHeader('{"a":tru}', Buffer.alloc(0), /not valid JSON: expected a value for the header\["a"\], found "t"/);
      const deep = `{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":${'['.repeat(200)}${']'.repeat(200)}}}`;
      await refusedHeader(deep, Buffer.alloc(1), /not valid JSON: the header\["a"\]\["x"\](\[0\])+ nests objects and arrays more than 128 levels deep/);
    });

    it('a header that is not an object of tensor entries', async () => {
      await refusedHeader('[]', Buffer.alloc(0), /: the header is an array, not a JSON object of tensor entries$/);
      await refusedHeader('null', Buffer.alloc(0), /: the header is null, not a JSON object of tensor entries$/);
      await refusedHeader('{"a":5}', Buffer.alloc(0), /: the entry of tensor "a" is the number 5, not an object \{"dtype", "shape", "data_offsets"\}/);
      await refusedHeader('{"__metadata__":5}', Buffer.alloc(0), /: "__metadata__" is the number 5, not an object of strings/);
      await refusedHeader('{"__metadata__":{"k":1}}', Buffer.alloc(0), /: "__metadata__"\["k"\] is the number 1, not a string/);
    });

    it('names given twice (tensors, metadata keys, fields), which JSON parsers would silently drop', async () => {
      const a = JSON.stringify(entry('F32', [1], [0, 4]));
      await refusedHeader(`{"a":${a},"a":${a}}`, Buffer.alloc(4), /: the header names "a" twice; JSON readers keep only one of the two, so the file is refused/);
      await refusedHeader(`{"__metadata__":{"k":"1","k":"2"},"a":${a}}`, Buffer.alloc(4), /: the header\["__metadata__"\] has the key "k" twice/);
      await refusedHeader('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4), /: the header\["a"\] has the key "dtype" twice/);
      await refusedHeader(`{"__metadata__":{},"__metadata__":{}}`, Buffer.alloc(0), /: the header names "__metadata__" twice/);
    });

    it('missing or mistyped fields', async () => {
      await refusedHeader('{"w":{"shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4), /: tensor "w": "dtype" is missing, not a dtype name such as "F32"/);
      await refusedHeader('{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4), /: tensor "w": "dtype" is the number 32, not a dtype name/);
      await refusedHeader('{"w":{"dtype":"F32","data_offsets":[0,4]}}', Buffer.alloc(4), /: tensor "w": "shape" is missing, not an array of sizes/);
      await refusedHeader('{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}', Buffer.alloc(4), /: tensor "w": "shape" is the number 4, not an array of sizes/);
      await refusedHeader('{"w":{"dtype":"F32","shape":[1]}}', Buffer.alloc(4), /: tensor "w": "data_offsets" is missing, not \[begin, end\]/);
      await refusedHeader('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', Buffer.alloc(4), /: tensor "w": "data_offsets" is an array of 3, not \[begin, end\]/);
      await refusedHeader('{"w":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}', Buffer.alloc(4), /: tensor "w": "data_offsets" is a string \("0-4"\), not \[begin, end\]/);
      await refusedHeader('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,null]}}', Buffer.alloc(4), /: tensor "w": data_offsets\[1\] \(end\) is null, not an integer/);
    });

    it('dtypes: unknown ones, and the format\'s dtypes torchbridge has no tensors for, by name', async () => {
      await refusedHeader(JSON.stringify({ w: entry('f32', [1], [0, 4]) }), Buffer.alloc(4),
        /: tensor "w" has dtype "f32", which is not a safetensors dtype \(torchbridge reads F32 \(float32\), F64 \(float64\), F16 \(float16\), BF16 \(bfloat16\), I64 \(int64\), I32 \(int32\), U8 \(uint8\), BOOL \(bool\)\)$/);
      for (const [name, what] of [['I8', 'int8'], ['I16', 'int16'], ['U16', 'uint16'], ['U32', 'uint32'], ['U64', 'uint64'],
        ['C64', 'complex64'], ['F8_E4M3', 'float8_e4m3fn'], ['F8_E5M2', 'float8_e5m2']]) {
        await refusedHeader(JSON.stringify({ w: entry(name, [1], [0, 1]) }), Buffer.alloc(1),
          new RegExp(`: tensor "w" has dtype ${name} \\(${what}\\), which torchbridge has no tensors for`));
      }
    });

    it('shape values that are negative, fractional, strings, huge, or beyond what a tensor can have', async () => {
      const shaped = (shape: string, offsets = '[0,4]'): string => `{"w":{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}}`;
      await refusedHeader(shaped('[-1]'), Buffer.alloc(4), /: tensor "w": shape\[0\] is -1, negative \(sizes and offsets are non-negative integers\)/);
      await refusedHeader(shaped('[-0]'), Buffer.alloc(4), /: tensor "w": shape\[0\] is -0, written with a minus sign/);
      await refusedHeader(shaped('[1.0]'), Buffer.alloc(4), /: tensor "w": shape\[0\] is 1.0, not an integer/);
      await refusedHeader(shaped('[1, 1e0]'), Buffer.alloc(4), /: tensor "w": shape\[1\] is 1e0, not an integer/);
      await refusedHeader(shaped('["1"]'), Buffer.alloc(4), /: tensor "w": shape\[0\] is a string \("1"\), not an integer/);
      await refusedHeader(shaped('[18446744073709551616]'), Buffer.alloc(4), /: tensor "w": shape\[0\] is 18446744073709551616, beyond the 64-bit integers/);
      await refusedHeader(shaped('[1099511627776, 1099511627776]'), Buffer.alloc(4),
        /: tensor "w": shape \[1099511627776, 1099511627776\] of F32 needs 4835703278458516698824704 bytes \(1208925819614629174706176 elements of 4\), but data_offsets \[0, 4\] hold 4/);
      await refusedHeader(shaped('[0, 9007199254740992]', '[0,0]'), Buffer.alloc(0), /: tensor "w": shape\[1\] is 9007199254740992, more than a torchbridge tensor can have/);
      await refusedHeader(shaped('[1]', '[-4, 0]'), Buffer.alloc(4), /: tensor "w": data_offsets\[0\] \(begin\) is -4, negative/);
    });

    it('offsets: end before begin, size against shape and dtype, past the buffer (huge ones too)', async () => {
      await refusedHeader(JSON.stringify({ w: entry('F32', [1], [8, 4]) }), Buffer.alloc(8), /: tensor "w": data_offsets \[8, 4\] end before they begin/);
      await refusedHeader(JSON.stringify({ w: entry('F32', [2], [0, 4]) }), Buffer.alloc(4),
        /: tensor "w": shape \[2\] of F32 needs 8 bytes \(2 elements of 4\), but data_offsets \[0, 4\] hold 4/);
      await refusedHeader(JSON.stringify({ w: entry('BF16', [2, 3], [0, 24]) }), Buffer.alloc(24), /shape \[2, 3\] of BF16 needs 12 bytes/);
      await refusedHeader(JSON.stringify({ w: entry('U8', [2 ** 50], [0, 2 ** 50]) }), Buffer.alloc(4),
        /: tensor "w": data_offsets \[0, 1125899906842624\] end past the data buffer, which holds 4 bytes/);
      await refusedHeader('{"w":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,18446744073709551616]}}', Buffer.alloc(1),
        /: tensor "w": data_offsets\[1\] \(end\) is 18446744073709551616, beyond the 64-bit integers/);
    });

    it('overlaps, gaps and trailing bytes in the data buffer', async () => {
      const two = (a: number[], b: number[]): string => JSON.stringify({ a: entry('F32', [1], a), b: entry('F32', [1], b) });
      await refusedHeader(two([0, 4], [2, 6]), Buffer.alloc(6), /: tensor "b" \(data_offsets \[2, 6\]\) overlaps tensor "a" \(data_offsets \[0, 4\]\); tensors must not share bytes/);
      await refusedHeader(two([0, 4], [0, 4]), Buffer.alloc(4), /: tensor "b" \(data_offsets \[0, 4\]\) overlaps tensor "a"/);
      await refusedHeader(two([0, 4], [8, 12]), Buffer.alloc(12),
        /: bytes 4 to 8 of the data buffer belong to no tensor \(a gap between tensor "a" \(data_offsets \[0, 4\]\) and tensor "b" \(data_offsets \[8, 12\]\)\)/);
      await refusedHeader(JSON.stringify({ a: entry('F32', [1], [4, 8]) }), Buffer.alloc(8),
        /: bytes 0 to 4 of the data buffer belong to no tensor \(a gap before tensor "a" \(data_offsets \[4, 8\]\), the first tensor\)/);
      await refusedHeader(JSON.stringify({ a: entry('F32', [1], [0, 4]) }), Buffer.alloc(6),
        /: the data buffer holds 6 bytes but the last tensor, tensor "a" \(data_offsets \[0, 4\]\), ends at byte 4: 2 trailing bytes belong to no tensor/);
      await refusedHeader('{}', Buffer.alloc(3), /: the data buffer holds 3 bytes but there are no tensors: 3 trailing bytes belong to no tensor/);
    });

    it('bool elements other than 0 and 1 (the header is fine, so only loadSafetensors refuses)', async () => {
      const file = writeFile(fileBytes(JSON.stringify({ m: entry('BOOL', [3], [0, 3]) }), Buffer.from([1, 2, 0])));
      await expectRefused(file, /: tensor "m" \(BOOL\) holds the byte 2 at element 1; bool elements are 0 \(false\) or 1 \(true\)/, 'tensors');
      assert.equal((await loadSafetensorsHeader(file)).tensors.length, 1);
    });

    it('a tensor that fails after others were read leaves none of them allocated', async () => {
      const header = JSON.stringify({ a: entry('F32', [2], [0, 8]), m: entry('BOOL', [1], [8, 9]) });
      await expectRefused(writeFile(fileBytes(header, Buffer.concat([F32x2, Buffer.from([5])]))), /tensor "m" \(BOOL\) holds the byte 5/, 'tensors');
    });
  });

  describe('only regular files are read', () => {
    it('a missing file', async () => {
      await expectRefused(scratch('missing.safetensors'), /: the file does not exist$/);
    });

    it('a directory', async () => {
      await expectRefused(workDir, /: the path is a directory, not a regular file \(safetensors files are regular files\)$/);
    });

    it('/dev/zero (a character device, whose reads never end)', async function () {
      if (!fs.existsSync('/dev/zero')) this.skip();
      await expectRefused('/dev/zero', /: the path is a character device, not a regular file/);
    });

    it('a FIFO is refused at once rather than waited on (in a child process, so that a hang fails)', function () {
      const fifo = scratch('pipe.safetensors');
      if (spawnSync('mkfifo', [fifo]).status !== 0) this.skip();
      const script = `require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'serialization'))}).loadSafetensors(${JSON.stringify(fifo)})
        .then(() => console.log('loaded'), (e) => console.log(e.message));`;
      const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.signal, null, `loadSafetensors() of a FIFO still ran after 30 s:\n${run.stdout}${run.stderr}`);
      assert.equal(run.stdout.trim(), `loadSafetensors('${fifo}'): the path is a FIFO (named pipe), not a regular file (safetensors files are regular files)`);
    });

    it('a path that is not a string', async () => {
      await assert.rejects(loadSafetensors(3 as unknown as string), /^TypeError: loadSafetensors\(path\): path must be a string, got number$/);
      await assert.rejects(loadSafetensorsHeader(undefined as unknown as string), /^TypeError: loadSafetensorsHeader\(path\): path must be a string, got undefined$/);
    });
  });

  const pythonSuite = `Python's safetensors, live (needs ${PYTHON} with safetensors: set TORCHBRIDGE_PYTHON)`;
  describe(pythonSuite, () => {
    before(function () {
      if (pythonHasSafetensors()) return;
      console.warn(`      skipped: ${PYTHON} cannot import safetensors.torch (set TORCHBRIDGE_PYTHON to a Python that can)`);
      this.skip();
    });

    it('Python reads what torchbridge writes (every dtype, views, names to escape, metadata), and save_file writes the same bytes', async () => {
      torch.manualSeed(11);
      const base = torch.randn([6, 5]);
      const state = new Map<string, torch.Tensor>([
        ['layer.0.weight', base.transpose(0, 1)],
        ['layer.0.bias', torch.randn([5]).to('float16')],
        ['layer.1.weight', torch.randn([4, 3], { dtype: 'float64' })],
        ['layer.1.bias', torch.randn([2, 2, 2]).to('bfloat16')],
        ['steps', torch.tensor(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n))],
        ['ids', torch.randint(-1000, 1000, [7], { dtype: 'int32' })],
        ['pixels', torch.randint(0, 256, [2, 3], { dtype: 'uint8' })],
        ['mask', torch.rand([9]).gt(0.5)],
        ['scalar', torch.tensor(0.25)],
        ['empty', torch.zeros([3, 0])],
        ['\u00e9\u{1F600} "quoted"\n', torch.tensor([1, 2], { dtype: 'int64' })],
      ]);
      const specFor = async (file: string, metadata: Record<string, string> | null, resave: boolean): Promise<string> => {
        const header = await loadSafetensorsHeader(file);
        const spec: FileSpec = {
          metadata,
          saved_order: [...state.keys()],
          byte_identical: resave,
          resave_identical: resave,
          tensors: header.tensors.map((t) => ({
            name: t.name, dtype: t.dtype, shape: [...t.shape], data_offsets: [...t.dataOffsets],
            hex: hexOf(state.get(t.name) as torch.Tensor), values: [],
          })),
        };
        const specFile = `${file}.json`;
        fs.writeFileSync(specFile, JSON.stringify(spec));
        return specFile;
      };
      const one = scratch('for-python.safetensors');
      const several = scratch('for-python-metadata.safetensors');
      const metadata = { format: 'pt', note: '\u00e9 \u{1F600} "q" \\ \n\t\u0001', empty: '' };
      try {
        await saveSafetensors(state, one, { metadata: { format: 'pt' } });
        await saveSafetensors(state, several, { metadata });
        runScript(['check', one, await specFor(one, { format: 'pt' }, true)]);
        runScript(['check', several, await specFor(several, metadata, false)]);
      } finally {
        torch.dispose([base, state]);
      }
    });

    it('torchbridge reads what Python writes (every dtype, seeded random values), and writes the same bytes again', async () => {
      const file = scratch('from-python.safetensors');
      const specFile = scratch('from-python.json');
      runScript(['write', file, specFile]);
      const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as FileSpec;
      assert.deepEqual([...new Set(spec.tensors.map((t) => t.dtype))].sort(), [...torch.DTYPES].sort());
      const state = await loadSafetensors(file);
      const again = scratch('from-python-again.safetensors');
      try {
        assert.deepEqual([...state.keys()], spec.tensors.map((t) => t.name));
        for (const t of spec.tensors) assertMatches(state.get(t.name) as torch.Tensor, t, JSON.stringify(t.name));
        assert.deepEqual(metadataObject((await loadSafetensorsHeader(file)).metadata), spec.metadata);
        await saveSafetensors(new Map(spec.saved_order.map((n) => [n, state.get(n) as torch.Tensor])), again, { metadata: spec.metadata });
      } finally {
        torch.dispose(state);
      }
      assert.ok(fs.readFileSync(again).equals(fs.readFileSync(file)), 'the same bytes as save_file');
    });
  });
});
