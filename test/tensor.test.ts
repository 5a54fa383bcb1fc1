// The Tensor API's behaviour beyond op values (which ops.test.ts checks against PyTorch):
// creation and dtype inference, reading, autograd bookkeeping, grad modes and runtime facts.
import { strict as assert } from 'assert';

import * as torch from '../lib';

describe('tensor creation', () => {
  it('infers dtypes from JS values as PyTorch does from Python values', () => {
    torch.tidy(() => {
      assert.equal(torch.tensor([1, 2]).dtype, 'int64');
      assert.equal(torch.tensor([1, 2.5]).dtype, 'float32');
      assert.equal(torch.tensor([true, false]).dtype, 'bool');
      assert.equal(torch.tensor(3).dtype, 'int64');
      assert.equal(torch.tensor(0.5).dtype, 'float32');
      assert.equal(torch.tensor([]).dtype, 'float32');
      assert.deepEqual(torch.tensor([]).shape, [0]);
      assert.deepEqual(torch.tensor([[[1]], [[2]]]).shape, [2, 1, 1]);
      assert.equal(torch.tensor([1, 2], { dtype: 'float64' }).dtype, 'float64');
      assert.equal(torch.full([2], 7).dtype, 'int64');
      assert.equal(torch.full([2], 0.5).dtype, 'float32');
      assert.equal(torch.arange(3).dtype, 'int64');
      assert.equal(torch.arange(0, 1, 0.5).dtype, 'float32');
    });
  });

  it('reads back nested arrays, typed data, items and scalars', () => {
    torch.tidy(() => {
      const t = torch.tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float32' });
      assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
      assert.deepEqual(Array.from(t.data() as Float32Array), [1, 2, 3, 4, 5, 6]);
      assert.ok(t.data() instanceof Float32Array);
      assert.ok(torch.tensor([1, 2]).data() instanceof BigInt64Array);
      assert.ok(torch.tensor([1, 2], { dtype: 'int32' }).data() instanceof Int32Array);
      assert.ok(torch.tensor([1, 2], { dtype: 'float16' }).data() instanceof Float32Array);
      assert.deepEqual(torch.tensor([true, false]).toArray(), [true, false]);
      assert.equal(torch.tensor(2.5).item(), 2.5);
      assert.equal(torch.tensor(true).item(), true);
      assert.equal(torch.tensor([7]).item(), 7);
      assert.equal(torch.tensor(4).toArray(), 4);
      // a non-contiguous view reads in logical order
      assert.deepEqual(t.transpose(0, 1).toArray(), [[1, 4], [2, 5], [3, 6]]);
      assert.equal(t.ndim, 2);
      assert.equal(t.numel, 6);
      assert.equal(t.size(-1), 3);
      assert.equal(t.device, 'cpu');
    });
  });

  it('shares memory with a typed array of its own dtype, and copies when asked or converting', () => {
    torch.tidy(() => {
      const data = new Float32Array([1, 2, 3, 4]);
      const shared = torch.tensor(data, { shape: [2, 2] });
      const copied = torch.tensor(data, { shape: [2, 2], copy: true });
      const converted = torch.tensor(data, { dtype: 'float64' });
      data[0] = 9;
      assert.deepEqual(shared.toArray(), [[9, 2], [3, 4]]);
      assert.deepEqual(copied.toArray(), [[1, 2], [3, 4]]);
      assert.deepEqual(converted.toArray(), [1, 2, 3, 4]);
      shared.mul_(2);
      assert.equal(data[3], 8);
      // a view into a larger buffer starts at its own offset
      const sub = new Int32Array([5, 6, 7, 8]).subarray(1, 3);
      assert.deepEqual(torch.tensor(sub).toArray(), [6, 7]);
      assert.deepEqual(torch.tensor(new BigInt64Array([3n, -4n])).toArray(), [3, -4]);
      assert.deepEqual(torch.tensor(new Uint8Array([0, 255])).toArray(), [0, 255]);
      assert.deepEqual(torch.tensor(new Float64Array([0.5])).toArray(), [0.5]);
    });
  });

  it('prints like PyTorch', () => {
    torch.tidy(() => {
      assert.equal(torch.tensor([1.5, 2]).toString(), 'tensor([1.5000, 2.0000])');
      assert.equal(torch.tensor([[1, 2], [3, 4]], { dtype: 'int32' }).toString(), 'tensor([[1, 2],\n        [3, 4]], dtype=torch.int32)');
      const x = torch.ones([2], { requiresGrad: true });
      assert.equal(x.toString(), 'tensor([1., 1.], requires_grad=True)');
      assert.equal(x.mul(2).toString(), 'tensor([2., 2.], grad_fn=<MulBackward0>)');
    });
  });

  it('seeds the generator like torch.manual_seed', () => {
    torch.tidy(() => {
      torch.manualSeed(42);
      const a = torch.rand([5]).toArray();
      torch.manualSeed(42);
      assert.deepEqual(torch.rand([5]).toArray(), a);
      assert.notDeepEqual(torch.rand([5]).toArray(), a);
    });
  });
});

describe('autograd bookkeeping', () => {
  it('runs the README example', () => {
    torch.tidy(() => {
      const x = torch.randn([2, 3], { requiresGrad: true });
      const y = x.matmul(x.transpose(0, 1)).sum();
      y.backward();
      // d/dx sum(x x^T) = 2 * column sums, the same in every row
      const expected = x.sum(0).mul(2).toArray() as number[];
      const grad = x.grad!.toArray() as number[][];
      for (const row of grad) row.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) < 1e-5));
    });
  });

  it('keeps one grad object per gradient, accumulates, and clears', () => {
    torch.tidy(() => {
      const x = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
      assert.equal(x.grad === undefined, true);
      assert.equal(x.isLeaf, true);
      assert.equal(x.gradFn, null);
      x.mul(x).sum().backward();
      const g = x.grad!;
      assert.equal(x.grad, g);
      assert.deepEqual(g.toArray(), [2, 4, 6]);
      x.sum().backward();  // accumulates in place: same tensor
      assert.deepEqual(x.grad!.toArray(), [3, 5, 7]);
      const y = x.mul(3);
      assert.equal(y.isLeaf, false);
      assert.equal(y.gradFn, 'MulBackward0');
      x.clearGrad();
      assert.equal(x.grad === undefined, true);
      assert.equal(g.isDisposed, true);
    });
  });

  it('backward with an explicit gradient, retainGraph and retained non-leaf grads', () => {
    torch.tidy(() => {
      const x = torch.tensor([1, 2], { dtype: 'float64', requiresGrad: true });
      const y = x.mul(x).retainGrad();
      y.backward(torch.tensor([1, 10], { dtype: 'float64' }), { retainGraph: true });
      assert.deepEqual(x.grad!.toArray(), [2, 40]);
      assert.deepEqual(y.grad!.toArray(), [1, 10]);
      y.backward(torch.tensor([1, 1], { dtype: 'float64' }));
      assert.deepEqual(x.grad!.toArray(), [4, 44]);
    });
  });

  it('noGrad and enableGrad switch recording and restore the previous mode', () => {
    torch.tidy(() => {
      const x = torch.ones([2], { requiresGrad: true });
      assert.equal(torch.isGradEnabled(), true);
      const y = torch.noGrad(() => {
        assert.equal(torch.isGradEnabled(), false);
        const z = torch.enableGrad(() => x.mul(2));
        assert.equal(z.requiresGrad, true);
        return x.mul(2);
      });
      assert.equal(y.requiresGrad, false);
      assert.equal(torch.isGradEnabled(), true);
      assert.throws(() => torch.noGrad(() => { throw new Error('inside'); }), /inside/);
      assert.equal(torch.isGradEnabled(), true);
      const d = x.detach();
      assert.equal(d.requiresGrad, false);
      d.requiresGrad_();
      assert.equal(d.requiresGrad, true);
    });
  });
});

describe('runtime', () => {
  it('reports versions, devices and threads', () => {
    const v = torch.version();
    assert.match(v.libtorch, /^\d+\.\d+\.\d+$/);
    if (!torch.cuda.isAvailable()) assert.equal(torch.cuda.deviceCount(), 0);
    assert.ok(v.binary.file.endsWith('.node'));
    if (v.binary.builtAgainst) assert.equal(v.binary.builtAgainst.libtorch, v.libtorch);
    const devices = torch.devices();
    if (torch.cuda.deviceCount() === 0) assert.deepEqual(devices, ['cpu']);
    else assert.equal(devices.length, torch.cuda.deviceCount());
    const threads = torch.getNumThreads();
    torch.setNumThreads(1);
    assert.equal(torch.getNumThreads(), 1);
    torch.setNumThreads(threads);
    assert.equal(torch.getNumThreads(), threads);
  });
});
