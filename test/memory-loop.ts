// Run as a child process by memory.test.ts (`node --expose-gc test/memory-loop.js NAME`): runs
// one loop in a fresh process, so that what earlier tests left in the heap does not blur RSS,
// and prints {tensors, rssMb, windowsMb} (see Growth) as JSON.
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
// thousands of steps, then stays flat) until a chunk of 10,000 steps grows RSS by less than 1 MB,
// then runs ITERATIONS steps in WINDOWS windows and returns the growth of the live tensor count
// over all of them and the median RSS growth (MB) of a window.
async function measure(step: () => void): Promise<Growth> {
  let previous = await settle();
  for (let chunk = 0; chunk < 40; ++chunk) {
    await run(step, 10_000);
    const now = await settle();
    if (now - previous < 1) break;
    previous = now;
  }
  return windows(WINDOWS, (count) => run(step, count), ITERATIONS / WINDOWS);
}

// What the parent asserts: the live tensor count over all windows must not grow at all; RSS is
// judged by the median window. A leak grows every window by the same amount, while the
// allocator (glibc's per-thread arenas, libtorch's caches) grows RSS in occasional steps of a
// few MB that land in one window, so the median is a leak's rate without the allocator's jumps.
interface Growth {
  tensors: number;
  rssMb: number;
  windowsMb: number[];
}

const WINDOWS = 5;

async function windows(count: number, run: (steps: number) => Promise<void>, steps: number): Promise<Growth> {
  const tensors = torch.memory().liveTensors;
  const growths: number[] = [];
  let rss = await settle();
  for (let w = 0; w < count; ++w) {
    await run(steps);
    const now = await settle();
    growths.push(now - rss);
    rss = now;
  }
  const sorted = [...growths].sort((a, b) => a - b);
  return { tensors: torch.memory().liveTensors - tensors, rssMb: sorted[Math.floor(sorted.length / 2)], windowsMb: growths };
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
// less than 1 MB, then measures TRAINER_STEPS more in WINDOWS windows.
async function measureTrainer(): Promise<Growth> {
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
  return windows(WINDOWS, steps, TRAINER_STEPS / WINDOWS);
}

const name = process.argv[2];
if (name === 'trainer') {
  measureTrainer().then((growth) => process.stdout.write(JSON.stringify(growth)));
} else {
  const loop = loops[name];
  if (!loop) throw new Error(`memory-loop: unknown loop '${name}' (${['trainer', ...Object.keys(loops)].join(', ')})`);
  measure(loop).then((growth) => process.stdout.write(JSON.stringify(growth)));
}
