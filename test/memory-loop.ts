// Run as a child process by memory.test.ts (`node --expose-gc test/memory-loop.js NAME`): runs
// one loop in a fresh process, so that what earlier tests left in the heap does not blur RSS,
// and prints {tensors, rssMb} (growth over the measured iterations) as JSON.
import * as torch from '../lib';

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

const name = process.argv[2];
const loop = loops[name];
if (!loop) throw new Error(`memory-loop: unknown loop '${name}' (${Object.keys(loops).join(', ')})`);
measure(loop).then((growth) => process.stdout.write(JSON.stringify(growth)));
