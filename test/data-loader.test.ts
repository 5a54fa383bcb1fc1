// DataLoader: batches of [inputs, labels] built with indexSelect, seeded shuffling (orders
// from an independent implementation of the documented generator in
// scripts/gen_d2l_data_fixtures.py), dropLast, prefetching and batch ownership.
import { strict as assert } from 'assert';

import { promises as fs } from 'fs';
import * as path from 'path';

import * as torch from '../lib';
import { BatchableDataset, DataLoader } from '../lib/data/data-loader';
import { readSnli } from '../lib/d2l/snli';
import { SNLIBERTDataset } from '../lib/d2l/snli-dataset';
import { Vocab } from '../lib/d2l/text';

const FIXTURES = path.join(__dirname, 'fixtures', 'd2l');

type Pair = readonly [features: torch.Tensor, ids: torch.Tensor];

// n examples whose rows say which example they are: features[i] = [3i, 3i+1, 3i+2] (float32),
// ids[i] = i (int64), labels[i] = 10 i (int64).
function numbered(n: number): BatchableDataset<Pair> & { dispose(): void } {
  const features = torch.tidy(() => torch.arange(3 * n, { dtype: 'float32' }).reshape([n, 3]));
  const ids = torch.arange(n);
  const labels = torch.tidy(() => torch.arange(n).mul(10));
  return { inputs: [features, ids], labels, dispose: () => torch.dispose([features, ids, labels]) };
}

// One epoch: the example ids of each batch, with every batch checked for consistency.
async function epochIds(loader: DataLoader<Pair>): Promise<number[][]> {
  const batches: number[][] = [];
  for await (const [[features, ids], labels] of loader) {
    const order = ids.toArray() as number[];
    assert.deepEqual(features.toArray(), order.map((i) => [3 * i, 3 * i + 1, 3 * i + 2]));
    assert.deepEqual(labels.toArray(), order.map((i) => 10 * i));
    batches.push(order);
  }
  return batches;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DataLoader', () => {
  let shuffles: { seed: number; n: number; orders: number[][] }[];

  before(async () => {
    shuffles = JSON.parse(await fs.readFile(path.join(FIXTURES, 'expected.json'), 'utf8')).shuffle;
  });

  it('batches SNLIBERTDataset into [[tokens, segments, validLens], labels] of int64', async () => {
    const vocab = await Vocab.load(path.join(FIXTURES, 'vocab.json'));
    const dataset = await SNLIBERTDataset.create(await readSnli(FIXTURES, true), 16, vocab, { log: null });
    const loader = new DataLoader(dataset, 4, { shuffle: true, seed: 1 });
    assert.equal(loader.length, 3);
    const shapes: number[][][] = [];
    for await (const [[tokens, segments, validLens], labels] of loader) {
      shapes.push([tokens.shape, segments.shape, validLens.shape, labels.shape]);
      for (const t of [tokens, segments, validLens, labels]) assert.equal(t.dtype, 'int64');
    }
    assert.deepEqual(shapes, [[[4, 16], [4, 16], [4], [4]], [[4, 16], [4, 16], [4], [4]], [[1, 16], [1, 16], [1], [1]]]);
    dataset.dispose();
  });

  it('visits every example exactly once per epoch, in order without shuffle', async () => {
    const data = numbered(10);
    assert.deepEqual(await epochIds(new DataLoader(data, 4)), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const shuffled = (await epochIds(new DataLoader(data, 3, { shuffle: true }))).flat();
    assert.deepEqual([...shuffled].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    data.dispose();
  });

  it('dropLast leaves out the short last batch', async () => {
    const data = numbered(10);
    const loader = new DataLoader(data, 4, { dropLast: true, shuffle: true, seed: 3 });
    assert.equal(loader.length, 2);
    const batches = await epochIds(loader);
    assert.deepEqual(batches.map((b) => b.length), [4, 4]);
    assert.equal(new Set(batches.flat()).size, 8);
    assert.equal(new DataLoader(data, 5, { dropLast: true }).length, 2);
    assert.equal(new DataLoader(data, 11, { dropLast: true }).length, 0);
    assert.equal(new DataLoader(data, 11).length, 1);
    data.dispose();
  });

  it('shuffles with the documented generator: the same seed gives the same orders in every run, epochs differ', async () => {
    for (const { seed, n, orders } of shuffles) {
      const data = numbered(n);
      const loader = new DataLoader(data, n, { shuffle: true, seed });
      const epochs = [];
      for (let e = 0; e < orders.length; ++e) epochs.push((await epochIds(loader)).flat());
      assert.deepEqual(epochs, orders, `seed ${seed}`);
      assert.notDeepEqual(epochs[0], epochs[1]);
      data.dispose();
    }
  });

  it('without a seed, each epoch and each loader has its own order', async () => {
    const data = numbered(50);
    const loader = new DataLoader(data, 7, { shuffle: true });
    const first = (await epochIds(loader)).flat();
    const second = (await epochIds(loader)).flat();
    const other = (await epochIds(new DataLoader(data, 7, { shuffle: true }))).flat();
    assert.notDeepEqual(first, second);
    assert.notDeepEqual(first, other);
    data.dispose();
  });

  it('builds the next batch while the consumer awaits, and owns and disposes every batch', async () => {
    const data = numbered(10);
    const base = torch.memory().liveTensors;
    const loader = new DataLoader(data, 3, { shuffle: true, seed: 5 });
    const live: number[] = [];
    for await (const batch of loader) {
      live.push(torch.memory().liveTensors - base);
      await tick();  // the consumer's asynchronous step: the next batch is built meanwhile
      live.push(torch.memory().liveTensors - base);
      assert.equal(batch[1].isDisposed, false);
    }
    // 3 tensors per batch: the current one, then the current and the prefetched one (none after the last).
    assert.deepEqual(live, [3, 6, 3, 6, 3, 6, 3, 3]);
    assert.equal(torch.memory().liveTensors, base, 'tensors left after a full epoch');
    data.dispose();
  });

  it('disposes the current and the prefetched batch when the loop is left early', async () => {
    const data = numbered(20);
    const base = torch.memory().liveTensors;
    const loader = new DataLoader(data, 4, { shuffle: true, seed: 6 });
    let seen = 0;
    let kept: torch.Tensor | undefined;
    for await (const [, labels] of loader) {
      await tick();
      if (++seen === 1) kept = labels.clone();
      if (seen === 2) break;
    }
    assert.equal(torch.memory().liveTensors, base + 1, 'only the clone may outlive the loop');
    kept!.dispose();

    await assert.rejects((async () => {
      for await (const batch of loader) {
        assert.ok(batch);
        throw new Error('step failed');
      }
    })(), /step failed/);
    assert.equal(torch.memory().liveTensors, base, 'tensors left after an exception in the loop');
    data.dispose();
  });

  it('rejects a bad batch size, seed or mismatched first dimensions', () => {
    const data = numbered(4);
    assert.throws(() => new DataLoader(data, 0), /batchSize must be a positive integer/);
    assert.throws(() => new DataLoader(data, 2, { seed: -1 }), /seed must be a non-negative safe integer/);
    const other = torch.zeros([3, 2]);
    assert.throws(() => new DataLoader({ inputs: [other], labels: data.labels }, 2), /inputs\[0\] has 3 rows but labels have 4/);
    other.dispose();
    data.dispose();
  });
});
