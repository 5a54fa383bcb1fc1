/**
 * Autograd against finite differences, with no PyTorch involved: for every differentiable op,
 * the gradient of L = sum_k (out_k * w_k).sum() (fixed random w_k) with respect to each float64
 * input is compared with central differences (L(x + eps) - L(x - eps)) / (2 eps), eps = 1e-6.
 */
import { strict as assert } from 'assert';
import * as torch from '../lib';
import { Tensor } from '../lib';
import { assertClose, tensorValues } from './helpers';

const EPS = 1e-6;
// Central differences in float64 are accurate to ~1e-10 here (rounding of L over 2 eps, and
// eps^2 truncation), far inside this tolerance.
const TOLERANCE = { rtol: 1e-6, atol: 1e-8 };

interface InputSpec {
  shape: number[];
  /** Values in [0.5, 2) instead of [-1.5, 1.5): for log, sqrt, rsqrt, pow and divisors. */
  positive?: boolean;
}

interface GradSpec {
  name: string;
  inputs: InputSpec[];
  /** The op under test; integer index tensors and masks are constants built inside. */
  fn: (...xs: Tensor[]) => Tensor | Tensor[];
}

// mulberry32: a small deterministic generator, so inputs do not depend on libtorch's RNG.
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

// Points where the ops below have kinks (relu, abs, clamp bounds): inputs stay clear of them
// so that x +- eps lies on one smooth piece.
const KINKS = [0, -0.5, 0.5];

function inputValues(spec: InputSpec, next: () => number): Float64Array {
  const count = spec.shape.reduce((n, d) => n * d, 1);
  const out = new Float64Array(count);
  for (let k = 0; k < count; ++k) {
    let v: number;
    do {
      v = spec.positive ? 0.5 + 1.5 * next() : 3 * next() - 1.5;
    } while (!spec.positive && KINKS.some((kink) => Math.abs(v - kink) < 1e-2));
    out[k] = v;
  }
  return out;
}

function asList(result: Tensor | Tensor[]): Tensor[] {
  return result instanceof Tensor ? [result] : result;
}

const f64 = (values: number[] | Float64Array, shape: number[], requiresGrad = false): Tensor =>
  torch.tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad, copy: true });
const long = (values: number[]): Tensor => torch.tensor(values, { dtype: 'int64' });
const bool = (values: boolean[]): Tensor => torch.tensor(values);

function gradcheck(spec: GradSpec, seed: number): void {
  torch.tidy(() => {
    const next = generator(seed);
    const data = spec.inputs.map((input) => inputValues(input, next));
    const shapes = spec.inputs.map((input) => input.shape);

    // Fixed weights, one per output, shaped after a first evaluation.
    const firstOutputs = torch.noGrad(() => asList(spec.fn(...data.map((d, k) => f64(d, shapes[k])))));
    const weights = firstOutputs.map((out) => {
      assert.equal(out.dtype, 'float64', `${spec.name}: outputs must be float64`);
      return f64(Array.from({ length: out.numel }, () => 2 * next() - 1), out.shape);
    });
    const loss = (xs: Tensor[]): Tensor =>
      asList(spec.fn(...xs)).map((out, k) => out.mul(weights[k]).sum()).reduce((a, b) => a.add(b));

    const leaves = data.map((d, k) => f64(d, shapes[k], true));
    loss(leaves).backward();

    data.forEach((values, i) => {
      const numeric = new Float64Array(values.length);
      for (let j = 0; j < values.length; ++j) {
        const at = (delta: number): number => torch.tidy(() => torch.noGrad(() => {
          const shifted = data.map((d, k) => (k === i ? Float64Array.from(d, (v, m) => (m === j ? v + delta : v)) : d));
          return loss(shifted.map((d, k) => f64(d, shapes[k]))).item() as number;
        }));
        numeric[j] = (at(EPS) - at(-EPS)) / (2 * EPS);
      }
      const grad = leaves[i].grad;
      // An input that does not reach the output has no gradient: it must be zero numerically.
      const analytic = grad === undefined ? new Array<number>(values.length).fill(0) : tensorValues(grad);
      assertClose(analytic, numeric, TOLERANCE, `${spec.name}: gradient of input ${i} (autograd vs finite differences)`,
        shapes[i]);
    });
  });
}

const A = { shape: [2, 3] };
const P = { shape: [2, 3], positive: true };
const ROW = { shape: [3] };
const X3 = { shape: [2, 3, 4] };

const specs: GradSpec[] = [
  // arithmetic
  { name: 'add broadcast', inputs: [A, ROW], fn: (x, y) => x.add(y) },
  { name: 'add alpha', inputs: [A, { shape: [2, 1] }], fn: (x, y) => x.add(y, 2.5) },
  { name: 'add scalar', inputs: [A], fn: (x) => x.add(0.75) },
  { name: 'sub alpha', inputs: [A, ROW], fn: (x, y) => x.sub(y, -1.5) },
  { name: 'mul broadcast', inputs: [A, { shape: [2, 1] }], fn: (x, y) => x.mul(y) },
  { name: 'mul self', inputs: [A], fn: (x) => x.mul(x) },
  { name: 'div broadcast', inputs: [A, { shape: [3], positive: true }], fn: (x, y) => x.div(y) },
  { name: 'div scalar', inputs: [A], fn: (x) => x.div(0.4) },
  { name: 'pow scalar 3', inputs: [A], fn: (x) => x.pow(3) },
  { name: 'pow scalar 0.5', inputs: [P], fn: (x) => x.pow(0.5) },
  { name: 'pow scalar -1.5', inputs: [P], fn: (x) => x.pow(-1.5) },
  { name: 'pow tensor exponent', inputs: [P, ROW], fn: (x, y) => x.pow(y) },
  { name: 'maximum', inputs: [A, ROW], fn: (x, y) => x.maximum(y) },
  { name: 'minimum', inputs: [A, ROW], fn: (x, y) => x.minimum(y) },
  { name: 'neg', inputs: [A], fn: (x) => x.neg() },
  { name: 'sqrt', inputs: [P], fn: (x) => x.sqrt() },
  { name: 'rsqrt', inputs: [P], fn: (x) => x.rsqrt() },
  { name: 'exp', inputs: [A], fn: (x) => x.exp() },
  { name: 'log', inputs: [P], fn: (x) => x.log() },
  { name: 'abs', inputs: [A], fn: (x) => x.abs() },
  { name: 'sin', inputs: [A], fn: (x) => x.sin() },
  { name: 'cos', inputs: [A], fn: (x) => x.cos() },
  { name: 'clamp min', inputs: [A], fn: (x) => x.clamp(-0.5) },
  { name: 'clamp max', inputs: [A], fn: (x) => x.clamp(null, 0.5) },
  { name: 'clamp both', inputs: [A], fn: (x) => x.clamp(-0.5, 0.5) },
  // activations
  { name: 'relu', inputs: [A], fn: (x) => x.relu() },
  { name: 'tanh', inputs: [A], fn: (x) => x.tanh() },
  { name: 'sigmoid', inputs: [A], fn: (x) => x.sigmoid() },
  { name: 'gelu none', inputs: [A], fn: (x) => x.gelu() },
  { name: 'gelu tanh', inputs: [A], fn: (x) => x.gelu('tanh') },
  { name: 'functional relu/gelu/tanh/sigmoid', inputs: [A], fn: (x) => torch.sigmoid(torch.tanh(torch.gelu(torch.relu(x), 'tanh'))) },
  { name: 'softmax dim 1', inputs: [X3], fn: (x) => x.softmax(1) },
  { name: 'softmax dim -1', inputs: [X3], fn: (x) => torch.softmax(x, -1) },
  { name: 'logSoftmax dim 0', inputs: [X3], fn: (x) => x.logSoftmax(0) },
  { name: 'logSoftmax dim -1', inputs: [X3], fn: (x) => torch.logSoftmax(x, -1) },
  // reductions
  { name: 'sum all', inputs: [X3], fn: (x) => x.sum() },
  { name: 'sum dims keepdim', inputs: [X3], fn: (x) => x.sum([0, 2], { keepdim: true }) },
  { name: 'mean all', inputs: [X3], fn: (x) => x.mean() },
  { name: 'mean dim', inputs: [X3], fn: (x) => x.mean(-1) },
  { name: 'max all', inputs: [X3], fn: (x) => x.max() },
  { name: 'max with dim', inputs: [X3], fn: (x) => x.max(1).values },
  { name: 'min with dim keepdim', inputs: [X3], fn: (x) => x.min(-1, true).values },
  // linear algebra
  { name: 'matmul 1-D . 1-D', inputs: [{ shape: [4] }, { shape: [4] }], fn: (x, y) => x.matmul(y) },
  { name: 'matmul 2-D', inputs: [{ shape: [2, 3] }, { shape: [3, 4] }], fn: (x, y) => x.matmul(y) },
  { name: 'matmul vector . matrix', inputs: [{ shape: [3] }, { shape: [3, 2] }], fn: (x, y) => torch.matmul(x, y) },
  { name: 'matmul batched broadcast', inputs: [{ shape: [2, 1, 2, 3] }, { shape: [3, 3, 2] }], fn: (x, y) => x.matmul(y) },
  { name: 'bmm', inputs: [{ shape: [2, 2, 3] }, { shape: [2, 3, 2] }], fn: (x, y) => torch.bmm(x, y) },
  { name: 'linear with bias', inputs: [{ shape: [2, 2, 3] }, { shape: [4, 3] }, { shape: [4] }], fn: (x, w, b) => torch.linear(x, w, b) },
  { name: 'linear without bias', inputs: [{ shape: [2, 3] }, { shape: [4, 3] }], fn: (x, w) => torch.linear(x, w) },
  // shape
  { name: 'reshape', inputs: [X3], fn: (x) => x.reshape([4, -1]).mul(x.reshape([4, 6])) },
  { name: 'view', inputs: [X3], fn: (x) => x.view([6, 4]).exp() },
  { name: 'permute', inputs: [X3], fn: (x) => x.permute([2, 0, 1]).mul(torch.arange(4, { dtype: 'float64' }).reshape([4, 1, 1])) },
  { name: 'transpose', inputs: [{ shape: [2, 3] }, { shape: [3, 2] }], fn: (x, y) => x.transpose(0, 1).mul(y) },
  { name: 'unsqueeze and squeeze', inputs: [{ shape: [1, 3, 1] }], fn: (x) => x.squeeze().unsqueeze(0).mul(x.squeeze(2)) },
  { name: 'flatten', inputs: [X3], fn: (x) => x.flatten(1).sin() },
  { name: 'expand', inputs: [{ shape: [3, 1] }], fn: (x) => x.expand([2, 3, 4]).mul(torch.arange(24, { dtype: 'float64' }).reshape([2, 3, 4])) },
  { name: 'contiguous', inputs: [X3], fn: (x) => x.transpose(0, 2).contiguous().view([-1]).cos() },
  { name: 'cat', inputs: [A, { shape: [1, 3] }], fn: (x, y) => torch.cat([x, y, x.mul(y)], 0) },
  { name: 'stack', inputs: [A, A], fn: (x, y) => torch.stack([x, y.exp()], -1) },
  { name: 'split sizes', inputs: [{ shape: [5, 2] }], fn: (x) => x.split([1, 4]).map((p) => p.pow(2)) },
  { name: 'split int', inputs: [{ shape: [5, 2] }], fn: (x) => x.split(2) },
  { name: 'chunk', inputs: [{ shape: [2, 5] }], fn: (x) => x.chunk(3, 1).map((p) => p.exp()) },
  { name: 'narrow', inputs: [{ shape: [5, 2] }], fn: (x) => x.narrow(0, 1, 3).sin() },
  { name: 'select', inputs: [X3], fn: (x) => x.select(1, -1).exp() },
  { name: 'asStrided', inputs: [{ shape: [2, 3] }], fn: (x) => x.mul(1).asStrided([2, 2], [1, 3], 1).exp() },
  { name: 'asStrided overlapping', inputs: [{ shape: [4] }], fn: (x) => x.asStrided([3, 2], [1, 1]).sin() },
  // indexing
  { name: 'index X[:, 0, :]', inputs: [X3], fn: (x) => x.index(':', 0, ':').exp() },
  { name: 'index batch_idx, positions', inputs: [X3], fn: (x) => x.index(long([0, 0, 1, 1]), long([0, 2, 1, 2])).sin() },
  { name: 'index repeated rows', inputs: [X3], fn: (x) => x.index(long([1, 1, 0])) },
  { name: 'index slices with step, None, Ellipsis', inputs: [X3], fn: (x) => x.index(null, '...', torch.slice(null, null, 2)).exp() },
  { name: 'index negative int and slice', inputs: [X3], fn: (x) => x.index(-1, torch.slice(1)).exp() },
  { name: 'index bool mask', inputs: [X3], fn: (x) => x.index(bool([true, false, true, true, false, true])
    .reshape([2, 3])).sin() },
  {
    name: 'indexPut_ on a clone',
    inputs: [X3, { shape: [2, 4] }],
    fn: (x, v) => x.clone().indexPut_([long([1, 0]), long([2, 1])], v.exp()).sin(),
  },
  { name: 'indexPut_ scalar', inputs: [X3], fn: (x) => x.mul(x).indexPut_([':', 1], 0.5) },
  { name: 'indexSelect', inputs: [{ shape: [3, 4] }], fn: (x) => x.indexSelect(1, long([3, 0, 3])).exp() },
  { name: 'gather', inputs: [{ shape: [3, 4] }], fn: (x) => x.gather(1, long([0, 3, 1, 1, 2, 2]).reshape([3, 2])).exp() },
  { name: 'repeatInterleave int', inputs: [{ shape: [3, 2] }], fn: (x) => x.repeatInterleave(2, 0).sin() },
  { name: 'repeatInterleave tensor', inputs: [{ shape: [3, 2] }], fn: (x) => x.repeatInterleave(long([2, 0, 3]), 0).sin() },
  { name: 'maskedFill scalar', inputs: [X3], fn: (x) => x.maskedFill(bool([true, false, false, true]), -1e6).softmax(-1) },
  { name: 'maskedFill tensor value', inputs: [A, { shape: [] }], fn: (x, v) => x.maskedFill(bool([false, true, true]), v) },
  { name: 'where tensor/tensor', inputs: [A, ROW], fn: (x, y) => torch.where(bool([true, false, true]), x, y) },
  { name: 'where tensor/scalar', inputs: [A], fn: (x) => torch.where(x.gt(0), x.exp(), -0.5) },
  { name: 'where scalar/tensor', inputs: [A], fn: (x) => torch.where(x.gt(0), 1.5, x) },
  // copies and in place (on non-leaf tensors)
  { name: 'clone', inputs: [A], fn: (x) => x.clone().mul(x) },
  { name: 'to float64 (same dtype)', inputs: [A], fn: (x) => x.to('float64').exp() },
  { name: 'add_ and mul_', inputs: [A, ROW], fn: (x, y) => x.sin().add_(y, 2).mul_(y) },
  { name: 'sub_ and div_', inputs: [A, { shape: [3], positive: true }], fn: (x, y) => x.sin().sub_(y).div_(y) },
  { name: 'clamp_', inputs: [A], fn: (x) => x.mul(1).clamp_(-0.5, 0.5) },
  { name: 'maskedFill_', inputs: [A], fn: (x) => x.sin().maskedFill_(bool([true, false, true]), 0.25) },
  { name: 'copy_', inputs: [A, ROW], fn: (x, y) => x.mul(2).copy_(y.sin()) },
  { name: 'zero_ and fill_ cut the graph of the receiver', inputs: [A, ROW], fn: (x, y) => x.mul(1).zero_().add(y).mul(x.mul(1).fill_(2)) },
  // d2l's masked scaled dot-product attention: softmax(Q K^T / sqrt(d), masked) V
  {
    name: 'masked dot-product attention',
    inputs: [{ shape: [2, 2, 3] }, { shape: [2, 4, 3] }, { shape: [2, 4, 2] }],
    fn: (q, k, v) => {
      const scores = q.bmm(k.transpose(1, 2)).div(Math.sqrt(3));
      const mask = torch.arange(4).index(null, null, ':').ge(long([3, 2]).reshape([2, 1, 1]));
      return scores.maskedFill(mask, -1e6).softmax(-1).bmm(v);
    },
  },
];

describe('autograd matches finite differences (float64)', () => {
  specs.forEach((spec, k) => {
    it(spec.name, () => gradcheck(spec, 1000 + k));
  });

  it('the check catches a wrong gradient', () => {
    // detach() hides exp(x) from autograd, so autograd's gradient misses a term.
    assert.throws(() => gradcheck({ name: 'detached', inputs: [A], fn: (x) => x.exp().detach().mul(x) }, 7), /finite differences/);
  });
});
