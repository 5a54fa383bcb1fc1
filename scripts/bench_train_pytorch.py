"""The PyTorch side of scripts/bench-train.js: d2l's train_batch_ch13 on d2l's BERTClassifier.

Run by bench-train.js with the system interpreter (Debian's python3-torch, 1.13), after its
own measurement:

    /usr/bin/python3 scripts/bench_train_pytorch.py --batches FILE --steps S --warmup W --threads N
        [--devices cpu | cuda:0,cuda:1,...] [--dropout 0.1] [--init STATE_DICT_PT]
        [--schedule d2l | grouped] [--groups 4] [--attention explicit | sdpa] [--precision float32 | bf16]
        [--profile TOP] [--serve]

FILE is what bench-train.js wrote with torchbridge's save(): a dict with, for each step k (warm-up
steps first), `tokens.k`, `segments.k`, `validLens.k` and `labels.k`, the batches that the
torchbridge side trained on. The model is d2l's bert.small shape, randomly initialised (or, with
--init, loaded from a classifier state dict with load_state_dict(strict=True)), wrapped in
nn.DataParallel on CUDA as d2l's train_ch13 does; Adam lr 1e-4 on net.parameters() and
CrossEntropyLoss(reduction='none'). Each step is d2l's train_batch_ch13 followed by the
Accumulator's float() of the loss sum and of the correct count (which synchronises every step),
timed as d2l's Timer does.

--schedule grouped is what a PyTorch user can do with the tricks torchbridge's default uses, the
same work as its Trainer with lengthGroups: each batch's rows sorted by valid length (stable),
cut into --groups groups (torch.chunk), each trimmed to its longest row, forward and
l.sum().backward() per group (the gradients accumulate), then one Adam step. --attention sdpa
(PyTorch 2.x) replaces d2l's DotProductAttention.forward by F.scaled_dot_product_attention with
the mask of valid keys and dropout_p. --precision bf16 runs the forwards under
torch.autocast(device_type, torch.bfloat16) and the loss in float32, as the Trainer's 'bf16'.
--profile TOP runs the timed steps under torch.profiler (CPU activities) and adds "profile": the
TOP operators by self CPU time, each {name, selfMs, calls, percent}, per timed step (the
profiler's own overhead inflates the total a little, not the shares much).
--serve (scripts/bench-kernels.js, which interleaves this side with its own): after the warm-up
steps, each line "go" on stdin runs the --steps timed steps once more and prints one JSON line
{"seconds", "examples"}; end of input prints the final line ({"maxRssKiB", "torch"}) and exits.
Otherwise prints one JSON line: the timings, the per-step loss sums and correct
counts, peak RSS (KiB) and, on CUDA, torch.cuda.max_memory_allocated per device (bytes).
"""

import argparse
import contextlib
import json
import os
import resource
import sys
import time
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_bert_fixtures import SMALL_CONFIG, BERTClassifier, BERTModel, DotProductAttention  # noqa: E402
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
    p.add_argument("--schedule", choices=["d2l", "grouped"], default="d2l")
    p.add_argument("--groups", type=int, default=4)
    p.add_argument("--attention", choices=["explicit", "sdpa"], default="explicit")
    p.add_argument("--precision", choices=["float32", "bf16"], default="float32")
    p.add_argument("--profile", type=int, default=0, metavar="TOP")
    p.add_argument("--serve", action="store_true")
    return p.parse_args()


def sdpa_forward(self, queries, keys, values, valid_lens=None):
    """d2l's DotProductAttention.forward through F.scaled_dot_product_attention: the keys at
    positions >= valid_len take no part, dropout on the attention weights in training."""
    mask = None
    if valid_lens is not None:
        positions = torch.arange(keys.shape[1], dtype=torch.float32, device=keys.device)
        lens = valid_lens[:, None, None] if valid_lens.dim() == 1 else valid_lens[:, :, None]
        mask = positions[None, None, :] < lens
    return nn.functional.scaled_dot_product_attention(
        queries, keys, values, attn_mask=mask, dropout_p=self.dropout.p if self.training else 0.0)


def train_batch_grouped(net, X, y, loss, trainer, devices, groups, autocast):
    """train_batch_ch13 with the batch run as length groups: the same step, less padding."""
    X = [x.to(devices[0]) for x in X]
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    order = torch.sort(X[2], stable=True).indices
    tokens, segments, valid_lens, labels = X[0][order], X[1][order], X[2][order], y[order]
    loss_sum, correct = 0.0, 0.0
    for t, s, v, label in zip(tokens.chunk(groups), segments.chunk(groups), valid_lens.chunk(groups), labels.chunk(groups)):
        longest = max(int(v.max()), 1)
        with autocast():
            pred = net((t[:, :longest], s[:, :longest], v))
        pred = pred.float()
        l = loss(pred, label)
        l.sum().backward()
        loss_sum = loss_sum + l.sum().detach()
        correct = correct + d2l_accuracy(pred, label)
    trainer.step()
    return loss_sum, correct


def train_batch_bf16(net, X, y, loss, trainer, devices, autocast):
    """train_batch_ch13 with the forward under autocast and the loss in float32."""
    X = [x.to(devices[0]) for x in X]
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    with autocast():
        pred = net(X)
    pred = pred.float()
    l = loss(pred, y)
    l.sum().backward()
    trainer.step()
    return l.sum(), d2l_accuracy(pred, y)


def d2l_accuracy(y_hat, y):
    """d2l.accuracy."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def build_classifier(dropout, device, batch):
    """d2l's bert.small-shaped BERTModel (max_len 512) in a BERTClassifier, its lazy layers
    materialised by a forward on one example (bert's mlm and nsp heads, outside the classifier, stay lazy)."""
    bert = BERTModel(**dict(SMALL_CONFIG, dropout=dropout))
    net = BERTClassifier(bert)
    tokens, segments, valid_lens = batch
    with torch.no_grad():
        net((tokens[:1], segments[:1], valid_lens[:1]))
    return net.to(device)


def top_operators(profiler, top, steps):
    """The `top` operators by self CPU time, per step: [{name, selfMs, calls, percent}]."""
    events = [e for e in profiler.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"name": e.key, "selfMs": e.self_cpu_time_total / 1e3 / steps, "calls": e.count / steps,
             "percent": 100.0 * e.self_cpu_time_total / total} for e in events[:top]]


def serve(args, batches, step, cuda):
    """--serve: the warm-up steps, then the timed steps once per "go" line of stdin."""
    for X, y in batches[:args.warmup]:
        l, acc = step(X, y)
        float(l), float(acc)
    for line in sys.stdin:
        if line.strip() != "go":
            sys.exit(f"--serve: expected 'go' on stdin, got {line.strip()!r}")
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        examples = 0
        for X, y in batches[args.warmup:]:
            l, acc = step(X, y)
            float(l), float(acc)  # d2l's Accumulator.add
            examples += y.shape[0]
        print(json.dumps({"seconds": time.perf_counter() - start, "examples": examples}), flush=True)
    print(json.dumps({"torch": torch.__version__, "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), flush=True)


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

    if args.attention == "sdpa":
        if not hasattr(nn.functional, "scaled_dot_product_attention"):
            sys.exit(f"--attention sdpa needs PyTorch 2.x; this is {torch.__version__}")
        DotProductAttention.forward = sdpa_forward
    device_type = devices[0].type
    if args.precision == "bf16":
        autocast = lambda: torch.autocast(device_type, dtype=torch.bfloat16)  # noqa: E731
    else:
        autocast = contextlib.nullcontext

    torch.manual_seed(0)
    net = build_classifier(args.dropout, devices[0], batches[0][0])
    if args.init is not None:
        net.load_state_dict(torch.load(args.init), strict=True)
    if cuda:
        # d2l's train_ch13
        net = nn.DataParallel(net, device_ids=devices).to(devices[0])
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = torch.optim.Adam(net.parameters(), lr=1e-4)

    def step(X, y):
        if args.schedule == "grouped":
            return train_batch_grouped(net, X, y, loss, trainer, devices, args.groups, autocast)
        if args.precision == "bf16":
            return train_batch_bf16(net, X, y, loss, trainer, devices, autocast)
        return train_batch_ch13(net, X, y, loss, trainer, devices)

    if args.serve:
        serve(args, batches, step, cuda)
        return

    loss_sums, corrects = [], []
    seconds, examples = 0.0, 0
    for k, (X, y) in enumerate(batches):
        if k == args.warmup:
            if cuda:
                torch.cuda.synchronize()
            if args.profile > 0:
                profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
                profiler.__enter__()
            start = time.perf_counter()
        l, acc = step(X, y)
        # d2l's Accumulator.add: float() of each value
        loss_sums.append(float(l))
        corrects.append(float(acc))
        if k >= args.warmup:
            examples += y.shape[0]
    if args.steps > 0:
        seconds = time.perf_counter() - start
    profile = None
    if args.profile > 0 and args.steps > 0:
        profiler.__exit__(None, None, None)
        profile = top_operators(profiler, args.profile, args.steps)

    print(json.dumps({
        "torch": torch.__version__,
        "devices": names,
        "threads": torch.get_num_threads(),
        "schedule": args.schedule,
        "attention": args.attention,
        "precision": args.precision,
        "steps": args.steps,
        "warmup": args.warmup,
        "examples": examples,
        "seconds": seconds,
        "examplesPerSec": examples / seconds if seconds > 0 else None,
        "lossSums": loss_sums,
        "corrects": corrects,
        "maxRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "profile": profile,
        "cudaMaxMemoryAllocated": [torch.cuda.max_memory_allocated(d) for d in devices] if cuda else None,
    }))


if __name__ == "__main__":
    main()
