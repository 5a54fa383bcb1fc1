// The fused kernel of d2l's AddNorm (native/d2l/fused_add_norm.h), LayerNorm(dropout(Y) + X) in
// one pass each way, which the Trainer's default kernels run, against the reference kernels (d2l's
// dropout, add and nn.LayerNorm op for op): the same training steps within 1e-5, with and without
// dropout (the same Philox noise, regenerated in backward), float32 and float64, row widths that
// are not a multiple of any vector width and row counts that leave the gradient sums' 32-row
// blocks partial. The gradients AddNorm gives X and Y are compared in test/fused-attention.test.ts,
// through the parameters of a TransformerEncoderBlock's attention and FFN, which make them.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { AddNorm } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';

interface Case {
  name: string;
  rows: [number, number];  // batch, tokens
  width: number;
  dropout: number;
  dtype: 'float32' | 'float64';
}

async function train(c: Case, kernels: 'fused' | 'reference'): Promise<{ losses: number[]; initial: number[][]; params: number[][]; grads: number[][]; ran: boolean }> {
  torch.manualSeed(3);
  const addnorm = new AddNorm(c.width, c.dropout, { dtype: c.dtype });
  const X = torch.randn([...c.rows, c.width], { dtype: c.dtype });
  const Y = torch.randn([...c.rows, c.width], { dtype: c.dtype });
  const target = torch.randn([...c.rows, c.width], { dtype: c.dtype });
  const initial = addnorm.parameters().map((p) => Array.from(p.data() as Float32Array | Float64Array));
  const optimizer = new torch.optim.Adam(addnorm.parameters(), { lr: 1e-2 });
  const trainer = new Trainer(addnorm, optimizer, ['cpu'], new torch.nn.MSELoss({ reduction: 'sum' }), { kernels });
  try {
    torch.manualSeed(5);
    const losses: number[] = [];
    trainer.startProfile();
    for (let step = 0; step < 5; ++step) losses.push((await trainer.step([X, Y], target)).lossSum);
    const file = path.join(os.tmpdir(), `torchbridge-fused-add-norm-${process.pid}.json`);
    let ran: boolean;
    try {
      await trainer.stopProfile(file);
      ran = torch.summarizeProfile(fs.readFileSync(file, 'utf8')).some((e) => e.name === 'torchbridge::fused_add_norm');
    } finally {
      fs.rmSync(file, { force: true });
    }
    return {
      losses,
      initial,
      params: addnorm.parameters().map((p) => Array.from(p.data() as Float32Array | Float64Array)),
      grads: addnorm.parameters().map((p) => Array.from(p.grad!.data() as Float32Array | Float64Array)),
      ran,
    };
  } finally {
    trainer.dispose();
    optimizer.dispose();
    torch.dispose([target, X, Y]);
    addnorm.dispose();
  }
}

function assertNear(actual: number[], expected: number[], what: string): void {
  const scale = Math.max(1, ...expected.map(Math.abs));
  actual.forEach((a, k) => assert.ok(Math.abs(a - expected[k]) <= 1e-5 * scale, `${what}[${k}]: ${a} vs ${expected[k]}`));
}

const cases: Case[] = [
  { name: 'no dropout, 6 x 7 rows of 16', rows: [6, 7], width: 16, dropout: 0, dtype: 'float32' },
  { name: 'dropout 0.1, 5 x 29 rows of 37 (partial 32-row blocks, odd width)', rows: [5, 29], width: 37, dropout: 0.1, dtype: 'float32' },
  { name: 'dropout 0.5, 2 x 40 rows of 256 (bert.small\'s width)', rows: [2, 40], width: 256, dropout: 0.5, dtype: 'float32' },
  { name: 'float64, dropout 0.2, 3 x 11 rows of 24', rows: [3, 11], width: 24, dropout: 0.2, dtype: 'float64' },
  { name: 'a single row of 5, dropout 0.3', rows: [1, 1], width: 5, dropout: 0.3, dtype: 'float32' },
];

describe('fused AddNorm (the Trainer\'s default kernels) against d2l\'s reference kernels', function () {
  this.timeout(60_000);
  for (const c of cases) {
    it(`${c.name}: the same steps within 1e-5`, async () => {
      const reference = await train(c, 'reference');
      const fused = await train(c, 'fused');
      assert.ok(!reference.ran, 'the reference kernels ran the fused AddNorm');
      assert.ok(fused.ran, 'the fused kernels did not run the fused AddNorm');
      assertNear(fused.losses, reference.losses, 'losses');
      fused.params.forEach((p, k) => assertNear(p, reference.params[k], `parameter ${k}`));
      fused.grads.forEach((g, k) => assertNear(g, reference.grads[k], `gradient ${k}`));
      fused.params.forEach((p, k) => assert.ok(p.some((v, i) => v !== fused.initial[k][i]), `parameter ${k} did not change`));
      assert.ok(reference.losses[4] < reference.losses[0], 'it trains');
    });
  }
});
