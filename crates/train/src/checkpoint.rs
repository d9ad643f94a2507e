//! Run directories and checkpoints.
//!
//! ```text
//! RUN/
//!   config.json          what was trained: RunConfig (pretraining config + model config + data)
//!   metrics.jsonl        one JSON object per line: step and epoch records
//!   checkpoint/          the latest completed epoch, replaced atomically after each epoch
//!     model.safetensors  weights, named by module path (what `embed`/`finetune` load)
//!     training.bpk       the same weights with their parameter ids (burnpack), for resuming
//!     optimizer.bpk      AdamW moments, keyed by those parameter ids
//!     state.json         TrainState: epochs completed, global step, ...
//!   checkpoints/epoch-NNNN/{model.safetensors,state.json}   kept copies (epoch 1, every keep_every)
//! ```
//!
//! A checkpoint is written to `checkpoint.tmp/` and swapped in with two renames, so a crash at
//! any moment leaves either the previous or the new checkpoint complete (`checkpoint.old/` is
//! picked up if the crash fell between the renames).

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::PretrainConfig;
use crate::error::{Result, TrainError};
use multimat_model::{ModelConfig, MultiMat};

/// `config.json` of a run.
pub const CONFIG_FILE: &str = "config.json";
/// The metrics log of a run.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The latest checkpoint's folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// Weights file inside a checkpoint.
pub const WEIGHTS_FILE: &str = "model.safetensors";
const TRAINING_FILE: &str = "training.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";
const RUN_FORMAT: &str = "multimat-run";

/// What a run trained and on which data; enough to rebuild the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    /// Always `multimat-run`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// `pretrain` (fine-tuning runs have their own layout).
    pub kind: String,
    /// The pretraining settings.
    pub pretrain: PretrainConfig,
    /// The model architecture.
    pub model: ModelConfig,
    /// The store the run was trained on, as given.
    pub store: String,
    /// Materials in that store.
    pub store_materials: usize,
    /// How the store's text vectors were made (`modalities/text/encoder.json`), if present.
    pub text_encoder: Option<serde_json::Value>,
    /// multimat version that wrote the run.
    pub multimat_version: String,
}

/// `state.json` of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Completed epochs (the next epoch to run is `epochs_completed + 1`).
    pub epochs_completed: usize,
    /// Optimiser steps taken so far.
    pub global_step: usize,
    /// Wall-clock seconds spent training so far (all sessions).
    pub seconds: f64,
    /// Mean training loss of the last completed epoch.
    pub train_loss: f64,
    /// Validation loss of the last completed epoch.
    pub val_loss: Option<f64>,
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::checkpoint(path, e.to_string()))?;
    multimat_crystal::io::write_atomic(path, format!("{text}\n").as_bytes())
        .map_err(|e| TrainError::io(path, e))
}

/// Reads JSON from `path` with errors naming the file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::checkpoint(path, e.to_string()))
}

impl RunConfig {
    /// Reads `RUN/config.json` and checks that it is a multimat run.
    pub fn read(run: &Path) -> Result<Self> {
        let path = run.join(CONFIG_FILE);
        if !path.exists() {
            return Err(TrainError::checkpoint(
                &path,
                "missing: not a multimat run directory (it is written by `multimat pretrain`)",
            ));
        }
        let config: RunConfig = read_json(&path)?;
        if config.format != RUN_FORMAT {
            return Err(TrainError::checkpoint(
                &path,
                format!("format is `{}`, expected `{RUN_FORMAT}`", config.format),
            ));
        }
        config
            .model
            .check()
            .map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        Ok(config)
    }

    /// A new run configuration.
    pub fn new(
        pretrain: PretrainConfig,
        model: ModelConfig,
        store: String,
        store_materials: usize,
        text_encoder: Option<serde_json::Value>,
    ) -> Self {
        Self {
            format: RUN_FORMAT.into(),
            version: 1,
            kind: "pretrain".into(),
            pretrain,
            model,
            store,
            store_materials,
            text_encoder,
            multimat_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The folder of the latest complete checkpoint of `run`, if any (falls back to
/// `checkpoint.old/` when a crash interrupted the swap).
pub fn latest_checkpoint(run: &Path) -> Option<PathBuf> {
    let dir = run.join(CHECKPOINT_DIR);
    if dir.join(STATE_FILE).exists() {
        return Some(dir);
    }
    let old = run.join(format!("{CHECKPOINT_DIR}.old"));
    old.join(STATE_FILE).exists().then_some(old)
}

/// Saves the model, the optimiser and `state` as the run's latest checkpoint; with `keep`
/// also copies the weights to `checkpoints/epoch-NNNN/`.
pub fn save_checkpoint(
    run: &Path,
    model: &MultiMat,
    optimizer: &ModuleOptimizer,
    state: &TrainState,
    keep: bool,
) -> Result<()> {
    let tmp = run.join(format!("{CHECKPOINT_DIR}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    save_weights(model, &tmp.join(WEIGHTS_FILE))?;
    let training = tmp.join(TRAINING_FILE);
    model
        .clone()
        .save_file(&training)
        .map_err(|e| TrainError::checkpoint(&training, format!("{e:?}")))?;
    let optim = tmp.join(OPTIMIZER_FILE);
    optimizer
        .save(&optim)
        .map_err(|e| TrainError::checkpoint(&optim, format!("{e:?}")))?;
    write_json(&tmp.join(STATE_FILE), state)?;

    let dir = run.join(CHECKPOINT_DIR);
    let old = run.join(format!("{CHECKPOINT_DIR}.old"));
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    if dir.exists() {
        fs::rename(&dir, &old).map_err(|e| TrainError::io(&dir, e))?;
    }
    fs::rename(&tmp, &dir).map_err(|e| TrainError::io(&tmp, e))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    }
    if keep {
        let kept = run
            .join("checkpoints")
            .join(format!("epoch-{:04}", state.epochs_completed));
        fs::create_dir_all(&kept).map_err(|e| TrainError::io(&kept, e))?;
        for f in [WEIGHTS_FILE, STATE_FILE] {
            fs::copy(dir.join(f), kept.join(f)).map_err(|e| TrainError::io(kept.join(f), e))?;
        }
    }
    Ok(())
}

/// Writes the weights as safetensors (tensor names = module paths, e.g.
/// `crystal.Potnet.fc_out.weight`).
pub fn save_weights<M: Module>(model: &M, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path).metadata("format", "multimat");
    model
        .save_into(&mut store)
        .map_err(|e| TrainError::checkpoint(path, e.to_string()))
}

/// Loads weights written by [`save_weights`] into `model`; every tensor must match.
pub fn load_weights<M: Module>(mut model: M, path: &Path) -> Result<M> {
    if !path.exists() {
        return Err(TrainError::checkpoint(path, "weights file is missing"));
    }
    let mut store = SafetensorsStore::from_file(path);
    let result = model
        .load_from(&mut store)
        .map_err(|e| TrainError::checkpoint(path, e.to_string()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let mut problems: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        problems.extend(
            result
                .missing
                .iter()
                .map(|(k, why)| format!("missing {k} ({why})")),
        );
        problems.truncate(5);
        return Err(TrainError::checkpoint(
            path,
            format!("weights do not fit the model: {}", problems.join("; ")),
        ));
    }
    Ok(model)
}

/// A checkpoint restored for resuming.
pub struct Restored {
    /// The model with its saved weights and parameter ids.
    pub model: MultiMat,
    /// The optimiser with its saved moments.
    pub optimizer: ModuleOptimizer,
    /// Where training stopped.
    pub state: TrainState,
}

/// Restores the latest checkpoint of `run` into `model` (freshly built from the run's config)
/// and `optimizer` (freshly configured).
pub fn restore(run: &Path, model: MultiMat, optimizer: ModuleOptimizer) -> Result<Restored> {
    let dir = latest_checkpoint(run).ok_or_else(|| {
        TrainError::checkpoint(
            run.join(CHECKPOINT_DIR),
            "no completed checkpoint to resume from (the run stopped before its first epoch ended)",
        )
    })?;
    let state: TrainState = read_json(&dir.join(STATE_FILE))?;
    let training = dir.join(TRAINING_FILE);
    let model = model
        .try_load_file(&training)
        .map_err(|e| TrainError::checkpoint(&training, format!("{e:?}")))?;
    let optim = dir.join(OPTIMIZER_FILE);
    let optimizer = optimizer
        .load(&optim)
        .map_err(|e| TrainError::checkpoint(&optim, format!("{e:?}")))?;
    Ok(Restored {
        model,
        optimizer,
        state,
    })
}

/// A trained model loaded for inference.
pub struct LoadedRun {
    /// The run's configuration.
    pub config: RunConfig,
    /// The model in evaluation mode on the requested device.
    pub model: MultiMat,
    /// Epochs the weights were trained for.
    pub epochs: usize,
}

/// Loads the latest weights of a pretraining run (or the weights of a model folder,
/// [`crate::package`]) onto `device` (a device without autodiff
/// for inference).
pub fn load_run(run: &Path, device: &Device) -> Result<LoadedRun> {
    let config = RunConfig::read(run)?;
    let (weights, dtype) = crate::package::weights_of(run)?;
    let epochs = if run.join(crate::package::PACKAGE_FILE).exists() {
        crate::package::PackageInfo::read(run)?.epochs
    } else {
        let dir = weights.parent().unwrap_or(run);
        read_json::<TrainState>(&dir.join(STATE_FILE))?.epochs_completed
    };
    let model = config.model.init(device)?;
    let model = crate::package::load_weights_as(model, &weights, dtype)?.valid();
    Ok(LoadedRun {
        config,
        model,
        epochs,
    })
}
