"""The PyTorch side of scripts/fuzz.js (run with /usr/bin/python3 or $TORCHBRIDGE_PYTHON).

  oracle.py gen OUTDIR MARKDIR   writes the fuzzer's starting checkpoints into OUTDIR and prints
                                 a JSON list of them; the hostile ones would create files in
                                 MARKDIR if anything executed their pickles.
  oracle.py serve                reads one path per line on stdin and answers one JSON line per
                                 path: what torch.load makes of that file.

torch.load runs here with an unpickler that resolves only the globals torchbridge reads (the
ones torch.save writes for tensors, state dicts and bytes), so a hostile pickle is refused here
too and never runs. On PyTorch 1.x, _rebuild_tensor_v2 takes 2.x's optional 7th argument
(metadata), as torchbridge does: the oracle stands for the newest format torchbridge reads. Memory is capped (RLIMIT_AS) so that a lying storage size raises instead of
taking the machine.
"""
import collections
import hashlib
import inspect
import io
import json
import os
import pickle
import resource
import sys
import types
import zipfile

import torch

ALLOWED = {
    ('collections', 'OrderedDict'),
    ('torch._utils', '_rebuild_tensor_v2'),
    ('torch._utils', '_rebuild_parameter'),
    ('torch._utils', '_rebuild_parameter_with_state'),
    ('_codecs', 'encode'),
    ('builtins', 'bytes'),
    ('__builtin__', 'bytes'),
}
STORAGES = {'FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage',
            'ByteStorage', 'BoolStorage'}


def _set_tensor_metadata_2x(tensor, metadata):
    """PyTorch 2.x's torch._utils.set_tensor_metadata, on a PyTorch without it: a dict of str to
    bool (pybind's Mapping[str, bool] takes bools, numbers and None), whose 'conj' key fails on
    real tensors (an internal assert in 2.x) and whose 'neg' key sets the negative bit."""
    if not isinstance(metadata, dict):
        raise AssertionError(f'expected dict, got {type(metadata).__name__}')
    for key, value in metadata.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, (bool, int, float))):
            raise TypeError('_set_tensor_metadata(): incompatible function arguments (Mapping[str, bool])')
    if 'conj' in metadata and not tensor.is_complex():
        raise RuntimeError('isComplexType(typeMetaToScalarType(dtype())) INTERNAL ASSERT FAILED')
    return torch._neg_view(tensor) if metadata.get('neg') else tensor


def _rebuild_tensor_v2_2x(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    """torch._utils._rebuild_tensor_v2 as PyTorch 2.x defines it, with the optional 7th argument
    `metadata` (torchbridge reads the newest format it supports; 1.13's takes exactly 6)."""
    tensor = torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    return _set_tensor_metadata_2x(tensor, metadata) if metadata else tensor


REBUILD_HAS_METADATA = 'metadata' in inspect.signature(torch._utils._rebuild_tensor_v2).parameters


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2') and not REBUILD_HAS_METADATA:
            return _rebuild_tensor_v2_2x
        if (module, name) in ALLOWED or (module == 'torch' and name in STORAGES):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'forbidden global {module}.{name}')


def _load(file, **kwargs):
    return RestrictedUnpickler(file, **kwargs).load()


# torch 1.13's torch.load ignores its pickle_module argument unless weights_only (it resets it to
# the `pickle` module it imported), so the restriction goes in there: torch.serialization's
# `pickle` becomes a copy of the module whose Unpickler and load refuse other globals.
RESTRICTED_PICKLE = types.ModuleType('restricted_pickle')
RESTRICTED_PICKLE.__dict__.update({k: v for k, v in pickle.__dict__.items() if not k.startswith('__')})
RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler
RESTRICTED_PICKLE.load = _load
RESTRICTED_PICKLE.loads = lambda data, **kwargs: _load(io.BytesIO(data), **kwargs)
torch.serialization.pickle = RESTRICTED_PICKLE

SAFE_MAX = 2 ** 53 - 1


def digest(value):
    """The fuzzer's canonical form of a loaded value (scripts/fuzz/worker.js computes the same)."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
        flat = t.contiguous().view(-1)
        raw = flat.view(torch.uint8).numpy().tobytes() if flat.numel() > 0 else b''
        return {'T': str(t.dtype).replace('torch.', ''), 's': list(t.shape), 'g': bool(value.requires_grad),
                'h': hashlib.sha256(raw).hexdigest()}
    if isinstance(value, dict):
        return {'D': [[digest(k), digest(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [digest(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -SAFE_MAX <= value <= SAFE_MAX else {'I': str(value)}
    if isinstance(value, float):
        if value != value:
            return {'F': 'nan'}
        if value in (float('inf'), float('-inf')):
            return {'F': 'inf' if value > 0 else '-inf'}
        return value
    if isinstance(value, (bytes, bytearray)):
        return {'B': bytes(value).hex()}
    return {'X': type(value).__name__}


def serve():
    # A lying storage size must raise MemoryError/RuntimeError here, not exhaust the machine.
    cap = int(os.environ.get('FUZZ_ORACLE_MEMORY', str(6 << 30)))
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.setrecursionlimit(5000)
    out = sys.stdout
    out.write(json.dumps({'ready': True, 'torch': torch.__version__}) + '\n')
    out.flush()
    for line in sys.stdin:
        path = line.rstrip('\n')
        if not path:
            continue
        answer = None
        try:
            value = torch.load(path, map_location='cpu')
        except BaseException as e:  # noqa: B902 - every failure is an answer
            if isinstance(e, KeyboardInterrupt):
                raise
            answer = {'ok': False, 'error': f'{type(e).__name__}: {e}'[:500]}
        else:
            try:
                text = json.dumps({'ok': True, 'digest': digest(value)})
            except (RecursionError, ValueError) as e:
                text = json.dumps({'ok': True, 'digest': None, 'note': f'not comparable: {type(e).__name__}'})
            del value
        out.write((text if answer is None else json.dumps(answer)) + '\n')
        out.flush()


# ---- the starting checkpoints -----------------------------------------------------------------

class Call:
    """Pickles as `func(*args)`: how a hostile pickle calls what it likes."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def rezip(src, dst, compression):
    """The same records, rewritten by Python's zipfile (no 64-byte alignment), stored or deflated."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', compression) as zout:
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0))
            out.compress_type = compression
            zout.writestr(out, zin.read(info.filename))


def replace_pickle(src, dst, data_pkl):
    """A copy of the archive `src` whose data.pkl is `data_pkl` (stored, fixed dates)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = data_pkl if info.filename.endswith('/data.pkl') else zin.read(info.filename)
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0)), data)


def gen(outdir, markdir):
    torch.manual_seed(0)
    files = []

    def add(name, kind, note):
        files.append({'name': name, 'path': os.path.join(outdir, name), 'kind': kind, 'note': note})

    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Embedding(5, 2))
    state = net.state_dict()
    state['f64'] = torch.randn(2, dtype=torch.float64)
    state['f16'] = torch.randn(5).half()
    state['bf16'] = torch.randn(2, 3).bfloat16()
    state['i64'] = torch.arange(4)
    state['i32'] = torch.tensor([[1, -2], [3, 2 ** 31 - 1]], dtype=torch.int32)
    state['u8'] = torch.tensor([0, 7, 255], dtype=torch.uint8)
    state['b'] = torch.tensor([True, False, True, True])
    state['scalar'] = torch.tensor(3.5)
    state['empty'] = torch.zeros(0, 3)
    torch.save(state, os.path.join(outdir, 'py_state.pt'))
    add('py_state.pt', 'valid', 'torch.save of a state dict of 8 dtypes, 0-dim and empty tensors')

    base = torch.arange(24, dtype=torch.float32)
    views = collections.OrderedDict([
        ('base', base), ('slice', base[2:10]), ('t', base.view(4, 6).t()), ('strided', base.view(2, 3, 4)[:, 1, ::2]),
        ('elem', base[5]), ('expanded', base[:4].view(1, 4).expand(3, 4)),
    ])
    torch.save(views, os.path.join(outdir, 'py_views.pt'))
    add('py_views.pt', 'valid', 'views sharing one storage: slices, a transpose, steps, an expand')

    nested = {
        'model': state, 'step': 7, 'big': 2 ** 60, 'neg': -3, 'pi': 3.25, 'nan': float('nan'), 'name': 'ok ü',
        'bytes': b'\x00\xffab', 'none': None, 'flag': True,
        'list': [torch.ones(2), [torch.zeros(1, dtype=torch.int64), 3, 'x'], (1.5, None, False)],
        'param': torch.nn.Parameter(torch.randn(2)), 'ints': {1: 'one', 2: [2]},
    }
    torch.save(nested, os.path.join(outdir, 'py_nested.pt'))
    add('py_nested.pt', 'valid', 'a nested dict/list/tuple value with numbers, str, bytes, a Parameter')

    rezip(os.path.join(outdir, 'py_state.pt'), os.path.join(outdir, 'py_state_stored.pt'), zipfile.ZIP_STORED)
    add('py_state_stored.pt', 'valid', "py_state.pt rewritten by Python's zipfile, stored")
    rezip(os.path.join(outdir, 'py_state.pt'), os.path.join(outdir, 'py_state_deflate.pt'), zipfile.ZIP_DEFLATED)
    add('py_state_deflate.pt', 'valid', "py_state.pt rewritten by Python's zipfile, deflate-compressed")
    rezip(os.path.join(outdir, 'py_nested.pt'), os.path.join(outdir, 'py_nested_deflate.pt'), zipfile.ZIP_DEFLATED)
    add('py_nested_deflate.pt', 'valid', 'py_nested.pt deflate-compressed')

    # Hostile pickles: each would create a file in markdir if anything ran it.
    def mark(name):
        return os.path.join(markdir, name)

    host = os.path.join(outdir, 'py_views.pt')
    hostile = {
        'evil_posix_system': pickle.dumps({'w': 1, 'x': Call(os.system, (f'touch {mark("posix_system")}',))}, protocol=2),
        'evil_os_system_p0': f'cos\nsystem\n(Vtouch {mark("os_system_p0")}\ntR.'.encode(),
        'evil_stack_global': pickle.dumps(Call(os.system, (f'touch {mark("stack_global")}',)), protocol=4),
        'evil_eval': pickle.dumps(Call(eval, (f"__import__('os').system('touch {mark('eval')}')",)), protocol=2),
        'evil_exec': pickle.dumps(Call(exec, (f"open({mark('exec')!r}, 'w').close()",)), protocol=2),
        'evil_builtin_eval': (b'\x80\x02c__builtin__\neval\nX' + len(f"open({mark('builtin_eval')!r},'w')".encode()).to_bytes(4, 'little')
                              + f"open({mark('builtin_eval')!r},'w')".encode() + b'\x85R.'),
        'evil_inst': f'(Vtouch {mark("inst")}\nios\nsystem\n.'.encode(),
        'evil_obj': f'(cos\nsystem\nVtouch {mark("obj")}\no.'.encode(),
        'evil_open': pickle.dumps(Call(open, (mark('open'), 'w')), protocol=2),
        'evil_load_from_bytes': pickle.dumps(Call(torch.storage._load_from_bytes, (pickle.dumps(Call(os.system, (f'touch {mark("load_from_bytes")}',))),)), protocol=2),
        # the hostile call as a tensor's argument, as a storage type, in an OrderedDict's BUILD state
        'evil_in_rebuild': (b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(cposix\nsystem\nVtouch ' + mark('in_rebuild').encode()
                            + b'\n\x85RK\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rtq\x00Rq\x01.'),
        'evil_storage_type': (b'\x80\x02ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagecposix\nsystem\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x18tQK\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)Rtq\x00Rq\x01.'),
        'evil_build_state': (b'\x80\x02ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00xcposix\nsystem\nVtouch ' + mark('build_state').encode()
                             + b'\n\x85Rsb.'),
        'evil_getattr': pickle.dumps(Call(getattr, (Call(__import__, ('os',)), 'system')), protocol=2),
    }
    for name, payload in hostile.items():
        replace_pickle(host, os.path.join(outdir, name + '.pt'), payload)
        add(name + '.pt', 'hostile', f'data.pkl calls {name[5:]}')
    print(json.dumps(files))


if __name__ == '__main__':
    if sys.argv[1] == 'gen':
        gen(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'serve':
        serve()
    else:
        sys.exit('usage: oracle.py gen OUTDIR MARKDIR | serve')
