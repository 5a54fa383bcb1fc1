// torchbridge-launch starts a job's processes with torchrun's environment, stops them all when
// one fails, and distributedEnv() reads that environment (as torchrun, Slurm scripts and
// Kubernetes' PyTorchJob set it), refusing what is missing or contradictory.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';

import { DistributedEnvError, distributedEnv } from '../lib/distributed/env';
import { parseLaunchArgs, workerEnv } from '../lib/cli/launch';

const LAUNCH = path.join(__dirname, '..', 'lib', 'launch.js');

function launch(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string; ms: number } {
  const start = Date.now();
  const r = spawnSync(process.execPath, [LAUNCH, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - start };
}

const PRINT_ENV = 'const e = process.env; console.log(JSON.stringify({ MASTER_ADDR: e.MASTER_ADDR, MASTER_PORT: e.MASTER_PORT, ' +
  'WORLD_SIZE: e.WORLD_SIZE, RANK: e.RANK, LOCAL_RANK: e.LOCAL_RANK, LOCAL_WORLD_SIZE: e.LOCAL_WORLD_SIZE }))';

describe('torchbridge-launch', function () {
  this.timeout(120_000);

  it('starts N processes with torchrun\'s variables, which distributedEnv() reads back', () => {
    const r = launch(['--nproc-per-node', '3', '--master-port', '29611', '--', process.execPath, '-e', PRINT_ENV]);
    assert.equal(r.status, 0, r.stderr);
    const seen = r.stdout.trim().split('\n').map((line) => JSON.parse(line)).sort((a, b) => Number(a.RANK) - Number(b.RANK));
    assert.deepEqual(seen.map((e) => distributedEnv(e)), [0, 1, 2].map((rank) => ({
      masterAddr: '127.0.0.1', masterPort: 29611, worldSize: 3, rank, localRank: rank, localWorldSize: 3,
    })));
  });

  it('on node 1 of 2, ranks continue from node 0\'s; the command may follow the options without --', () => {
    const plan = parseLaunchArgs(['--nnodes', '2', '--node-rank', '1', '--nproc-per-node', '2', '--master-addr', '10.0.0.5', 'node', 'lib/train.js', '--epochs', '1'])!;
    assert.equal(plan.command, 'node');
    assert.deepEqual(plan.args, ['lib/train.js', '--epochs', '1']);
    const env = workerEnv(plan, 1, {});
    assert.deepEqual(env, { MASTER_ADDR: '10.0.0.5', MASTER_PORT: '29500', WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' });
  });

  it('a failing rank stops the others at once; the launcher exits with its status', () => {
    const script = 'if (process.env.RANK === "1") setTimeout(() => process.exit(3), 300); else setTimeout(() => {}, 120000)';
    const r = launch(['--nproc-per-node', '3', '--', process.execPath, '-e', script]);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /torchbridge-launch: rank 1 \(pid \d+\) exited with status 3; stopping the other 2 process\(es\)/);
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
  });

  it('a rank that ignores SIGTERM is killed after the grace period', () => {
    const script = 'process.on("SIGTERM", () => {}); if (process.env.RANK === "0") setTimeout(() => process.exit(5), 300); else setInterval(() => {}, 1000)';
    const r = launch(['--nproc-per-node', '2', '--grace-period', '1', '--', process.execPath, '-e', script]);
    assert.equal(r.status, 5);
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
  });

  it('SIGTERM to the launcher reaches every process', async () => {
    const child = spawn(process.execPath, [LAUNCH, '--nproc-per-node', '2', '--', process.execPath, '-e', 'console.log("up"); setTimeout(() => {}, 120000)'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let up = 0;
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => {
      up += d.toString().split('up').length - 1;
      if (up === 2) resolve();
    }));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 143);
  });

  it('bad options and commands: exit 2 with one line, or 127 for a command that cannot start', () => {
    for (const [args, message] of [
      [['--nproc-per-node', '0', 'node'], /--nproc-per-node must be an integer of at least 1 and at most 1024, got "0"/],
      [['--node-rank', '2', '--nnodes', '2', 'node'], /--node-rank 2 is not below --nnodes 2 \(nodes are 0 to 1\)/],
      [['--master-port', '70000', 'node'], /--master-port must be an integer of at least 1 and at most 65535, got "70000"/],
      [['--nproc-per-node', '2'], /no command to launch: give it after the options/],
      [['--nproc', '2', 'node'], /unknown option --nproc/],
    ] as const) {
      const r = launch([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    const missing = launch(['--', '/nonexistent/command']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /rank 0 cannot start "\/nonexistent\/command": spawn \/nonexistent\/command ENOENT/);
    const help = launch(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: torchbridge-launch \[options\] \[--\] COMMAND/);
  });
});

describe("torchrun's environment contract, end to end", function () {
  this.timeout(180_000);
  const python = process.env.TORCHBRIDGE_PYTHON || '/usr/bin/python3';

  it('torchrun --no-python starts Node processes whose environment distributedEnv() reads (needs torch 2.x at TORCHBRIDGE_PYTHON)', function () {
    // Debian's own torchrun starts no worker (1.13: its rendezvous parsing breaks on Python 3.11;
    // 2.6: its static rendezvous wants a libuv store Debian lacks): the wheel's torch 2.11 has one that works
    const version = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    const debian = spawnSync(python, ['-c', 'import torch, sys; sys.exit(0 if "site-packages" in torch.__file__ else 1)']);
    if (version.status !== 0 || !/^2\./.test(version.stdout) || debian.status !== 0) {
      console.warn(`      skipped: ${python} has no working torchrun (torch ${version.stdout.trim() || 'missing'}; set TORCHBRIDGE_PYTHON to a pip torch 2.x)`);
      this.skip();
    }
    const r = spawnSync(python, ['-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-port', '29613', '--no-python',
      process.execPath, '-e', PRINT_ENV], { encoding: 'utf8', timeout: 150_000 });
    assert.equal(r.status, 0, r.stderr);
    const seen = r.stdout.trim().split('\n').filter((line) => line.startsWith('{')).map((line) => distributedEnv(JSON.parse(line))!).sort((a, b) => a.rank - b.rank);
    assert.deepEqual(seen, [0, 1].map((rank) => ({ masterAddr: '127.0.0.1', masterPort: 29613, worldSize: 2, rank, localRank: rank, localWorldSize: 2 })));
  });
});

describe('distributedEnv', () => {
  const job = { MASTER_ADDR: 'node0', MASTER_PORT: '29500', WORLD_SIZE: '4', RANK: '2', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '2' };

  it('reads torchrun\'s variables; none is a single process; the local pair defaults to one process per machine', () => {
    assert.deepEqual(distributedEnv(job), { masterAddr: 'node0', masterPort: 29500, worldSize: 4, rank: 2, localRank: 0, localWorldSize: 2 });
    assert.equal(distributedEnv({ PATH: '/usr/bin' }), undefined);
    const { LOCAL_RANK, LOCAL_WORLD_SIZE, ...pod } = job;  // Kubernetes' PyTorchJob: one process per pod
    void LOCAL_RANK;
    void LOCAL_WORLD_SIZE;
    assert.deepEqual(distributedEnv(pod), { masterAddr: 'node0', masterPort: 29500, worldSize: 4, rank: 2, localRank: 0, localWorldSize: 1 });
  });

  it('refuses missing, malformed and contradictory values, naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ RANK: '0' }, /sets RANK but not MASTER_ADDR, MASTER_PORT, WORLD_SIZE/],
      [{ ...job, RANK: '4' }, /RANK=4 is not below WORLD_SIZE=4 \(ranks are 0 to 3\)/],
      [{ ...job, RANK: '-1' }, /RANK="-1" is not an integer of at least 0/],
      [{ ...job, WORLD_SIZE: '0' }, /WORLD_SIZE="0" is not an integer of at least 1/],
      [{ ...job, MASTER_PORT: '65536' }, /MASTER_PORT="65536" is not an integer from 1 to 65535/],
      [{ ...job, MASTER_PORT: '29500x' }, /MASTER_PORT="29500x"/],
      [{ ...job, MASTER_ADDR: '' }, /MASTER_ADDR="" is not a host name or address/],
      [{ ...job, LOCAL_RANK: '2' }, /LOCAL_RANK=2 is not below LOCAL_WORLD_SIZE=2/],
      [{ ...job, LOCAL_WORLD_SIZE: '8' }, /LOCAL_WORLD_SIZE=8 is above WORLD_SIZE=4/],
      [(({ LOCAL_RANK, ...rest }) => (void LOCAL_RANK, rest))(job), /LOCAL_WORLD_SIZE is set but LOCAL_RANK is not; give both, or neither/],
    ];
    for (const [env, message] of cases) {
      assert.throws(() => distributedEnv(env), (e: Error) => e instanceof DistributedEnvError && message.test(e.message), JSON.stringify(env));
    }
  });
});
