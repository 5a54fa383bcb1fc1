// Map-style datasets against torch.utils.data: test/fixtures/optim/dataset.json is written by
// scripts/gen_dataset_fixtures.py (PyTorch 1.13 and 2.11 write the same file). randomSplit's
// subset sizes (fractions included) and error messages, TensorDataset's error, and
// default_collate's output structure, dtypes, shapes and values are PyTorch's; randomSplit's
// permutation is torchbridge's own generator's, so its subsets are checked for being a
// reproducible partition. DataLoader over a TensorDataset (or any Dataset) must give the rows the
// BatchableDataset path gives for the same seed, and leak no tensor.
import { strict as assert } from 'assert';
import { promises as fs } from 'fs';
import * as path from 'path';

import * as torch from '../lib';
import * as d2l from '../lib/d2l';
import { BatchableDataset, DataLoader, Dataset, Subset, Tensor, TensorDataset, defaultCollate, loadArray, randomSplit } from '../lib';
import { EXACT, TensorFixture, assertTensor, fromFixture } from './helpers';

const FIXTURE = path.join(__dirname, 'fixtures', 'optim', 'dataset.json');

type Sample =
  | { tensor: TensorFixture } | { int: number } | { float: number } | { bool: boolean } | { str: string }
  | { list: Sample[] } | { tuple: Sample[] } | { dict: Record<string, Sample> } | { none: null };
type Output = { tensor: TensorFixture } | { str: string } | { list: Output[] } | { dict: Record<string, Output> };

interface Fixtures {
  randomSplit: { n: number; lengths: number[]; sizes?: number[]; error?: string }[];
  tensorDataset: { sizeMismatch: string };
  collate: { name: string; batch: Sample[]; output?: Output; error?: string }[];
}

// A fixture sample as a JS value: Python ints as bigints (what collates to int64), floats as numbers.
function decode(sample: Sample): unknown {
  if ('tensor' in sample) return fromFixture(sample.tensor);
  if ('int' in sample) return BigInt(sample.int);
  if ('float' in sample) return sample.float;
  if ('bool' in sample) return sample.bool;
  if ('str' in sample) return sample.str;
  if ('list' in sample) return sample.list.map(decode);
  if ('tuple' in sample) return sample.tuple.map(decode);
  if ('dict' in sample) return Object.fromEntries(Object.entries(sample.dict).map(([k, v]) => [k, decode(v)]));
  return null;
}

function assertOutput(actual: unknown, expected: Output, what: string): void {
  if ('tensor' in expected) {
    assert.ok(actual instanceof Tensor, `${what}: a tensor`);
    assertTensor(actual, expected.tensor, EXACT, what);
  } else if ('str' in expected) {
    assert.equal(actual, expected.str, what);
  } else if ('list' in expected) {
    assert.ok(Array.isArray(actual), `${what}: an array`);
    assert.equal(actual.length, expected.list.length, `${what}: length`);
    expected.list.forEach((e, k) => assertOutput(actual[k], e, `${what}[${k}]`));
  } else {
    assert.ok(typeof actual === 'object' && actual !== null && !Array.isArray(actual), `${what}: an object`);
    assert.deepEqual(Object.keys(actual), Object.keys(expected.dict), `${what}: keys`);
    for (const [k, e] of Object.entries(expected.dict)) assertOutput((actual as Record<string, unknown>)[k], e, `${what}.${k}`);
  }
}

// n examples whose rows say which example they are: features[i] = [3i, 3i+1, 3i+2] (float32),
// ids[i] = i (int64), labels[i] = 10 i (int64); as the BatchableDataset test/data-loader.test.ts uses.
function numbered(n: number): { features: Tensor; ids: Tensor; labels: Tensor; dispose(): void } {
  const features = torch.tidy(() => torch.arange(3 * n, { dtype: 'float32' }).reshape([n, 3]));
  const ids = torch.arange(n);
  const labels = torch.tidy(() => torch.arange(n).mul(10));
  return { features, ids, labels, dispose: () => torch.dispose([features, ids, labels]) };
}

// The numbers of the tensors of each batch of one epoch, in order.
async function epochValues(loader: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  const values = (v: unknown): unknown => (v instanceof Tensor ? v.toArray() : Array.isArray(v) ? v.map(values) : v);
  for await (const batch of loader) out.push(values(batch));
  return out;
}

// A Dataset without getBatch, whose get() creates new tensors: the DataLoader collates them.
function rowsOf(data: { features: Tensor; ids: Tensor; labels: Tensor }): Dataset<[Tensor, Tensor, Tensor]> {
  return { length: data.ids.shape[0], get: (i) => [data.features.select(0, i), data.ids.select(0, i), data.labels.select(0, i)] };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('datasets (torch.utils.data)', () => {
  let fixtures: Fixtures;
  let liveBefore: number;

  before(async () => {
    fixtures = JSON.parse(await fs.readFile(FIXTURE, 'utf8')) as Fixtures;
    liveBefore = torch.memory().liveTensors;
  });

  describe('randomSplit', () => {
    const range = (n: number): Dataset<number> => ({ length: n, get: (i) => i });

    it("splits by PyTorch's lengths and fractions (sizes from PyTorch) into a partition of the examples", () => {
      for (const { n, lengths, sizes, error } of fixtures.randomSplit) {
        const what = `randomSplit(range(${n}), [${lengths.join(', ')}])`;
        if (error !== undefined) {
          assert.throws(() => randomSplit(range(n), lengths, { seed: 1 }), (e: Error) => e.message.includes(error), `${what} fails with ${error}`);
          continue;
        }
        const subsets = randomSplit(range(n), lengths, { seed: 1 });
        assert.deepEqual(subsets.map((s) => s.length), sizes, what);
        const seen = subsets.flatMap((s) => Array.from({ length: s.length }, (_, k) => s.get(k)));
        assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: n }, (_, k) => k), `${what}: a partition`);
        subsets.forEach((s) => assert.ok(s instanceof Subset));
      }
    });

    it('draws the same split for the same seed, another for another seed, and a random one without', () => {
      const data = range(50);
      const indices = (seed?: number) => randomSplit(data, [0.5, 0.5], seed === undefined ? null : { seed }).map((s) => [...s.indices]);
      assert.deepEqual(indices(7), indices(7));
      assert.notDeepEqual(indices(7), indices(8));
      assert.notDeepEqual(indices(), indices());
      assert.notDeepEqual(indices(7)[0], Array.from({ length: 25 }, (_, k) => k), 'shuffled');
    });

    it('refuses lengths that are not non-negative integers, a bad seed, and non-datasets', () => {
      assert.throws(() => randomSplit(range(5), [2.5, 2.5]), /lengths\[0\] is 2\.5; pass non-negative integer lengths, or fractions that sum to 1/);
      assert.throws(() => randomSplit(range(10), [-1, 11]), /lengths\[0\] is -1/);
      assert.throws(() => randomSplit(range(10), []), TypeError);
      assert.throws(() => randomSplit(range(10), [5, 5], { seed: -2 }), /seed must be a non-negative safe integer/);
      assert.throws(() => randomSplit([1, 2, 3] as unknown as Dataset<number>, [1, 2]), /expected a Dataset/);
    });
  });

  describe('TensorDataset and Subset', () => {
    it('holds tensors sharing their first dimension; get(i) is their rows', () => {
      const data = numbered(4);
      const dataset = new TensorDataset(data.features, data.ids);
      assert.equal(dataset.length, 4);
      torch.tidy(() => {
        const [x, id] = dataset.get(2);
        assert.deepEqual([x.toArray(), x.dtype, id.toArray(), id.dtype], [[6, 7, 8], 'float32', 2, 'int64']);
      });
      assert.throws(() => dataset.get(4), /index the number 4 is out of range for 4 examples \(0\.\.3\)/);
      assert.throws(() => dataset.get(-1), RangeError);
      const subset = new Subset(dataset, [3, 1]);
      torch.tidy(() => assert.deepEqual(subset.get(0)[0].toArray(), [9, 10, 11]));
      assert.throws(() => new Subset(dataset, [4]), /indices\[0\] = the number 4 is outside the dataset's 4 examples/);
      data.dispose();
      assert.equal(dataset.isDisposed, true);
    });

    it("refuses tensors of different first dimensions with PyTorch's message, and no or 0-dim tensors", () => {
      const a = torch.zeros([4, 2]);
      const b = torch.zeros([3]);
      const scalar = torch.tensor(1);
      assert.throws(() => new TensorDataset(a, b), (e: Error) => e.message.includes(fixtures.tensorDataset.sizeMismatch) &&
        e.message.includes('tensors[1] has 3 rows (size(0)), tensors[0] has 4'));
      assert.throws(() => new TensorDataset(), /at least one tensor/);
      assert.throws(() => new TensorDataset(a, scalar), /tensors\[1\] is 0-dimensional/);
      assert.throws(() => new TensorDataset(a, [1, 2] as unknown as Tensor), /argument 1 is an array of 2 elements, not a Tensor/);
      torch.dispose([a, b, scalar]);
    });

    it('fromArrays: float32 features; labels float32 when fractional, int64 or float32 only when asked, never guessed', () => {
      const live = torch.memory().liveTensors;
      const xs = [[1, 2], [3, 4.5], [5, 6]];
      const regression = TensorDataset.fromArrays(xs, [0.5, 1, 2]);
      assert.deepEqual(regression.tensors.map((t) => [t.dtype, t.shape]), [['float32', [3, 2]], ['float32', [3]]]);
      assert.throws(() => TensorDataset.fromArrays(xs, [0, 1, 2]), /every label is an integer: pass labelDtype: 'int64' for class indices/);
      const classes = TensorDataset.fromArrays(xs, [0, 2, 1], { labelDtype: 'int64' });
      assert.deepEqual([classes.tensors[1].dtype, classes.tensors[1].toArray()], ['int64', [0, 2, 1]]);
      const values = TensorDataset.fromArrays([1, 2, 3], [0, 2, 1], { labelDtype: 'float32', featureDtype: 'float64' });
      assert.deepEqual(values.tensors.map((t) => [t.dtype, t.shape]), [['float64', [3]], ['float32', [3]]]);
      assert.throws(() => TensorDataset.fromArrays(xs, [0, 1.5, 1], { labelDtype: 'int64' }), /labelDtype is 'int64' but label 1\.5 is not an integer/);
      assert.throws(() => TensorDataset.fromArrays(xs, [0.5, 1]), /Size mismatch between tensors: 3 feature rows but 2 labels/);
      assert.throws(() => TensorDataset.fromArrays([[1, 2], [3]], [0.5, 1]), /ragged/);
      assert.throws(() => TensorDataset.fromArrays(xs, ['a', 'b', 'c'] as unknown as number[]), /labels must be numbers/);
      for (const d of [regression, classes, values]) d.dispose();
      assert.equal(torch.memory().liveTensors, live, 'dispose() frees the tensors fromArrays made, failures leave none');
    });
  });

  describe('defaultCollate', () => {
    it("batches samples as torch's default_collate (structure, dtypes, shapes and values from PyTorch)", () => {
      for (const c of fixtures.collate) {
        const live = torch.memory().liveTensors;
        const samples = c.batch.map(decode);
        if (c.output !== undefined) {
          const out = defaultCollate(samples);
          assertOutput(out, c.output, c.name);
          torch.dispose(out);
        } else {
          const expected = c.name === 'none' ? 'batch must contain tensors' : c.error!;
          assert.throws(() => defaultCollate(samples), (e: Error) => e.message.includes(expected), `${c.name}: ${expected}`);
        }
        torch.dispose(samples);
        assert.equal(torch.memory().liveTensors, live, `${c.name}: no tensor left behind`);
      }
    });

    it('makes JS numbers float64 whether or not they are integral (bigints are int64), and names a mismatch', () => {
      torch.tidy(() => {
        const out = defaultCollate([[1, 2n, true, 'a'], [3, 4n, false, 'b']]);
        assert.deepEqual(out.slice(0, 3).map((t) => (t as Tensor).dtype), ['float64', 'int64', 'bool']);
        assert.deepEqual(out[3], ['a', 'b']);
      });
      assert.throws(() => defaultCollate([{ x: 1 }, { y: 2 }]), /sample 1 has no key 'x'/);
      assert.throws(() => defaultCollate([[1, 2], [3, 'b']]), /sample 1\[1\] is the string "b" but sample 0\[1\] is the number 2/);
      assert.throws(() => defaultCollate([null]), /batch must contain tensors, .* found null/);
      assert.throws(() => defaultCollate([]), /non-empty array/);
    });
  });

  describe('DataLoader over a Dataset', () => {
    it('a TensorDataset, and a Dataset with only get(), give the batches of the BatchableDataset path for the same seed', async () => {
      const data = numbered(23);
      const batchable: BatchableDataset<[Tensor, Tensor]> = { inputs: [data.features, data.ids], labels: data.labels };
      const tensors = new TensorDataset(data.features, data.ids, data.labels);
      for (const options of [{}, { shuffle: true, seed: 4 }, { shuffle: true, seed: 9, dropLast: true }]) {
        const expected = (await epochValues(new DataLoader(batchable, 5, options))).map((b) => {
          const [inputs, labels] = b as [unknown[], unknown];
          return [...inputs, labels];
        });
        assert.deepEqual(await epochValues(new DataLoader(tensors, 5, options)), expected, JSON.stringify(options));
        assert.deepEqual(await epochValues(new DataLoader(rowsOf(data), 5, options)), expected, `get() path, ${JSON.stringify(options)}`);
      }
      for await (const [x, id, y] of new DataLoader(rowsOf(data), 4, { shuffle: true, seed: 1 })) {
        assert.deepEqual([x.dtype, x.shape.length, id.dtype, y.dtype], ['float32', 2, 'int64', 'int64']);
      }
      data.dispose();
    });

    it('owns and disposes every batch (built while the consumer awaits), also when get() creates the tensors', async () => {
      const data = numbered(10);
      for (const dataset of [new TensorDataset(data.features, data.labels), { length: 10, get: (i: number) => [data.features.select(0, i), data.labels.select(0, i)] }]) {
        const base = torch.memory().liveTensors;
        const live: number[] = [];
        for await (const batch of new DataLoader(dataset, 3, { shuffle: true, seed: 5 })) {
          live.push(torch.memory().liveTensors - base);
          await tick();
          live.push(torch.memory().liveTensors - base);
          assert.equal(batch[0].isDisposed, false);
        }
        // 2 tensors per batch: the current one, then the current and the prefetched one (none after the last).
        assert.deepEqual(live, [2, 4, 2, 4, 2, 4, 2, 2]);
        assert.equal(torch.memory().liveTensors, base, 'tensors left after a full epoch');
        let seen = 0;
        for await (const batch of new DataLoader(dataset, 3, { shuffle: true })) {
          assert.ok(batch);
          await tick();
          if (++seen === 2) break;
        }
        assert.equal(torch.memory().liveTensors, base, 'tensors left after leaving the loop early');
      }
      data.dispose();
    });

    it('collates samples of plain objects, bigints and strings, and batches a randomSplit Subset', async () => {
      const data = numbered(12);
      const records: Dataset<{ x: Tensor; id: bigint; name: string }> = {
        length: 12,
        get: (i) => ({ x: data.features.select(0, i), id: BigInt(i), name: `example ${i}` }),
      };
      const [train, test] = randomSplit(records, [0.75, 0.25], { seed: 3 });
      const seen: number[] = [];
      for await (const { x, id, name } of new DataLoader(train, 4, { shuffle: true, seed: 2 })) {
        const ids = id.toArray() as number[];
        assert.equal(id.dtype, 'int64');
        assert.deepEqual(x.toArray(), ids.map((i) => [3 * i, 3 * i + 1, 3 * i + 2]));
        assert.deepEqual(name, ids.map((i) => `example ${i}`));
        seen.push(...ids);
      }
      assert.deepEqual(seen.sort((a, b) => a - b), [...train.indices].sort((a, b) => a - b));
      assert.equal(test.length, 3);
      const tensorSplit = randomSplit(new TensorDataset(data.features, data.ids), [8, 4], { seed: 3 })[1];
      for await (const [x, id] of new DataLoader(tensorSplit, 4)) {
        assert.deepEqual(id.toArray(), [...tensorSplit.indices]);
        assert.deepEqual(x.shape, [4, 3]);
      }
      data.dispose();
    });

    it("loadArray is d2l's load_array: a TensorDataset of the arrays, shuffled when training", async () => {
      const data = numbered(6);
      const inOrder = await epochValues(loadArray([data.ids, data.labels], 4, false));
      assert.deepEqual(inOrder, [[[0, 1, 2, 3], [0, 10, 20, 30]], [[4, 5], [40, 50]]]);
      const shuffled = (await epochValues(loadArray([data.ids, data.labels], 6, true, { seed: 1 }))) as number[][][];
      assert.deepEqual([...shuffled[0][0]].sort(), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(shuffled[0][1], shuffled[0][0].map((i) => 10 * i));
      assert.equal(d2l.loadArray, loadArray);
      assert.equal(d2l.TensorDataset, TensorDataset);
      data.dispose();
    });

    it('refuses what is neither a Dataset nor a BatchableDataset', () => {
      assert.throws(() => new DataLoader({ length: 3 } as unknown as Dataset<number>, 2), /dataset must be a Dataset \(length and get\(index\)/);
      assert.throws(() => new DataLoader(null as unknown as Dataset<number>, 2), TypeError);
      assert.throws(() => new DataLoader({ length: 2, get: (i: number) => i }, 0), /batchSize must be a positive integer/);
    });
  });

  describe('memory', () => {
    it('releases every tensor the tests above created', () => {
      assert.equal(torch.memory().liveTensors, liveBefore);
    });
  });
});
