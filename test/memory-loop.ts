// Run as a child process by memory.test.ts (`node --expose-gc test/memory-loop.js NAME`): runs
// one loop in a fresh process, so that what earlier tests left in the heap does not blur RSS,
// and prints {tensors, rssMb} (growth over the measured iterations) as JSON.
import * as torch from '../lib';
import { BERTClassifier, BERTModel } from '../lib/d2l/bert';
import { DataLoader } from '../lib/data/data-loader';
import { SNLIBERTDataset } from '../lib/d2l/snli-dataset';

const ITERATIONS = 100_000;

// Collects garbage and lets Node run the finalizers it defers to the event loop, then reads RSS (MB).
async function settle(): Promise<number> {
  for (let k = 0; k < 3; ++k) {
    global.gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().rss / 2 ** 20;
}

// Runs `count` steps, yielding to the event loop every 1000 as any real loop does: Node defers
// the finalizers of collected handle objects to the event loop, so a loop that never yields
// piles them up (and grows the V8 heap) even though every tensor was disposed.
async function run(step: () => void, count: number): Promise<void> {
  for (let k = 0; k < count; ++k) {
    step();
    if (k % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
}

// Warms up the V8 heap and the allocator's arenas (RSS grows by tens of MB over the first tens of
// thousands of steps, then stays flat) until a chunk of 10,000 steps grows RSS by less than 1 MB, then runs ITERATIONS steps and returns the
// growth of the live tensor count and of RSS (MB) over those.
async function measure(step: () => void): Promise<{ tensors: number; rssMb: number }> {
  let previous = await settle();
  for (let chunk = 0; chunk < 40; ++chunk) {
    await run(step, 10_000);
    const now = await settle();
    if (now - previous < 1) break;
    previous = now;
  }
  const tensors = torch.memory().liveTensors;
  const rss = await settle();
  await run(step, ITERATIONS);
  return { tensors: torch.memory().liveTensors - tensors, rssMb: (await settle()) - rss };
}

const loops: Record<string, () => void> = {
  // create/compute/dispose by hand
  dispose: () => {
    const a = torch.randn([16, 16]);
    const m = a.matmul(a);
    const b = m.relu();
    const c = b.sum();
    c.item();
    for (const t of [a, m, b, c]) t.dispose();
  },
  // the same kind of work, released by tidy(), with autograd
  tidy: () => {
    torch.tidy(() => {
      const x = torch.ones([8, 8], { requiresGrad: true });
      const y = x.mul(x).add(1).log().mean();
      y.backward();
      return x.grad!.sum().item();
    });
  },
};

const TRAINER_STEPS = 1000;

// train.js's path on a small BERT: a DataLoader of trimmed batches (random lengths), the Trainer on
// [cpu, cpu] with length groups and Philox dropout, Adam. Warms up until 200 steps grow RSS by
// less than 1 MB, then returns the growth over TRAINER_STEPS more.
async function measureTrainer(): Promise<{ tensors: number; rssMb: number }> {
  torch.manualSeed(0);
  const n = 256;
  const tokens = torch.randint(5, 100, [n, 32]);
  const segments = torch.zeros([n, 32], { dtype: 'int64' });
  const validLens = torch.randint(3, 33, [n]);
  const labels = torch.randint(0, 3, [n]);
  const bert = new BERTModel({ vocabSize: 100, numHiddens: 32, ffnNumHiddens: 64, numHeads: 4, numBlks: 2, dropout: 0.1, maxLen: 32 });
  const net = new BERTClassifier(bert);
  const trainer = new torch.Trainer(net, new torch.optim.Adam(net.parameters(), { lr: 1e-3 }), ['cpu', 'cpu'], undefined, {
    lengthGroups: { groups: 4, lengthsInput: 2, trimmedInputs: [0, 1] },
  });
  const loader = new DataLoader({ inputs: [tokens, segments, validLens], labels }, 16, { shuffle: true, seed: 1, transform: SNLIBERTDataset.trimBatch });
  const steps = async (count: number) => {
    for (let done = 0; done < count;) {
      for await (const [inputs, y] of loader) {
        await trainer.step(inputs, y);
        if (++done === count) break;
      }
    }
  };
  let previous = await settle();
  for (let chunk = 0; chunk < 20; ++chunk) {
    await steps(200);
    const now = await settle();
    if (now - previous < 1) break;
    previous = now;
  }
  const before = torch.memory().liveTensors;
  const rss = await settle();
  await steps(TRAINER_STEPS);
  return { tensors: torch.memory().liveTensors - before, rssMb: (await settle()) - rss };
}

const name = process.argv[2];
if (name === 'trainer') {
  measureTrainer().then((growth) => process.stdout.write(JSON.stringify(growth)));
} else {
  const loop = loops[name];
  if (!loop) throw new Error(`memory-loop: unknown loop '${name}' (${['trainer', ...Object.keys(loops)].join(', ')})`);
  measure(loop).then((growth) => process.stdout.write(JSON.stringify(growth)));
}
