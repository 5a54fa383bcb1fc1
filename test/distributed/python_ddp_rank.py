"""One Python rank of test/distributed.test.ts: PyTorch's own DistributedDataParallel, in the
same gloo group as Node ranks, training the model of test/distributed/train-rank.ts on its shard
of the same batches. Reads the config that train-rank.ts reads (TB_RANK_CONFIG) and writes the
same result file. Started with the launch environment (MASTER_ADDR, ..., RANK); Gloo's traffic
stays on GLOO_SOCKET_IFNAME (lo in the tests)."""
import json
import os
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel


def main():
    with open(os.environ["TB_RANK_CONFIG"]) as f:
        config = json.load(f)
    with open(config["data"]) as f:
        data = json.load(f)
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(milliseconds=config["timeoutMs"]))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(100 + rank)  # other weights than rank 0's: DDP broadcasts rank 0's
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    ddp = DistributedDataParallel(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for step in range(config["steps"]):
        rows = len(data["labels"][step])
        per = rows // world_size
        x = torch.tensor(data["inputs"][step][rank * per:(rank + 1) * per], dtype=torch.float32)
        y = torch.tensor(data["labels"][step][rank * per:(rank + 1) * per], dtype=torch.int64)
        # d2l's train_batch_ch13: the summed per-example losses
        loss = F.cross_entropy(ddp(x), y, reduction=config["reduction"])
        loss = loss.sum() if config["reduction"] == "none" else loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # the evaluation of train-rank.ts: counts summed over the ranks
    per = len(data["labels"][0]) // world_size
    x = torch.tensor(data["inputs"][0][rank * per:(rank + 1) * per], dtype=torch.float32)
    y = torch.tensor(data["labels"][0][rank * per:(rank + 1) * per], dtype=torch.int64)
    net.eval()
    with torch.no_grad():
        correct = float((ddp(x).argmax(1) == y).sum())
    counts = torch.tensor([correct, float(len(y))], dtype=torch.float64)
    dist.all_reduce(counts)
    params = [p.detach().flatten().tolist() for p in net.parameters()]
    with open(config["out"].replace("%RANK%", str(rank)), "w") as f:
        json.dump({"rank": rank, "losses": losses, "params": params,
                   "evalCorrect": counts[0].item(), "evalCount": counts[1].item()}, f)
    # Debian's PyTorch 1.13 can deadlock at interpreter exit, where the garbage-collected Reducer
    # destroys its Gloo group while a Gloo thread waits for the GIL: leave without tearing down
    os._exit(0)


if __name__ == "__main__":
    main()
