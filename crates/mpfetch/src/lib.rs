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
mod files;
pub mod http;
pub mod key;
mod run;

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

pub use files::sha256_file;
pub use run::fetch;

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

    /// Parses a `--modalities` name; `density`, multimat's name of the modality everywhere
    /// else, is read as `charge_density` (the Materials Project's name, kept in the download
    /// folders and reports).
    pub fn from_name(s: &str) -> Option<Modality> {
        match s.trim() {
            "density" => Some(Modality::ChargeDensity),
            s => Modality::ALL.into_iter().find(|m| m.name() == s),
        }
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{chgcar_inner, dos_task_id};

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
        assert_eq!(
            Modality::from_name("density"),
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
