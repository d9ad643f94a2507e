"""Which axis order do MultiMat's example charge-density tensors use?

For materials whose structure the shipped data has and whose cell is clearly non-cubic
(three different lattice lengths), build a promolecular density (sum of Gaussians, sigma 0.5 Å,
weight Z, periodic images included) at fractional grid points (i/32, j/32, k/32), as an array
P[i][j][k] (i along lattice vector a), and print the Pearson correlation of the tensor T with P
under every axis permutation. "ijk" means T[x][y][z] = P[x][y][z] (pymatgen Chgcar.data
order, [ia][ib][ic]); "kji" means T is [ic][ib][ia] (VASP's flat order read row-major).

  python3 tools/data-prep/density_orientation.py CD_TENSOR_DIR [N]
"""
import itertools
import sys
from pathlib import Path

import numpy as np

import common
import ptread

N = 32
SIGMA = 0.5


def promolecular(structure, n=N, sigma=SIGMA):
    lat = structure.lattice.matrix  # rows a, b, c (Å)
    f = np.arange(n) / n
    fi, fj, fk = np.meshgrid(f, f, f, indexing="ij")
    frac = np.stack([fi.ravel(), fj.ravel(), fk.ravel()], axis=1)  # [n^3, 3], (i, j, k)
    rho = np.zeros(len(frac))
    # enough images to cover 4 sigma in every direction
    inv = np.linalg.inv(lat)
    reach = [int(np.ceil(4 * sigma * np.linalg.norm(inv[:, d]))) + 1 for d in range(3)]
    shifts = np.array(list(itertools.product(*[range(-r, r + 1) for r in reach])))
    for site in structure:
        z = site.specie.Z
        d = frac[:, None, :] - (site.frac_coords % 1.0)[None, None, :] - shifts[None, :, :]
        cart = d @ lat  # [n^3, images, 3]
        r2 = np.einsum("pix,pix->pi", cart, cart)
        rho += z * np.exp(-r2 / (2 * sigma**2)).sum(axis=1)
    return rho.reshape(n, n, n)


def pearson(a, b):
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


PERMS = {"ijk": (0, 1, 2), "kji": (2, 1, 0), "jik": (1, 0, 2), "ikj": (0, 2, 1),
         "jki": (1, 2, 0), "kij": (2, 0, 1)}


def main():
    cd_dir = Path(sys.argv[1])
    want = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    structs = common.first_structures()
    picked = []
    for f in sorted(cd_dir.glob("*.pt"), key=lambda p: common.mp_sort_key(p.stem)):
        if f.stem not in structs:
            continue
        src, kind, raw = structs[f.stem]
        s = common.to_structure(kind, raw)
        a, b, c = s.lattice.abc
        # clearly non-cubic: a and c differ by more than 8 % (so [ia][ib][ic] and [ic][ib][ia]
        # give different grids)
        if abs(a - c) / max(a, c) < 0.08 or len(s) > 40:
            continue
        t = ptread.load_pt(f)[0].astype(np.float64)
        if not np.any(t):
            continue
        picked.append((f.stem, src, s, t))
        if len(picked) >= want:
            break
    print(f"{'id':<12} {'formula':<10} {'a':>6} {'b':>6} {'c':>6} {'al':>6} {'be':>6} {'ga':>6} "
          + " ".join(f"{k:>6}" for k in PERMS))
    wins = {k: 0 for k in PERMS}
    rows = []
    for mid, src, s, t in picked:
        p = promolecular(s)
        # T viewed under permutation q: T[x][y][z] = P[...]: compare T with P transposed by q
        r = {k: pearson(t, p.transpose(q)) for k, q in PERMS.items()}
        wins[max(r, key=r.get)] += 1
        rows.append((mid, r))
        a, b, c = s.lattice.abc
        al, be, ga = s.lattice.angles
        print(f"{mid:<12} {s.composition.reduced_formula:<10} {a:6.2f} {b:6.2f} {c:6.2f} {al:6.1f} {be:6.1f} "
              f"{ga:6.1f} " + " ".join(f"{r[k]:6.3f}" for k in PERMS))
    print("best permutation counts:", wins)
    ijk = np.mean([r["ijk"] for _, r in rows])
    kji = np.mean([r["kji"] for _, r in rows])
    print(f"mean r: ijk (tensor is [ia][ib][ic]) {ijk:.3f}; kji (tensor is [ic][ib][ia]) {kji:.3f}")


if __name__ == "__main__":
    main()
