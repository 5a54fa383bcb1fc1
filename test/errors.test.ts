// Bad input never aborts the process: each case below throws a JS error whose message names the
// problem, and the addon keeps working afterwards.
import { strict as assert } from 'assert';

import * as torch from '../lib';

interface ErrorCase {
  name: string;
  run: () => unknown;
  type: typeof Error | typeof TypeError | typeof RangeError;
  message: RegExp;
}

const a = (): torch.Tensor => torch.ones([2, 3]);

const cases: ErrorCase[] = [
  { name: 'broadcast shape mismatch', run: () => a().add(torch.ones([4, 5])), type: Error, message: /size of tensor a \(3\) must match the size of tensor b \(5\)/ },
  { name: 'matmul inner dims', run: () => a().matmul(torch.ones([2, 3])), type: Error, message: /cannot be multiplied \(2x3 and 2x3\)/ },
  { name: 'view of an incompatible size', run: () => a().view([4]), type: Error, message: /shape '\[4\]' is invalid for input of size 6/ },
  { name: 'cat with mismatched dims', run: () => torch.cat([a(), torch.ones([2, 4])], 0), type: Error, message: /Sizes of tensors must match/ },
  { name: 'dim out of range', run: () => a().sum(5), type: Error, message: /Dimension out of range/ },
  { name: 'bmm on 2-D tensors', run: () => a().bmm(a()), type: Error, message: /batch1 must be a 3D tensor/ },
  { name: 'unknown dtype', run: () => torch.zeros([2], { dtype: 'float' as torch.DType }), type: TypeError, message: /unknown dtype 'float': expected one of float32/ },
  { name: 'unknown device', run: () => torch.zeros([2], { device: 'tpu' as torch.Device }), type: TypeError, message: /unknown device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'/ },
  { name: 'CUDA on a machine without it', run: () => torch.zeros([2], { device: 'cuda:0' }), type: Error, message: /CUDA is not available.*use device 'cpu'/ },
  { name: 'cuda() without CUDA', run: () => a().cuda(), type: Error, message: /CUDA is not available/ },
  { name: 'requiresGrad on an integer tensor', run: () => torch.zeros([2], { dtype: 'int64', requiresGrad: true }), type: Error, message: /floating point/ },
  { name: 'dtype mismatch in matmul', run: () => a().matmul(torch.ones([3, 2], { dtype: 'float64' })), type: Error, message: /expected (scalar type|mat1 and mat2 to have the same dtype)|same dtype/ },
  { name: 'index out of range', run: () => a().select(0, 7), type: Error, message: /select\(\): index 7 out of range for tensor of size \[2, 3\] at dimension 0/ },
  { name: 'float index tensor', run: () => a().indexSelect(0, torch.tensor([0.5])), type: Error, message: /index_select\(\): Expected dtype int(32|64)/ },
  { name: 'use after dispose', run: () => { const t = a(); t.dispose(); return t.add(1); }, type: Error, message: /disposed/ },
  { name: 'disposed tensor as an argument', run: () => { const t = a(); t.dispose(); return a().add(t); }, type: Error, message: /disposed/ },
  { name: 'string where a tensor or number is expected', run: () => a().add('1' as unknown as number), type: TypeError, message: /add: expected a Tensor or a number, got a string/ },
  { name: 'plain object where a tensor is expected', run: () => a().matmul({} as torch.Tensor), type: TypeError, message: /must be a Tensor/ },
  { name: 'ragged nested array', run: () => torch.tensor([[1, 2], [3]]), type: TypeError, message: /ragged nested array: data\[1\] should be an array of length 2/ },
  { name: 'non-numeric element', run: () => torch.tensor([1, 'x' as unknown as number]), type: TypeError, message: /element data\[1\] is string/ },
  { name: 'negative shape', run: () => torch.zeros([2, -1]), type: TypeError, message: /shape must be a non-negative integer or an array of them; element 1 is the number -1/ },
  { name: 'typed array of the wrong length', run: () => torch.tensor(new Float32Array(5), { shape: [2, 3] }), type: TypeError, message: /needs 6 elements but the data has 5/ },
  { name: 'unsupported typed array', run: () => torch.tensor(new Int16Array(2) as unknown as Float32Array), type: TypeError, message: /data must be a number, a boolean, nested arrays/ },
  { name: 'item() of many elements', run: () => a().item(), type: TypeError, message: /item\(\): the tensor has 6 elements/ },
  { name: 'backward of a non-scalar without gradient', run: () => torch.ones([2], { requiresGrad: true }).mul(2).backward(), type: TypeError, message: /grad can be implicitly created only for scalar outputs/ },
  { name: 'backward through a graph that needs no grad', run: () => a().sum().backward(), type: Error, message: /does not require grad/ },
  { name: 'bad gelu approximation', run: () => a().gelu('fast' as 'tanh'), type: TypeError, message: /approximate must be 'none' or 'tanh'/ },
  { name: 'bad index string', run: () => a().index('1:' as ':'), type: TypeError, message: /must be an integer, ':', '...'/ },
  { name: 'non-integer dim', run: () => a().unsqueeze(0.5), type: TypeError, message: /unsqueeze: argument 2 must be an integer/ },
  { name: 'setNumThreads(0)', run: () => torch.setNumThreads(0), type: RangeError, message: /must be an integer from 1 to \d+ \(4 per core\), got the number 0/ },
  { name: 'tidy of an async function', run: () => torch.tidy(async () => 1), type: TypeError, message: /returned a Promise/ },
];

describe('errors', () => {
  for (const c of cases) {
    it(`${c.name} -> ${c.type.name}`, () => {
      torch.tidy(() => {
        assert.throws(c.run, (err: unknown) => {
          assert.ok(err instanceof c.type, `expected ${c.type.name}, got ${(err as Error).constructor.name}: ${(err as Error).message}`);
          if (c.type === Error) assert.ok(!(err instanceof TypeError), `expected a plain Error, got TypeError: ${(err as Error).message}`);
          assert.match((err as Error).message, c.message);
          // libtorch's C++ backtrace stays out of the message
          assert.doesNotMatch((err as Error).message, /Exception raised from|frame #\d/);
          return true;
        });
      });
    });
  }

  it('the addon keeps working after every error above', () => {
    const before = torch.memory().liveTensors;
    const y = torch.tidy(() => torch.tensor([1, 2, 3], { dtype: 'float32' }).mul(2).sum().item());
    assert.equal(y, 12);
    assert.equal(torch.memory().liveTensors, before);
  });
});
