// The ProcessGroup API and the distributed Trainer's rules, in this process: a group of one rank
// on 127.0.0.1 (its own store and Gloo), where collectives return their input. The multi-rank
// behaviour is test/distributed.test.ts's.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import * as torch from '../lib';
import { DistributedEnvError, ProcessGroup, initProcessGroup } from '../lib';
import { freePort, settledLiveTensors } from './helpers';

async function soloGroup(): Promise<ProcessGroup> {
  const port = await freePort();
  const group = await initProcessGroup({
    env: { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: '1', RANK: '0', GLOO_SOCKET_IFNAME: 'lo' },
    timeoutMs: 20_000,
  });
  assert.ok(group);
  return group;
}

describe('ProcessGroup (one rank)', function () {
  this.timeout(60_000);
  let group: ProcessGroup;
  let start: number;

  before(async () => {
    start = await settledLiveTensors();
    group = await soloGroup();
  });
  after(async () => {
    group.dispose();
    assert.equal(await settledLiveTensors(), start, 'tensors left alive');
  });

  it('knows its rank, size, backend and timeout; no launch environment is no group', async () => {
    assert.equal(group.rank, 0);
    assert.equal(group.worldSize, 1);
    assert.equal(group.localRank, 0);
    assert.equal(group.localWorldSize, 1);
    assert.equal(group.backend, 'gloo');
    assert.equal(group.timeoutMs, 20_000);
    assert.equal(await initProcessGroup({ env: { PATH: '/usr/bin' } }), undefined);
  });

  it('libtorch 2.x: rank 0 serves the store on MASTER_ADDR alone, and says so when it cannot listen there', async function () {
    // 1.x's TCPStore server can only listen on every interface (README)
    if (!torch.version().libtorch.startsWith('2.')) this.skip();
    const port = await freePort();
    const listening = () => fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length > 3 && f[3] === '0A' && parseInt(f[1].split(':')[1], 16) === port).map((f) => f[1].split(':')[0]);
    const solo = await initProcessGroup({ env: { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), WORLD_SIZE: '1', RANK: '0', GLOO_SOCKET_IFNAME: 'lo' }, timeoutMs: 20_000 });
    try {
      assert.deepEqual(listening(), ['0100007F'], 'the store listens on 127.0.0.1 only');
    } finally {
      solo!.dispose();
    }
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding fails before any traffic
    await assert.rejects(initProcessGroup({ env: { MASTER_ADDR: '192.0.2.1', MASTER_PORT: String(port), WORLD_SIZE: '1', RANK: '0' }, timeoutMs: 5000 }),
      /rank 0 serves the store on MASTER_ADDR, but cannot listen on 192\.0\.2\.1:\d+ .*start rank 0 on the machine MASTER_ADDR names/);
  });

  it('allReduce, broadcast and barrier resolve with new tensors; the input is not written', async () => {
    const x = torch.tensor([1.5, -2, 3]);
    for (const op of ['sum', 'product', 'min', 'max'] as const) {
      const y = await group.allReduce(x, op);
      assert.deepEqual(y.toArray(), [1.5, -2, 3], op);
      assert.notEqual(y, x);
      y.dispose();
    }
    const b = await group.broadcast(x, 0);
    assert.deepEqual(b.toArray(), [1.5, -2, 3]);
    b.dispose();
    await group.barrier();
    // issued together, they run one after another, in call order
    const all = await Promise.all([group.allReduce(x), group.broadcast(x), group.allReduce(x, 'max')]);
    all.forEach((t) => t.dispose());
    x.dispose();
  });

  it('refuses bad arguments, naming them', async () => {
    const x = torch.tensor([1]);
    await assert.rejects(group.allReduce(x, 'avg' as 'sum'), /op must be 'sum', 'product', 'min' or 'max', got the string "avg"/);
    await assert.rejects(group.broadcast(x, 1), /src must be a rank from 0 to 0, got the number 1/);
    await assert.rejects(group.allReduce({} as torch.Tensor), /expected a Tensor/);
    x.dispose();
    await assert.rejects(initProcessGroup({ env: { MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1', WORLD_SIZE: '2', RANK: '2' } }),
      (e: Error) => e instanceof DistributedEnvError && /RANK=2 is not below WORLD_SIZE=2/.test(e.message));
    await assert.rejects(initProcessGroup({ env: { MASTER_ADDR: '127.0.0.1', MASTER_PORT: '1', WORLD_SIZE: '1', RANK: '0' }, timeoutMs: 0 }),
      /timeoutMs must be a positive number/);
  });

  it('a distributed Trainer: one device per rank, options checked, busy while it runs, and the group held until it is disposed', async () => {
    torch.manualSeed(0);
    const net = new torch.nn.Linear(4, 2);
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    assert.throws(() => new torch.Trainer(net, optimizer, ['cpu', 'cpu'], undefined, { processGroup: group }), /one device per rank/);
    assert.throws(() => new torch.Trainer(net, optimizer, ['cpu'], undefined, { gradientReduction: 'sum' }), /give options.processGroup too/);
    assert.throws(() => new torch.Trainer(net, optimizer, ['cpu'], undefined, { processGroup: {} as ProcessGroup }), /must be a ProcessGroup/);
    const trainer = new torch.Trainer(net, optimizer, ['cpu'], undefined, { processGroup: group });
    assert.equal(trainer.processGroup, group);
    await trainer.ready;
    const x = torch.randn([6, 4]);
    const y = torch.tensor([0, 1, 0, 1, 1, 0], { dtype: 'int64' });
    // one rank: the step is the plain Trainer's (the sum of one rank's gradients)
    const reference = net.clone();
    const step = trainer.step([x], y);
    await assert.rejects(group.allReduce(x), (e: Error & { code?: string }) => e.code === 'ERR_TORCHBRIDGE_BUSY' && /Trainer step on this group is running/.test(e.message));
    await step;
    assert.throws(() => group.dispose(), /a Trainer synchronises through this group; dispose the Trainer first/);
    const refOptimizer = new torch.optim.SGD(reference.parameters(), { lr: 0.1 });
    const plain = new torch.Trainer(reference, refOptimizer, ['cpu']);
    await plain.step([x], y);
    torch.tidy(() => {
      for (const [a, b] of net.parameters().map((p, k) => [p, reference.parameters()[k]])) {
        assert.ok((a.sub(b).abs().max().item() as number) <= 1e-6);
      }
    });
    plain.dispose();
    trainer.dispose();
    [x, y].forEach((t) => t.dispose());
    [optimizer, refOptimizer].forEach((o) => o.dispose());
    [net, reference].forEach((m) => m.dispose());
  });

  it('300 distributed steps keep the live tensor count flat', async () => {
    const net = new torch.nn.Sequential(new torch.nn.Embedding(20, 8), new torch.nn.Flatten(), new torch.nn.Linear(8 * 6, 3));
    const optimizer = new torch.optim.Adam(net.parameters(), { lr: 0.01 });
    const trainer = new torch.Trainer(net, optimizer, ['cpu'], undefined, { processGroup: group });
    const x = torch.randint(0, 20, [8, 6]);
    const y = torch.randint(0, 3, [8]);
    await trainer.step([x], y);
    const before = await settledLiveTensors();
    for (let k = 0; k < 300; ++k) await trainer.step([x], y);
    assert.equal(await settledLiveTensors(), before);
    trainer.dispose();
    [x, y].forEach((t) => t.dispose());
    optimizer.dispose();
    net.dispose();
  });

  it('a disposed group is refused; disposing twice is fine', async () => {
    const solo = await soloGroup();
    solo.dispose();
    solo.dispose();
    assert.equal(solo.isDisposed, true);
    const x = torch.tensor([1]);
    await assert.rejects(solo.barrier(), /ProcessGroup was disposed; join a new one/);
    const net = new torch.nn.Linear(1, 1);
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    assert.throws(() => new torch.Trainer(net, optimizer, ['cpu'], undefined, { processGroup: solo }), /ProcessGroup was disposed/);
    x.dispose();
    optimizer.dispose();
    net.dispose();
  });
});

describe('node lib/train.js in a distributed job: bad launch values are usage errors (exit 2)', () => {
  const TRAIN = path.join(__dirname, '..', 'lib', 'train.js');
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', WORLD_SIZE: '2', RANK: '5' }, [], /the launch environment: RANK=5 is not below WORLD_SIZE=2/],
    [{ RANK: '0' }, [], /sets RANK but not MASTER_ADDR, MASTER_PORT, WORLD_SIZE/],
    [{ MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', WORLD_SIZE: '3', RANK: '0' }, ['--batch-size', '8'], /--batch-size 8 does not split evenly over the 3 ranks/],
    [{ MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', WORLD_SIZE: '4', RANK: '0', LOCAL_RANK: '0', LOCAL_WORLD_SIZE: '4' }, ['--devices', 'cpu,cpu'],
      /--devices lists 2 devices for the 4 ranks on this machine/],
    [{ MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', WORLD_SIZE: '2', RANK: '0' }, ['--dist-timeout', '0'], /--dist-timeout/],
  ];
  for (const [env, args, message] of cases) {
    it(`${JSON.stringify(env)} ${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [TRAIN, '--pretrained', 'random', '--no-plot', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
