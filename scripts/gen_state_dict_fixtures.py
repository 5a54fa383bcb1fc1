"""Generate test/fixtures/state_dicts/: files torch.save wrote, bad files, expected.json.

Run with the system interpreter, which has torch 1.13:

    /usr/bin/python3 scripts/gen_state_dict_fixtures.py

The test suite also runs it in check mode, to verify files torchbridge wrote:

    /usr/bin/python3 scripts/gen_state_dict_fixtures.py check FILE EXPECTED_JSON [FILE EXPECTED_JSON ...]

EXPECTED_JSON holds {"value": <encoded value>, "load_into": null | "sequential" | "adam"}:
torch.load(FILE) must equal the value exactly (dtypes, shapes, requires_grad and every bit of
every element; a state dict expected as an OrderedDict must be one), and with "load_into" the
value must load into the module (load_state_dict(strict=True)) or the Adam optimizer that
make_sequential() / make_adam() build.

Encoding (expected.json "files" entries and check mode alike):
  tensor      {"tensor": {dtype, shape, stride, offset, requires_grad, values}}; values are the
              row-major elements: float16/bfloat16 widened (exactly) to float, non-finite floats
              as "nan"/"inf"/"-inf" and negative zero as "-0" (JSON from JS loses its sign),
              int64 as decimal strings (exact beyond 2^53), bool as bools
  dict        {"dict": [[key, value], ...], "ordered": true for an OrderedDict}
  list/tuple  {"list": [...]}
  int         a number, or {"int": "<decimal>"} beyond 2^53
  float       a number, or {"float": "nan" | "inf" | "-inf" | "-0"}
  bytes       {"bytes": "<hex>"}
  str, bool, None as themselves.
Every output is deterministic.
"""

import collections
import fractions
import json
import math
import os
import random
import struct
import sys
import zipfile

import torch

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "state_dicts")

from fixture_dtypes import DTYPE_NAMES  # noqa: E402
NAN, INF = float("nan"), float("inf")
SAFE_INTEGER = 2**53 - 1


# ---- the models (also imported by check mode) ----------------------------------------------

def make_sequential():
    """Embedding, Linear, LayerNorm and BatchNorm (its int64 num_batches_tracked buffer) layers."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Embedding(10, 4),
        torch.nn.Linear(4, 8),
        torch.nn.LayerNorm(8),
        torch.nn.BatchNorm1d(5),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    )


def make_adam():
    """A Linear(3, 2) and its Adam optimizer, before any step."""
    torch.manual_seed(1)
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99), eps=1e-6)


def trained_sequential():
    """make_sequential() after one training step: running statistics that are not 0 or 1."""
    model = make_sequential()
    torch.manual_seed(2)
    tokens = torch.randint(0, 10, (2, 5))
    model(tokens).sum().backward()  # BatchNorm1d(5) normalises the 5 positions, in train mode
    return model


def stepped_adam():
    model, adam = make_adam()
    torch.manual_seed(3)
    for _ in range(2):
        adam.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        adam.step()
    return adam


# ---- encoding -------------------------------------------------------------------------------

def encode_float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0 and math.copysign(1, x) < 0:
        return "-0"
    return x


def encode_tensor(t, layout):
    flat = t.detach().reshape(-1)
    if t.dtype in (torch.float16, torch.bfloat16):
        flat = flat.float()
    values = flat.tolist()
    if t.dtype.is_floating_point:
        values = [encode_float(v) for v in values]
    elif t.dtype == torch.int64:
        values = [str(v) for v in values]
    out = {
        "dtype": DTYPE_NAMES[t.dtype],
        "shape": list(t.shape),
        "requires_grad": t.requires_grad,
        "values": values,
    }
    if layout:
        out["stride"] = list(t.stride())
        out["offset"] = t.storage_offset()
    return {"tensor": out}


def encode(value, layout=True):
    """The JSON form above; `layout` adds strides and storage offsets of tensors."""
    if isinstance(value, torch.Tensor):
        return encode_tensor(value, layout)
    if isinstance(value, dict):
        return {
            "dict": [[k, encode(v, layout)] for k, v in value.items()],
            "ordered": isinstance(value, collections.OrderedDict),
        }
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v, layout) for v in value]}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= SAFE_INTEGER else {"int": str(value)}
    if isinstance(value, float):
        special = encode_float(value)
        return {"float": special} if isinstance(special, str) else value
    raise TypeError(f"cannot encode {type(value).__name__}")


# ---- the files ------------------------------------------------------------------------------

def every_dtype():
    t = torch.tensor
    return {
        "float32": t([1.5, -0.0, NAN, INF, -INF, 3.4028234663852886e38, 1.401298464324817e-45, 0.1]),
        "float64": t([[0.1, -2.5e-308], [5e-324, 1.7976931348623157e308]], dtype=torch.float64),
        "float16": t([65504.0, 6.0e-8, -1.0, NAN, 0.333], dtype=torch.float16),
        "bfloat16": t([3.0e38, -1.0e-38, 0.1, INF], dtype=torch.bfloat16),
        "int64": t([-(2**63), 2**63 - 1, 2**53 + 1, -7], dtype=torch.int64),
        "int32": t([[-(2**31), 2**31 - 1], [0, 12345]], dtype=torch.int32),
        "uint8": t([0, 1, 128, 255], dtype=torch.uint8),
        "bool": t([[True, False], [False, True]]),
        "scalar": t(2.25, dtype=torch.float64),
        "empty": torch.zeros(0, 3),
    }


def shared_views():
    """Views of shared storages (offsets, strides, transposes) and Parameters."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    flat = base.view(-1)
    ints = torch.arange(10, dtype=torch.int64) * 1000003
    torch.manual_seed(4)
    return {
        "base": base,
        "even": flat[::2],
        "odd": flat[1::2],
        "transposed": base.t(),
        "block": base[1:3, 2:5],
        "row": base[3],
        "element": base[2, 4],
        "ints_tail": ints[7:],
        "ints_strided": ints[1::3],
        "weight": torch.nn.Parameter(torch.randn(3, 2)),
        "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False),
    }


def write(name, value, **kwargs):
    path = os.path.join(OUTPUT, name)
    torch.save(value, path, **kwargs)
    return path


def rezip(source, target, keep, compression=zipfile.ZIP_STORED, force_zip64=False):
    """Copies the entries of `source` for which keep(name) holds into a new zip, deterministically."""
    saved_limit = zipfile.ZIP64_LIMIT
    if force_zip64:
        zipfile.ZIP64_LIMIT = -1  # every size and offset "overflows": zip64 fields everywhere
    try:
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
            for info in src.infolist():
                if keep(info.filename):
                    entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                    entry.compress_type = compression
                    dst.writestr(entry, src.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = saved_limit


def flip_storage_byte(source, target):
    """A copy of `source` with one byte of its first storage's data flipped (a CRC mismatch)."""
    data = bytearray(open(source, "rb").read())
    with zipfile.ZipFile(source) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_length + extra_length] ^= 0xFF
    open(target, "wb").write(bytes(data))


def generate():
    os.makedirs(OUTPUT, exist_ok=True)
    files = {}

    module = trained_sequential()
    state = module.state_dict()
    write("sequential.pt", state)
    files["sequential.pt"] = {"value": encode(state), "load_into": "sequential"}

    plain = {"weight": state["1.weight"], "bias": state["1.bias"]}
    write("plain_dict.pt", dict(plain))
    files["plain_dict.pt"] = {"value": encode(plain), "load_into": None}

    # Protocol 4 pickles: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
    write("protocol4.pt", dict(plain), pickle_protocol=4)
    files["protocol4.pt"] = files["plain_dict.pt"]

    # Deflated entries and zip64 fields, as other zip tools may rewrite a checkpoint.
    rezip(os.path.join(OUTPUT, "plain_dict.pt"), os.path.join(OUTPUT, "zip64_deflated.pt"),
          lambda name: True, zipfile.ZIP_DEFLATED, force_zip64=True)
    files["zip64_deflated.pt"] = files["plain_dict.pt"]

    dtypes = every_dtype()
    write("dtypes.pt", dtypes)
    files["dtypes.pt"] = {"value": encode(dtypes), "load_into": None}

    views = shared_views()
    write("shared_views.pt", views)
    files["shared_views.pt"] = {"value": encode(views), "load_into": None}

    # Python values beyond tensors; protocol 2 pickles bytes through _codecs.encode, 4 as BINBYTES.
    misc = {
        "bytes": b"\x00\x01\x7f\x80\xff",
        "empty_bytes": b"",
        "ints": [0, 255, 256, 65536, -1, -(2**31), 2**31, 2**53 + 1, -(2**70)],
        "floats": [0.5, -0.0, NAN, -INF, 1e-300],
        "tuple": (1, "two", None, True, False),
        "by_int": {0: "zero", 7: [1.5]},
        "text": "h\u00e9llo \u2713 \U0001d535",
        "tensor": torch.tensor([1.0, 2.0]),
    }
    write("misc.pt", misc)
    files["misc.pt"] = {"value": encode(misc), "load_into": None}
    write("misc_protocol4.pt", misc, pickle_protocol=4)
    files["misc_protocol4.pt"] = files["misc.pt"]

    adam = stepped_adam().state_dict()
    write("adam.pt", adam)
    files["adam.pt"] = {"value": encode(adam), "load_into": "adam"}

    # Bad files.
    open(os.path.join(OUTPUT, "bad_empty.pt"), "wb").close()
    good = open(os.path.join(OUTPUT, "sequential.pt"), "rb").read()
    open(os.path.join(OUTPUT, "bad_truncated.pt"), "wb").write(good[: len(good) // 2])
    with zipfile.ZipFile(os.path.join(OUTPUT, "bad_not_torch.zip"), "w") as z:
        z.writestr(zipfile.ZipInfo("notes/readme.txt", date_time=(1980, 1, 1, 0, 0, 0)), "not a checkpoint\n")
    # The legacy format names storages by memory address: a value without tensors keeps it deterministic.
    write("bad_legacy.pt", {"epoch": 3}, _use_new_zipfile_serialization=False)
    open(os.path.join(OUTPUT, "bad_random.bin"), "wb").write(random.Random(0).randbytes(1000))
    rezip(os.path.join(OUTPUT, "plain_dict.pt"), os.path.join(OUTPUT, "bad_missing_storage.pt"),
          lambda name: not name.endswith("/data/1"))
    torch.manual_seed(5)
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), os.path.join(OUTPUT, "bad_torchscript.pt"))
    # A Python object other than tensors, containers and scalars.
    write("bad_global.pt", {"weight": plain["weight"], "ratio": fractions.Fraction(1, 3)})
    flip_storage_byte(os.path.join(OUTPUT, "plain_dict.pt"), os.path.join(OUTPUT, "bad_crc.pt"))

    with open(os.path.join(OUTPUT, "expected.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "files": files}, f, indent=1, sort_keys=True)
        f.write("\n")


# ---- check mode -----------------------------------------------------------------------------

def same(actual, expected, where):
    """Exact equality of encoded values: bools stay bools, floats keep their sign of zero."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if sorted(actual) != sorted(expected):
            raise AssertionError(f"{where}: fields {sorted(actual)} != {sorted(expected)}")
        for k in expected:
            same(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list) and isinstance(actual, list):
        if len(actual) != len(expected):
            raise AssertionError(f"{where}: length {len(actual)} != {len(expected)}")
        for k, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, f"{where}[{k}]")
    elif isinstance(expected, bool) or isinstance(actual, bool):
        if actual is not expected:
            raise AssertionError(f"{where}: {actual!r} != {expected!r}")
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        # JS numbers do not tell 2.0 from 2: an int may come back for an integral float.
        if actual != expected or math.copysign(1, actual) != math.copysign(1, expected):
            raise AssertionError(f"{where}: {actual!r} != {expected!r}")
    elif actual != expected:
        raise AssertionError(f"{where}: {actual!r} != {expected!r}")


def comparable(encoded):
    """What must survive a round trip: not strides and offsets (tensors are written from
    contiguous copies), and not whether a dict is ordered (require_ordered checks that)."""
    if isinstance(encoded, dict):
        if "tensor" in encoded:
            return {"tensor": {k: v for k, v in encoded["tensor"].items() if k not in ("stride", "offset")}}
        return {k: comparable(v) for k, v in encoded.items() if k != "ordered"}
    if isinstance(encoded, list):
        return [comparable(v) for v in encoded]
    return encoded


def require_ordered(actual, encoded, where):
    """Dicts expected as OrderedDicts must be OrderedDicts (a plain dict may come back as either)."""
    if isinstance(encoded, dict) and "dict" in encoded:
        if encoded["ordered"] and not isinstance(actual, collections.OrderedDict):
            raise AssertionError(f"{where}: a {type(actual).__name__}, expected an OrderedDict")
        for (key, value), (_, expected) in zip(actual.items(), encoded["dict"]):
            require_ordered(value, expected, f"{where}[{key!r}]")
    elif isinstance(encoded, dict) and "list" in encoded:
        for k, (value, expected) in enumerate(zip(actual, encoded["list"])):
            require_ordered(value, expected, f"{where}[{k}]")


def check(path, expected_path):
    with open(expected_path) as f:
        spec = json.load(f)
    value = torch.load(path)
    same(comparable(encode(value)), comparable(spec["value"]), "value")
    require_ordered(value, spec["value"], "value")
    target = spec.get("load_into")
    if target == "sequential":
        make_sequential().load_state_dict(value, strict=True)
    elif target == "adam":
        _, adam = make_adam()
        adam.load_state_dict(value)
    elif target is not None:
        raise ValueError(f"unknown load_into {target!r}")
    print(f"ok: {path}")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and len(sys.argv) % 2 == 0 and sys.argv[1] == "check":
        for k in range(2, len(sys.argv), 2):
            check(sys.argv[k], sys.argv[k + 1])
    elif len(sys.argv) == 1:
        generate()
    else:
        sys.exit(__doc__)
