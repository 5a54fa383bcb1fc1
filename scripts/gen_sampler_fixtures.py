"""Generate test/fixtures/data/distributed_sampler.json: the indices PyTorch's DistributedSampler
gives each rank, and torch.randperm under a seeded generator.

    /usr/bin/python3 scripts/gen_sampler_fixtures.py

(torch 1.13; measured 2026-12-02: torch 2.11 gives the same permutations and shards.)

Each sampler case: the dataset length `n`, `numReplicas`, `shuffle`, `seed`, `epoch` (set_epoch),
`dropLast`, and per rank `len(sampler)` and `list(sampler)`. Each randperm case: `n`, `seed` and
torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist().
"""
import json
import os

import torch
from torch.utils.data.distributed import DistributedSampler

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "data", "distributed_sampler.json")


def sampler_case(n, replicas, shuffle, seed, epoch, drop_last):
    ranks = []
    for rank in range(replicas):
        s = DistributedSampler(list(range(n)), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        ranks.append({"length": len(s), "indices": list(s)})
    return {"n": n, "numReplicas": replicas, "shuffle": shuffle, "seed": seed, "epoch": epoch, "dropLast": drop_last, "ranks": ranks}


def main():
    samplers = []
    for n, replicas in [(10, 2), (11, 3), (7, 4), (3, 5), (1, 2), (0, 2), (100, 3), (1000, 8)]:
        for shuffle in (True, False):
            for drop_last in (False, True):
                samplers.append(sampler_case(n, replicas, shuffle, 0, 0, drop_last))
    for seed, epoch in [(0, 1), (0, 7), (42, 0), (42, 3), (-5, 2)]:
        samplers.append(sampler_case(23, 3, True, seed, epoch, False))
    perms = []
    for n, seed in [(0, 0), (1, 3), (10, 5), (257, 11), (5000, 2**40 + 3)]:
        g = torch.Generator()
        g.manual_seed(seed)
        perms.append({"n": n, "seed": seed, "perm": torch.randperm(n, generator=g).tolist()})
    with open(OUTPUT, "w") as f:
        json.dump({"torch": torch.__version__, "samplers": samplers, "randperm": perms}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
