// Memory ownership: loops that create, compute and release tensors must not grow the live
// tensor count or the process's resident memory.
import { strict as assert } from 'assert';

import { execFileSync } from 'child_process';
import * as path from 'path';

import * as torch from '../lib';

const ITERATIONS = 100_000;
// The loops run in 5 windows (test/memory-loop.ts); the median window may grow RSS by at most
// this: 8 MB over the whole run, the rate of a leak of 80 bytes per iteration (8 KB per training
// step), while one step of the allocator (a few MB, in one window) is not taken for a leak.
const RSS_SLACK_MB = 8 / 5;

interface Growth {
  tensors: number;
  rssMb: number;
  windowsMb: number[];
}

// Runs a loop of test/memory-loop.ts in a fresh process and returns its growth.
function measureInChild(loop: string): Growth {
  const script = path.join(__dirname, 'memory-loop.js');
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, loop], { encoding: 'utf8' }));
}

function assertFlat(growth: Growth): void {
  assert.equal(growth.tensors, 0);
  assert.ok(growth.rssMb < RSS_SLACK_MB,
    `RSS grew ${growth.rssMb.toFixed(1)} MB in the median window (windows: ${growth.windowsMb.map((mb) => mb.toFixed(1)).join(', ')} MB)`);
}

describe('memory', function () {
  this.timeout(300_000);

  before(() => assert.ok(global.gc, 'run mocha with --expose-gc (set in .mocharc.json)'));

  it(`${ITERATIONS} iterations of create/compute/dispose keep tensors and RSS flat`, () => {
    assertFlat(measureInChild('dispose'));
  });

  it(`${ITERATIONS} iterations inside tidy() keep tensors and RSS flat`, () => {
    assertFlat(measureInChild('tidy'));
  });

  it('1000 training steps (DataLoader, trimmed batches, [cpu, cpu], length groups, Adam) keep tensors and RSS flat', () => {
    assertFlat(measureInChild('trainer'));
  });

  it('tidy releases everything but the returned tensors, which move to the enclosing scope', () => {
    const before = torch.memory().liveTensors;
    let inner: torch.Tensor | undefined;
    const outer = torch.tidy(() => {
      inner = torch.tidy(() => {
        torch.ones([3]).add(1);  // garbage of the inner scope
        return { result: torch.zeros([2]), list: [torch.ones([1])] };
      }).result;
      assert.equal(torch.memory().liveTensors, before + 2);  // result and list[0]
      return inner.add(1);
    });
    assert.equal(inner!.isDisposed, true);  // it belonged to the outer scope, which did not return it
    assert.equal(outer.isDisposed, false);
    assert.equal(torch.memory().liveTensors, before + 1);
    outer.dispose();
    assert.equal(torch.memory().liveTensors, before);
  });

  it('keep() exempts a tensor from every scope; a throwing scope releases its tensors', () => {
    const before = torch.memory().liveTensors;
    let kept: torch.Tensor | undefined;
    assert.throws(() => torch.tidy(() => {
      kept = torch.keep(torch.ones([2]));
      torch.ones([2]);
      throw new Error('boom');
    }), /boom/);
    assert.equal(torch.memory().liveTensors, before + 1);
    kept!.dispose();
    assert.equal(torch.memory().liveTensors, before);
  });

  it('dispose() is idempotent and counts storage bytes once for views', () => {
    const before = torch.memory();
    const t = torch.zeros([256], { dtype: 'float64' });
    const view = t.view([16, 16]);
    const after = torch.memory();
    assert.equal(after.liveTensors, before.liveTensors + 2);
    assert.equal(after.bytes - before.bytes, 256 * 8);
    assert.equal(after.cpuBytes - before.cpuBytes, 256 * 8);
    t.dispose();
    t.dispose();
    assert.equal(torch.memory().bytes - before.bytes, 256 * 8);  // the view keeps the storage alive
    view.dispose();
    assert.deepEqual(torch.memory(), before);
  });

  it('the garbage collector releases tensors nobody disposed (fallback finalizer)', async () => {
    const before = torch.memory().liveTensors;
    (() => {
      for (let k = 0; k < 1000; ++k) torch.ones([4]);
    })();
    assert.ok(torch.memory().liveTensors >= before + 1000);
    for (let k = 0; k < 20 && torch.memory().liveTensors > before; ++k) {
      global.gc!();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(torch.memory().liveTensors, before);
  });

  it('a tensor sharing a typed array keeps the array alive and lets it go when released', async () => {
    const before = torch.memory().liveTensors;
    let t: torch.Tensor | undefined = (() => torch.tensor(new Float32Array([1, 2, 3])))();
    global.gc!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(t.toArray(), [1, 2, 3]);
    t.dispose();
    t = undefined;
    assert.equal(torch.memory().liveTensors, before);
  });
});
