import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { FormatExtras, formatTensor } from '../lib/core/format';
import { DType } from '../lib/core/types';

/** One case of test/fixtures/format.json, written by scripts/gen_format_fixtures.py. */
interface FixtureCase {
  name: string;
  dtype: DType;
  shape: number[];
  /** Flattened elements; non-finite floats are spelled "nan", "inf", "-inf". */
  values: Array<number | boolean | string>;
  extras: FormatExtras;
  /** PyTorch 1.13's repr(tensor). */
  repr: string;
}

const NON_FINITE: Record<string, number> = { nan: NaN, inf: Infinity, '-inf': -Infinity };

function decodeValue(value: number | boolean | string): number | boolean {
  if (typeof value !== 'string') return value;
  if (!(value in NON_FINITE)) throw new Error(`unknown encoded value ${JSON.stringify(value)}`);
  return NON_FINITE[value];
}

const fixturePath = path.join(__dirname, 'fixtures', 'format.json');
const fixtures = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as FixtureCase[];

describe('formatTensor', () => {
  describe('matches PyTorch repr() on the generated fixtures', () => {
    for (const fixture of fixtures) {
      it(fixture.name, () => {
        const values = fixture.values.map(decodeValue);
        assert.equal(formatTensor(values, fixture.shape, fixture.dtype, fixture.extras), fixture.repr);
      });
    }
  });

  it('prints non-cpu devices and omits cpu', () => {
    assert.equal(formatTensor([1, 2], [2], 'float32', { device: 'cuda:0' }), "tensor([1., 2.], device='cuda:0')");
    assert.equal(formatTensor([1, 2], [2], 'float32', { device: 'cpu' }), 'tensor([1., 2.])');
  });

  it('orders device, dtype and autograd suffixes like PyTorch', () => {
    assert.equal(
      formatTensor([1.5], [1], 'float64', { device: 'cuda:0', requiresGrad: true }),
      "tensor([1.5000], device='cuda:0', dtype=torch.float64, requires_grad=True)",
    );
  });

  it('prints grad_fn instead of requires_grad, and requires_grad when grad_fn is null', () => {
    assert.equal(formatTensor([3], [], 'float32', { requiresGrad: true, gradFn: 'SumBackward0' }), 'tensor(3., grad_fn=<SumBackward0>)');
    assert.equal(formatTensor([3], [], 'float32', { requiresGrad: true, gradFn: null }), 'tensor(3., requires_grad=True)');
  });

  it('prints int64 bigints beyond 2^53 exactly', () => {
    assert.equal(formatTensor([9223372036854775807n, -1n], [2], 'int64'), 'tensor([9223372036854775807,                  -1])');
  });

  it('accepts 0/1 numbers for bool tensors', () => {
    assert.equal(formatTensor([1, 0], [2], 'bool'), 'tensor([ True, False])');
  });

  it('rounds exact ties to even like Python, unlike toFixed', () => {
    assert.equal(formatTensor([0.03125], [], 'float32'), 'tensor(0.0312)');
    assert.equal(formatTensor([1.03125, 1e-5], [2], 'float64'), 'tensor([1.0312e+00, 1.0000e-05], dtype=torch.float64)');
    assert.equal(formatTensor([0.00005], [1], 'float32'), 'tensor([5.0000e-05])');
  });

  it('rejects values that do not fit the shape or dtype', () => {
    assert.throws(() => formatTensor([1, 2, 3], [2, 2], 'float32'), RangeError);
    assert.throws(() => formatTensor([1.5], [1], 'int32'), RangeError);
  });
});
