// console.log(net) / util.inspect(net) print the module's repr, as Python's print(net) does. The
// expected text is PyTorch 1.13's repr() of the same nn.Sequential (and 2.x's: it is unchanged):
//   nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Sequential(nn.Linear(8, 2, bias=False), nn.Dropout(0.5)))
import { strict as assert } from 'assert';
import * as util from 'util';

import * as torch from '../lib';
import { nn } from '../lib';

const PYTORCH_REPR = 'Sequential(\n  (0): Linear(in_features=4, out_features=8, bias=True)\n  (1): ReLU()\n  (2): Sequential(\n' +
  '    (0): Linear(in_features=8, out_features=2, bias=False)\n    (1): Dropout(p=0.5, inplace=False)\n  )\n)';

function makeNet(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Sequential(new nn.Linear(8, 2, { bias: false }), new nn.Dropout(0.5)));
}

describe('util.inspect of modules', () => {
  it("prints a Sequential of layers as its toString(), PyTorch's repr, not the wrapper's fields", () => {
    const live = torch.memory().liveTensors;
    const net = makeNet();
    assert.equal(util.inspect(net), net.toString());
    assert.equal(util.inspect(net), PYTORCH_REPR);
    assert.equal(util.format('%o', net).includes('_handle'), false, 'no internals');
    // Nested in other values (what console.log({ net }) shows), the repr is the value.
    assert.equal(util.inspect({ net }), `{\n  net: ${PYTORCH_REPR.split('\n').join('\n  ')}\n}`);
    assert.equal(util.inspect(net.at(1)), 'ReLU()');
    net.dispose();
    assert.equal(torch.memory().liveTensors, live);
  });

  it('prints a disposed module as `<Class> <disposed>` instead of failing', () => {
    const net = makeNet();
    const inner = net.at(2);
    net.dispose();
    assert.equal(util.inspect(net), 'Sequential <disposed>');
    assert.equal(util.inspect(inner), 'Sequential <disposed>');
    assert.throws(() => net.toString(), /disposed/);
  });

  it('prints a module written in TypeScript with its own class name', () => {
    class Head extends nn.Module {
      readonly proj = this.registerModule('proj', new nn.Linear(3, 1));
    }
    const live = torch.memory().liveTensors;
    const head = new Head();
    assert.equal(util.inspect(head), 'Head(\n  (proj): Linear(in_features=3, out_features=1, bias=True)\n)');
    head.dispose();
    assert.equal(util.inspect(head), 'Head <disposed>');
    assert.equal(util.inspect(head.proj), 'Linear <disposed>', 'a module disposes its children');
    assert.equal(torch.memory().liveTensors, live);
  });
});
