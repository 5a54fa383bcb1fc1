// Training across processes on c10d (Gloo), on 127.0.0.1 only: ranks started as separate
// processes with the launch environment (torchrun's contract) train test/distributed/train-rank.ts's
// model to the parameters of one process on the whole global batch; a Python rank running
// PyTorch's own DistributedDataParallel shares a group with a Node rank in lockstep; a rank that
// dies or never comes ends the others within the timeout, with the message.
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';
import { PYTHON, freePort, pythonHasTorch } from './helpers';

const RANK_SCRIPT = path.join(__dirname, 'distributed', 'train-rank.js');
const PYTHON_RANK = path.join(__dirname, 'distributed', 'python_ddp_rank.py');
const LAUNCH = path.join(__dirname, '..', 'lib', 'launch.js');

interface RankResult {
  rank: number;
  losses: number[];
  params: number[][];
  evalCorrect: number;
  evalCount: number;
}

interface Exit {
  status: number | null;
  stderr: string;
  ms: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Exit> {
  const start = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr, ms: Date.now() - start });
    });
  });
}

// The launch environment of rank `rank` of `worldSize`, everything on the loopback interface.
function rankEnv(port: number, rank: number, worldSize: number, config: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TB_RANK_CONFIG: config, GLOO_SOCKET_IFNAME: 'lo' };
  for (const name of ['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'TORCHELASTIC_USE_AGENT_STORE']) delete env[name];
  if (worldSize === 0) return env;  // the single-process reference
  return { ...env, MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: String(worldSize), RANK: String(rank),
    LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(worldSize) };
}

describe('distributed training (c10d Gloo, 127.0.0.1)', function () {
  this.timeout(180_000);
  let dir: string;
  let dataFile: string;
  const STEPS = 4;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-ddp-'));
    dataFile = path.join(dir, 'data.json');
    torch.manualSeed(0);
    const inputs: number[][][] = [];
    const labels: number[][] = [];
    for (let step = 0; step < STEPS; ++step) {
      torch.tidy(() => {
        inputs.push(torch.randn([12, 8]).toArray() as number[][]);
        labels.push(torch.randint(0, 3, [12]).toArray() as number[]);
      });
    }
    fs.writeFileSync(dataFile, JSON.stringify({ inputs, labels }));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function config(name: string, extra: Record<string, unknown> = {}): { file: string; out: (rank: number) => string } {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ data: dataFile, steps: STEPS, reduction: 'none', timeoutMs: 30_000, out: path.join(dir, `${name}-out-%RANK%.json`), ...extra }));
    return { file, out: (rank) => path.join(dir, `${name}-out-%RANK%.json`).replace('%RANK%', String(rank)) };
  }

  async function train(name: string, worldSize: number, extra: Record<string, unknown> = {}, python: number[] = []): Promise<{ exits: Exit[]; results: (RankResult | undefined)[] }> {
    const c = config(name, extra);
    const port = await freePort();
    const ranks = worldSize === 0 ? [0] : [...Array(worldSize).keys()];
    const exits = await Promise.all(ranks.map((rank) => {
      const env = rankEnv(port, rank, worldSize, c.file);
      // USE_LIBUV=0: Debian's torch 2.6 has no libuv store, which its env:// rendezvous asks for by default
      return python.includes(rank) ? run(PYTHON, [PYTHON_RANK], { ...env, USE_LIBUV: '0' }, 120_000) : run(process.execPath, [RANK_SCRIPT], env, 120_000);
    }));
    const results = ranks.map((rank) => (fs.existsSync(c.out(rank)) ? JSON.parse(fs.readFileSync(c.out(rank), 'utf8')) as RankResult : undefined));
    return { exits, results };
  }

  function assertOk({ exits, results }: { exits: Exit[]; results: (RankResult | undefined)[] }): RankResult[] {
    const stderr = exits.map((e, rank) => `rank ${rank} (status ${e.status}): ${e.stderr}`).join('\n');
    exits.forEach((e, rank) => assert.equal(e.status, 0, `rank ${rank} failed:\n${stderr}`));
    return results.map((r, rank) => {
      assert.ok(r, `rank ${rank} wrote no result`);
      return r;
    });
  }

  // |a - b| / |b - initial| over every parameter: the error relative to the update.
  function relativeUpdateError(a: number[][], b: number[][], initial: number[][]): number {
    let diff = 0;
    let update = 0;
    a.forEach((p, k) => p.forEach((x, i) => {
      diff += (x - b[k][i]) ** 2;
      update += (b[k][i] - initial[k][i]) ** 2;
    }));
    return Math.sqrt(diff / update);
  }

  let reference: RankResult;
  let initial: number[][];

  before(async function () {
    reference = assertOk(await train('reference', 0))[0];
    const init = assertOk(await train('initial', 0, { steps: 0 }))[0];
    initial = init.params;
  });

  for (const worldSize of [2, 3]) {
    it(`${worldSize} ranks reach the parameters of one process on the global batch (summed loss, gradients summed)`, async () => {
      const ranks = assertOk(await train(`sum-${worldSize}`, worldSize));
      for (const r of ranks) {
        const err = relativeUpdateError(r.params, reference.params, initial);
        assert.ok(err < 1e-5, `rank ${r.rank}: relative update error ${err}`);
        assert.deepEqual(r.params, ranks[0].params, `rank ${r.rank}'s parameters differ from rank 0's`);
        assert.equal(r.evalCount, 12);
        assert.equal(r.evalCorrect, reference.evalCorrect);
      }
      // the ranks' losses add up to the whole batch's, step by step
      for (let step = 0; step < STEPS; ++step) {
        const sum = ranks.reduce((s, r) => s + r.losses[step], 0);
        assert.ok(Math.abs(sum - reference.losses[step]) <= 1e-5 * Math.abs(reference.losses[step]), `step ${step}: ${sum} vs ${reference.losses[step]}`);
      }
    });
  }

  it("a mean loss with DDP's averaged gradients matches one process's mean over equal shards", async () => {
    const meanReference = assertOk(await train('mean-reference', 0, { reduction: 'mean' }))[0];
    const ranks = assertOk(await train('mean-2', 2, { reduction: 'mean' }));
    for (const r of ranks) {
      const err = relativeUpdateError(r.params, meanReference.params, initial);
      assert.ok(err < 1e-5, `rank ${r.rank}: relative update error ${err}`);
    }
  });

  it("a Python rank running PyTorch's DistributedDataParallel trains in lockstep with a Node rank", async function () {
    if (!pythonHasTorch()) this.skip();
    // stock DDP averages the ranks' gradients of d2l's summed loss: the Node rank does the same
    const node = assertOk(await train('lockstep-node', 2, { gradientReduction: 'mean' }));
    const mixed = assertOk(await train('lockstep-mixed', 2, { gradientReduction: 'mean' }, [1]));
    for (const rank of [0, 1]) {
      const a = mixed[rank];
      const b = node[rank];
      a.losses.forEach((loss, step) => assert.ok(Math.abs(loss - b.losses[step]) <= 1e-5 * Math.abs(b.losses[step]),
        `rank ${rank} step ${step}: loss ${loss} with a Python rank, ${b.losses[step]} with Node ranks`));
      const err = relativeUpdateError(a.params, b.params, initial);
      assert.ok(err < 1e-5, `rank ${rank}: relative update error ${err}`);
      assert.equal(a.evalCorrect, b.evalCorrect);
    }
    assert.ok(relativeUpdateError(mixed[1].params, mixed[0].params, initial) < 1e-6, 'the Python rank and the Node rank ended apart');
  });

  it('a rank that dies mid-training ends the other within the timeout, with the message', async () => {
    const { exits } = await train('dies', 2, { dieAfter: 2, timeoutMs: 60_000 });
    assert.equal(exits[1].status, 7);
    assert.equal(exits[0].status, 1, exits[0].stderr);
    assert.match(exits[0].stderr, /distributed: Trainer\.step failed on rank 0 of 2: /);
    assert.match(exits[0].stderr, /Another rank died, stopped, or issued other collectives/);
    assert.ok(exits[0].ms < 50_000, `rank 0 took ${exits[0].ms} ms to fail`);
  });

  it('ranks whose parameter shapes differ fail the start, and every later step says why', async () => {
    const lib = JSON.stringify(path.join(__dirname, '..', 'lib'));
    const script = `const torch = require(${lib});
      (async () => {
        const g = await torch.initProcessGroup({ timeoutMs: 20000 });
        const net = new torch.nn.Linear(4, g.rank === 0 ? 2 : 3);
        const trainer = new torch.Trainer(net, new torch.optim.SGD(net.parameters(), { lr: 0.1 }), ['cpu'], undefined, { processGroup: g });
        const x = torch.randn([2, 4]);
        const y = torch.tensor([0, 1], { dtype: 'int64' });
        const queued = trainer.step([x], y);
        const lines = [];
        for (const p of [trainer.ready, queued]) await p.then(() => lines.push('resolved'), (e) => lines.push(e.message.split('\\n')[0]));
        await trainer.step([x], y).then(() => lines.push('resolved'), (e) => lines.push(e.message.split('\\n')[0]));
        console.error(JSON.stringify(lines));
        process.exit(0);
      })();`;
    const port = await freePort();
    const exits = await Promise.all([0, 1].map((rank) => run(process.execPath, ['-e', script], rankEnv(port, rank, 2, ''), 60_000)));
    exits.forEach((e, rank) => {
      assert.equal(e.status, 0, e.stderr);
      const [ready, queued, idle] = JSON.parse(e.stderr.trim().split('\n').pop()!) as string[];
      assert.match(ready, new RegExp(`distributed: the Trainer's start \\(parameters broadcast from rank 0\\) failed on rank ${rank} of 2`));
      for (const later of [queued, idle]) assert.equal(later, `Trainer: the distributed start failed, so the Trainer cannot step: ${ready}`);
    });
  });

  it('a rank that never comes ends the rendezvous after the timeout, naming the address', async () => {
    const c = config('alone', { timeoutMs: 2000 });
    const port = await freePort();
    const exit = await run(process.execPath, [RANK_SCRIPT], rankEnv(port, 0, 2, c.file), 60_000);
    assert.equal(exit.status, 1);
    assert.match(exit.stderr, new RegExp(`rank 0 of 2 could not (serve the rendezvous store on port ${port} and gather the other ranks|connect to every other rank \\(rendezvous at 127\\.0\\.0\\.1:${port}\\)) within 2 s`));
    assert.ok(exit.ms < 30_000, `took ${exit.ms} ms`);
  });

  it("torchrun --no-python starts the ranks end to end, on its agent's store (needs a pip torch 2.x at TORCHBRIDGE_PYTHON)", async function () {
    // Debian's own torchrun starts no worker (test/launch.test.ts): the wheel's does
    const pip = await run(PYTHON, ['-c', 'import torch, sys; sys.exit(0 if torch.__version__.startswith("2.") and "site-packages" in torch.__file__ else 1)'],
      process.env, 60_000);
    // a 1.x store client cannot talk to 2.x's store server (it resets the connection)
    if (pip.status !== 0 || !torch.version().libtorch.startsWith('2.')) this.skip();
    const c = config('torchrun');
    const port = await freePort();
    const exit = await run(PYTHON, ['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-addr', '127.0.0.1', '--master-port', String(port),
      '--no-python', process.execPath, RANK_SCRIPT], rankEnv(port, 0, 0, c.file), 150_000);
    assert.equal(exit.status, 0, exit.stderr);
    for (const rank of [0, 1]) {
      const r = JSON.parse(fs.readFileSync(c.out(rank), 'utf8')) as RankResult;
      assert.ok(relativeUpdateError(r.params, reference.params, initial) < 1e-5);
    }
  });

  it('torchbridge-launch starts the ranks end to end', async () => {
    const c = config('launched');
    const port = await freePort();
    const env = rankEnv(port, 0, 0, c.file);
    const exit = await run(process.execPath, [LAUNCH, '--nproc-per-node', '2', '--master-port', String(port), '--', process.execPath, RANK_SCRIPT], env, 120_000);
    assert.equal(exit.status, 0, exit.stderr);
    for (const rank of [0, 1]) {
      const r = JSON.parse(fs.readFileSync(c.out(rank), 'utf8')) as RankResult;
      assert.ok(relativeUpdateError(r.params, reference.params, initial) < 1e-5);
    }
  });
});
