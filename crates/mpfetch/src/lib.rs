//! Downloads Materials Project (MP) documents into a folder that `multimat data import` reads
//! as it is (see `docs/materials-project.md` for the user's view).
//!
//! # What is asked where
//! The REST API is spoken the way the official `mp-api` client speaks it: `GET
//! {endpoint}/materials/<route>/?material_ids=a,b&_fields=f,g&_limit=n&_skip=k` with the key in
//! the `x-api-key` header, answers `{"data": [...], "meta": {...}}`.
//!
//! | modality | route(s) | written to |
//! |---|---|---|
//! | `structure`, `summary` | `materials/summary` | `summary/<id>.json` |
//! | `elasticity` | `materials/elasticity` | `elasticity/<id>.json` |
//! | `text` | `materials/robocrys` | `robocrys/<id>.json` |
//! | `dos` | `materials/electronic_structure` (`dos` → task id), then the bucket's [`FetchOptions::dos_key`] | `dos/<id>.json.gz` |
//! | `charge_density` | `materials/core` (`calc_types`: GGA / GGA+U static tasks), `materials/tasks` (latest `last_updated`), then the bucket's `chgcars/<task_id>.json.gz` | `charge_density/<id>.json.gz` |
//!
//! The bucket (MP's public parsed-data bucket, `materialsproject-parsed`) is read anonymously:
//! the key is never sent there. Bucket charge densities are `{"data": <pymatgen Chgcar>, ...}`
//! (as `mp-api`'s `get_charge_density_from_task_id` reads them); the file written holds the
//! Chgcar with `material_id` and `task_id` first, so that import names it by material. DOS
//! documents (pymatgen `Dos`/`CompleteDos` or emmet `ElectronicDos` rows) are written with
//! `material_id` added and their `structure` removed: the material's structure is the summary's.
//!
//! # Bookkeeping (in `DIR/.mpfetch/`, hidden so that import passes it over)
//! - `manifest.jsonl`: one line per document written: modality, material and task id, path
//!   (relative to DIR), bytes, sha256. Rewritten sorted at the end of every run, so an interrupted
//!   fetch that is resumed ends with the same manifest as one that was not.
//! - `skipped.jsonl`: materials MP has no such document for (not in the route's answer, no DOS
//!   task, no static task, not in the bucket). Not fatal, not asked for again on resume.
//!
//! # Resume
//! A document counts as done when the manifest lists it and its file has the listed size. Files
//! are written as `.<name>.part` and renamed; leftover `.part` files (a killed run) are removed at
//! start, and files the manifest does not list (or lists with another size) are fetched again.

pub mod error;
pub mod http;
pub mod key;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use error::FetchError;
pub use http::{RetryNote, RetryPolicy};
pub use key::{default_config_path, ApiKey, KEY_ENV};

use http::{encode, Client, Got};

/// The public MP REST API.
pub const DEFAULT_ENDPOINT: &str = "https://api.materialsproject.org";
/// MP's public parsed-data bucket (AWS Open Data, anonymous HTTPS reads).
pub const DEFAULT_BUCKET_URL: &str = "https://materialsproject-parsed.s3.amazonaws.com";
/// The bucket key of a charge density (`mp-api` `get_charge_density_from_task_id`).
pub const DEFAULT_CHGCAR_KEY: &str = "chgcars/{task_id}.json.gz";
/// The bucket key of a DOS document by task id.
pub const DEFAULT_DOS_KEY: &str = "dos/{task_id}.json.gz";
/// The folder of the bookkeeping files inside the output folder.
pub const META_DIR: &str = ".mpfetch";

/// What can be fetched (the names of `--modalities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// The structure (summary route, structure fields).
    Structure,
    /// Robocrystallographer description (robocrys route).
    Text,
    /// Electronic DOS (bucket, by the DOS task id).
    Dos,
    /// Charge density (bucket, by the latest GGA/GGA+U static task).
    ChargeDensity,
    /// Elastic tensor and moduli (elasticity route).
    Elasticity,
    /// Labels of the summary route (formation energy, band gap, E_F, is_metal, symmetry).
    Summary,
}

impl Modality {
    /// Every modality.
    pub const ALL: [Modality; 6] = [
        Modality::Structure,
        Modality::Text,
        Modality::Dos,
        Modality::ChargeDensity,
        Modality::Elasticity,
        Modality::Summary,
    ];

    /// The `--modalities` name.
    pub fn name(self) -> &'static str {
        match self {
            Modality::Structure => "structure",
            Modality::Text => "text",
            Modality::Dos => "dos",
            Modality::ChargeDensity => "charge_density",
            Modality::Elasticity => "elasticity",
            Modality::Summary => "summary",
        }
    }

    /// Parses a `--modalities` name.
    pub fn from_name(s: &str) -> Option<Modality> {
        Modality::ALL.into_iter().find(|m| m.name() == s.trim())
    }
}

/// The document kinds written (one folder each); `structure` and `summary` share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Group {
    Summary,
    Elasticity,
    Robocrys,
    Dos,
    ChargeDensity,
}

impl Group {
    fn dir(self) -> &'static str {
        match self {
            Group::Summary => "summary",
            Group::Elasticity => "elasticity",
            Group::Robocrys => "robocrys",
            Group::Dos => "dos",
            Group::ChargeDensity => "charge_density",
        }
    }

    fn file(self, id: &str) -> String {
        match self {
            Group::Dos | Group::ChargeDensity => format!("{}/{id}.json.gz", self.dir()),
            _ => format!("{}/{id}.json", self.dir()),
        }
    }

    fn route(self) -> &'static str {
        match self {
            Group::Summary => "materials/summary",
            Group::Elasticity => "materials/elasticity",
            Group::Robocrys => "materials/robocrys",
            Group::Dos => "materials/electronic_structure",
            Group::ChargeDensity => "materials/core",
        }
    }
}

/// Summary fields asked for the `structure` modality.
const STRUCTURE_FIELDS: &[&str] = &["material_id", "formula_pretty", "nsites", "structure"];
/// Summary fields asked for the `summary` modality (what import reads, plus context).
const SUMMARY_FIELDS: &[&str] = &[
    "material_id",
    "formula_pretty",
    "nsites",
    "symmetry",
    "formation_energy_per_atom",
    "energy_above_hull",
    "band_gap",
    "efermi",
    "is_metal",
    "is_gap_direct",
];
const ELASTICITY_FIELDS: &[&str] = &[
    "material_id",
    "bulk_modulus",
    "shear_modulus",
    "elastic_tensor",
    "homogeneous_poisson",
    "universal_anisotropy",
];
const ROBOCRYS_FIELDS: &[&str] = &["material_id", "description", "condensed_structure"];
/// The calc types whose charge density `mp-api` serves for a material.
const STATIC_CALC_TYPES: [&str; 2] = ["GGA Static", "GGA+U Static"];

/// Everything a fetch needs.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Output folder (created; resumed when it holds an earlier fetch).
    pub out: PathBuf,
    /// REST API base URL.
    pub endpoint: String,
    /// Parsed-data bucket base URL (anonymous reads).
    pub bucket_url: String,
    /// Bucket key of a DOS document; `{task_id}` is replaced.
    pub dos_key: String,
    /// Bucket key of a charge density; `{task_id}` is replaced.
    pub chgcar_key: String,
    /// The API key (sent only to `endpoint`).
    pub api_key: ApiKey,
    /// Materials to fetch; `None` = every material the summary route lists for `query`.
    pub material_ids: Option<Vec<String>>,
    /// Summary-route filters (`KEY=VALUE`, e.g. `has_props=charge_density`, `band_gap_min=0.5`),
    /// used when `material_ids` is `None`.
    pub query: Vec<(String, String)>,
    /// What to fetch.
    pub modalities: BTreeSet<Modality>,
    /// At most this many materials.
    pub limit: Option<usize>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Documents per REST request (`_limit`; also the material ids per request).
    pub page_size: usize,
    /// Retries, backoff and timeouts.
    pub retry: RetryPolicy,
    /// Ask again for materials an earlier run put on the skip list.
    pub retry_skipped: bool,
}

impl FetchOptions {
    /// Defaults for everything but the folder and the key: all modalities of all materials.
    pub fn new(out: impl Into<PathBuf>, api_key: ApiKey) -> Self {
        FetchOptions {
            out: out.into(),
            endpoint: DEFAULT_ENDPOINT.into(),
            bucket_url: DEFAULT_BUCKET_URL.into(),
            dos_key: DEFAULT_DOS_KEY.into(),
            chgcar_key: DEFAULT_CHGCAR_KEY.into(),
            api_key,
            material_ids: None,
            query: Vec::new(),
            modalities: Modality::ALL.into_iter().collect(),
            limit: None,
            concurrency: 8,
            page_size: 500,
            retry: RetryPolicy::default(),
            retry_skipped: false,
        }
    }
}

/// Progress of a fetch, sent from worker threads.
#[derive(Debug, Clone)]
pub enum Event {
    /// The material list is being read from the summary route; `found` so far.
    Listing { found: usize },
    /// A document kind starts: `total` materials, `done` of them already complete.
    Started {
        modality: &'static str,
        total: usize,
        done: usize,
    },
    /// `count` more materials of the kind are finished (written, skipped or failed).
    Advanced {
        modality: &'static str,
        count: usize,
    },
    /// A request is retried.
    Retry(RetryNote),
    /// A document could not be fetched (also in [`FetchSummary::failures`]).
    Failed(Failure),
}

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Document kind: `summary`, `elasticity`, `robocrys`, `dos`, `charge_density`.
    pub modality: String,
    /// MP material id.
    pub material_id: String,
    /// The task the document came from (bucket documents).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub task_id: Option<String>,
    /// Path relative to the output folder.
    pub path: String,
    /// Size of the written file, bytes.
    pub bytes: u64,
    /// SHA-256 of the written file, hex.
    pub sha256: String,
    /// Where it came from: the REST route or the bucket key (no host, so mirrors agree).
    pub source: String,
}

/// One line of `skipped.jsonl`: MP has no such document for this material.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    /// Document kind.
    pub modality: String,
    /// MP material id.
    pub material_id: String,
    /// Why (what was missing where).
    pub reason: String,
}

/// A document that could not be fetched this run (fetched again on the next run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// Document kind.
    pub modality: String,
    /// MP material ids concerned.
    pub material_ids: Vec<String>,
    /// The last error (never holds the key).
    pub reason: String,
}

/// Counts for one document kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindCount {
    /// Written this run.
    pub fetched: usize,
    /// Already complete from an earlier run.
    pub complete: usize,
    /// On the skip list (MP has none).
    pub skipped: usize,
    /// Failed this run.
    pub failed: usize,
    /// Bytes written this run.
    pub bytes: u64,
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchSummary {
    /// Materials asked for.
    pub materials: usize,
    /// Per document kind.
    pub kinds: BTreeMap<String, KindCount>,
    /// Leftover `.part` files of an interrupted run that were removed.
    pub partial_removed: usize,
    /// Documents that failed this run.
    pub failures: Vec<Failure>,
    /// The manifest file.
    pub manifest: PathBuf,
    /// The skip-list file.
    pub skipped_file: PathBuf,
    /// Wall time, s.
    pub seconds: f64,
}

/// Reads material ids from `arg`: a file (one id per line or comma-separated; `#` comments) when
/// such a file exists, else a comma-separated list.
pub fn parse_material_ids(arg: &str) -> Result<Vec<String>, FetchError> {
    let path = Path::new(arg);
    let (text, name) = if path.is_file() {
        (
            std::fs::read_to_string(path)
                .map_err(|e| FetchError::io(path, format!("cannot read: {e}")))?,
            Some(path.display().to_string()),
        )
    } else {
        (arg.to_string(), None)
    };
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for tok in line.split([',', ' ', '\t']) {
            let tok = tok.trim().trim_matches('"');
            if tok.is_empty() {
                continue;
            }
            let ok = tok
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
            if !ok {
                let problem = format!("{tok:?} is not a material id (like mp-149)");
                return Err(match &name {
                    Some(n) => FetchError::Config {
                        path: n.clone(),
                        place: format!("line {}", i + 1),
                        problem,
                    },
                    None => FetchError::Option {
                        option: "material-ids".into(),
                        problem,
                    },
                });
            }
            if seen.insert(tok.to_string()) {
                ids.push(tok.to_string());
            }
        }
    }
    if ids.is_empty() {
        return Err(FetchError::Option {
            option: "material-ids".into(),
            problem: format!("no ids in {arg:?}"),
        });
    }
    Ok(ids)
}

/// Parses `KEY=VALUE`.
pub fn parse_query(arg: &str) -> Result<(String, String), FetchError> {
    match arg.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().into(), v.trim().into())),
        _ => Err(FetchError::Option {
            option: "query".into(),
            problem: format!("{arg:?} is not KEY=VALUE (e.g. has_props=charge_density)"),
        }),
    }
}

/// The state shared by the workers of a run.
struct Run<'a> {
    opts: &'a FetchOptions,
    client: Client,
    out: PathBuf,
    manifest: Mutex<std::fs::File>,
    skipped_out: Mutex<std::fs::File>,
    done: HashMap<String, ManifestEntry>,
    skipped: BTreeSet<(String, String)>,
    counts: Mutex<BTreeMap<String, KindCount>>,
    failures: Mutex<Vec<Failure>>,
    fatal: Mutex<Option<FetchError>>,
    stop: AtomicBool,
    progress: &'a (dyn Fn(Event) + Sync),
}

/// Downloads what `opts` asks for into `opts.out`; see the crate docs. Stops early only for a
/// missing/rejected key, an unusable material list or a local I/O error; everything else is
/// counted in the summary.
pub fn fetch(
    opts: &FetchOptions,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<FetchSummary, FetchError> {
    let start = Instant::now();
    if opts.api_key.expose().is_empty() {
        return Err(FetchError::MissingKey {
            config: default_config_path().display().to_string(),
        });
    }
    if opts.modalities.is_empty() {
        return Err(FetchError::Option {
            option: "modalities".into(),
            problem: "nothing to fetch".into(),
        });
    }
    let out = opts.out.clone();
    let meta = out.join(META_DIR);
    std::fs::create_dir_all(&meta).map_err(|e| FetchError::io(&meta, e))?;
    let partial_removed = remove_partials(&out)?;
    let manifest_path = meta.join("manifest.jsonl");
    let skipped_path = meta.join("skipped.jsonl");
    let done = load_manifest(&out, &manifest_path)?;
    let skipped: BTreeSet<(String, String)> = if opts.retry_skipped {
        BTreeSet::new()
    } else {
        load_jsonl::<Skipped>(&skipped_path)?
            .into_iter()
            .map(|s| (s.modality, s.material_id))
            .collect()
    };
    if opts.retry_skipped {
        std::fs::write(&skipped_path, b"").map_err(|e| FetchError::io(&skipped_path, e))?;
    }
    let append = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| FetchError::io(p, e))
    };
    let run = Run {
        opts,
        client: Client::new(opts.api_key.clone(), opts.retry.clone()),
        out: out.clone(),
        manifest: Mutex::new(append(&manifest_path)?),
        skipped_out: Mutex::new(append(&skipped_path)?),
        done,
        skipped,
        counts: Mutex::new(BTreeMap::new()),
        failures: Mutex::new(Vec::new()),
        fatal: Mutex::new(None),
        stop: AtomicBool::new(false),
        progress,
    };

    let ids = match &opts.material_ids {
        Some(ids) => {
            let mut ids = ids.clone();
            if let Some(n) = opts.limit {
                ids.truncate(n);
            }
            ids
        }
        None => run.list_ids()?,
    };

    let mut groups = Vec::new();
    let want = |m: Modality| opts.modalities.contains(&m);
    if want(Modality::Structure) || want(Modality::Summary) {
        groups.push(Group::Summary);
    }
    if want(Modality::Elasticity) {
        groups.push(Group::Elasticity);
    }
    if want(Modality::Text) {
        groups.push(Group::Robocrys);
    }
    if want(Modality::Dos) {
        groups.push(Group::Dos);
    }
    if want(Modality::ChargeDensity) {
        groups.push(Group::ChargeDensity);
    }
    for g in groups {
        run.group(g, &ids);
        if let Some(e) = run.fatal.lock().map(|mut f| f.take()).unwrap_or(None) {
            return Err(e);
        }
    }
    drop(run.manifest);
    drop(run.skipped_out);
    // Sorted, one line per path (the last written wins): the same after any resume.
    let final_manifest = load_manifest(&out, &manifest_path)?;
    let mut entries: Vec<&ManifestEntry> = final_manifest.values().collect();
    entries.sort();
    write_jsonl(&manifest_path, &entries)?;
    let mut skips: Vec<Skipped> = load_jsonl::<Skipped>(&skipped_path)?;
    skips.sort();
    skips.dedup();
    write_jsonl(&skipped_path, &skips)?;

    Ok(FetchSummary {
        materials: ids.len(),
        kinds: run.counts.into_inner().unwrap_or_default(),
        partial_removed,
        failures: run.failures.into_inner().unwrap_or_default(),
        manifest: manifest_path,
        skipped_file: skipped_path,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The `data` list of an API answer.
fn data_of(body: Vec<u8>) -> Result<Vec<Map<String, Value>>, String> {
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))?;
    let Some(Value::Array(docs)) = v.get("data") else {
        return Err("no \"data\" list in the answer".into());
    };
    docs.iter()
        .enumerate()
        .map(|(i, d)| match d {
            Value::Object(m) => Ok(m.clone()),
            _ => Err(format!("data[{i}] is not a document object")),
        })
        .collect()
}

fn str_field<'v>(doc: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    doc.get(key).and_then(Value::as_str).map(str::trim)
}

impl Run<'_> {
    fn url(&self, route: &str, params: &[(&str, String)]) -> String {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!(
            "{}/{route}/?{}",
            self.opts.endpoint.trim_end_matches('/'),
            q.join("&")
        )
    }

    fn on_retry(&self) -> impl Fn(RetryNote) + '_ {
        |n| (self.progress)(Event::Retry(n))
    }

    /// Every material id the summary route lists for the query, paged with `_limit`/`_skip`.
    fn list_ids(&self) -> Result<Vec<String>, FetchError> {
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        let page = self.opts.page_size.max(1);
        let mut skip = 0usize;
        loop {
            let want = match self.opts.limit {
                Some(n) if ids.len() >= n => break,
                Some(n) => page.min(n - ids.len()),
                None => page,
            };
            let mut params: Vec<(&str, String)> = self
                .opts
                .query
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            params.push(("_fields", "material_id".into()));
            params.push(("_limit", want.to_string()));
            params.push(("_skip", skip.to_string()));
            let url = self.url("materials/summary", &params);
            let docs = match self.client.get(&url, true, &data_of, &self.on_retry())? {
                Got::Found(d) => d,
                Got::Missing => {
                    return Err(FetchError::Http {
                        url: url.split('?').next().unwrap_or("").into(),
                        problem: "HTTP 404: the summary route is not there (check --endpoint)"
                            .into(),
                    })
                }
            };
            let n = docs.len();
            for (i, d) in docs.iter().enumerate() {
                let id = str_field(d, "material_id").ok_or_else(|| FetchError::Http {
                    url: url.split('?').next().unwrap_or("").into(),
                    problem: format!("data[{i}] has no material_id"),
                })?;
                if seen.insert(id.to_string()) {
                    ids.push(id.to_string());
                }
            }
            (self.progress)(Event::Listing { found: ids.len() });
            skip += n;
            if n < want {
                break;
            }
        }
        if let Some(n) = self.opts.limit {
            ids.truncate(n);
        }
        Ok(ids)
    }

    fn count(&self, g: Group, f: impl FnOnce(&mut KindCount)) {
        if let Ok(mut c) = self.counts.lock() {
            f(c.entry(g.dir().to_string()).or_default());
        }
    }

    fn fail(&self, g: Group, ids: &[String], e: FetchError) {
        if matches!(e, FetchError::KeyRejected { .. } | FetchError::Io { .. }) {
            self.stop.store(true, Ordering::SeqCst);
            if let Ok(mut f) = self.fatal.lock() {
                f.get_or_insert(e);
            }
            return;
        }
        let failure = Failure {
            modality: g.dir().into(),
            material_ids: ids.to_vec(),
            reason: self.opts.api_key.scrub(&e.to_string()),
        };
        self.count(g, |c| c.failed += ids.len());
        (self.progress)(Event::Failed(failure.clone()));
        if let Ok(mut f) = self.failures.lock() {
            f.push(failure);
        }
    }

    fn skip(&self, g: Group, id: &str, reason: String) -> Result<(), FetchError> {
        let line = serde_json::to_string(&Skipped {
            modality: g.dir().into(),
            material_id: id.into(),
            reason,
        })
        .map_err(|e| FetchError::io(&self.out, e))?;
        let path = self.out.join(META_DIR).join("skipped.jsonl");
        let mut f = self
            .skipped_out
            .lock()
            .map_err(|_| FetchError::io(&path, "lock poisoned"))?;
        writeln!(f, "{line}").map_err(|e| FetchError::io(&path, e))?;
        self.count(g, |c| c.skipped += 1);
        Ok(())
    }

    /// Writes one document atomically and appends its manifest line.
    fn write_doc(
        &self,
        g: Group,
        id: &str,
        task_id: Option<&str>,
        source: String,
        bytes: &[u8],
    ) -> Result<(), FetchError> {
        let rel = g.file(id);
        let path = self.out.join(&rel);
        write_atomic(&path, bytes)?;
        let entry = ManifestEntry {
            modality: g.dir().into(),
            material_id: id.into(),
            task_id: task_id.map(str::to_string),
            path: rel,
            bytes: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
            source,
        };
        let line = serde_json::to_string(&entry).map_err(|e| FetchError::io(&path, e))?;
        let mpath = self.out.join(META_DIR).join("manifest.jsonl");
        let mut f = self
            .manifest
            .lock()
            .map_err(|_| FetchError::io(&mpath, "lock poisoned"))?;
        writeln!(f, "{line}").map_err(|e| FetchError::io(&mpath, e))?;
        f.flush().map_err(|e| FetchError::io(&mpath, e))?;
        self.count(g, |c| {
            c.fetched += 1;
            c.bytes += bytes.len() as u64;
        });
        Ok(())
    }

    fn group(&self, g: Group, ids: &[String]) {
        let is_done = |id: &String| self.done.contains_key(&g.file(id));
        let is_skipped = |id: &String| self.skipped.contains(&(g.dir().to_string(), id.clone()));
        let todo: Vec<String> = ids
            .iter()
            .filter(|id| !is_done(id) && !is_skipped(id))
            .cloned()
            .collect();
        let complete = ids.iter().filter(|id| is_done(id)).count();
        let skipped = ids.iter().filter(|id| is_skipped(id)).count();
        self.count(g, |c| {
            c.complete += complete;
            c.skipped += skipped;
        });
        (self.progress)(Event::Started {
            modality: g.dir(),
            total: ids.len(),
            done: complete + skipped,
        });
        let chunks: Vec<&[String]> = todo.chunks(self.opts.page_size.max(1)).collect();
        self.pool(chunks, |chunk| {
            let r = match g {
                Group::Dos => self.dos_chunk(chunk),
                Group::ChargeDensity => self.chgcar_chunk(chunk),
                _ => self.rest_chunk(g, chunk),
            };
            if let Err(e) = r {
                self.fail(g, chunk, e);
                (self.progress)(Event::Advanced {
                    modality: g.dir(),
                    count: chunk.len(),
                });
            }
        });
    }

    /// Runs `f` on every item with `concurrency` threads; stops handing out items after a
    /// fatal error.
    fn pool<T: Sync>(&self, items: Vec<T>, f: impl Fn(&T) + Sync) {
        let next = AtomicUsize::new(0);
        let n = self.opts.concurrency.clamp(1, 64).min(items.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..n {
                s.spawn(|| loop {
                    if self.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    f(item);
                });
            }
        });
    }

    /// One request's worth of material ids from a REST route, paged until the answer is short.
    fn query_ids(
        &self,
        route: &str,
        id_param: &str,
        ids: &[String],
        fields: &[&str],
        id_key: &str,
    ) -> Result<Vec<Map<String, Value>>, FetchError> {
        let mut all = Vec::new();
        let page = self.opts.page_size.max(1);
        let mut skip = 0usize;
        loop {
            let url = self.url(
                route,
                &[
                    (id_param, ids.join(",")),
                    ("_fields", fields.join(",")),
                    ("_limit", page.to_string()),
                    ("_skip", skip.to_string()),
                ],
            );
            let docs = match self.client.get(&url, true, &data_of, &self.on_retry())? {
                Got::Found(d) => d,
                Got::Missing => Vec::new(),
            };
            let n = docs.len();
            for (i, d) in docs.iter().enumerate() {
                if str_field(d, id_key).is_none() {
                    return Err(FetchError::Http {
                        url: url.split('?').next().unwrap_or("").into(),
                        problem: format!("data[{i}] has no {id_key}"),
                    });
                }
            }
            all.extend(docs);
            skip += n;
            if n < page || all.len() >= ids.len() {
                break;
            }
        }
        Ok(all)
    }

    fn rest_chunk(&self, g: Group, ids: &[String]) -> Result<(), FetchError> {
        let fields: Vec<&str> = match g {
            Group::Summary => {
                let mut f: BTreeSet<&str> = BTreeSet::new();
                if self.opts.modalities.contains(&Modality::Structure) {
                    f.extend(STRUCTURE_FIELDS);
                }
                if self.opts.modalities.contains(&Modality::Summary) {
                    f.extend(SUMMARY_FIELDS);
                }
                f.into_iter().collect()
            }
            Group::Elasticity => ELASTICITY_FIELDS.to_vec(),
            _ => ROBOCRYS_FIELDS.to_vec(),
        };
        let docs = self.query_ids(g.route(), "material_ids", ids, &fields, "material_id")?;
        let wanted: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
        let mut got = BTreeSet::new();
        for d in docs {
            let Some(id) = str_field(&d, "material_id").map(str::to_string) else {
                continue;
            };
            if !wanted.contains(id.as_str()) || !got.insert(id.clone()) {
                continue;
            }
            let bytes =
                serde_json::to_vec(&Value::Object(d)).map_err(|e| FetchError::io(&self.out, e))?;
            self.write_doc(g, &id, None, g.route().into(), &bytes)?;
        }
        for id in ids.iter().filter(|id| !got.contains(*id)) {
            self.skip(g, id, format!("not in {}", g.route()))?;
        }
        (self.progress)(Event::Advanced {
            modality: g.dir(),
            count: ids.len(),
        });
        Ok(())
    }

    fn bucket_url(&self, key_template: &str, task_id: &str) -> (String, String) {
        let key = key_template.replace("{task_id}", task_id);
        (
            format!("{}/{key}", self.opts.bucket_url.trim_end_matches('/')),
            key,
        )
    }

    /// DOS: task ids from the electronic-structure route, then one bucket document each.
    fn dos_chunk(&self, ids: &[String]) -> Result<(), FetchError> {
        let docs = self.query_ids(
            Group::Dos.route(),
            "material_ids",
            ids,
            &["material_id", "dos"],
            "material_id",
        )?;
        let mut tasks: BTreeMap<String, String> = BTreeMap::new();
        for d in &docs {
            if let (Some(id), Some(t)) = (str_field(d, "material_id"), dos_task_id(d)) {
                tasks.insert(id.to_string(), t);
            }
        }
        let mut singles = Vec::new();
        for id in ids {
            match tasks.get(id) {
                Some(t) => singles.push((id.clone(), t.clone())),
                None => {
                    self.skip(
                        Group::Dos,
                        id,
                        "no DOS task in materials/electronic_structure".into(),
                    )?;
                    self.advance(Group::Dos);
                }
            }
        }
        self.pool(singles, |(id, task)| {
            if let Err(e) = self.dos_one(id, task) {
                self.fail(Group::Dos, std::slice::from_ref(id), e);
            }
            self.advance(Group::Dos);
        });
        Ok(())
    }

    fn advance(&self, g: Group) {
        (self.progress)(Event::Advanced {
            modality: g.dir(),
            count: 1,
        });
    }

    fn dos_one(&self, id: &str, task: &str) -> Result<(), FetchError> {
        let (url, key) = self.bucket_url(&self.opts.dos_key, task);
        let check = |body: Vec<u8>| -> Result<Vec<u8>, String> {
            let text = gunzip_if_needed(&body)?;
            let mut doc: Map<String, Value> =
                serde_json::from_slice(&text).map_err(|e| format!("invalid JSON: {e}"))?;
            if !doc.contains_key("energies") {
                return Err("not a DOS document (no \"energies\")".into());
            }
            // The material's structure is the summary's; a second one would only conflict.
            doc.remove("structure");
            doc.insert("material_id".into(), Value::String(id.into()));
            doc.insert("task_id".into(), Value::String(task.into()));
            let json = serde_json::to_vec(&Value::Object(doc)).map_err(|e| e.to_string())?;
            gzip(&json).map_err(|e| e.to_string())
        };
        match self.client.get(&url, false, &check, &self.on_retry())? {
            Got::Found(bytes) => self.write_doc(Group::Dos, id, Some(task), key, &bytes),
            Got::Missing => self.skip(Group::Dos, id, format!("bucket has no {key}")),
        }
    }

    /// Charge density: static tasks from the core route, the latest from the tasks route, then
    /// the bucket's `chgcars/<task_id>.json.gz` (as `mp-api` picks it).
    fn chgcar_chunk(&self, ids: &[String]) -> Result<(), FetchError> {
        let g = Group::ChargeDensity;
        let docs = self.query_ids(
            "materials/core",
            "material_ids",
            ids,
            &["material_id", "calc_types"],
            "material_id",
        )?;
        let mut statics: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in &docs {
            let Some(id) = str_field(d, "material_id") else {
                continue;
            };
            if let Some(Value::Object(ct)) = d.get("calc_types") {
                let t: Vec<String> = ct
                    .iter()
                    .filter(|(_, v)| v.as_str().is_some_and(|s| STATIC_CALC_TYPES.contains(&s)))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !t.is_empty() {
                    statics.insert(id.to_string(), t);
                }
            }
        }
        let all_tasks: Vec<String> = statics.values().flatten().cloned().collect();
        let mut updated: HashMap<String, String> = HashMap::new();
        for chunk in all_tasks.chunks(self.opts.page_size.max(1)) {
            for d in self.query_ids(
                "materials/tasks",
                "task_ids",
                chunk,
                &["task_id", "last_updated"],
                "task_id",
            )? {
                if let Some(t) = str_field(&d, "task_id") {
                    let when = d
                        .get("last_updated")
                        .map(|v| match v {
                            // ISO strings, or MongoDB's {"$date": ...}: compared as text.
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    updated.insert(t.to_string(), when);
                }
            }
        }
        let mut singles = Vec::new();
        for id in ids {
            let latest = statics.get(id).and_then(|ts| {
                ts.iter()
                    .filter_map(|t| updated.get(t).map(|w| (w.clone(), t.clone())))
                    .max()
                    .map(|(_, t)| t)
            });
            match latest {
                Some(t) => singles.push((id.clone(), t)),
                None => {
                    self.skip(
                        g,
                        id,
                        "no GGA or GGA+U static task in materials/core".into(),
                    )?;
                    self.advance(g);
                }
            }
        }
        self.pool(singles, |(id, task)| {
            if let Err(e) = self.chgcar_one(id, task) {
                self.fail(g, std::slice::from_ref(id), e);
            }
            self.advance(g);
        });
        Ok(())
    }

    fn chgcar_one(&self, id: &str, task: &str) -> Result<(), FetchError> {
        let (url, key) = self.bucket_url(&self.opts.chgcar_key, task);
        let check = |body: Vec<u8>| -> Result<Vec<u8>, String> {
            let text = gunzip_if_needed(&body)?;
            let text = std::str::from_utf8(&text).map_err(|e| format!("not UTF-8: {e}"))?;
            let inner = chgcar_inner(text)?;
            // Parse the grid in full: a transfer cut inside it must not pass as a document.
            multimat_modalities::charge_density::read_mp_json(inner, &key)
                .map_err(|e| e.to_string())?;
            let body = inner.trim_start().strip_prefix('{').unwrap_or(inner);
            let head = serde_json::json!({"material_id": id, "task_id": task}).to_string();
            let mut json = Vec::with_capacity(inner.len() + head.len());
            json.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            if !body.trim_start().starts_with('}') {
                json.push(b',');
            }
            json.extend_from_slice(body.as_bytes());
            gzip(&json).map_err(|e| e.to_string())
        };
        match self.client.get(&url, false, &check, &self.on_retry())? {
            Got::Found(bytes) => self.write_doc(Group::ChargeDensity, id, Some(task), key, &bytes),
            Got::Missing => self.skip(Group::ChargeDensity, id, format!("bucket has no {key}")),
        }
    }
}

/// The DOS task id of an electronic-structure document: `dos.task_id`, else the first
/// `dos.total.<spin>.task_id`.
fn dos_task_id(doc: &Map<String, Value>) -> Option<String> {
    let dos = doc.get("dos")?.as_object()?;
    if let Some(t) = dos.get("task_id").and_then(Value::as_str) {
        return Some(t.trim().to_string());
    }
    let total = dos.get("total")?.as_object()?;
    ["1", "Spin.up", "up"]
        .iter()
        .filter_map(|k| total.get(*k))
        .chain(total.values())
        .find_map(|v| v.get("task_id").and_then(Value::as_str))
        .map(|s| s.trim().to_string())
}

/// The pymatgen Chgcar inside a bucket document (`{"data": {...Chgcar...}, ...}`), or the
/// document itself when it already is one (a mirror may serve it bare).
fn chgcar_inner(text: &str) -> Result<&str, String> {
    #[derive(Deserialize)]
    struct Wrapper<'a> {
        #[serde(rename = "@class")]
        class: Option<String>,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
    }
    let w: Wrapper = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    match (w.class.as_deref(), w.data) {
        (Some("Chgcar" | "VolumetricData"), _) => Ok(text),
        (_, Some(d)) if d.get().trim_start().starts_with('{') => Ok(d.get()),
        _ => Err("not a charge-density document (no Chgcar in \"data\")".into()),
    }
}

fn gunzip_if_needed(body: &[u8]) -> Result<Vec<u8>, String> {
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut out)
            .map_err(|e| format!("broken gzip: {e}"))?;
        Ok(out)
    } else {
        Ok(body.to_vec())
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    // Level 1: charge densities are tens of MB of JSON each; level 6 would cost several times
    // the CPU for about a tenth less disk.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, hex (to check a manifest against the files).
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut f = std::fs::File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| FetchError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Writes `path` atomically through `.<name>.part` beside it (the name [`remove_partials`]
/// recognises after a killed run).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| FetchError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    multimat_crystal::io::write_atomic_via(
        path,
        &dir.join(format!(".{name}.part")),
        |f| f.write_all(bytes).map_err(|e| FetchError::io(path, e)),
        |_, e| FetchError::io(path, e),
    )
}

/// Removes `.*.part` files left in the document folders by a killed run.
fn remove_partials(out: &Path) -> Result<usize, FetchError> {
    let mut n = 0;
    for g in [
        Group::Summary,
        Group::Elasticity,
        Group::Robocrys,
        Group::Dos,
        Group::ChargeDensity,
    ] {
        let dir = out.join(g.dir());
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".part") {
                std::fs::remove_file(e.path()).map_err(|err| FetchError::io(&e.path(), err))?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn load_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, FetchError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FetchError::io(path, e)),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            // A run killed mid-append leaves a cut last line: that document is fetched again.
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(FetchError::Config {
                    path: path.display().to_string(),
                    place: format!("line {}", i + 1),
                    problem: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// The manifest entries whose files are still there with the listed size, by path.
fn load_manifest(out: &Path, path: &Path) -> Result<HashMap<String, ManifestEntry>, FetchError> {
    let mut done = HashMap::new();
    for e in load_jsonl::<ManifestEntry>(path)? {
        let ok = std::fs::metadata(out.join(&e.path)).is_ok_and(|m| m.len() == e.bytes);
        if ok {
            done.insert(e.path.clone(), e);
        } else {
            done.remove(&e.path);
        }
    }
    Ok(done)
}

fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), FetchError> {
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r).map_err(|e| FetchError::io(path, e))?);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_list_and_file() {
        assert_eq!(
            parse_material_ids("mp-1, mp-2,mp-1").unwrap(),
            vec!["mp-1", "mp-2"]
        );
        assert!(parse_material_ids("mp-1;rm -rf").is_err());
        let p = std::env::temp_dir().join(format!("mpfetch-ids-{}.txt", std::process::id()));
        std::fs::write(&p, "# ids\nmp-3\nmp-4 # Li\n\nmp-5,mp-6\n").unwrap();
        assert_eq!(
            parse_material_ids(p.to_str().unwrap()).unwrap(),
            vec!["mp-3", "mp-4", "mp-5", "mp-6"]
        );
        std::fs::write(&p, "mp-3\nmp 4!\n").unwrap();
        let e = parse_material_ids(p.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn query_and_modalities_parse() {
        assert_eq!(
            parse_query("band_gap_min=0.5").unwrap(),
            ("band_gap_min".into(), "0.5".into())
        );
        assert!(parse_query("nokey").is_err());
        assert_eq!(
            Modality::from_name("charge_density"),
            Some(Modality::ChargeDensity)
        );
        assert_eq!(Modality::from_name("xrd"), None);
    }

    #[test]
    fn dos_task_ids_from_both_shapes() {
        let a: Map<String, Value> =
            serde_json::from_str(r#"{"dos": {"task_id": "mp-5"}}"#).unwrap();
        let b: Map<String, Value> =
            serde_json::from_str(r#"{"dos": {"total": {"1": {"task_id": "mp-6"}}}}"#).unwrap();
        let c: Map<String, Value> = serde_json::from_str(r#"{"dos": null}"#).unwrap();
        assert_eq!(dos_task_id(&a).as_deref(), Some("mp-5"));
        assert_eq!(dos_task_id(&b).as_deref(), Some("mp-6"));
        assert_eq!(dos_task_id(&c), None);
    }

    #[test]
    fn chgcar_unwraps_bucket_documents() {
        let wrapped = r#"{"task_id": "mp-1", "data": {"@class": "Chgcar", "data": {}}}"#;
        assert_eq!(
            chgcar_inner(wrapped).unwrap(),
            r#"{"@class": "Chgcar", "data": {}}"#
        );
        let bare = r#"{"@class": "Chgcar", "data": {"total": []}}"#;
        assert_eq!(chgcar_inner(bare).unwrap(), bare);
        assert!(chgcar_inner(r#"{"data": [1]}"#).is_err());
        assert!(chgcar_inner(r#"{"data": {"#).is_err());
    }
}
