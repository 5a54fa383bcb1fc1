"""Generate test/fixtures/nn/losses.json: what PyTorch's functional losses compute.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_loss_fixtures.py

(`TORCHBRIDGE_PYTHON=/path/to/venv/bin/python` runs it against another torch; the output is
deterministic. Measured 2026-12-02: torch 2.11 writes the same fixture as 1.13 except for
binary_cross_entropy_with_logits, whose CPU formula changed in 2.x: up to 2e-5 relative, 3e-7
absolute, on losses near 0.003; the tests' float32 tolerance, 1e-5 relative plus 1e-6 absolute,
holds for both.)

Each case: `fn` (torchbridge's function name), `input`, `target`, `options` (torchbridge's option
names; tensors encoded as the other tensors), what F.* returned (`output`), `w`, and the gradients
of (output * w).sum() with respect to the input (`inputGrad`) and, for the regression losses, the
target (`targetGrad`; null where PyTorch does not differentiate the target). Cases with a target
of another size than the input record PyTorch's warning (`warns`: true; the output is computed on
both broadcast) or PyTorch's error (`error`: its message; no output).
F.cross_entropy's own cases are in loss.json (gen_nn_fixtures.py).
"""
import json
import os
import sys
import warnings
import zlib

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_op_fixtures import encode_tensor  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "nn", "losses.json")

f32, f64 = torch.float32, torch.float64


def randn(seed, *shape, dtype=f32):
    torch.manual_seed(seed)
    return torch.randn(shape, dtype=f64).to(dtype)


def rand(seed, *shape, dtype=f32):
    torch.manual_seed(seed)
    return torch.rand(shape, dtype=f64).to(dtype)


def seed_of(name):
    return zlib.crc32(name.encode()) % 100000


FUNCTIONS = {
    "mseLoss": lambda i, t, o: F.mse_loss(i, t, reduction=o.get("reduction", "mean")),
    "l1Loss": lambda i, t, o: F.l1_loss(i, t, reduction=o.get("reduction", "mean")),
    "smoothL1Loss": lambda i, t, o: F.smooth_l1_loss(i, t, reduction=o.get("reduction", "mean"), beta=o.get("beta", 1.0)),
    "huberLoss": lambda i, t, o: F.huber_loss(i, t, reduction=o.get("reduction", "mean"), delta=o.get("delta", 1.0)),
    "binaryCrossEntropy": lambda i, t, o: F.binary_cross_entropy(i, t, weight=o.get("weight"), reduction=o.get("reduction", "mean")),
    "binaryCrossEntropyWithLogits": lambda i, t, o: F.binary_cross_entropy_with_logits(
        i, t, weight=o.get("weight"), pos_weight=o.get("posWeight"), reduction=o.get("reduction", "mean")),
    "nllLoss": lambda i, t, o: F.nll_loss(i, t, weight=o.get("weight"), reduction=o.get("reduction", "mean"),
                                          ignore_index=o.get("ignoreIndex", -100)),
}
REGRESSION = {"mseLoss", "l1Loss", "smoothL1Loss", "huberLoss"}


def case(name, fn, input, target, dtype=f32, **options):
    input = input.to(dtype).detach().clone().requires_grad_(True)
    differentiable_target = fn in REGRESSION
    if target.dtype.is_floating_point:
        target = target.to(dtype).detach().clone().requires_grad_(differentiable_target)
    options = {k: (v.to(dtype) if isinstance(v, torch.Tensor) else v) for k, v in options.items()}
    encoded_options = {k: (encode_tensor(v) if isinstance(v, torch.Tensor) else v) for k, v in options.items()}
    out = {"name": name, "fn": fn, "input": encode_tensor(input), "target": encode_tensor(target), "options": encoded_options}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = FUNCTIONS[fn](input, target, options)
        except (ValueError, RuntimeError) as e:
            out["error"] = str(e)
            return out
    out["warns"] = any("different to the input size" in str(w.message) for w in caught)
    w = randn(seed_of(name), *value.shape, dtype=dtype)
    (value * w).sum().backward()
    out.update({
        "output": encode_tensor(value),
        "w": encode_tensor(w),
        "inputGrad": encode_tensor(input.grad),
        "targetGrad": encode_tensor(target.grad) if differentiable_target and target.grad is not None else None,
    })
    return out


def cases():
    out = []
    x = randn(1, 4, 3) * 2
    y = randn(2, 4, 3) * 2
    for fn in ["mseLoss", "l1Loss"]:
        for reduction in ["none", "mean", "sum"]:
            out.append(case(f"{fn} {reduction}", fn, x, y, reduction=reduction))
        out.append(case(f"{fn} float64", fn, x, y, dtype=f64))
        out.append(case(f"{fn} broadcast target", fn, randn(3, 5, 1), randn(4, 5)))
    for reduction in ["none", "mean", "sum"]:
        out.append(case(f"smoothL1Loss {reduction}", "smoothL1Loss", x, y, reduction=reduction))
        out.append(case(f"huberLoss {reduction}", "huberLoss", x, y, reduction=reduction))
    for beta in [0.0, 0.5, 3.0]:
        out.append(case(f"smoothL1Loss beta={beta}", "smoothL1Loss", x, y, reduction="none", beta=beta))
    for delta in [0.5, 3.0]:
        out.append(case(f"huberLoss delta={delta}", "huberLoss", x, y, reduction="none", delta=delta))
    out.append(case("huberLoss broadcast target", "huberLoss", randn(5, 6, 1), randn(6, 6)))
    out.append(case("smoothL1Loss float64", "smoothL1Loss", x, y, dtype=f64, beta=0.7))

    probs = rand(7, 5, 3) * 0.98 + 0.01
    labels = (rand(8, 5, 3) > 0.5).to(f32)
    soft = rand(9, 5, 3)
    logits = randn(10, 5, 3) * 3
    for reduction in ["none", "mean", "sum"]:
        out.append(case(f"binaryCrossEntropy {reduction}", "binaryCrossEntropy", probs, labels, reduction=reduction))
        out.append(case(f"binaryCrossEntropyWithLogits {reduction}", "binaryCrossEntropyWithLogits", logits, labels, reduction=reduction))
    out.append(case("binaryCrossEntropy soft targets", "binaryCrossEntropy", probs, soft))
    out.append(case("binaryCrossEntropy weight", "binaryCrossEntropy", probs, labels, reduction="none", weight=rand(11, 5, 3) * 2))
    out.append(case("binaryCrossEntropy weight broadcast", "binaryCrossEntropy", probs, labels, weight=rand(12, 3) * 2))
    out.append(case("binaryCrossEntropy saturated", "binaryCrossEntropy", torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0, 1.0]), reduction="none"))
    out.append(case("binaryCrossEntropy float64", "binaryCrossEntropy", probs, labels, dtype=f64))
    out.append(case("binaryCrossEntropy size mismatch", "binaryCrossEntropy", probs, labels.reshape(15)))
    out.append(case("binaryCrossEntropyWithLogits soft targets", "binaryCrossEntropyWithLogits", logits, soft))
    out.append(case("binaryCrossEntropyWithLogits posWeight", "binaryCrossEntropyWithLogits", logits, labels, reduction="none",
                    posWeight=torch.tensor([0.5, 2.0, 4.0])))
    out.append(case("binaryCrossEntropyWithLogits weight and posWeight", "binaryCrossEntropyWithLogits", logits, labels, weight=rand(13, 5, 3),
                    posWeight=torch.tensor([3.0, 1.0, 0.25])))
    out.append(case("binaryCrossEntropyWithLogits large logits", "binaryCrossEntropyWithLogits", torch.tensor([-120.0, -30.0, 0.0, 30.0, 120.0]),
                    torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0]), reduction="none"))
    out.append(case("binaryCrossEntropyWithLogits float64", "binaryCrossEntropyWithLogits", logits, soft, dtype=f64))
    out.append(case("binaryCrossEntropyWithLogits size mismatch", "binaryCrossEntropyWithLogits", logits.reshape(15, 1), labels.reshape(15)))

    logp = F.log_softmax(randn(14, 6, 4) * 2, dim=1)
    classes = torch.tensor([0, 3, 1, 2, 3, 0])
    ignored = torch.tensor([0, -100, 1, 2, 7, 0])
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0])
    for reduction in ["none", "mean", "sum"]:
        out.append(case(f"nllLoss {reduction}", "nllLoss", logp, classes, reduction=reduction))
        out.append(case(f"nllLoss weight {reduction}", "nllLoss", logp, classes, reduction=reduction, weight=weight))
    out.append(case("nllLoss ignoreIndex default", "nllLoss", logp, torch.tensor([0, -100, 1, 2, 3, -100])))
    out.append(case("nllLoss ignoreIndex 7", "nllLoss", logp, ignored.masked_fill(ignored == -100, 3), ignoreIndex=7, weight=weight))
    out.append(case("nllLoss [N, C, d]", "nllLoss", F.log_softmax(randn(15, 3, 4, 5), dim=1), torch.tensor([[0, 1, 2, 3, 1], [3, 3, 0, 1, 2], [2, 0, 0, 1, 3]])))
    out.append(case("nllLoss unbatched", "nllLoss", F.log_softmax(randn(16, 4), dim=0), torch.tensor(2)))
    out.append(case("nllLoss float64", "nllLoss", logp, classes, dtype=f64, weight=weight))
    return out


def main():
    data = cases()
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w") as f:
        json.dump({"torch": torch.__version__.split("+")[0], "cases": data}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(data)} cases to {os.path.relpath(OUTPUT)}")


if __name__ == "__main__":
    main()
