"""Generate test/fixtures/jit/: TorchScript archives written by Python's torch.jit.save, and what
PyTorch computes with them (test/jit.test.ts loads, runs and trains them).

Run with the system interpreter, which has torch 1.13 (the oldest libtorch torchbridge supports
must read the archives; 2.x reads 1.13's):

    /usr/bin/python3 scripts/gen_jit_fixtures.py

The output is deterministic (fixed seeds; the script re-runs itself with PYTHONHASHSEED=0, which
fixes the order TorchScript prints a class's constants in). Writes:
- traced_mlp.pt: torch.jit.trace of Linear(4, 8) -> Tanh -> Linear(8, 3) (a Python nn.Module);
- scripted_bn.pt: torch.jit.script of a module with BatchNorm1d, a buffer and data-dependent
  control flow (an `if` on the input's mean, which scripting keeps and tracing could not);
- scripted_pair.pt: torch.jit.script of a module with an optional second input (None by default)
  that returns a tuple of two tensors;
- state_dict.pt: a torch.save state dict (torch.jit.load must refuse it with a clear message);
- (every archive without its *.debug_pkl records, which hold this machine's paths)
- jit.json: for each module, the inputs, the outputs in eval mode and in train mode, and the
  parameters and buffers after one SGD step (lr 0.1, momentum 0.9) on CrossEntropyLoss (mean)
  in train mode (the pair module: the outputs only).
"""
import json
import os
import sys
import zipfile
from typing import Optional, Tuple

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_op_fixtures import encode_tensor  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "jit")


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class ScriptedBN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6)
        self.out = nn.Linear(6, 3)
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x):
        h = self.bn(self.fc(x))
        if bool(x.mean() > 0):
            h = torch.relu(h)
        else:
            h = torch.tanh(h)
        return self.out(h) * self.scale


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x, y: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        a = self.fc(x)
        if y is None:
            return a, a.sum(1)
        return a, a.sum(1) + y


def save_without_debug_info(module, path):
    """torch.jit.save, then the archive rewritten without its *.debug_pkl records: they hold the
    source file paths of this machine (torch.jit.load does not need them)."""
    torch.jit.save(module, path)
    with zipfile.ZipFile(path) as archive:
        records = [(info, archive.read(info)) for info in archive.infolist() if not info.filename.endswith(".debug_pkl")]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for info, data in records:
            archive.writestr(info, data)


def state_of(m):
    return {name: encode_tensor(t) for name, t in m.state_dict().items()}


def trained(m, x, labels):
    """One SGD step (lr 0.1, momentum 0.9) on CrossEntropyLoss (mean) in train mode."""
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()(m(x), labels)
    loss.backward()
    opt.step()
    return {"loss": loss.item(), "state": state_of(m)}


def record(name, module, x, labels):
    path = os.path.join(OUT, name + ".pt")
    save_without_debug_info(module, path)
    loaded = torch.jit.load(path)
    entry = {"file": name + ".pt", "input": encode_tensor(x), "labels": encode_tensor(labels), "state": state_of(loaded)}
    loaded.eval()
    with torch.no_grad():
        entry["eval"] = encode_tensor(loaded(x))
    loaded.train()
    with torch.no_grad():
        before = {k: v.clone() for k, v in loaded.state_dict().items()}
        entry["train"] = encode_tensor(loaded(x))
        for k, v in loaded.state_dict().items():  # a train forward updates batch norm's statistics: undo
            v.copy_(before[k])
    entry["step"] = trained(loaded, x, labels)
    return entry


def main():
    # TorchScript prints a class's constants in the order of a Python set: fix the string hashes
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
    os.makedirs(OUT, exist_ok=True)
    out = {"torch": torch.__version__}
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    mlp = MLP()
    out["traced_mlp"] = record("traced_mlp", torch.jit.trace(mlp, (x,)), x, labels)

    torch.manual_seed(1)
    bn = ScriptedBN()
    with torch.no_grad():
        bn.bn.running_mean.uniform_(-0.5, 0.5)
        bn.bn.running_var.uniform_(0.5, 1.5)
    bx = torch.randn(6, 4)
    out["scripted_bn"] = record("scripted_bn", torch.jit.script(bn), bx, labels)
    out["scripted_bn"]["branch"] = "relu" if bool(bx.mean() > 0) else "tanh"

    torch.manual_seed(2)
    pair = torch.jit.script(Pair())
    save_without_debug_info(pair, os.path.join(OUT, "scripted_pair.pt"))
    pair = torch.jit.load(os.path.join(OUT, "scripted_pair.pt"))
    px, py = torch.randn(4, 3), torch.randn(4)
    with torch.no_grad():
        out["scripted_pair"] = {
            "file": "scripted_pair.pt",
            "x": encode_tensor(px),
            "y": encode_tensor(py),
            "withoutY": [encode_tensor(t) for t in pair(px)],
            "withY": [encode_tensor(t) for t in pair(px, py)],
        }

    torch.save(mlp.state_dict(), os.path.join(OUT, "state_dict.pt"))
    with open(os.path.join(OUT, "jit.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
