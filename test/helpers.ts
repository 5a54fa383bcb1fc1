/**
 * Shared test helpers: tensors from fixture entries, reading tensors back as numbers, and
 * tolerance checks whose failures name the case and the first mismatching element.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as torch from '../lib';

/** The Python whose torch the addon was built against (TORCHBRIDGE_PYTHON, else Debian's python3). */
export const PYTHON = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';

/** Whether PYTHON exists and imports torch (the live checks against Python need it). */
export function pythonHasTorch(): boolean {
  return fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** A TCP port nothing listens on now (the system's pick on 127.0.0.1), for the distributed tests' stores. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Loads the state dict in `file` (a torch.save fixture) into `module`, and frees the loaded tensors. */
export async function loadWeights(module: torch.nn.Module, file: string): Promise<void> {
  const dict = await torch.load(file);
  try {
    module.loadStateDict(dict);
  } finally {
    torch.dispose(dict);
  }
}

/** One fixture value: a number, a boolean (bool tensors), or "nan" / "inf" / "-inf". */
export type FixtureValue = number | boolean | string;

/** A tensor as the fixture generators write it. */
export interface TensorFixture {
  dtype: torch.DType;
  shape: number[];
  /** Row-major elements; null when unspecified (outputs of `empty`). */
  values: FixtureValue[] | null;
  requiresGrad?: boolean;
  strides?: number[];
}

const NON_FINITE: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

/** A fixture value as a number: booleans as 0/1, "nan"/"inf"/"-inf" decoded. */
export function decodeValue(value: FixtureValue): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  if (!(value in NON_FINITE)) throw new Error(`unknown encoded value ${JSON.stringify(value)}`);
  return NON_FINITE[value];
}

// float32, float16 and bfloat16 values are written with the fewest digits that read back as
// the same float32; Math.fround recovers that float32 exactly.
function isFloat32Like(dtype: torch.DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

/** The fixture's elements as exact numbers of its dtype. */
export function fixtureValues(fixture: TensorFixture): number[] {
  if (fixture.values === null) throw new Error('this fixture tensor has no values');
  const values = fixture.values.map(decodeValue);
  return isFloat32Like(fixture.dtype) ? values.map(Math.fround) : values;
}

/** A new tensor holding a fixture's values (a copy, never sharing JS memory). */
export function fromFixture(fixture: TensorFixture): torch.Tensor {
  const values = fixtureValues(fixture);
  const options = { shape: fixture.shape, dtype: fixture.dtype, requiresGrad: fixture.requiresGrad ?? false, copy: true };
  switch (fixture.dtype) {
    case 'float64':
      return torch.tensor(Float64Array.from(values), options);
    case 'int64':
      return torch.tensor(BigInt64Array.from(values, (v) => BigInt(v)), options);
    case 'int32':
      return torch.tensor(Int32Array.from(values), options);
    case 'uint8':
    case 'bool':
      return torch.tensor(Uint8Array.from(values), options);
    default:
      // float32, and float16/bfloat16 whose values are exact in float32.
      return torch.tensor(Float32Array.from(values), options);
  }
}

/** A tensor's elements as numbers (int64 via Number, bool as 0/1, float16/bfloat16 widened). */
export function tensorValues(t: torch.Tensor): number[] {
  const data = t.data();
  return data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data);
}

/** Relative and absolute tolerance: |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

export const EXACT: Tolerance = { rtol: 0, atol: 0 };

/** The default forward tolerance for a dtype: exact for integers and bool. */
export function forwardTolerance(dtype: torch.DType): Tolerance {
  switch (dtype) {
    case 'float64':
      return { rtol: 1e-10, atol: 1e-12 };
    case 'float32':
    case 'float16':
    case 'bfloat16':
      return { rtol: 1e-5, atol: 1e-6 };
    default:
      return EXACT;
  }
}

// The multi-dimensional position of flat index `flat` in `shape`, as "[i, j, k]".
function position(flat: number, shape: readonly number[]): string {
  const out: number[] = [];
  let rest = flat;
  for (let d = shape.length - 1; d >= 0; --d) {
    out.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `[${out.join(', ')}]`;
}

/**
 * Asserts that `actual` matches `expected` elementwise within `tolerance`; NaN matches NaN and
 * infinities must be equal. The failure message names `what` and the first mismatching element.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, what: string,
  shape?: readonly number[]): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} elements, expected ${expected.length}`);
  for (let k = 0; k < expected.length; ++k) {
    const a = actual[k];
    const e = expected[k];
    let ok: boolean;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = a === e;
    else ok = Math.abs(a - e) <= tolerance.atol + tolerance.rtol * Math.abs(e);
    if (!ok) {
      const where = shape !== undefined && shape.length > 1 ? ` ${position(k, shape)}` : '';
      assert.fail(`${what}: element ${k}${where} is ${a}, expected ${e} ` +
        `(rtol ${tolerance.rtol}, atol ${tolerance.atol}; ${expected.length} elements)`);
    }
  }
}

/** Asserts a tensor's dtype, shape, values (when the fixture has them) and, when given, strides and requiresGrad. */
export function assertTensor(t: torch.Tensor, expected: TensorFixture, tolerance: Tolerance, what: string): void {
  assert.equal(t.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(t.shape, expected.shape, `${what}: shape`);
  if (expected.strides !== undefined) assert.deepEqual(t.strides, expected.strides, `${what}: strides`);
  if (expected.requiresGrad !== undefined) assert.equal(t.requiresGrad, expected.requiresGrad, `${what}: requiresGrad`);
  if (expected.values !== null) assertClose(tensorValues(t), fixtureValues(expected), tolerance, what, expected.shape);
}

/**
 * The live tensor count once the garbage of earlier test files is collected, so that a collection
 * during a suite cannot lower the count below it; take the final count without collecting, so
 * that a tensor the suite leaks shows.
 */
export async function settledLiveTensors(): Promise<number> {
  for (let k = 0, last = -1; k < 20 && torch.memory().liveTensors !== last; ++k) {
    last = torch.memory().liveTensors;
    global.gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return torch.memory().liveTensors;
}

/** The instruction set version().cpuKernels must report here: the widest /proc/cpuinfo's flags allow, capped by ATEN_CPU_CAPABILITY. */
export function expectedCpuKernels(): 'avx512' | 'avx2' | 'default' {
  const flags = new Set(fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].split(/\s+/) ?? []);
  const avx2 = flags.has('avx2') && flags.has('fma');
  const avx512 = avx2 && ['avx512f', 'avx512vl', 'avx512bw', 'avx512dq'].every((f) => flags.has(f));
  const requested = process.env.ATEN_CPU_CAPABILITY;
  if (requested === 'default') return 'default';
  if (avx512 && requested !== 'avx2') return 'avx512';
  return avx2 ? 'avx2' : 'default';
}

/**
 * Reruns the mocha test file `file` in a child process for each variant of our CPU kernels
 * narrower than this process's (ATEN_CPU_CAPABILITY 'avx2', then 'default'), and asserts that
 * each child passed `passing` tests. Returns the variants run (none where this process already
 * runs the baseline).
 */
export function rerunOnNarrowerCpuKernels(file: string, passing: number): string[] {
  const order = ['avx512', 'avx2', 'default'];
  const narrower = order.slice(order.indexOf(torch.version().cpuKernels) + 1);
  const mocha = require.resolve('mocha/bin/mocha.js');
  for (const capability of narrower) {
    const child = spawnSync(process.execPath, [mocha, '--no-config', '--timeout', '60000', file], {
      env: { ...process.env, ATEN_CPU_CAPABILITY: capability, TORCHBRIDGE_CHILD_KERNELS: capability },
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(child.status, 0, `the run with ATEN_CPU_CAPABILITY=${capability} failed:\n${child.stdout}\n${child.stderr}`);
    assert.match(child.stdout, new RegExp(`${passing} passing`), `ATEN_CPU_CAPABILITY=${capability}:\n${child.stdout}`);
  }
  return narrower;
}
