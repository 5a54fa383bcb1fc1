"""d2l's attention kernel against scaled_dot_product_attention, in PyTorch itself (the same ATen
kernels torchbridge's DotProductAttention calls with --attention explicit and fused):

    <python with torch 2.x> scripts/bench_attention_kernels.py [--threads 2] [--rounds 7]

Forward and backward of one attention call at the bert.small shape (batch 64, 4 heads of 64),
for key lengths 32, 64 and 128 (what trimmed SNLI groups see), in training (dropout 0.1 on the
weights, as d2l applies it) and without dropout. The two kernels alternate, round by round, and
the medians are printed with fused/explicit: below 1 means the fused kernel is faster. d2l's
kernel here draws dropout with PyTorch's serial stream; torchbridge's default Philox masks are
faster still, so a ratio near 1 in training means no gain for torchbridge's default.
"""
import argparse
import math
import time

import torch


def explicit(q, k, v, lens, p):
    # d2l's DotProductAttention: bmm, masked_softmax (fill -1e6), dropout, bmm
    s = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
    shape = s.shape
    flat = s.reshape(-1, shape[-1])
    rows = torch.repeat_interleave(lens, shape[1])
    mask = torch.arange(flat.shape[1], dtype=torch.float32)[None, :] < rows[:, None]
    w = torch.softmax(flat.masked_fill(~mask, -1e6).reshape(shape), -1)
    return torch.bmm(torch.nn.functional.dropout(w, p, True), v)


def fused(q, k, v, lens, p):
    mask = torch.arange(k.shape[1], dtype=torch.float32).view(1, 1, -1) < lens.view(-1, 1, 1)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--rounds', type=int, default=7)
    ap.add_argument('--calls', type=int, default=5)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    batch, heads, head_dim = 64, 4, 64
    print(f'torch {torch.__version__}, {args.threads} threads, {args.rounds} alternating rounds of {args.calls} calls')
    for length in (32, 64, 128):
        q, k, v = (torch.randn(batch * heads, length, head_dim, requires_grad=True) for _ in range(3))
        lens = torch.randint(length // 2, length + 1, (batch * heads,))
        for p in (0.1, 0.0):
            times = {'explicit': [], 'fused': []}
            for r in range(args.rounds):
                order = (('explicit', explicit), ('fused', fused)) if r % 2 else (('fused', fused), ('explicit', explicit))
                for name, f in order:
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        f(q, k, v, lens, p).sum().backward()
                    times[name].append((time.perf_counter() - start) / args.calls)
            e = sorted(times['explicit'])[args.rounds // 2]
            f_ = sorted(times['fused'])[args.rounds // 2]
            mode = 'train (dropout 0.1)' if p else 'no dropout'
            print(f'keys {length:4d}, {mode:19s}: explicit {e * 1e3:7.1f} ms, fused {f_ * 1e3:7.1f} ms, fused/explicit {f_ / e:.2f}')


if __name__ == '__main__':
    main()
