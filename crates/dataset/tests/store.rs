//! End-to-end tests of the store: write, reopen, resume, crash, splits, batches, and reading
//! the table with the generic Parquet row API.

// `i % k == 0` reads naturally for the patterns below and keeps to the workspace's MSRV.
#![allow(clippy::manual_is_multiple_of)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use multimat_crystal::{Lattice, Occupant, Site, Structure};
use multimat_dataset::*;

/// A scratch folder removed when dropped, unless MULTIMAT_KEEP_TEST_STORES is set (to inspect
/// a store, e.g. with tools/fixtures/read_store.py).
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("MULTIMAT_KEEP_TEST_STORES").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("multimat-dataset-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Four real structures: rock-salt NaCl, diamond Si, wurtzite-like GaN, and a disordered
/// (Fe,Ni)O with an oxidation state and site labels.
fn structure(i: usize) -> Structure {
    match i % 4 {
        0 => {
            let a = 5.64;
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
        1 => {
            let a = 5.468728;
            let l = Lattice::new([
                [0.0, a / 2.0, a / 2.0],
                [a / 2.0, 0.0, a / 2.0],
                [a / 2.0, a / 2.0, 0.0],
            ])
            .unwrap();
            Structure::new(
                l,
                vec![Site::ordered(14, [0.0; 3]), Site::ordered(14, [0.25; 3])],
            )
        }
        2 => {
            let l = Lattice::from_parameters(3.189, 3.189, 5.185, 90.0, 90.0, 120.0).unwrap();
            Structure::new(
                l,
                vec![
                    Site::ordered(31, [1.0 / 3.0, 2.0 / 3.0, 0.0]),
                    Site::ordered(31, [2.0 / 3.0, 1.0 / 3.0, 0.5]),
                    Site::ordered(7, [1.0 / 3.0, 2.0 / 3.0, 0.377]),
                    Site::ordered(7, [2.0 / 3.0, 1.0 / 3.0, 0.877]),
                ],
            )
        }
        _ => {
            let l = Lattice::from_parameters(4.2, 4.2, 4.3, 90.0, 90.0, 90.0).unwrap();
            let mut s = Site::ordered(26, [0.0; 3]);
            s.occupants = vec![
                Occupant {
                    z: 26,
                    occupancy: 0.6,
                    oxidation: Some(2.0),
                },
                Occupant {
                    z: 28,
                    occupancy: 0.4,
                    oxidation: Some(2.0),
                },
            ];
            s.label = Some("M1".into());
            let mut o = Site::ordered(8, [0.5, 0.5, 0.5]);
            o.label = Some("O1".into());
            Structure::new(l, vec![s, o])
        }
    }
}

/// The structure as it comes back: pymatgen gives every site a label (its species string).
fn labelled(mut s: Structure) -> Structure {
    for site in &mut s.sites {
        if site.label.is_none() {
            site.label = Some(site.species_string());
        }
    }
    s
}

const DOS_SHAPE: [usize; 2] = [2, 5];
const DENSITY_SHAPE: [usize; 4] = [1, 2, 2, 2];
const TEXT_SHAPE: [usize; 1] = [6];

fn has_dos(i: usize) -> bool {
    i % 3 != 1
}
fn dos_derived(i: usize) -> bool {
    i % 5 == 0
}
fn has_density(i: usize) -> bool {
    i % 2 == 0
}
fn has_text(i: usize) -> bool {
    i % 7 != 3
}

/// Row values chosen to exercise every bit: irrational-ish f32s for f32 modalities, and
/// values exactly representable in f16 for the text modality.
fn dos_row(i: usize) -> Vec<f32> {
    (0..10)
        .map(|k| ((i * 10 + k) as f32 * 0.1234567).sin() * 1e3)
        .collect()
}
fn density_row(i: usize) -> Vec<f32> {
    (0..8)
        .map(|k| f32::from_bits(0x3F80_0000 + (i * 8 + k) as u32 * 12345))
        .collect()
}
fn text_row(i: usize) -> Vec<f32> {
    (0..6)
        .map(|k| (i as f32) * 0.5 - (k as f32) * 0.125)
        .collect()
}

fn record(i: usize) -> MaterialRecord {
    let mut r = MaterialRecord::new(
        format!("mp-{}", 1000 + i),
        if i % 4 == 3 { "snumat" } else { "mp" },
        structure(i),
    );
    if i % 2 == 0 {
        r.labels
            .insert("band_gap".into(), i as f64 * 0.1 + 1.0 / 3.0);
    }
    if i % 3 == 0 {
        r.labels.insert("bulk_modulus".into(), 100.0 + i as f64);
    }
    r.is_metal = if i % 4 == 1 { None } else { Some(i % 2 == 1) };
    if i % 5 == 2 {
        r.elastic_tensor = Some(std::array::from_fn(|k| (i * 15 + k) as f32 * 1.5));
    }
    r.crystal_system = if i % 4 == 2 {
        Some("hexagonal".into())
    } else {
        Some("cubic".into())
    };
    r.spacegroup = if i % 6 == 5 { None } else { Some(225) };
    if has_dos(i) {
        r.modalities
            .push(("dos".into(), dos_row(i), dos_derived(i)));
    }
    if has_density(i) {
        r.modalities.push(("density".into(), density_row(i), false));
    }
    if has_text(i) {
        r.modalities.push(("text".into(), text_row(i), false));
    }
    r
}

fn register(w: &mut StoreWriter) {
    w.register_modality_sharded("dos", DOS_SHAPE.to_vec(), Dtype::F32, 4)
        .unwrap();
    w.register_modality_sharded("density", DENSITY_SHAPE.to_vec(), Dtype::F32, 3)
        .unwrap();
    w.register_modality_sharded("text", TEXT_SHAPE.to_vec(), Dtype::F16, 5)
        .unwrap();
}

fn write_store(dir: &Path, n: usize) {
    let mut w = StoreWriter::create(dir).unwrap();
    register(&mut w);
    for i in 0..n {
        w.add_material(record(i)).unwrap();
    }
    w.commit().unwrap();
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Checks that the store holds exactly materials 0..n as generated by [`record`].
fn check_contents(store: &Store, n: usize) {
    assert_eq!(store.len(), n);
    let dos = store.modality("dos").unwrap();
    let density = store.modality("density").unwrap();
    let text = store.modality("text").unwrap();
    assert_eq!(dos.shape(), &DOS_SHAPE);
    assert_eq!(text.dtype(), Dtype::F16);
    let dos_exists = store.exists("dos").unwrap();
    let dos_der = store.derived("dos").unwrap();
    let band_gap = store.label("band_gap").unwrap();
    let bulk = store.label("bulk_modulus").unwrap();
    for i in 0..n {
        let rec = record(i);
        let id = format!("mp-{}", 1000 + i);
        assert_eq!(store.ids()[i], id);
        assert_eq!(store.index_of(&id), Some(i));
        let m = store.material(i).unwrap();
        assert_eq!(m.id, id);
        assert_eq!(m.source, rec.source);
        assert_eq!(m.structure, labelled(structure(i)), "structure {i}");
        assert_eq!(m.nsites as usize, structure(i).sites.len());
        assert_eq!(m.formula, structure(i).reduced_formula());
        // Material 20 gains an extra label in the resume test.
        let labels: BTreeMap<String, f64> = m
            .labels
            .clone()
            .into_iter()
            .filter(|(k, _)| k != "refractive_index")
            .collect();
        assert_eq!(labels, rec.labels);
        assert_eq!(m.is_metal, rec.is_metal);
        assert_eq!(
            m.elastic_tensor.map(|t| bits(&t)),
            rec.elastic_tensor.map(|t| bits(&t))
        );
        assert_eq!(m.crystal_system, rec.crystal_system);
        assert_eq!(m.spacegroup, rec.spacegroup);
        assert_eq!(
            band_gap[i].map(f64::to_bits),
            rec.labels.get("band_gap").map(|x| x.to_bits())
        );
        assert_eq!(bulk[i], rec.labels.get("bulk_modulus").copied());
        assert_eq!(dos_exists[i], has_dos(i));
        assert_eq!(dos_der[i], has_dos(i) && dos_derived(i));
        match m.modalities.get("dos") {
            Some(&(r, d)) => {
                assert!(has_dos(i));
                assert_eq!(d, dos_derived(i));
                assert_eq!(
                    bits(&dos.row(r).unwrap()),
                    bits(&dos_row(i)),
                    "dos row of {i}"
                );
            }
            None => assert!(!has_dos(i)),
        }
        match store.row_of("density", i).unwrap() {
            Some(r) => assert_eq!(
                bits(&density.row(r).unwrap()),
                bits(&density_row(i)),
                "density of {i}"
            ),
            None => assert!(!has_density(i)),
        }
        match store.row_of("text", i).unwrap() {
            Some(r) => assert_eq!(text.row(r).unwrap(), text_row(i)),
            None => assert!(!has_text(i)),
        }
    }
    assert_eq!(dos.len(), (0..n).filter(|&i| has_dos(i)).count());
    assert_eq!(density.len(), (0..n).filter(|&i| has_density(i)).count());
}

#[test]
fn roundtrip_bit_exact_across_shards() {
    let dir = tempdir("roundtrip");
    write_store(&dir, 23);
    let store = Store::open(&dir).unwrap();
    check_contents(&store, 23);
    // 15 DOS rows at 4 per shard, 12 densities at 3, 20 texts at 5 (f16: half the bytes).
    let m = store.manifest();
    assert_eq!(m.modalities["dos"].shards.len(), 4);
    assert_eq!(
        m.modalities["density"].shards,
        vec![
            "shard-00000.npy",
            "shard-00001.npy",
            "shard-00002.npy",
            "shard-00003.npy"
        ]
    );
    assert_eq!(m.modalities["text"].rows, 20);
    assert_eq!(
        m.modalities["dos"].derived_rows,
        (0..23).filter(|&i| has_dos(i) && dos_derived(i)).count()
    );
    assert_eq!(m.labels, vec!["band_gap", "bulk_modulus"]);
    assert_eq!(m.sources, vec!["mp", "snumat"]);
    let text_shard = std::fs::metadata(dir.join("modalities/text/shard-00000.npy"))
        .unwrap()
        .len();
    assert_eq!(text_shard, 128 + 5 * 6 * 2);

    // Streaming all structures gives the same text as reading them one by one.
    let mut seen = 0;
    store
        .for_each_structure_json(|i, json| {
            assert_eq!(json, store.structure_json(i).unwrap());
            seen += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, 23);

    // Batch rows read in one call equal single-row reads.
    let dos = store.modality("dos").unwrap();
    let flat = dos.rows(&[0, 5, 14]).unwrap();
    assert_eq!(flat.len(), 30);
    assert_eq!(bits(&flat[10..20]), bits(&dos.row(5).unwrap()));
    assert!(matches!(
        dos.row(15).unwrap_err().kind,
        ErrorKind::OutOfRange { index: 15, len: 15 }
    ));
    assert!(store.modality("phonon_dos").is_none());
    assert!(matches!(
        store.label("nope").unwrap_err().kind,
        ErrorKind::UnknownLabel(_)
    ));
}

#[test]
fn info_counts_combinations_labels_sources() {
    let dir = tempdir("info");
    let n = 23;
    write_store(&dir, n);
    let store = Store::open(&dir).unwrap();
    let info = info(&store).unwrap();
    assert_eq!(info.materials, n);
    let dos = &info.modalities["dos"];
    let dos_total = (0..n).filter(|&i| has_dos(i)).count();
    let dos_der = (0..n).filter(|&i| has_dos(i) && dos_derived(i)).count();
    assert_eq!(
        (dos.total, dos.derived, dos.real),
        (dos_total, dos_der, dos_total - dos_der)
    );
    assert_eq!(info.modalities["text"].dtype, "f16");
    let mut expect = BTreeMap::new();
    for i in 0..n {
        let mut k = String::from("structure");
        if has_density(i) {
            k += "+density";
        }
        if has_dos(i) {
            k += "+dos";
        }
        if has_text(i) {
            k += "+text";
        }
        *expect.entry(k).or_insert(0usize) += 1;
    }
    assert_eq!(info.combinations, expect);
    assert_eq!(info.combinations.values().sum::<usize>(), n);
    assert_eq!(info.labels["band_gap"], 12);
    assert_eq!(info.labels["bulk_modulus"], 8);
    assert_eq!(info.elastic_tensor, (0..n).filter(|i| i % 5 == 2).count());
    assert_eq!(info.is_metal, (0..n).filter(|i| i % 4 != 1).count());
    assert_eq!(
        info.sources["snumat"],
        (0..n).filter(|i| i % 4 == 3).count()
    );
    assert_eq!(info.sources["mp"], n - info.sources["snumat"]);
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(
        json["combinations"]["structure+density+dos+text"],
        expect["structure+density+dos+text"]
    );
}

#[test]
fn resume_appends_and_extends_schema() {
    let dir = tempdir("resume");
    let mut w = StoreWriter::create(&dir).unwrap();
    register(&mut w);
    for i in 0..10 {
        w.add_material(record(i)).unwrap();
    }
    w.commit().unwrap();
    drop(w);
    assert!(StoreWriter::create(&dir).is_err());

    // A reader opened now keeps seeing this commit, structures included, after later commits.
    let early = Store::open(&dir).unwrap();
    let mut w = StoreWriter::open_for_append(&dir).unwrap();
    assert_eq!(w.len(), 10);
    assert!(w.contains("mp-1003") && !w.contains("mp-1010"));
    register(&mut w); // idempotent on resume
    assert!(w.register_modality("dos", vec![2, 6], Dtype::F32).is_err());
    w.register_modality("phonon_dos", vec![3], Dtype::F32)
        .unwrap();
    let err = w.add_material(record(3)).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::DuplicateId(ref id) if id == "mp-1003"),
        "{err}"
    );
    for i in 10..23 {
        let mut r = record(i);
        if i == 20 {
            r.labels.insert("refractive_index".into(), 2.5);
            r.modalities
                .push(("phonon_dos".into(), vec![1.0, 2.0, 3.0], true));
        }
        w.add_material(r).unwrap();
    }
    w.commit().unwrap();

    check_contents(&early, 10);
    let store = Store::open(&dir).unwrap();
    check_contents(&store, 23);
    let n_ri = store.label("refractive_index").unwrap();
    assert_eq!(n_ri.iter().filter(|v| v.is_some()).count(), 1);
    assert_eq!(n_ri[20], Some(2.5));
    assert_eq!(
        store
            .exists("phonon_dos")
            .unwrap()
            .iter()
            .filter(|&&e| e)
            .count(),
        1
    );
    assert!(store.derived("phonon_dos").unwrap()[20]);
    assert_eq!(
        store.modality("phonon_dos").unwrap().row(0).unwrap(),
        vec![1.0, 2.0, 3.0]
    );
    // A default-sharded modality: 16384 rows per shard for small rows.
    assert_eq!(store.manifest().modalities["phonon_dos"].shard_rows, 16384);
    // Leave a split behind for tools/fixtures/read_store.py to reproduce.
    save_split(
        &store,
        &make_split(&store, 42, [0.7, 0.2, 0.1], "demo").unwrap(),
    )
    .unwrap();
}

#[test]
fn killed_writer_leaves_previous_commit() {
    let dir = tempdir("kill");
    write_store(&dir, 10);
    let before = std::fs::read(dir.join("manifest.json")).unwrap();

    // Enough rows to fill (and eagerly write) shards, then the process "dies".
    let mut w = StoreWriter::open_for_append(&dir).unwrap();
    for i in 10..22 {
        w.add_material(record(i)).unwrap();
    }
    // 7 committed DOS rows; 8 more fill shards 1 and 2, which are written before any commit.
    assert!(
        dir.join("modalities/dos/shard-00002.npy").exists(),
        "full shards are written before commit"
    );
    drop(w);
    assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), before);
    let store = Store::open(&dir).unwrap();
    check_contents(&store, 10);

    // Killed after shards and table were replaced, before the manifest.
    let mut w = StoreWriter::open_for_append(&dir).unwrap();
    for i in 10..17 {
        w.add_material(record(i)).unwrap();
    }
    w.simulate_crash_before_manifest().unwrap();
    let store = Store::open(&dir).unwrap();
    check_contents(&store, 10);
    assert_eq!(info(&store).unwrap().materials, 10);

    // Resuming overwrites the leftovers and ends with everything exactly once.
    let mut w = StoreWriter::open_for_append(&dir).unwrap();
    assert!(!w.contains("mp-1012"));
    for i in 10..23 {
        w.add_material(record(i)).unwrap();
    }
    w.commit().unwrap();
    check_contents(&Store::open(&dir).unwrap(), 23);
}

#[test]
fn splits_reproducible_from_file_and_from_ids() {
    let dir = tempdir("split");
    write_store(&dir, 23);
    let store = Store::open(&dir).unwrap();
    let split = make_split(&store, 42, [0.7, 0.2, 0.1], "ft_70_20_10").unwrap();
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (16, 4, 3)
    );
    assert_eq!(split.store_materials, 23);
    let path = save_split(&store, &split).unwrap();
    assert!(path.ends_with("splits/ft_70_20_10.json"));
    let loaded = load_split(&store, "ft_70_20_10").unwrap();
    assert_eq!(loaded, split);
    let (train, val, test) = split_ids(store.ids(), 42, [0.7, 0.2, 0.1]);
    assert_eq!(
        (train, val, test),
        (split.train.clone(), split.val.clone(), split.test.clone())
    );
    let idx = loaded.indices(&store).unwrap();
    assert_eq!(store.ids()[idx.val[0]], split.val[0]);
    let mut all: Vec<usize> = idx
        .train
        .iter()
        .chain(&idx.val)
        .chain(&idx.test)
        .copied()
        .collect();
    all.sort();
    assert_eq!(all, (0..23).collect::<Vec<_>>());
    assert_ne!(
        make_split(&store, 43, [0.7, 0.2, 0.1], "other")
            .unwrap()
            .train,
        split.train
    );

    // A split naming a material the store lacks is refused.
    let mut bad = split.clone();
    bad.name = "bad".into();
    bad.test.push("mp-999999".into());
    save_split(&store, &bad).unwrap();
    let err = load_split(&store, "bad").unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::UnknownId(ref id) if id == "mp-999999"),
        "{err}"
    );
    assert!(err.file.ends_with("splits/bad.json"));
    assert!(make_split(&store, 1, [0.8, 0.3, 0.0], "x").is_err());
    assert!(make_split(&store, 1, [0.8, 0.1, 0.1], "../x").is_err());
}

#[test]
fn collate_masks_and_zero_fills() {
    let dir = tempdir("collate");
    write_store(&dir, 23);
    let store = Store::open(&dir).unwrap();
    let idx = [0usize, 1, 3, 22];
    let b = collate(&store, &idx, &["dos", "density", "text"]).unwrap();
    assert_eq!(b.indices, idx);
    let (dos, dos_e) = &b.modalities["dos"];
    assert_eq!(dos.len(), 4 * 10);
    assert_eq!(dos_e, &idx.iter().map(|&i| has_dos(i)).collect::<Vec<_>>());
    for (k, &i) in idx.iter().enumerate() {
        let got = &dos[k * 10..(k + 1) * 10];
        if has_dos(i) {
            assert_eq!(bits(got), bits(&dos_row(i)));
        } else {
            assert!(got.iter().all(|&x| x == 0.0));
        }
        let (den, den_e) = &b.modalities["density"];
        assert_eq!(den_e[k], has_density(i));
        let got = &den[k * 8..(k + 1) * 8];
        if has_density(i) {
            assert_eq!(bits(got), bits(&density_row(i)));
        } else {
            assert!(got.iter().all(|&x| x == 0.0));
        }
    }
    assert!(matches!(
        collate(&store, &[23], &["dos"]).unwrap_err().kind,
        ErrorKind::OutOfRange { .. }
    ));
    assert!(matches!(
        collate(&store, &[0], &["xrd"]).unwrap_err().kind,
        ErrorKind::UnknownModality(_)
    ));
    let epochs = batches(&(0..store.len()).collect::<Vec<_>>(), 8, 1, 0, true);
    assert_eq!(epochs.len(), 2);
}

#[test]
fn bad_input_is_rejected_without_changing_the_writer() {
    let dir = tempdir("reject");
    let mut w = StoreWriter::create(&dir).unwrap();
    register(&mut w);
    let mut r = record(0);
    r.modalities[0].1.pop();
    let err = w.add_material(r).unwrap_err();
    assert!(
        matches!(
            err.kind,
            ErrorKind::ShapeMismatch {
                expected: 10,
                found: 9,
                ..
            }
        ),
        "{err}"
    );
    let mut r = record(0);
    r.modalities.push(("xrd".into(), vec![0.0], false));
    assert!(matches!(
        w.add_material(r).unwrap_err().kind,
        ErrorKind::UnknownModality(_)
    ));
    let mut r = record(0);
    r.labels.insert("band_gap".into(), f64::NAN);
    assert!(matches!(
        w.add_material(r).unwrap_err().kind,
        ErrorKind::InvalidValue(_)
    ));
    let mut r = record(0);
    r.labels.insert("dos_row".into(), 1.0);
    assert!(matches!(
        w.add_material(r).unwrap_err().kind,
        ErrorKind::InvalidName(_)
    ));
    let mut r = record(1);
    r.modalities.retain(|m| m.0 == "text");
    r.modalities[0].1[0] = 1e9; // overflows float16
    assert!(matches!(
        w.add_material(r).unwrap_err().kind,
        ErrorKind::InvalidValue(_)
    ));
    let mut r = record(2);
    r.structure.sites[0].occupants[0].occupancy = 1.5;
    let err = w.add_material(r).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::InvalidValue(ref m) if m.contains("occupancy")),
        "{err}"
    );
    assert_eq!(w.len(), 0);
    w.add_material(record(0)).unwrap();
    w.commit().unwrap();
    check_contents(&Store::open(&dir).unwrap(), 1);
}

#[test]
fn damaged_stores_give_named_errors() {
    let empty = tempdir("empty");
    let err = Store::open(&empty).unwrap_err();
    assert_eq!(err.kind, ErrorKind::MissingManifest);
    assert!(err.file.ends_with("manifest.json"));

    let dir = tempdir("damaged");
    write_store(&dir, 12);
    let mpath = dir.join("manifest.json");
    let good = std::fs::read_to_string(&mpath).unwrap();
    std::fs::write(&mpath, good.replace("\"version\": 1", "\"version\": 7")).unwrap();
    let err = Store::open(&dir).unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::WrongVersion {
            found: 7,
            supported: 1
        }
    );
    std::fs::write(&mpath, "{\"format\": \"multimat-store\", \"version\": 1").unwrap();
    assert!(matches!(
        Store::open(&dir).unwrap_err().kind,
        ErrorKind::CorruptManifest(_)
    ));
    std::fs::write(&mpath, &good).unwrap();

    let shard = dir.join("modalities/dos/shard-00001.npy");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 3]).unwrap();
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::ShardTooShort { .. }), "{err}");
    assert!(err.to_string().contains("shard-00001.npy"), "{err}");
    std::fs::write(&shard, &bytes).unwrap();

    let table = dir.join("materials.parquet");
    let bytes = std::fs::read(&table).unwrap();
    std::fs::write(&table, &bytes[..bytes.len() / 2]).unwrap();
    let err = Store::open(&dir).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::CorruptTable(_)), "{err}");
    assert!(err.file.ends_with("materials.parquet"));
    std::fs::write(&table, &bytes).unwrap();
    check_contents(&Store::open(&dir).unwrap(), 12);
}

/// The table is plain Parquet: the generic row reader of the `parquet` crate sees every column
/// with the documented name and physical/logical type.
#[test]
fn table_reads_with_generic_parquet_rows() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let dir = tempdir("generic");
    write_store(&dir, 8);
    let file = std::fs::File::open(dir.join("materials.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 8);
    let rows: Vec<_> = reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let names: Vec<String> = rows[0].get_column_iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names,
        [
            "id",
            "source",
            "formula",
            "nsites",
            "structure",
            "crystal_system",
            "spacegroup",
            "band_gap",
            "bulk_modulus",
            "is_metal",
            "elastic_tensor",
            "description",
            "density_row",
            "density_derived",
            "dos_row",
            "dos_derived",
            "text_row",
            "text_derived"
        ]
    );
    for (i, row) in rows.iter().enumerate() {
        let col: BTreeMap<&str, &Field> = row
            .get_column_iter()
            .map(|(n, f)| (n.as_str(), f))
            .collect();
        assert_eq!(col["id"], &Field::Str(format!("mp-{}", 1000 + i)));
        assert_eq!(col["nsites"], &Field::Int(structure(i).sites.len() as i32));
        let Field::Str(json) = col["structure"] else {
            panic!("structure is not a string")
        };
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["@class"], "Structure");
        assert!(v["lattice"]["matrix"].is_array() && v["sites"][0]["xyz"].is_array());
        match record(i).labels.get("band_gap") {
            Some(x) => assert_eq!(col["band_gap"], &Field::Double(*x)),
            None => assert_eq!(col["band_gap"], &Field::Null),
        }
        let expect_row = if has_dos(i) {
            (0..i).filter(|&k| has_dos(k)).count() as i64
        } else {
            -1
        };
        assert_eq!(col["dos_row"], &Field::Long(expect_row));
        assert_eq!(
            col["dos_derived"],
            &Field::Bool(has_dos(i) && dos_derived(i))
        );
        match (col["elastic_tensor"], record(i).elastic_tensor) {
            (Field::ListInternal(list), Some(t)) => {
                assert_eq!(list.len(), 15);
                let got: Vec<f32> = list
                    .elements()
                    .iter()
                    .map(|f| {
                        if let Field::Float(x) = f {
                            *x
                        } else {
                            f32::NAN
                        }
                    })
                    .collect();
                assert_eq!(bits(&got), bits(&t));
            }
            (Field::Null, None) => {}
            (other, t) => panic!("elastic_tensor {other:?} vs {t:?}"),
        }
        match record(i).spacegroup {
            Some(sg) => assert_eq!(col["spacegroup"], &Field::Int(sg)),
            None => assert_eq!(col["spacegroup"], &Field::Null),
        }
    }
}
