//! The fine-tuned model and its folder: the crystal encoder plus a linear head
//! ([`Regressor`]), `model.json` ([`FinetunedModelConfig`]), the best-validation checkpoint
//! `best/` and where each run's folder lies in a job folder. Everything `predict` needs to load
//! a model, and nothing of the training loop.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::task::{TargetTransform, Task};
use crate::checkpoint::{read_json, save_weights, write_json, RunConfig, WEIGHTS_FILE};
use crate::error::{Result, TrainError};
use multimat_model::{CrystalConfig, CrystalEncoder, CrystalInput, CrystalKind, Preset};

/// `model.json` of one fine-tuned model.
pub const MODEL_FILE: &str = "model.json";
/// The best-validation checkpoint's folder.
pub const BEST_DIR: &str = "best";
pub(crate) const MODEL_FORMAT: &str = "multimat-finetune";

/// Which model a fine-tuning run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The crystal encoder of a pretraining run, then fine-tuned.
    Pretrained,
    /// The same architecture freshly initialised (the PotNet baseline).
    Scratch,
    /// CGCNN at the same preset, from scratch (spec §7 baseline).
    Cgcnn,
}

impl Variant {
    /// Folder and report name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Pretrained => "pretrained",
            Variant::Scratch => "scratch",
            Variant::Cgcnn => "cgcnn",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "pretrained" => Ok(Variant::Pretrained),
            "scratch" => Ok(Variant::Scratch),
            "cgcnn" => Ok(Variant::Cgcnn),
            other => Err(format!(
                "unknown variant `{other}`; use pretrained, scratch or cgcnn"
            )),
        }
    }
}

/// The crystal encoder plus the linear head: `[B graphs]` → `[B, outputs]`.
#[derive(Module, Debug)]
pub struct Regressor {
    /// The crystal encoder (weight names `crystal.Potnet.*` / `crystal.Cgcnn.*`, as in a
    /// pretraining run).
    pub crystal: CrystalEncoder,
    /// Linear(latent → outputs), no activation (spec §4.2).
    pub head: Linear,
}

impl Regressor {
    /// Predictions in training units.
    pub fn forward(&self, input: &CrystalInput) -> Result<Tensor<2>> {
        Ok(self.head.forward(self.crystal.forward(input)?))
    }
}

/// `model.json`: everything needed to rebuild a fine-tuned model and undo its transform.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetunedModelConfig {
    /// Always `multimat-finetune`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The task.
    pub task: Task,
    /// Outputs of the head.
    pub outputs: usize,
    /// Units of the predictions.
    pub units: String,
    /// Transform the head's outputs are in.
    pub target_transform: TargetTransform,
    /// Which variant this is.
    pub variant: Variant,
    /// The seed of this run.
    pub seed: u64,
    /// The crystal encoder.
    pub crystal: CrystalConfig,
    /// Width of the encoder output (the head's input).
    pub latent_dim: usize,
    /// The pretraining run the encoder started from, if any.
    pub pretrained_from: Option<String>,
    /// The store it was trained on, as given.
    pub store: String,
    /// The split file.
    pub split: String,
    /// Precision of `best/model.safetensors` (absent: f32, as `multimat finetune` writes it;
    /// a model folder's heads may be f16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_dtype: Option<crate::package::WeightsDtype>,
}

impl FinetunedModelConfig {
    /// Builds the model with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> Regressor {
        Regressor {
            crystal: self.crystal.init(device),
            head: LinearConfig::new(self.latent_dim, self.outputs).init(device),
        }
    }

    /// Reads and checks `DIR/model.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MODEL_FILE);
        if !path.exists() {
            return Err(TrainError::checkpoint(
                &path,
                "missing: not a fine-tuned model folder (written by `multimat finetune`)",
            ));
        }
        let c: Self = read_json(&path)?;
        if c.format != MODEL_FORMAT {
            return Err(TrainError::checkpoint(
                &path,
                format!("format is `{}`, expected `{MODEL_FORMAT}`", c.format),
            ));
        }
        if c.outputs != c.task.outputs() || c.latent_dim != c.crystal.output_dim() {
            return Err(TrainError::checkpoint(
                &path,
                "outputs or latent width disagree with the task and encoder",
            ));
        }
        Ok(c)
    }
}

/// `state.json` of the best checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestState {
    /// The epoch (1-based) whose weights these are.
    pub epoch: usize,
    /// Validation MAE in training (transformed) units: the selection metric.
    pub val_mae_transformed: f64,
    /// Validation MAE in task units.
    pub val_mae: f64,
}

/// Writes the best-validation checkpoint `RUN/best/` (weights + `state.json`), swapped in
/// with renames so that a crash leaves the previous or the new one complete.
pub(crate) fn save_best(run: &Path, model: &Regressor, state: &BestState) -> Result<()> {
    let tmp = run.join(format!("{BEST_DIR}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    save_weights(model, &tmp.join(WEIGHTS_FILE))?;
    write_json(&tmp.join("state.json"), state)?;
    let dir = run.join(BEST_DIR);
    let old = run.join(format!("{BEST_DIR}.old"));
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
    Ok(())
}

/// Loads a fine-tuned model folder (`model.json` + `best/model.safetensors`) onto `device`
/// in evaluation mode.
pub fn load_finetuned(dir: &Path, device: &Device) -> Result<(FinetunedModelConfig, Regressor)> {
    let config = FinetunedModelConfig::read(dir)?;
    let dtype = config
        .weights_dtype
        .unwrap_or(crate::package::WeightsDtype::F32);
    let model = crate::package::load_weights_as(
        config.init(device),
        &dir.join(BEST_DIR).join(WEIGHTS_FILE),
        dtype,
    )?
    .valid();
    Ok((config, model))
}

/// The folder of run (`variant`, `seed`) inside a job folder.
pub fn run_dir(out: &Path, variant: Variant, seed: u64) -> PathBuf {
    out.join(variant.name()).join(format!("seed-{seed}"))
}

/// The crystal encoder configurations of the job: the pretraining run's, or the preset's.
pub(crate) fn encoder_configs(
    from: Option<&RunConfig>,
    preset: Preset,
    variants: &[Variant],
) -> Result<Vec<(Variant, CrystalConfig)>> {
    let (preset, crystal) = match from {
        Some(rc) => (rc.pretrain.preset, rc.model.crystal.clone()),
        None => (preset, preset.crystal(CrystalKind::Potnet)),
    };
    variants
        .iter()
        .map(|&v| {
            Ok((
                v,
                match v {
                    Variant::Pretrained | Variant::Scratch => crystal.clone(),
                    // The baseline keeps the encoder's output width, so the heads compare.
                    Variant::Cgcnn => CrystalConfig::Cgcnn(
                        preset.cgcnn().with_embedding_dim(crystal.output_dim()),
                    ),
                },
            ))
        })
        .collect()
}
