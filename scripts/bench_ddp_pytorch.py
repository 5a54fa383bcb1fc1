"""The PyTorch side of scripts/bench-distributed.js: d2l's BERTClassifier (bert.small shape) on
the same global batches, with the same schedule as torchbridge's Trainer with lengthGroups, in
one process or as one rank of PyTorch's DistributedDataParallel over gloo.

    python3 scripts/bench_ddp_pytorch.py --examples FILE --batch-size B --steps S --warmup W
        --threads N [--groups 4]

FILE is what bench-distributed.js wrote with torchbridge's save(): `tokens`, `segments`,
`validLens`, `labels` of (W + S) * B examples, global batch k being rows [k B, (k + 1) B). Started
with the launch environment (MASTER_ADDR, ..., RANK), this process joins the gloo group
(init_process_group, env://), wraps the classifier in DistributedDataParallel and trains rows
[k B + r B/R, k B + (r + 1) B/R) of each batch: sorted by valid length, cut into --groups groups
trimmed to their longest, the first groups' backward under ddp.no_sync(), the last one's
synchronising, then one Adam step (lr 1e-4) and the loss sum read as a float, as d2l's
Accumulator does. Then the median time of --allreduce-reps all-reduces of one float32 tensor of the
classifier's parameter count. Prints one JSON line.
"""

import argparse
import contextlib
import json
import os
import sys
import time

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_pytorch import build_classifier  # noqa: E402

ALLREDUCE_REPS = 10


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--examples", required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--groups", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo", init_method="env://")
    rank = dist.get_rank() if distributed else 0
    ranks = dist.get_world_size() if distributed else 1
    data = torch.load(args.examples)
    per = args.batch_size // ranks
    torch.manual_seed(0)
    net = build_classifier(0.1, torch.device("cpu"), [data["tokens"][:1], data["segments"][:1], data["validLens"][:1]])
    model = nn.parallel.DistributedDataParallel(net) if distributed else net
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.Adam(net.parameters(), lr=1e-4)
    examples = 0
    start = time.perf_counter()
    for k in range(args.warmup + args.steps):
        if k == args.warmup:
            start = time.perf_counter()
        rows = slice(k * args.batch_size + rank * per, k * args.batch_size + (rank + 1) * per)
        tokens, segments, valid_lens, y = (data[name][rows] for name in ("tokens", "segments", "validLens", "labels"))
        model.train()
        trainer.zero_grad()
        order = torch.sort(valid_lens, stable=True).indices
        tokens, segments, valid_lens, y = tokens[order], segments[order], valid_lens[order], y[order]
        pieces = list(zip(tokens.chunk(args.groups), segments.chunk(args.groups), valid_lens.chunk(args.groups), y.chunk(args.groups)))
        loss_sum = 0.0
        for g, (t, s, v, label) in enumerate(pieces):
            longest = max(int(v.max()), 1)
            last = g == len(pieces) - 1
            with (contextlib.nullcontext() if last or not distributed else model.no_sync()):
                l = loss(model((t[:, :longest], s[:, :longest], v)), label)
                l.sum().backward()
            loss_sum = loss_sum + l.sum().detach()
        trainer.step()
        float(loss_sum)
        if k >= args.warmup:
            examples += y.shape[0]
    seconds = time.perf_counter() - start
    numel = sum(q.numel() for q in net.parameters())
    allreduce_ms = None
    if distributed:
        grads = torch.zeros(numel)
        times = []
        for k in range(ALLREDUCE_REPS + 2):
            t0 = time.perf_counter()
            dist.all_reduce(grads.clone())
            if k >= 2:
                times.append((time.perf_counter() - t0) * 1000)
        allreduce_ms = sorted(times)[len(times) // 2]
    print(json.dumps({"examples": examples, "seconds": seconds, "allReduceMs": allreduce_ms, "parameters": numel,
                      "torch": torch.__version__}), flush=True)
    # Debian's PyTorch 1.13 can deadlock at interpreter exit, where the garbage-collected Reducer
    # destroys its Gloo group while a Gloo thread waits for the GIL: leave without tearing down
    os._exit(0)


if __name__ == "__main__":
    main()
