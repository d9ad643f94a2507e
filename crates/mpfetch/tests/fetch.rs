//! End-to-end fetches against the local MP stand-in (`common`): faults, resume, skip list, key
//! handling, and the fetched folder importing like the source files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use common::{repo_root, Fault, MpServer};
use multimat_mpfetch::{
    fetch, sha256_file, ApiKey, Event, FetchError, FetchOptions, FetchSummary, ManifestEntry,
    Modality, RetryPolicy, META_DIR,
};

const KEY: &str = "test-KEY-5f1c9a0e77";

/// The nine fixture materials plus one MP does not know.
fn ids() -> Vec<String> {
    let fx = common::fixture();
    let mut ids: Vec<String> = fx["routes"]["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["material_id"].as_str().unwrap().to_string())
        .collect();
    ids.push("mp-999999999".into());
    ids
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mpfetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn options(server: &MpServer, out: &Path) -> FetchOptions {
    let mut o = FetchOptions::new(out, ApiKey::new(KEY));
    o.endpoint = server.endpoint();
    o.bucket_url = server.bucket_url();
    o.material_ids = Some(ids());
    o.concurrency = 4;
    o.page_size = 4;
    o.retry = RetryPolicy {
        retries: 4,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
    };
    o
}

fn run(o: &FetchOptions) -> (Result<FetchSummary, FetchError>, Vec<String>) {
    let events = Mutex::new(Vec::new());
    let r = fetch(o, &|e: Event| events.lock().unwrap().push(format!("{e:?}")));
    (r, events.into_inner().unwrap())
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// No file under `dir` (gzip contents included) and no event holds the key.
fn assert_key_absent(dir: &Path, events: &[String]) {
    let mut files = Vec::new();
    all_files(dir, &mut files);
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            common::gunzip(&raw)
        } else {
            raw
        };
        assert!(
            !String::from_utf8_lossy(&text).contains(KEY),
            "key written to {}",
            f.display()
        );
    }
    for e in events {
        assert!(!e.contains(KEY), "key in event {e}");
    }
}

fn no_partials(dir: &Path) {
    let mut files = Vec::new();
    all_files(dir, &mut files);
    let parts: Vec<_> = files
        .iter()
        .filter(|f| f.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(parts.is_empty(), "partial files left: {parts:?}");
}

fn manifest(dir: &Path) -> (String, Vec<ManifestEntry>) {
    let text = std::fs::read_to_string(dir.join(META_DIR).join("manifest.jsonl")).unwrap();
    let entries = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, entries)
}

fn counts(s: &FetchSummary, kind: &str) -> (usize, usize, usize, usize) {
    let c = &s.kinds[kind];
    (c.fetched, c.complete, c.skipped, c.failed)
}

#[test]
fn fetch_survives_faults_and_imports_like_the_sources() {
    let server = MpServer::start(KEY);
    server.fault("/materials/summary", 1, Fault::TooMany { retry_after: 1 });
    server.fault("/materials/elasticity", 1, Fault::ServerError);
    server.fault("/materials/robocrys", 1, Fault::Drop);
    server.fault("/bucket/dos/", 1, Fault::DropMidBody);
    server.fault("/bucket/chgcars/", 1, Fault::TruncatedGzip);
    let out = tmp("faults");
    let (r, events) = run(&options(&server, &out));
    let s = r.unwrap();
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.materials, 10);
    // fetched, complete, skipped, failed
    assert_eq!(counts(&s, "summary"), (9, 0, 1, 0));
    assert_eq!(counts(&s, "elasticity"), (6, 0, 4, 0));
    assert_eq!(counts(&s, "robocrys"), (6, 0, 4, 0));
    assert_eq!(counts(&s, "dos"), (2, 0, 8, 0));
    assert_eq!(counts(&s, "charge_density"), (1, 0, 9, 0));

    // Every fault was met and retried.
    let log = server.log();
    for (p, st) in [
        ("/materials/summary", 429),
        ("/materials/elasticity", 500),
        ("/materials/robocrys", 0),
    ] {
        assert!(
            log.iter().any(|l| l.path.contains(p) && l.status == st),
            "{p} {st}"
        );
    }
    let retries = events.iter().filter(|e| e.starts_with("Retry(")).count();
    assert_eq!(retries, 5, "{events:?}");
    // Retry-After: 1 was honoured (the backoff alone would wait 20 ms).
    let first_429 = log.iter().find(|l| l.status == 429).unwrap();
    let next = log
        .iter()
        .filter(|l| l.path == first_429.path && l.query == first_429.query && l.at > first_429.at)
        .min_by_key(|l| l.at)
        .unwrap();
    assert!(next.at - first_429.at >= Duration::from_millis(990));
    // The key went to the API on every request and never to the bucket.
    for l in &log {
        if l.path.starts_with("/api/") {
            assert_eq!(l.key.as_deref(), Some(KEY), "{}", l.path);
        } else {
            assert_eq!(l.key, None, "{}", l.path);
        }
    }
    // The latest GGA static of mp-135 was taken.
    assert!(log
        .iter()
        .any(|l| l.path == "/bucket/chgcars/mp-9100135.json.gz" && l.status == 200));

    // Manifest: every written document with its size and checksum.
    let (_, entries) = manifest(&out);
    assert_eq!(entries.len(), 24);
    for e in &entries {
        let p = out.join(&e.path);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), e.bytes, "{}", e.path);
        assert_eq!(sha256_file(&p).unwrap(), e.sha256, "{}", e.path);
    }
    let skipped = std::fs::read_to_string(out.join(META_DIR).join("skipped.jsonl")).unwrap();
    assert!(skipped.contains(r#""modality":"charge_density","material_id":"mp-149","reason":"bucket has no chgcars/mp-9000150.json.gz""#), "{skipped}");
    assert!(skipped.contains(r#""material_id":"mp-999999999","reason":"not in materials/summary""#));
    no_partials(&out);
    assert_key_absent(&out, &events);

    // The fetched folder imports as the source documents do.
    let fetched_store = out
        .join("..")
        .join(format!("store-fetched-{}", std::process::id()));
    let direct_store = out
        .join("..")
        .join(format!("store-direct-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fetched_store);
    let _ = std::fs::remove_dir_all(&direct_store);
    let opts = multimat_import::ImportOptions::default();
    let a = multimat_import::import(
        &fetched_store,
        std::slice::from_ref(&out),
        None,
        &opts,
        &|_| {},
    )
    .unwrap();
    assert_eq!(a.problems, 0, "{a:?}");
    assert_eq!(a.materials_added, 9);
    let sources = direct_sources(&tmp("direct"));
    let b = multimat_import::import(&direct_store, &sources, None, &opts, &|_| {}).unwrap();
    assert_eq!(b.problems, 0, "{b:?}");
    assert_eq!(a.modalities, b.modalities);
    assert_eq!(a.modalities["dos"].real, 2);
    assert_eq!(a.modalities["density"].real, 1);
    assert_eq!(a.modalities["text"].real, 6);
    same_store(&fetched_store, &direct_store);
}

/// The source files, as a user holding them would import them: the route documents as API
/// answers, the DOS files named by material, the Li CHGCAR as VASP wrote it.
fn direct_sources(dir: &Path) -> Vec<PathBuf> {
    let fx = common::fixture();
    let mut out = Vec::new();
    for route in ["summary", "elasticity", "robocrys"] {
        let p = dir.join(format!("{route}.json"));
        let body = serde_json::json!({"data": fx["routes"][route]});
        std::fs::write(&p, body.to_string()).unwrap();
        out.push(p);
    }
    let root = repo_root();
    for (src, name) in [
        (
            "fixtures/dos/crystaltoolkit_Si_dos.json.gz",
            "mp-149.json.gz",
        ),
        (
            "fixtures/dos/pymatgen_dos_spin_polarization_mp-865805.json.gz",
            "mp-865805.json.gz",
        ),
        (
            "fixtures/chgcar/pymatgen_CHGCAR.Li.nospin.gz",
            "CHGCAR_mp-135.gz",
        ),
    ] {
        let p = dir.join(name);
        std::fs::copy(root.join(src), &p).unwrap();
        out.push(p);
    }
    out
}

fn same_store(a: &Path, b: &Path) {
    use multimat_dataset::Store;
    let (a, b) = (Store::open(a).unwrap(), Store::open(b).unwrap());
    assert_eq!(a.ids(), b.ids());
    assert_eq!(a.formulas(), b.formulas());
    assert_eq!(a.nsites(), b.nsites());
    assert_eq!(a.label_names(), b.label_names());
    for l in a.label_names() {
        assert_eq!(a.label(l).unwrap(), b.label(l).unwrap(), "label {l}");
    }
    assert_eq!(a.is_metal(), b.is_metal());
    assert_eq!(a.elastic_tensors(), b.elastic_tensors());
    assert_eq!(a.descriptions(), b.descriptions());
    assert_eq!(a.crystal_systems(), b.crystal_systems());
    assert_eq!(a.spacegroups(), b.spacegroups());
    let mods_a: Vec<&str> = a.modality_names().collect();
    let mods_b: Vec<&str> = b.modality_names().collect();
    assert_eq!(mods_a, mods_b);
    for i in 0..a.len() {
        assert_eq!(a.structure_json(i).unwrap(), b.structure_json(i).unwrap());
        for m in &mods_a {
            let (ra, rb) = (a.row_of(m, i).unwrap(), b.row_of(m, i).unwrap());
            assert_eq!(ra.is_some(), rb.is_some(), "{m} of {}", a.ids()[i]);
            if let (Some(ra), Some(rb)) = (ra, rb) {
                let (x, y) = (
                    a.modality(m).unwrap().row(ra).unwrap(),
                    b.modality(m).unwrap().row(rb).unwrap(),
                );
                let worst = x
                    .iter()
                    .zip(&y)
                    .map(|(p, q)| (p - q).abs() / q.abs().max(1e-3))
                    .fold(0f32, f32::max);
                assert!(
                    worst < 1e-5,
                    "{m} of {}: relative difference {worst}",
                    a.ids()[i]
                );
            }
        }
    }
}

#[test]
fn interrupted_fetch_resumes_to_the_same_manifest() {
    // Reference: one uninterrupted fetch.
    let server = MpServer::start(KEY);
    let reference = tmp("reference");
    let (r, _) = run(&options(&server, &reference));
    r.unwrap();
    let (want, _) = manifest(&reference);
    let requests_full = server.log().len();

    // Interrupted: the server goes away mid-fetch; the run ends with failures, not an error.
    let flaky = MpServer::start(KEY);
    flaky.go_down_after(9);
    let out = tmp("resume");
    let mut o = options(&flaky, &out);
    o.retry.retries = 1;
    o.bucket_url = flaky.bucket_url();
    let (r, _) = run(&o);
    let s = r.unwrap();
    assert!(!s.failures.is_empty());
    no_partials(&out);
    let (partial_manifest, entries) = manifest(&out);
    assert!(!entries.is_empty() && partial_manifest != want);
    // What a killed run leaves: a temp file, and a document cut short after the manifest line.
    std::fs::write(out.join("summary/.mp-215.json.part"), b"{\"material_id\": ").unwrap();
    let cut = &entries[0];
    let p = out.join(&cut.path);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();

    // Resume against a healthy server.
    let healthy = MpServer::start(KEY);
    let (r, events) = run(&options(&healthy, &out));
    let s = r.unwrap();
    assert!(s.failures.is_empty(), "{:?}", s.failures);
    assert_eq!(s.partial_removed, 1);
    let complete: usize = s.kinds.values().map(|c| c.complete).sum();
    assert_eq!(complete, entries.len() - 1, "kept all but the cut document");
    assert!(healthy.log().len() < requests_full);
    assert!(healthy.log().iter().any(|l| l
        .path
        .contains(&cut.path.replace(".json.gz", "").replace(".json", ""))
        || l.query.contains(&cut.material_id)));
    let (got, _) = manifest(&out);
    assert_eq!(got, want);
    no_partials(&out);
    assert_key_absent(&out, &events);

    // A second resume has nothing to do.
    let (r, _) = run(&options(&healthy, &out));
    let s = r.unwrap();
    assert_eq!(s.kinds.values().map(|c| c.fetched).sum::<usize>(), 0);
    assert_eq!(manifest(&out).0, want);
}

#[test]
fn rejected_and_missing_keys_stop_with_one_message() {
    let server = MpServer::start(KEY);
    let out = tmp("badkey");
    let mut o = options(&server, &out);
    o.api_key = ApiKey::new("WRONG-secret-0000");
    let (r, events) = run(&o);
    let e = r.unwrap_err();
    assert!(
        matches!(e, FetchError::KeyRejected { status: 401, .. }),
        "{e}"
    );
    let msg = e.to_string();
    assert!(msg.contains("rejected the API key"), "{msg}");
    assert!(!msg.contains("WRONG-secret") && !format!("{e:?}").contains("WRONG-secret"));
    assert!(events.iter().all(|e| !e.contains("WRONG-secret")));
    // One rejected request stops the run: no retry storm.
    assert!(server.log().len() <= 4, "{}", server.log().len());

    o.api_key = ApiKey::new("  ");
    let e = run(&o).0.unwrap_err();
    assert!(matches!(e, FetchError::MissingKey { .. }));
    assert!(e.to_string().contains("MP_API_KEY"));
}

#[test]
fn material_list_is_paged_filtered_and_limited() {
    let server = MpServer::start(KEY);
    let out = tmp("paging");
    let mut o = options(&server, &out);
    o.material_ids = None;
    o.modalities = [Modality::Structure].into_iter().collect();
    let s = run(&o).0.unwrap();
    assert_eq!(s.materials, 9);
    assert_eq!(counts(&s, "summary"), (9, 0, 0, 0));
    let listing: Vec<String> = server
        .log()
        .iter()
        .filter(|l| l.query.contains("_fields=material_id&"))
        .map(|l| l.query.clone())
        .collect();
    assert_eq!(listing.len(), 3, "{listing:?}");
    assert!(listing[2].ends_with("_limit=4&_skip=8"), "{listing:?}");
    // Only the structure fields were asked for.
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary/mp-149.json")).unwrap()).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["formula_pretty", "material_id", "nsites", "structure"]
    );

    let out = tmp("query");
    let mut o = options(&server, &out);
    o.material_ids = None;
    o.query = vec![("band_gap_min".into(), "0.01".into())];
    o.modalities = [Modality::Summary].into_iter().collect();
    o.limit = Some(2);
    let s = run(&o).0.unwrap();
    assert_eq!(s.materials, 2);
    let mut gaps = BTreeMap::new();
    for e in manifest(&out).1 {
        let d: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(&e.path)).unwrap()).unwrap();
        gaps.insert(e.material_id, d["band_gap"].as_f64().unwrap());
    }
    assert_eq!(gaps.len(), 2);
    assert!(gaps.values().all(|g| *g >= 0.01), "{gaps:?}");
}
