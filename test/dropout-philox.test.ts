// The Philox dropout noise kernel (native/nn/philox_noise.inc: full blocks drawn 16 at a time in
// vector code, partial blocks by libtorch's engine) against libtorch's own at::Philox4_32
// element by element: the same noise bit for bit, for seeds with high bits set, keep
// probabilities from 0.1 to 1, ranges that start and end inside blocks or on their edges, float32
// and float64. Then the same in child processes with ATEN_CPU_CAPABILITY=avx2 and =default, which
// run the kernel's narrower variants where this process ran a wider one.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { Tensor } from '../lib/core/tensor';
import { ops } from '../lib/native';
import { rerunOnNarrowerCpuKernels } from './helpers';

const SEEDS: Array<[number, number]> = [[0, 0], [0, 1], [0x9e3779b9, 0x7f4a7c15], [0xffffffff, 0xfffffffe], [12345, 678910]];
const KEEPS = [1, 0.9, 0.7, 0.5, 0.1];
// [begin, end): empty, inside one block, across block edges, exactly 16 blocks, 16 blocks and a
// tail, the first block of 2^32 (its counter's high word), and a long run
const RANGES: Array<[number, number]> = [[0, 0], [5, 5], [1, 3], [3, 4], [0, 64], [1, 64], [0, 65], [63, 129], [2, 250], [4 * 2 ** 32 - 6, 4 * 2 ** 32 + 70], [123, 100_123]];

function noise(seed: [number, number], keep: number, range: [number, number], byEngine: boolean, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  const t = new Tensor(ops.philoxNoise(seed[0], seed[1], keep, range[0], range[1], byEngine, dtype));
  try {
    return t.data() as Float32Array | Float64Array;
  } finally {
    t.dispose();
  }
}

const CHILD = process.env.TORCHBRIDGE_CHILD_KERNELS !== undefined;  // a rerun of rerunOnNarrowerCpuKernels

describe(`Philox dropout noise: the kernel (its ${torch.version().cpuKernels} variant) against libtorch's at::Philox4_32`, () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`${dtype}: bit for bit, ${SEEDS.length} seeds x ${KEEPS.length} keep probabilities x ${RANGES.length} ranges`, () => {
      let compared = 0;
      let kept = 0;
      for (const seed of SEEDS) {
        for (const keep of KEEPS) {
          for (const range of RANGES) {
            const kernel = noise(seed, keep, range, false, dtype);
            const engine = noise(seed, keep, range, true, dtype);
            assert.equal(kernel.length, range[1] - range[0]);
            for (let k = 0; k < engine.length; ++k) {
              if (kernel[k] !== engine[k]) {
                assert.fail(`seed ${seed}, keep ${keep}, range [${range}], element ${range[0] + k}: the kernel gives ${kernel[k]}, the engine ${engine[k]}`);
              }
              if (engine[k] !== 0) ++kept;
            }
            compared += engine.length;
          }
        }
      }
      // the comparison is not vacuous: both values occur
      assert.ok(kept > 0 && kept < compared, `${kept} of ${compared} kept`);
    });
  }

  it('the same on the narrower variants (ATEN_CPU_CAPABILITY=avx2, =default: child processes)', function () {
    if (CHILD || torch.version().cpuKernels === 'default') this.skip();  // this process runs the baseline
    this.timeout(360_000);
    rerunOnNarrowerCpuKernels(__filename, 2);
  });
});
