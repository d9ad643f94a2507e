//! End-to-end imports of every source kind from the fixtures in fixtures/import (built by
//! tools/fixtures/import_make_fixtures.py from real MP data).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use multimat_dataset::{info, read_import_report, Store};
use multimat_import::{
    compare_ids, import, read_label_csv, ImportError, ImportEvent, ImportOptions, Recipe,
};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/import")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("multimat-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn all_sources() -> Vec<PathBuf> {
    ["files", "run", "chgcar", "mp", "text"]
        .iter()
        .map(|d| fixtures().join(d))
        .collect()
}

fn options() -> ImportOptions {
    ImportOptions {
        label_files: vec![
            fixtures().join("labels/by_id.csv"),
            fixtures().join("labels/by_file.csv"),
        ],
        commit_every: 4,
        ..ImportOptions::default()
    }
}

fn quiet(_: ImportEvent) {}

fn label(store: &Store, name: &str, id: &str) -> Option<f64> {
    let i = store.index_of(id)?;
    store.label(name).ok()?[i]
}

fn row(store: &Store, modality: &str, id: &str) -> Option<Vec<f32>> {
    let i = store.index_of(id)?;
    let r = store.row_of(modality, i).ok()??;
    Some(store.modality(modality)?.row(r).unwrap())
}

#[test]
fn every_source_kind_is_imported() {
    let out = tempdir("kinds");
    let s = import(&out, &all_sources(), None, &options(), &quiet).unwrap();
    let store = Store::open(&out).unwrap();
    let exp = expected();

    let mut want: Vec<String> = [
        "mp-1181398",
        "NaCl",
        "mp-1039148",
        "mp-7000",
        "Al",
        "Li",
        "mp-149",
        "mp-11456",
        "mp-915",
        "mp-866222",
    ]
    .map(String::from)
    .to_vec();
    want.sort_by(|a, b| compare_ids(a, b));
    assert_eq!(
        store.ids(),
        want.as_slice(),
        "ids in mp-number order, others after"
    );
    assert_eq!(s.materials_added, want.len());
    assert_eq!(s.store_materials, want.len());

    // The corrupt CIF in the middle of the folder is reported, everything else imported.
    let report = read_import_report(&out).unwrap();
    let bad: Vec<_> = report
        .iter()
        .filter(|p| p.file.ends_with("mp-5000.cif"))
        .collect();
    assert_eq!(bad.len(), 1, "{report:#?}");
    assert!(
        bad[0].reason.contains("mp-5000.cif"),
        "reason names the file: {}",
        bad[0].reason
    );
    assert_eq!(s.problems, 1, "{report:#?}");
    // The second density of Li (the JSON document) is noted, the CHGCAR kept.
    assert!(report.iter().any(
        |p| p.file.ends_with("Li_chgcar.json.gz") && p.reason.contains("second charge density")
    ));

    // Sources.
    let src = |id: &str| store.sources()[store.index_of(id).unwrap()].clone();
    assert_eq!(src("NaCl"), "file");
    assert_eq!(src("Al"), "vasp");
    assert_eq!(src("mp-915"), "mp");

    // MP summary + elasticity + robocrys documents.
    for id in exp["ids"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        let e = &exp["materials"][id];
        let i = store.index_of(id).unwrap();
        for l in [
            "formation_energy",
            "band_gap",
            "bulk_modulus",
            "shear_modulus",
        ] {
            assert_eq!(label(&store, l, id), e[l].as_f64(), "{id} {l}");
        }
        assert_eq!(store.is_metal()[i], e["is_metal"].as_bool());
        let t: Vec<f32> = e["elastic_tensor"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(store.elastic_tensors()[i].unwrap().to_vec(), t, "{id}");
        assert_eq!(
            store.descriptions()[i].as_deref(),
            e["description"].as_str()
        );
        assert_eq!(store.formulas()[i], e["formula"].as_str().unwrap());
        assert_eq!(
            store.spacegroups()[i],
            e["spacegroup"].as_i64().map(|x| x as i32),
            "{id}"
        );
        assert!(store.crystal_systems()[i].is_some());
    }

    // DOS row from an MP DOS document, shifted by the summary efermi (5.5 eV), 601 points kept.
    let si = &exp["si_dos"];
    let dos = row(&store, "dos", "mp-149").unwrap();
    let want_e: Vec<f32> = si["energies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let want_d: Vec<f32> = si["densities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(&dos[..601], want_e.as_slice());
    assert_eq!(&dos[601..], want_d.as_slice());
    assert_eq!(label(&store, "efermi", "mp-149"), Some(5.5));

    // VASP run folder: structure + DOS (DOSCAR); INCAR ignored.
    assert!(row(&store, "dos", "Al").is_some());
    assert_eq!(store.formulas()[store.index_of("Al").unwrap()], "Al");

    // CHGCAR given directly: stored row-major [ix][iy][iz], f32, not derived.
    let li = &exp["li_density"];
    let d = row(&store, "density", "Li").unwrap();
    assert_eq!(d.len(), 32 * 32 * 32);
    for (k, v) in li["indices"]
        .as_array()
        .unwrap()
        .iter()
        .zip(li["values"].as_array().unwrap())
    {
        let (k, v) = (k.as_u64().unwrap() as usize, v.as_f64().unwrap());
        assert!(
            (d[k] as f64 - v).abs() <= 1e-3 * v.abs().max(1.0),
            "index {k}: {} vs {v}",
            d[k]
        );
    }
    let mean = d.iter().map(|&x| x as f64).sum::<f64>() / d.len() as f64;
    assert!(
        (mean - li["mean"].as_f64().unwrap()).abs() < 1e-3,
        "mean {mean}"
    );
    assert!(!store.derived("density").unwrap()[store.index_of("Li").unwrap()]);
    assert!(
        row(&store, "density", "NaCl").is_none(),
        "no derived densities unless asked"
    );

    // Label CSVs keyed by id and by file stem; the LLM-Prop CSV's multi-line description.
    assert_eq!(label(&store, "hardness", "mp-1181398"), Some(7.5));
    assert_eq!(label(&store, "hardness", "NaCl"), Some(2.5));
    assert_eq!(label(&store, "band_gap", "mp-1039148"), Some(0.0));
    let camg = &store.descriptions()[store.index_of("mp-1039148").unwrap()];
    assert_eq!(
        camg.as_deref(),
        Some("CaMg is Cesium Chloride structured.\nIt is cubic.")
    );

    // Store statistics count descriptions as the text modality.
    let inf = info(&store).unwrap();
    assert_eq!(inf.modalities["text"].total, 4);
    assert_eq!(inf.modalities["dos"].total, 2);
    assert_eq!(inf.modalities["density"].real, 1);
    assert_eq!(s.modalities["text"].real, 4);
    let combos: Vec<(&str, usize)> = inf
        .combinations
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        combos,
        [
            ("structure", 3),
            ("structure+density", 1),
            ("structure+dos", 2),
            ("structure+text", 4)
        ]
    );
}

#[test]
fn strict_mode_stops_at_the_corrupt_file() {
    let out = tempdir("strict");
    let opts = ImportOptions {
        strict: true,
        ..options()
    };
    match import(&out, &[fixtures().join("files")], None, &opts, &quiet) {
        Err(ImportError::Problem(p)) => assert!(p.file.ends_with("mp-5000.cif"), "{p:?}"),
        other => panic!("expected the corrupt file as the error, got {other:?}"),
    }
}

/// Everything the store says about each material, by id.
fn content(dir: &Path) -> BTreeMap<String, String> {
    let store = Store::open(dir).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..store.len() {
        let m = store.material(i).unwrap();
        let mut rows = Vec::new();
        for (name, (r, derived)) in &m.modalities {
            rows.push(format!(
                "{name}:{derived}:{:?}",
                store.modality(name).unwrap().row(*r).unwrap()
            ));
        }
        let key = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
            m.labels,
            m.is_metal,
            m.elastic_tensor,
            m.description,
            m.spacegroup,
            m.crystal_system,
            m.source,
            m.structure,
            rows.join(";")
        );
        out.insert(m.id, key);
    }
    out
}

#[test]
fn an_interrupted_import_resumes_to_the_same_content() {
    let full = tempdir("resume-full");
    import(&full, &all_sources(), None, &options(), &quiet).unwrap();

    // A subset of the inputs (complete for the materials it names: resuming never revisits
    // a material already in the store), then a full run killed after its first commit, then
    // the full run again.
    let out = tempdir("resume");
    let subset = [fixtures().join("files"), fixtures().join("text")];
    let s = import(&out, &subset, None, &options(), &quiet).unwrap();
    assert_eq!(s.materials_added, 4);
    let commits = Cell::new(0);
    let kill = |e: ImportEvent| {
        if let ImportEvent::Committed { .. } = e {
            commits.set(commits.get() + 1);
            if commits.get() == 1 {
                panic!("killed");
            }
        }
    };
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        import(
            &out,
            &all_sources(),
            None,
            &ImportOptions {
                commit_every: 2,
                ..options()
            },
            &kill,
        )
    }));
    assert!(killed.is_err());
    let after_kill = Store::open(&out).unwrap().len();
    assert_eq!(after_kill, 6, "4 from the subset + one commit of 2");
    let s = import(&out, &all_sources(), None, &options(), &quiet).unwrap();
    assert_eq!(s.skipped_existing, 6);
    assert_eq!(s.store_materials, 10);

    let (a, b) = (content(&full), content(&out));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (id, v) in &a {
        assert_eq!(v, &b[id], "{id} differs");
    }
}

#[test]
fn recipe_maps_tables_labels_and_derives_densities() {
    let recipe = Recipe::from_path(&fixtures().join("recipe/recipe.toml")).unwrap();
    assert!(recipe.options.derive_density);
    let out = tempdir("recipe");
    let s = import(&out, &[], Some(&recipe), &ImportOptions::default(), &quiet).unwrap();
    let store = Store::open(&out).unwrap();
    let exp = &expected()["recipe"];
    let table: Vec<&str> = exp["table_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    let phonon: Vec<&str> = exp["phonon_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(store.len(), 6);
    assert_eq!(s.materials_added, 6);
    for id in table.iter().chain(&phonon) {
        let i = store.index_of(id).unwrap();
        assert_eq!(store.sources()[i], "mp");
        assert!(
            store.derived("density").unwrap()[i],
            "{id}: promolecular density is derived"
        );
        let d = row(&store, "density", id).unwrap();
        let mean = d.iter().map(|&x| x as f64).sum::<f64>() / d.len() as f64;
        assert!(mean > 0.5, "{id}: a density holds electrons (mean {mean})");
    }
    // Labels from the JARVIS-style file, with is_metal = (gap == 0).
    let labels = &exp["labels"];
    for split in ["train", "val"] {
        for (id, v) in labels[split].as_object().unwrap() {
            let v: f64 = v.as_str().unwrap().parse().unwrap();
            assert_eq!(label(&store, "band_gap", id), Some(v), "{id}");
            assert_eq!(
                store.is_metal()[store.index_of(id).unwrap()],
                Some(v == 0.0)
            );
        }
    }
    // The id with a label and no structure is summed up in one note.
    let report = read_import_report(&out).unwrap();
    assert!(
        report
            .iter()
            .any(|p| p.file.ends_with("gap.json") && p.reason.contains("mp-999999999")),
        "{report:#?}"
    );
    assert_eq!(s.problems, 0, "{report:#?}");
    // Column-oriented table: dotted literal keys, elastic tensor, Voigt moduli.
    let first = table[0];
    let i = store.index_of(first).unwrap();
    let t: Vec<f32> = exp["first_elastic"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(store.elastic_tensors()[i].unwrap().to_vec(), t);
    assert_eq!(
        label(&store, "bulk_modulus_voigt", first),
        exp["first_k_voigt"].as_f64()
    );
    // Phonon DOS CSV: 51 points in cm⁻¹ resampled to 601 on the same range.
    let ph = &exp["first_phonon"];
    let r = row(&store, "phonon_dos", ph["id"].as_str().unwrap()).unwrap();
    assert_eq!(r.len(), 1202);
    assert_eq!(r[0] as f64, ph["first"].as_f64().unwrap());
    assert_eq!(r[600] as f64, ph["last"].as_f64().unwrap());
    let max = r[601..].iter().cloned().fold(f32::MIN, f32::max);
    assert!((max as f64 - ph["dos_max"].as_f64().unwrap()).abs() < 1e-6);
    assert!(row(&store, "phonon_dos", first).is_none());
    let inf = info(&store).unwrap();
    assert_eq!(inf.modalities["density"].derived, 6);
    assert_eq!(inf.modalities["phonon_dos"].total, 3);
}

#[test]
fn label_csv_by_id_and_by_file_stem() {
    let by_id = read_label_csv(&fixtures().join("labels/by_id.csv")).unwrap();
    assert_eq!(by_id["mp-1181398"].labels["hardness"], 7.5);
    assert!(
        !by_id["mp-1181398"].labels.contains_key("band_gap"),
        "empty cell = missing"
    );
    assert_eq!(by_id["mp-1039148"].labels["band_gap"], 0.0);
    let by_file = read_label_csv(&fixtures().join("labels/by_file.csv")).unwrap();
    assert_eq!(by_file.keys().collect::<Vec<_>>(), ["NaCl"]);
    assert!(read_label_csv(&fixtures().join("labels/missing.csv")).is_err());
}

#[test]
fn ids_sort_by_mp_number_then_string() {
    let mut ids = vec![
        "mp-100",
        "dielectric-2",
        "mp-9",
        "mp-10",
        "NaCl",
        "dielectric-10",
        "mvc-1",
    ];
    ids.sort_by(|a, b| compare_ids(a, b));
    assert_eq!(
        ids,
        [
            "mp-9",
            "mp-10",
            "mp-100",
            "NaCl",
            "dielectric-10",
            "dielectric-2",
            "mvc-1"
        ]
    );
}
