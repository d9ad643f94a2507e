"""Read a torch .pt file (zip format) without torch.

A .pt is a zip holding <root>/data.pkl plus one raw little-endian storage per tensor in
<root>/data/<key>. The pickle refers to storages by persistent id
('storage', <torch.XStorage class>, key, location, numel) and rebuilds tensors with
torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta]).
This Unpickler returns numpy arrays instead (copies, C order) and refuses every other class.
"""
import collections
import io
import pickle
import zipfile

import numpy as np

DTYPES = {
    "FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "BFloat16Storage": None,
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType(str):
    pass


def load_pt(path):
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"][0]
    root = pkl[: -len("data.pkl")]
    cache = {}

    def storage(dtype_name, key):
        if key not in cache:
            dt = DTYPES[dtype_name]
            if dt is None:
                raise ValueError(f"unsupported storage {dtype_name}")
            cache[key] = np.frombuffer(z.read(f"{root}data/{key}"), dtype=np.dtype(dt))
        return cache[key]

    def rebuild(st, offset, size, stride, *rest):
        size, stride = tuple(size), tuple(stride)
        if len(size) == 0:
            return st[offset].copy()
        n = 1 + sum((s - 1) * t for s, t in zip(size, stride)) if all(size) else 0
        if offset + n > st.size:
            raise ValueError("tensor view runs past its storage")
        v = np.lib.stride_tricks.as_strided(
            st[offset:], shape=size, strides=[t * st.itemsize for t in stride], writeable=False)
        return np.ascontiguousarray(v).astype(st.dtype.newbyteorder("="), copy=True)

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return rebuild
            if module == "torch" and name in DTYPES:
                return _StorageType(name)
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"refusing {module}.{name}")

        def persistent_load(self, pid):
            kind, stype, key, _location, _numel = pid
            assert kind == "storage", pid
            return storage(str(stype), key)

    return U(io.BytesIO(z.read(pkl))).load()
