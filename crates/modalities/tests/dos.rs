//! DOS readers and model input against every real DOS file of the data set. Expected values come
//! from tools/fixtures/dos_expected.py (pymatgen parsing, numpy integrals, the reference's
//! preprocessing re-run in numpy) and live in fixtures/dos/dos_expected.json.
//!
//! Files over 200 KB are not copied into fixtures/; their tests read /work/shared/data/dos and
//! print a note and skip when it is absent.

use std::path::{Path, PathBuf};

use multimat_modalities::dos::{
    doscar::read_doscar, model_input, parse_dos, pymatgen::read_dos_json, read_dos,
    read_phonondos_csv, read_phonondos_csv_file, repair_nans, vasprun::read_vasprun_dos, Dos,
    DosInputOptions, FrequencyUnit, Resampling, SpectrumKind, SpinChannel,
};
use multimat_modalities::npy::write_npy_f32;
use multimat_modalities::{ErrorKind, Location};
use serde_json::Value;

const SHARED: &str = "/work/shared/data/dos";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dos")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("dos_expected.json"))
        .expect("fixtures/dos/dos_expected.json");
    serde_json::from_str(&text).expect("expected JSON parses")
}

fn fixture_text(name: &str) -> String {
    multimat_crystal::io::read_text(&fixtures().join(name)).expect("fixture readable")
}

/// Where a listed file is: the fixture copy, else the shared data set, else None (skip).
fn locate(entry: &Value, shared_sub: &str) -> Option<PathBuf> {
    let file = entry["file"].as_str().unwrap();
    if entry["copied"].as_bool().unwrap() {
        return Some(fixtures().join(file));
    }
    let p = Path::new(SHARED).join(shared_sub).join(file);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "note: {} absent, skipping {file} (not copied: too large)",
            p.display()
        );
        None
    }
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

/// Checks one file's reading and model input against its expected record; returns the DOS.
fn check_entry(path: &Path, exp: &Value) -> Dos {
    let name = exp["file"].as_str().unwrap();
    let t0 = std::time::Instant::now();
    let dos = read_dos(path).unwrap_or_else(|e| panic!("{name}: {e}"));
    println!("{name}: read in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    assert_eq!(
        dos.npoints(),
        exp["npoints"].as_u64().unwrap() as usize,
        "{name} npoints"
    );
    assert_eq!(
        dos.spin_polarized(),
        exp["spin_polarized"].as_bool().unwrap(),
        "{name} spin"
    );
    assert_eq!(dos.efermi, exp["efermi"].as_f64(), "{name} efermi");
    assert_eq!(
        dos.energies[0],
        exp["emin"].as_f64().unwrap(),
        "{name} emin"
    );
    assert_eq!(
        *dos.energies.last().unwrap(),
        exp["emax"].as_f64().unwrap(),
        "{name} emax"
    );
    for (s, want) in f64s(&exp["sum_per_spin"]).iter().enumerate() {
        let got: f64 = dos.densities[s].iter().sum();
        assert!(
            close(got, *want, 1e-12),
            "{name} sum spin {s}: {got} vs {want}"
        );
    }
    let integrals = match dos.kind {
        SpectrumKind::Electronic => dos.fermi_window_integral(5.0).unwrap(),
        SpectrumKind::Phonon { .. } => {
            let w = f64s(&exp["window"]);
            dos.window_integral(w[0], w[1])
        }
    };
    let want = f64s(&exp["window_integral"]);
    assert_eq!(integrals.len(), want.len());
    for (g, w) in integrals.iter().zip(&want) {
        assert!(close(*g, *w, 1e-10), "{name} window integral {g} vs {w}");
    }
    let input =
        model_input(&dos, &DosInputOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(input.energies.len(), 601);
    assert_eq!(input.densities.len(), 601);
    assert_eq!(
        input.energies.len(),
        exp["input_len_up"].as_u64().unwrap() as usize
    );
    if let Some(full) = exp.get("input_energies") {
        // The reference branches are bit-exact; the uniform branch may differ in the last ulp.
        let exact = !matches!(input.resampling, Resampling::Uniform { .. });
        compare_f32(name, "energies", &input.energies, &f64s(full), exact);
        compare_f32(
            name,
            "densities",
            &input.densities,
            &f64s(&exp["input_up"]),
            exact,
        );
        if let Some(sum) = exp.get("input_sum") {
            let opts = DosInputOptions {
                spin: SpinChannel::Sum,
                ..Default::default()
            };
            let summed = model_input(&dos, &opts).unwrap();
            compare_f32(
                name,
                "summed densities",
                &summed.densities,
                &f64s(sum),
                exact,
            );
        }
    } else {
        let head_e = f64s(&exp["input_energies_head"]);
        let head_d = f64s(&exp["input_up_head"]);
        let pick = |v: &[f32]| {
            v[..5]
                .iter()
                .chain(&v[596..])
                .copied()
                .collect::<Vec<f32>>()
        };
        compare_f32(name, "energies head", &pick(&input.energies), &head_e, true);
        compare_f32(
            name,
            "densities head",
            &pick(&input.densities),
            &head_d,
            true,
        );
    }
    dos
}

fn compare_f32(name: &str, what: &str, got: &[f32], want: &[f64], exact: bool) {
    assert_eq!(got.len(), want.len(), "{name} {what} length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let w = *w as f32;
        let ok = if exact {
            g.to_bits() == w.to_bits()
        } else {
            (g - w).abs() <= 1e-6 * (1.0 + w.abs())
        };
        assert!(ok, "{name} {what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn electronic_json_files() {
    let exp = expected();
    let entries = exp["electronic_json"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    let mut branches = Vec::new();
    for e in entries {
        let Some(path) = locate(e, "") else { continue };
        let dos = check_entry(&path, e);
        assert_eq!(dos.kind, SpectrumKind::Electronic);
        branches.push(
            model_input(&dos, &DosInputOptions::default())
                .unwrap()
                .resampling,
        );
    }
    // GaN has 2001 points, Si 601, LiFePO4 and TaZnCo2 301: every reference branch on real data.
    assert!(branches.contains(&Resampling::Skip2001));
    assert!(branches.contains(&Resampling::Unchanged));
    assert!(branches.contains(&Resampling::Midpoints301));
}

#[test]
fn phonon_json_file() {
    let exp = expected();
    let e = &exp["phonon_json"][0];
    let path = locate(e, "").unwrap();
    let dos = check_entry(&path, e);
    assert_eq!(
        dos.kind,
        SpectrumKind::Phonon {
            unit: FrequencyUnit::Thz
        }
    );
    assert_eq!(dos.efermi, None);
    let input = model_input(&dos, &DosInputOptions::default()).unwrap();
    assert_eq!(input.resampling, Resampling::Uniform { from: 969 });
    // Phonon axis is not shifted: it starts at the first (negative, imaginary-mode) frequency.
    assert_eq!(input.energies[0], dos.energies[0] as f32);
    assert_eq!(input.energies[600], *dos.energies.last().unwrap() as f32);
}

#[test]
fn vasprun_files() {
    let exp = expected();
    let entries = exp["vasprun"].as_array().unwrap();
    assert_eq!(entries.len(), 7);
    for e in entries {
        let Some(path) = locate(e, "pymatgen_vasp") else {
            continue;
        };
        check_entry(&path, e);
    }
}

#[test]
fn doscar_files_derived_from_vasprun() {
    let exp = expected();
    for e in exp["doscar"].as_array().unwrap() {
        let path = locate(e, "").unwrap();
        let dos = check_entry(&path, e);
        // The DOSCARs were written from vasprun.Al.xml: same grid and Fermi energy.
        let v = read_dos(&fixtures().join("vasprun.Al.xml.gz")).unwrap();
        assert_eq!(dos.energies, v.energies);
        assert_eq!(dos.efermi, v.efermi);
        for (a, b) in dos.densities.iter().zip(&v.densities) {
            assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9));
        }
    }
}

fn check_csv_row(mp: &str, dos: &Dos, e: &Value) {
    assert_eq!(mp, e["mp_id"].as_str().unwrap());
    assert_eq!(
        dos.kind,
        SpectrumKind::Phonon {
            unit: FrequencyUnit::InverseCm
        }
    );
    assert_eq!(dos.npoints(), e["npoints"].as_u64().unwrap() as usize);
    assert_eq!(dos.energies[0], e["fmin"].as_f64().unwrap());
    assert_eq!(*dos.energies.last().unwrap(), e["fmax"].as_f64().unwrap());
    let sum: f64 = dos.densities[0].iter().sum();
    assert!(close(sum, e["sum"].as_f64().unwrap(), 1e-12), "{mp} sum");
    let w = dos.window_integral(100.0, 500.0)[0];
    assert!(
        close(w, e["window_integral"].as_f64().unwrap(), 1e-10),
        "{mp} window {w}"
    );
}

#[test]
fn phonon_csv_fixture_rows() {
    let exp = &expected()["phonon_csv"];
    let rows =
        read_phonondos_csv(&fixture_text("phonondos_mp_first40.csv.gz"), "first40.csv").unwrap();
    let want = exp["first40"].as_array().unwrap();
    assert_eq!(rows.len(), 40);
    for ((mp, dos), e) in rows.iter().zip(want) {
        check_csv_row(mp, dos, e);
    }
    let input = model_input(&rows[0].1, &DosInputOptions::default()).unwrap();
    assert_eq!(input.resampling, Resampling::Uniform { from: 51 });
    compare_f32(
        "csv row 0",
        "energies",
        &input.energies,
        &f64s(&exp["first_input_energies"]),
        false,
    );
    compare_f32(
        "csv row 0",
        "densities",
        &input.densities,
        &f64s(&exp["first_input_dos"]),
        false,
    );
    // A table is refused by the single-DOS reader, with a pointer to the right one.
    let err = read_dos(&fixtures().join("phonondos_mp_first40.csv.gz")).unwrap_err();
    assert!(
        matches!(&err.kind, ErrorKind::Unsupported(m) if m.contains("read_phonondos_csv")),
        "{err}"
    );
}

#[test]
fn phonon_csv_full_table() {
    let path = Path::new(SHARED).join("phonondos_mp_1521.csv.gz");
    if !path.exists() {
        println!(
            "note: {} absent, skipping the full-table check",
            path.display()
        );
        return;
    }
    let exp = &expected()["phonon_csv"];
    let t0 = std::time::Instant::now();
    let rows = read_phonondos_csv_file(&path).unwrap();
    println!(
        "phonondos_mp_1521.csv.gz: {} rows in {:.1} ms",
        rows.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(rows.len(), exp["rows_total"].as_u64().unwrap() as usize);
    let total: f64 = rows
        .iter()
        .map(|(_, d)| d.densities[0].iter().sum::<f64>())
        .sum();
    assert!(close(
        total,
        exp["sum_of_sums_all"].as_f64().unwrap(),
        1e-12
    ));
    let (mp, dos) = rows.last().unwrap();
    check_csv_row(mp, dos, &exp["last"]);
    for (mp, dos) in &rows {
        assert_eq!(
            model_input(dos, &DosInputOptions::default())
                .unwrap()
                .energies
                .len(),
            601,
            "{mp}"
        );
    }
}

#[test]
fn nan_repair_vectors() {
    let exp = expected();
    for case in exp["nan_repair"].as_array().unwrap() {
        let mut x: Vec<f64> = case["input"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
        assert!(repair_nans(&mut x));
        assert_eq!(x, f64s(&case["output"]), "case {}", case["input"]);
    }
    // Hand-checked against the reference loop: the first NaN copies its left neighbour, the
    // next one averages the repaired value with the right neighbour.
    let mut x = vec![1.0, f64::NAN, f64::NAN, 4.0];
    repair_nans(&mut x);
    assert_eq!(x, vec![1.0, 1.0, 2.5, 4.0]);
    let mut all = vec![f64::NAN; 3];
    assert!(!repair_nans(&mut all));
    assert!(all.iter().all(|v| v.is_nan()));
}

fn synthetic(n: usize, spin: bool) -> Dos {
    let energies: Vec<f64> = (0..n).map(|i| -10.0 + 0.05 * i as f64).collect();
    let up: Vec<f64> = (0..n)
        .map(|i| (i as f64 * 0.37).sin().abs() * 3.0)
        .collect();
    let mut densities = vec![up];
    if spin {
        densities.push((0..n).map(|i| (i % 7) as f64).collect());
    }
    Dos {
        kind: SpectrumKind::Electronic,
        energies,
        densities,
        efermi: Some(0.3),
        source_name: "synthetic".into(),
    }
}

#[test]
fn resampling_branches_synthetic() {
    let opts = DosInputOptions::default();
    // 601: unchanged, shifted by E_F.
    let d = synthetic(601, false);
    let m = model_input(&d, &opts).unwrap();
    assert_eq!(m.resampling, Resampling::Unchanged);
    for i in 0..601 {
        assert_eq!(m.energies[i], (d.energies[i] - 0.3) as f32);
        assert_eq!(m.densities[i], d.densities[0][i] as f32);
    }
    // 2001: kept position p comes from list position p + p/9 of x[::3], i.e. source 3(p + p/9).
    let d = synthetic(2001, true);
    let m = model_input(&d, &opts).unwrap();
    assert_eq!(m.resampling, Resampling::Skip2001);
    for p in 0..601 {
        let src = 3 * (p + p / 9);
        assert_eq!(m.energies[p], (d.energies[src] - 0.3) as f32, "p={p}");
        assert_eq!(m.densities[p], d.densities[0][src] as f32, "p={p}");
    }
    assert_eq!(m.energies[600], (d.energies[1998] - 0.3) as f32);
    // Spin sum option adds the channels before resampling.
    let s = model_input(
        &d,
        &DosInputOptions {
            spin: SpinChannel::Sum,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.densities[10],
        (d.densities[0][33] + d.densities[1][33]) as f32
    );
    // 301: points and midpoints.
    let d = synthetic(301, false);
    let m = model_input(&d, &opts).unwrap();
    assert_eq!(m.resampling, Resampling::Midpoints301);
    for j in 0..300 {
        assert_eq!(m.densities[2 * j], d.densities[0][j] as f32);
        let mid = d.densities[0][j] + 0.5 * (d.densities[0][j + 1] - d.densities[0][j]);
        assert_eq!(m.densities[2 * j + 1], mid as f32);
    }
    assert_eq!(m.densities[600], d.densities[0][300] as f32);
    // Other length: uniform over the curve's own range; a linear DOS stays linear.
    let mut d = synthetic(1000, false);
    d.densities[0] = d.energies.iter().map(|e| 2.0 * e + 1.0).collect();
    let m = model_input(&d, &opts).unwrap();
    assert_eq!(m.resampling, Resampling::Uniform { from: 1000 });
    let (lo, hi) = (d.energies[0] - 0.3, d.energies[999] - 0.3);
    for i in 0..601 {
        let e = lo + (hi - lo) * i as f64 / 600.0;
        assert!((m.energies[i] as f64 - e).abs() < 1e-5);
        assert!(
            (m.densities[i] as f64 - (2.0 * (e + 0.3) + 1.0)).abs() < 1e-4,
            "i={i}"
        );
    }
    // Options: no shift, and an E_F override (the reference uses the MP summary's E_F).
    let d = synthetic(601, false);
    let m = model_input(
        &d,
        &DosInputOptions {
            no_shift: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.energies[0], -10.0);
    let m = model_input(
        &d,
        &DosInputOptions {
            efermi: Some(-1.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(m.energies[0], -9.0);
    assert_eq!(m.to_rows().len(), 1202);
    assert_eq!(
        m.points_in_window(-5.0, 5.0),
        (0..601)
            .filter(|&i| (-9.0 + 0.05 * i as f64).abs() <= 5.0 + 1e-9)
            .count()
    );
}

#[test]
fn nan_repair_inside_model_input() {
    let mut d = synthetic(601, false);
    d.densities[0][10] = f64::NAN;
    d.densities[0][0] = f64::NAN;
    d.energies[600] = f64::NAN;
    let m = model_input(&d, &DosInputOptions::default()).unwrap();
    assert_eq!(
        m.densities[10],
        ((d.densities[0][9] + d.densities[0][11]) / 2.0) as f32
    );
    assert_eq!(m.densities[0], d.densities[0][1] as f32);
    assert_eq!(m.energies[600], (d.energies[599] - 0.3) as f32);
}

#[test]
fn model_input_errors() {
    let opts = DosInputOptions::default();
    let mut d = synthetic(601, false);
    d.densities[0] = vec![f64::NAN; 601];
    let e = model_input(&d, &opts).unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::InvalidNumber { found, .. } if found.contains("NaN")),
        "{e}"
    );
    assert_eq!(e.source_name, "synthetic");

    let d = Dos {
        energies: vec![1.0],
        densities: vec![vec![1.0]],
        ..synthetic(1, false)
    };
    assert!(matches!(
        model_input(&d, &opts).unwrap_err().kind,
        ErrorKind::Truncated(_)
    ));

    let mut d = synthetic(601, false);
    d.densities[0].pop();
    let e = model_input(&d, &opts).unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("601 energies but 600")),
        "{e}"
    );

    let mut d = synthetic(601, true);
    d.densities[1].truncate(300);
    let e = model_input(&d, &opts).unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("spin blocks")),
        "{e}"
    );

    let mut d = synthetic(601, false);
    d.efermi = None;
    let e = model_input(&d, &opts).unwrap_err();
    assert_eq!(e.location, Location::Key("efermi".into()));
    assert!(model_input(
        &d,
        &DosInputOptions {
            no_shift: true,
            ..Default::default()
        }
    )
    .is_ok());
}

/// Edits a fixture's JSON and reads it back.
fn edited_json(name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&fixture_text(name)).unwrap();
    edit(&mut v);
    v.to_string()
}

#[test]
fn corrupted_json_copies() {
    let text = fixture_text("crystaltoolkit_Si_dos.json.gz");
    let e = parse_dos(&text[..text.len() / 2], "Si_cut.json").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
    assert!(matches!(e.location, Location::Line(_)));

    let t = edited_json("crystaltoolkit_Si_dos.json.gz", |v| {
        v["densities"]["1"].as_array_mut().unwrap().pop();
    });
    let e = read_dos_json(&t, "Si_short.json").unwrap_err();
    assert_eq!(e.location, Location::Key("densities.1".into()));
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("601 energies but 600 densities")),
        "{e}"
    );

    let t = edited_json("pymatgen_complete_dos_LiFePO4.json.gz", |v| {
        v["densities"]["-1"].as_array_mut().unwrap().truncate(150);
    });
    let e = read_dos_json(&t, "LiFePO4_spin.json").unwrap_err();
    assert_eq!(e.location, Location::Key("densities.-1".into()));
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("spin blocks")),
        "{e}"
    );

    // Python's json writes NaN as a bare token; an all-NaN curve reads, then fails the model input.
    let t = edited_json("crystaltoolkit_Si_dos.json.gz", |v| {
        v["densities"]["1"] = Value::Array(vec![Value::Null; 601]);
    })
    .replace("null", "NaN");
    let d = read_dos_json(&t, "Si_nan.json").unwrap();
    let e = model_input(&d, &DosInputOptions::default()).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::InvalidNumber { .. }), "{e}");

    let t = edited_json("crystaltoolkit_Si_dos.json.gz", |v| {
        v["energies"][3] = Value::String("x".into());
    });
    let e = read_dos_json(&t, "Si_bad.json").unwrap_err();
    assert_eq!(e.location, Location::Key("energies[3]".into()));

    let t = edited_json("crystaltoolkit_BaTiO3_ph_dos.json.gz", |v| {
        v["densities"].as_array_mut().unwrap().truncate(1);
        v["frequencies"].as_array_mut().unwrap().truncate(1);
    });
    let e = read_dos_json(&t, "BaTiO3_one.json").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");

    // The MP API row shape of the same data reads the same DOS.
    let si = read_dos(&fixtures().join("crystaltoolkit_Si_dos.json.gz")).unwrap();
    let row = serde_json::json!({"energies": si.energies, "spin_up_densities": si.densities[0],
                                 "spin_down_densities": null, "efermi": si.efermi});
    let d = read_dos_json(&row.to_string(), "row.json").unwrap();
    assert_eq!(
        (d.energies.clone(), d.densities.clone(), d.efermi),
        (si.energies, si.densities, si.efermi)
    );
}

#[test]
fn corrupted_vasprun_and_doscar_copies() {
    let e = read_dos(&fixtures().join("vasprun_LiF_nodos.xml.gz")).unwrap_err();
    assert_eq!(e.location, Location::Tag("dos".into()));
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("no total density of states")),
        "{e}"
    );

    let text = fixture_text("vasprun.LiF.xml.gz");
    let cut = &text[..text.find("<partial>").unwrap()];
    let e = read_vasprun_dos(cut, "LiF_cut.xml").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
    let cut = &text[..text.find("<dos>").unwrap()];
    let e = read_vasprun_dos(cut, "LiF_cut2.xml").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");

    // Drop one row from the spin-2 block of the total DOS.
    let total = text.find("<total>").unwrap();
    let spin2 = total + text[total..].find("comment=\"spin 2\"").unwrap();
    let row = spin2 + text[spin2..].find("<r>").unwrap();
    let row_end = row + text[row..].find("</r>").unwrap() + 4;
    let broken = format!("{}{}", &text[..row], &text[row_end..]);
    let e = read_vasprun_dos(&broken, "LiF_rows.xml").unwrap_err();
    assert!(
        matches!(&e.kind, ErrorKind::Syntax(m) if m.contains("spin blocks")),
        "{e}"
    );

    let doscar = fixture_text("DOSCAR_Al_spin");
    let lines: Vec<&str> = doscar.lines().collect();
    let short = lines[..lines.len() - 3].join("\n");
    let e = read_doscar(&short, "DOSCAR_short").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Truncated(_)), "{e}");
    assert_eq!(e.location, Location::Line(lines.len() - 2));
    let mut bad = lines.clone();
    let swapped = bad[20].replacen("E", "Q", 1);
    bad[20] = &swapped;
    let e = read_doscar(&bad.join("\n"), "DOSCAR_bad").unwrap_err();
    assert_eq!(e.location, Location::Line(21));
    assert!(matches!(e.kind, ErrorKind::InvalidNumber { .. }), "{e}");
}

#[test]
fn npy_round_trip() {
    let d = read_dos(&fixtures().join("crystaltoolkit_Si_dos.json.gz")).unwrap();
    let m = model_input(&d, &DosInputOptions::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("multimat-dos-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("Si.npy");
    write_npy_f32(&path, &[2, 601], &m.to_rows()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains("'shape': (2, 601)"), "{header}");
    let data: Vec<f32> = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(data, m.to_rows());
    assert!(write_npy_f32(&path, &[2, 600], &m.to_rows()).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
