"""Shared helpers for the data-prep scripts: the structure tables that data/shipped.toml imports,
read in recipe order with their raw structure values (no pymatgen needed to list ids).

Each `structure_rows()` item is (id, source_file, kind, raw) where kind is one of
  "pmg"   raw is a pymatgen Structure dict
  "cif"   raw is CIF text
  "ase"   raw is the phonon-DOS CSV's Python-repr dict {numbers, positions (Cartesian Å), cell}
`to_structure(kind, raw)` turns it into a pymatgen Structure (imports pymatgen lazily).
"""
import ast
import csv
import gzip
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
RAW = DATA / "raw"

csv.field_size_limit(sys.maxsize)


def _csv_rows(path):
    with gzip.open(path, "rt", newline="") as f:
        yield from csv.DictReader(f)


def matcalc(path, source):
    for r in json.load(gzip.open(path)):
        yield r["mp_id"], source, "pmg", r["structure"]


def trachote(path, source):
    d = json.load(gzip.open(path))
    for k, mid in d["material_id"].items():
        yield mid, source, "cif", d["cif"][k]


def phonondos(path, source):
    for r in _csv_rows(path):
        yield r["mp_id"], source, "ase", r["structure"]


def chemeleon(path, source):
    for r in _csv_rows(path):
        yield r["material_id"], source, "cif", r["cif"]


def dielectric(path, source):
    d = json.load(gzip.open(path))
    for k, s in d["structure"].items():
        yield f"dielectric-{k}", source, "pmg", s


def jarvis_table(path, source):
    for r in json.load(gzip.open(path)):
        yield r["jid"], source, "pmg", r["structure"]


# Recipe order of data/shipped.toml's [[table]]s (first structure per id wins).
TABLES = [
    ("structures/matcalc_mp_binary_pbe_elasticity_2025.1.json.gz", matcalc),
    ("structures/trachote_mp_elastic_tensor_val_1211.json.gz", trachote),
    ("dos/phonondos_mp_1521.csv.gz", phonondos),
    ("structures/chemeleon_mp40_test_708.csv.gz", chemeleon),
    ("structures/crystaltoolkit_matbench_dielectric_4764.json.gz", dielectric),
    ("structures/matcalc_alexandria_binary_pbe_phonon_2025.1.json.gz", matcalc),
]


def structure_rows(tables=TABLES, extra=()):
    """All (id, source_file, kind, raw) rows of the given tables, in order, duplicates included."""
    for rel, fn in list(tables) + list(extra):
        p = RAW / rel
        if p.exists():
            yield from fn(p, Path(rel).name)


def first_structures(tables=TABLES, extra=()):
    """id -> (source_file, kind, raw), first table wins."""
    out = {}
    for i, src, kind, raw in structure_rows(tables, extra):
        out.setdefault(i, (src, kind, raw))
    return out


def to_structure(kind, raw):
    from pymatgen.core import Lattice, Structure

    if kind == "pmg":
        return Structure.from_dict(raw)
    if kind == "cif":
        return Structure.from_str(raw, fmt="cif")
    if kind == "ase":
        d = ast.literal_eval(raw)
        return Structure(Lattice(d["cell"]), d["numbers"], d["positions"], coords_are_cartesian=True)
    raise ValueError(kind)


def write_npy_gz(path, array):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(buf.getvalue())


def read_npy_gz(path):
    import numpy as np

    return np.load(io.BytesIO(gzip.open(path).read()))


def mp_sort_key(s):
    p = s.split("-", 1)
    return (p[0], int(p[1]) if len(p) == 2 and p[1].isdigit() else 1 << 62, s)
