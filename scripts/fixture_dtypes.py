"""torchbridge's dtype names for torch dtypes, shared by the fixture generators (they run from
scripts/, so `from fixture_dtypes import DTYPE_NAMES` finds this file)."""
import torch

DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.uint8: "uint8",
    torch.bool: "bool",
}
