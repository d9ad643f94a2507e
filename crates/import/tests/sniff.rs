//! The file-kind sniffer shared by `data import` and `inspect`: LOCPOT is a (non-density) grid,
//! and a name with both CHGCAR and CONTCAR in it is decided by content.

use std::path::{Path, PathBuf};

use multimat_import::{file_kind, FileKind, Grid};

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("multimat-sniff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const POSCAR: &str = "NaCl\n1.0\n0.0 2.8 2.8\n2.8 0.0 2.8\n2.8 2.8 0.0\nNa Cl\n1 1\nDirect\n0.0 0.0 0.0\n0.5 0.5 0.5\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn locpot_is_a_volumetric_file_but_not_a_density() {
    let dir = tempdir("locpot");
    let grid = format!("{POSCAR}\n   2   2   2\n 1.0 2.0 3.0 4.0 5.0\n 6.0 7.0 8.0\n");
    for name in ["LOCPOT", "mp-149_LOCPOT.gz", "LOCPOT_mp-149"] {
        assert_eq!(
            file_kind(&write(&dir, name, &grid)),
            FileKind::Volumetric(Grid::Potential),
            "{name}"
        );
    }
    assert_eq!(
        file_kind(&write(&dir, "CHGCAR_mp-149", &grid)),
        FileKind::Volumetric(Grid::ChargeDensity)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_chgcar_named_contcar_is_decided_by_content() {
    let dir = tempdir("ambiguous");
    // A relaxed structure saved under a name that mentions the CHGCAR run.
    let contcar = format!(
        "{POSCAR}\n  0.00000000E+00  0.00000000E+00  0.00000000E+00\n  0.00000000E+00  0.00000000E+00  0.00000000E+00\n"
    );
    let s = write(&dir, "CHGCAR_relaxed_CONTCAR", &contcar);
    assert_eq!(file_kind(&s), FileKind::Structure);
    let plain = write(&dir, "mp-149_CHGCAR.vasp", POSCAR);
    assert_eq!(file_kind(&plain), FileKind::Structure);
    // The same name with a grid after the coordinates is a charge density.
    let grid = format!("{POSCAR}\n   2   2   2\n 1.0 2.0 3.0 4.0 5.0\n 6.0 7.0 8.0\n");
    let g = write(&dir, "CHGCAR_relaxed_CONTCAR", &grid);
    assert_eq!(file_kind(&g), FileKind::Volumetric(Grid::ChargeDensity));
    // Unambiguous names keep their kind without reading the file.
    assert_eq!(file_kind(&dir.join("CONTCAR")), FileKind::Structure);
    assert_eq!(
        file_kind(&dir.join("CHGCAR")),
        FileKind::Volumetric(Grid::ChargeDensity)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
