"""Generate test/fixtures/format.json: tensors and their PyTorch repr().

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_format_fixtures.py

Each case is {name, dtype, shape, values, extras, repr}: `values` holds the
flattened elements (float16/bfloat16 widened to float32, floats as exact
doubles, nan/inf as the strings "nan", "inf", "-inf"), `extras` the
FormatExtras that lib/core/format.ts takes, and `repr` is `repr(tensor)`.
The output is deterministic: one case per line, keys sorted.
"""

import json
import math
import os

import torch

OUTPUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "format.json")

from fixture_dtypes import DTYPE_NAMES  # noqa: E402

NAN, INF = float("nan"), float("inf")


def randn(seed, *shape, dtype=torch.float32, scale=1.0):
    torch.manual_seed(seed)
    return (torch.randn(*shape, dtype=torch.float64) * scale).to(dtype)


def randint(seed, low, high, *shape, dtype=torch.int64):
    torch.manual_seed(seed)
    return torch.randint(low, high, shape, dtype=dtype)


def coarse(seed, *shape, dtype=torch.float32, step=16):
    """Random values on a 1/step grid: short in JSON, still non-integral."""
    return (randn(seed, *shape, dtype=torch.float64) * step).round().div(step).to(dtype)


def grad_fn_cases():
    torch.manual_seed(100)
    leaf = torch.randn(3, requires_grad=True)
    leaf64 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    return [
        ("requires_grad_leaf", leaf),
        ("requires_grad_float64", leaf64),
        ("grad_fn_add", leaf + 1),
        ("grad_fn_mul_2d", leaf64 * 2),
        ("grad_fn_sum_scalar", leaf.sum()),
        ("grad_fn_wide_float64", torch.arange(11, dtype=torch.float64, requires_grad=True) * 1.5),
    ]


def cases():
    f64, f16, bf16 = torch.float64, torch.float16, torch.bfloat16
    i32, u8 = torch.int32, torch.uint8
    t = torch.tensor
    return [
        # 0-dim
        ("scalar_int_valued", t(3.0)),
        ("scalar_float", t(3.14159)),
        ("scalar_float64", t(-2.718281828, dtype=f64)),
        ("scalar_int64", t(7)),
        ("scalar_int32", t(-5, dtype=i32)),
        ("scalar_bool", t(True)),
        ("scalar_negative_zero", t(-0.0)),
        ("scalar_nan", t(NAN)),
        ("scalar_float16", t(1.5, dtype=f16)),
        ("scalar_small_sci", t(1.5e-7)),
        # 1-dim
        ("vector_int_valued", t([1.0, 2.0, 3.0])),
        ("vector_randn", randn(1, 5)),
        ("vector_float64", randn(2, 5, dtype=f64)),
        ("vector_float16", randn(3, 6, dtype=f16)),
        ("vector_bfloat16", randn(4, 6, dtype=bf16)),
        ("vector_int64_arange", torch.arange(10)),
        ("vector_int32_negative", t([-3, 10, -200, 4], dtype=i32)),
        ("vector_uint8", t([0, 255, 17], dtype=u8)),
        ("vector_bool", t([True, False, True])),
        ("vector_bool_all_true", t([True, True])),
        ("vector_rounding_ties", t([0.03125, 0.28125, 2.5, -1.40625])),
        ("vector_sci_rounding_ties", t([1.03125, 1e-5], dtype=f64)),
        # empty
        ("empty_float32", torch.zeros(0)),
        ("empty_rows", torch.zeros(0, 3)),
        ("empty_int32", torch.zeros(0, dtype=i32)),
        ("empty_int64_2d", torch.zeros(2, 0, dtype=torch.int64)),
        ("empty_bool", torch.zeros(0, dtype=torch.bool)),
        ("empty_float64_3d", torch.zeros(0, 2, 3, dtype=f64)),
        # magnitudes and scientific notation
        ("sci_small", t([1e-5, 2e-6, 3.5e-5])),
        ("sci_large", t([1e9, 2.5, -3.0])),
        ("sci_ratio", t([0.001, 10.5])),
        ("fixed_ratio_below_1000", t([0.01, 9.99])),
        ("sci_int_valued_ratio", t([1.0, 10000.0, -3.0])),
        ("sci_int_valued_large", t([2.0e8, 4.0e8])),
        ("int_valued_just_below_1e8", t([1.0e5, 99999999.0], dtype=f64)),
        ("sci_mixed_signs_2d", randn(5, 3, 3, scale=1e-3)),
        ("sci_float16_extremes", t([65504.0, 6.1e-5, -1.0], dtype=f16)),
        ("sci_bfloat16_large", t([1e10, -3.5, 0.25], dtype=bf16)),
        ("sci_subnormal", t([5e-324, 1.0], dtype=f64)),
        # non-finite and signed zero
        ("nonfinite_with_fractions", t([1.5, NAN, INF, -INF])),
        ("nonfinite_with_integers", t([1.0, NAN, INF])),
        ("nonfinite_only", t([NAN, INF, -INF])),
        ("nonfinite_sci", t([1e-6, NAN, -INF])),
        ("zeros_only", torch.zeros(3)),
        ("negative_zero_fraction", t([-0.0, 1.5])),
        ("negative_zero_int_valued", t([-0.0, 2.0, 0.0])),
        ("negative_zero_sci", t([-0.0, 1e-6])),
        ("negative_tiny_sci", t([-0.00001, 0.5])),
        # multi-dimensional
        ("matrix_randn", randn(6, 3, 4)),
        ("matrix_int_valued", t([[1.0, -2.0], [30.0, 4.0]])),
        ("matrix_float64", randn(7, 2, 3, dtype=f64)),
        ("matrix_uint8", randint(8, 0, 256, 3, 4, dtype=u8)),
        ("matrix_bool", randint(9, 0, 2, 2, 3).bool()),
        ("tensor3d_randn", randn(10, 2, 3, 4)),
        ("tensor3d_singleton", t([[[1.5, 2.0, -3.0, 4.0, 5.0]]])),
        ("tensor4d_randn", randn(11, 2, 2, 2, 3)),
        ("tensor4d_int32", randint(12, -50, 50, 2, 3, 2, 2, dtype=i32)),
        ("tensor5d_float64", coarse(13, 2, 1, 2, 1, 2, dtype=f64)),
        ("tensor6d_int64", torch.arange(64).reshape(2, 2, 2, 2, 2, 2)),
        # line wrapping
        ("wide_vector", randn(14, 30)),
        ("wide_matrix", randn(15, 3, 20)),
        ("wide_float64_suffix", torch.arange(40, dtype=f64)),
        ("wide_int64", torch.arange(100)),
        ("wide_3d_int32", randint(16, -1000, 1000, 2, 2, 25, dtype=i32)),
        ("suffix_on_new_line", t([123.25, -1.5, 7.0, 8.5, 9.25, 1.0], dtype=f64)),
        ("wide_bool", randint(17, 0, 2, 20).bool()),
        # summarization (numel > 1000)
        ("exactly_threshold", torch.arange(1000, dtype=i32)),
        ("summarized_vector", coarse(18, 2000)),
        ("summarized_vector_randn", randn(19, 1200)),
        ("summarized_matrix_float64", coarse(20, 40, 50, dtype=f64, step=100)),
        ("summarized_3d_int32", randint(21, -99, 99, 10, 10, 20, dtype=i32)),
        ("summarized_int64", torch.arange(1500)),
        ("summarized_last_dim_only", randint(22, 0, 2, 2, 600).bool()),
        ("summarized_first_dim_only", torch.arange(1005 * 2, dtype=torch.int64).reshape(1005, 2)),
        ("summarized_float16", randn(23, 1001, dtype=f16)),
        ("summarized_4d_uint8", randint(24, 0, 256, 4, 8, 6, 7, dtype=u8)),
    ] + grad_fn_cases()


def encode_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def encode(name, tensor):
    data = tensor.detach()
    if data.dtype in (torch.float16, torch.bfloat16):
        data = data.float()
    extras = {}
    if tensor.grad_fn is not None:
        extras["gradFn"] = type(tensor.grad_fn).__name__
    if tensor.requires_grad:
        extras["requiresGrad"] = True
    return {
        "name": name,
        "dtype": DTYPE_NAMES[tensor.dtype],
        "shape": list(tensor.shape),
        "values": [encode_value(v) for v in data.reshape(-1).tolist()],
        "extras": extras,
        "repr": repr(tensor),
    }


def main():
    encoded = [encode(name, tensor) for name, tensor in cases()]
    names = [case["name"] for case in encoded]
    assert len(names) == len(set(names)), "duplicate case names"
    lines = [json.dumps(case, sort_keys=True, allow_nan=False) for case in encoded]
    os.makedirs(os.path.dirname(OUTPUT), exist_ok=True)
    with open(OUTPUT, "w", encoding="utf-8") as out:
        out.write("[\n" + ",\n".join(lines) + "\n]\n")
    print(f"wrote {len(encoded)} cases to {os.path.normpath(OUTPUT)}")


if __name__ == "__main__":
    main()
