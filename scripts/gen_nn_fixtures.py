"""Generate test/fixtures/nn/: what PyTorch computes for nn modules, optimizers and cross-entropy.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_nn_fixtures.py

Writes, deterministically:

- `modules.json`: {"forward": [...], "init": [...], "architectures": [...], "repr": {...}}.
  forward cases: a module `spec`, its weights (`weights`: a state dict file in this directory
  that torch.save wrote; null for modules without parameters), the `input`, the `mode`
  ("eval" or "train"), `seed` (torch.manual_seed right before the forward; train mode only),
  `w`, and what PyTorch computed: `output`, `grads` (parameter name -> gradient of
  (output * w).sum()) and `inputGrad` (null for integer inputs).
  init cases: torch.manual_seed(seed), then the constructors of `specs` in order (LazyLinear
  followed by a forward of `lazyInput`), then torch.randn(`after`): every parameter, by module
  index and name, and the random numbers drawn afterwards (so the generator stream advanced
  alike).
  architectures: PyTorch's named_parameters() names and shapes, state_dict() keys and the
  parameter count of module specs; repr: PyTorch's repr(module) of a spec holding every layer;
  loadErrors: what load_state_dict says (error message, or missing and unexpected keys) for
  state dicts with keys removed, added or of other shapes.
- `loss.json`: F.cross_entropy cases: logits, target, options (torchbridge's names), output,
  `w` and the gradients of (output * w).sum() with respect to the logits and (class
  probabilities) the target.
- `optim.json`: training runs of 20 steps from the weights in `<model>_init.pt` on the batches
  of `data`: per-step losses, final parameters, the optimizer's final state_dict() (state as
  {index: {name: tensor | null}}, param_groups as PyTorch writes them); runs with `resume`
  also have `<run>_model10.pt` and `<run>_optim10.pt` (the model's and the optimizer's state
  dicts after step 10).

- `layers.json`: the same kinds of cases for the convolution, pooling, normalisation and shape
  layers and the containers ModuleList and ModuleDict: {"forward", "init", "architectures",
  "repr", "moduleList"}. Forward cases also give buffers random values before saving the
  weights (a BatchNorm's running statistics, its num_batches_tracked 5), may run `warmup` inputs
  through the module in train mode (no grad) before the measured forward, and record
  `stateDictKeys` and `buffersAfter` (every buffer after the measured forward). Init cases may
  give `dtype` (the constructors' dtype argument) and record the buffers too. `moduleList`:
  structures built by ModuleList/ModuleDict operations (append, extend, insert, item
  assignment), with PyTorch's repr and state_dict() keys afterwards.
- `clip_grad.json`: torch.nn.utils.clip_grad_norm_ and clip_grad_value_ on parameters with
  the given gradients (null: no gradient): the returned total norm and the gradients afterwards,
  or the error message. Non-finite numbers (normType inf) are the strings "inf", "-inf", "nan".

Module specs are JSON: {"type": "Linear", "in": 4, "out": 3, "bias"?: bool}, {"type":
"LazyLinear", "out": 3, "bias"?}, {"type": "Embedding", "num": 10, "dim": 4, "paddingIdx"?},
{"type": "LayerNorm", "shape": [4], "eps"?, "affine"?}, {"type": "Dropout", "p"?}, {"type":
"ReLU"}, {"type": "Tanh"}, {"type": "GELU", "approximate"?}, {"type": "Sequential", "children":
[...]}, {"type": "Block"} (the container in make_module); for layers.json also {"type": "Conv1d" |
"Conv2d", "in", "out", "kernel", "stride"?, "padding"? (sizes, "same" or "valid"), "dilation"?,
"groups"?, "bias"?, "paddingMode"?}, {"type": "MaxPool2d", "kernel", "stride"?, "padding"?,
"dilation"?, "ceilMode"?}, {"type": "AvgPool2d", "kernel", "stride"?, "padding"?, "ceilMode"?,
"countIncludePad"?, "divisorOverride"?}, {"type": "BatchNorm1d" | "BatchNorm2d", "num", "eps"?,
"momentum"? (null: cumulative average), "affine"?, "track"?}, {"type": "Flatten", "start"?,
"end"?}, {"type": "Identity"}, {"type": "Sigmoid"}, {"type": "Softmax", "dim"}, {"type":
"ModuleList", "children": [...]}, {"type": "ModuleDict", "entries": [[key, spec], ...]} and
{"type": "Stack"} (the container in make_module whose forward loops over a ModuleList). Sizes are
a number or a list, which PyTorch gets as a tuple (torchbridge's arrays stand for tuples). Omitted
keys take the constructors' defaults on both sides.

The test suite also runs this script in check-state mode, to check that PyTorch loads the state
dicts torchbridge saves:

    /usr/bin/python3 scripts/gen_nn_fixtures.py check-state SPEC_JSON STATE_DICT_PT

builds the module of the spec, loads the file with torch.load(weights_only=True) and a strict
load_state_dict, and prints its state_dict() as JSON ({"keys": [...], "tensors": {name: tensor}}).

The test suite also runs this script in resume mode, to check that PyTorch continues a run from
state dicts torchbridge saved:

    /usr/bin/python3 scripts/gen_nn_fixtures.py resume RUN MODEL_PT OPTIM_PT

loads both into a fresh model and optimizer of run RUN (strict load_state_dict), runs steps
10..19 and prints {"losses": [...], "params": {name: [values]}} as JSON.

Tensors are encoded as in scripts/gen_op_fixtures.py ({dtype, shape, values}, floats with the
fewest digits that read back to the same float32 / float64).
"""

import collections
import json
import math
import os
import sys
import warnings
import zlib

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_op_fixtures import encode_tensor  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "nn")

# Lazy modules warn that they are new; the warning says nothing about the values.
warnings.filterwarnings("ignore", message="Lazy modules are a new feature")

f32, f64 = torch.float32, torch.float64


def randn(seed, *shape, dtype=f32):
    torch.manual_seed(seed)
    return torch.randn(shape, dtype=f64).to(dtype)


def seed_of(name):
    return zlib.crc32(name.encode()) % 100000


# ---- modules from specs --------------------------------------------------------------------


class Block(nn.Module):
    """A container with its own forward: head(body(x) * scale), `scale` registered between children."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 6), nn.GELU())
        self.scale = nn.Parameter(torch.ones(6))
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.body(x) * self.scale)


class Stack(nn.Module):
    """A container whose forward loops over a ModuleList: each layer, `norm` after the first, then
    acts["hidden"] (acts["out"] after the last layer)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 3)])
        self.acts = nn.ModuleDict({"hidden": nn.Tanh(), "out": nn.Sigmoid()})
        self.norm = nn.BatchNorm1d(6)

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k == 0:
                x = self.norm(x)
            x = self.acts["hidden" if k < len(self.layers) - 1 else "out"](x)
        return x


def size(value):
    """A size of a spec as PyTorch takes it: a number, or a tuple (a list would print as a list)."""
    return tuple(value) if isinstance(value, list) else value


def make_module(spec, dtype=None):
    """The module of a spec; `dtype` is the constructors' dtype argument (layers with parameters)."""
    kind = spec["type"]
    factory = {} if dtype is None else {"dtype": dtype}
    if kind == "Linear":
        return nn.Linear(spec["in"], spec["out"], bias=spec.get("bias", True), **factory)
    if kind == "LazyLinear":
        return nn.LazyLinear(spec["out"], bias=spec.get("bias", True))
    if kind == "Embedding":
        return nn.Embedding(spec["num"], spec["dim"], padding_idx=spec.get("paddingIdx"))
    if kind == "LayerNorm":
        return nn.LayerNorm(spec["shape"], eps=spec.get("eps", 1e-5), elementwise_affine=spec.get("affine", True))
    if kind == "Dropout":
        return nn.Dropout(spec.get("p", 0.5))
    if kind == "ReLU":
        return nn.ReLU()
    if kind == "Tanh":
        return nn.Tanh()
    if kind == "GELU":
        return nn.GELU(approximate=spec.get("approximate", "none"))
    if kind in ("Conv1d", "Conv2d"):
        cls = nn.Conv1d if kind == "Conv1d" else nn.Conv2d
        return cls(spec["in"], spec["out"], size(spec["kernel"]), stride=size(spec.get("stride", 1)),
                   padding=size(spec.get("padding", 0)), dilation=size(spec.get("dilation", 1)), groups=spec.get("groups", 1),
                   bias=spec.get("bias", True), padding_mode=spec.get("paddingMode", "zeros"), **factory)
    if kind == "MaxPool2d":
        return nn.MaxPool2d(size(spec["kernel"]), stride=size(spec.get("stride")), padding=size(spec.get("padding", 0)),
                            dilation=size(spec.get("dilation", 1)), ceil_mode=spec.get("ceilMode", False))
    if kind == "AvgPool2d":
        return nn.AvgPool2d(size(spec["kernel"]), stride=size(spec.get("stride")), padding=size(spec.get("padding", 0)),
                            ceil_mode=spec.get("ceilMode", False), count_include_pad=spec.get("countIncludePad", True),
                            divisor_override=spec.get("divisorOverride"))
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        cls = nn.BatchNorm1d if kind == "BatchNorm1d" else nn.BatchNorm2d
        return cls(spec["num"], eps=spec.get("eps", 1e-5), momentum=spec.get("momentum", 0.1), affine=spec.get("affine", True),
                   track_running_stats=spec.get("track", True), **factory)
    if kind == "Flatten":
        return nn.Flatten(spec.get("start", 1), spec.get("end", -1))
    if kind == "Identity":
        return nn.Identity()
    if kind == "Sigmoid":
        return nn.Sigmoid()
    if kind == "Softmax":
        return nn.Softmax(dim=spec["dim"])
    if kind == "Sequential":
        return nn.Sequential(*[make_module(c, dtype) for c in spec["children"]])
    if kind == "ModuleList":
        return nn.ModuleList([make_module(c, dtype) for c in spec["children"]])
    if kind == "ModuleDict":
        return nn.ModuleDict(collections.OrderedDict((key, make_module(c, dtype)) for key, c in spec["entries"]))
    if kind == "Block":
        return Block()
    if kind == "Stack":
        return Stack()
    raise ValueError(f"unknown module type {kind}")


def has_lazy(spec):
    return spec["type"] == "LazyLinear" or any(has_lazy(c) for c in spec.get("children", []))


def save_state_dict(module, name):
    path = os.path.join(OUTPUT, name)
    torch.save(module.state_dict(), path)
    return name


# ---- forward and gradients -----------------------------------------------------------------

L = lambda i, o, **kw: dict({"type": "Linear", "in": i, "out": o}, **kw)  # noqa: E731
LAZY = lambda o, **kw: dict({"type": "LazyLinear", "out": o}, **kw)  # noqa: E731
EMB = lambda n, d, **kw: dict({"type": "Embedding", "num": n, "dim": d}, **kw)  # noqa: E731
LN = lambda shape, **kw: dict({"type": "LayerNorm", "shape": shape}, **kw)  # noqa: E731
DROP = lambda p=None: {"type": "Dropout"} if p is None else {"type": "Dropout", "p": p}  # noqa: E731
RELU, TANH = {"type": "ReLU"}, {"type": "Tanh"}
GELU = lambda a=None: {"type": "GELU"} if a is None else {"type": "GELU", "approximate": a}  # noqa: E731
SEQ = lambda *children: {"type": "Sequential", "children": list(children)}  # noqa: E731
BLOCK = {"type": "Block"}


def forward_case(name, spec, x, mode="eval", seed=None, dtype=f32):
    """Builds `spec`, gives every parameter random values, saves them, and records forward and gradients."""
    torch.manual_seed(seed_of(name))
    module = make_module(spec).to(dtype)
    if has_lazy(spec):
        with torch.no_grad():
            module(x)
    with torch.no_grad():
        for k, p in enumerate(module.parameters()):
            p.copy_(randn(seed_of(name) + k + 1, *p.shape, dtype=dtype))
    weights = None
    if any(True for _ in module.parameters()):
        weights = save_state_dict(module, "module_" + name.replace("/", "_") + ".pt")
    module.train(mode == "train")
    x = x.detach().clone()
    if x.dtype.is_floating_point:
        x.requires_grad_(True)
    if seed is not None:
        torch.manual_seed(seed)
    out = module(x)
    w = randn(seed_of(name) + 1000, *out.shape, dtype=dtype)
    (out * w).sum().backward()
    entry = {
        "name": name,
        "spec": spec,
        "dtype": "float64" if dtype == f64 else "float32",
        "weights": weights,
        "mode": mode,
        "input": encode_tensor(x),
        "w": encode_tensor(w),
        "output": encode_tensor(out),
        "grads": {n: encode_tensor(p.grad) for n, p in module.named_parameters()},
        "inputGrad": encode_tensor(x.grad) if x.dtype.is_floating_point else None,
    }
    if seed is not None:
        entry["seed"] = seed
    return entry


def forward_cases():
    x4 = randn(1, 5, 4)
    ids = torch.tensor([[0, 3, 9, 3, 1], [2, 2, 7, 0, 5], [9, 8, 2, 4, 6]])
    act = randn(2, 3, 5) * 2
    seq = SEQ(L(6, 8), LN([8]), GELU(), DROP(0.2), L(8, 4), TANH, L(4, 2, bias=False))
    return [
        forward_case("linear", L(4, 3), x4),
        forward_case("linear/no_bias", L(4, 3, bias=False), randn(3, 2, 3, 4)),
        forward_case("lazy_linear", LAZY(3), x4),
        forward_case("lazy_linear/no_bias", LAZY(2, bias=False), randn(4, 3, 7)),
        forward_case("embedding", EMB(10, 4), ids),
        forward_case("embedding/padding_idx", EMB(10, 4, paddingIdx=2), ids),
        forward_case("embedding/negative_padding_idx", EMB(10, 4, paddingIdx=-1), ids),
        forward_case("layer_norm", LN([6]), randn(5, 4, 6) * 3 + 1),
        forward_case("layer_norm/no_affine", LN([6], affine=False), randn(6, 4, 6)),
        forward_case("layer_norm/multi_dim", LN([3, 4]), randn(7, 2, 3, 4)),
        forward_case("layer_norm/eps", LN([5], eps=1e-2), randn(8, 3, 5) * 0.05),
        forward_case("dropout/eval", DROP(0.3), act),
        forward_case("dropout/train", DROP(0.3), randn(9, 6, 7), mode="train", seed=11),
        forward_case("dropout/train_default_p", DROP(), randn(10, 40), mode="train", seed=12),
        forward_case("relu", RELU, act),
        forward_case("tanh", TANH, act),
        forward_case("gelu", GELU(), act),
        forward_case("gelu/tanh", GELU("tanh"), act),
        forward_case("sequential", seq, randn(11, 5, 6)),
        forward_case("sequential/train", seq, randn(11, 5, 6), mode="train", seed=13),
        forward_case("sequential/nested", SEQ(EMB(12, 6, paddingIdx=0), SEQ(L(6, 6), RELU), LN([6]), LAZY(3)),
                     torch.tensor([[0, 1, 11], [5, 0, 3]])),
        forward_case("sequential/float64", SEQ(L(5, 4), GELU("tanh"), LN([4]), L(4, 3)), randn(12, 6, 5, dtype=f64),
                     dtype=f64),
        forward_case("block", BLOCK, randn(13, 3, 4)),
    ]


# ---- initialisation ------------------------------------------------------------------------


def init_case(name, seed, specs, lazy_input=None, dtype=None):
    torch.manual_seed(seed)
    modules = []
    for spec in specs:
        m = make_module(spec) if dtype is None else nn.Linear(spec["in"], spec["out"], bias=spec.get("bias", True),
                                                              dtype=dtype)
        if spec["type"] == "LazyLinear":
            m(lazy_input)
        modules.append(m)
    after = torch.randn(5)
    entry = {
        "name": name,
        "seed": seed,
        "specs": specs,
        "params": [{n: encode_tensor(p) for n, p in m.named_parameters()} for m in modules],
        "after": encode_tensor(after),
    }
    if lazy_input is not None:
        entry["lazyInput"] = encode_tensor(lazy_input)
    if dtype is not None:
        entry["dtype"] = "float64"
    return entry


def init_cases():
    out = []
    for seed in (0, 1, 42):
        out.append(init_case(f"linear/seed{seed}", seed, [L(5, 3), L(7, 2, bias=False)]))
        out.append(init_case(f"embedding/seed{seed}", seed, [EMB(6, 3), EMB(6, 3, paddingIdx=4), EMB(5, 2, paddingIdx=-2)]))
        out.append(init_case(f"lazy_linear/seed{seed}", seed, [LAZY(4), LAZY(3, bias=False)], lazy_input=torch.zeros(2, 5)))
        out.append(init_case(f"layer_norm/seed{seed}", seed, [LN([2, 3]), LN([4], affine=False)]))
        out.append(init_case(f"sequential/seed{seed}", seed, [SEQ(L(3, 4), RELU, EMB(5, 4), LN([4]), L(4, 2))]))
    # PyTorch draws float64 parameters in float64 (53 random bits each).
    out.append(init_case("linear/float64", 3, [L(5, 3)], dtype=f64))
    return out


# ---- module structure ----------------------------------------------------------------------

REPR_SPEC = SEQ(
    L(4, 8), L(8, 8, bias=False), LAZY(5), LAZY(2, bias=False), EMB(10, 3, paddingIdx=0), EMB(7, 2),
    EMB(9, 2, paddingIdx=-1), LN([5]), LN([2, 5], eps=1e-3, affine=False), LN([3], eps=1e-6), DROP(0.1), DROP(),
    DROP(0.25), DROP(0.0), RELU, TANH, GELU(), GELU("tanh"), SEQ(L(5, 2), RELU, SEQ(DROP(0.75))))


LOAD_ERROR_SPEC = SEQ(L(4, 8), RELU, LN([8]), DROP(0.1), L(8, 3, bias=False))


def load_error_case(name, strict, remove=(), add=(), reshape=()):
    """PyTorch's load_state_dict of a state dict of LOAD_ERROR_SPEC with keys removed, added (zeros of
    a shape, in order) and given other shapes (zeros): the error message, or the missing and
    unexpected keys it returns."""
    torch.manual_seed(1)
    source = collections.OrderedDict(make_module(LOAD_ERROR_SPEC).state_dict())
    for key in remove:
        del source[key]
    for key, shape in reshape:
        source[key] = torch.zeros(shape)
    for key, shape in add:
        source[key] = torch.zeros(shape)
    torch.manual_seed(0)
    target = make_module(LOAD_ERROR_SPEC)
    entry = {"name": name, "strict": strict, "remove": list(remove), "add": [[k, list(s)] for k, s in add],
             "reshape": [[k, list(s)] for k, s in reshape]}
    try:
        result = target.load_state_dict(source, strict=strict)
        entry["missingKeys"] = list(result.missing_keys)
        entry["unexpectedKeys"] = list(result.unexpected_keys)
    except RuntimeError as e:
        entry["message"] = str(e)
    return entry


def load_errors():
    everything = dict(remove=["0.bias", "2.weight"], add=[("extra.weight", (2,)), ("5.bias", (3,))],
                      reshape=[("4.weight", (3, 7)), ("2.bias", (9,))])
    return {
        "spec": LOAD_ERROR_SPEC,
        "cases": [
            load_error_case("strict/everything", True, **everything),
            load_error_case("non_strict/everything", False, **everything),
            load_error_case("strict/missing", True, remove=["4.weight", "0.weight", "2.bias"]),
            load_error_case("strict/unexpected", True, add=[("1.weight", (8,)), ("0.running_mean", (8,))]),
            load_error_case("strict/shape", True, reshape=[("0.weight", (4, 8))]),
            load_error_case("non_strict/keys", False, remove=["2.bias"], add=[("extra.weight", (2,))]),
        ],
    }


def describe_architectures(specs):
    """PyTorch's repr, named_parameters() names and shapes, state_dict() keys and parameter count
    of each module spec, built after manual_seed(0)."""
    out = []
    for name, spec in specs.items():
        torch.manual_seed(0)
        m = make_module(spec)
        out.append({
            "name": name,
            "spec": spec,
            "repr": repr(m),
            "namedParameters": [[n, list(p.shape)] for n, p in m.named_parameters()],
            "stateDictKeys": list(m.state_dict().keys()),
            "numParameters": sum(p.numel() for p in m.parameters()),
        })
    return out


def architectures():
    specs = {
        "mlp": SEQ(L(4, 8), RELU, LN([8]), DROP(0.1), L(8, 3, bias=False)),
        "nested": SEQ(EMB(12, 6, paddingIdx=0), SEQ(L(6, 6), GELU(), SEQ(L(6, 2))), LN([2], affine=False), TANH),
        "block": BLOCK,
    }
    return describe_architectures(specs)


# ---- cross-entropy -------------------------------------------------------------------------


def loss_case(name, logits, target, dtype=f32, **options):
    logits = logits.to(dtype).detach().clone().requires_grad_(True)
    if target.dtype.is_floating_point:
        target = target.to(dtype).detach().clone().requires_grad_(True)
    weight = options.get("weight")
    if weight is not None:
        weight = weight.to(dtype)
    out = F.cross_entropy(logits, target, weight=weight, reduction=options.get("reduction", "mean"),
                          ignore_index=options.get("ignoreIndex", -100), label_smoothing=options.get("labelSmoothing", 0.0))
    w = randn(seed_of(name), *out.shape, dtype=dtype)
    (out * w).sum().backward()
    encoded_options = {k: v for k, v in options.items() if k != "weight"}
    if weight is not None:
        encoded_options["weight"] = encode_tensor(weight)
    return {
        "name": name,
        "logits": encode_tensor(logits),
        "target": encode_tensor(target),
        "options": encoded_options,
        "output": encode_tensor(out),
        "w": encode_tensor(w),
        "logitsGrad": encode_tensor(logits.grad),
        "targetGrad": encode_tensor(target.grad) if target.dtype.is_floating_point else None,
    }


def loss_cases():
    logits = randn(20, 6, 5) * 2
    target = torch.tensor([0, 4, 2, 1, 2, 3])
    ignored_default = torch.tensor([0, -100, 2, 1, -100, 3])
    class_weight = torch.tensor([0.5, 2.0, 1.0, 0.25, 1.5])
    probs = torch.softmax(randn(21, 6, 5) * 2, dim=1)
    logits3 = randn(22, 4, 5, 3)
    target3 = torch.tensor([[0, 1, 4], [2, 2, 3], [4, 0, 1], [3, 3, 0]])
    probs3 = torch.softmax(randn(23, 4, 5, 3), dim=1)
    cases = []
    for r in ("none", "mean", "sum"):
        cases += [
            loss_case(f"{r}/basic", logits, target, reduction=r),
            loss_case(f"{r}/ignore_default", logits, ignored_default, reduction=r),
            loss_case(f"{r}/ignore_index", logits, target, reduction=r, ignoreIndex=2),
            loss_case(f"{r}/label_smoothing", logits, target, reduction=r, labelSmoothing=0.1),
            loss_case(f"{r}/label_smoothing_ignore", logits, target, reduction=r, labelSmoothing=0.2, ignoreIndex=1),
            loss_case(f"{r}/weight", logits, target, reduction=r, weight=class_weight),
            loss_case(f"{r}/weight_ignore_smoothing", logits, target, reduction=r, weight=class_weight, ignoreIndex=2,
                      labelSmoothing=0.3),
            loss_case(f"{r}/probabilities", logits, probs, reduction=r),
            loss_case(f"{r}/probabilities_smoothing", logits, probs, reduction=r, labelSmoothing=0.15),
            loss_case(f"{r}/probabilities_weight", logits, probs, reduction=r, weight=class_weight),
            loss_case(f"{r}/3d", logits3, target3, reduction=r),
            loss_case(f"{r}/3d_weight_ignore_smoothing", logits3, target3, reduction=r, weight=class_weight,
                      ignoreIndex=0, labelSmoothing=0.1),
            loss_case(f"{r}/3d_probabilities", logits3, probs3, reduction=r, labelSmoothing=0.05),
            loss_case(f"{r}/unbatched", logits[0], torch.tensor(3), reduction=r),
        ]
    cases += [
        loss_case("mean/all_ignored", logits, torch.full((6,), -100), reduction="mean"),
        loss_case("sum/all_ignored", logits, torch.full((6,), 4), reduction="sum", ignoreIndex=4),
        loss_case("mean/basic/float64", logits, target, dtype=f64),
        loss_case("none/label_smoothing/float64", logits, target, dtype=f64, reduction="none", labelSmoothing=0.1),
        loss_case("mean/weight_ignore_smoothing/float64", logits, target, dtype=f64, weight=class_weight, ignoreIndex=2,
                  labelSmoothing=0.3),
        loss_case("sum/probabilities/float64", logits, probs, dtype=f64, reduction="sum"),
        loss_case("mean/3d/float64", logits3, target3, dtype=f64),
    ]
    return cases


# ---- training runs -------------------------------------------------------------------------

STEPS = 20
RESUME_AT = 10
BATCH = 8


class StaleNet(nn.Module):
    """out(h) with h = tanh(l1(x)), plus relu(extra(h)) on even steps only; `unused` never runs."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 8)
        self.extra = nn.Linear(8, 8)
        self.unused = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x, step):
        h = torch.tanh(self.l1(x))
        if step % 2 == 0:
            h = h + torch.relu(self.extra(h))
        return self.out(h)


def make_model(name):
    torch.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    if name == "stale":
        return StaleNet()
    raise ValueError(name)


def model_forward(model_name, model, x, step):
    return model(x, step) if model_name == "stale" else model(x)


def data():
    x = randn(30, 24, 4)
    torch.manual_seed(31)
    y = torch.randint(0, 3, (24,))
    return x, y


def batch(x, y, step):
    start = (step % 3) * BATCH
    return x[start:start + BATCH], y[start:start + BATCH]


PY_OPTIONS = {"lr": "lr", "betas": "betas", "eps": "eps", "weightDecay": "weight_decay", "amsgrad": "amsgrad",
              "momentum": "momentum", "dampening": "dampening", "nesterov": "nesterov"}


def py_options(options):
    return {PY_OPTIONS[k]: tuple(v) if k == "betas" else v for k, v in options.items()}


# name, model, optimizer, options (torchbridge's names), groups (parameter names and options),
# lr changes [(step, group, lr)] applied before that step's zero_grad, zero_grad(set_to_none), resume.
RUNS = [
    ("adam", "mlp", "adam", {"lr": 0.01}, None, [], False, True),
    ("adam/weight_decay_amsgrad", "mlp", "adam",
     {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.1, "amsgrad": True}, None, [], False, True),
    ("adamw", "mlp", "adamw", {"lr": 0.01}, None, [], False, True),
    ("adamw/weight_decay_amsgrad", "mlp", "adamw", {"lr": 0.02, "weightDecay": 0.1, "amsgrad": True}, None, [], False,
     True),
    ("sgd", "mlp", "sgd", {"lr": 0.1}, None, [], False, False),
    ("sgd/momentum", "mlp", "sgd", {"lr": 0.1, "momentum": 0.9}, None, [], False, True),
    ("sgd/nesterov_weight_decay", "mlp", "sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weightDecay": 1e-3},
     None, [], False, True),
    ("sgd/dampening", "mlp", "sgd", {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "weightDecay": 0.01}, None, [],
     False, False),
    ("adam/groups", "mlp", "adam", {"lr": 0.01},
     [{"params": ["0.weight", "0.bias"]}, {"params": ["2.weight", "2.bias"], "lr": 0.001, "amsgrad": True}], [], False,
     True),
    ("adam/lr_change", "mlp", "adam", {"lr": 0.01}, None, [(5, 0, 0.03), (RESUME_AT, 0, 0.002)], False, True),
    ("sgd/groups_lr_change", "mlp", "sgd", {"lr": 0.1},
     [{"params": ["0.weight", "0.bias"], "momentum": 0.9}, {"params": ["2.weight", "2.bias"], "lr": 0.02}],
     [(4, 1, 0.05), (15, 0, 0.01)], True, True),
    ("stale/adam", "stale", "adam", {"lr": 0.01}, None, [], False, False),
    ("stale/adam_set_to_none", "stale", "adam", {"lr": 0.01}, None, [], True, True),
    ("stale/adamw_set_to_none", "stale", "adamw", {"lr": 0.01, "weightDecay": 0.1}, None, [], True, True),
    ("stale/sgd_momentum", "stale", "sgd", {"lr": 0.1, "momentum": 0.9, "weightDecay": 0.01}, None, [], False, False),
    ("stale/sgd_momentum_set_to_none", "stale", "sgd", {"lr": 0.1, "momentum": 0.9, "weightDecay": 0.01}, None, [],
     True, True),
]
RUNS_BY_NAME = {r[0]: r for r in RUNS}


def make_optimizer(run, model):
    _, _, kind, options, groups, _, _, _ = run
    named = dict(model.named_parameters())
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind]
    # foreach stays None, which PyTorch 1.13 takes as the single-tensor path (the one libtorch's
    # optimizers follow) and which torchbridge's state dicts record.
    if groups is None:
        return cls(model.parameters(), **py_options(options))
    py_groups = [dict(py_options({k: v for k, v in g.items() if k != "params"}), params=[named[n] for n in g["params"]])
                 for g in groups]
    return cls(py_groups, **py_options(options))


def train(run, model, optimizer, x, y, start, stop):
    name, model_name, _, _, _, lr_changes, set_to_none, _ = run
    losses = []
    for step in range(start, stop):
        for at, group, lr in lr_changes:
            if at == step:
                optimizer.param_groups[group]["lr"] = lr
        optimizer.zero_grad(set_to_none=set_to_none)
        xb, yb = batch(x, y, step)
        loss = F.cross_entropy(model_forward(model_name, model, xb, step), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def encode_state_value(value):
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return encode_tensor(value)
    return value


def encode_optimizer_state(state_dict):
    return {
        "state": {str(k): {n: encode_state_value(v) for n, v in s.items()} for k, s in state_dict["state"].items()},
        "paramGroups": [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state_dict["param_groups"]],
    }


def params_of(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def optim_runs():
    x, y = data()
    for model_name in ("mlp", "stale"):
        save_state_dict(make_model(model_name), f"{model_name}_init.pt")
    runs = []
    for run in RUNS:
        name, model_name, kind, options, groups, lr_changes, set_to_none, resume = run
        file_stem = name.replace("/", "_")
        model = make_model(model_name)
        optimizer = make_optimizer(run, model)
        losses = train(run, model, optimizer, x, y, 0, RESUME_AT)
        entry = {
            "name": name,
            "model": model_name,
            "optimizer": kind,
            "options": options,
            "groups": groups,
            "lrChanges": [{"step": s, "group": g, "lr": lr} for s, g, lr in lr_changes],
            "setToNone": set_to_none,
        }
        if resume:
            entry["model10"] = save_state_dict(model, f"{file_stem}_model10.pt")
            entry["optim10"] = f"{file_stem}_optim10.pt"
            torch.save(optimizer.state_dict(), os.path.join(OUTPUT, entry["optim10"]))
        losses += train(run, model, optimizer, x, y, RESUME_AT, STEPS)
        if resume:
            # PyTorch's own continuation from the saved files lands on the same parameters, bit for bit.
            resumed, resumed_losses = resume_run(name, os.path.join(OUTPUT, entry["model10"]),
                                                 os.path.join(OUTPUT, entry["optim10"]))
            assert resumed_losses == losses[RESUME_AT:], name
            for n, p in model.named_parameters():
                assert torch.equal(resumed[n], p.detach()), (name, n)
        entry["losses"] = losses
        entry["params"] = {n: encode_tensor(p) for n, p in model.named_parameters()}
        entry["optimizerState"] = encode_optimizer_state(optimizer.state_dict())
        runs.append(entry)
    return {"steps": STEPS, "resumeAt": RESUME_AT, "batch": BATCH, "data": {"x": encode_tensor(x), "y": encode_tensor(y)},
            "runs": runs}


def resume_run(name, model_path, optim_path):
    run = RUNS_BY_NAME[name]
    model = make_model(run[1])
    model.load_state_dict(torch.load(model_path), strict=True)
    optimizer = make_optimizer(run, model)
    optimizer.load_state_dict(torch.load(optim_path))
    x, y = data()
    losses = train(run, model, optimizer, x, y, RESUME_AT, STEPS)
    return params_of(model), losses


# ---- layers: convolution, pooling, normalisation, shape layers and containers (layers.json) ----

C1 = lambda i, o, k, **kw: dict({"type": "Conv1d", "in": i, "out": o, "kernel": k}, **kw)  # noqa: E731
C2 = lambda i, o, k, **kw: dict({"type": "Conv2d", "in": i, "out": o, "kernel": k}, **kw)  # noqa: E731
MAXP = lambda k, **kw: dict({"type": "MaxPool2d", "kernel": k}, **kw)  # noqa: E731
AVGP = lambda k, **kw: dict({"type": "AvgPool2d", "kernel": k}, **kw)  # noqa: E731
BN1 = lambda n, **kw: dict({"type": "BatchNorm1d", "num": n}, **kw)  # noqa: E731
BN2 = lambda n, **kw: dict({"type": "BatchNorm2d", "num": n}, **kw)  # noqa: E731
FLAT = lambda **kw: dict({"type": "Flatten"}, **kw)  # noqa: E731
IDENT, SIGMOID, STACK = {"type": "Identity"}, {"type": "Sigmoid"}, {"type": "Stack"}
SOFTMAX = lambda dim: {"type": "Softmax", "dim": dim}  # noqa: E731
MLIST = lambda *children: {"type": "ModuleList", "children": list(children)}  # noqa: E731
MDICT = lambda *entries: {"type": "ModuleDict", "entries": [list(e) for e in entries]}  # noqa: E731

CNN = SEQ(C2(3, 4, 3, padding=1), BN2(4), RELU, MAXP(2), FLAT(), L(36, 5), SOFTMAX(1))


def layer_case(name, spec, x, mode="eval", warmup=0, dtype=f32):
    """As forward_case, for modules with buffers: parameters and buffers get random values (running
    variances positive, counters 5) before the weights are saved; `warmup` train-mode forwards
    (no grad) run before the measured forward; the buffers afterwards are recorded."""
    seed = seed_of(name)
    torch.manual_seed(seed)
    module = make_module(spec).to(dtype)
    with torch.no_grad():
        for k, p in enumerate(module.parameters()):
            p.copy_(randn(seed + k + 1, *p.shape, dtype=dtype))
        for k, (n, b) in enumerate(module.named_buffers()):
            if not b.dtype.is_floating_point:
                b.fill_(5)
            elif n.endswith("running_var"):
                b.copy_(randn(seed + 200 + k, *b.shape, dtype=dtype).abs() + 0.5)
            else:
                b.copy_(randn(seed + 200 + k, *b.shape, dtype=dtype))
    state = module.state_dict()
    weights = save_state_dict(module, "layer_" + name.replace("/", "_") + ".pt") if len(state) > 0 else None
    warmups = [randn(seed + 500 + j, *x.shape, dtype=dtype) for j in range(warmup)]
    module.train()
    with torch.no_grad():
        for w_in in warmups:
            module(w_in)
    module.train(mode == "train")
    x = x.detach().clone().to(dtype)
    x.requires_grad_(True)
    out = module(x)
    w = randn(seed + 1000, *out.shape, dtype=dtype)
    (out * w).sum().backward()
    return {
        "name": name,
        "spec": spec,
        "dtype": "float64" if dtype == f64 else "float32",
        "weights": weights,
        "mode": mode,
        "warmup": [encode_tensor(t) for t in warmups],
        "input": encode_tensor(x),
        "w": encode_tensor(w),
        "output": encode_tensor(out),
        "grads": {n: encode_tensor(p.grad) for n, p in module.named_parameters()},
        "inputGrad": encode_tensor(x.grad),
        "stateDictKeys": list(module.state_dict().keys()),
        "buffersAfter": {n: encode_tensor(b) for n, b in module.named_buffers()},
    }


def layer_forward_cases():
    x1 = randn(101, 2, 3, 9)
    x2 = randn(102, 2, 3, 7, 6)
    img = randn(103, 4, 3, 6, 6)
    pool_in = randn(104, 2, 3, 7, 8)
    bn1 = randn(105, 6, 4) * 2 + 1
    bn1_3d = randn(106, 5, 3, 4)
    bn2 = randn(107, 4, 3, 3, 5) * 3 - 1
    cases = [
        layer_case("conv1d", C1(3, 4, 3), x1),
        layer_case("conv1d/stride_padding_dilation", C1(3, 2, 3, stride=2, padding=2, dilation=2), x1),
        layer_case("conv1d/groups_no_bias", C1(4, 6, 2, groups=2, bias=False), randn(108, 2, 4, 5)),
        layer_case("conv1d/same_even_kernel", C1(3, 2, 4, padding="same"), x1),
        layer_case("conv1d/valid", C1(3, 2, 3, padding="valid"), x1),
        layer_case("conv1d/reflect", C1(3, 2, 3, padding=2, paddingMode="reflect"), x1),
        layer_case("conv1d/unbatched", C1(3, 2, 3, padding=1), randn(109, 3, 6)),
        layer_case("conv2d", C2(3, 4, 3), x2),
        layer_case("conv2d/tuple_sizes", C2(3, 2, [3, 2], stride=[2, 1], padding=[1, 0], dilation=[1, 2]), x2),
        layer_case("conv2d/groups", C2(4, 4, 3, groups=4, padding=1), randn(110, 2, 4, 5, 5)),
        layer_case("conv2d/same", C2(3, 2, [3, 4], padding="same", dilation=[2, 1]), x2),
        layer_case("conv2d/replicate", C2(3, 2, 3, padding=1, paddingMode="replicate"), x2),
        layer_case("conv2d/circular", C2(3, 2, 3, padding=[1, 2], paddingMode="circular", bias=False), x2),
        layer_case("conv2d/reflect_same", C2(3, 2, 3, padding="same", paddingMode="reflect"), x2),
        layer_case("conv2d/float64", C2(3, 2, 2, stride=2), x2, dtype=f64),
        layer_case("max_pool2d", MAXP(2), pool_in),
        layer_case("max_pool2d/stride_padding", MAXP(3, stride=2, padding=1), pool_in),
        layer_case("max_pool2d/tuple_dilation_ceil", MAXP([2, 3], stride=[1, 2], dilation=[2, 1], ceilMode=True), pool_in),
        layer_case("max_pool2d/unbatched", MAXP(2, stride=1), randn(111, 3, 4, 5)),
        layer_case("avg_pool2d", AVGP(2), pool_in),
        layer_case("avg_pool2d/padding_exclude_pad", AVGP(3, stride=2, padding=1, countIncludePad=False), pool_in),
        layer_case("avg_pool2d/padding_include_pad_ceil", AVGP([3, 2], stride=2, padding=[1, 1], ceilMode=True), pool_in),
        layer_case("avg_pool2d/divisor_override", AVGP(2, stride=1, divisorOverride=3), pool_in),
        layer_case("batch_norm1d/eval", BN1(4), bn1),
        layer_case("batch_norm1d/train", BN1(4), bn1, mode="train", warmup=2),
        layer_case("batch_norm1d/train_3d", BN1(3), bn1_3d, mode="train", warmup=1),
        layer_case("batch_norm1d/eval_3d", BN1(3, eps=1e-3), bn1_3d),
        layer_case("batch_norm1d/momentum_none", BN1(4, momentum=None), bn1, mode="train", warmup=3),
        layer_case("batch_norm1d/momentum_none_eval", BN1(4, momentum=None), bn1, warmup=3),
        layer_case("batch_norm1d/no_affine", BN1(4, affine=False, momentum=0.3), bn1, mode="train", warmup=1),
        layer_case("batch_norm1d/no_running_stats", BN1(4, track=False), bn1, mode="train"),
        layer_case("batch_norm1d/no_running_stats_eval", BN1(4, track=False, affine=False), bn1),
        layer_case("batch_norm2d/eval", BN2(3), bn2),
        layer_case("batch_norm2d/train", BN2(3), bn2, mode="train", warmup=2),
        layer_case("batch_norm2d/train_after_warmup_eval", BN2(3, momentum=0.5), bn2, warmup=2),
        layer_case("batch_norm2d/float64", BN2(3), bn2, mode="train", warmup=1, dtype=f64),
        layer_case("flatten", FLAT(), img),
        layer_case("flatten/dims", FLAT(start=0, end=2), img),
        layer_case("flatten/negative_dims", FLAT(start=-3, end=-2), img),
        layer_case("identity", IDENT, bn1),
        layer_case("sigmoid", SIGMOID, bn1),
        layer_case("softmax/dim1", SOFTMAX(1), img),
        layer_case("softmax/dim_last", SOFTMAX(-1), bn1),
        layer_case("softmax/dim0", SOFTMAX(0), bn1),
        layer_case("cnn/train", CNN, img, mode="train", warmup=2),
        layer_case("cnn/eval", CNN, img, warmup=2),
        layer_case("stack/train", STACK, randn(112, 5, 4), mode="train", warmup=1),
        layer_case("stack/eval", STACK, randn(112, 5, 4), warmup=1),
    ]
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names)
    return cases


def layer_init_case(name, seed, specs, dtype=None):
    torch.manual_seed(seed)
    modules = [make_module(spec, dtype) for spec in specs]
    after = torch.randn(5)
    entry = {
        "name": name,
        "seed": seed,
        "specs": specs,
        "params": [{n: encode_tensor(p) for n, p in m.named_parameters()} for m in modules],
        "buffers": [{n: encode_tensor(b) for n, b in m.named_buffers()} for m in modules],
        "after": encode_tensor(after),
    }
    if dtype is not None:
        entry["dtype"] = "float64"
    return entry


def layer_init_cases():
    out = []
    for seed in (0, 1, 42):
        out.append(layer_init_case(f"conv/seed{seed}", seed, [C1(3, 4, 3), C2(2, 4, [3, 2], bias=False), C2(4, 6, 3, groups=2),
                                                            C1(2, 2, 1, padding="same")]))
        out.append(layer_init_case(f"batch_norm/seed{seed}", seed, [BN2(3), BN1(2, affine=False), BN1(2, track=False), L(3, 2)]))
        out.append(layer_init_case(f"cnn/seed{seed}", seed, [CNN]))
        out.append(layer_init_case(f"stack/seed{seed}", seed, [STACK]))
        out.append(layer_init_case(f"module_list/seed{seed}", seed, [MLIST(L(3, 4), C1(2, 2, 2), MDICT(("b", L(2, 2)), ("a", L(1, 3))))]))
    # PyTorch draws float64 parameters in float64; buffers are float64, num_batches_tracked stays int64.
    out.append(layer_init_case("float64", 3, [C2(2, 3, 3), C1(2, 2, 2), BN2(3), BN1(2)], dtype=f64))
    return out


# A ModuleList: a Sequential cannot hold the containers, which have no forward.
LAYER_REPR_SPEC = MLIST(
    C1(3, 4, 3), C1(2, 4, 3, stride=2, padding="valid"), C1(4, 4, [5], padding=[2], dilation=3, groups=2, bias=False),
    C2(3, 8, 3, padding=1), C2(3, 8, [3, 2], padding="same", paddingMode="reflect", bias=False, dilation=2),
    C2(4, 2, 1, stride=[2, 1], paddingMode="circular", padding=[0, 1]), MAXP(2), MAXP([2, 3], stride=1, padding=[1, 0]),
    MAXP(3, stride=[2, 2], dilation=2, ceilMode=True), AVGP(3), AVGP([2, 2], stride=1, padding=1, countIncludePad=False, divisorOverride=2),
    AVGP(2, ceilMode=True), BN1(4), BN1(4, eps=1e-3, momentum=None, affine=False, track=False), BN2(8, momentum=0.25),
    FLAT(), FLAT(start=0, end=2), IDENT, SIGMOID, SOFTMAX(1), SOFTMAX(-1),
    MLIST(L(2, 2), RELU), MDICT(("b", TANH), ("a", SEQ(L(2, 3)))), MLIST(), STACK)


def layer_architectures():
    specs = {
        "cnn": CNN,
        "stack": STACK,
        "batch_norms": SEQ(BN1(3), BN1(3, affine=False), BN1(3, track=False), BN2(3, affine=False, track=False), BN2(2, momentum=None)),
        "module_list": MLIST(L(3, 4), RELU, MLIST(L(4, 4), C1(2, 2, 3)), MDICT(("z", L(2, 2)), ("a", BN1(2)))),
        "module_dict": MDICT(("encoder", SEQ(L(4, 8), RELU)), ("1", L(8, 2)), ("head", MLIST(L(2, 2), L(2, 1, bias=False)))),
        "convs": SEQ(C1(2, 4, 3, bias=False), C2(2, 4, [2, 3], groups=2)),
    }
    return describe_architectures(specs)


def module_list_case(name, start, operations):
    """A container after `operations`: ["append", spec], ["extend", [specs]], ["insert", index, spec],
    ["set", index or key, spec] (item assignment), ["update", [[key, spec], ...]]."""
    torch.manual_seed(0)
    container = make_module(start)
    for op in operations:
        if op[0] == "append":
            container.append(make_module(op[1]))
        elif op[0] == "extend":
            container.extend([make_module(c) for c in op[1]])
        elif op[0] == "insert":
            container.insert(op[1], make_module(op[2]))
        elif op[0] == "set":
            container[op[1]] = make_module(op[2])
        elif op[0] == "update":
            container.update(collections.OrderedDict((k, make_module(c)) for k, c in op[1]))
        else:
            raise ValueError(op[0])
    return {"name": name, "start": start, "operations": operations, "repr": repr(container), "length": len(container),
            "stateDictKeys": list(container.state_dict().keys())}


def module_list_cases():
    return [
        module_list_case("list/append_extend", MLIST(L(5, 5)), [["append", L(1, 1)], ["extend", [L(2, 2), RELU]]]),
        module_list_case("list/insert", MLIST(L(1, 1), L(2, 2), L(3, 3)),
                         [["insert", 0, TANH], ["insert", 2, SIGMOID], ["insert", 5, L(4, 4)], ["insert", 6, IDENT]]),
        module_list_case("list/set", MLIST(L(1, 1), RELU, L(2, 2)), [["set", -1, L(3, 3)], ["set", 0, TANH], ["set", 1, BN1(2)]]),
        module_list_case("list/everything", MLIST(), [["extend", [L(1, 2), L(2, 3)]], ["insert", 1, RELU], ["append", TANH],
                                                      ["set", -3, L(4, 4)], ["insert", 0, MLIST(L(1, 1))]]),
        module_list_case("dict/set_update", MDICT(("b", L(2, 2)), ("a", RELU)),
                         [["set", "c", L(1, 1)], ["set", "b", TANH], ["update", [["a", L(3, 3)], ["d", SIGMOID]]]]),
    ]


# ---- gradient clipping (clip_grad.json) ----------------------------------------------------


def encode_number(x):
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def grad_params(grads):
    """Parameters (zeros) whose .grad is each of `grads` (None: no gradient)."""
    params = []
    for g in grads:
        p = torch.zeros(() if g is None else g.shape, dtype=f32 if g is None else g.dtype, requires_grad=True)
        if g is not None:
            p.grad = g.clone()
        params.append(p)
    return params


def clip_norm_case(name, grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    params = grad_params(grads)
    entry = {"name": name, "kind": "norm", "grads": [None if g is None else encode_tensor(g) for g in grads],
             "maxNorm": max_norm, "normType": encode_number(norm_type), "errorIfNonfinite": error_if_nonfinite}
    try:
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite)
        entry["totalNorm"] = encode_tensor(total)
    except RuntimeError as e:
        entry["error"] = str(e)
    entry["gradsAfter"] = [None if p.grad is None else encode_tensor(p.grad) for p in params]
    return entry


def clip_value_case(name, grads, clip_value):
    params = grad_params(grads)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    return {"name": name, "kind": "value", "grads": [None if g is None else encode_tensor(g) for g in grads], "clipValue": clip_value,
            "gradsAfter": [None if p.grad is None else encode_tensor(p.grad) for p in params]}


def clip_grad_cases():
    grads = [randn(301, 3, 4), randn(302, 5) * 3, None, randn(303, 2, 2, 2) * 0.1, randn(304)]
    big = [g * 10 if g is not None else None for g in grads]
    mixed = [randn(305, 4, 3), randn(306, 6, dtype=f64) * 2]
    inf_grad = [randn(307, 3), torch.tensor([1.0, float("inf"), -2.0])]
    nan_grad = [randn(308, 3), torch.tensor([1.0, float("nan"), -2.0])]
    cases = []
    for norm_type in (2.0, 1.0, float("inf"), 3.5, 0.5):
        suffix = {2.0: "l2", 1.0: "l1", float("inf"): "inf", 3.5: "p3.5", 0.5: "p0.5"}[norm_type]
        cases.append(clip_norm_case(f"norm/{suffix}/clipped", big, 1.5, norm_type))
        cases.append(clip_norm_case(f"norm/{suffix}/unclipped", grads, 1e3, norm_type))
    cases += [
        clip_norm_case("norm/one_parameter", [randn(309, 4, 4)], 0.25),
        clip_norm_case("norm/one_parameter_inf", [randn(310, 4, 4)], 0.25, float("inf")),
        clip_norm_case("norm/default_norm_float64", [randn(311, 3, dtype=f64), randn(312, 2, 2, dtype=f64)], 0.5),
        clip_norm_case("norm/mixed_dtypes", mixed, 0.1),
        clip_norm_case("norm/minus_inf", grads, 0.05, float("-inf")),
        clip_norm_case("norm/no_gradients", [None, None], 1.0),
        clip_norm_case("norm/zero_gradients", [torch.zeros(3), torch.zeros(2, 2)], 1.0),
        clip_norm_case("norm/nonfinite_scaled", inf_grad, 1.0),
        clip_norm_case("norm/nan_scaled", nan_grad, 1.0),
        clip_norm_case("norm/nonfinite_error", inf_grad, 1.0, error_if_nonfinite=True),
        clip_norm_case("norm/nonfinite_error_inf_norm", inf_grad, 1.0, float("inf"), error_if_nonfinite=True),
        clip_norm_case("norm/nan_error_l1", nan_grad, 1.0, 1.0, error_if_nonfinite=True),
        clip_norm_case("norm/finite_error_flag", grads, 1.0, error_if_nonfinite=True),
        clip_value_case("value/basic", grads, 0.5),
        clip_value_case("value/large", grads, 100.0),
        clip_value_case("value/float64_nonfinite", [randn(313, 5, dtype=f64) * 2, torch.tensor([float("inf"), float("-inf"), float("nan")])], 0.75),
    ]
    assert len({c["name"] for c in cases}) == len(cases)
    return cases


# ---- output --------------------------------------------------------------------------------


def write_json(name, value):
    path = os.path.join(OUTPUT, name)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(value, out, sort_keys=True, allow_nan=False, separators=(",", ":"))
        out.write("\n")


# What this script writes into OUTPUT, which other generators share (gen_loss_fixtures.py's
# losses.json): only these are removed before writing, so that none goes stale.
OWN_JSON = ("modules.json", "loss.json", "optim.json", "layers.json", "clip_grad.json")


def own_file(name):
    return name in OWN_JSON or (name.endswith(".pt") and (name.startswith(("module_", "layer_")) or
                                                          name.endswith(("_init.pt", "_model10.pt", "_optim10.pt"))))


def main():
    torch.set_num_threads(1)
    os.makedirs(OUTPUT, exist_ok=True)
    for old in os.listdir(OUTPUT):
        if own_file(old):
            os.remove(os.path.join(OUTPUT, old))
    forward = forward_cases()
    names = [c["name"] for c in forward]
    assert len(set(names)) == len(names)
    write_json("modules.json", {"forward": forward, "init": init_cases(), "architectures": architectures(),
                                "repr": {"spec": REPR_SPEC, "text": repr(make_module(REPR_SPEC))},
                                "loadErrors": load_errors()})
    losses = loss_cases()
    assert len({c["name"] for c in losses}) == len(losses)
    write_json("loss.json", losses)
    write_json("optim.json", optim_runs())
    write_json("layers.json", {"forward": layer_forward_cases(), "init": layer_init_cases(), "architectures": layer_architectures(),
                               "repr": {"spec": LAYER_REPR_SPEC, "text": repr(make_module(LAYER_REPR_SPEC))},
                               "moduleList": module_list_cases()})
    write_json("clip_grad.json", clip_grad_cases())
    total = 0
    written = sorted(f for f in os.listdir(OUTPUT) if own_file(f))
    for f in written:
        size = os.path.getsize(os.path.join(OUTPUT, f))
        assert size < 1_000_000, f"{f} is {size} bytes"
        total += size
    print(f"wrote {len(written)} files ({total} bytes) to {os.path.normpath(OUTPUT)}")


def check_state_main(argv):
    """Prints the state_dict() of the module of a spec after a strict load of a file torchbridge saved."""
    if len(argv) != 2:
        sys.exit("usage: gen_nn_fixtures.py check-state SPEC_JSON STATE_DICT_PT")
    module = make_module(json.loads(argv[0]))
    module.load_state_dict(torch.load(argv[1], weights_only=True), strict=True)
    state = module.state_dict()
    print(json.dumps({"keys": list(state.keys()), "tensors": {n: encode_tensor(t) for n, t in state.items()}}, allow_nan=False))


def resume_main(argv):
    if len(argv) != 3:
        sys.exit("usage: gen_nn_fixtures.py resume RUN MODEL_PT OPTIM_PT")
    torch.set_num_threads(1)
    params, losses = resume_run(*argv)
    print(json.dumps({"losses": losses, "params": {n: p.reshape(-1).tolist() for n, p in params.items()}}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "resume":
        resume_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "check-state":
        check_state_main(sys.argv[2:])
    else:
        main()
