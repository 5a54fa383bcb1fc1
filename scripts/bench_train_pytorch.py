"""The PyTorch side of scripts/bench-train.js: d2l's train_batch_ch13 on d2l's BERTClassifier.

Run by bench-train.js with the system interpreter (Debian's python3-torch, 1.13), after its
own measurement:

    /usr/bin/python3 scripts/bench_train_pytorch.py --batches FILE --steps S --warmup W --threads N
        [--devices cpu | cuda:0,cuda:1,...] [--dropout 0.1] [--init STATE_DICT_PT]

FILE is what bench-train.js wrote with torchbridge's save(): a dict with, for each step k (warm-up
steps first), `tokens.k`, `segments.k`, `validLens.k` and `labels.k`, the batches that the
torchbridge side trained on. The model is d2l's bert.small shape, randomly initialised (or, with
--init, loaded from a classifier state dict with load_state_dict(strict=True)), wrapped in
nn.DataParallel on CUDA as d2l's train_ch13 does; Adam lr 1e-4 on net.parameters() and
CrossEntropyLoss(reduction='none'). Each step is d2l's train_batch_ch13 followed by the
Accumulator's float() of the loss sum and of the correct count (which synchronises every step),
timed as d2l's Timer does. Prints one JSON line: the timings, the per-step loss sums and correct
counts, peak RSS (KiB) and, on CUDA, torch.cuda.max_memory_allocated per device (bytes).
"""

import argparse
import json
import os
import resource
import sys
import time
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_bert_fixtures import SMALL_CONFIG, BERTClassifier, BERTModel  # noqa: E402
from gen_train_fixtures import train_batch_ch13  # noqa: E402  (d2l's, verbatim)

warnings.filterwarnings("ignore", message="Lazy modules are a new feature")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batches", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--devices", default="cpu")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--init", default=None)
    return p.parse_args()


def build_classifier(dropout, device, batch):
    """d2l's bert.small-shaped BERTModel (max_len 512) in a BERTClassifier, its lazy layers
    materialised by a forward on one example (bert's mlm and nsp heads, outside the classifier, stay lazy)."""
    bert = BERTModel(**dict(SMALL_CONFIG, dropout=dropout))
    net = BERTClassifier(bert)
    tokens, segments, valid_lens = batch
    with torch.no_grad():
        net((tokens[:1], segments[:1], valid_lens[:1]))
    return net.to(device)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    names = [d.strip() for d in args.devices.split(",")]
    devices = [torch.device(d) for d in names]
    cuda = devices[0].type == "cuda"

    data = torch.load(args.batches)
    total = args.warmup + args.steps
    batches = [([data[f"tokens.{k}"], data[f"segments.{k}"], data[f"validLens.{k}"]], data[f"labels.{k}"])
               for k in range(total)]

    torch.manual_seed(0)
    net = build_classifier(args.dropout, devices[0], batches[0][0])
    if args.init is not None:
        net.load_state_dict(torch.load(args.init), strict=True)
    if cuda:
        # d2l's train_ch13
        net = nn.DataParallel(net, device_ids=devices).to(devices[0])
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.Adam(net.parameters(), lr=1e-4)

    loss_sums, corrects = [], []
    seconds, examples = 0.0, 0
    for k, (X, y) in enumerate(batches):
        if k == args.warmup:
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
        l, acc = train_batch_ch13(net, X, y, loss, trainer, devices)
        # d2l's Accumulator.add: float() of each value
        loss_sums.append(float(l))
        corrects.append(float(acc))
        if k >= args.warmup:
            examples += y.shape[0]
    if args.steps > 0:
        seconds = time.perf_counter() - start

    print(json.dumps({
        "torch": torch.__version__,
        "devices": names,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "warmup": args.warmup,
        "examples": examples,
        "seconds": seconds,
        "examplesPerSec": examples / seconds if seconds > 0 else None,
        "lossSums": loss_sums,
        "corrects": corrects,
        "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "cudaMaxMemoryAllocated": [torch.cuda.max_memory_allocated(d) for d in devices] if cuda else None,
    }))


if __name__ == "__main__":
    main()
