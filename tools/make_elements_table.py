"""Build data/elements/elements.csv (Z = 1..103) from the shipped upstream tables.

Sources (see ../data/README.md for licences):
  - pymatgen periodic_table.json.gz (pymatgen-core 2026.10.16): symbol, name, mass (amu),
    Pauling electronegativity X, ground-state electron configuration.
  - matminer magpie_elementdata (matminer 0.10.1): Column (group), Row (period),
    CovalentRadius (pm), NValence (valence electrons).
Block is derived from the group/period (f-block: lanthanides 57-71 and actinides 89-103, as
pymatgen does). Run: python3 tools/make_elements_table.py SHARED_DATA_DIR > data/elements/elements.csv
"""
import csv, gzip, json, os, sys, tarfile, io

src = sys.argv[1]
pt = json.load(gzip.open(os.path.join(src, "elements/pymatgen_periodic_table.json.gz")))
tables = {}
with tarfile.open(os.path.join(src, "elements/matminer_magpie_elementdata.tar.gz")) as tar:
    for name in ["Column", "Row", "CovalentRadius", "NValence"]:
        f = tar.extractfile(f"magpie_elementdata/{name}.table")
        tables[name] = [line.strip() for line in io.TextIOWrapper(f)]

by_z = {v["Atomic no"]: (sym, v) for sym, v in pt.items() if sym not in ("_unit", "D", "T")}
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["z", "symbol", "name", "mass", "group", "period", "block",
              "electronegativity", "covalent_radius", "valence_electrons", "configuration"])
for z in range(1, 104):
    sym, v = by_z[z]
    group = int(float(tables["Column"][z - 1]))
    period = int(float(tables["Row"][z - 1]))
    if 57 <= z <= 71 or 89 <= z <= 103:
        block = "f"
    elif group <= 2 or z == 2:
        block = "s"
    elif group <= 12:
        block = "d"
    else:
        block = "p"
    x = v.get("X")
    x = "" if x is None or (isinstance(x, float) and x != x) else f"{x}"
    cov = tables["CovalentRadius"][z - 1]
    cov = "" if cov in ("Missing", "NaN", "") else f"{float(cov) / 100.0:.3f}"
    nval = tables["NValence"][z - 1]
    nval = "" if nval in ("Missing", "NaN", "") else str(int(float(nval)))
    conf = (v.get("Electronic structure") or {}).get("0") or ""
    out.writerow([z, sym, v["Name"], v["Atomic mass"], group, period, block, x, cov, nval, conf])
