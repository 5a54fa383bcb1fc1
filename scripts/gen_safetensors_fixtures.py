"""Generate test/fixtures/safetensors/: files Python's safetensors wrote, and expected.json.

Run with the interpreter that has safetensors (torch 2.11's environment):

    /var/cache/torchbridge/venvs/torch-2.11.0-py3.11/bin/python scripts/gen_safetensors_fixtures.py

test/safetensors.test.ts also runs it, with TORCHBRIDGE_PYTHON, in two more modes:

    ... gen_safetensors_fixtures.py write FILE EXPECTED_JSON
        save_file() a fresh set of tensors (every dtype, seeded random values, a few thousand
        elements) to FILE and its description to EXPECTED_JSON, for torchbridge to read.
    ... gen_safetensors_fixtures.py check FILE EXPECTED_JSON
        load_file(FILE) and safe_open(FILE).metadata() must match EXPECTED_JSON exactly (names
        in file order, dtypes, shapes, every byte of every tensor, the metadata); with
        "resave_identical": true, save_file() of what was loaded, with that metadata, must
        write FILE's bytes exactly.

A file's description (an entry of expected.json "files", and both modes' EXPECTED_JSON):
  metadata      the __metadata__ strings, or null for none
  saved_order   the names in the order of the dict given to save_file
  byte_identical  whether torchbridge's writer, given these tensors in saved_order and this
                metadata, must write the file's exact bytes (false when the metadata has two or
                more keys: the Rust writer puts those in a random order)
  tensors       in file (data offset) order: name, dtype (torchbridge's names), shape,
                data_offsets, hex (the little-endian bytes of the elements) and values (row-major:
                float16/bfloat16 widened exactly to float, NaN/Inf as "nan"/"inf"/"-inf", negative
                zero as -0.0, int64 as decimal strings, bool as bools)
Every output is deterministic, except the order of metadata.safetensors's metadata keys (the
Rust writer's).
"""

import json
import math
import os
import struct
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from fixture_dtypes import DTYPE_NAMES  # noqa: E402

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "safetensors")
NAN, INF = float("nan"), float("inf")
DTYPES_BY_NAME = {name: dtype for dtype, name in DTYPE_NAMES.items()}


# ---- encoding ------------------------------------------------------------------------------

def encode_value(v, dtype):
    if dtype == torch.bool:
        return bool(v)
    if dtype == torch.int64:
        return str(int(v))
    if dtype in (torch.int32, torch.uint8):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v  # json writes negative zero as -0.0


def raw_bytes(t):
    """The elements' bytes, little-endian and row-major, from torch's memory (not from a file)."""
    flat = t.contiguous().reshape(-1)
    if flat.dtype != torch.uint8:
        flat = flat.view(torch.uint8)
    assert sys.byteorder == "little"
    return bytes(flat.tolist())


def header_offsets(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return {k: v["data_offsets"] for k, v in header.items() if k != "__metadata__"}


def describe(path, tensors, metadata):
    """The description of a file save_file wrote from `tensors` (a dict) and `metadata`."""
    offsets = header_offsets(path)
    order = sorted(tensors, key=lambda name: offsets[name])
    return {
        "metadata": metadata,
        "saved_order": list(tensors),
        "byte_identical": metadata is None or len(metadata) < 2,
        "tensors": [
            {
                "name": name,
                "dtype": DTYPE_NAMES[tensors[name].dtype],
                "shape": list(tensors[name].shape),
                "data_offsets": offsets[name],
                "hex": raw_bytes(tensors[name]).hex(),
                "values": [encode_value(v, tensors[name].dtype) for v in tensors[name].reshape(-1).tolist()],
            }
            for name in order
        ],
    }


# ---- the fixtures --------------------------------------------------------------------------

def dtypes_file():
    """Every dtype: extremes, NaN, infinities, negative zero, subnormals; 0-dim, empty and 3-D tensors."""
    f32, f64, f16, bf16 = torch.float32, torch.float64, torch.float16, torch.bfloat16
    tensors = {
        "f32": torch.tensor([[0.0, -0.0, 1.5], [NAN, INF, -INF]], dtype=f32),
        "f32.extremes": torch.tensor([3.4028234663852886e38, 1.1754943508222875e-38, 1.401298464324817e-45, -1e-3], dtype=f32),
        "f64": torch.tensor([[NAN, -INF], [-0.0, 5e-324], [1.7976931348623157e308, 0.1]], dtype=f64),
        "f16": torch.tensor([65504.0, -65504.0, 6.103515625e-05, 5.960464477539063e-08, NAN, -0.0, INF, 0.333251953125], dtype=f16),
        "bf16": torch.tensor([3.3895313892515355e38, 1.0, -2.5, NAN, -INF, 9.183549615799121e-41, 0.333984375], dtype=bf16),
        "i64": torch.tensor([-(2**63), 2**63 - 1, 2**53 + 1, 0, -1], dtype=torch.int64),
        "i32": torch.tensor([[-(2**31), 2**31 - 1], [0, -7]], dtype=torch.int32),
        "u8": torch.tensor([[0, 1, 127, 128], [254, 255, 7, 42]], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar.f32": torch.tensor(2.5, dtype=f32),
        "scalar.i64": torch.tensor(-3, dtype=torch.int64),
        "scalar.bool": torch.tensor(True),
        "scalar.bf16": torch.tensor(-0.15625, dtype=bf16),
        "empty.f32": torch.zeros(0, dtype=f32),
        "empty.i32": torch.zeros(2, 0, 3, dtype=torch.int32),
        "empty.bool": torch.zeros(0, 4, dtype=torch.bool),
        "cube.f64": torch.arange(24, dtype=f64).reshape(2, 3, 4) / 8 - 1,
        "cube.f16": (torch.arange(24, dtype=f32).reshape(4, 3, 2) / 4 - 3).to(f16),
        "cube.u8": torch.arange(6, dtype=torch.uint8).reshape(1, 2, 1, 3),
    }
    # One key, so that the bytes are deterministic; its value needs every kind of JSON escape.
    metadata = {"format": 'pt \u00e9\U0001F600 "quoted" back\\slash new\nline tab\t \x01\x1f\x7f \u2028 </script>'}
    return tensors, metadata


def names_file():
    """Names whose order differs between UTF-8 bytes (the format's) and UTF-16 units (JS's), JSON escapes in names; empty metadata."""
    one = lambda v, dtype=torch.float32: torch.tensor([v], dtype=dtype)  # noqa: E731
    names = ["b", "a", "a.b", "a0", "B", "", "\u00e9", "\uff01", "\U0001F600", "sp ace", 'quo"te', "back\\slash",
             "new\nline", "ctl\x01", "del\x7f"]
    tensors = {name: one(float(k)) for k, name in enumerate(names)}
    tensors["z.i64"] = one(7, torch.int64)
    tensors["\U0001F600.i64"] = one(8, torch.int64)
    tensors["\uff01.i64"] = one(9, torch.int64)
    tensors["a.u8"] = one(3, torch.uint8)
    tensors["a.bool"] = one(True, torch.bool)
    tensors["a.empty"] = torch.zeros(0, dtype=torch.float16)
    return tensors, {}


def metadata_file():
    """Several metadata keys (byte order random in Python, so compared as a map)."""
    tensors = {"weight": torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float32)}
    metadata = {"format": "pt", "note": "\u00e9 \U0001F600 \"q\" \\ \n\t\x01", "empty": "", "__proto__": "x", "1": "numeric key"}
    return tensors, metadata


def empty_file():
    """No tensors and no metadata: the header is {} padded to 8 bytes."""
    return {}, None


def int8_file():
    """A dtype torchbridge lacks (int8), which loading must name."""
    return {"q": torch.tensor([-1, 2], dtype=torch.int8), "scale": torch.tensor([0.5])}, None


FIXTURES = {
    "dtypes.safetensors": dtypes_file,
    "names.safetensors": names_file,
    "metadata.safetensors": metadata_file,
    "empty.safetensors": empty_file,
}
UNSUPPORTED = {"int8.safetensors": int8_file}


def generate():
    os.makedirs(OUTPUT, exist_ok=True)
    files = {}
    for name, make in FIXTURES.items():
        tensors, metadata = make()
        path = os.path.join(OUTPUT, name)
        save_file(tensors, path, metadata=metadata)
        os.chmod(path, 0o644)  # safetensors writes through a private temporary file
        files[name] = describe(path, tensors, metadata)
    for name, make in UNSUPPORTED.items():
        tensors, metadata = make()
        save_file(tensors, os.path.join(OUTPUT, name), metadata=metadata)
        os.chmod(os.path.join(OUTPUT, name), 0o644)
    expected = {
        "generator": "scripts/gen_safetensors_fixtures.py",
        "torch": torch.__version__,
        "safetensors": __import__("safetensors").__version__,
        "files": files,
    }
    with open(os.path.join(OUTPUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=True, allow_nan=False)
        f.write("\n")


# ---- the modes the tests run ---------------------------------------------------------------

def write(path, spec_path):
    """Seeded random tensors of every dtype, a few thousand elements, with metadata."""
    g = torch.Generator().manual_seed(20240517)
    tensors = {
        "encoder.weight": torch.randn(64, 48, generator=g),
        "encoder.bias": torch.randn(48, generator=g).to(torch.float16),
        "decoder.weight": torch.randn(30, 40, generator=g, dtype=torch.float64),
        "decoder.bias": torch.randn(3, 5, 7, generator=g).to(torch.bfloat16),
        "positions": torch.randint(-(2**62), 2**62, (50,), generator=g, dtype=torch.int64),
        "counts": torch.randint(-(2**31), 2**31 - 1, (9, 11), generator=g, dtype=torch.int32),
        "pixels": torch.randint(0, 256, (4, 4, 3), generator=g, dtype=torch.uint8),
        "mask": torch.rand(33, generator=g) > 0.5,
        "step": torch.tensor(1234, dtype=torch.int64),
        "nothing": torch.zeros(0, 5),
    }
    metadata = {"format": "pt"}
    save_file(tensors, path, metadata=metadata)
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(describe(path, tensors, metadata), f, ensure_ascii=True, allow_nan=False)


def check(path, spec_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    problems = []
    loaded = load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata()
    if metadata != spec["metadata"]:
        problems.append(f"metadata {metadata!r}, expected {spec['metadata']!r}")
    offsets = header_offsets(path)
    names = sorted(loaded, key=lambda name: offsets[name])
    expected_names = [t["name"] for t in spec["tensors"]]
    if names != expected_names:
        problems.append(f"names in file order {names!r}, expected {expected_names!r}")
    for t in spec["tensors"]:
        got = loaded.get(t["name"])
        if got is None:
            continue
        where = f"tensor {t['name']!r}"
        if got.dtype != DTYPES_BY_NAME[t["dtype"]]:
            problems.append(f"{where}: dtype {got.dtype}, expected {t['dtype']}")
        elif list(got.shape) != t["shape"]:
            problems.append(f"{where}: shape {list(got.shape)}, expected {t['shape']}")
        elif raw_bytes(got).hex() != t["hex"]:
            problems.append(f"{where}: bytes {raw_bytes(got).hex()[:80]}, expected {t['hex'][:80]}")
        if offsets[t["name"]] != t["data_offsets"]:
            problems.append(f"{where}: data_offsets {offsets[t['name']]}, expected {t['data_offsets']}")
    if spec.get("resave_identical") and not problems:
        resaved = path + ".resaved"
        save_file({name: loaded[name] for name in spec["saved_order"]}, resaved, metadata=spec["metadata"])
        with open(path, "rb") as a, open(resaved, "rb") as b:
            ours, theirs = a.read(), b.read()
        os.remove(resaved)
        if ours != theirs:
            at = next((k for k in range(min(len(ours), len(theirs))) if ours[k] != theirs[k]), min(len(ours), len(theirs)))
            problems.append(f"save_file wrote other bytes ({len(theirs)} against {len(ours)}; first difference at byte {at}: "
                            f"{theirs[max(0, at - 20):at + 20]!r} against {ours[max(0, at - 20):at + 20]!r})")
    if problems:
        print(f"{path}:\n  " + "\n  ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 1:
        generate()
    elif len(sys.argv) == 4 and sys.argv[1] in ("write", "check"):
        (write if sys.argv[1] == "write" else check)(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"usage: {sys.argv[0]} [write|check FILE EXPECTED_JSON]")
