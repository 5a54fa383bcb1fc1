// Exact dynamic trimming (SNLIBERTDataset.trimBatch) and length bucketing in the DataLoader:
// trimmed batches give the classifier's padded outputs and gradients, bucketing visits every
// example once per epoch in batches of similar lengths.
import { strict as assert } from 'assert';
import * as path from 'path';

import * as torch from '../lib';
import { BERTClassifier } from '../lib/d2l/bert';
import { DataLoader } from '../lib/data/data-loader';
import { loadPretrainedModel } from '../lib/d2l/pretrained';
import { readSnli } from '../lib/d2l/snli';
import { SNLIBERTDataset } from '../lib/d2l/snli-dataset';
import { settledLiveTensors } from './helpers';

// test/fixtures/train: 40 real SNLI pairs and a small pretrained BERT (scripts/gen_train_fixtures.py)
const FIXTURE = path.join(__dirname, 'fixtures', 'train');
const SIZES = { numHiddens: 16, ffnNumHiddens: 32, numHeads: 4, numBlks: 2, dropout: 0, maxLen: 64 };

describe('trimming and bucketing', function () {
  this.timeout(60_000);
  let dataset: SNLIBERTDataset;
  let net: BERTClassifier;
  let disposeModel: () => void;

  before(async () => {
    const { bert, vocab } = await loadPretrainedModel(path.join(FIXTURE, 'pretrained'), SIZES);
    net = new BERTClassifier(bert);
    disposeModel = () => {
      net.dispose();
      bert.dispose();
    };
    // padded to the whole position table: most columns of every batch are padding
    dataset = await SNLIBERTDataset.create(await readSnli(path.join(FIXTURE, 'snli'), 'train'), 64, vocab, { log: null });
  });
  after(() => {
    dataset.dispose();
    disposeModel();
  });

  it('trimBatch cuts tokens and segments to the longest valid length and keeps validLens and labels', async () => {
    const lens = dataset.validLens.toArray() as number[];
    let k = 0;
    for await (const [[tokens, segments, validLens], labels] of new DataLoader(dataset, 8, { transform: SNLIBERTDataset.trimBatch })) {
      const longest = Math.max(...lens.slice(8 * k, 8 * k + 8));
      assert.deepEqual(tokens.shape, [8, longest]);
      assert.deepEqual(segments.shape, [8, longest]);
      assert.deepEqual(validLens.toArray(), lens.slice(8 * k, 8 * k + 8));
      assert.equal(labels.shape[0], 8);
      torch.tidy(() => {
        const padded = dataset.tokens.narrow(0, 8 * k, 8);
        assert.deepEqual(tokens.toArray(), padded.narrow(1, 0, longest).toArray());
        // what was cut is padding only
        assert.equal(padded.narrow(1, longest, 64 - longest).ne(dataset.vocab.get('<pad>')).sum().item(), 0);
      });
      ++k;
    }
    assert.equal(k, 5);
  });

  it('trimmed batches give the padded batches\' logits and gradients (within 1e-5)', async () => {
    net.train();
    const loss = new torch.nn.CrossEntropyLoss({ reduction: 'none' });
    const run = async (transform?: typeof SNLIBERTDataset.trimBatch) => {
      const logits: torch.Tensor[] = [];
      const grads: torch.Tensor[] = [];
      for await (const [[tokens, segments, validLens], labels] of new DataLoader(dataset, 8, { transform })) {
        net.zeroGrad({ setToNone: true });
        const out = net.forward(tokens, segments, validLens);
        torch.tidy(() => loss.forward(out, labels).sum().backward());
        logits.push(out.detach());
        out.dispose();
        grads.push(...net.parameters().map((p) => p.grad!.clone()));
      }
      return { logits, grads };
    };
    const padded = await run();
    const trimmed = await run(SNLIBERTDataset.trimBatch);
    torch.tidy(() => {
      padded.logits.forEach((want, k) => {
        const diff = trimmed.logits[k].sub(want).abs().max().item() as number;
        assert.ok(diff <= 1e-5 * Math.max(1, want.abs().max().item() as number), `batch ${k}: logits differ by ${diff}`);
      });
      padded.grads.forEach((want, k) => {
        const diff = trimmed.grads[k].sub(want).abs().max().item() as number;
        assert.ok(diff <= 1e-5 * Math.max(1, want.abs().max().item() as number), `gradient ${k}: differs by ${diff}`);
      });
    });
    torch.dispose([...padded.logits, ...padded.grads, ...trimmed.logits, ...trimmed.grads]);
    net.zeroGrad({ setToNone: true });
  });

  it('bucketing visits every example once per epoch in batches of similar lengths, reproducibly', async () => {
    const lengths = dataset.validLens.toArray() as number[];
    const epochs = async (seed: number) => {
      const loader = new DataLoader(dataset, 4, { shuffle: true, seed, bucket: { lengths, poolBatches: 10 } });
      const out: number[][][] = [];
      for (let e = 0; e < 2; ++e) {
        const batches: number[][] = [];
        for await (const [[, , validLens]] of loader) batches.push(validLens.toArray() as number[]);
        out.push(batches);
      }
      return out;
    };
    const [first, second] = await epochs(7);
    for (const epoch of [first, second]) {
      assert.equal(epoch.length, 10);
      // one pool of all 40 examples: sorted, so every batch holds 4 neighbours in length order
      assert.deepEqual(epoch.flat().sort((a, b) => a - b), [...lengths].sort((a, b) => a - b));
      const sortedBatches = [...epoch].sort((a, b) => a[0] - b[0]).flat();
      assert.deepEqual(sortedBatches, [...lengths].sort((a, b) => a - b));
    }
    assert.notDeepEqual(first, second, 'epochs visit the batches in different orders');
    assert.deepEqual(await epochs(7), [first, second], 'the same seed gives the same epochs');
  });

  it('rejects bucket lengths that do not match the examples', () => {
    assert.throws(() => new DataLoader(dataset, 4, { bucket: { lengths: [1, 2, 3] } }), /bucket\.lengths has 3 entries for 40 examples/);
    assert.throws(() => new DataLoader(dataset, 4, { bucket: { lengths: dataset.validLens.toArray() as number[], poolBatches: 0 } }),
      /poolBatches must be a positive integer/);
  });

  it('a transform leaks nothing: what it does not return is disposed', async () => {
    const before = await settledLiveTensors();
    for (let e = 0; e < 3; ++e) {
      for await (const batch of new DataLoader(dataset, 8, { transform: SNLIBERTDataset.trimBatch })) assert.ok(batch);
    }
    assert.equal(await settledLiveTensors(), before);
  });
});
