//! Shared helpers of the POSCAR, JSON and extended-XYZ integration tests: fixture paths, the
//! pymatgen-computed expectations in `fixtures/structures/expected_formats.json`, and golden
//! writer outputs (regenerate with `MULTIMAT_BLESS_FORMATS=1 cargo test -p multimat-crystal`).
#![allow(dead_code)]

use std::path::PathBuf;

use multimat_crystal::io::{read_structure, ReadOptions};
use multimat_crystal::{ErrorKind, Location, Structure};
use serde_json::Value;

/// `fixtures/structures/` of the repository.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/structures")
}

/// The `files` table of expected_formats.json: relative path → expected values.
pub fn expected_files() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("expected_formats.json"))
        .expect("expected_formats.json");
    let v: Value = serde_json::from_str(&text).expect("expected_formats.json parses");
    v["files"].as_object().expect("files table").clone()
}

/// Reads a fixture by its path relative to fixtures/structures (format detected from the name).
pub fn read(rel: &str) -> Structure {
    read_structure(&fixtures().join(rel), &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The error of reading a corrupted fixture, checked for file name, kind and location.
pub fn read_err(rel: &str) -> multimat_crystal::Error {
    let path = fixtures().join(rel);
    let err = read_structure(&path, &ReadOptions::default()).expect_err(rel);
    assert_eq!(
        err.source_name,
        path.display().to_string(),
        "{rel}: error names the file"
    );
    err
}

pub fn assert_line(err: &multimat_crystal::Error, line: usize) {
    assert_eq!(err.location, Location::Line(line), "{err}");
}

pub fn is_invalid_number(kind: &ErrorKind, found_part: &str) -> bool {
    matches!(kind, ErrorKind::InvalidNumber { found, .. } if found.contains(found_part))
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number in expected_formats.json")
}

/// Checks `s` against the pymatgen-computed expectation `e`: site count, composition, lattice
/// matrix, a/b/c, angles, volume, density, and every site's species and fractional
/// coordinates (as a multiset, periodic images equal).
pub fn check_expected(rel: &str, s: &Structure, e: &Value) {
    assert_eq!(
        s.num_sites() as u64,
        e["nsites"].as_u64().unwrap(),
        "{rel}: nsites"
    );
    let comp = s.composition();
    let ecomp = e["composition"].as_object().unwrap();
    assert_eq!(comp.len(), ecomp.len(), "{rel}: composition {comp:?}");
    for (el, amount) in ecomp {
        let got = comp.get(el).copied().unwrap_or(f64::NAN);
        assert!(
            close(got, f(amount), 1e-9),
            "{rel}: {el} amount {got} vs {amount}"
        );
    }
    let m = s.lattice.matrix();
    for i in 0..3 {
        for j in 0..3 {
            let want = f(&e["matrix"][i][j]);
            assert!(
                (m[i][j] - want).abs() < 1e-8,
                "{rel}: matrix[{i}][{j}] {} vs {want}",
                m[i][j]
            );
        }
    }
    let p = s.lattice.parameters();
    for (got, want, name) in [
        (p.a, &e["abc"][0], "a"),
        (p.b, &e["abc"][1], "b"),
        (p.c, &e["abc"][2], "c"),
        (p.alpha, &e["angles"][0], "alpha"),
        (p.beta, &e["angles"][1], "beta"),
        (p.gamma, &e["angles"][2], "gamma"),
        (p.volume, &e["volume"], "volume"),
    ] {
        assert!(close(got, f(want), 1e-9), "{rel}: {name} {got} vs {want}");
    }
    // Our element masses come from the same pymatgen table, so densities agree closely.
    assert!(
        close(s.density(), f(&e["density"]), 1e-6),
        "{rel}: density {} vs {}",
        s.density(),
        e["density"]
    );

    let expected_sites = e["sites"].as_array().unwrap();
    let mut used = vec![false; s.sites.len()];
    for es in expected_sites {
        let mut species: Vec<(String, f64)> = es["species"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_string(), f(&p[1])))
            .collect();
        species.sort_by(|a, b| a.0.cmp(&b.0));
        let frac: Vec<f64> = es["frac"].as_array().unwrap().iter().map(f).collect();
        let found = s.sites.iter().enumerate().position(|(i, site)| {
            if used[i] {
                return false;
            }
            let mut got: Vec<(String, f64)> = site
                .occupants
                .iter()
                .map(|o| {
                    (
                        multimat_crystal::element(o.z).unwrap().symbol.to_string(),
                        o.occupancy,
                    )
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let same_species = got.len() == species.len()
                && got
                    .iter()
                    .zip(&species)
                    .all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() < 1e-9);
            same_species
                && (0..3).all(|k| {
                    let d = site.frac[k] - frac[k];
                    (d - d.round()).abs() < 1e-7
                })
        });
        match found {
            Some(i) => used[i] = true,
            None => panic!("{rel}: no site matches expected {es}"),
        }
    }
}

/// Checks every fixture under `prefix` (e.g. `poscar/`) against its expectation; returns how
/// many were checked.
pub fn check_all(prefix: &str) -> usize {
    let mut n = 0;
    for (rel, e) in expected_files()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
    {
        let s = read(rel);
        check_expected(rel, &s, e);
        n += 1;
    }
    n
}

/// Same lattice and same sites (species, occupancies, oxidation states, fractional coordinates
/// within `tol`, in the same order).
pub fn assert_same_structure(what: &str, a: &Structure, b: &Structure, tol: f64) {
    assert_eq!(a.sites.len(), b.sites.len(), "{what}: site count");
    for (ra, rb) in a.lattice.matrix().iter().zip(b.lattice.matrix()) {
        for k in 0..3 {
            assert!(
                (ra[k] - rb[k]).abs() <= tol * (1.0 + rb[k].abs()),
                "{what}: lattice {ra:?} vs {rb:?}"
            );
        }
    }
    for (i, (sa, sb)) in a.sites.iter().zip(&b.sites).enumerate() {
        assert_eq!(
            sa.occupants.len(),
            sb.occupants.len(),
            "{what}: site {i} occupants"
        );
        for (oa, ob) in sa.occupants.iter().zip(&sb.occupants) {
            assert_eq!(oa.z, ob.z, "{what}: site {i} species");
            assert!(
                (oa.occupancy - ob.occupancy).abs() < 1e-12,
                "{what}: site {i} occupancy"
            );
            assert_eq!(oa.oxidation, ob.oxidation, "{what}: site {i} oxidation");
        }
        for k in 0..3 {
            assert!(
                (sa.frac[k] - sb.frac[k]).abs() <= tol,
                "{what}: site {i} frac {:?} vs {:?}",
                sa.frac,
                sb.frac
            );
        }
    }
}

/// Compares `text` with the golden file fixtures/structures/written/`name` (exact text, or
/// equal JSON values for `.json`), or rewrites the golden file when MULTIMAT_BLESS_FORMATS is
/// set. The golden files are what tools/fixtures/formats_check_written.py loads with pymatgen.
pub fn golden(name: &str, text: &str) {
    let path = fixtures().join("written").join(name);
    if std::env::var_os("MULTIMAT_BLESS_FORMATS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if name.ends_with(".json") {
        let a: Value = serde_json::from_str(text).expect("writer output is JSON");
        let b: Value = serde_json::from_str(&want).expect("golden JSON");
        assert_eq!(a, b, "{name}: writer output differs from the golden file");
    } else {
        assert_eq!(
            text, want,
            "{name}: writer output differs from the golden file"
        );
    }
}

/// 64-bit FNV-1a of `bytes` (hex), the checksum formats_check_written.py records.
pub fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// True when tools/fixtures/formats_check_written.py loaded the golden file `name` with
/// pymatgen, found it equal to the source structure, and the file has not changed since.
pub fn pymatgen_verified(name: &str) -> bool {
    let record = fixtures().join("written").join("pymatgen_check.json");
    let Ok(text) = std::fs::read_to_string(&record) else {
        return false;
    };
    let v: Value = serde_json::from_str(&text).expect("pymatgen_check.json parses");
    let Ok(bytes) = std::fs::read(fixtures().join("written").join(name)) else {
        return false;
    };
    v["files"][name]["ok"].as_bool() == Some(true)
        && v["files"][name]["fnv1a64"].as_str() == Some(&fnv1a64(&bytes))
}
