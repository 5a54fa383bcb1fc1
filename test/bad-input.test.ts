// Bad input to the core API gives an error that says what was given and what is expected, as
// PyTorch does where it has one: out-of-range values in tensor(), too-deep nesting, shapes,
// seeds, sizes, forward inputs, keep(). And module parameters count as external memory for V8.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';

import * as torch from '../lib';

describe('bad input: tensor() values, as torch.tensor checks them', () => {
  // PyTorch 1.13 and 2.x: torch.tensor([v], dtype=d) raises
  // "value cannot be converted to type <d> without overflow" (c10::checked_convert)
  const overflow = (v: torch.NestedArray, dtype: torch.DType, shown: string): void => {
    assert.throws(() => torch.tensor(v, { dtype }),
      (e: Error) => e instanceof RangeError && e.message.includes(`value ${shown}`) &&
        e.message.includes(`cannot be converted to type ${dtype} without overflow`),
      `${JSON.stringify(v)} as ${dtype}`);
  };

  it('refuses NaN, infinities and out-of-range numbers for integral dtypes', () => {
    overflow([NaN], 'int64', 'NaN');
    overflow([Infinity], 'int64', 'Infinity');
    overflow([2 ** 63], 'int64', '9223372036854776000');
    overflow([1e20], 'int32', '100000000000000000000');
    overflow([2 ** 31], 'int32', '2147483648');
    overflow([300], 'uint8', '300');
    overflow([-256], 'uint8', '-256');
    overflow([-0.5], 'uint8', '-0.5');
    overflow([255.9], 'uint8', '255.9');
    overflow([NaN], 'uint8', 'NaN');
    overflow(NaN, 'int32', 'NaN');
    overflow([[1, 2], [3, 400]], 'uint8', '400 (at data[1][1])');
  });

  it('accepts what PyTorch accepts: wrapping negative integers into uint8, truncation, floats to inf', () => {
    assert.deepEqual(torch.tensor([-1, -255, 255], { dtype: 'uint8' }).toArray(), [255, 1, 255]);
    assert.deepEqual(torch.tensor([1.5, -2.7], { dtype: 'int64' }).toArray(), [1, -2]);
    assert.deepEqual(torch.tensor([-(2 ** 31), 2 ** 31 - 1], { dtype: 'int32' }).toArray(), [-(2 ** 31), 2 ** 31 - 1]);
    assert.deepEqual(torch.tensor([1e300, NaN], { dtype: 'float32' }).toArray(), [Infinity, NaN]);
    assert.deepEqual(torch.tensor([NaN, 0, 2], { dtype: 'bool' }).toArray(), [true, false, true]);
  });

  it('nested arrays deeper than PyTorch\'s 128 dimensions are refused with the limit, not a stack overflow', () => {
    let deep: torch.NestedArray = [1];
    for (let k = 0; k < 10_000; ++k) deep = [deep];
    assert.throws(() => torch.tensor(deep), (e: Error) => e instanceof RangeError && /more than 128 levels deep/.test(e.message));
    let ok: torch.NestedArray = [1];
    for (let k = 0; k < 100; ++k) ok = [ok];
    assert.equal(torch.tensor(ok).ndim, 101);
  });

  it('says what the data was when it is not data', () => {
    assert.throws(() => torch.tensor('3' as unknown as number), /got the string "3"/);
    assert.throws(() => torch.tensor(null as unknown as number), /got null/);
  });
});

describe('bad input: shapes, seeds, sizes, forward inputs, keep()', () => {
  it('shapes name the value given', () => {
    assert.throws(() => torch.zeros('3' as unknown as number), /zeros: shape must be a non-negative integer or an array of them, got the string "3"/);
    assert.throws(() => torch.zeros([3n] as unknown as number[]), /element 0 is the bigint 3n \(use a number\)/);
    assert.throws(() => torch.ones([2, -1]), /element 1 is the number -1/);
    assert.throws(() => torch.empty(1.5), /got the number 1.5/);
  });

  it('manualSeed takes PyTorch\'s range, bigints included, and names what it got', () => {
    assert.throws(() => torch.manualSeed(2 ** 70), (e: Error) => e instanceof RangeError && /from -2\^63 to 2\^64 - 1.*got 1180591620717411303424/.test(e.message));
    assert.throws(() => torch.manualSeed(1.5), /got the number 1.5/);
    assert.throws(() => torch.manualSeed('1' as unknown as number), /got the string "1"/);
    // torch.manual_seed(2**64 - 1); torch.rand(3) and torch.manual_seed(-2); torch.rand(3), in
    // PyTorch 1.13 and 2.11 alike (a negative seed is its 64-bit two's complement: 2**64 - 2)
    const close = (got: number[], want: number[]): void => got.forEach((g, k) => assert.ok(Math.abs(g - want[k]) <= 1e-7 * Math.abs(want[k]), `${got} vs ${want}`));
    torch.manualSeed(2n ** 64n - 1n);
    close(torch.rand([3]).toArray() as number[], [0.9937993884086609, 0.5713063478469849, 0.5700080394744873]);
    torch.manualSeed(-2);
    close(torch.rand([3]).toArray() as number[], [0.2907348871231079, 0.07334184646606445, 0.7167978882789612]);
    torch.manualSeed(2n ** 64n - 2n);
    close(torch.rand([3]).toArray() as number[], [0.2907348871231079, 0.07334184646606445, 0.7167978882789612]);
    assert.throws(() => torch.manualSeed(2n ** 64n), /got 18446744073709551616/);
    assert.throws(() => torch.manualSeed(-(2n ** 63n) - 1n), /got -9223372036854775809/);
  });

  it('layer sizes name the value given', () => {
    assert.throws(() => new torch.nn.Linear('3' as unknown as number, 4), /Linear: inFeatures must be a positive integer, got the string "3"/);
    assert.throws(() => new torch.nn.Embedding(10, 0), /got the number 0/);
    assert.throws(() => new torch.nn.Dropout('0.5' as unknown as number), /got the string "0.5"/);
  });

  it('forward with a non-tensor says which input and what it was', () => {
    const linear = new torch.nn.Linear(3, 4);
    assert.throws(() => linear.forward(3 as unknown as torch.Tensor), /Linear.forward: input 1 must be a Tensor .*got the number 3/);
    linear.dispose();
  });

  it('keep() of something that is not disposable says so', () => {
    assert.throws(() => torch.keep(5 as unknown as torch.Tensor), /keep: expected a Tensor, Module or other object with dispose\(\); got the number 5/);
    assert.throws(() => torch.keep(null as unknown as torch.Tensor), /got null/);
  });
});

describe('V8 accounting of module parameters', function () {
  this.timeout(120_000);

  it('a module\'s CPU parameters and buffers are reported as external memory, once per storage, until dispose or GC', async () => {
    const before = torch.memory().moduleBytes;
    const layer = new torch.nn.Linear(2048, 2048);
    const bytes = (2048 * 2048 + 2048) * 4;
    assert.equal(torch.memory().moduleBytes - before, bytes);
    // a second handle on the same module (a child list) and a container sharing it count nothing more
    const net = new torch.nn.Sequential(layer, new torch.nn.ReLU());
    net.children();
    assert.equal(torch.memory().moduleBytes - before, bytes);
    net.to('float64');  // replaced storages are re-counted
    assert.equal(torch.memory().moduleBytes - before, 2 * bytes);
    net.dispose();
    layer.dispose();
    assert.equal(torch.memory().moduleBytes, before);
    // a dropped module is released by its finalizer
    (() => new torch.nn.Linear(1024, 1024))();
    assert.ok(torch.memory().moduleBytes > before);
    for (let k = 0; k < 3; ++k) {
      global.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(torch.memory().moduleBytes, before);
  });
});
