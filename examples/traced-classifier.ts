/**
 * Example 2: a classifier defined as a TypeScript subclass, traced to TorchScript and trained
 * off the JS thread by the data-parallel Trainer on two CPU replicas.
 *
 * Two interleaved half-moons (2 features, 2 classes, 1000 points). The MLP's forward is written
 * in TypeScript; torch.jit.trace records it as a graph, so the Trainer can run it natively on
 * ['cpu', 'cpu'] while the JS thread stays free. At the end the weights are saved twice: as a
 * state dict with torch.save (Python: model.load_state_dict(torch.load(path))) and as a
 * TorchScript archive with torch.jit.save (Python: torch.jit.load(path)).
 *
 *   node examples/traced-classifier.js [--epochs N] [--out DIR]
 *
 * Prints the loss and accuracy per epoch, then `test acc <value>` and the two files written.
 */
import * as path from 'path';

import * as torch from 'torchbridge';

const { nn, optim } = torch;

class MoonsMLP extends nn.Module {
  readonly hidden = this.registerModule('hidden', new nn.Linear(2, 32));
  readonly out = this.registerModule('out', new nn.Linear(32, 2));

  /** x: [batch, 2] float32 -> logits [batch, 2]. */
  override forward(x: torch.Tensor): torch.Tensor {
    return torch.tidy(() => this.out.forward(this.hidden.forward(x).relu()));
  }
}

// Two half-moons with Gaussian noise, as scikit-learn's make_moons.
function moons(n: number, noise: number): [torch.Tensor, torch.Tensor] {
  return torch.tidy(() => {
    const half = n / 2;
    const t = torch.rand([half]).mul(Math.PI);
    const upper = torch.stack([t.cos(), t.sin()], 1);
    const lower = torch.stack([t.cos().neg().add(1), t.sin().neg().add(0.5)], 1);
    const x = torch.cat([upper, lower], 0).add(torch.randn([n, 2]).mul(noise));
    const y = torch.cat([torch.zeros([half], { dtype: 'int64' }), torch.ones([half], { dtype: 'int64' })]);
    return [x, y];
  });
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at < 0 ? fallback : process.argv[at + 1] ?? fallback;
}

async function main(): Promise<void> {
  const epochs = Number(option('--epochs', '30'));
  if (!Number.isInteger(epochs) || epochs < 1) {
    console.error(`traced-classifier: --epochs takes a positive integer, got ${option('--epochs', '')}`);
    process.exit(2);
  }
  const outDir = option('--out', '.');
  torch.manualSeed(0);
  const [x, y] = moons(1000, 0.1);
  const [xTest, yTest] = moons(400, 0.1);
  const train = new torch.DataLoader({ inputs: [x], labels: y }, 50, { shuffle: true, seed: 2 });

  const net = new MoonsMLP();
  const traced = torch.jit.trace(net, x.narrow(0, 0, 8));  // any batch size: forward reads no shapes
  const opt = new optim.Adam(traced.parameters(), { lr: 0.02 });
  const trainer = new torch.Trainer(traced, opt, ['cpu', 'cpu'], new nn.CrossEntropyLoss({ reduction: 'none' }));
  try {
    for (let epoch = 0; epoch < epochs; ++epoch) {
      let loss = 0;
      let correct = 0;
      let count = 0;
      for await (const [inputs, labels] of train) {
        const r = await trainer.step(inputs, labels);
        loss += r.lossSum;
        correct += r.correct!;
        count += r.count;
      }
      if (epoch % 5 === 4 || epoch === epochs - 1) console.log(`epoch ${epoch + 1}: loss ${(loss / count).toFixed(4)}, train acc ${(correct / count).toFixed(3)}`);
    }
    const test = await trainer.evaluate([xTest], yTest);
    console.log(`test acc ${(test.correct! / test.count).toFixed(3)}`);
  } finally {
    trainer.dispose();
  }
  const stateFile = path.join(outDir, 'moons-mlp.params');
  const scriptFile = path.join(outDir, 'moons-mlp.pt');
  await torch.save(traced.stateDict(), stateFile);
  await torch.jit.save(traced, scriptFile);
  console.log(`saved ${stateFile} (torch.save state dict) and ${scriptFile} (TorchScript)`);
  opt.dispose();
  traced.dispose();
  net.dispose();
  torch.dispose([x, y, xTest, yTest]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
