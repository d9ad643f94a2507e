"""Convert MultiMat's example data (clott3/MultiMat @ 6d26aa5, example_data/) from torch pickles
to numpy, without torch: a .pt file is a zip holding data.pkl plus one raw little-endian storage
per tensor, so an Unpickler that rebuilds tensors as numpy views is enough.

  python3 tools/data-prep/multimat_example_data.py DOS_PT CD_TENSOR_DIR STRUCTURE_IDS OUT_DIR

Writes OUT_DIR/multimat_example_dos.npy.gz + .ids.json (real DOS only) and
OUT_DIR/multimat_example_density.f16.npy.gz + .ids.json (real grids whose id has a structure
in STRUCTURE_IDS, a JSON list), and prints the counts.
"""
import gzip, io, json, pickle, sys, zipfile
from pathlib import Path

import numpy as np

DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
          "LongStorage": np.int64, "IntStorage": np.int32, "BoolStorage": np.bool_}


def load_pt(path):
    z = zipfile.ZipFile(path)
    pkl = [n for n in z.namelist() if n.endswith("data.pkl")][0]
    root = pkl[: -len("data.pkl")]

    class Storage:
        def __init__(self, dtype, key):
            self.array = np.frombuffer(z.read(f"{root}data/{key}"), dtype=dtype)

    def rebuild(storage, offset, size, stride, *rest):
        a = storage.array
        if not size:
            return a[offset:offset + 1].reshape(())
        st = [s * a.itemsize for s in stride]
        return np.lib.stride_tricks.as_strided(a[offset:], shape=tuple(size), strides=st).copy()

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return rebuild
            if module == "torch" and name in DTYPES:
                return name
            if module == "collections" and name == "OrderedDict":
                import collections
                return collections.OrderedDict
            return super().find_class(module, name)

        def persistent_load(self, pid):
            _, storage_type, key, _location, _numel = pid
            name = storage_type if isinstance(storage_type, str) else str(storage_type)
            return Storage(DTYPES[name], key)

    return U(io.BytesIO(z.read(pkl))).load()


def write_npy_gz(path, array):
    buf = io.BytesIO()
    np.save(buf, array)
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(buf.getvalue())


def main():
    dos_pt, cd_dir, structure_ids, out = map(Path, sys.argv[1:5])
    have = set(json.load(open(structure_ids)))
    dos = load_pt(dos_pt)
    ids, rows = [], []
    placeholders = 0
    for k in sorted(dos, key=lambda s: (int(s.split("-")[1]) if s.startswith("mp-") and s.split("-")[1].isdigit() else 1 << 60, s)):
        entry = dos[k]
        # Each value is {"exists": 0/1, "data": [2, 601]}; exists = 0 marks a placeholder.
        if isinstance(entry, dict):
            if not entry.get("exists", 1):
                placeholders += 1
                continue
            entry = entry["data"]
        a = np.asarray(entry, dtype=np.float32)
        # Placeholders: wrong shape, a constant energy row, or an all-zero DOS.
        if a.shape != (2, 601) or np.ptp(a[0]) == 0 or not np.any(a[1]) or not np.all(np.isfinite(a)):
            placeholders += 1
            continue
        ids.append(k)
        rows.append(a)
    write_npy_gz(out / "dos/multimat_example_dos.npy.gz", np.stack(rows))
    json.dump(ids, open(out / "dos/multimat_example_dos.ids.json", "w"))
    print(f"dos: {len(dos)} keys, {len(ids)} real, {placeholders} placeholders, "
          f"{len(set(ids) & have)} with a shipped structure; energy range "
          f"{min(r[0,0] for r in rows):.1f}..{max(r[0,-1] for r in rows):.1f} eV")

    cids, grids, zeros, total = [], [], 0, 0
    for f in sorted(cd_dir.glob("*.pt")):
        total += 1
        g = load_pt(f)
        if isinstance(g, dict):
            g = g.get("data", g)
        g = np.asarray(g, dtype=np.float32)
        if g.shape != (1, 32, 32, 32) or not np.any(g) or not np.all(np.isfinite(g)):
            zeros += 1
            continue
        if f.stem not in have:
            continue
        cids.append(f.stem)
        grids.append(g)
    g = np.stack(grids)
    g16 = g.astype(np.float16)
    err = float(np.max(np.abs(g16.astype(np.float32) - g)))
    write_npy_gz(out / "chgcar/multimat_example_density.f16.npy.gz", g16)
    json.dump(cids, open(out / "chgcar/multimat_example_density.ids.json", "w"))
    print(f"density: {total} grids, {zeros} placeholders (all zero), {total - zeros} real, "
          f"{len(cids)} with a shipped structure; f16 max |error| {err:.3g}; "
          f"grid means {float(g.mean(axis=(1,2,3,4)).min()):.2f}..{float(g.mean(axis=(1,2,3,4)).max()):.2f}")


if __name__ == "__main__":
    main()
