// OpenMP teams (native/core/omp_pool.h): libgomp keeps a team of helper threads per OS thread
// that ran a parallel region, and throttles every team's spin-wait once their threads outnumber
// the cores (bert.small steps 30% slower here). So the JS thread gives its team back when it
// queues a Trainer step, and a Trainer's step thread gives its own back after 50 ms idle. This
// counts the process's threads (/proc/self/task) around those points: no timings.
import { strict as assert } from 'assert';
import * as fs from 'fs';

import * as torch from '../lib';
import { Trainer } from '../lib/trainer/trainer';

const threadCount = (): number => fs.readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls until `ok(threadCount())` (threads end asynchronously), at most 3 s; the last count.
// (`() => false` waits the 3 s.)
async function settle(ok: (n: number) => boolean): Promise<number> {
  let n = threadCount();
  for (let waited = 0; !ok(n) && waited < 3000; waited += 20) {
    await sleep(20);
    n = threadCount();
  }
  return n;
}

// A Trainer of a model whose step runs parallel regions (a 512 x 512 GEMM, elementwise ops on 256K elements).
function rig(): { trainer: Trainer; x: torch.Tensor; y: torch.Tensor; dispose(): void } {
  torch.manualSeed(0);
  const net = new torch.nn.Sequential(new torch.nn.Linear(512, 512), new torch.nn.ReLU(), new torch.nn.Linear(512, 512));
  const optimizer = new torch.optim.SGD(net.parameters(), { lr: 1e-3 });
  const trainer = new Trainer(net, optimizer, ['cpu'], new torch.nn.MSELoss());
  const x = torch.randn([512, 512]);
  const y = torch.randn([512, 512]);
  return {
    trainer, x, y,
    dispose() {
      trainer.dispose();
      optimizer.dispose();
      net.dispose();
      torch.dispose([x, y]);
    },
  };
}

describe('OpenMP teams: the JS thread and idle Trainers give theirs back', function () {
  this.timeout(60_000);

  beforeEach(function () {
    if (torch.getNumThreads() < 2) this.skip();  // one thread: no teams at all
  });

  it('a parallel op on the JS thread adds a team; queueing a Trainer step gives it back', async () => {
    const r = rig();
    try {
      await r.trainer.step([r.x], r.y);  // the step thread, libuv's pool: all started
      const before = await settle(() => false);  // 3 s: every idle team ended
      const big = torch.ones([1 << 22]);
      big.mul(3).sum().dispose();  // parallel on the JS thread: a team of its own
      big.dispose();
      const withJsTeam = threadCount();
      assert.ok(withJsTeam >= before + torch.getNumThreads() - 1, `the JS thread's parallel op added no team: ${before} threads before, ${withJsTeam} after`);
      await r.trainer.step([r.x], r.y);
      const after = await settle((n) => n <= before);
      assert.equal(after, before, `${after} threads after the step, ${before} before the JS thread's team: the JS thread kept it`);
    } finally {
      r.dispose();
    }
  });

  it('a Trainer\'s step thread gives its team back when idle', async () => {
    const first = rig();
    const second = rig();
    try {
      await first.trainer.step([first.x], first.y);  // gives back the JS thread's team, if any
      await settle(() => false);
      const before = threadCount();  // both step threads exist; no team
      await second.trainer.step([second.x], second.y);
      const after = await settle((n) => n <= before);
      assert.equal(after, before, `${after} threads 3 s after the second Trainer's step, ${before} before it: its idle step thread kept its team`);
    } finally {
      first.dispose();
      second.dispose();
    }
  });
});
