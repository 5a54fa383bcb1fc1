// One rank of the distributed tests (test/distributed.test.ts), started with the launch
// environment (MASTER_ADDR, ..., RANK) and TB_RANK_CONFIG, a JSON file:
//   { data: file of {inputs: number[][][], labels: number[][]} (one global batch per step),
//     steps, reduction ('none' | 'mean'), gradientReduction?, timeoutMs,
//     dieAfter? (the last rank exits with status 7 after that many steps), out: file (%RANK% becomes the rank) }
// Without the launch environment it trains alone on every global batch (the reference). It
// writes {losses: number[] (this rank's per step), params: number[][], evalCorrect, evalCount}.
import * as fs from 'fs';

import * as torch from '../../lib';
import { initProcessGroup } from '../../lib/distributed/process-group';

interface Config {
  data: string;
  steps: number;
  reduction: 'none' | 'mean';
  gradientReduction?: 'sum' | 'mean';
  timeoutMs: number;
  dieAfter?: number;
  out: string;
}

async function main(): Promise<void> {
  const config = JSON.parse(fs.readFileSync(process.env.TB_RANK_CONFIG!, 'utf8')) as Config;
  const data = JSON.parse(fs.readFileSync(config.data, 'utf8')) as { inputs: number[][][]; labels: number[][] };
  const group = await initProcessGroup({ timeoutMs: config.timeoutMs });
  const rank = group?.rank ?? 0;
  const worldSize = group?.worldSize ?? 1;
  // every rank starts from other weights: the Trainer's start must give them rank 0's
  torch.manualSeed(100 + rank);
  const net = new torch.nn.Sequential(new torch.nn.Linear(8, 16), new torch.nn.ReLU(), new torch.nn.Linear(16, 3));
  const optimizer = new torch.optim.Adam(net.parameters(), { lr: 0.01 });
  const trainer = new torch.Trainer(net, optimizer, ['cpu'], new torch.nn.CrossEntropyLoss({ reduction: config.reduction }), {
    ...(group ? { processGroup: group } : {}),
    ...(config.gradientReduction ? { gradientReduction: config.gradientReduction } : {}),
  });
  await trainer.ready;
  const losses: number[] = [];
  for (let step = 0; step < config.steps; ++step) {
    if (config.dieAfter !== undefined && step === config.dieAfter && rank === worldSize - 1) process.exit(7);
    const rows = data.labels[step].length;
    const per = rows / worldSize;  // contiguous shards of the global batch
    const x = torch.tensor(data.inputs[step].slice(rank * per, (rank + 1) * per));
    const y = torch.tensor(data.labels[step].slice(rank * per, (rank + 1) * per), { dtype: 'int64' });
    const { loss } = await trainer.step([x], y);
    losses.push(loss);
    x.dispose();
    y.dispose();
  }
  // evaluation counts summed over the ranks
  const x = torch.tensor(data.inputs[0].slice(rank * (data.labels[0].length / worldSize), (rank + 1) * (data.labels[0].length / worldSize)));
  const y = torch.tensor(data.labels[0].slice(rank * (data.labels[0].length / worldSize), (rank + 1) * (data.labels[0].length / worldSize)), { dtype: 'int64' });
  const { correct, count } = await trainer.evaluate([x], y);
  let evalCorrect = correct ?? 0;
  let evalCount = count;
  if (group) {
    const local = torch.tensor([evalCorrect, evalCount], { dtype: 'float64' });
    const total = await group.allReduce(local);
    [evalCorrect, evalCount] = total.toArray() as number[];
    local.dispose();
    total.dispose();
  }
  x.dispose();
  y.dispose();
  trainer.dispose();
  const params = net.parameters().map((p) => Array.from(p.reshape([-1]).toArray() as number[]));
  fs.writeFileSync(config.out.replace('%RANK%', String(rank)), JSON.stringify({ rank, losses, params, evalCorrect, evalCount }));
  group?.dispose();
}

main().catch((err: unknown) => {
  process.stderr.write(`rank ${process.env.RANK ?? '-'}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
