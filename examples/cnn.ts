/**
 * Example 3: a small CNN with batch norm and a cosine learning-rate schedule, on synthetic
 * images, trained by the Trainer.
 *
 * 1x16x16 images of noisy horizontal or vertical bars (2 classes). The network is a native
 * nn.Sequential (Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d, twice, then Flatten -> Linear), so
 * the Trainer runs it off the JS thread without tracing. CrossEntropyLoss with its default
 * reduction 'mean', SGD with momentum; CosineAnnealingLR steps once per epoch. Batch norm's running statistics are buffers: they are in the state dict,
 * and evaluate() runs the network in eval mode, which uses them.
 *
 *   node examples/cnn.js [--epochs N]
 *
 * Prints loss, accuracy and learning rate per epoch, then `test acc <value>`.
 */
import * as torch from 'torchbridge';

const { nn, optim } = torch;

// n images [n, 1, 16, 16]: class 0 has a bright row, class 1 a bright column, at random positions.
function bars(n: number): [torch.Tensor, torch.Tensor] {
  return torch.tidy(() => {
    const labels = torch.randint(0, 2, [n]);
    const position = torch.randint(2, 14, [n]);
    const grid = torch.arange(16);
    const rows = grid.reshape([1, 16, 1]).eq(position.reshape([n, 1, 1])).expand([n, 16, 16]);
    const cols = grid.reshape([1, 1, 16]).eq(position.reshape([n, 1, 1])).expand([n, 16, 16]);
    const vertical = labels.reshape([n, 1, 1]).eq(1);
    const image = torch.where(vertical, cols, rows).float().add(torch.randn([n, 16, 16]).mul(0.4));
    return [image.unsqueeze(1), labels];
  });
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--epochs');
  const epochs = at < 0 ? 8 : Number(process.argv[at + 1]);
  if (!Number.isInteger(epochs) || epochs < 1) {
    console.error(`cnn: --epochs takes a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  torch.manualSeed(0);
  const [x, y] = bars(512);
  const [xTest, yTest] = bars(256);
  const net = new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1 }), new nn.BatchNorm2d(8), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(8, 16, 3, { padding: 1 }), new nn.BatchNorm2d(16), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(), new nn.Linear(16 * 4 * 4, 2));
  console.log(net.toString());
  const opt = new optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
  const schedule = new optim.CosineAnnealingLR(opt, { TMax: epochs });
  // reduction 'mean' (PyTorch's default): each step takes backward of the batch's mean loss
  const trainer = new torch.Trainer(net, opt, ['cpu'], new nn.CrossEntropyLoss());
  const loader = new torch.DataLoader({ inputs: [x], labels: y }, 32, { shuffle: true, seed: 3 });
  try {
    for (let epoch = 0; epoch < epochs; ++epoch) {
      let loss = 0;
      let correct = 0;
      let count = 0;
      for await (const [inputs, labels] of loader) {
        const r = await trainer.step(inputs, labels);
        loss += r.lossSum;
        correct += r.correct!;
        count += r.count;
      }
      const lr = schedule.getLastLr()[0];
      schedule.step();
      console.log(`epoch ${epoch + 1}: loss ${(loss / count).toFixed(4)}, train acc ${(correct / count).toFixed(3)}, lr ${lr.toFixed(4)}`);
    }
    const test = await trainer.evaluate([xTest], yTest);
    console.log(`test acc ${(test.correct! / test.count).toFixed(3)}`);
    console.log(`batch norm buffers: ${[...net.stateDict().keys()].filter((k) => k.includes('running')).join(', ')}`);
  } finally {
    trainer.dispose();
  }
  opt.dispose();
  net.dispose();
  torch.dispose([x, y, xTest, yTest]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
