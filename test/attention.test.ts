// d2l's attention on libtorch 2.x's fused scaled_dot_product_attention: the same logits and
// gradients as d2l's explicit masked softmax (float32, within 1e-5), in train and eval, in
// forwards on the JS thread and in Trainer steps; refused, saying why, on libtorch 1.x.
import { strict as assert } from 'assert';

import * as torch from '../lib';
import { attentionKernel, BERTClassifier, BERTModel, fusedAttentionAvailable } from '../lib/d2l/bert';
import { Trainer } from '../lib/trainer/trainer';

const config = { vocabSize: 60, numHiddens: 32, ffnNumHiddens: 64, numHeads: 4, numBlks: 2, maxLen: 24 };

function batch(rows = 6, lens = [20, 3, 11, 1, 20, 7]) {
  torch.manualSeed(1);
  return {
    tokens: torch.randint(0, config.vocabSize, [rows, 20]),
    segments: torch.cat([torch.zeros([rows, 10], { dtype: 'int64' }), torch.ones([rows, 10], { dtype: 'int64' })], 1),
    validLens: torch.tensor(lens),
    labels: torch.tensor([0, 1, 2, 0, 1, 2]).narrow(0, 0, rows),
  };
}

// Logits and every parameter's gradient of one forward and backward with `kernel`.
function run(net: BERTClassifier, kernel: 'explicit' | 'fused', train: boolean, lens?: number[], seed?: number) {
  const previous = attentionKernel(kernel);
  try {
    return torch.tidy(() => {
      const b = batch(6, lens);
      if (seed !== undefined) torch.manualSeed(seed);  // the dropout stream (batch() seeds its data)
      net.train(train);
      net.zeroGrad({ setToNone: true });
      const logits = net.forward(b.tokens, b.segments, b.validLens);
      torch.nn.crossEntropy(logits, b.labels, { reduction: 'sum' }).backward();
      return { logits: torch.keep(logits.detach()), grads: net.parameters().map((p) => torch.keep(p.grad!.clone())) };
    });
  } finally {
    attentionKernel(previous);
  }
}

function maxRelDiff(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => (a.sub(b).abs().max().item() as number) / Math.max(1, b.abs().max().item() as number));
}

describe('fused attention (libtorch 2.x scaled_dot_product_attention)', function () {
  this.timeout(120_000);

  if (!fusedAttentionAvailable()) {
    it(`is refused on libtorch ${torch.version().libtorch}, with the reason and the fix`, () => {
      assert.throws(() => attentionKernel('fused'), /'fused' needs libtorch 2.x \(at::scaled_dot_product_attention\).*use 'explicit'/);
      assert.equal(attentionKernel(), 'explicit');
      const bert = new BERTModel({ ...config, dropout: 0 });
      const net = new BERTClassifier(bert);
      const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
      assert.throws(() => new Trainer(net, optimizer, ['cpu'], undefined, { attention: 'fused' }), /Trainer: attention 'fused' needs libtorch 2.x/);
      optimizer.dispose();
      net.dispose();
      bert.dispose();
    });
    return;
  }

  let bert: BERTModel;
  let net: BERTClassifier;
  before(() => {
    torch.manualSeed(0);
    bert = new BERTModel({ ...config, dropout: 0 });
    net = new BERTClassifier(bert);
  });
  after(() => {
    net.dispose();
    bert.dispose();
  });

  for (const train of [false, true]) {
    it(`gives the explicit kernel's logits and gradients within 1e-5 (${train ? 'train' : 'eval'} mode)`, () => {
      const explicit = run(net, 'explicit', train);
      const fused = run(net, 'fused', train);
      assert.ok(maxRelDiff(fused.logits, explicit.logits) <= 1e-5, `logits: ${maxRelDiff(fused.logits, explicit.logits)}`);
      fused.grads.forEach((g, k) => assert.ok(maxRelDiff(g, explicit.grads[k]) <= 1e-5, `gradient ${k}: ${maxRelDiff(g, explicit.grads[k])}`));
      torch.dispose([explicit, fused]);
    });
  }

  it("rows without a valid key keep d2l's weights (every key equally): the explicit kernel runs", () => {
    const lens = [20, 0, 11, 1, 0, 7];
    const explicit = run(net, 'explicit', false, lens);
    const fused = run(net, 'fused', false, lens);
    assert.ok(maxRelDiff(fused.logits, explicit.logits) <= 1e-5);
    torch.dispose([explicit, fused]);
  });

  it('applies dropout to the attention weights in training (libtorch\'s noise), not in eval', () => {
    torch.manualSeed(0);
    const dropBert = new BERTModel({ ...config, dropout: 0.5 });
    const dropNet = new BERTClassifier(dropBert);
    try {
      const evalA = run(dropNet, 'fused', false);
      const evalB = run(dropNet, 'explicit', false);
      assert.ok(maxRelDiff(evalA.logits, evalB.logits) <= 1e-5, 'eval: no dropout, the same function');
      const trainA = run(dropNet, 'fused', true, undefined, 10);
      const trainB = run(dropNet, 'fused', true, undefined, 11);
      const again = run(dropNet, 'fused', true, undefined, 10);
      assert.ok(maxRelDiff(trainA.logits, evalA.logits) > 1e-3, 'training applies dropout');
      assert.ok(maxRelDiff(trainA.logits, trainB.logits) > 1e-3, 'another seed draws other masks');
      assert.equal(maxRelDiff(trainA.logits, again.logits), 0, 'manualSeed reproduces the masks');
      assert.ok(trainA.grads.every((g) => Number.isFinite(g.abs().max().item() as number)));
      torch.dispose([evalA, evalB, trainA, trainB, again]);
    } finally {
      dropNet.dispose();
      dropBert.dispose();
    }
  });

  it("Trainer steps with attention 'fused' equal 'explicit' ones within 1e-5, on [cpu] and [cpu, cpu]", async () => {
    for (const devices of [['cpu'], ['cpu', 'cpu']] as torch.Device[][]) {
      const losses: Record<string, number[]> = {};
      for (const attention of ['explicit', 'fused'] as const) {
        torch.manualSeed(0);
        const b2 = new BERTModel({ ...config, dropout: 0 });
        const n2 = new BERTClassifier(b2);
        const optimizer = new torch.optim.Adam(n2.parameters(), { lr: 1e-3 });
        const trainer = new Trainer(n2, optimizer, devices, undefined, { attention });
        const b = batch();
        losses[attention] = [];
        for (let k = 0; k < 3; ++k) losses[attention].push((await trainer.step([b.tokens, b.segments, b.validLens], b.labels)).lossSum);
        torch.dispose(b);
        trainer.dispose();
        optimizer.dispose();
        n2.dispose();
        b2.dispose();
      }
      losses.fused.forEach((l, k) => assert.ok(Math.abs(l - losses.explicit[k]) <= 1e-5 * losses.explicit[k], `${devices}: step ${k}: ${l} vs ${losses.explicit[k]}`));
    }
  });
});
