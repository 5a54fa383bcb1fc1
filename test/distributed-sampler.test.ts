// DistributedSampler gives each rank PyTorch's shard (test/fixtures/data/distributed_sampler.json,
// scripts/gen_sampler_fixtures.py), randperm with a seed draws PyTorch's permutation, and a
// DataLoader with a sampler visits exactly the sampler's indices.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';

import * as torch from '../lib';
import { DistributedSampler } from '../lib/data/distributed-sampler';

interface SamplerCase {
  n: number;
  numReplicas: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  dropLast: boolean;
  ranks: { length: number; indices: number[] }[];
}
const fixture: { samplers: SamplerCase[]; randperm: { n: number; seed: number; perm: number[] }[] } =
  JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'data', 'distributed_sampler.json'), 'utf8'));

describe('DistributedSampler', () => {
  for (const c of fixture.samplers) {
    const name = `n ${c.n}, ${c.numReplicas} replicas, shuffle ${c.shuffle}, seed ${c.seed}, epoch ${c.epoch}, dropLast ${c.dropLast}`;
    it(`${name}: every rank's indices are PyTorch's`, () => {
      c.ranks.forEach((expected, rank) => {
        const s = new DistributedSampler(c.n, { numReplicas: c.numReplicas, rank, shuffle: c.shuffle, seed: c.seed, dropLast: c.dropLast });
        s.setEpoch(c.epoch);
        assert.equal(s.length, expected.length, `rank ${rank}: length`);
        assert.deepEqual(Array.from(s.indices()), expected.indices, `rank ${rank}`);
      });
    });
  }

  it('randperm with a seed is torch.randperm under a generator seeded so, and leaves the global generator alone', () => {
    for (const c of fixture.randperm) {
      torch.tidy(() => assert.deepEqual(torch.randperm(c.n, { seed: c.seed }).toArray(), c.perm, `n ${c.n}, seed ${c.seed}`));
    }
    torch.tidy(() => {
      torch.manualSeed(1);
      const a = torch.rand([3]).toArray();
      torch.manualSeed(1);
      torch.randperm(50, { seed: 9 });
      assert.deepEqual(torch.rand([3]).toArray(), a);
      assert.equal(torch.randperm(4, { dtype: 'int32' }).dtype, 'int32');
    });
    assert.throws(() => torch.randperm(-1), /n must be a non-negative integer, got the number -1/);
    assert.throws(() => torch.randperm(3, { seed: 0.5 }), /randperm: the seed must be/);
  });

  it('refuses a rank outside the world and missing options', () => {
    assert.throws(() => new DistributedSampler(10, { numReplicas: 2, rank: 2 }), /Invalid rank 2, rank should be in the interval \[0, 1\]/);
    assert.throws(() => new DistributedSampler(10, { numReplicas: 0, rank: 0 }), /numReplicas must be a positive integer, got the number 0/);
    assert.throws(() => new DistributedSampler(10, {} as { numReplicas: number; rank: number }), /numReplicas and options.rank are required/);
    assert.throws(() => new DistributedSampler(-1, { numReplicas: 1, rank: 0 }), /dataset length must be a non-negative integer/);
  });

  it('a DataLoader with a sampler visits the sampler\'s indices of each epoch; shuffle and a sampler are exclusive', async () => {
    const x = torch.arange(0, 10, 1, { dtype: 'float32' }).reshape([10, 1]);
    const y = torch.arange(0, 10, 1);
    const sampler = new DistributedSampler(10, { numReplicas: 3, rank: 1, seed: 5 });
    const loader = new torch.DataLoader({ inputs: [x], labels: y }, 2, { sampler });
    try {
      assert.equal(loader.length, 2);  // 4 indices in batches of 2
      for (const epoch of [0, 1]) {
        sampler.setEpoch(epoch);
        const seen: number[] = [];
        for await (const [, labels] of loader) seen.push(...(labels.toArray() as number[]));
        assert.deepEqual(seen, Array.from(sampler.indices()), `epoch ${epoch}`);
      }
      assert.throws(() => new torch.DataLoader({ inputs: [x], labels: y }, 2, { sampler, shuffle: true }), /sampler option is mutually exclusive with shuffle/);
      assert.throws(() => new torch.DataLoader({ inputs: [x], labels: y }, 2, { sampler: {} as DistributedSampler }), /sampler must have length and indices\(\)/);
      const liar = { length: 2, indices: () => Int32Array.of(0, 10) };
      const bad = new torch.DataLoader({ inputs: [x], labels: y }, 2, { sampler: liar });
      await assert.rejects((async () => {
        for await (const batch of bad) void batch;
      })(), /the sampler gave 2 indices \(its length says 2\), each must be in \[0, 10\)/);
    } finally {
      torch.dispose([x, y]);
    }
  });
});
