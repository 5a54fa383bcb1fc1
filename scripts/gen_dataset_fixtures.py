"""Generate test/fixtures/optim/dataset.json: what torch.utils.data computes, for test/dataset.test.ts.

Run it with the system interpreter (torch 1.13); PyTorch 2.x writes the same file (check with
`git diff` after running it with a 2.x interpreter too):

    /usr/bin/python3 scripts/gen_dataset_fixtures.py
    /var/cache/torchbridge/venvs/torch-2.11.0-py3.11/bin/python scripts/gen_dataset_fixtures.py

Writes {"randomSplit": [...], "tensorDataset": {...}, "collate": [...]}:

- randomSplit: {"n", "lengths", "sizes"} with the sizes of random_split(range(n), lengths)'s
  subsets (fractions allowed, as in PyTorch >= 1.13), or {"n", "lengths", "error"} with its
  ValueError's message. Only the sizes: torchbridge draws the permutation with its own generator.
- tensorDataset: the AssertionError message of TensorDataset with tensors of different sizes.
- collate: {"name", "batch", "output"} or {"name", "batch", "error"}: default_collate(batch).
  Samples are encoded as {"tensor": {dtype, shape, values}}, {"int": 3}, {"float": 0.5},
  {"bool": true}, {"str": "a"}, {"list": [...]}, {"tuple": [...]}, {"dict": {key: sample}} and
  {"none": null}; outputs as {"tensor": {dtype, shape, values}}, {"list": [...]},
  {"dict": {...}} and {"str": "a"}.
"""

import json
import os
import sys
import warnings

import torch
from torch.utils.data import TensorDataset, random_split
from torch.utils.data._utils.collate import default_collate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_op_fixtures import encode_tensor  # noqa: E402
from fixture_dtypes import DTYPE_NAMES  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "optim", "dataset.json")
DTYPES = {name: dtype for dtype, name in DTYPE_NAMES.items()}

SPLITS = [
    (10, [3, 7]),
    (10, [0.3, 0.7]),
    (10, [0.5, 0.5]),
    (10, [0.33, 0.33, 0.34]),
    (7, [0.2, 0.3, 0.5]),
    (5, [0.1] * 10),  # sums to 0.9999999999999999: close to 1, so fractions
    (3, [1.0, 0.0]),
    (1, [1, 0]),  # integers summing to 1 are fractions too
    (0, [0.5, 0.5]),
    (11, [0.25, 0.25, 0.25, 0.25]),
    (10, [0.6, 0.6]),  # not close to 1: lengths, which do not sum to 10
    (10, [1.1, -0.1]),
    (10, [0.5, -0.1, 0.6]),
    (10, [5, 4]),
    (4, [0.25, 0.25, 0.25, 0.25 + 1e-10]),  # close to 1 but above it: lengths
    (6, [6]),
    (6, [0, 6, 0]),
]


def tensor(dtype, values, shape):
    return {"tensor": {"dtype": dtype, "values": values, "shape": shape}}


COLLATE = [
    ("tensor_and_int", [{"tuple": [tensor("float32", [k, k + 0.5, -k], [3]), {"int": k}]} for k in range(4)]),
    ("int64_matrix_and_float", [{"tuple": [tensor("int64", [k, 1, 2, k], [2, 2]), {"float": k / 4}]} for k in range(3)]),
    ("dict_with_bool_and_str", [{"dict": {"x": tensor("float32", [k, 2 * k], [2]), "y": {"bool": k % 2 == 0}, "name": {"str": "ab"[k]}}}
                                for k in range(2)]),
    ("nested_lists", [{"list": [{"list": [tensor("float64", [k], [1]), {"int": -k}]}, {"float": 1.5 * k}]} for k in range(3)]),
    ("zero_dim_tensors", [tensor("int64", [k], []) for k in range(5)]),
    ("bare_numbers", [{"float": 0.25 * k} for k in range(3)]),
    ("different_shapes", [tensor("float32", [1, 2, 3], [3]), tensor("float32", [1, 2, 3, 4], [4])]),
    ("unequal_lists", [{"list": [{"int": 1}, {"int": 2}]}, {"list": [{"int": 3}]}]),
    ("none", [{"none": None}, {"none": None}]),
]


def decode(sample):
    (kind, value), = sample.items()
    if kind == "tensor":
        return torch.tensor(value["values"], dtype=DTYPES[value["dtype"]]).reshape(value["shape"])
    if kind in ("int", "float", "bool", "str", "none"):
        return value
    if kind == "list":
        return [decode(v) for v in value]
    if kind == "tuple":
        return tuple(decode(v) for v in value)
    return {k: decode(v) for k, v in value.items()}


def encode(output):
    if isinstance(output, torch.Tensor):
        return {"tensor": encode_tensor(output)}
    if isinstance(output, str):
        return {"str": output}
    if isinstance(output, (list, tuple)):
        return {"list": [encode(v) for v in output]}
    if isinstance(output, dict):
        return {"dict": {k: encode(v) for k, v in output.items()}}
    raise TypeError(f"unexpected collate output {output!r}")


def split_case(n, lengths):
    entry = {"n": n, "lengths": lengths}
    try:
        subsets = random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
        entry["sizes"] = [len(s) for s in subsets]
        assert sorted(i for s in subsets for i in s) == list(range(n))
    except ValueError as e:
        entry["error"] = str(e)
    return entry


def collate_case(name, batch):
    entry = {"name": name, "batch": batch}
    try:
        entry["output"] = encode(default_collate([decode(s) for s in batch]))
    except (RuntimeError, TypeError) as e:
        entry["error"] = str(e).split("\n")[0]
    return entry


def main():
    warnings.simplefilter("ignore")  # random_split warns about empty splits
    try:
        TensorDataset(torch.zeros(4, 2), torch.zeros(3))
        mismatch = None
    except AssertionError as e:
        mismatch = str(e)
    out = {
        "randomSplit": [split_case(n, lengths) for n, lengths in SPLITS],
        "tensorDataset": {"sizeMismatch": mismatch},
        "collate": [collate_case(name, batch) for name, batch in COLLATE],
    }
    with open(OUTPUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
