"""Generate test/fixtures/ops.json: torchbridge calls and what PyTorch computes for them.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_op_fixtures.py

Each case describes one torchbridge call chain and the matching PyTorch computation:

- `calls`: [{kind, op, args}], applied in order. The first call is a Tensor method on
  inputs[0] (kind "method"), a Tensor getter of it (kind "property", no args: `x.T`) or a
  function of the torchbridge module (kind "function"); each later call is a method or getter
  of the previous result. Arguments are JSON with these markers:
  {"$tensor": k} is inputs[k], {"$slice": [start, stop, step]} is slice(...) (null = open),
  {"$undefined": true} is an omitted positional argument, {"$number": "-inf"} a non-finite number,
  {"$bigint": "3"} a bigint.
- `inputs`, `outputs`: tensors as {dtype, shape, values} (values flattened row-major; null for
  outputs of `empty`, whose values are unspecified). Inputs may say requiresGrad; outputs may
  carry requiresGrad and strides where the case checks them.
- `seed`: torch.manual_seed(seed) runs right before the calls (random factories).
- `outputsAreInputs`: the outputs to check are the inputs after the calls (writes through views).
- `weights`, `grads` (differentiable cases): w_k for every floating output (null otherwise) and
  the gradients of sum_k (out_k * w_k).sum() with respect to each input (null where none).

Differentiable cases come twice, with float32 and with float64 inputs ("/float32", "/float64").
Floats are written with the fewest digits that read back to the same float32 (float32,
float16 and bfloat16 tensors: readers round with Math.fround) or float64 value; nan and
infinities are the strings "nan", "inf", "-inf". Scalars in `args` that PyTorch sees as
Python floats are never integral, because JavaScript cannot tell 2.0 from 2 (torchbridge treats
integral numbers as Python ints). The output is deterministic: one case per line, keys sorted.
"""

import json
import math
import os
import struct
import warnings
import zlib

import torch

OUTPUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "ops.json")

from fixture_dtypes import DTYPE_NAMES  # noqa: E402
DTYPES = {name: dtype for dtype, name in DTYPE_NAMES.items()}
FLOAT32_LIKE = (torch.float32, torch.float16, torch.bfloat16)

f32, f64, f16, bf16 = torch.float32, torch.float64, torch.float16, torch.bfloat16
i64, i32, u8, b8 = torch.int64, torch.int32, torch.uint8, torch.bool
NAN, INF = float("nan"), float("inf")

# ---- argument markers --------------------------------------------------------------------


class T:
    """inputs[index] as an argument."""

    def __init__(self, index):
        self.index = index


def S(start=None, stop=None, step=None):
    return {"$slice": [start, stop, step]}


UNDEF = {"$undefined": True}


class BigInt:
    """A JavaScript bigint argument (torchbridge takes them as integer scalars)."""

    def __init__(self, value):
        self.value = value


def M(op, *args):
    return {"kind": "method", "op": op, "args": list(args)}


def F(op, *args):
    return {"kind": "function", "op": op, "args": list(args)}


def P(op):
    return {"kind": "property", "op": op, "args": []}


def encode_arg(arg):
    if isinstance(arg, T):
        return {"$tensor": arg.index}
    if isinstance(arg, BigInt):
        return {"$bigint": str(arg.value)}
    if isinstance(arg, (list, tuple)):
        return [encode_arg(a) for a in arg]
    if isinstance(arg, dict):
        return {k: encode_arg(v) for k, v in arg.items()}
    if isinstance(arg, float):
        if not math.isfinite(arg):
            return {"$number": encode_value(arg, f64)}
        if arg.is_integer():
            raise ValueError(f"float argument {arg} is integral: torchbridge would see an int")
    return arg


# ---- inputs (each seeds the generator itself) ---------------------------------------------


def randn(seed, *shape, dtype=f64):
    torch.manual_seed(seed)
    return torch.randn(shape, dtype=f64).to(dtype)


def positive(seed, *shape, dtype=f64):
    """Uniform in [0.5, 2.5): safe for log, sqrt, rsqrt and pow."""
    torch.manual_seed(seed)
    return (torch.rand(shape, dtype=f64) * 2 + 0.5).to(dtype)


def randint(seed, low, high, *shape, dtype=i64):
    torch.manual_seed(seed)
    return torch.randint(low, high, shape, dtype=dtype)


def mask(seed, *shape):
    torch.manual_seed(seed)
    return torch.rand(shape) < 0.5


def t(values, dtype=None):
    return torch.tensor(values, dtype=dtype)


# ---- encoding ----------------------------------------------------------------------------


def shortest_float32(value):
    """The shortest decimal that reads back as the same float32."""
    bits = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == bits:
            return candidate
    return value


def encode_value(value, dtype):
    if dtype == b8:
        return bool(value)
    if not dtype.is_floating_point:
        return int(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return shortest_float32(value) if dtype in FLOAT32_LIKE else value


def encode_tensor(tensor, values=True, strides=False):
    data = tensor.detach()
    out = {"dtype": DTYPE_NAMES[data.dtype], "shape": list(data.shape)}
    out["values"] = [encode_value(v, data.dtype) for v in data.reshape(-1).tolist()] if values else None
    if strides:
        out["strides"] = list(data.stride())
    return out


def as_list(result):
    """A call's result as a list of tensors (max/min with dim give values and indices)."""
    if isinstance(result, torch.Tensor):
        return [result]
    if hasattr(result, "values") and hasattr(result, "indices"):
        return [result.values, result.indices]
    return list(result)


# ---- cases -------------------------------------------------------------------------------

CASES = []


def case(name, calls, inputs, fn, grad=False, seed=None, values=True, strides=False, requires_grad=None,
         outputs_are_inputs=False):
    """Records one case. `fn` computes with PyTorch what `calls` computes with torchbridge.

    grad: make every floating input a leaf that requires grad, record the outputs' requires_grad
    and the gradients of sum_k (out_k * w_k).sum(). requires_grad: inputs that require grad in a
    forward-only case (e.g. detach), by position. outputs_are_inputs: `fn` returns the inputs, and
    the test checks torchbridge's inputs after the calls instead of their result (writes
    through views).
    """
    leaves = []
    for k, x in enumerate(inputs):
        leaf = x.detach().clone()
        if (grad and leaf.dtype.is_floating_point) or (requires_grad and k in requires_grad):
            leaf.requires_grad_(True)
        leaves.append(leaf)
    # Encoded before the call: in-place ops change their inputs.
    encoded_inputs = [dict(encode_tensor(x), **({"requiresGrad": True} if x.requires_grad else {})) for x in leaves]
    if seed is not None:
        torch.manual_seed(seed)
    outputs = as_list(fn(*leaves))
    entry = {
        "name": name,
        "calls": [dict(c, args=encode_arg(c["args"])) for c in calls],
        "inputs": encoded_inputs,
        "outputs": [encode_tensor(o, values=values, strides=strides) for o in outputs],
    }
    if seed is not None:
        entry["seed"] = seed
    if outputs_are_inputs:
        entry["outputsAreInputs"] = True
    if grad or requires_grad:
        for encoded, o in zip(entry["outputs"], outputs):
            encoded["requiresGrad"] = o.requires_grad
    if grad:
        torch.manual_seed(zlib.crc32(name.encode()))
        weights = [torch.randn(o.shape, dtype=f64).to(o.dtype) if o.dtype.is_floating_point else None for o in outputs]
        loss = sum((o * w).sum() for o, w in zip(outputs, weights) if w is not None)
        loss.backward()
        entry["weights"] = [None if w is None else encode_tensor(w) for w in weights]
        entry["grads"] = [None if x.grad is None else encode_tensor(x.grad) for x in leaves]
    CASES.append(entry)


def differentiable(name, calls, inputs, fn, **kw):
    """The case with float32 inputs and again with float64 inputs, both with gradients."""
    for dtype in (f32, f64):
        cast = [x.to(dtype) if x.dtype.is_floating_point else x for x in inputs]
        case(f"{name}/{DTYPE_NAMES[dtype]}", calls, cast, fn, grad=True, **kw)


def arithmetic_cases():
    a, b, row, col = randn(1, 2, 3), randn(2, 2, 3), randn(3, 3), randn(4, 2, 1)
    differentiable("add/tensor", [M("add", T(1))], [a, b], lambda x, y: x + y)
    differentiable("add/broadcast_row", [M("add", T(1))], [a, row], lambda x, y: x + y)
    differentiable("add/broadcast_both", [M("add", T(1))], [col, randn(5, 1, 3)], lambda x, y: x + y)
    differentiable("add/scalar", [M("add", 0.75)], [a], lambda x: x + 0.75)
    differentiable("add/alpha", [M("add", T(1), 2.5)], [a, row], lambda x, y: torch.add(x, y, alpha=2.5))
    differentiable("add/scalar_alpha", [M("add", 0.5, -3)], [a], lambda x: torch.add(x, 0.5, alpha=-3))
    case("add/int64", [M("add", T(1))], [randint(6, -9, 9, 5), randint(7, -9, 9, 5)], lambda x, y: x + y)
    case("add/bigint_scalar", [M("add", BigInt(3))], [randint(6, -9, 9, 5)], lambda x: x + 3)
    case("add/bigint_scalar_float32", [M("add", BigInt(-2))], [a.float()], lambda x: x - 2)
    case("add/0dim_0dim", [M("add", T(1))], [randn(22), randn(23)], lambda x, y: x + y)
    case("add/uint8_large_int_scalar_wraps", [M("add", 300)], [t([200, 1], dtype=u8)], lambda x: x + 300)
    case("add/empty", [M("add", T(1))], [torch.zeros(0, 3), randn(24, 3)], lambda x, y: x + y)
    case("add/int64_int_alpha", [M("add", T(1), 3)], [randint(6, -9, 9, 5), randint(7, -9, 9, 5)],
         lambda x, y: torch.add(x, y, alpha=3))

    differentiable("sub/broadcast", [M("sub", T(1))], [a, row], lambda x, y: x - y)
    differentiable("sub/scalar", [M("sub", 1.25)], [a], lambda x: x - 1.25)
    differentiable("sub/alpha", [M("sub", T(1), 0.5)], [a, b], lambda x, y: torch.sub(x, y, alpha=0.5))
    case("sub/int32", [M("sub", T(1))], [randint(8, -9, 9, 4, dtype=i32), randint(9, -9, 9, 4, dtype=i32)],
         lambda x, y: x - y)

    differentiable("mul/broadcast", [M("mul", T(1))], [a, col], lambda x, y: x * y)
    differentiable("mul/scalar", [M("mul", -1.5)], [a], lambda x: x * -1.5)
    case("mul/int64_int_scalar", [M("mul", 3)], [randint(10, -9, 9, 6)], lambda x: x * 3)
    case("mul/bool_bool", [M("mul", T(1))], [mask(11, 6), mask(12, 6)], lambda x, y: x * y)

    differentiable("div/broadcast", [M("div", T(1))], [a, positive(13, 3)], lambda x, y: x / y)
    differentiable("div/scalar", [M("div", 0.4)], [a], lambda x: x / 0.4)
    numerators, denominators = t([7.5, -7.5, 3.0, -3.0, 0.5, -0.5]), t([2.0, 2.0, -2.0, -2.0, 0.25, 3.0])
    for mode in ("trunc", "floor"):
        case(f"div/{mode}_float", [M("div", T(1), mode)], [numerators, denominators],
             lambda x, y, mode=mode: torch.div(x, y, rounding_mode=mode))
        case(f"div/{mode}_int64", [M("div", T(1), mode)], [t([7, -7, 7, -7, 0, 9]), t([2, 2, -2, -2, 3, 4])],
             lambda x, y, mode=mode: torch.div(x, y, rounding_mode=mode))
        case(f"div/{mode}_scalar", [M("div", 2, mode)], [numerators], lambda x, mode=mode: torch.div(x, 2, rounding_mode=mode))
    case("div/int_by_int_is_float", [M("div", T(1))], [t([7, -7, 1, 0]), t([2, 2, 3, 5])], lambda x, y: x / y)
    case("div/int_by_int_scalar", [M("div", 4)], [t([7, -7, 1, 0])], lambda x: x / 4)
    case("div/by_zero", [M("div", T(1))], [t([1.0, -1.0, 0.0, 2.5]), t([0.0, 0.0, 0.0, -0.0])], lambda x, y: x / y)

    differentiable("pow/square", [M("pow", 2)], [a], lambda x: x.pow(2))
    differentiable("pow/sqrt_scalar", [M("pow", 0.5)], [positive(14, 2, 3)], lambda x: x.pow(0.5))
    differentiable("pow/negative_scalar", [M("pow", -1.5)], [positive(15, 5)], lambda x: x.pow(-1.5))
    differentiable("pow/tensor", [M("pow", T(1))], [positive(16, 2, 3), randn(17, 3)], lambda x, y: x.pow(y))
    case("pow/int64_int", [M("pow", 3)], [randint(18, -5, 5, 6)], lambda x: x.pow(3))
    case("pow/int64_float", [M("pow", 0.5)], [t([0, 1, 4, 9, 2])], lambda x: x.pow(0.5))

    differentiable("maximum/broadcast", [M("maximum", T(1))], [a, row], lambda x, y: torch.maximum(x, y))
    differentiable("minimum/broadcast", [M("minimum", T(1))], [a, col], lambda x, y: torch.minimum(x, y))
    # A JS number acts as a Python scalar: like a 0-dim float32 tensor (the default dtype).
    case("maximum/scalar", [M("maximum", 0.25)], [randn(19, 6).float()], lambda x: torch.maximum(x, t(0.25)))
    case("minimum/scalar", [M("minimum", 0.25)], [randn(19, 6).float()], lambda x: torch.minimum(x, t(0.25)))
    case("maximum/int64_float_scalar", [M("maximum", 2.5)], [t([1, 2, 3, 4])], lambda x: torch.maximum(x, t(2.5)))
    case("maximum/nan_propagates", [M("maximum", T(1))], [t([NAN, 1.0, -INF]), t([0.0, NAN, 2.0])], torch.maximum)
    case("minimum/nan_propagates", [M("minimum", T(1))], [t([NAN, 1.0, INF]), t([0.0, NAN, 2.0])], torch.minimum)
    case("maximum/int64", [M("maximum", T(1))], [randint(20, -9, 9, 6), randint(21, -9, 9, 6)], torch.maximum)
    case("minimum/int32_int64", [M("minimum", T(1))], [randint(20, -9, 9, 6, dtype=i32), randint(21, -9, 9, 6)],
         torch.minimum)


def unary_cases():
    x, p = randn(30, 2, 3), positive(31, 2, 3)
    differentiable("neg", [M("neg")], [x], torch.neg)
    differentiable("sqrt", [M("sqrt")], [p], torch.sqrt)
    differentiable("rsqrt", [M("rsqrt")], [p], torch.rsqrt)
    differentiable("exp", [M("exp")], [x], torch.exp)
    differentiable("log", [M("log")], [p], torch.log)
    differentiable("abs", [M("abs")], [x], torch.abs)
    differentiable("sin", [M("sin")], [x * 2], torch.sin)
    differentiable("cos", [M("cos")], [x * 2], torch.cos)
    special = t([-1.0, 0.0, -0.0, INF, NAN, 4.0])
    for op in ("sqrt", "rsqrt", "log", "exp", "abs", "neg"):
        case(f"{op}/special_values", [M(op)], [special], getattr(torch, op))
    for op in ("relu", "tanh", "sigmoid", "sin"):
        case(f"{op}/special_values", [M(op)], [special], getattr(torch, op))
    case("clamp/special_values", [M("clamp", -0.5, 0.5)], [special], lambda y: y.clamp(-0.5, 0.5))
    case("clamp/min_above_max", [M("clamp", 0.75, -0.25)], [randn(35, 4).float()], lambda y: y.clamp(0.75, -0.25))
    case("neg/int64", [M("neg")], [randint(32, -9, 9, 5)], torch.neg)
    case("abs/int32", [M("abs")], [randint(33, -9, 9, 5, dtype=i32)], torch.abs)
    case("exp/int64_is_float", [M("exp")], [t([0, 1, 2])], torch.exp)

    differentiable("clamp/min", [M("clamp", -0.5)], [x], lambda y: y.clamp(min=-0.5))
    differentiable("clamp/max", [M("clamp", None, 0.5)], [x], lambda y: y.clamp(max=0.5))
    differentiable("clamp/both", [M("clamp", -0.5, 0.5)], [x], lambda y: y.clamp(-0.5, 0.5))
    case("clamp/int64", [M("clamp", -2, 3)], [randint(34, -9, 9, 8)], lambda y: y.clamp(-2, 3))
    case("clamp/int64_float_bound", [M("clamp", 0.5)], [t([-1, 0, 1, 2])], lambda y: y.clamp(min=0.5))

    for op, fn in (("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid)):
        differentiable(op, [M(op)], [x * 2], fn)
        differentiable(f"{op}/function", [F(op, T(0))], [x * 2], fn)
    for mode in ("none", "tanh"):
        fn = lambda y, mode=mode: torch.nn.functional.gelu(y, approximate=mode)
        differentiable(f"gelu/{mode}", [M("gelu", mode)], [x * 2], fn)
        differentiable(f"gelu/{mode}/function", [F("gelu", T(0), mode)], [x * 2], fn)
    differentiable("gelu/default", [M("gelu")], [x * 2], torch.nn.functional.gelu)


def softmax_cases():
    x = randn(40, 2, 3, 4)
    for dim in (0, 1, -1):
        differentiable(f"softmax/dim{dim}", [M("softmax", dim)], [x], lambda y, dim=dim: y.softmax(dim))
        differentiable(f"logSoftmax/dim{dim}", [M("logSoftmax", dim)], [x], lambda y, dim=dim: y.log_softmax(dim))
    differentiable("softmax/function", [F("softmax", T(0), 1)], [x], lambda y: torch.softmax(y, 1))
    differentiable("logSoftmax/function", [F("logSoftmax", T(0), -1)], [x], lambda y: torch.log_softmax(y, -1))
    differentiable("softmax/dtype_float64", [M("softmax", -1, "float64")], [x],
                   lambda y: y.softmax(-1, dtype=f64))
    differentiable("logSoftmax/dtype_float64", [M("logSoftmax", 0, "float64")], [x],
                   lambda y: y.log_softmax(0, dtype=f64))
    # d2l's masked softmax fills with -1e6; -inf gives exact zeros.
    case("softmax/int64_dtype_float32", [M("softmax", 0, "float32")], [t([1, 2, 3])], lambda y: y.softmax(0, dtype=f32))
    differentiable("softmax/vector", [M("softmax", 0)], [randn(41, 5)], lambda y: y.softmax(0))
    case("softmax/with_minus_inf", [M("softmax", -1)], [t([[1.0, -INF, 2.0], [-1e6, 0.5, -1e6]])],
         lambda y: y.softmax(-1))


def reduction_cases():
    x = randn(50, 2, 3, 4)
    differentiable("sum/all", [M("sum")], [x], lambda y: y.sum())
    differentiable("sum/dim", [M("sum", 1)], [x], lambda y: y.sum(1))
    differentiable("sum/negative_dim", [M("sum", -1)], [x], lambda y: y.sum(-1))
    differentiable("sum/dims", [M("sum", [0, 2])], [x], lambda y: y.sum([0, 2]))
    differentiable("sum/keepdim", [M("sum", 1, {"keepdim": True})], [x], lambda y: y.sum(1, keepdim=True))
    differentiable("sum/dims_keepdim", [M("sum", [-1, 0], {"keepdim": True})], [x],
                   lambda y: y.sum([-1, 0], keepdim=True))
    differentiable("sum/dtype_float64", [M("sum", UNDEF, {"dtype": "float64"})], [x], lambda y: y.sum(dtype=f64))
    differentiable("sum/dim_dtype_float64", [M("sum", 2, {"dtype": "float64"})], [x], lambda y: y.sum(2, dtype=f64))
    differentiable("sum/empty_dims_list", [M("sum", [])], [x], lambda y: y.sum([]))
    differentiable("sum/0dim", [M("sum")], [randn(61)], lambda y: y.sum())
    case("sum/empty_tensor", [M("sum", 0)], [torch.zeros(0, 3)], lambda y: y.sum(0))
    case("sum/int64", [M("sum")], [randint(51, -9, 9, 2, 3)], lambda y: y.sum())
    case("sum/int32_is_int64", [M("sum", 0)], [randint(52, -9, 9, 2, 3, dtype=i32)], lambda y: y.sum(0))
    case("sum/uint8_is_int64", [M("sum")], [t([200, 100, 50], dtype=u8)], lambda y: y.sum())
    case("sum/bool_counts", [M("sum", -1)], [mask(53, 3, 4)], lambda y: y.sum(-1))
    case("sum/int64_dtype_float32", [M("sum", UNDEF, {"dtype": "float32"})], [randint(54, -9, 9, 5)],
         lambda y: y.sum(dtype=f32))

    differentiable("mean/all", [M("mean")], [x], lambda y: y.mean())
    differentiable("mean/dim", [M("mean", 0)], [x], lambda y: y.mean(0))
    differentiable("mean/dims_keepdim", [M("mean", [1, 2], {"keepdim": True})], [x],
                   lambda y: y.mean([1, 2], keepdim=True))
    differentiable("mean/dtype_float64", [M("mean", -1, {"dtype": "float64"})], [x], lambda y: y.mean(-1, dtype=f64))
    case("mean/int64_dtype_float32", [M("mean", UNDEF, {"dtype": "float32"})], [randint(55, -9, 9, 5)],
         lambda y: y.mean(dtype=f32))

    m = randn(56, 3, 4)
    for op in ("max", "min"):
        differentiable(f"{op}/all", [M(op)], [m], lambda y, op=op: getattr(y, op)())
        differentiable(f"{op}/dim", [M(op, 1)], [m], lambda y, op=op: getattr(y, op)(1))
        differentiable(f"{op}/dim_keepdim", [M(op, 0, True)], [m], lambda y, op=op: getattr(y, op)(0, keepdim=True))
        differentiable(f"{op}/negative_dim", [M(op, -1)], [randn(57, 2, 2, 3)], lambda y, op=op: getattr(y, op)(-1))
        case(f"{op}/int64_dim", [M(op, 0)], [randint(58, -9, 9, 3, 4)], lambda y, op=op: getattr(y, op)(0))
        case(f"{op}/int32_all", [M(op)], [randint(59, -99, 99, 7, dtype=i32)], lambda y, op=op: getattr(y, op)())
    case("max/nan", [M("max")], [t([1.0, NAN, 3.0])], lambda y: y.max())
    case("max/dim_nan", [M("max", 1)], [t([[1.0, NAN, 3.0], [4.0, 5.0, -1.0]])], lambda y: y.max(1))
    case("argmax/nan", [M("argmax")], [t([1.0, NAN, 3.0])], torch.argmax)
    for op in ("argmax", "argmin"):
        fn = getattr(torch, op)
        case(f"{op}/all", [M(op)], [m.float()], fn)
        case(f"{op}/dim", [M(op, 1)], [m.float()], lambda y, fn=fn: fn(y, 1))
        case(f"{op}/negative_dim_keepdim", [M(op, -2, True)], [m.float()], lambda y, fn=fn: fn(y, -2, keepdim=True))
        case(f"{op}/all_keepdim", [M(op, UNDEF, True)], [m.float()], lambda y, fn=fn: fn(y, keepdim=True))
        case(f"{op}/int64", [M(op, 0)], [randint(60, -99, 99, 3, 4)], lambda y, fn=fn: fn(y, 0))


def statistics_cases():
    """std, var (correction, unbiased, dims, keepdim) and norm (torch.linalg.vector_norm, which
    torch.norm computes for a number p and for 'fro')."""
    x = randn(400, 3, 4, 5)
    for op in ("std", "var"):
        fn = getattr(torch, op)
        differentiable(f"{op}/all", [M(op)], [x], lambda y, fn=fn: fn(y))
        differentiable(f"{op}/dim", [M(op, 1)], [x], lambda y, fn=fn: fn(y, 1))
        differentiable(f"{op}/negative_dim_keepdim", [M(op, -1, {"keepdim": True})], [x], lambda y, fn=fn: fn(y, -1, keepdim=True))
        differentiable(f"{op}/dims", [M(op, [0, 2])], [x], lambda y, fn=fn: fn(y, [0, 2]))
        differentiable(f"{op}/correction0", [M(op, 1, {"correction": 0})], [x], lambda y, fn=fn: fn(y, 1, correction=0))
        differentiable(f"{op}/correction2_dims_keepdim", [M(op, [1, 2], {"correction": 2, "keepdim": True})], [x],
                       lambda y, fn=fn: fn(y, [1, 2], correction=2, keepdim=True))
        differentiable(f"{op}/unbiased_false", [M(op, UNDEF, {"unbiased": False})], [x], lambda y, fn=fn: fn(y, unbiased=False))
        differentiable(f"{op}/unbiased_true_dim", [M(op, 0, {"unbiased": True})], [x], lambda y, fn=fn: fn(y, 0, unbiased=True))
        differentiable(f"{op}/keepdim_all", [M(op, UNDEF, {"keepdim": True})], [x], lambda y, fn=fn: fn(y, dim=None, keepdim=True))
        differentiable(f"{op}/null_dim", [M(op, None, {"correction": 0})], [x], lambda y, fn=fn: fn(y, dim=None, correction=0))
        differentiable(f"{op}/vector", [M(op)], [randn(402, 7)], lambda y, fn=fn: fn(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 2.x warns that N - correction <= 0
            case(f"{op}/single_element_is_nan", [M(op)], [t([1.5])], fn)
            case(f"{op}/0dim_is_nan", [M(op)], [randn(401)], fn)
        case(f"{op}/0dim_correction0", [M(op, UNDEF, {"correction": 0})], [randn(401)], lambda y, fn=fn: fn(y, dim=None, correction=0))
        case(f"{op}/empty_dim", [M(op, 0)], [torch.zeros(0, 3)], lambda y, fn=fn: fn(y, 0))

    vector_norm = torch.linalg.vector_norm
    m, x3 = randn(410, 3, 4), randn(411, 2, 3, 4)
    differentiable("norm/default", [M("norm")], [m], lambda y: torch.norm(y))
    differentiable("norm/default_3d", [M("norm")], [x3], lambda y: torch.norm(y))
    for p, label in ((1, "p1"), (3, "p3"), (0.5, "p0.5"), (2.5, "p2.5"), (INF, "inf"), (-INF, "minus_inf"), (-1, "p-1")):
        differentiable(f"norm/{label}", [M("norm", p)], [m], lambda y, p=p: vector_norm(y, p))
        differentiable(f"norm/{label}_dim", [M("norm", p, 1)], [m], lambda y, p=p: vector_norm(y, p, 1))
    differentiable("norm/p0_counts_nonzero", [M("norm", 0, 1)], [m.clamp(min=0)], lambda y: vector_norm(y, 0, 1))
    differentiable("norm/p2_dim", [M("norm", 2, 0)], [m], lambda y: torch.norm(y, 2, 0))
    differentiable("norm/fro", [M("norm", "fro")], [x3], lambda y: torch.norm(y, "fro"))
    differentiable("norm/fro_dims", [M("norm", "fro", [0, 2])], [x3], lambda y: torch.norm(y, "fro", dim=(0, 2)))
    differentiable("norm/fro_dim_keepdim", [M("norm", "fro", -1, {"keepdim": True})], [x3],
                   lambda y: torch.norm(y, "fro", dim=-1, keepdim=True))
    differentiable("norm/dims_keepdim", [M("norm", 2, [0, -1], {"keepdim": True})], [x3], lambda y: vector_norm(y, 2, (0, -1), keepdim=True))
    differentiable("norm/inf_dims", [M("norm", INF, [1, 2])], [x3], lambda y: vector_norm(y, INF, (1, 2)))
    differentiable("norm/keepdim_all", [M("norm", 2, UNDEF, {"keepdim": True})], [m], lambda y: torch.norm(y, 2, keepdim=True))
    differentiable("norm/dtype_float64", [M("norm", 1, 1, {"dtype": "float64"})], [m], lambda y: vector_norm(y, 1, 1, dtype=f64))
    differentiable("norm/zeros", [M("norm")], [torch.zeros(2, 3)], lambda y: torch.norm(y))
    differentiable("norm/0dim", [M("norm", 3)], [randn(412)], lambda y: vector_norm(y, 3))


def sorting_cases():
    """sort and topk (random inputs have no ties: the order of ties is unspecified unless stable)."""
    x = randn(420, 3, 5)
    differentiable("sort/default", [M("sort")], [x], lambda y: y.sort())
    differentiable("sort/dim0_descending", [M("sort", 0, {"descending": True})], [x], lambda y: y.sort(0, descending=True))
    differentiable("sort/negative_dim_ascending", [M("sort", -2, {"descending": False})], [randn(421, 2, 4, 3)], lambda y: y.sort(-2))
    differentiable("sort/stable", [M("sort", 1, {"stable": True})], [x], lambda y: y.sort(dim=1, stable=True))
    differentiable("sort/0dim", [M("sort")], [randn(422)], lambda y: y.sort())
    ties = t([[2, 1, 2, 0, 1, 2], [5, 5, 4, 5, 4, 4]])
    case("sort/stable_ties_int64", [M("sort", -1, {"stable": True})], [ties], lambda y: y.sort(stable=True))
    case("sort/stable_descending_ties", [M("sort", 1, {"descending": True, "stable": True})], [ties.double()],
         lambda y: y.sort(dim=1, descending=True, stable=True))
    case("sort/nan_and_infinities", [M("sort")], [t([1.0, NAN, -1.0, INF, -INF, 0.5])], lambda y: y.sort())
    case("sort/nan_descending", [M("sort", 0, {"descending": True})], [t([1.0, NAN, -1.0, INF])], lambda y: y.sort(0, descending=True))
    case("sort/int32", [M("sort")], [torch.randperm(7, generator=torch.Generator().manual_seed(423)).int()], lambda y: y.sort())
    case("sort/bool_stable", [M("sort", 0, {"stable": True})], [t([True, False, True, False])], lambda y: y.sort(dim=0, stable=True))
    case("sort/empty", [M("sort")], [torch.zeros(2, 0)], lambda y: y.sort())

    differentiable("topk/default", [M("topk", 3)], [x], lambda y: y.topk(3))
    differentiable("topk/smallest_dim0", [M("topk", 2, 0, {"largest": False})], [x], lambda y: y.topk(2, 0, largest=False))
    differentiable("topk/negative_dim", [M("topk", 1, -2)], [randn(424, 2, 4, 3)], lambda y: y.topk(1, -2))
    differentiable("topk/k_all", [M("topk", 5)], [x], lambda y: y.topk(5))
    differentiable("topk/k0", [M("topk", 0)], [x], lambda y: y.topk(0))
    differentiable("topk/0dim", [M("topk", 1)], [randn(425)], lambda y: y.topk(1))
    case("topk/int64", [M("topk", 2)], [torch.randperm(9, generator=torch.Generator().manual_seed(426)).reshape(3, 3)], lambda y: y.topk(2))
    case("topk/nan_is_largest", [M("topk", 2)], [t([1.0, NAN, 3.0, -1.0])], lambda y: y.topk(2))


def scan_and_logic_cases():
    """cumsum, any, all."""
    x = randn(430, 3, 4)
    differentiable("cumsum/dim0", [M("cumsum", 0)], [x], lambda y: y.cumsum(0))
    differentiable("cumsum/negative_dim", [M("cumsum", -1)], [x], lambda y: y.cumsum(-1))
    differentiable("cumsum/dtype_float64", [M("cumsum", 1, {"dtype": "float64"})], [x], lambda y: y.cumsum(1, dtype=f64))
    differentiable("cumsum/0dim", [M("cumsum", 0)], [randn(431)], lambda y: y.cumsum(0))
    case("cumsum/int32_is_int64", [M("cumsum", 0)], [randint(432, -9, 9, 6, dtype=i32)], lambda y: y.cumsum(0))
    case("cumsum/bool_is_int64", [M("cumsum", 1)], [mask(433, 2, 5)], lambda y: y.cumsum(1))
    case("cumsum/int64_dtype_float32", [M("cumsum", 0, {"dtype": "float32"})], [randint(434, -9, 9, 5)],
         lambda y: y.cumsum(0, dtype=f32))
    case("cumsum/uint8_is_int64", [M("cumsum", 0)], [t([200, 100, 50], dtype=u8)], lambda y: y.cumsum(0))

    b = mask(435, 3, 4)
    floats = t([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [-2.0, NAN, 3.0]])
    for op in ("any", "all"):
        fn = getattr(torch, op)
        case(f"{op}/every_element", [M(op)], [b], fn)
        case(f"{op}/dim", [M(op, 1)], [b], lambda y, fn=fn: fn(y, 1))
        case(f"{op}/dim_keepdim", [M(op, 0, True)], [b], lambda y, fn=fn: fn(y, 0, keepdim=True))
        case(f"{op}/negative_dim", [M(op, -1)], [floats], lambda y, fn=fn: fn(y, -1))
        case(f"{op}/float_every_element", [M(op)], [floats], fn)
        case(f"{op}/int64", [M(op, 0)], [randint(436, 0, 2, 3, 4)], lambda y, fn=fn: fn(y, 0))
        case(f"{op}/uint8_stays_uint8", [M(op, 0)], [t([[0, 3], [1, 1]], dtype=u8)], lambda y, fn=fn: fn(y, 0))
        case(f"{op}/uint8_every_element", [M(op)], [t([0, 3, 1], dtype=u8)], fn)
        case(f"{op}/empty", [M(op)], [torch.zeros(0, dtype=b8)], fn)
        case(f"{op}/empty_dim", [M(op, 1)], [torch.zeros(2, 0)], lambda y, fn=fn: fn(y, 1))
        case(f"{op}/0dim", [M(op)], [t(2.5)], fn)
        case(f"{op}/null_dim", [M(op, None)], [b], fn)


def comparison_cases():
    # Small integers as floats so that eq/le/ge see ties.
    x, y = randint(70, -2, 3, 3, 4).double(), randint(71, -2, 3, 3, 4).double()
    for op in ("eq", "ne", "lt", "le", "gt", "ge"):
        fn = getattr(torch, op)
        case(f"{op}/tensor", [M(op, T(1))], [x.float(), y.float()], fn)
        case(f"{op}/broadcast", [M(op, T(1))], [x.float(), y[0].float()], fn)
        case(f"{op}/scalar_int", [M(op, 1)], [x.float()], lambda a, fn=fn: fn(a, 1))
        case(f"{op}/scalar_float", [M(op, 0.5)], [x.float()], lambda a, fn=fn: fn(a, 0.5))
        case(f"{op}/int64_float_scalar", [M(op, 1.5)], [randint(72, -2, 4, 6)], lambda a, fn=fn: fn(a, 1.5))
        case(f"{op}/int64_float64", [M(op, T(1))], [randint(73, -2, 3, 6), randint(74, -2, 3, 6).double()], fn)

    p, q = mask(75, 2, 3), mask(76, 2, 3)
    for op, fn in (("logicalAnd", torch.logical_and), ("logicalOr", torch.logical_or), ("logicalXor", torch.logical_xor)):
        case(f"{op}/bool", [M(op, T(1))], [p, q], fn)
        case(f"{op}/broadcast", [M(op, T(1))], [p, q[0]], fn)
        case(f"{op}/float_int", [M(op, T(1))], [x.float(), y.long()], fn)
        case(f"{op}/scalar_true", [M(op, True)], [p], lambda a, fn=fn: fn(a, t(True)))
        case(f"{op}/scalar_zero", [M(op, 0)], [x.float()], lambda a, fn=fn: fn(a, t(0)))
    case("eq/bool_bool", [M("eq", T(1))], [p, q], torch.eq)
    case("lt/nan", [M("lt", T(1))], [t([NAN, 1.0, 2.0]), t([1.0, NAN, 3.0])], torch.lt)
    case("ne/nan_scalar", [M("ne", 1)], [t([NAN, 1.0])], lambda a: a.ne(1))
    case("logicalNot/bool", [M("logicalNot")], [p], torch.logical_not)
    case("logicalNot/float", [M("logicalNot")], [x.float()], torch.logical_not)
    case("logicalNot/int64", [M("logicalNot")], [y.long()], torch.logical_not)


def selection_cases():
    cond, a, b = mask(80, 2, 3), randn(81, 2, 3), randn(82, 2, 3)
    differentiable("where/tensor_tensor", [F("where", T(0), T(1), T(2))], [cond, a, b], torch.where)
    differentiable("where/broadcast", [F("where", T(0), T(1), T(2))], [mask(83, 2, 1), a, randn(84, 3)], torch.where)
    differentiable("where/tensor_scalar", [F("where", T(0), T(1), -0.5)], [cond, a],
                   lambda c, x: torch.where(c, x, -0.5))
    differentiable("where/scalar_tensor", [F("where", T(0), 1.5, T(1))], [cond, b],
                   lambda c, y: torch.where(c, 1.5, y))
    case("where/scalar_scalar", [F("where", T(0), 1.5, -0.5)], [cond], lambda c: torch.where(c, 1.5, -0.5))
    case("where/int_scalars", [F("where", T(0), 1, 0)], [cond], lambda c: torch.where(c, 1, 0))
    case("where/int64", [F("where", T(0), T(1), T(2))], [cond, randint(85, -9, 9, 2, 3), randint(86, -9, 9, 2, 3)],
         torch.where)
    case("where/int64_float32_promotes", [F("where", T(0), T(1), T(2))], [cond, randint(85, -9, 9, 2, 3), a.float()],
         torch.where)

    x = randn(87, 2, 3, 4)
    differentiable("maskedFill/scalar", [M("maskedFill", T(1), -2.5)], [x, mask(88, 2, 3, 4)],
                   lambda y, m: y.masked_fill(m, -2.5))
    differentiable("maskedFill/broadcast_mask", [M("maskedFill", T(1), -1000000)], [x, mask(89, 2, 1, 4)],
                   lambda y, m: y.masked_fill(m, -1000000))
    differentiable("maskedFill/tensor_value", [M("maskedFill", T(1), T(2))], [x, mask(90, 4), randn(91)],
                   lambda y, m, v: y.masked_fill(m, v))
    case("maskedFill/minus_inf", [M("maskedFill", T(1), -INF)], [x.float(), mask(92, 3, 4)],
         lambda y, m: y.masked_fill(m, -INF))
    case("maskedFill/int64_float_value", [M("maskedFill", T(1), 0.75)], [randint(97, -9, 9, 6), mask(94, 6)],
         lambda y, m: y.masked_fill(m, 0.75))
    case("maskedFill/int64", [M("maskedFill", T(1), 7)], [randint(93, -9, 9, 6), mask(94, 6)],
         lambda y, m: y.masked_fill(m, 7))
    case("maskedFill/bool", [M("maskedFill", T(1), True)], [mask(95, 6), mask(96, 6)],
         lambda y, m: y.masked_fill(m, True))


def linear_algebra_cases():
    differentiable("matmul/vector_vector", [M("matmul", T(1))], [randn(100, 4), randn(101, 4)], torch.matmul)
    differentiable("matmul/matrix_matrix", [M("matmul", T(1))], [randn(102, 2, 3), randn(103, 3, 4)], torch.matmul)
    differentiable("matmul/vector_matrix", [M("matmul", T(1))], [randn(104, 3), randn(105, 3, 2)], torch.matmul)
    differentiable("matmul/matrix_vector", [M("matmul", T(1))], [randn(106, 2, 3), randn(107, 3)], torch.matmul)
    differentiable("matmul/batched_matrix", [M("matmul", T(1))], [randn(108, 2, 2, 3), randn(109, 3, 2)], torch.matmul)
    differentiable("matmul/batched_broadcast", [M("matmul", T(1))], [randn(110, 2, 1, 2, 3), randn(111, 3, 3, 2)],
                   torch.matmul)
    differentiable("matmul/batched_vector", [M("matmul", T(1))], [randn(112, 2, 2, 3), randn(113, 3)], torch.matmul)
    differentiable("matmul/function", [F("matmul", T(0), T(1))], [randn(102, 2, 3), randn(103, 3, 4)], torch.matmul)
    differentiable("matmul/vector_batched", [M("matmul", T(1))], [randn(127, 3), randn(128, 2, 3, 2)], torch.matmul)
    case("matmul/empty_inner", [M("matmul", T(1))], [torch.zeros(2, 0), torch.zeros(0, 3)], torch.matmul)
    case("bmm/int64", [M("bmm", T(1))], [randint(129, -5, 5, 2, 2, 3), randint(130, -5, 5, 2, 3, 2)], torch.bmm)
    case("matmul/int64", [M("matmul", T(1))], [randint(114, -5, 5, 2, 3), randint(115, -5, 5, 3, 2)], torch.matmul)
    differentiable("bmm", [M("bmm", T(1))], [randn(116, 2, 2, 3), randn(117, 2, 3, 2)], torch.bmm)
    differentiable("bmm/function", [F("bmm", T(0), T(1))], [randn(116, 2, 2, 3), randn(117, 2, 3, 2)], torch.bmm)
    lin = torch.nn.functional.linear
    differentiable("linear/bias", [F("linear", T(0), T(1), T(2))], [randn(118, 2, 3), randn(119, 4, 3), randn(120, 4)],
                   lin)
    differentiable("linear/no_bias", [F("linear", T(0), T(1))], [randn(118, 2, 3), randn(119, 4, 3)], lin)
    differentiable("linear/batched_input", [F("linear", T(0), T(1), T(2))],
                   [randn(121, 2, 2, 3), randn(122, 2, 3), randn(123, 2)], lin)
    differentiable("linear/vector_input", [F("linear", T(0), T(1), T(2))], [randn(124, 3), randn(125, 2, 3), randn(126, 2)],
                   lin)


def shape_cases():
    x = randn(130, 2, 3, 4)
    view = dict(strides=True)
    differentiable("reshape", [M("reshape", [4, 6])], [x], lambda y: y.reshape(4, 6), **view)
    differentiable("reshape/infer", [M("reshape", [-1, 2])], [x], lambda y: y.reshape(-1, 2), **view)
    differentiable("reshape/non_contiguous_copies", [M("transpose", 0, 2), M("reshape", [-1])], [x],
                   lambda y: y.transpose(0, 2).reshape(-1), **view)
    differentiable("view", [M("view", [6, 4])], [x], lambda y: y.view(6, 4), **view)
    differentiable("view/infer", [M("view", [2, -1])], [x], lambda y: y.view(2, -1), **view)
    differentiable("permute", [M("permute", [2, 0, 1])], [x], lambda y: y.permute(2, 0, 1), **view)
    differentiable("permute/negative", [M("permute", [-1, -3, -2])], [x], lambda y: y.permute(-1, -3, -2), **view)
    differentiable("transpose", [M("transpose", 0, 1)], [x], lambda y: y.transpose(0, 1), **view)
    differentiable("transpose/negative", [M("transpose", -1, -3)], [x], lambda y: y.transpose(-1, -3), **view)
    differentiable("unsqueeze", [M("unsqueeze", 1)], [x], lambda y: y.unsqueeze(1), **view)
    differentiable("unsqueeze/negative", [M("unsqueeze", -1)], [x], lambda y: y.unsqueeze(-1), **view)
    s = randn(131, 1, 3, 1, 2)
    differentiable("squeeze/all", [M("squeeze")], [s], lambda y: y.squeeze(), **view)
    differentiable("squeeze/dim", [M("squeeze", 2)], [s], lambda y: y.squeeze(2), **view)
    differentiable("squeeze/dim_not_one", [M("squeeze", 1)], [s], lambda y: y.squeeze(1), **view)
    differentiable("flatten/all", [M("flatten")], [x], lambda y: y.flatten(), **view)
    differentiable("flatten/range", [M("flatten", 1)], [x], lambda y: y.flatten(1), **view)
    differentiable("flatten/start_end", [M("flatten", 0, 1)], [x], lambda y: y.flatten(0, 1), **view)
    differentiable("expand", [M("expand", [2, 3, 4])], [randn(132, 3, 1)], lambda y: y.expand(2, 3, 4), **view)
    differentiable("expand/keep_size", [M("expand", [-1, 3])], [randn(133, 2, 1)], lambda y: y.expand(-1, 3), **view)
    differentiable("squeeze/negative_dim", [M("squeeze", -2)], [s], lambda y: y.squeeze(-2), **view)
    differentiable("squeeze/0dim", [M("squeeze")], [randn(139)], lambda y: y.squeeze(), **view)
    differentiable("unsqueeze/0dim", [M("unsqueeze", 0)], [randn(139)], lambda y: y.unsqueeze(0), **view)
    differentiable("flatten/0dim", [M("flatten")], [randn(139)], lambda y: y.flatten(), **view)
    differentiable("permute/identity", [M("permute", [0, 1, 2])], [x], lambda y: y.permute(0, 1, 2), **view)
    differentiable("expand/new_leading_dims", [M("expand", [2, 2, 3])], [randn(143, 3)], lambda y: y.expand(2, 2, 3), **view)
    differentiable("clone/keeps_strides_of_transpose", [M("transpose", 0, 1), M("clone")], [randn(144, 2, 3)],
                   lambda y: y.transpose(0, 1).clone(), **view)
    differentiable("asStrided", [M("asStrided", [2, 2], [1, 2])], [randn(145, 6)], lambda y: y.as_strided((2, 2), (1, 2)),
                   **view)
    differentiable("asStrided/offset", [M("asStrided", [2, 2], [3, 1], 1)], [randn(146, 2, 3)],
                   lambda y: y.as_strided((2, 2), (3, 1), 1), **view)
    differentiable("asStrided/overlapping", [M("asStrided", [3, 2], [1, 1])], [randn(147, 4)],
                   lambda y: y.as_strided((3, 2), (1, 1)), **view)
    differentiable("contiguous/of_transpose", [M("transpose", 0, 1), M("contiguous")], [randn(134, 2, 3)],
                   lambda y: y.transpose(0, 1).contiguous(), **view)
    differentiable("view/after_contiguous", [M("permute", [1, 0, 2]), M("contiguous"), M("view", [3, 8])], [x],
                   lambda y: y.permute(1, 0, 2).contiguous().view(3, 8), **view)

    a, b, c = randn(135, 2, 3), randn(136, 1, 3), randn(137, 2, 3)
    differentiable("cat/dim0", [F("cat", [T(0), T(1)])], [a, b], lambda p, q: torch.cat([p, q]))
    differentiable("cat/dim1_three", [F("cat", [T(0), T(1), T(2)], 1)], [a, c, randn(138, 2, 1)],
                   lambda p, q, r: torch.cat([p, q, r], 1))
    differentiable("cat/negative_dim", [F("cat", [T(0), T(1)], -1)], [a, c], lambda p, q: torch.cat([p, q], -1))
    case("cat/with_empty", [F("cat", [T(0), T(1)])], [a.float(), torch.zeros(0, 3)], lambda p, q: torch.cat([p, q]))
    case("cat/int64", [F("cat", [T(0), T(1)])], [randint(139, 0, 9, 2), randint(140, 0, 9, 3)],
         lambda p, q: torch.cat([p, q]))
    differentiable("stack/dim0", [F("stack", [T(0), T(1)])], [a, c], lambda p, q: torch.stack([p, q]))
    differentiable("stack/dim1", [F("stack", [T(0), T(1), T(2)], 1)], [a, c, randn(141, 2, 3)],
                   lambda p, q, r: torch.stack([p, q, r], 1))
    differentiable("stack/negative_dim", [F("stack", [T(0), T(1)], -1)], [a, c], lambda p, q: torch.stack([p, q], -1))

    r = randn(142, 5, 2)
    differentiable("split/int", [M("split", 2)], [r], lambda y: y.split(2), **view)
    differentiable("split/sizes", [M("split", [1, 4])], [r], lambda y: y.split([1, 4]), **view)
    differentiable("split/dim", [M("split", 1, 1)], [r], lambda y: y.split(1, 1), **view)
    differentiable("chunk", [M("chunk", 3)], [r], lambda y: y.chunk(3), **view)
    differentiable("chunk/dim", [M("chunk", 2, -1)], [r], lambda y: y.chunk(2, -1), **view)
    differentiable("narrow", [M("narrow", 0, 1, 3)], [r], lambda y: y.narrow(0, 1, 3), **view)
    differentiable("narrow/dim", [M("narrow", -1, 1, 1)], [r], lambda y: y.narrow(-1, 1, 1), **view)
    differentiable("narrow/negative_start", [M("narrow", 0, -2, 2)], [r], lambda y: y.narrow(0, -2, 2), **view)
    differentiable("chunk/more_chunks_than_rows", [M("chunk", 4, 1)], [r], lambda y: y.chunk(4, 1), **view)
    differentiable("select", [M("select", 1, 2)], [x], lambda y: y.select(1, 2), **view)
    differentiable("select/negative", [M("select", -1, -1)], [x], lambda y: y.select(-1, -1), **view)


def indexing_cases():
    x = randn(150, 2, 3, 4)
    differentiable("index/int_middle", [M("index", ":", 0, ":")], [x], lambda y: y[:, 0, :])
    differentiable("index/negative_int", [M("index", -1)], [x], lambda y: y[-1])
    differentiable("index/slice_step", [M("index", ":", ":", S(None, None, 2))], [x], lambda y: y[:, :, ::2])
    differentiable("index/slice_bounds", [M("index", S(1), S(0, 2))], [x], lambda y: y[1:, 0:2])
    differentiable("index/slice_negative", [M("index", ":", S(-2), S(None, -1))], [x], lambda y: y[:, -2:, :-1])
    differentiable("index/new_axis", [M("index", None, ":", 1)], [x], lambda y: y[None, :, 1])
    differentiable("index/ellipsis", [M("index", "...", 1)], [x], lambda y: y[..., 1])
    differentiable("index/ellipsis_new_axis", [M("index", 0, "...", None)], [x], lambda y: y[0, ..., None])
    batch_idx, positions = t([0, 0, 1, 1]), t([0, 2, 1, 2])
    # d2l's MaskLM: X[batch_idx, pred_positions]
    differentiable("index/batch_positions", [M("index", T(1), T(2))], [x, batch_idx, positions],
                   lambda y, b, p: y[b, p])
    differentiable("index/tensor_after_slice", [M("index", ":", T(1))], [x, t([2, 0])], lambda y, i: y[:, i])
    differentiable("index/bool_mask", [M("index", T(1))], [x, mask(151, 2, 3)], lambda y, m: y[m])
    differentiable("index/bool_mask_full", [M("index", T(1))], [x, mask(152, 2, 3, 4)], lambda y, m: y[m])
    differentiable("index/true_scalar", [M("index", True)], [randn(153, 2, 2)], lambda y: y[True])
    differentiable("index/negative_tensor", [M("index", T(1))], [x, t([-1, 0, -2])], lambda y, i: y[i])
    differentiable("index/0dim_tensor", [M("index", ":", T(1))], [x, t(2)], lambda y, i: y[:, i])
    differentiable("index/separated_advanced", [M("index", T(1), ":", T(2))], [x, t([1, 0]), t([3, 2])],
                   lambda y, i, j: y[i, :, j])
    differentiable("index/slice_out_of_range", [M("index", S(-10, 10), S(5))], [x], lambda y: y[-10:10, 5:])
    differentiable("index/false_scalar", [M("index", False)], [randn(153, 2, 2)], lambda y: y[False])
    differentiable("index/on_0dim_new_axis", [M("index", None)], [randn(154)], lambda y: y[None])
    case("index/int64_input", [M("index", S(None, None, 2), -1)], [randint(154, 0, 99, 4, 3)], lambda y: y[::2, -1])

    differentiable("indexPut_/tensor_index", [M("clone"), M("indexPut_", [T(1)], T(2))], [x, t([1]), randn(155, 3, 4)],
                   lambda y, i, v: index_put(y.clone(), (i,), v))
    differentiable("indexPut_/batch_positions", [M("clone"), M("indexPut_", [T(1), T(2)], T(3))],
                   [x, batch_idx, positions, randn(156, 4, 4)], lambda y, b, p, v: index_put(y.clone(), (b, p), v))
    differentiable("indexPut_/broadcast_value", [M("clone"), M("indexPut_", [":", 1], T(1))], [x, randn(157, 4)],
                   lambda y, v: index_put(y.clone(), (slice(None), 1), v))
    differentiable("indexPut_/scalar", [M("clone"), M("indexPut_", [0, S(1)], 0.5)], [x],
                   lambda y: index_put(y.clone(), (0, slice(1, None)), 0.5))
    differentiable("indexPut_/bool_mask", [M("clone"), M("indexPut_", [T(1)], -1.5)], [x, mask(158, 2, 3, 4)],
                   lambda y, m: index_put(y.clone(), (m,), -1.5))
    case("indexPut_/int64", [M("indexPut_", ["...", 0], 9)], [randint(159, 0, 5, 2, 3)],
         lambda y: index_put(y, (Ellipsis, 0), 9))

    m = randn(160, 3, 4)
    differentiable("indexSelect/dim0", [M("indexSelect", 0, T(1))], [m, t([2, 0, 2])], lambda y, i: y.index_select(0, i))
    differentiable("indexSelect/dim1_int32", [M("indexSelect", 1, T(1))], [m, t([3, 1], dtype=i32)],
                   lambda y, i: y.index_select(1, i))
    differentiable("indexSelect/negative_dim", [M("indexSelect", -1, T(1))], [m, t([0, 0, 3])],
                   lambda y, i: y.index_select(-1, i))
    differentiable("gather/dim1", [M("gather", 1, T(1))], [m, t([[0, 3], [1, 1], [2, 0]])], lambda y, i: y.gather(1, i))
    differentiable("gather/dim0", [M("gather", 0, T(1))], [m, t([[2, 1, 0, 0]])], lambda y, i: y.gather(0, i))
    differentiable("gather/negative_dim", [M("gather", -1, T(1))], [randn(161, 2, 2, 3), t([[[2], [0]], [[1], [1]]])],
                   lambda y, i: y.gather(-1, i))

    differentiable("repeatInterleave/int_flat", [M("repeatInterleave", 2)], [m], lambda y: y.repeat_interleave(2))
    differentiable("repeatInterleave/int_dim", [M("repeatInterleave", 3, 0)], [m], lambda y: y.repeat_interleave(3, 0))
    differentiable("repeatInterleave/tensor_dim", [M("repeatInterleave", T(1), 1)], [m, t([1, 0, 2, 1])],
                   lambda y, r: y.repeat_interleave(r, 1))
    differentiable("repeatInterleave/tensor_flat", [M("repeatInterleave", T(1))], [randn(162, 3), t([2, 1, 3])],
                   lambda y, r: y.repeat_interleave(r))
    # d2l's batch index: torch.repeat_interleave(torch.arange(batch_size), num_pred_positions)
    differentiable("repeatInterleave/negative_dim", [M("repeatInterleave", 2, -1)], [m], lambda y: y.repeat_interleave(2, -1))
    case("repeatInterleave/int64", [M("repeatInterleave", 3)], [torch.arange(3)], lambda y: y.repeat_interleave(3))


def index_put(tensor, indices, value):
    """Python's `tensor[indices] = value`, returning the tensor."""
    tensor[indices] = value
    return tensor


# Values to convert: ties and rounding edges of float16/bfloat16 (1 + 2^-11, 1 + 3 * 2^-11,
# 1 + 2^-8), float16 underflow (2^-25), wrap-around of int -> uint8 / float16 overflow from ints.
# Negative floats never go to uint8 (C++ leaves that conversion undefined), nor do
# out-of-range floats go to integers.
FLOAT_VALUES = [-2.75, -1.5, -0.4, 0.0, 0.1, 1 / 3, 1.00048828125, 1.00146484375, 1.00390625, 2.5, 3.5, 255.9,
                2 ** -25]
FLOAT_NONNEGATIVE = [0.0, 0.1, 0.6, 1.5, 2.5, 3.75, 100.25, 254.9]
INT_VALUES = [-1000, -3, -1, 0, 1, 2, 7, 255, 257, 4097, 70000]
INT_NONNEGATIVE = [0, 1, 2, 7, 100, 255]


def conversion_values(src, dst):
    if src == b8:
        return [True, False, True, True]
    nonnegative = dst == u8 or src == u8
    if src.is_floating_point:
        return FLOAT_NONNEGATIVE if nonnegative else FLOAT_VALUES
    return INT_NONNEGATIVE if nonnegative else INT_VALUES


def conversion_cases():
    for source, src in DTYPES.items():
        for target, dst in DTYPES.items():
            x = t(conversion_values(src, dst), dtype=f64 if src.is_floating_point else None).to(src)
            case(f"to/{source}_to_{target}", [M("to", target)], [x], lambda y, dst=dst: y.to(dst))
    overflow = t([1e5, -1e5, 65504.0, 65519.0, 65520.0, 3e38])
    case("to/float32_overflow_to_float16", [M("to", "float16")], [overflow], lambda y: y.to(f16))
    case("to/float32_large_to_bfloat16", [M("to", "bfloat16")], [overflow], lambda y: y.to(bf16))
    case("to/float_nonfinite_to_float16", [M("to", "float16")], [t([NAN, INF, -INF])], lambda y: y.to(f16))
    case("to/float_nonfinite_to_bool", [M("to", "bool")], [t([NAN, INF, -0.0])], lambda y: y.to(b8))
    differentiable("to/float_to_float", [M("to", "float64")], [randn(170, 2, 3)], lambda y: y.to(f64))
    differentiable("to/float_to_float16", [M("to", "float16")], [randn(171, 4)], lambda y: y.to(f16))
    differentiable("to/options_dtype_copy", [M("to", {"dtype": "float32", "copy": True})], [randn(172, 4)],
                   lambda y: y.to(dtype=f32, copy=True))
    differentiable("to/device_cpu", [M("to", "cpu")], [randn(173, 3)], lambda y: y.to("cpu"))
    differentiable("cpu", [M("cpu")], [randn(174, 3)], lambda y: y.cpu())
    differentiable("clone", [M("clone")], [randn(175, 2, 3)], lambda y: y.clone())
    case("detach", [M("detach")], [randn(176, 2, 3).float()], lambda y: y.detach(), requires_grad=[0])


def in_place_cases():
    x, y = randn(180, 2, 3), randn(181, 3)
    p = positive(182, 3)
    # In-place ops on a leaf that requires grad are errors; the differentiable cases clone first.
    differentiable("add_/tensor", [M("clone"), M("add_", T(1))], [x, y], lambda a, b: a.clone().add_(b))
    differentiable("add_/alpha", [M("clone"), M("add_", T(1), -2)], [x, y], lambda a, b: a.clone().add_(b, alpha=-2))
    differentiable("add_/scalar", [M("clone"), M("add_", 0.25)], [x], lambda a: a.clone().add_(0.25))
    differentiable("sub_/tensor_alpha", [M("clone"), M("sub_", T(1), 1.5)], [x, y],
                   lambda a, b: a.clone().sub_(b, alpha=1.5))
    differentiable("sub_/scalar", [M("clone"), M("sub_", 0.25)], [x], lambda a: a.clone().sub_(0.25))
    differentiable("mul_/tensor", [M("clone"), M("mul_", T(1))], [x, y], lambda a, b: a.clone().mul_(b))
    differentiable("mul_/scalar", [M("clone"), M("mul_", -0.5)], [x], lambda a: a.clone().mul_(-0.5))
    differentiable("div_/tensor", [M("clone"), M("div_", T(1))], [x, p], lambda a, b: a.clone().div_(b))
    differentiable("div_/scalar", [M("clone"), M("div_", 0.3)], [x], lambda a: a.clone().div_(0.3))
    differentiable("zero_", [M("clone"), M("zero_")], [x], lambda a: a.clone().zero_())
    differentiable("fill_", [M("clone"), M("fill_", 1.25)], [x], lambda a: a.clone().fill_(1.25))
    differentiable("clamp_/min", [M("clone"), M("clamp_", -0.25)], [x], lambda a: a.clone().clamp_(min=-0.25))
    differentiable("clamp_/max", [M("clone"), M("clamp_", None, 0.25)], [x], lambda a: a.clone().clamp_(max=0.25))
    differentiable("clamp_/both", [M("clone"), M("clamp_", -0.25, 0.25)], [x], lambda a: a.clone().clamp_(-0.25, 0.25))
    differentiable("maskedFill_/scalar", [M("clone"), M("maskedFill_", T(1), 0.5)], [x, mask(183, 2, 3)],
                   lambda a, m: a.clone().masked_fill_(m, 0.5))
    differentiable("maskedFill_/tensor_value", [M("clone"), M("maskedFill_", T(1), T(2))], [x, mask(184, 3), randn(185)],
                   lambda a, m, v: a.clone().masked_fill_(m, v))
    differentiable("copy_/broadcast", [M("clone"), M("copy_", T(1))], [x, y], lambda a, b: a.clone().copy_(b))
    case("copy_/float64_into_float32", [M("copy_", T(1))], [x.float(), randn(186, 2, 3)], lambda a, b: a.copy_(b))
    case("copy_/int64_into_float32", [M("copy_", T(1))], [x.float(), randint(187, -9, 9, 2, 3)], lambda a, b: a.copy_(b))
    case("copy_/float32_into_int64", [M("copy_", T(1))], [randint(187, -9, 9, 2, 3), x.float() * 3],
         lambda a, b: a.copy_(b))
    case("add_/int64", [M("add_", 3)], [randint(188, -9, 9, 5)], lambda a: a.add_(3))
    case("add_/int64_tensor_alpha", [M("add_", T(1), 2)], [randint(188, -9, 9, 5), randint(189, -9, 9, 5)],
         lambda a, b: a.add_(b, alpha=2))
    case("add_/float32_with_int64", [M("add_", T(1))], [x.float(), randint(190, -9, 9, 3)], lambda a, b: a.add_(b))
    case("sub_/int32", [M("sub_", 4)], [randint(191, -9, 9, 5, dtype=i32)], lambda a: a.sub_(4))
    case("mul_/uint8_wraps", [M("mul_", 3)], [t([100, 50, 7], dtype=u8)], lambda a: a.mul_(3))
    case("div_/float32_by_int", [M("div_", 4)], [x.float()], lambda a: a.div_(4))
    case("zero_/int64", [M("zero_")], [randint(192, -9, 9, 5)], lambda a: a.zero_())
    case("fill_/int64", [M("fill_", -7)], [randint(193, -9, 9, 5)], lambda a: a.fill_(-7))
    case("fill_/nan", [M("fill_", NAN)], [x.float()], lambda a: a.fill_(NAN))
    case("copy_/bool_into_float32", [M("copy_", T(1))], [x.float(), mask(198, 3)], lambda a, b: a.copy_(b))
    case("add_/on_view_writes_base", [M("select", 0, 1), M("add_", 1.5)], [x.float()],
         lambda a: (a.select(0, 1).add_(1.5), a)[1], outputs_are_inputs=True)
    case("fill_/bool", [M("fill_", True)], [mask(194, 4)], lambda a: a.fill_(True))
    case("clamp_/int64", [M("clamp_", -1, 1)], [randint(195, -9, 9, 6)], lambda a: a.clamp_(-1, 1))
    case("maskedFill_/int32", [M("maskedFill_", T(1), 0)], [randint(196, 1, 9, 6, dtype=i32), mask(197, 6)],
         lambda a, m: a.masked_fill_(m, 0))


def promotion_cases():
    cases = [
        ("int64_plus_float_scalar", t([1, 2, -3]), 2.5, None),
        ("int64_plus_int_scalar", t([1, 2, -3]), 4, None),
        ("int32_plus_int_scalar_stays_int32", t([1, 2, -3], dtype=i32), 4, None),
        ("int32_plus_int64", t([1, 2, -3], dtype=i32), None, t([10, 20, 30])),
        ("int32_plus_float32", t([1, 2, -3], dtype=i32), None, t([0.5, 0.25, 0.125])),
        ("uint8_plus_uint8_wraps", t([200, 100, 255], dtype=u8), None, t([100, 100, 1], dtype=u8)),
        ("uint8_plus_int_scalar_stays_uint8", t([200, 100, 255], dtype=u8), 60, None),
        ("uint8_plus_int32", t([200, 100, 255], dtype=u8), None, t([100, -300, 1], dtype=i32)),
        ("uint8_plus_bool", t([1, 2, 3], dtype=u8), None, t([True, False, True])),
        ("bool_plus_bool", t([True, False, False]), None, t([True, True, False])),
        ("bool_plus_int_scalar", t([True, False]), 3, None),
        ("bool_plus_float_scalar", t([True, False]), 0.5, None),
        ("bool_plus_true_scalar", t([True, False]), True, None),
        ("int64_plus_true_scalar", t([1, 2]), True, None),
        ("float16_plus_float32", t([1.5, -2.25], dtype=f16), None, t([0.1, 0.2])),
        ("float16_plus_float_scalar_stays_float16", t([1.5, -2.25], dtype=f16), 0.1, None),
        ("bfloat16_plus_float16", t([1.5, -2.25], dtype=bf16), None, t([0.1, 0.2], dtype=f16)),
        ("float32_plus_float64", t([1.5, -2.25]), None, t([0.1, 0.2], dtype=f64)),
        ("float32_plus_0dim_float64_stays_float32", t([1.5, -2.25]), None, t(0.1, dtype=f64)),
        ("int64_plus_0dim_float64", t([1, 2]), None, t(0.1, dtype=f64)),
        ("int32_plus_0dim_int64_stays_int32", t([1, 2], dtype=i32), None, t(5)),
        ("0dim_int64_plus_float32", t(3), None, t([0.5, 1.5])),
    ]
    for name, x, scalar, other in cases:
        if other is None:
            case(f"promotion/{name}", [M("add", scalar)], [x], lambda a, s=scalar: a + s)
        else:
            case(f"promotion/{name}", [M("add", T(1))], [x, other], lambda a, b: a + b)
    case("promotion/int64_mul_float_scalar", [M("mul", 0.5)], [t([1, 2, 3])], lambda a: a * 0.5)
    case("promotion/int32_mul_float64", [M("mul", T(1))], [t([1, 2], dtype=i32), t([0.1, 0.2], dtype=f64)],
         lambda a, b: a * b)
    case("promotion/uint8_sub_int_scalar_wraps", [M("sub", 10)], [t([5, 20], dtype=u8)], lambda a: a - 10)
    case("promotion/int64_div_float32", [M("div", T(1))], [t([1, 2]), t([4.0, 8.0])], lambda a, b: a / b)
    case("promotion/bool_mul_float32", [M("mul", T(1))], [t([True, False]), t([2.5, 3.5])], lambda a, b: a * b)


def transpose_and_cast_cases():
    """The .T getter (PyTorch 1.13's: the dims reversed, for every ndim) and float()/long()."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch deprecates .T for ndim other than 2
        differentiable("T/matrix", [P("T")], [randn(440, 2, 3)], lambda y: y.T)
        differentiable("T/3d", [P("T")], [randn(441, 2, 3, 4)], lambda y: y.T)
        differentiable("T/then_method", [P("T"), M("mul", 2)], [randn(442, 3, 2)], lambda y: y.T * 2)
        case("T/strides", [P("T")], [randn(443, 2, 3, 4)], lambda y: y.T, strides=True)
        case("T/vector", [P("T")], [randn(444, 4)], lambda y: y.T, strides=True)
        case("T/0dim", [P("T")], [randn(445)], lambda y: y.T)
        case("T/int64", [P("T")], [randint(446, -9, 9, 2, 3)], lambda y: y.T)
    differentiable("float", [M("float")], [randn(447, 2, 3)], lambda y: y.float())
    case("float/from_int64", [M("float")], [randint(448, -9, 9, 5)], lambda y: y.float())
    case("float/from_bool", [M("float")], [mask(449, 4)], lambda y: y.float())
    case("float/from_float16", [M("float")], [t([0.5, -1.25, 3.0], dtype=f16)], lambda y: y.float())
    case("float/from_int64_rounds", [M("float")], [t([16777217, -16777219])], lambda y: y.float())
    case("long/from_float_truncates", [M("long")], [t([1.7, -1.7, 0.5, -2.5, 3.0])], lambda y: y.long())
    case("long/from_float64", [M("long")], [t([1e10, -3.99], dtype=f64)], lambda y: y.long())
    case("long/from_bool", [M("long")], [mask(450, 5)], lambda y: y.long())
    case("long/from_int32", [M("long")], [randint(451, -9, 9, 4, dtype=i32)], lambda y: y.long())
    case("long/same", [M("long")], [randint(452, -9, 9, 4)], lambda y: y.long())


def options(dtype):
    return {"dtype": dtype}


def factory_cases():
    case("zeros/default", [F("zeros", [2, 3])], [], lambda: torch.zeros(2, 3))
    case("zeros/number_shape", [F("zeros", 4)], [], lambda: torch.zeros(4))
    case("zeros/scalar_shape", [F("zeros", [])], [], lambda: torch.zeros([]))
    case("zeros/int32", [F("zeros", [3], options("int32"))], [], lambda: torch.zeros(3, dtype=i32))
    case("ones/float64", [F("ones", [2, 2], options("float64"))], [], lambda: torch.ones(2, 2, dtype=f64))
    case("ones/bool", [F("ones", [3], options("bool"))], [], lambda: torch.ones(3, dtype=b8))
    case("ones/default", [F("ones", [1, 2])], [], lambda: torch.ones(1, 2))
    case("empty/float32", [F("empty", [2, 3])], [], lambda: torch.empty(2, 3), values=False)
    case("empty/int64", [F("empty", [4], options("int64"))], [], lambda: torch.empty(4, dtype=i64), values=False)
    case("full/float", [F("full", [2, 2], 2.5)], [], lambda: torch.full((2, 2), 2.5))
    case("full/int", [F("full", [3], 7)], [], lambda: torch.full((3,), 7))
    case("full/bool", [F("full", [2], True)], [], lambda: torch.full((2,), True))
    case("full/int_as_float64", [F("full", [2], 7, options("float64"))], [], lambda: torch.full((2,), 7, dtype=f64))
    case("full/float16_rounds", [F("full", [2], 0.1, options("float16"))], [], lambda: torch.full((2,), 0.1, dtype=f16))
    case("eye/square", [F("eye", 3)], [], lambda: torch.eye(3))
    case("eye/rectangular", [F("eye", 2, 4)], [], lambda: torch.eye(2, 4))
    case("eye/tall_int64", [F("eye", 3, 2, options("int64"))], [], lambda: torch.eye(3, 2, dtype=i64))
    case("eye/square_with_options", [F("eye", 2, UNDEF, options("float64"))], [], lambda: torch.eye(2, dtype=f64))
    case("arange/end_int", [F("arange", 5)], [], lambda: torch.arange(5))
    case("arange/start_end_int", [F("arange", 2, 7)], [], lambda: torch.arange(2, 7))
    case("arange/negative_step_int", [F("arange", 10, 0, -3)], [], lambda: torch.arange(10, 0, -3))
    case("arange/float_step", [F("arange", 1, 4, 0.5)], [], lambda: torch.arange(1, 4, 0.5))
    case("arange/float_start", [F("arange", 0.5, 3)], [], lambda: torch.arange(0.5, 3))
    case("arange/tenths", [F("arange", 0, 1, 0.1)], [], lambda: torch.arange(0, 1, 0.1))
    case("arange/end_float64", [F("arange", 4, options("float64"))], [], lambda: torch.arange(4, dtype=f64))
    case("arange/int_as_int32", [F("arange", 1, 9, 2, options("int32"))], [], lambda: torch.arange(1, 9, 2, dtype=i32))
    case("arange/float_end", [F("arange", 2.5)], [], lambda: torch.arange(2.5))
    case("linspace/default", [F("linspace", 0, 1, 5)], [], lambda: torch.linspace(0, 1, 5))
    case("linspace/thirds", [F("linspace", -1, 1, 7)], [], lambda: torch.linspace(-1, 1, 7))
    case("linspace/float64", [F("linspace", 0.1, 0.7, 4, options("float64"))], [],
         lambda: torch.linspace(0.1, 0.7, 4, dtype=f64))
    case("linspace/int64", [F("linspace", 0, 10, 4, options("int64"))], [], lambda: torch.linspace(0, 10, 4, dtype=i64))
    case("linspace/one_step", [F("linspace", 2.5, 9, 1)], [], lambda: torch.linspace(2.5, 9, 1))
    case("linspace/descending", [F("linspace", 3, -3, 4)], [], lambda: torch.linspace(3, -3, 4))
    case("full/minus_inf", [F("full", [2], -INF)], [], lambda: torch.full((2,), -INF))
    case("arange/float_rounding", [F("arange", 0, 0.3, 0.1)], [], lambda: torch.arange(0, 0.3, 0.1))
    case("linspace/zero_steps", [F("linspace", 0, 1, 0)], [], lambda: torch.linspace(0, 1, 0))
    case("tensor/nested_int", [F("tensor", [[1, 2], [3, -4]])], [], lambda: t([[1, 2], [3, -4]]))
    case("tensor/nested_float", [F("tensor", [[1, 2.5], [0.1, -4]])], [], lambda: t([[1, 2.5], [0.1, -4]]))
    case("tensor/nested_bool", [F("tensor", [True, False])], [], lambda: t([True, False]))
    case("tensor/scalar_float", [F("tensor", 0.1)], [], lambda: t(0.1))
    case("tensor/scalar_int", [F("tensor", 3)], [], lambda: t(3))
    case("tensor/with_dtype", [F("tensor", [1, 2], options("float64"))], [], lambda: t([1, 2], dtype=f64))
    case("tensor/float_to_bfloat16", [F("tensor", [0.1, 1.00390625], options("bfloat16"))], [],
         lambda: t([0.1, 1.00390625], dtype=bf16))

    like = randn(200, 2, 3)
    case("zerosLike", [F("zerosLike", T(0))], [like], torch.zeros_like)
    case("zerosLike/dtype", [F("zerosLike", T(0), options("int32"))], [like], lambda x: torch.zeros_like(x, dtype=i32))
    case("onesLike", [F("onesLike", T(0))], [like.float()], torch.ones_like)
    case("onesLike/dtype", [F("onesLike", T(0), options("bool"))], [like.float()],
         lambda x: torch.ones_like(x, dtype=b8))
    case("fullLike", [F("fullLike", T(0), -1.5)], [like.float()], lambda x: torch.full_like(x, -1.5))
    case("fullLike/int_into_int", [F("fullLike", T(0), 4)], [randint(201, 0, 5, 3)], lambda x: torch.full_like(x, 4))
    case("emptyLike", [F("emptyLike", T(0))], [like], torch.empty_like, values=False)


def random_cases():
    # Same libtorch CPU generator: after manual_seed(s) both draw the same numbers.
    # randn takes a vectorized path from 16 elements on; both sizes are covered.
    case("rand/small", [F("rand", [5])], [], lambda: torch.rand(5), seed=0)
    case("rand/matrix", [F("rand", [4, 5])], [], lambda: torch.rand(4, 5), seed=42)
    case("rand/float64", [F("rand", [2, 3], {"dtype": "float64"})], [], lambda: torch.rand(2, 3, dtype=f64), seed=7)
    case("randn/small", [F("randn", [5])], [], lambda: torch.randn(5), seed=0)
    case("randn/vectorized", [F("randn", [4, 5])], [], lambda: torch.randn(4, 5), seed=42)
    case("randn/float64", [F("randn", [3, 4], {"dtype": "float64"})], [], lambda: torch.randn(3, 4, dtype=f64), seed=7)
    case("randn/float64_vectorized", [F("randn", [20], {"dtype": "float64"})], [], lambda: torch.randn(20, dtype=f64),
         seed=3)
    case("randint/small", [F("randint", 0, 10, [6])], [], lambda: torch.randint(0, 10, (6,)), seed=0)
    case("randint/negative_int32", [F("randint", -5, 5, [4, 5], {"dtype": "int32"})], [],
         lambda: torch.randint(-5, 5, (4, 5), dtype=i32), seed=1)
    case("randint/float32", [F("randint", 0, 100, [8], {"dtype": "float32"})], [],
         lambda: torch.randint(0, 100, (8,), dtype=f32), seed=2)
    case("rand/sequence", [F("rand", [3]), M("add", T(0))], [torch.zeros(3)], lambda z: torch.rand(3) + z, seed=11)
    like = torch.zeros(2, 3)
    case("randLike", [F("randLike", T(0))], [like], torch.rand_like, seed=5)
    case("randnLike", [F("randnLike", T(0))], [like.double()], torch.randn_like, seed=5)
    case("randnLike/dtype", [F("randnLike", T(0), {"dtype": "float64"})], [like],
         lambda x: torch.randn_like(x, dtype=f64), seed=6)
    case("randintLike", [F("randintLike", T(0), 3, 9)], [like], lambda x: torch.randint_like(x, 3, 9), seed=5)
    case("randperm/global", [F("randperm", 10)], [], lambda: torch.randperm(10), seed=0)
    case("randperm/int32", [F("randperm", 300, {"dtype": "int32"})], [], lambda: torch.randperm(300, dtype=i32), seed=3)
    case("randperm/seeded_generator", [F("randperm", 12, {"seed": 5})], [],
         lambda: torch.randperm(12, generator=torch.Generator().manual_seed(5)), seed=0)
    # torchbridge's dropout with rng 'pytorch' (the default) draws PyTorch's mask
    case("dropout/train", [F("dropout", T(0), 0.3)], [randn(301, 6, 7, dtype=f32)], lambda x: torch.nn.functional.dropout(x, 0.3), seed=8)
    case("dropout/float64", [F("dropout", T(0), 0.5)], [randn(302, 40)], lambda x: torch.nn.functional.dropout(x, 0.5), seed=9)
    case("dropout/eval", [F("dropout", T(0), 0.5, {"training": False})], [randn(303, 3, 4, dtype=f32)],
         lambda x: torch.nn.functional.dropout(x, 0.5, training=False))


def main():
    arithmetic_cases()
    unary_cases()
    softmax_cases()
    reduction_cases()
    statistics_cases()
    sorting_cases()
    scan_and_logic_cases()
    comparison_cases()
    selection_cases()
    linear_algebra_cases()
    shape_cases()
    indexing_cases()
    conversion_cases()
    transpose_and_cast_cases()
    in_place_cases()
    promotion_cases()
    factory_cases()
    random_cases()
    names = [c["name"] for c in CASES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate case names: {duplicates}"
    lines = [json.dumps(c, sort_keys=True, allow_nan=False, separators=(",", ":")) for c in CASES]
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as out:
        out.write("[\n" + ",\n".join(lines) + "\n]\n")
    size = os.path.getsize(OUTPUT)
    print(f"wrote {len(CASES)} cases ({size} bytes) to {os.path.normpath(OUTPUT)}")


if __name__ == "__main__":
    main()
