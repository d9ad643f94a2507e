//! `[[text_vectors]]` recipe entries: precomputed frozen text vectors become the store's `text`
//! modality (f16) for the materials that have a description, with the encoder record copied.

use std::path::{Path, PathBuf};

use multimat_dataset::{npy, Dtype, Store};
use multimat_import::{import, ImportError, ImportEvent, ImportOptions, Recipe};
use serde_json::json;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("multimat-import-tv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn quiet(_: ImportEvent) {}

fn rocksalt(a: f64, x: &str, y: &str) -> serde_json::Value {
    json!({
        "lattice": {"matrix": [[0.0, a / 2.0, a / 2.0], [a / 2.0, 0.0, a / 2.0], [a / 2.0, a / 2.0, 0.0]]},
        "sites": [
            {"species": [{"element": x, "occu": 1}], "abc": [0.0, 0.0, 0.0]},
            {"species": [{"element": y, "occu": 1}], "abc": [0.5, 0.5, 0.5]}
        ]
    })
}

fn vec_of(k: usize) -> Vec<f32> {
    (0..4).map(|j| k as f32 + j as f32 * 0.5).collect()
}

/// A recipe folder: four materials (mp-1..mp-4), descriptions for mp-1, mp-2, mp-3; vectors
/// for mp-1, mp-2, mp-4 (and an id the recipe never mentions).
fn write_inputs(dir: &Path, fingerprint: &str, dim_in_record: usize) -> PathBuf {
    let rows: Vec<serde_json::Value> = (1..=4)
        .map(|k| {
            let mut r = json!({"material_id": format!("mp-{k}"), "structure": rocksalt(5.0 + k as f64 * 0.1, "Na", "Cl")});
            if k <= 3 {
                r["description"] = format!("NaCl variant {k} is rock salt structured.").into();
            }
            r
        })
        .collect();
    std::fs::write(dir.join("table.json"), serde_json::to_vec(&rows).unwrap()).unwrap();
    let ids = ["mp-1", "mp-2", "mp-4", "mp-99"];
    let mut data = npy::header(Dtype::F16, ids.len(), &[4]);
    for k in [1, 2, 4, 99] {
        Dtype::F16.encode(&vec_of(k), &mut data).unwrap();
    }
    std::fs::write(dir.join("v.f16.npy"), data).unwrap();
    std::fs::write(dir.join("v.ids.json"), serde_json::to_vec(&ids).unwrap()).unwrap();
    let record = json!({"model": "test-encoder", "fingerprint": fingerprint, "pooling": "cls", "dim": dim_in_record});
    std::fs::write(dir.join("v.encoder.json"), record.to_string()).unwrap();
    let recipe = dir.join("recipe.toml");
    std::fs::write(
        &recipe,
        "[[table]]\npath = \"table.json\"\nsource = \"mp\"\nid = \"material_id\"\nstructure = \"structure\"\ndescription = \"description\"\n\n[[text_vectors]]\npath = \"v.f16.npy\"\nids = \"v.ids.json\"\nencoder = \"v.encoder.json\"\n",
    )
    .unwrap();
    recipe
}

#[test]
fn text_vectors_become_the_text_modality() {
    let dir = tempdir("ok");
    let recipe = Recipe::from_path(&write_inputs(&dir, "fp-a", 4)).unwrap();
    let out = dir.join("store");
    let s = import(&out, &[], Some(&recipe), &ImportOptions::default(), &quiet).unwrap();
    assert_eq!(s.materials_added, 4);
    assert_eq!(s.text_without_vector, 1); // mp-3
    assert_eq!(s.modalities["text"].real, 3); // described materials
    let store = Store::open(&out).unwrap();
    let text = store.modality("text").unwrap();
    assert_eq!(
        (text.shape(), text.dtype(), text.len()),
        (&[4usize][..], Dtype::F16, 2)
    );
    for (id, want) in [
        ("mp-1", Some(1)),
        ("mp-2", Some(2)),
        ("mp-3", None),
        ("mp-4", None),
    ] {
        let i = store.index_of(id).unwrap();
        let row = store
            .row_of("text", i)
            .unwrap()
            .map(|r| text.row(r).unwrap());
        assert_eq!(row, want.map(vec_of), "{id}");
    }
    let record = std::fs::read_to_string(out.join("modalities/text/encoder.json")).unwrap();
    assert!(record.contains("fp-a"));

    // Appending vectors of another checkpoint to this store is refused.
    let dir2 = tempdir("other");
    let recipe2 = write_inputs(&dir2, "fp-b", 4);
    let mut rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir2.join("table.json")).unwrap()).unwrap();
    rows[0]["material_id"] = "mp-1000".into();
    std::fs::write(dir2.join("table.json"), serde_json::to_vec(&rows).unwrap()).unwrap();
    let ids = ["mp-1000", "mp-2", "mp-4", "mp-99"];
    std::fs::write(dir2.join("v.ids.json"), serde_json::to_vec(&ids).unwrap()).unwrap();
    let recipe2 = Recipe::from_path(&recipe2).unwrap();
    let e = import(&out, &[], Some(&recipe2), &ImportOptions::default(), &quiet).unwrap_err();
    assert!(
        e.to_string()
            .contains("come from checkpoint fp-a, the recipe's from fp-b"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

#[test]
fn inconsistent_text_vector_files_are_refused() {
    let dir = tempdir("bad");
    let recipe_path = write_inputs(&dir, "fp", 8);
    let recipe = Recipe::from_path(&recipe_path).unwrap();
    let e = import(
        &dir.join("s1"),
        &[],
        Some(&recipe),
        &ImportOptions::default(),
        &quiet,
    )
    .unwrap_err();
    assert!(matches!(e, ImportError::Recipe { .. }), "{e}");
    assert!(e.to_string().contains("v.encoder.json: dim 8, but"), "{e}");

    write_inputs(&dir, "fp", 4);
    std::fs::write(dir.join("v.ids.json"), "[\"mp-1\"]").unwrap();
    let e = import(
        &dir.join("s2"),
        &[],
        Some(&recipe),
        &ImportOptions::default(),
        &quiet,
    )
    .unwrap_err();
    assert!(e.to_string().contains("v.ids.json: 1 ids, but"), "{e}");

    let text = std::fs::read_to_string(&recipe_path).unwrap();
    let twice = format!(
        "{text}\n[[text_vectors]]\npath = \"a.npy\"\nids = \"a.json\"\nencoder = \"e.json\"\n"
    );
    let e = Recipe::parse(&twice, &dir, "r.toml").unwrap_err();
    assert!(e.to_string().contains("2 [[text_vectors]] entries"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
