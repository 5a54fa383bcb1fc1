/**
 * Example 1: a regression trained in a JS loop.
 *
 * An MLP (1 -> 32 -> 32 -> 1, tanh) learns y = sin(x) on [-pi, pi] from 512 noisy samples:
 * mini-batches from a DataLoader, MSELoss, Adam with a StepLR schedule, gradients clipped to a
 * norm of 1, each step written as in PyTorch (zero_grad, forward, loss, backward, step) inside
 * torch.tidy so that nothing outlives its step.
 *
 *   node examples/sin-regression.js [--epochs N]
 *
 * Prints the loss per epoch and, at the end, `test mse <value>` on 101 noise-free points.
 */
import * as torch from 'torchbridge';

const { nn, optim } = torch;

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`sin-regression: ${name} takes a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const epochs = flag('--epochs', 60);
  torch.manualSeed(0);
  const x = torch.rand([512, 1]).mul(2 * Math.PI).sub(Math.PI);
  const y = torch.tidy(() => x.sin().add(torch.randn([512, 1]).mul(0.05)));
  const loader = new torch.DataLoader({ inputs: [x], labels: y }, 32, { shuffle: true, seed: 1 });

  const net = new nn.Sequential(new nn.Linear(1, 32), new nn.Tanh(), new nn.Linear(32, 32), new nn.Tanh(), new nn.Linear(32, 1));
  const opt = new optim.Adam(net.parameters(), { lr: 0.01 });
  const schedule = new optim.StepLR(opt, { stepSize: 20, gamma: 0.3 });
  const loss = new nn.MSELoss();

  for (let epoch = 0; epoch < epochs; ++epoch) {
    let sum = 0;
    let batches = 0;
    for await (const [[xb], yb] of loader) {
      sum += torch.tidy(() => {
        opt.zeroGrad();
        const l = loss.forward(net.forward(xb), yb);
        l.backward();
        nn.utils.clipGradNorm_(net.parameters(), 1.0);
        opt.step();
        return l.item() as number;
      });
      ++batches;
    }
    schedule.step();
    if (epoch % 10 === 9 || epoch === epochs - 1) console.log(`epoch ${epoch + 1}: train mse ${(sum / batches).toFixed(5)}, lr ${schedule.getLastLr()[0]}`);
  }

  const testMse = torch.tidy(() => torch.noGrad(() => {
    const xt = torch.linspace(-Math.PI, Math.PI, 101).reshape([-1, 1]);
    return loss.forward(net.forward(xt), xt.sin()).item() as number;
  }));
  console.log(`test mse ${testMse.toFixed(5)}`);
  opt.dispose();
  net.dispose();
  torch.dispose([x, y]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
