//! Model folders: a trained MultiMat packed for use, as matgl packs its models. The shipped
//! `models/multimat-base/` is one; `multimat models export` writes one from a pretraining run
//! and fine-tuning runs; every command that takes `--model` takes one, and uses the shipped
//! one when `--model` is not given ([`resolve_model`]).
//!
//! ```text
//! MODEL/
//!   config.json         the pretraining run's RunConfig (modalities, encoders, split, text encoder)
//!   model.safetensors   the pretrained weights, f16 (norm statistics f32) or f32; read as f32
//!   package.json        PackageInfo: name, weights dtype, epochs, the heads and their units
//!   card.md             data, training, held-out results, limitations, licence (first line: summary)
//!   split.json          the split the model was trained and evaluated on (held-out test part)
//!   heads/TASK/         one fine-tuned property model per task (model.json + best/model.safetensors),
//!                       what `multimat predict` loads
//! ```
//!
//! A pretraining run folder (`RUN/checkpoint/...`) is accepted wherever a model folder is: the
//! two differ only in where the weights lie ([`weights_of`]).

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{HalfPrecisionAdapter, ModuleSnapshot, SafetensorsStore};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    latest_checkpoint, read_json, write_json, RunConfig, CONFIG_FILE, WEIGHTS_FILE,
};
use crate::error::{Result, TrainError};
use crate::finetune::model::{FinetunedModelConfig, BEST_DIR, MODEL_FILE};

/// The shipped model's name (its folder under `models/`).
pub const DEFAULT_MODEL: &str = "multimat-base";
/// Environment variable naming a model folder to use when `--model` is not given.
pub const MODEL_ENV: &str = "MULTIMAT_MODEL";
/// Environment variable naming a folder that holds `models/NAME/` folders.
pub const HOME_ENV: &str = "MULTIMAT_HOME";
/// `package.json` of a model folder.
pub const PACKAGE_FILE: &str = "package.json";
/// The model card.
pub const CARD_FILE: &str = "card.md";
/// The folder of the fine-tuned heads.
pub const HEADS_DIR: &str = "heads";
/// The split file copied into a model folder.
pub const SPLIT_FILE: &str = "split.json";
/// Crystal embeddings of the structures the model was trained on (every shipped structure
/// for multimat-base): the default candidates of `discover`.
pub const CANDIDATES_FILE: &str = "candidates.parquet";
/// Formula and symmetry of each candidate, beside [`CANDIDATES_FILE`].
pub const CANDIDATE_INFO_FILE: &str = "candidates.json";
const PACKAGE_FORMAT: &str = "multimat-model";

/// Storage precision of a model folder's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsDtype {
    /// Linear, convolution, embedding and layer-norm weights in half precision; batch-norm
    /// statistics stay f32 (`running_var` underflows in f16).
    F16,
    /// Everything f32.
    F32,
}

/// One fine-tuned head of a model folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadInfo {
    /// Task name (`bulk_modulus`, `band_gap`, ...): the folder under `heads/`.
    pub task: String,
    /// Units of its predictions (`GPa`, `eV`, `eV/atom`, `probability`, ...).
    pub units: String,
}

/// `package.json`: what a model folder holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// Always `multimat-model`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The model's name.
    pub name: String,
    /// One line saying what it is (also the card's first line).
    pub summary: String,
    /// Precision of `model.safetensors`.
    pub weights_dtype: WeightsDtype,
    /// Pretraining epochs the weights had.
    pub epochs: usize,
    /// The fine-tuned heads, in `heads/` order.
    pub heads: Vec<HeadInfo>,
    /// multimat version that wrote it.
    pub multimat_version: String,
}

/// What is known of one candidate crystal besides its embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateInfo {
    /// Material id.
    pub id: String,
    /// Reduced formula.
    pub formula: String,
    /// Space-group number, when symmetry analysis found one.
    pub spacegroup: Option<i32>,
    /// Crystal system, when known.
    pub crystal_system: Option<String>,
}

impl CandidateInfo {
    /// The [`CANDIDATE_INFO_FILE`] in the folder of `candidates` by id (empty when there is
    /// none or it cannot be read: the information is only shown, never computed with).
    pub fn read_beside(candidates: &Path) -> std::collections::HashMap<String, CandidateInfo> {
        let path = candidates
            .parent()
            .unwrap_or(Path::new("."))
            .join(CANDIDATE_INFO_FILE);
        read_json::<Vec<CandidateInfo>>(&path)
            .map(|v| v.into_iter().map(|c| (c.id.clone(), c)).collect())
            .unwrap_or_default()
    }
}

/// Where a model's pretrained weights are and how they are stored: `MODEL/model.safetensors`
/// for a model folder, the latest checkpoint's for a pretraining run.
pub fn weights_of(dir: &Path) -> Result<(PathBuf, WeightsDtype)> {
    if dir.join(PACKAGE_FILE).exists() {
        let info = PackageInfo::read(dir)?;
        return Ok((dir.join(WEIGHTS_FILE), info.weights_dtype));
    }
    let ckpt = latest_checkpoint(dir).ok_or_else(|| {
        TrainError::checkpoint(
            dir.join(crate::checkpoint::CHECKPOINT_DIR),
            "no completed checkpoint yet (pretraining writes one at the end of each epoch), and no package.json (not a model folder either)",
        )
    })?;
    Ok((ckpt.join(WEIGHTS_FILE), WeightsDtype::F32))
}

/// Loads safetensors weights stored in `dtype` into `model` (parameters f32); every tensor
/// must match.
pub fn load_weights_as<M: Module>(model: M, path: &Path, dtype: WeightsDtype) -> Result<M> {
    match dtype {
        WeightsDtype::F32 => crate::checkpoint::load_weights(model, path),
        WeightsDtype::F16 => {
            if !path.exists() {
                return Err(TrainError::checkpoint(path, "weights file is missing"));
            }
            let mut store =
                SafetensorsStore::from_file(path).with_from_adapter(HalfPrecisionAdapter::new());
            let mut model = model;
            let result = model
                .load_from(&mut store)
                .map_err(|e| TrainError::checkpoint(path, e.to_string()))?;
            if !result.errors.is_empty() || !result.missing.is_empty() {
                return Err(TrainError::checkpoint(
                    path,
                    format!(
                        "weights do not fit the model: {} errors, {} missing",
                        result.errors.len(),
                        result.missing.len()
                    ),
                ));
            }
            Ok(model)
        }
    }
}

/// Writes `model`'s weights in `dtype` to `path`.
pub fn save_weights_as<M: Module>(model: &M, path: &Path, dtype: WeightsDtype) -> Result<()> {
    match dtype {
        WeightsDtype::F32 => crate::checkpoint::save_weights(model, path),
        WeightsDtype::F16 => {
            let mut store = SafetensorsStore::from_file(path)
                .metadata("format", "multimat")
                .metadata("dtype", "f16")
                .with_to_adapter(HalfPrecisionAdapter::new());
            model
                .save_into(&mut store)
                .map_err(|e| TrainError::checkpoint(path, e.to_string()))
        }
    }
}

impl PackageInfo {
    /// Reads and checks `MODEL/package.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(PACKAGE_FILE);
        let info: PackageInfo = read_json(&path)?;
        if info.format != PACKAGE_FORMAT {
            return Err(TrainError::checkpoint(
                &path,
                format!("format is `{}`, expected `{PACKAGE_FORMAT}`", info.format),
            ));
        }
        Ok(info)
    }
}

/// A model folder (or pretraining run) found on disk, for `multimat models`.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// Where it is.
    pub dir: PathBuf,
    /// Its name (the package's, or the folder name of a run).
    pub name: String,
    /// One line about it.
    pub summary: String,
    /// Its modalities.
    pub modalities: Vec<String>,
    /// Latent width.
    pub latent_dim: usize,
    /// Its fine-tuned heads (none for a plain run).
    pub heads: Vec<HeadInfo>,
    /// How it was found (`--model`, `$MULTIMAT_MODEL`, `shipped`, ...).
    pub found_by: String,
}

impl ModelEntry {
    /// Describes the model folder or pretraining run at `dir`.
    pub fn open(dir: &Path, found_by: &str) -> Result<Self> {
        let config = RunConfig::read(dir)?;
        let (name, summary, heads) = if dir.join(PACKAGE_FILE).exists() {
            let info = PackageInfo::read(dir)?;
            (info.name, info.summary, info.heads)
        } else {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string());
            (
                name,
                "a pretraining run (no fine-tuned heads)".into(),
                vec![],
            )
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
            summary,
            modalities: config
                .model
                .modalities()
                .iter()
                .map(|m| m.name().to_string())
                .collect(),
            latent_dim: config.model.latent_dim,
            heads,
            found_by: found_by.into(),
        })
    }
}

/// The places the shipped model is looked for, in order, each with how it was found:
/// `$MULTIMAT_MODEL`; `$MULTIMAT_HOME/models/multimat-base`; `models/multimat-base` beside
/// the executable or in `../share/multimat/` above it (an installed copy); the source tree
/// the binary was built from (so `cargo install --path crates/cli` finds the clone's model);
/// `$XDG_DATA_HOME` (or `~/.local/share`)`/multimat/models/multimat-base`.
pub fn default_model_candidates() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(MODEL_ENV) {
        out.push((PathBuf::from(p), format!("${MODEL_ENV}")));
    }
    if let Some(p) = std::env::var_os(HOME_ENV) {
        out.push((
            PathBuf::from(p).join("models").join(DEFAULT_MODEL),
            format!("${HOME_ENV}"),
        ));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push((
            exe_dir.join("models").join(DEFAULT_MODEL),
            "beside the executable".into(),
        ));
        out.push((
            exe_dir.join("../share/multimat/models").join(DEFAULT_MODEL),
            "installed share folder".into(),
        ));
    }
    out.push((
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models")
            .join(DEFAULT_MODEL),
        "the source tree it was built from".into(),
    ));
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(d) = data_home {
        out.push((
            d.join("multimat/models").join(DEFAULT_MODEL),
            "user data folder".into(),
        ));
    }
    out
}

/// The model folder to use: `given` as is, else the first of [`default_model_candidates`]
/// that holds a model; the error lists every place looked at.
pub fn resolve_model(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let candidates = default_model_candidates();
    for (dir, _) in &candidates {
        if dir.join(CONFIG_FILE).exists() {
            return Ok(dir.clone());
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|(d, how)| format!("{} ({how})", d.display()))
        .collect();
    Err(TrainError::Request(format!(
        "no --model given and the shipped model `{DEFAULT_MODEL}` was not found; looked in: {}. Pass --model DIR or set {MODEL_ENV}",
        looked.join("; ")
    )))
}

/// The fine-tuned head `task` of a model folder, or an error listing the heads it has.
pub fn head_dir(model: &Path, task: &str) -> Result<PathBuf> {
    let info = PackageInfo::read(model)?;
    if info.heads.iter().any(|h| h.task == task) {
        return Ok(model.join(HEADS_DIR).join(task));
    }
    Err(TrainError::Request(format!(
        "{} has no `{task}` head; it has: {}",
        model.display(),
        info.heads
            .iter()
            .map(|h| h.task.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// What [`export`] packs.
#[derive(Debug, Clone)]
pub struct ExportSpec {
    /// The pretraining run.
    pub run: PathBuf,
    /// Fine-tuned run folders (each with `model.json` and `best/`), one per task.
    pub heads: Vec<PathBuf>,
    /// The model's name.
    pub name: String,
    /// Its one-line summary.
    pub summary: String,
    /// The card's Markdown (its first line should be the summary).
    pub card: String,
    /// Weight precision.
    pub dtype: WeightsDtype,
    /// The store the run was trained on (its split file is copied into the folder).
    pub store: Option<PathBuf>,
}

/// Writes the model folder `out` (created; refused when it holds anything but a previous
/// export) from `spec`. The pretrained weights are re-saved in `spec.dtype`, each head's
/// weights likewise.
pub fn export(spec: &ExportSpec, out: &Path, device: &burn::tensor::Device) -> Result<PackageInfo> {
    let loaded = crate::checkpoint::load_run(&spec.run, device)?;
    if out.exists() && !out.join(PACKAGE_FILE).exists() {
        let empty = fs::read_dir(out)
            .map_err(|e| TrainError::io(out, e))?
            .next()
            .is_none();
        if !empty {
            return Err(TrainError::Request(format!(
                "{} exists and is not a model folder; give an empty or new folder",
                out.display()
            )));
        }
    }
    fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    write_json(&out.join(CONFIG_FILE), &loaded.config)?;
    save_weights_as(&loaded.model, &out.join(WEIGHTS_FILE), spec.dtype)?;
    let epochs = loaded.epochs;
    if let Some(store) = &spec.store {
        let split = store
            .join("splits")
            .join(format!("{}.json", loaded.config.pretrain.split));
        fs::copy(&split, out.join(SPLIT_FILE)).map_err(|e| TrainError::io(&split, e))?;
    }
    drop(loaded);
    // package.json first, so that the candidates are embedded by the saved (maybe f16)
    // weights through the same loading path every user goes through.
    let mut info = PackageInfo {
        format: PACKAGE_FORMAT.into(),
        version: 1,
        name: spec.name.clone(),
        summary: spec.summary.clone(),
        weights_dtype: spec.dtype,
        epochs,
        heads: Vec::new(),
        multimat_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&out.join(PACKAGE_FILE), &info)?;
    if let Some(store) = &spec.store {
        let session = crate::session::Session::open(
            out,
            store,
            crate::session::Part::All,
            64,
            device.clone(),
        )?;
        let emb = session.embed(multimat_model::Modality::Crystal, &mut |_, _| {})?;
        let path = out.join(CANDIDATES_FILE);
        emb.write(&path)
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        let s = &session.store;
        let rows: Vec<CandidateInfo> = emb
            .ids
            .iter()
            .filter_map(|id| s.index_of(id))
            .map(|i| CandidateInfo {
                id: s.ids()[i].clone(),
                formula: s.formulas()[i].clone(),
                spacegroup: s.spacegroups()[i],
                crystal_system: s.crystal_systems()[i].clone(),
            })
            .collect();
        write_json(&out.join(CANDIDATE_INFO_FILE), &rows)?;
    }
    let heads_root = out.join(HEADS_DIR);
    if heads_root.exists() {
        fs::remove_dir_all(&heads_root).map_err(|e| TrainError::io(&heads_root, e))?;
    }
    let mut heads = Vec::new();
    for h in &spec.heads {
        let (config, model) = crate::finetune::model::load_finetuned(h, device)?;
        let task = config.task.name().to_string();
        let dir = heads_root.join(&task);
        fs::create_dir_all(dir.join(BEST_DIR)).map_err(|e| TrainError::io(&dir, e))?;
        let mut config: FinetunedModelConfig = config;
        config.weights_dtype = Some(spec.dtype);
        write_json(&dir.join(MODEL_FILE), &config)?;
        save_weights_as(&model, &dir.join(BEST_DIR).join(WEIGHTS_FILE), spec.dtype)?;
        heads.push(HeadInfo {
            task,
            units: config.units.clone(),
        });
    }
    info.heads = heads;
    write_json(&out.join(PACKAGE_FILE), &info)?;
    multimat_crystal::io::write_atomic(&out.join(CARD_FILE), spec.card.as_bytes())
        .map_err(|e| TrainError::io(out.join(CARD_FILE), e))?;
    Ok(info)
}
