// Every native handle frees its memory at dispose(), at once (RSS and memory() both drop, no GC
// needed), refuses use afterwards, supports `using`, and cannot be disposed from under a holder.
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';

import * as torch from '../lib';
import { Trainer } from '../lib/trainer/trainer';

// RSS in MB that `build` adds and that `release` gives back, measured in a fresh process (in this
// one, the heap left by earlier tests decides whether freed memory goes back to the system).
function rssInChild(build: string, release: string): { built: number; returned: number } {
  const lib = JSON.stringify(path.resolve(__dirname, '..', 'lib'));
  const script = `
    const torch = require(${lib});
    const { Trainer } = require(${lib} + '/trainer/trainer');
    const rss = () => process.memoryUsage().rss / (1024 * 1024);
    (async () => {
      const before = rss();
      ${build}
      const held = rss();
      ${release}
      process.stdout.write(JSON.stringify({ built: held - before, returned: held - rss() }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as { built: number; returned: number };
}

describe('lifetimes: dispose() frees now', function () {
  this.timeout(120_000);

  it('Module.dispose() returns a Linear(8192, 8192)\'s 256 MB at once', () => {
    const { built, returned } = rssInChild('const net = new torch.nn.Linear(8192, 8192); net.parameters();', 'net.dispose();');
    assert.ok(built > 200, `the layer added only ${built.toFixed(0)} MB`);
    assert.ok(returned > 200, `dispose() returned only ${returned.toFixed(0)} MB`);
    const bytesBefore = torch.memory().bytes;
    const net = new torch.nn.Linear(1024, 1024);
    net.parameters();  // handles to the parameters are freed with the module too
    net.dispose();
    assert.equal(torch.memory().bytes, bytesBefore);
    assert.ok(net.isDisposed);
    assert.throws(() => net.forward(torch.zeros([1, 1024])), /disposed/);
    net.dispose();  // idempotent
  });

  it('Sequential.dispose() frees the layers it was given', () => {
    const { returned } = rssInChild(
      'const net = new torch.nn.Sequential(new torch.nn.Linear(4096, 4096), new torch.nn.ReLU(), new torch.nn.Linear(4096, 4096));',
      'net.dispose();');
    assert.ok(returned > 100, `dispose() returned only ${returned.toFixed(0)} MB of the two layers' 128 MB`);
  });

  it('Optimizer.dispose() frees Adam\'s state, and the module can then be disposed', () => {
    const { returned } = rssInChild(`
      const net = new torch.nn.Linear(4096, 4096);  // 64 MB, Adam's state 128 MB more
      const optimizer = new torch.optim.Adam(net.parameters());
      torch.tidy(() => net.forward(torch.randn([2, 4096])).sum().backward());
      optimizer.step();
      net.zeroGrad({ setToNone: true });`, 'optimizer.dispose();');
    assert.ok(returned > 100, `optimizer.dispose() returned only ${returned.toFixed(0)} MB of Adam's 128 MB`);
    const net = new torch.nn.Linear(64, 64);
    const optimizer = new torch.optim.Adam(net.parameters());
    torch.tidy(() => net.forward(torch.randn([2, 64])).sum().backward());
    optimizer.step();
    assert.throws(() => net.dispose(), /an Optimizer still holds this module's parameters; dispose the optimizer first/);
    assert.ok(!net.isDisposed, 'a refused dispose releases nothing');
    torch.tidy(() => net.forward(torch.zeros([1, 64])));
    optimizer.dispose();
    assert.throws(() => optimizer.step(), /disposed/);
    assert.throws(() => optimizer.getLr(), /disposed/);
    net.dispose();
  });

  it('Trainer.dispose() frees its replicas and lets go of the model and optimizer', async () => {
    const { built, returned } = rssInChild(`
      const net = new torch.nn.Sequential(new torch.nn.Linear(4096, 4096), new torch.nn.Linear(4096, 3));
      const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
      const trainer = new Trainer(net, optimizer, ['cpu', 'cpu', 'cpu']);  // two replicas of 64 MB
      await trainer.step([torch.randn([4, 4096])], torch.tensor([0, 1, 2, 0]));`, 'trainer.dispose();');
    assert.ok(built > 200, `the model and its replicas added only ${built.toFixed(0)} MB`);
    assert.ok(returned > 100, `trainer.dispose() returned only ${returned.toFixed(0)} MB of the replicas' 128 MB`);
    const net = new torch.nn.Sequential(new torch.nn.Linear(8, 3));
    const optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
    const trainer = new Trainer(net, optimizer, ['cpu', 'cpu']);
    const x = torch.randn([4, 8]);
    const y = torch.tensor([0, 1, 2, 0]);
    await trainer.step([x], y);
    assert.throws(() => net.dispose(), /a Trainer still trains this module; dispose the Trainer first/);
    assert.throws(() => optimizer.dispose(), /a Trainer still uses this optimizer; dispose the Trainer first/);
    trainer.dispose();
    await assert.rejects(trainer.step([x], y), /Trainer was disposed/);
    trainer.dispose();  // idempotent
    optimizer.dispose();
    net.dispose();
    torch.dispose([x, y]);
  });

  it('`using` disposes tensors, modules, optimizers and trainers at the end of the block', async () => {
    let seen: { net?: torch.nn.Module; optimizer?: torch.optim.Optimizer<object>; trainer?: Trainer; t?: torch.Tensor } = {};
    {
      using net = new torch.nn.Linear(3, 3);
      using optimizer = new torch.optim.SGD(net.parameters(), { lr: 0.1 });
      using trainer = new Trainer(net, optimizer, ['cpu']);
      using t = torch.zeros([2]);
      seen = { net, optimizer, trainer, t };
    }
    // disposed in reverse order of declaration: the trainer first, then its optimizer and model
    assert.ok(seen.trainer!.isDisposed && seen.optimizer!.isDisposed && seen.net!.isDisposed && seen.t!.isDisposed);
  });

  it('disposing a model twice through two wrappers, or a child through its parent, is safe', () => {
    const seq = new torch.nn.Sequential(new torch.nn.Linear(2, 2));
    const [child] = seq.children();
    const generic = seq.clone();
    seq.dispose();
    assert.ok(child.isDisposed, 'the parent owns its children');
    assert.throws(() => child.train(), /disposed/);
    torch.tidy(() => assert.deepEqual(generic.forward(torch.zeros([1, 2])).shape, [1, 2]));
    generic.dispose();
  });
});
