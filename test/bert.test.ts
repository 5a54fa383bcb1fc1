/**
 * d2l's BERT (lib/d2l/bert) against PyTorch running d2l's own definitions: test/fixtures/bert/ is
 * written by scripts/gen_bert_fixtures.py (/usr/bin/python3 with torch 1.13), which copies
 * d2l's PyTorch classes, saves their weights with torch.save(model.state_dict()) and records
 * what they compute. Here the same weights are loaded with torch.load + loadStateDict.
 *
 * Whole models are compared with the tolerance, rtol 1e-4 / atol 1e-5 (here on CPU the
 * forward outputs come out bit-identical and the gradients within 4e-8, but another libtorch
 * build, thread count or device sums in another order through two blocks of attention, layer
 * norms and softmaxes); the single blocks, only a few ops deep, with the tighter float32 op
 * tolerance of ops.test.ts (rtol 1e-5 / atol 1e-6).
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as torch from '../lib';
import {
  AddNorm,
  BERTClassifier,
  BERTConfig,
  BERTModel,
  DotProductAttention,
  MultiHeadAttention,
  PositionWiseFFN,
  TransformerEncoderBlock,
} from '../lib/d2l/bert';
import { CrossEntropyLoss } from '../lib/nn/loss';
import { Module } from '../lib/nn/module';
import { Adam } from '../lib/optim';
import { PYTHON, TensorFixture, Tolerance, assertTensor, forwardTolerance, fromFixture, pythonHasTorch, tensorValues } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures', 'bert');
const SCRIPT = path.join(__dirname, '..', 'scripts', 'gen_bert_fixtures.py');

/** The tolerance for whole models (forward outputs, losses and gradients). */
const MODEL_TOLERANCE: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const BLOCK_TOLERANCE = forwardTolerance('float32');

interface BlockCase {
  name: string;
  type: 'DotProductAttention' | 'MultiHeadAttention' | 'AddNorm' | 'PositionWiseFFN' | 'TransformerEncoderBlock';
  args: Record<string, number | boolean>;
  /** A state dict file under blocks/, or null for a module without parameters. */
  weights: string | null;
  /** null: an absent valid_lens (Python's None). */
  inputs: (TensorFixture | null)[];
  output: TensorFixture;
}

interface Fixture {
  config: BERTConfig & { maxLen: number };
  inputs: Record<'tokens' | 'segments' | 'validLens' | 'validLensFloat' | 'predPositions' | 'labels', TensorFixture>;
  model: { encoded: TensorFixture; mlm: TensorFixture; nsp: TensorFixture; noValidLens: { encoded: TensorFixture; nsp: TensorFixture } };
  classifier: { logits: TensorFixture; losses: TensorFixture };
  trainSeeded: { seed: number; logits: TensorFixture };
  grads: { logits: TensorFixture; losses: TensorFixture; params: Record<string, TensorFixture>; bertNoGrad: string[] };
  blocks: BlockCase[];
  architectures: { config: BERTConfig; bert: [string, number[]][]; classifier: [string, number[]][] };
  repr: { classifier: string; bert: string };
  loadErrors: { config: BERTConfig; message: string }[];
}

const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'bert.json'), 'utf8')) as Fixture;
const config = fixture.config;
const noDropout: BERTConfig = { ...config, dropout: 0 };

/** The fixture inputs as tensors (the caller disposes them, e.g. inside tidy()). */
function inputs(): Record<keyof Fixture['inputs'], torch.Tensor> {
  const out = {} as Record<keyof Fixture['inputs'], torch.Tensor>;
  for (const [name, t] of Object.entries(fixture.inputs)) out[name as keyof Fixture['inputs']] = fromFixture(t);
  return out;
}

/** Loads a state dict file that torch.save wrote into `module` (strict) and returns the module. */
async function loadInto<T extends Module>(module: T, file: string): Promise<T> {
  const dict = await torch.load(file);
  try {
    module.loadStateDict(dict);
  } finally {
    torch.dispose(dict);
  }
  return module;
}

/** d2l's BERTModel with bert.pt's weights. */
function loadBert(modelConfig: BERTConfig = config): Promise<BERTModel> {
  return loadInto(new BERTModel(modelConfig), path.join(FIXTURES, 'bert.pt'));
}

/** BERTClassifier(bert) with classifier.pt's weights (bert's encoder and hidden are loaded through it). */
async function loadClassifier(modelConfig: BERTConfig = config): Promise<{ bert: BERTModel; net: BERTClassifier }> {
  const bert = new BERTModel(modelConfig);
  const net = await loadInto(new BERTClassifier(bert), path.join(FIXTURES, 'classifier.pt'));
  return { bert, net };
}

/** Parameter values by name, copied out (numbers, so they survive later updates). */
function snapshot(module: Module): Map<string, number[]> {
  return new Map(module.namedParameters().map(([name, p]) => [name, tensorValues(p)]));
}

function sameValues(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, k) => Object.is(x, b[k]));
}

// A d2l block of a fixture case, built with the case's constructor arguments.
function makeBlock(c: BlockCase): Module {
  const a = c.args as Record<string, never>;
  switch (c.type) {
    case 'DotProductAttention':
      return new DotProductAttention(a.dropout);
    case 'MultiHeadAttention':
      return new MultiHeadAttention(a.numHiddens, a.numHeads, a.dropout, { bias: a.bias, querySize: a.querySize });
    case 'AddNorm':
      return new AddNorm(a.normShape, a.dropout);
    case 'PositionWiseFFN':
      return new PositionWiseFFN(a.ffnNumHiddens, a.ffnNumOutputs);
    case 'TransformerEncoderBlock':
      return new TransformerEncoderBlock(a.numHiddens, a.ffnNumHiddens, a.numHeads, a.dropout, { useBias: a.useBias });
  }
}

describe('d2l BERT matches PyTorch running d2l\'s definitions (test/fixtures/bert)', function () {
  this.timeout(60_000);

  // The baseline is taken after the garbage of earlier test files is collected, so that a
  // collection during this suite cannot lower the count below it; the final count is taken
  // without collecting, so that a tensor this suite leaks shows.
  let liveBefore = 0;
  before(async () => {
    for (let k = 0, last = -1; k < 20 && torch.memory().liveTensors !== last; ++k) {
      last = torch.memory().liveTensors;
      global.gc?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    liveBefore = torch.memory().liveTensors;
  });

  describe('blocks (eval mode)', () => {
    for (const c of fixture.blocks) {
      it(`${c.name}: ${c.type}(${JSON.stringify(c.args)})`, async () => {
        const module = makeBlock(c);
        try {
          if (c.weights !== null) await loadInto(module, path.join(FIXTURES, 'blocks', c.weights));
          module.eval();
          torch.tidy(() => {
            const xs = c.inputs.map((t) => (t === null ? null : fromFixture(t)));
            const forward = module.forward as (...args: (torch.Tensor | null)[]) => torch.Tensor;
            assertTensor(forward.apply(module, xs), c.output, BLOCK_TOLERANCE, c.name);
          });
        } finally {
          module.dispose();
        }
      });
    }
  });

  describe('parity in eval mode (weights saved with torch.save(model.state_dict()))', () => {
    it('BERTModel: encoded output, mlm and nsp outputs (validLens float32 [batch], predPositions)', async () => {
      const bert = (await loadBert()).eval();
      try {
        torch.tidy(() => {
          const x = inputs();
          const out = bert.run(x.tokens, x.segments, x.validLensFloat, x.predPositions);
          assertTensor(out.encoded, fixture.model.encoded, MODEL_TOLERANCE, 'encoded');
          assert.ok(out.mlm !== null, 'mlm is computed when predPositions is given');
          assertTensor(out.mlm, fixture.model.mlm, MODEL_TOLERANCE, 'mlm');
          assertTensor(out.nsp, fixture.model.nsp, MODEL_TOLERANCE, 'nsp');
          // int64 valid lengths mask the same positions
          const again = bert.run(x.tokens, x.segments, x.validLens, x.predPositions);
          assertTensor(again.encoded, fixture.model.encoded, MODEL_TOLERANCE, 'encoded (int64 validLens)');
        });
      } finally {
        bert.dispose();
      }
    });

    it('BERTModel without validLens and predPositions: mlm is null (None), encoded and nsp equal', async () => {
      const bert = (await loadBert()).eval();
      try {
        torch.tidy(() => {
          const x = inputs();
          const out = bert.run(x.tokens, x.segments);
          assert.equal(out.mlm, null);
          assertTensor(out.encoded, fixture.model.noValidLens.encoded, MODEL_TOLERANCE, 'encoded');
          assertTensor(out.nsp, fixture.model.noValidLens.nsp, MODEL_TOLERANCE, 'nsp');
          assertTensor(bert.forward(x.tokens, x.segments), fixture.model.noValidLens.encoded, MODEL_TOLERANCE, 'forward()');
        });
      } finally {
        bert.dispose();
      }
    });

    it('BERTClassifier: logits and per-example CrossEntropyLoss(reduction=\'none\') losses', async () => {
      const { bert, net } = await loadClassifier();
      try {
        net.eval();
        torch.tidy(() => {
          const x = inputs();
          const logits = net.forward(x.tokens, x.segments, x.validLens);
          assertTensor(logits, fixture.classifier.logits, MODEL_TOLERANCE, 'logits');
          const losses = new CrossEntropyLoss({ reduction: 'none' }).forward(logits, x.labels);
          assertTensor(losses, fixture.classifier.losses, MODEL_TOLERANCE, 'losses');
        });
      } finally {
        net.dispose();
        bert.dispose();
      }
    });

    it('train mode after manualSeed draws the same dropout masks as PyTorch (dropout 0.2)', async () => {
      const { bert, net } = await loadClassifier();
      try {
        net.train();
        torch.tidy(() => {
          const x = inputs();
          torch.manualSeed(fixture.trainSeeded.seed);
          const logits = torch.noGrad(() => net.forward(x.tokens, x.segments, x.validLens));
          assertTensor(logits, fixture.trainSeeded.logits, MODEL_TOLERANCE, 'logits in train mode');
        });
      } finally {
        net.dispose();
        bert.dispose();
      }
    });
  });

  describe('gradients after one l.sum().backward() (train mode, dropout 0)', () => {
    it('every classifier parameter\'s gradient equals PyTorch\'s; the MaskLM and NextSentencePred parameters get none', async () => {
      const { bert, net } = await loadClassifier(noDropout);
      try {
        net.train();
        torch.tidy(() => {
          const x = inputs();
          const logits = net.forward(x.tokens, x.segments, x.validLens);
          assertTensor(logits, fixture.grads.logits, MODEL_TOLERANCE, 'logits');
          const l = new CrossEntropyLoss({ reduction: 'none' }).forward(logits, x.labels);
          assertTensor(l, fixture.grads.losses, MODEL_TOLERANCE, 'losses');
          l.sum().backward();
        });
        const named = net.namedParameters();
        assert.deepEqual(named.map(([name]) => name), Object.keys(fixture.grads.params), 'parameter names and order');
        for (const [name, p] of named) {
          const grad = p.grad;
          assert.ok(grad !== undefined, `${name}: no gradient`);
          assertTensor(grad, fixture.grads.params[name], MODEL_TOLERANCE, `gradient of ${name}`);
        }
        // (a gradient belongs to its parameter and is disposed with the module)
        const noGrad = bert.namedParameters().filter(([, p]) => p.grad === undefined).map(([name]) => name);
        assert.deepEqual(noGrad, fixture.grads.bertNoGrad, 'the BERTModel parameters without a gradient');
      } finally {
        net.dispose();
        bert.dispose();
      }
    });
  });

  describe('state dicts', () => {
    it('stateDict() names and shapes are exactly d2l\'s BERTModel and BERTClassifier (bert.small configuration)', () => {
      const bert = new BERTModel(fixture.architectures.config);
      const net = new BERTClassifier(bert);
      try {
        for (const [what, module, expected] of [['BERTModel', bert, fixture.architectures.bert], ['BERTClassifier', net,
          fixture.architectures.classifier]] as const) {
          const state = module.stateDict();
          try {
            assert.deepEqual([...state].map(([name, t]) => [name, t.shape]), expected, `${what} state_dict() keys and shapes`);
          } finally {
            torch.dispose(state);
          }
          // no buffers: the parameters are the state
          assert.deepEqual(module.namedParameters().map(([name]) => name), expected.map(([name]) => name), `${what} parameters`);
        }
      } finally {
        net.dispose();
        bert.dispose();
      }
    });

    it('loads what torch.save(model.state_dict()) wrote, into the same values', async () => {
      const bert = await loadBert();
      try {
        const saved = await torch.load(path.join(FIXTURES, 'bert.pt'));
        try {
          const state = bert.stateDict();
          try {
            assert.deepEqual([...state.keys()], [...saved.keys()]);
            for (const [name, t] of state) assert.ok(sameValues(tensorValues(t), tensorValues(saved.get(name)!)), name);
          } finally {
            torch.dispose(state);
          }
        } finally {
          torch.dispose(saved);
        }
      } finally {
        bert.dispose();
      }
    });

    for (const [k, c] of fixture.loadErrors.entries()) {
      const differs = Object.entries(c.config).filter(([key, v]) => config[key as keyof BERTConfig] !== v).map(([key, v]) => `${key} ${v}`);
      it(`bert.pt into a BERTModel of ${differs.join(', ')}: an error naming every differing shape, as PyTorch's, and nothing copied`, async () => {
        const bert = new BERTModel(c.config);
        const dict = await torch.load(path.join(FIXTURES, 'bert.pt'));
        try {
          const before = snapshot(bert);
          assert.throws(() => bert.loadStateDict(dict), (e: Error) => {
            for (const line of c.message.split('\n')) assert.ok(e.message.includes(line.trim()), `missing: ${line}\nin: ${e.message}`);
            assert.equal(e.message, c.message, 'the whole message equals PyTorch\'s');
            return true;
          });
          const after = snapshot(bert);
          for (const [name, values] of before) assert.ok(sameValues(values, after.get(name)!), `${name} changed (case ${k})`);
        } finally {
          torch.dispose(dict);
          bert.dispose();
        }
      });
    }

    it('classifier.pt into a classifier over a BERTModel of maxLen 30: an error naming encoder.pos_embedding\'s shapes', async () => {
      const bert = new BERTModel({ ...config, maxLen: 30 });
      const net = new BERTClassifier(bert);
      const dict = await torch.load(path.join(FIXTURES, 'classifier.pt'));
      try {
        assert.throws(() => net.loadStateDict(dict), /size mismatch for encoder\.pos_embedding: copying a param with shape torch\.Size\(\[1, 20, 16\]\) from checkpoint, the shape in current model is torch\.Size\(\[1, 30, 16\]\)/);
      } finally {
        torch.dispose(dict);
        net.dispose();
        bert.dispose();
      }
    });

    describe('PyTorch loads our fine-tuned classifier (needs /usr/bin/python3 with torch; required when CI is set)', () => {
      before(function () {
        if (pythonHasTorch()) return;
        const reason = `${PYTHON} with torch is not available`;
        if (process.env.CI) throw new Error(`${reason}, and CI must run this check (apt-get install python3-torch)`);
        console.warn(`      skipped: ${reason}`);
        this.skip();
      });

      it('torch.save of our stateDict() after an Adam step loads into d2l\'s BERTClassifier (strict=True) and gives our logits', async () => {
        const { bert, net } = await loadClassifier();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-bert-'));
        const optimizer = new Adam(net.parameters(), { lr: 0.01 });
        try {
          net.train();
          torch.tidy(() => {
            const x = inputs();
            const l = new CrossEntropyLoss({ reduction: 'none' }).forward(net.forward(x.tokens, x.segments, x.validLens), x.labels);
            l.sum().backward();
          });
          optimizer.step();
          net.eval();
          const ours = torch.tidy(() => {
            const x = inputs();
            return tensorValues(net.forward(x.tokens, x.segments, x.validLens));
          });
          const file = path.join(dir, 'fine-tuned.pt');
          const state = net.stateDict();
          try {
            await torch.save(state, file);
          } finally {
            torch.dispose(state);
          }
          const run = spawnSync(PYTHON, [SCRIPT, 'check-classifier', file], { encoding: 'utf8' });
          assert.equal(run.status, 0, `PyTorch rejected the file:\n${run.stdout}${run.stderr}`);
          const theirs = (JSON.parse(run.stdout) as { logits: TensorFixture }).logits;
          // the step changed the logits: PyTorch reproduces the fine-tuned ones, not the fixture's
          assert.ok(!sameValues(ours, tensorValues(torch.tidy(() => fromFixture(fixture.classifier.logits)))), 'the step changed the logits');
          torch.tidy(() => assertTensor(torch.tensor(Float32Array.from(ours), { shape: [3, 3] }), theirs, MODEL_TOLERANCE, 'logits in PyTorch'));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
          optimizer.dispose();
          net.dispose();
          bert.dispose();
        }
      });
    });
  });

  describe('BERTClassifier(bert) shares bert\'s encoder and hidden parameters', () => {
    it('an optimizer step on the classifier updates bert\'s encoder and hidden (the same tensors), not mlm and nsp', async () => {
      const { bert, net } = await loadClassifier();
      const optimizer = new Adam(net.parameters(), { lr: 0.01 });
      try {
        const bertNames = bert.namedParameters().map(([name]) => name);
        const shared = bertNames.filter((name) => name.startsWith('encoder.') || name.startsWith('hidden.'));
        assert.deepEqual(net.namedParameters().map(([name]) => name), [...shared, 'output.weight', 'output.bias']);
        assert.equal(net.numParameters(), shared.reduce((n, name) => n + bert.namedParameters().find(([m]) => m === name)![1].numel, 0) + 16 * 3 + 3);

        const before = snapshot(bert);
        net.train();
        torch.tidy(() => {
          const x = inputs();
          new CrossEntropyLoss({ reduction: 'none' }).forward(net.forward(x.tokens, x.segments, x.validLens), x.labels).sum().backward();
        });
        optimizer.step();
        const after = snapshot(bert);
        const fromNet = snapshot(net);
        for (const name of bertNames) {
          const changed = !sameValues(before.get(name)!, after.get(name)!);
          if (shared.includes(name)) {
            assert.ok(changed, `${name}: the classifier's step did not reach bert`);
            assert.ok(sameValues(after.get(name)!, fromNet.get(name)!), `${name}: bert and the classifier hold different values`);
          } else {
            assert.ok(!changed, `${name}: not part of the classifier, yet it changed`);
          }
        }
        // and the other way round: writing through bert changes the classifier
        torch.noGrad(() => bert.namedParameters().find(([name]) => name === 'hidden.0.bias')![1].fill_(0.25));
        assert.ok(tensorValues(net.namedParameters().find(([name]) => name === 'hidden.0.bias')![1]).every((v) => v === 0.25));
      } finally {
        optimizer.dispose();
        net.dispose();
        bert.dispose();
      }
    });
  });

  describe('printing, clone(), train and eval modes', () => {
    it('toString() of BERTClassifier and BERTModel equals PyTorch\'s repr of d2l\'s modules', async () => {
      const { bert, net } = await loadClassifier();
      try {
        assert.equal(net.toString(), fixture.repr.classifier);
        assert.equal(bert.toString(), fixture.repr.bert);
      } finally {
        net.dispose();
        bert.dispose();
      }
    });

    it('clone() gives identical outputs and independent parameters', async () => {
      const { bert, net } = await loadClassifier();
      const copy = net.clone();
      const bertCopy = bert.clone();
      try {
        net.eval();
        copy.eval();
        bertCopy.eval();
        bert.eval();
        torch.tidy(() => {
          const x = inputs();
          assert.deepEqual(tensorValues(copy.forward(x.tokens, x.segments, x.validLens)),
            tensorValues(net.forward(x.tokens, x.segments, x.validLens)), 'classifier clone');
          const a = bert.run(x.tokens, x.segments, x.validLensFloat, x.predPositions);
          const b = bertCopy.forwardAll(x.tokens, x.segments, x.validLensFloat, x.predPositions);
          assert.deepEqual(tensorValues(b[0]!), tensorValues(a.encoded), 'BERTModel clone: encoded');
          assert.deepEqual(tensorValues(b[1]!), tensorValues(a.mlm!), 'BERTModel clone: mlm');
          assert.deepEqual(tensorValues(b[2]!), tensorValues(a.nsp), 'BERTModel clone: nsp');
        });
        assert.equal(copy.toString(), net.toString());
        assert.deepEqual(copy.namedParameters().map(([name]) => name), net.namedParameters().map(([name]) => name));
        // a copy, not a view: changing it leaves the original alone
        const before = snapshot(net);
        torch.noGrad(() => {
          for (const p of copy.parameters()) p.fill_(0);
        });
        const after = snapshot(net);
        for (const [name, values] of before) assert.ok(sameValues(values, after.get(name)!), `${name} changed with the clone`);
      } finally {
        copy.dispose();
        bertCopy.dispose();
        net.dispose();
        bert.dispose();
      }
    });

    it('train mode with dropout 0.2: outputs differ from eval and from each other; eval() restores the eval output', async () => {
      const { bert, net } = await loadClassifier();
      try {
        torch.tidy(() => {
          const x = inputs();
          const run = () => tensorValues(net.forward(x.tokens, x.segments, x.validLens));
          net.eval();
          assert.equal(net.training, false);
          const evalOut = run();
          net.train();
          assert.equal(net.training, true);
          assert.equal(bert.training, true, 'train() reaches the shared encoder');
          const a = run();
          const b = run();
          assert.ok(!sameValues(a, evalOut), 'dropout is active in train mode');
          assert.ok(!sameValues(a, b), 'each train-mode forward draws new dropout masks');
          net.eval();
          assert.deepEqual(run(), evalOut);
        });
      } finally {
        net.dispose();
        bert.dispose();
      }
    });

    it('train mode with dropout 0: outputs identical to eval mode', async () => {
      const { bert, net } = await loadClassifier(noDropout);
      try {
        torch.tidy(() => {
          const x = inputs();
          net.eval();
          const evalOut = tensorValues(net.forward(x.tokens, x.segments, x.validLens));
          net.train();
          assert.deepEqual(tensorValues(net.forward(x.tokens, x.segments, x.validLens)), evalOut);
        });
      } finally {
        net.dispose();
        bert.dispose();
      }
    });
  });

  describe('inputs', () => {
    it('a float64 model (dtype option) loads the float32 weights and computes the same logits', async () => {
      const bert = new BERTModel(config, { dtype: 'float64' });
      const net = await loadInto(new BERTClassifier(bert), path.join(FIXTURES, 'classifier.pt'));
      try {
        assert.ok(net.parameters().every((p) => p.dtype === 'float64'), 'the new output layer follows bert\'s dtype');
        net.eval();
        torch.tidy(() => {
          const x = inputs();
          const logits = net.forward(x.tokens, x.segments, x.validLens);
          assertTensor(logits.to('float32'), fixture.classifier.logits, MODEL_TOLERANCE, 'float64 logits');
        });
      } finally {
        net.dispose();
        bert.dispose();
      }
    });

    it('sequences longer than maxLen are an error naming the position table, not a crash', async () => {
      const bert = await loadBert();
      try {
        torch.tidy(() => {
          const tokens = torch.zeros([1, config.maxLen + 1], { dtype: 'int64' });
          assert.throws(() => bert.run(tokens, torch.zeros([1, config.maxLen + 1], { dtype: 'int64' })),
            new RegExp(`length ${config.maxLen + 1} exceed the position table \\(maxLen ${config.maxLen}\\)`));
        });
      } finally {
        bert.dispose();
      }
    });
  });

  describe('memory', () => {
    it('leaves no live tensors behind (every case above disposed what it created)', () => {
      assert.equal(torch.memory().liveTensors, liveBefore);
    });
  });
});
