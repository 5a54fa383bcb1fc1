// Layers built with a dtype leave the process-wide default dtype alone: JS code on another
// thread (a worker, or a trainer thread) that relies on it (an int tensor times a float gives the
// default dtype, as in PyTorch) never sees it change.
import { strict as assert } from 'assert';
import * as path from 'path';
import { Worker } from 'worker_threads';

import * as torch from '../lib';

const WORKER = `
const { parentPort, workerData } = require('worker_threads');
const torch = require(workerData.lib);
const ints = torch.tensor([1, 2, 3]);
let wrong = 0;
let checks = 0;
parentPort.postMessage('ready');
const deadline = Date.now() + workerData.ms;
while (Date.now() < deadline) {
  const t = ints.mul(1.5);
  if (t.dtype !== 'float32') ++wrong;
  t.dispose();
  ++checks;
}
ints.dispose();
parentPort.postMessage({ wrong, checks });
`;

describe('default dtype', function () {
  this.timeout(60_000);

  it('float64 layers built on one thread never change the default dtype another thread sees', async () => {
    const worker = new Worker(WORKER, { eval: true, workerData: { lib: path.resolve(__dirname, '..', 'lib'), ms: 3000 } });
    const result = new Promise<{ wrong: number; checks: number }>((resolve, reject) => {
      worker.on('message', (m) => m !== 'ready' && resolve(m));
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    let built = 0;
    const deadline = Date.now() + 2500;
    while (Date.now() < deadline) {
      for (const layer of [new torch.nn.Linear(64, 64, { dtype: 'float64' }), new torch.nn.Embedding(64, 64, { dtype: 'float64' }),
        new torch.nn.LayerNorm([64], { dtype: 'float64' })]) {
        assert.equal(layer.parameters()[0].dtype, 'float64');
        layer.dispose();
      }
      ++built;
    }
    const { wrong, checks } = await result;
    await worker.terminate();
    assert.ok(checks > 1000 && built > 100, `too little overlap: ${checks} checks, ${built} constructions`);
    assert.equal(wrong, 0, `${wrong} of ${checks} products on the worker came out in another dtype`);
  });

  it('a float64 Linear is drawn in float64, reproducibly under manualSeed (PyTorch values: test/fixtures/nn)', () => {
    torch.tidy(() => {
      torch.manualSeed(3);
      const a = new torch.nn.Linear(5, 4, { dtype: 'float64' });
      const after = torch.rand([3]);
      torch.manualSeed(3);
      const b = new torch.nn.Linear(5, 4, { dtype: 'float64' });
      const again = torch.rand([3]);
      assert.equal(a.parameters()[0].sub(b.parameters()[0]).abs().max().item(), 0);
      assert.equal(after.sub(again).abs().max().item(), 0);
      // drawn in float64, not converted from float32: not every value is a float32
      const w = a.parameters()[0].toArray() as number[][];
      assert.ok(w.flat().some((v) => Math.fround(v) !== v));
      a.dispose();
      b.dispose();
    });
  });
});
