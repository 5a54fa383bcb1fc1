// Trainer options: the dropout stream (a parallel Philox generator by default, PyTorch's own on
// request) and bfloat16 autocast with float32 master weights.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { Trainer, TrainerOptions } from '../lib/trainer/trainer';

const config = { vocabSize: 50, numHiddens: 32, ffnNumHiddens: 64, numHeads: 4, numBlks: 2, maxLen: 24 };

// A classifier of `dropout` (seeded: the same weights on every call), trained `steps` steps on one
// batch; returns the per-step loss sums and the final parameters.
async function train(dropout: number, options: TrainerOptions, steps: number, seed = 0, devices: torch.Device[] = ['cpu'],
  rows = 16, fusedAdam = false, keepGrads = false): Promise<{ losses: number[]; params: torch.Tensor[]; grads: torch.Tensor[] }> {
  torch.manualSeed(0);
  const bert = new BERTModel({ ...config, dropout });
  const net = new BERTClassifier(bert);
  const all = [torch.randint(0, config.vocabSize, [16, 20]), torch.zeros([16, 20], { dtype: 'int64' }), torch.randint(3, 21, [16]), torch.randint(0, 3, [16])];
  const [tokens, segments, validLens, labels] = all.map((t) => t.narrow(0, 0, rows));
  torch.dispose(all);
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: 1e-3, fused: fusedAdam });
  const trainer = new Trainer(net, optimizer, devices, undefined, options);
  torch.manualSeed(seed);
  const losses: number[] = [];
  for (let k = 0; k < steps; ++k) {
    const { lossSum, count } = await trainer.step([tokens, segments, validLens], labels);
    assert.equal(count, rows);
    losses.push(lossSum);
  }
  const params = net.parameters().map((p) => p.detach().clone());
  const grads = keepGrads ? net.parameters().map((p) => p.grad!.clone()) : [];
  torch.dispose([tokens, segments, validLens, labels]);
  trainer.dispose();
  optimizer.dispose();
  net.dispose();
  bert.dispose();
  return { losses, params, grads };
}

const BERT_NAMES = (() => {
  const bert = new BERTModel({ ...config, dropout: 0 });
  const net = new BERTClassifier(bert);
  const names = net.namedParameters().map(([n]) => n);
  net.dispose();
  bert.dispose();
  return names;
})();

function maxDiff(a: torch.Tensor[], b: torch.Tensor[]): number {
  return torch.tidy(() => Math.max(...a.map((t, k) => t.sub(b[k]).abs().max().item() as number)));
}

describe('Trainer options', function () {
  this.timeout(60_000);

  it('Philox dropout (default): reproducible under manualSeed, different for another seed, unlike no dropout', async () => {
    const a = await train(0.3, {}, 3, 1);
    const b = await train(0.3, {}, 3, 1);
    const c = await train(0.3, {}, 3, 2);
    const none = await train(0, {}, 3, 1);
    assert.deepEqual(a.losses, b.losses);
    assert.equal(maxDiff(a.params, b.params), 0);
    assert.notDeepEqual(a.losses, c.losses);
    assert.ok(a.losses.every((l, k) => l !== none.losses[k]), 'dropout is active in training steps');
    torch.dispose([...a.params, ...b.params, ...c.params, ...none.params]);
  });

  it("dropoutRng 'pytorch' draws PyTorch's stream: the masks of a train-mode forward on the JS thread", async () => {
    // one step from the same weights and seed: the step's loss equals the loss of the same
    // forward on the JS thread, where dropout is always PyTorch's
    torch.manualSeed(0);
    const bert = new BERTModel({ ...config, dropout: 0.3 });
    const net = new BERTClassifier(bert);
    const tokens = torch.randint(0, config.vocabSize, [16, 20]);
    const segments = torch.zeros([16, 20], { dtype: 'int64' });
    const validLens = torch.randint(3, 21, [16]);
    const labels = torch.randint(0, 3, [16]);
    net.train();
    torch.manualSeed(5);
    const expected = torch.tidy(() => new torch.nn.CrossEntropyLoss({ reduction: 'none' }).forward(net.forward(tokens, segments, validLens), labels).sum().item() as number);
    const trainer = new Trainer(net, new torch.optim.SGD(net.parameters(), { lr: 0 }), ['cpu'], undefined, { dropoutRng: 'pytorch' });
    torch.manualSeed(5);
    const { lossSum } = await trainer.step([tokens, segments, validLens], labels);
    assert.equal(lossSum, expected);
    torch.manualSeed(5);
    const philox = new Trainer(net, new torch.optim.SGD(net.parameters(), { lr: 0 }), ['cpu']);
    assert.notEqual((await philox.step([tokens, segments, validLens], labels)).lossSum, expected);
    torch.dispose([tokens, segments, validLens, labels]);
    for (const t of [trainer, philox]) {
      t.dispose();
      t.optimizer.dispose();
    }
    net.dispose();
    bert.dispose();
  });

  it('Philox dropout keeps about 1 - p of the elements, as exactly x / (1 - p), reproducibly; gradients follow the mask', () => {
    torch.tidy(() => {
      const x = torch.rand([1000, 1000]).add(1).requiresGrad_();
      torch.manualSeed(3);
      const y = torch.dropout(x, 0.3, { rng: 'philox' });
      torch.manualSeed(3);
      const again = torch.dropout(x, 0.3, { rng: 'philox' });
      torch.manualSeed(3);
      const pytorchStream = torch.dropout(x, 0.3);
      assert.equal(y.sub(again).abs().max().item(), 0, 'the same seed gives the same mask');
      const kept = y.ne(0);
      const fraction = kept.to('float64').mean().item() as number;
      // 10^6 Bernoulli(0.7) draws: standard deviation 4.6e-4
      assert.ok(Math.abs(fraction - 0.7) < 3e-3, `kept ${fraction}`);
      // kept values are x * (1 / 0.7) in float32, as PyTorch's noise.div_(1 - p)
      const scale = torch.tensor(1, { dtype: 'float32' }).div(torch.tensor(0.7, { dtype: 'float32' }));
      assert.equal(torch.where(kept, y.sub(x.mul(scale)), 0).abs().max().item(), 0);
      assert.ok((y.ne(pytorchStream).sum().item() as number) > 1000, "a different stream from PyTorch's");
      y.sum().backward();
      assert.equal(x.grad!.sub(torch.where(kept, scale, 0)).abs().max().item(), 0);
      // eval, p = 0 and p = 1 behave as PyTorch's
      assert.equal(torch.dropout(x, 0.3, { training: false, rng: 'philox' }).sub(x).abs().max().item(), 0);
      assert.equal(torch.dropout(x, 1, { rng: 'philox' }).abs().max().item(), 0);
    });
  });

  it('Philox dropout of bfloat16 and half tensors: the float32 mask, kept values x * (1 / (1 - p) rounded to the type)', () => {
    torch.tidy(() => {
      const x = torch.rand([300, 500]).add(1);
      torch.manualSeed(7);
      const reference = torch.dropout(x, 0.3, { rng: 'philox' });
      for (const dtype of ['bfloat16', 'float16'] as const) {
        const low = x.to({ dtype });
        torch.manualSeed(7);
        const y = torch.dropout(low, 0.3, { rng: 'philox' });
        assert.equal(y.dtype, dtype);
        assert.equal(y.ne(0).ne(reference.ne(0)).sum().item(), 0, `${dtype}: the float32 stream's mask`);
        // PyTorch's noise for the type: 1, divided by 0.7 in float32, rounded to it
        const scale = torch.tensor(1, { dtype: 'float32' }).div(torch.tensor(0.7, { dtype: 'float32' })).to({ dtype });
        assert.equal(torch.where(y.ne(0), y.sub(low.mul(scale)), 0).to({ dtype: 'float32' }).abs().max().item(), 0, `${dtype}: kept values`);
      }
    });
  });

  it("precision 'bf16': autocast forward, float32 weights, losses within bfloat16's precision of float32's", async () => {
    const f32 = await train(0, {}, 4);
    const bf16 = await train(0, { precision: 'bf16' }, 4);
    bf16.params.forEach((p) => assert.equal(p.dtype, 'float32'));
    bf16.losses.forEach((l, k) => assert.ok(Math.abs(l - f32.losses[k]) / f32.losses[k] < 2e-2, `step ${k}: ${l} vs ${f32.losses[k]}`));
    assert.notDeepEqual(bf16.losses, f32.losses, 'bf16 computes in lower precision');
    torch.dispose([...f32.params, ...bf16.params]);
  });

  it('length groups give the steps of the whole batch (within 1e-5), on one replica and on two', async () => {
    const groups = { lengthGroups: { groups: 3, lengthsInput: 2, trimmedInputs: [0, 1] } };
    const whole = await train(0, {}, 5);
    for (const devices of [['cpu'], ['cpu', 'cpu']] as torch.Device[][]) {
      const grouped = await train(0, groups, 5, 0, devices);
      grouped.losses.forEach((l, k) => assert.ok(Math.abs(l - whole.losses[k]) <= 1e-5 * whole.losses[k], `step ${k}: ${l} vs ${whole.losses[k]}`));
      // Adam normalises steps, so parameters whose true gradient is 0 (attention W_k.bias) move by
      // rounding noise; compare the others
      const names = BERT_NAMES;
      whole.params.forEach((p, k) => {
        if (names[k].endsWith('W_k.bias')) return;
        assert.ok(maxDiff([grouped.params[k]], [p]) <= 1e-5, `${devices.join(',')} ${names[k]}: ${maxDiff([grouped.params[k]], [p])}`);
      });
      torch.dispose(grouped.params);
    }
    torch.dispose(whole.params);
  });

  it("kernels 'fused' (default) and a fused Adam take the steps of 'reference' kernels and libtorch's Adam (1e-5), with dropout, length groups, on one replica and on two", async () => {
    const groups = { lengthGroups: { groups: 3, lengthsInput: 2, trimmedInputs: [0, 1] } };
    // dropout on one replica (with two, the replicas' threads draw their seeds in either order)
    for (const [devices, dropout] of [[['cpu'], 0.1], [['cpu', 'cpu'], 0]] as [torch.Device[], number][]) {
      const reference = await train(dropout, { ...groups, kernels: 'reference' }, 4, 3, devices, 16, false, true);
      const fused = await train(dropout, groups, 4, 3, devices, 16, true, true);
      fused.losses.forEach((l, k) => assert.ok(Math.abs(l - reference.losses[k]) <= 1e-5 * reference.losses[k], `${devices.join(',')} step ${k}: ${l} vs ${reference.losses[k]}`));
      const close = (a: torch.Tensor, b: torch.Tensor) => maxDiff([a], [b]) <= 1e-5 * Math.max(1, torch.tidy(() => b.abs().max().item() as number));
      reference.params.forEach((p, k) => {
        if (BERT_NAMES[k].endsWith('W_k.bias')) return;  // true gradient 0: Adam moves it by rounding noise
        assert.ok(close(fused.params[k], p), `${devices.join(',')} ${BERT_NAMES[k]}: ${maxDiff([fused.params[k]], [p])}`);
      });
      // the last step's gradients, dense (the embeddings' rows summed), as the reference's
      reference.grads.forEach((g, k) => {
        assert.equal(fused.grads[k].data().length, g.numel, `${BERT_NAMES[k]}: a dense gradient`);
        assert.ok(close(fused.grads[k], g), `${devices.join(',')} ${BERT_NAMES[k]}.grad: ${maxDiff([fused.grads[k]], [g])}`);
      });
      torch.dispose([...reference.params, ...reference.grads, ...fused.params, ...fused.grads]);
    }
  });

  it("the embeddings' dense gradients kept from step to step: steps on other tokens, a gradient changed in place from JS, and one held across a step, as the 'reference' kernels' fresh ones (1e-5), on one replica and on two", async () => {
    // each step draws its tokens from another range of the vocabulary, so that the rows the last
    // step wrote are not the ones this step writes; after step 2 the token embedding's gradient
    // is filled in place from JS (the kept tensor must then be zeroed whole, not row by row)
    const ranges: [number, number][] = [[0, 12], [12, 25], [25, 38], [38, 50], [5, 30], [0, 50]];
    const run = async (kernels: 'fused' | 'reference', devices: torch.Device[]) => {
      torch.manualSeed(0);
      const bert = new BERTModel({ ...config, dropout: 0 });
      const net = new BERTClassifier(bert);
      const optimizer = new torch.optim.Adam(net.parameters(), { lr: 1e-3 });
      const trainer = new Trainer(net, optimizer, devices, undefined, { kernels, lengthGroups: { groups: 2, lengthsInput: 2, trimmedInputs: [0, 1] } });
      const tokenGrad = () => net.parameters()[BERT_NAMES.indexOf('encoder.token_embedding.weight')].grad!;
      torch.manualSeed(7);
      const losses: number[] = [];
      const grads: torch.Tensor[] = [];
      // a gradient kept from step 3 through step 4 (and its copy): the Trainer's gradients are set
      // to none before each step, so it must not change
      let held: [torch.Tensor, torch.Tensor] | null = null;
      for (let k = 0; k < ranges.length; ++k) {
        const batch = [torch.randint(ranges[k][0], ranges[k][1], [12, 20]), torch.zeros([12, 20], { dtype: 'int64' }), torch.randint(3, 21, [12]), torch.randint(0, 3, [12])];
        const { lossSum } = await trainer.step(batch.slice(0, 3), batch[3]);
        losses.push(lossSum);
        if (held) {
          assert.equal(maxDiff([held[0]], [held[1]]), 0, `${kernels}: a gradient held from the step before changed`);
          torch.dispose(held);
          held = null;
        }
        // each handle disposed at once, so that the kept tensor is the Trainer's alone again
        const grad = tokenGrad();
        grads.push(grad.clone());
        if (k === 2) grad.fill_(1);
        if (k === 3) held = [grad, grad.clone()];
        else grad.dispose();
        torch.dispose(batch);
      }
      const params = net.parameters().map((p) => p.detach().clone());
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      bert.dispose();
      return { losses, params, grads };
    };
    assert.ok(BERT_NAMES.includes('encoder.token_embedding.weight'), BERT_NAMES.join(', '));
    for (const devices of [['cpu'], ['cpu', 'cpu']] as torch.Device[][]) {
      const reference = await run('reference', devices);
      const fused = await run('fused', devices);
      const close = (a: torch.Tensor, b: torch.Tensor) => maxDiff([a], [b]) <= 1e-5 * Math.max(1, torch.tidy(() => b.abs().max().item() as number));
      fused.losses.forEach((l, k) => assert.ok(Math.abs(l - reference.losses[k]) <= 1e-5 * reference.losses[k], `${devices.join(',')} step ${k}: ${l} vs ${reference.losses[k]}`));
      fused.grads.forEach((g, k) => assert.ok(close(g, reference.grads[k]), `${devices.join(',')} step ${k} token gradient: ${maxDiff([g], [reference.grads[k]])}`));
      reference.params.forEach((p, k) => {
        if (BERT_NAMES[k].endsWith('W_k.bias')) return;  // true gradient 0: Adam moves it by rounding noise
        assert.ok(close(fused.params[k], p), `${devices.join(',')} ${BERT_NAMES[k]}: ${maxDiff([fused.params[k]], [p])}`);
      });
      torch.dispose([...reference.params, ...reference.grads, ...fused.params, ...fused.grads]);
    }
  });

  it('a batch smaller than the replica count trains only the replicas it reaches', async () => {
    // a full batch (every replica gets rows and gradients), then one row: the idle replicas must
    // add nothing, in particular not the gradients of the step before
    const run = async (devices: torch.Device[]) => {
      torch.manualSeed(0);
      const bert = new BERTModel({ ...config, dropout: 0 });
      const net = new BERTClassifier(bert);
      const [tokens, segments, validLens, labels] = [torch.randint(0, config.vocabSize, [9, 20]), torch.zeros([9, 20], { dtype: 'int64' }),
        torch.randint(3, 21, [9]), torch.randint(0, 3, [9])];
      const trainer = new Trainer(net, new torch.optim.SGD(net.parameters(), { lr: 0.1 }), devices);
      await trainer.step([tokens, segments, validLens], labels);
      const first = [tokens, segments, validLens, labels].map((t) => t.narrow(0, 0, 1));
      await trainer.step(first.slice(0, 3), first[3]);
      const params = net.parameters().map((p) => p.detach().clone());
      torch.dispose([tokens, segments, validLens, labels, ...first]);
      trainer.dispose();
      trainer.optimizer.dispose();
      net.dispose();
      bert.dispose();
      return params;
    };
    const one = await run(['cpu']);
    const three = await run(['cpu', 'cpu', 'cpu']);
    assert.ok(maxDiff(three, one) <= 1e-6, `${maxDiff(three, one)}`);
    torch.dispose([...one, ...three]);
  });

  it("startProfile / stopProfile: libtorch's profiler over the steps, a Chrome trace that summarizeProfile sums by operator", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-profile-'));
    torch.manualSeed(0);
    const bert = new BERTModel({ ...config, dropout: 0.1 });
    const net = new BERTClassifier(bert);
    const batch = [torch.randint(0, config.vocabSize, [8, 20]), torch.zeros([8, 20], { dtype: 'int64' }), torch.randint(3, 21, [8]), torch.randint(0, 3, [8])];
    const optimizer = new torch.optim.Adam(net.parameters(), { fused: true });
    const trainer = new Trainer(net, optimizer, ['cpu']);
    try {
      trainer.startProfile();
      assert.throws(() => trainer.startProfile(), /profiling already; call stopProfile\(\) first/);
      for (let k = 0; k < 2; ++k) await trainer.step(batch.slice(0, 3), batch[3]);
      const pending = trainer.step(batch.slice(0, 3), batch[3]);
      await assert.rejects(trainer.stopProfile(path.join(dir, 'early.json')), /Trainer.stopProfile: the Trainer is busy/);
      await pending;
      const file = path.join(dir, 'profile.json');
      await trainer.stopProfile(file);
      await assert.rejects(trainer.stopProfile(file), /not profiling; call startProfile\(\) first/);
      const trace = fs.readFileSync(file, 'utf8');
      const top = torch.summarizeProfile(trace, 3);
      const names = top.map((e) => e.name);
      // the default kernels: d2l's self-attention from the packed W_q, W_k, W_v product, and AddNorm, fused forward and backward
      const fused = ['torchbridge::fused_self_attention', 'torchbridge::fused_self_attention_backward', 'torchbridge::fused_add_norm', 'torchbridge::fused_add_norm_backward'];
      for (const op of ['aten::addmm', ...fused]) assert.ok(names.includes(op), `${op} in ${names.slice(0, 20).join(', ')}`);
      const addmm = top.find((e) => e.name === 'aten::addmm')!;
      // per step: 2 blocks x 4 linears of 3-d inputs (W_q, W_k and W_v as one), plus the hidden and output layers
      assert.equal(addmm.calls, 10);
      assert.equal(top.find((e) => e.name === 'torchbridge::fused_self_attention')!.calls, 2, 'one per block');
      assert.equal(top.find((e) => e.name === 'torchbridge::fused_add_norm')!.calls, 4, 'two per block');
      for (const op of ['aten::bmm', 'aten::native_layer_norm', 'torchbridge::fused_attention']) assert.ok(!names.includes(op), `${op} is left`);
      assert.ok(top.every((e) => e.selfMs >= 0 && e.selfMs <= e.totalMs + 1e-9));
      assert.ok(Math.abs(top.reduce((sum, e) => sum + e.percent, 0) - 100) < 1e-6);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['profile.json'], 'no temporary file left');
      assert.throws(() => torch.summarizeProfile('not json'), /the trace is not JSON/);
    } finally {
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      bert.dispose();
      torch.dispose(batch);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects unknown options', () => {
    const bert = new BERTModel({ ...config, dropout: 0 });
    const net = new BERTClassifier(bert);
    const optimizer = new torch.optim.Adam(net.parameters());
    assert.throws(() => new Trainer(net, optimizer, ['cpu'], undefined, { precision: 'fp8' as 'bf16' }), /precision must be 'float32' or 'bf16'/);
    assert.throws(() => new Trainer(net, optimizer, ['cpu'], undefined, { dropoutRng: 'mt' as 'pytorch' }), /dropoutRng must be 'philox' or 'pytorch'/);
    assert.throws(() => new Trainer(net, optimizer, ['cpu'], undefined, { kernels: 'fast' as 'fused' }), /Trainer: kernels must be 'fused' or 'reference'/);
    assert.throws(() => new Trainer(net, optimizer, ['cpu'], undefined, { lengthGroups: { groups: 0, lengthsInput: 2, trimmedInputs: [0] } }),
      /lengthGroups.groups must be at least 1/);
    optimizer.dispose();
    net.dispose();
    bert.dispose();
  });
});
