// The programs in examples/ run as a user runs them (node examples/<name>.js) and do what their
// comments say: each test reads the program's output and checks the result it reports.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as torch from '../lib';

const EXAMPLES = path.join(__dirname, '..', 'examples');

function run(name: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [path.join(EXAMPLES, `${name}.js`), ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function reported(stdout: string, label: string): number {
  const match = new RegExp(`^${label} ([0-9.]+)$`, 'm').exec(stdout);
  assert.ok(match, `no '${label}' line in:\n${stdout}`);
  return Number(match[1]);
}

describe('examples/', function () {
  this.timeout(300_000);

  it('sin-regression: an MLP trained in a JS loop fits sin(x) (test mse below 0.01)', () => {
    const r = run('sin-regression');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^epoch 60: train mse [0-9.]+, lr /m);
    assert.ok(reported(r.stdout, 'test mse') < 0.01, r.stdout);
    const bad = run('sin-regression', ['--epochs', 'zero']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--epochs takes a positive integer, got zero/);
  });

  it('traced-classifier: a TypeScript MLP traced and trained on [cpu, cpu] separates the moons; both files load', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torchbridge-example-'));
    try {
      const r = run('traced-classifier', ['--out', dir]);
      assert.equal(r.status, 0, r.stderr);
      const acc = reported(r.stdout, 'test acc');
      assert.ok(acc > 0.95, r.stdout);
      const state = await torch.load(path.join(dir, 'moons-mlp.params'));
      assert.deepEqual([...state.keys()], ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']);
      const scripted = await torch.jit.load(path.join(dir, 'moons-mlp.pt'));
      // the TorchScript file holds the saved weights
      torch.tidy(() => {
        for (const [name, t] of scripted.stateDict()) assert.deepEqual(t.toArray(), state.get(name)!.toArray(), name);
      });
      scripted.dispose();
      torch.dispose([...state.values()]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cnn: Conv2d, BatchNorm2d and a cosine schedule learn the bars (test acc above 0.9)', () => {
    const r = run('cnn');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(reported(r.stdout, 'test acc') > 0.9, r.stdout);
    // the cosine schedule: lr 0.05 at the first epoch, decaying towards 0 by the eighth
    assert.match(r.stdout, /^epoch 1: .*lr 0\.0500$/m);
    assert.match(r.stdout, /^epoch 8: .*lr 0\.0019$/m);
    assert.match(r.stdout, /batch norm buffers: 1\.running_mean, 1\.running_var, 5\.running_mean, 5\.running_var/);
  });
});
