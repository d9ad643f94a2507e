//! Attaching and replacing a modality of an existing store with `ModalityStaging`: resume
//! after a kill, replacement with another shape, table columns of other modalities kept.

use std::path::{Path, PathBuf};

use multimat_crystal::{Lattice, Site, Structure};
use multimat_dataset::*;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("multimat-attach-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

fn nacl(a: f64) -> Structure {
    let l = Lattice::new([
        [0.0, a / 2.0, a / 2.0],
        [a / 2.0, 0.0, a / 2.0],
        [a / 2.0, a / 2.0, 0.0],
    ])
    .unwrap();
    Structure::new(
        l,
        vec![Site::ordered(11, [0.0; 3]), Site::ordered(17, [0.5; 3])],
    )
}

/// Six materials; odd ones have a description; materials 0, 3, 4 have a 3-value `dos` row.
fn make_store(dir: &Path) {
    let mut w = StoreWriter::create(dir).unwrap();
    w.register_modality("dos", vec![3], Dtype::F32).unwrap();
    for i in 0..6 {
        let mut r = MaterialRecord::new(format!("mp-{}", 10 - i), "mp", nacl(5.0 + i as f64 * 0.1));
        if i % 2 == 1 {
            r.description = Some(format!("material {i} is rock salt"));
        }
        if [0, 3, 4].contains(&i) {
            r.modalities.push(("dos".into(), vec![i as f32; 3], false));
        }
        w.add_material(r).unwrap();
    }
    w.commit().unwrap();
}

fn vector(id: &str, dim: usize, scale: f32) -> Vec<f32> {
    let n: f32 = id.trim_start_matches("mp-").parse().unwrap();
    (0..dim).map(|k| scale * (n + k as f32 * 0.25)).collect()
}

#[test]
fn attach_resume_and_replace() {
    let tmp = tempdir("resume");
    let dir = &tmp.0;
    make_store(dir);
    let described = ["mp-9", "mp-7", "mp-5"];

    // First run: stages one chunk, then is "killed" (dropped without commit).
    let mut s = ModalityStaging::open(dir, "text", vec![4], Dtype::F16, "model-a cls").unwrap();
    assert_eq!(s.staged(), 0);
    s.write_chunk(&["mp-7".to_string()], &vector("mp-7", 4, 1.0))
        .unwrap();
    drop(s);
    // An interrupted chunk (rows written, ids file never renamed in) is discarded on reopen.
    let orphan = dir.join("staging/text/chunk-00001.npy");
    std::fs::write(&orphan, b"partial").unwrap();
    // Not committed: readers see no text modality.
    assert!(Store::open(dir).unwrap().modality("text").is_none());

    // Second run with the same key resumes.
    let mut s = ModalityStaging::open(dir, "text", vec![4], Dtype::F16, "model-a cls").unwrap();
    assert!(!orphan.exists());
    assert_eq!(s.staged(), 1);
    assert!(s.is_done("mp-7") && !s.is_done("mp-9"));
    let rest: Vec<String> = described
        .iter()
        .filter(|id| !s.is_done(id))
        .map(|s| s.to_string())
        .collect();
    let values: Vec<f32> = rest.iter().flat_map(|id| vector(id, 4, 1.0)).collect();
    s.write_chunk(&rest, &values).unwrap();
    // Staging a row twice is refused.
    let again = s.write_chunk(&["mp-9".to_string()], &vector("mp-9", 4, 1.0));
    assert!(matches!(again.unwrap_err().kind, ErrorKind::DuplicateId(_)));
    let sum = s
        .commit(&[("encoder.json", b"{\"model\": \"a\"}".to_vec())])
        .unwrap();
    assert_eq!(
        sum,
        AttachSummary {
            rows: 3,
            replaced: false
        }
    );
    assert!(!dir.join("staging").exists());
    assert!(dir.join("modalities/text/encoder.json").exists());

    let store = Store::open(dir).unwrap();
    let text = store.modality("text").unwrap();
    assert_eq!(
        (text.shape(), text.dtype(), text.len()),
        (&[4usize][..], Dtype::F16, 3)
    );
    let rows = store.modality_rows("text").unwrap();
    for (i, id) in store.ids().iter().enumerate() {
        match rows[i] {
            Some(r) => {
                assert!(described.contains(&id.as_str()), "{id}");
                assert_eq!(text.row(r).unwrap(), vector(id, 4, 1.0), "{id}");
            }
            None => assert!(!described.contains(&id.as_str()), "{id}"),
        }
    }
    // Rows follow table order.
    let present: Vec<usize> = rows.iter().flatten().copied().collect();
    assert_eq!(present, vec![0, 1, 2]);
    // The other modality is untouched.
    let dos = store.modality("dos").unwrap();
    let dos_rows = store.modality_rows("dos").unwrap();
    assert_eq!(dos_rows.iter().flatten().count(), 3);
    for (i, r) in dos_rows.iter().enumerate() {
        if let Some(r) = r {
            assert_eq!(dos.row(*r).unwrap(), vec![i as f32; 3]);
        }
    }
    drop(store);

    // A staging area of another checkpoint is not resumed.
    let s = ModalityStaging::open(dir, "text", vec![6], Dtype::F16, "model-b mean").unwrap();
    assert_eq!(s.staged(), 0);
    drop(s);
    // Replace with 6-d vectors of only two materials.
    let mut s = ModalityStaging::open(dir, "text", vec![6], Dtype::F16, "model-b mean").unwrap();
    let ids = vec!["mp-5".to_string(), "mp-9".to_string()];
    let values: Vec<f32> = ids.iter().flat_map(|id| vector(id, 6, -0.5)).collect();
    s.write_chunk(&ids, &values).unwrap();
    let sum = s
        .commit(&[("encoder.json", b"{\"model\": \"b\"}".to_vec())])
        .unwrap();
    assert_eq!(
        sum,
        AttachSummary {
            rows: 2,
            replaced: true
        }
    );
    let store = Store::open(dir).unwrap();
    let text = store.modality("text").unwrap();
    assert_eq!((text.shape(), text.len()), (&[6usize][..], 2));
    let mp7 = store.index_of("mp-7").unwrap();
    assert_eq!(store.row_of("text", mp7).unwrap(), None);
    let mp9 = store.index_of("mp-9").unwrap();
    let r = store.row_of("text", mp9).unwrap().unwrap();
    assert_eq!(text.row(r).unwrap(), vector("mp-9", 6, -0.5));
    assert_eq!(
        std::fs::read_to_string(dir.join("modalities/text/encoder.json")).unwrap(),
        "{\"model\": \"b\"}"
    );
    assert_eq!(
        store.modality_rows("dos").unwrap().iter().flatten().count(),
        3
    );
    // The store stays appendable by the ordinary writer after a replacement.
    drop(store);
    let mut w = StoreWriter::open_for_append(dir).unwrap();
    let mut r = MaterialRecord::new("mp-100", "mp", nacl(6.0));
    r.modalities
        .push(("text".into(), vector("mp-100", 6, 1.0), false));
    w.add_material(r).unwrap();
    w.commit().unwrap();
    let store = Store::open(dir).unwrap();
    let i = store.index_of("mp-100").unwrap();
    let r = store.row_of("text", i).unwrap().unwrap();
    assert_eq!(
        store.modality("text").unwrap().row(r).unwrap(),
        vector("mp-100", 6, 1.0)
    );
    assert_eq!(
        store.modality("text").unwrap().row(0).unwrap(),
        vector("mp-9", 6, -0.5)
    );
}

#[test]
fn bad_rows_and_names_are_refused() {
    let tmp = tempdir("bad");
    let dir = &tmp.0;
    make_store(dir);
    let e = ModalityStaging::open(dir, "Text!", vec![4], Dtype::F16, "k").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::InvalidName(_)), "{e}");
    let e = ModalityStaging::open(dir.join("nope"), "text", vec![4], Dtype::F16, "k").unwrap_err();
    assert!(matches!(e.kind, ErrorKind::MissingManifest), "{e}");
    let mut s = ModalityStaging::open(dir, "text", vec![4], Dtype::F16, "k").unwrap();
    let e = s
        .write_chunk(&["mp-9".to_string()], &[1.0, 2.0])
        .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::ShapeMismatch { .. }), "{e}");
    let e = s
        .write_chunk(&["mp-9".to_string()], &[1.0, 2.0, 1e6, 0.0])
        .unwrap_err();
    assert!(e.to_string().contains("overflows float16"), "{e}");
    // An id the store does not hold is caught at commit, and the store is unchanged.
    s.write_chunk(&["mp-999".to_string()], &[1.0; 4]).unwrap();
    let e = s.commit(&[]).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::UnknownId(_)), "{e}");
    assert!(Store::open(dir).unwrap().modality("text").is_none());
}
