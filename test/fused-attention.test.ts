// The fused kernel of d2l's DotProductAttention (native/d2l/fused_attention.h), which the
// Trainer's default kernels run with 'explicit' attention, against the reference kernel (d2l's
// bmm, masked_softmax, dropout, bmm, op for op): the same training steps within 1e-5, for the
// edge cases of d2l's masking (valid lengths per item and per query, a row without valid keys,
// keys beyond every length), with dropout (the same Philox noise, regenerated in backward),
// float32 and float64, with shapes that fill the kernel's register tiles and leave tails, and as
// self-attention (one tensor three times: the packed W_q, W_k, W_v product whose heads the kernel
// reads in place, fused_self_attention, against d2l's three products and transposes); then
// the same cases again in child processes with ATEN_CPU_CAPABILITY=avx2 and =default, which run
// the kernel's narrower variants (AVX2, baseline x86-64) where this process ran a wider one.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { MultiHeadAttention, TransformerEncoderBlock } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';
import { expectedCpuKernels, rerunOnNarrowerCpuKernels } from './helpers';

interface Shape {
  B: number;  // batch
  Q: number;  // queries
  K: number;  // keys
  H: number;  // hidden size, 4 heads of H / 4
}

interface Case {
  name: string;
  validLens: () => torch.Tensor;
  dropout: number;
  dtype: 'float32' | 'float64';
  shape?: Shape;
  // self-attention: a TransformerEncoderBlock (its attention takes X as queries, keys and values;
  // Q = K), where the fused kernels take the packed W_q, W_k, W_v product and read the heads in
  // place (fused_self_attention); `bias` is the block's useBias (default true)
  self?: boolean;
  bias?: boolean;
}

const W_K_BIAS = 3;  // W_q.weight, W_q.bias, W_k.weight, W_k.bias, ... (a block's attention first)
const SMALL: Shape = { B: 6, Q: 7, K: 9, H: 16 };
// Tiles of 4 rows x 16 float columns (8 doubles) and tails of each: 37 keys, 21 queries, depth 40.
const LARGER: Shape = { B: 3, Q: 21, K: 37, H: 160 };
// Self-attention: queries are the keys.
const SELF: Shape = { B: 6, Q: 9, K: 9, H: 16 };
const SELF_LARGER: Shape = { B: 3, Q: 37, K: 37, H: 160 };

// 5 steps of a MultiHeadAttention (4 heads) regressed on a fixed target with Adam; the losses,
// the final parameters and the last step's gradients.
async function train(c: Case, kernels: 'fused' | 'reference', fusedAdam: boolean): Promise<{ losses: number[]; initial: number[][]; params: number[][]; grads: number[][] }> {
  const { B, Q, K, H } = c.shape ?? SMALL;
  torch.manualSeed(11);
  const net = c.self
    ? new TransformerEncoderBlock(H, 2 * H, 4, c.dropout, { useBias: c.bias ?? true, dtype: c.dtype })
    : new MultiHeadAttention(H, 4, c.dropout, { bias: true, dtype: c.dtype });
  const queries = torch.randn([B, Q, H], { dtype: c.dtype });
  const keys = c.self ? queries : torch.randn([B, K, H], { dtype: c.dtype });
  const target = torch.randn([B, Q, H], { dtype: c.dtype });
  const lens = c.validLens();
  const initial = net.parameters().map((p) => Array.from(p.data() as Float32Array | Float64Array));
  // MultiHeadAttention's forward takes all four; the block X and the lengths
  const inputs = c.self ? [queries, lens] : [queries, keys, keys, lens];
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: c.self ? 3e-3 : 1e-2, fused: fusedAdam });
  const trainer = new Trainer(net, optimizer, ['cpu'], new torch.nn.MSELoss({ reduction: 'sum' }), { kernels });
  try {
    torch.manualSeed(5);
    const losses: number[] = [];
    trainer.startProfile();
    for (let step = 0; step < 5; ++step) {
      losses.push((await trainer.step(inputs, target)).lossSum);
    }
    const file = path.join(os.tmpdir(), `torchbridge-fused-attention-${process.pid}.json`);
    try {
      await trainer.stopProfile(file);
      const names = new Set(torch.summarizeProfile(fs.readFileSync(file, 'utf8')).map((e) => e.name));
      const kernel = c.self ? 'torchbridge::fused_self_attention' : 'torchbridge::fused_attention';
      const other = c.self ? 'torchbridge::fused_attention' : 'torchbridge::fused_self_attention';
      assert.equal(names.has(kernel), kernels === 'fused', `${kernel} ${names.has(kernel) ? 'ran' : 'did not run'} with kernels '${kernels}'`);
      assert.ok(!names.has(other), `${other} ran`);
    } finally {
      fs.rmSync(file, { force: true });
    }
    return {
      losses,
      initial,
      params: net.parameters().map((p) => Array.from(p.data() as Float32Array | Float64Array)),
      grads: net.parameters().map((p) => Array.from(p.grad!.data() as Float32Array | Float64Array)),
    };
  } finally {
    trainer.dispose();
    optimizer.dispose();
    net.dispose();
    torch.dispose(c.self ? [queries, target, lens] : [queries, keys, target, lens]);
  }
}

function assertNear(actual: number[], expected: number[], what: string): void {
  const scale = Math.max(1, ...expected.map(Math.abs));
  actual.forEach((a, k) => assert.ok(Math.abs(a - expected[k]) <= 1e-5 * scale, `${what}[${k}]: ${a} vs ${expected[k]}`));
}

// The relative update error of a parameter: |fused - reference| / |reference - initial| (norms over
// its elements) under 1e-5. A whole block (LayerNorm, the FFN's ReLU) leaves some weights with
// gradients near their rounding noise, which Adam normalises into full-size steps of either sign:
// element by element, 5 steps differ by more than rounding (3e-5 of 0.05 for one W_q element),
// while the update as a whole agrees to a few 1e-6. The blocks train at lr 3e-3: at 1e-2, libtorch's
// own kernels under ATEN_CPU_CAPABILITY=default (the reference side) part from its AVX2 kernels by
// 1e-3 at the fifth step (a ReLU or similar kink crossed by rounding), where the fused kernels on
// every variant stay within 2e-6 of the AVX2 reference.
function assertUpdateNear(actual: number[], expected: number[], initial: number[], what: string): void {
  let error = 0;
  let update = 0;
  actual.forEach((a, k) => {
    error += (a - expected[k]) ** 2;
    update += (expected[k] - initial[k]) ** 2;
  });
  assert.ok(update > 0, `${what} did not change`);
  const relative = Math.sqrt(error / update);
  assert.ok(relative <= 1e-5, `${what}: relative update error ${relative.toExponential(2)}`);
}

const cases: Case[] = [
  { name: 'every key valid, no dropout', validLens: () => torch.full([SMALL.B], SMALL.K, { dtype: 'int64' }), dropout: 0, dtype: 'float32' },
  { name: 'a length per item (one of them 0: no valid key), dropout 0.3', validLens: () => torch.tensor([3, 9, 0, 1, 5, 12], { dtype: 'int64' }), dropout: 0.3, dtype: 'float32' },
  {
    name: 'a length per query (float lengths), dropout 0.5',
    validLens: () => torch.tidy(() => torch.randint(0, SMALL.K + 1, [SMALL.B, SMALL.Q]).to({ dtype: 'float32' })),
    dropout: 0.5,
    dtype: 'float32',
  },
  { name: 'float64, a length per item, dropout 0.2', validLens: () => torch.tensor([2, 4, 6, 8, 9, 1], { dtype: 'int64' }), dropout: 0.2, dtype: 'float64' },
  {
    name: '37 keys, 21 queries, depth 40, a length per item, dropout 0.1',
    validLens: () => torch.tensor([37, 20, 33], { dtype: 'int64' }),
    dropout: 0.1,
    dtype: 'float32',
    shape: LARGER,
  },
  { name: 'float64, 37 keys, 21 queries, depth 40, every key valid', validLens: () => torch.full([LARGER.B], LARGER.K, { dtype: 'int64' }), dropout: 0, dtype: 'float64', shape: LARGER },
  { name: 'self-attention, a length per item (one of them 0), dropout 0.3', validLens: () => torch.tensor([3, 9, 0, 1, 5, 12], { dtype: 'int64' }), dropout: 0.3, dtype: 'float32', shape: SELF, self: true },
  {
    name: 'self-attention, a length per query (float lengths), dropout 0.5',
    validLens: () => torch.tidy(() => torch.randint(0, SELF.K + 1, [SELF.B, SELF.Q]).to({ dtype: 'float32' })),
    dropout: 0.5,
    dtype: 'float32',
    shape: SELF,
    self: true,
  },
  { name: 'self-attention, float64, every key valid', validLens: () => torch.full([SELF.B], SELF.K, { dtype: 'int64' }), dropout: 0, dtype: 'float64', shape: SELF, self: true },
  { name: 'self-attention without biases (d2l\'s default useBias), dropout 0.2', validLens: () => torch.tensor([9, 2, 4, 7, 1, 8], { dtype: 'int64' }), dropout: 0.2, dtype: 'float32', shape: SELF, self: true, bias: false },
  {
    name: 'self-attention, 37 tokens, depth 40, a length per item, dropout 0.1',
    validLens: () => torch.tensor([37, 20, 33], { dtype: 'int64' }),
    dropout: 0.1,
    dtype: 'float32',
    shape: SELF_LARGER,
    self: true,
  },
];

const CHILD = process.env.TORCHBRIDGE_CHILD_KERNELS !== undefined;  // a rerun of rerunOnNarrowerCpuKernels

describe('fused DotProductAttention (the Trainer\'s default kernels) against d2l\'s reference kernel', function () {
  this.timeout(60_000);
  it('runs the widest variant of its loops the CPU has, capped by ATEN_CPU_CAPABILITY', () => {
    assert.equal(torch.version().cpuKernels, expectedCpuKernels());
  });
  for (const c of cases) {
    it(`${c.name}: the same steps within 1e-5`, async () => {
      const reference = await train(c, 'reference', false);
      const fused = await train(c, 'fused', true);
      assertNear(fused.losses, reference.losses, 'losses');
      // W_k's bias (parameter 3) adds a constant to each row of scores: its true gradient is 0,
      // and Adam normalises the rounding noise in its place into full steps; compare the others
      fused.params.forEach((p, k) => {
        if (k === W_K_BIAS && c.bias !== false) return;
        if (c.self) assertUpdateNear(p, reference.params[k], reference.initial[k], `parameter ${k}`);
        else assertNear(p, reference.params[k], `parameter ${k}`);
      });
      fused.grads.forEach((g, k) => assertNear(g, reference.grads[k], `gradient ${k}`));
      assert.ok(reference.losses[4] < reference.losses[0], 'it trains');
    });
  }

  // The cases above in child processes on the narrower variants.
  it('the same cases on the narrower variants of the loops (ATEN_CPU_CAPABILITY=avx2, =default: child processes)', function () {
    if (CHILD || torch.version().cpuKernels === 'default') this.skip();  // this process runs the baseline
    this.timeout(360_000);
    rerunOnNarrowerCpuKernels(__filename, cases.length + 1);
  });
});
