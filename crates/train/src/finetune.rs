//! Fine-tuning for property prediction (spec §4.2): the crystal encoder plus a linear head,
//! every weight trainable, MSE on the (optionally log10-transformed) targets, AdamW with
//! warm-up + cosine, the best-validation checkpoint kept and the test split evaluated once with
//! it. One job runs any of three variants on the same split and seeds: the pretrained encoder
//! of a `multimat pretrain` run, the same network from scratch (the PotNet baseline) and CGCNN.
//!
//! ```text
//! FT/
//!   config.json                     the job: task, transform, hyper-parameters, variants
//!   results.json, results.md        per variant per seed test MAE/MSE, mean ± std
//!   VARIANT/seed-S/                 one training run (VARIANT = pretrained, scratch, cgcnn)
//!     model.json                    FinetunedModelConfig: what `predict` rebuilds
//!     best/model.safetensors        weights of the epoch with the lowest validation MAE
//!     best/state.json               that epoch and its validation metrics
//!     metrics.jsonl                 one line per epoch: train loss, validation MAE, lr
//!     test_predictions.json         the test materials, targets and predictions (task units)
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use multimat_dataset::{batches, load_split, save_split, split_ids, Split, Store};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    latest_checkpoint, load_weights, read_json, save_weights, write_json, RunConfig, WEIGHTS_FILE,
};
use crate::data::CrystalGraphs;
use crate::device::parse_device;
use crate::error::{Result, TrainError};
use crate::schedule::WarmupCosine;
use multimat_model::{CrystalConfig, CrystalEncoder, CrystalInput, CrystalKind, Preset};

/// `model.json` of one fine-tuned model.
pub const MODEL_FILE: &str = "model.json";
/// The best-validation checkpoint's folder.
pub const BEST_DIR: &str = "best";
/// Per-run test predictions.
pub const TEST_PREDICTIONS_FILE: &str = "test_predictions.json";
/// The job's results.
pub const RESULTS_FILE: &str = "results.json";
/// The job's comparison table.
pub const RESULTS_MD_FILE: &str = "results.md";
const MODEL_FORMAT: &str = "multimat-finetune";
const JOB_FORMAT: &str = "multimat-finetune-job";
/// Width of the elastic-tensor target: Voigt lower triangle rows 1–5 (spec §1.6).
pub const ELASTIC_OUTPUTS: usize = 15;

/// What to predict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A numeric label column of the store (`bulk_modulus`, `band_gap`, ...): one output.
    Label(String),
    /// The 15 stored elastic-tensor components (GPa).
    ElasticTensor,
}

impl Task {
    /// Resolves a task name against `store`: `elastic_tensor` or one of its numeric labels.
    /// Unknown names and tasks without any value are errors that list what the store has.
    pub fn resolve(name: &str, store: &Store) -> Result<Self> {
        let name = name.trim();
        let available = || {
            let mut names: Vec<String> = store.label_names().to_vec();
            if store.elastic_tensors().iter().any(Option::is_some) {
                names.push("elastic_tensor".into());
            }
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let task = if name == "elastic_tensor" {
            Task::ElasticTensor
        } else if store.label_names().iter().any(|l| l == name) {
            Task::Label(name.to_string())
        } else {
            return Err(TrainError::config(
                "--task",
                format!(
                    "unknown task `{name}`: {} has no such label; its tasks are: {}",
                    store.dir().display(),
                    available()
                ),
            ));
        };
        let n = task.targets(store)?.iter().filter(|t| t.is_some()).count();
        if n == 0 {
            return Err(TrainError::config(
                "--task",
                format!(
                    "`{name}`: no material of {} has a finite value; tasks with values: {}",
                    store.dir().display(),
                    available()
                ),
            ));
        }
        Ok(task)
    }

    /// The task's name (the label, or `elastic_tensor`).
    pub fn name(&self) -> &str {
        match self {
            Task::Label(l) => l,
            Task::ElasticTensor => "elastic_tensor",
        }
    }

    /// Number of outputs of the head.
    pub fn outputs(&self) -> usize {
        match self {
            Task::Label(_) => 1,
            Task::ElasticTensor => ELASTIC_OUTPUTS,
        }
    }

    /// Units of the targets, for reports.
    pub fn units(&self) -> &'static str {
        let name = self.name();
        if name == "elastic_tensor" || name.contains("modulus") {
            "GPa"
        } else if name.contains("formation_energy") || name.contains("e_form") {
            "eV/atom"
        } else if name.contains("gap") {
            "eV"
        } else {
            "label units"
        }
    }

    /// The targets of every material of `store` (`None` where it has no finite value).
    pub fn targets(&self, store: &Store) -> Result<Vec<Option<Vec<f64>>>> {
        Ok(match self {
            Task::Label(l) => store
                .label(l)?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()).map(|x| vec![x]))
                .collect(),
            Task::ElasticTensor => store
                .elastic_tensors()
                .iter()
                .map(|t| {
                    t.filter(|c| c.iter().all(|x| x.is_finite()))
                        .map(|c| c.iter().map(|&x| x as f64).collect())
                })
                .collect(),
        })
    }
}

/// Transform applied to the targets before training; predictions are mapped back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetTransform {
    /// Raw targets (the reference: GPa, eV; spec gotcha 13).
    #[default]
    None,
    /// log10 of the target, as Matbench reports moduli; needs positive targets.
    Log10,
}

impl std::str::FromStr for TargetTransform {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "none" | "raw" => Ok(TargetTransform::None),
            "log10" => Ok(TargetTransform::Log10),
            other => Err(format!(
                "unknown target transform `{other}`; use none or log10"
            )),
        }
    }
}

impl TargetTransform {
    /// The name written in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            TargetTransform::None => "none",
            TargetTransform::Log10 => "log10",
        }
    }

    /// Whether `y` (task units) can be transformed.
    pub fn accepts(self, y: f64) -> bool {
        match self {
            TargetTransform::None => y.is_finite(),
            TargetTransform::Log10 => y.is_finite() && y > 0.0,
        }
    }

    /// Task units → training units.
    pub fn forward(self, y: f64) -> f64 {
        match self {
            TargetTransform::None => y,
            TargetTransform::Log10 => y.log10(),
        }
    }

    /// Training units → task units.
    pub fn inverse(self, x: f64) -> f64 {
        match self {
            TargetTransform::None => x,
            TargetTransform::Log10 => 10f64.powf(x),
        }
    }
}

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

/// Fine-tuning settings. Defaults are the reference's (spec §4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    /// `elastic_tensor` or a numeric label of the store (`bulk_modulus`, `band_gap`, ...).
    pub task: String,
    /// Target transform (default none: raw GPa/eV as the reference).
    pub target_transform: TargetTransform,
    /// Architecture preset when no pretraining run is given (with one, the run's is used).
    pub preset: Preset,
    /// Batch size (reference 128).
    pub batch_size: usize,
    /// Epochs (reference 200; all are run, the best validation epoch is kept).
    pub epochs: usize,
    /// Linear warm-up length in epochs (reference 20), then cosine to 0.
    pub warmup_epochs: f64,
    /// Peak learning rate (reference 1e-4; not scaled by the batch size).
    pub lr: f64,
    /// AdamW decoupled weight decay on every parameter (reference 0.05).
    pub weight_decay: f64,
    /// AdamW β₁, β₂ (reference 0.9, 0.95).
    pub betas: [f64; 2],
    /// AdamW ε (PyTorch default 1e-8).
    pub eps: f64,
    /// Clip the global gradient norm (reference: off).
    pub clip_grad_norm: Option<f64>,
    /// Seed of the first run (weight initialisation of the head/encoder and batch order).
    pub seed: u64,
    /// Runs per variant, with seeds `seed`, `seed + 1`, ...
    pub seeds: usize,
    /// Split file name (default `finetune-TASK`), created over the materials with the label.
    pub split: Option<String>,
    /// Seed of the split (reference 42).
    pub split_seed: u64,
    /// Train/val/test fractions of a new split (reference 70/20/10).
    pub split_ratios: [f64; 3],
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Worker threads for CPU tensor work (0 = all cores).
    pub threads: usize,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            task: String::new(),
            target_transform: TargetTransform::None,
            preset: Preset::Paper,
            batch_size: 128,
            epochs: 200,
            warmup_epochs: 20.0,
            lr: 1e-4,
            weight_decay: 0.05,
            betas: [0.9, 0.95],
            eps: 1e-8,
            clip_grad_norm: None,
            seed: 42,
            seeds: 1,
            split: None,
            split_seed: 42,
            split_ratios: [0.7, 0.2, 0.1],
            device: "cpu".into(),
            threads: 0,
        }
    }
}

impl FinetuneConfig {
    /// Checks every value; `source` names the configuration in errors.
    pub fn validated(self, source: &str) -> Result<Self> {
        let bad = |key: &str, problem: String| {
            Err(TrainError::config(format!("{source}: {key}"), problem))
        };
        if self.task.trim().is_empty() {
            return bad(
                "task",
                "no task given (e.g. bulk_modulus, band_gap, elastic_tensor)".into(),
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.seeds == 0 {
            return bad("seeds", "must be at least 1".into());
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.lr) {
            return bad(
                "lr",
                format!("must be positive and finite, got {}", self.lr),
            );
        }
        if !(self.warmup_epochs.is_finite() && self.warmup_epochs >= 0.0) {
            return bad(
                "warmup_epochs",
                format!("must be >= 0, got {}", self.warmup_epochs),
            );
        }
        crate::config::check_adamw(
            self.weight_decay,
            self.betas,
            self.eps,
            self.clip_grad_norm,
            source,
        )?;
        let r = self.split_ratios;
        if !(r.iter().all(|x| x.is_finite() && *x > 0.0) && r.iter().sum::<f64>() <= 1.0 + 1e-9) {
            return bad("split_ratios", format!("fine-tuning needs train, val and test parts: all > 0 with a sum <= 1, got {r:?}"));
        }
        parse_device(&self.device)
            .map_err(|p| TrainError::config(format!("{source}: device"), p))?;
        Ok(self)
    }

    /// The split file's name: `split`, or `finetune-TASK`.
    pub fn split_name(&self) -> String {
        self.split
            .clone()
            .unwrap_or_else(|| format!("finetune-{}", self.task.trim()))
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
        if c.outputs != c.task.outputs() || c.latent_dim != crystal_latent(&c.crystal) {
            return Err(TrainError::checkpoint(
                &path,
                "outputs or latent width disagree with the task and encoder",
            ));
        }
        Ok(c)
    }
}

fn crystal_latent(c: &CrystalConfig) -> usize {
    match c {
        CrystalConfig::Potnet(p) => p.embedding_dim,
        CrystalConfig::Cgcnn(p) => p.embedding_dim,
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

/// Regression metrics over all samples and all output components.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean absolute error in task units (GPa, eV).
    pub mae: f64,
    /// Mean squared error in task units².
    pub mse: f64,
    /// Mean absolute error in training units (equal to `mae` without a transform).
    pub mae_transformed: f64,
    /// Mean squared error in training units.
    pub mse_transformed: f64,
}

/// Mean absolute error over all samples and components (spec §4.2): Σ|p − t| / len.
/// NaN for empty input; `pred` and `target` must have the same length.
pub fn mae(pred: &[f64], target: &[f64]) -> f64 {
    debug_assert_eq!(pred.len(), target.len());
    pred.iter()
        .zip(target)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / pred.len() as f64
}

/// Mean squared error over all samples and components: Σ(p − t)² / len.
pub fn mse(pred: &[f64], target: &[f64]) -> f64 {
    debug_assert_eq!(pred.len(), target.len());
    pred.iter()
        .zip(target)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / pred.len() as f64
}

/// Mean and standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for a single seed).
    pub std: f64,
}

impl MeanStd {
    /// Of `values` (NaN mean when empty).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Self { mean, std }
    }
}

/// One line of a run's `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneEpochRecord {
    /// Always `epoch`.
    pub event: String,
    /// The variant.
    pub variant: Variant,
    /// The seed.
    pub seed: u64,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training MSE over the epoch's batches (training units).
    pub train_loss: f64,
    /// Validation metrics (evaluation mode).
    pub val: Metrics,
    /// Whether this epoch became the best checkpoint.
    pub best: bool,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Wall-clock seconds of the epoch (validation and checkpoint included).
    pub seconds: f64,
}

/// The outcome of one (variant, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The seed.
    pub seed: u64,
    /// The epoch of the best checkpoint, the one tested.
    pub best_epoch: usize,
    /// Validation metrics of that epoch.
    pub val: Metrics,
    /// Test metrics of the best checkpoint, evaluated once.
    pub test: Metrics,
    /// The run's folder.
    pub dir: PathBuf,
}

/// All runs of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// The variant.
    pub variant: Variant,
    /// `potnet` or `cgcnn`.
    pub encoder: CrystalKind,
    /// The pretraining run, for `pretrained`.
    pub pretrained_from: Option<String>,
    /// Trainable parameters (encoder + head).
    pub parameters: usize,
    /// One entry per seed.
    pub runs: Vec<RunResult>,
    /// Test MAE over seeds, task units.
    pub test_mae: MeanStd,
    /// Test MSE over seeds, task units².
    pub test_mse: MeanStd,
    /// Test MAE over seeds, training units.
    pub test_mae_transformed: MeanStd,
}

/// Sizes of the parts of the split that were used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSizes {
    /// Training materials.
    pub train: usize,
    /// Validation materials.
    pub val: usize,
    /// Test materials.
    pub test: usize,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneResults {
    /// The task.
    pub task: String,
    /// Outputs per material.
    pub outputs: usize,
    /// Units of MAE (MSE is in units²).
    pub units: String,
    /// The target transform used in training.
    pub target_transform: TargetTransform,
    /// How the best epoch was chosen.
    pub selection: String,
    /// The split file (`STORE/splits/NAME.json`).
    pub split: String,
    /// Whether an existing split file was reused.
    pub split_reused: bool,
    /// Materials used per part (those with the label, a graph for every variant and, under
    /// log10, positive targets).
    pub sizes: SplitSizes,
    /// Split members left out because a target was not positive (log10 only).
    pub excluded_nonpositive: usize,
    /// Split members left out because a crystal graph failed to build.
    pub excluded_without_graph: usize,
    /// Epochs per run.
    pub epochs: usize,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// One entry per variant, in the order run.
    pub variants: Vec<VariantResult>,
}

/// A fine-tuning job.
pub struct FinetuneJob<'a> {
    /// The dataset store (with its PotNet graph cache for PotNet variants).
    pub store: &'a Store,
    /// How the store was named by the user (recorded).
    pub store_name: String,
    /// Settings.
    pub config: FinetuneConfig,
    /// A pretraining run (`multimat pretrain --out RUN`); needed by `Variant::Pretrained` and
    /// sets the architecture of the other variants.
    pub from: Option<PathBuf>,
    /// Variants to run, in this order, each on the same split and seeds.
    pub variants: Vec<Variant>,
    /// The output folder (must not hold a job already).
    pub out: PathBuf,
}

/// What the job reports while it runs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The split is ready.
    Prepared {
        /// Split name.
        split: &'a str,
        /// Reused from disk.
        reused: bool,
        /// Materials per part.
        sizes: SplitSizes,
        /// Left out for a non-positive target (log10).
        excluded_nonpositive: usize,
        /// Left out for a missing graph.
        excluded_without_graph: usize,
    },
    /// A run starts.
    Start {
        /// Variant.
        variant: Variant,
        /// Seed.
        seed: u64,
        /// Epochs.
        epochs: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
        /// Trainable parameters.
        parameters: usize,
    },
    /// One optimiser step finished.
    Step {
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        step: usize,
        /// Batch MSE (training units).
        loss: f64,
        /// Learning rate used.
        lr: f64,
    },
    /// An epoch finished.
    Epoch(&'a FinetuneEpochRecord),
    /// A run finished and its best checkpoint was tested.
    Tested {
        /// Variant.
        variant: Variant,
        /// The run's result.
        result: &'a RunResult,
    },
}

/// `config.json` of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneJobRecord {
    /// Always `multimat-finetune-job`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The settings.
    pub config: FinetuneConfig,
    /// The task's resolved form.
    pub task: Task,
    /// The split file.
    pub split: String,
    /// The pretraining run given, if any.
    pub from: Option<String>,
    /// The store, as given.
    pub store: String,
    /// Variants and their encoder configurations.
    pub variants: Vec<(Variant, CrystalConfig)>,
    /// multimat version.
    pub multimat_version: String,
}

struct Prepared {
    task: Task,
    targets: Vec<Option<Vec<f64>>>,
    train: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
}

/// Loads or creates the split of the materials with the task's target.
fn task_split(
    store: &Store,
    targets: &[Option<Vec<f64>>],
    config: &FinetuneConfig,
) -> Result<(Split, bool)> {
    let name = config.split_name();
    let path = store.dir().join("splits").join(format!("{name}.json"));
    if path.exists() {
        return Ok((load_split(store, &name)?, true));
    }
    let ids: Vec<String> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_some())
        .map(|(i, _)| store.ids()[i].clone())
        .collect();
    let (train, val, test) = split_ids(&ids, config.split_seed, config.split_ratios);
    let split = Split {
        name,
        seed: config.split_seed,
        ratios: config.split_ratios,
        train,
        val,
        test,
        created: multimat_dataset::manifest::now_iso8601(),
        store_materials: store.len(),
    };
    save_split(store, &split)?;
    Ok((split, false))
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
}

fn to_f64(t: Tensor<2>) -> Result<Vec<f64>> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .map_err(|e| TrainError::Input(format!("reading predictions back: {e:?}")))
}

/// Predictions (task units, `indices.len() × outputs` row-major) of `model` for the materials
/// at `indices`, in evaluation batches of `batch_size`.
pub fn predict_indices(
    model: &Regressor,
    graphs: &CrystalGraphs,
    indices: &[usize],
    transform: TargetTransform,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(batch_size.max(1)) {
        let input = graphs.input(chunk, device)?;
        out.extend(
            to_f64(model.forward(&input)?)?
                .into_iter()
                .map(|x| transform.inverse(x)),
        );
    }
    Ok(out)
}

/// Metrics of predictions `pred` (task units) against `target` (task units).
pub fn metrics(pred: &[f64], target: &[f64], transform: TargetTransform) -> Metrics {
    let pt: Vec<f64> = pred.iter().map(|&p| transform.forward(p)).collect();
    let tt: Vec<f64> = target.iter().map(|&t| transform.forward(t)).collect();
    Metrics {
        mae: mae(pred, target),
        mse: mse(pred, target),
        mae_transformed: mae(&pt, &tt),
        mse_transformed: mse(&pt, &tt),
    }
}

fn flat_targets(targets: &[Option<Vec<f64>>], indices: &[usize]) -> Vec<f64> {
    indices
        .iter()
        .flat_map(|&i| targets[i].iter().flatten().copied())
        .collect()
}

/// The learning rate of the `step`-th optimiser step (0-based): the reference steps its
/// scheduler after the optimiser, so step 0 runs at the optimiser's initial (peak) rate and
/// step k ≥ 1 at the warm-up + cosine value of k (spec gotcha 14).
pub fn finetune_lr(schedule: &WarmupCosine, step: usize) -> f64 {
    if step == 0 {
        schedule.peak
    } else {
        schedule.lr(step)
    }
}

fn save_best(run: &Path, model: &Regressor, state: &BestState) -> Result<()> {
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
    let model = load_weights(config.init(device), &dir.join(BEST_DIR).join(WEIGHTS_FILE))?.valid();
    Ok((config, model))
}

/// The folder of run (`variant`, `seed`) inside a job folder.
pub fn run_dir(out: &Path, variant: Variant, seed: u64) -> PathBuf {
    out.join(variant.name()).join(format!("seed-{seed}"))
}

/// The crystal encoder configurations of the job: the pretraining run's, or the preset's.
fn encoder_configs(
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
                        preset.cgcnn().with_embedding_dim(crystal_latent(&crystal)),
                    ),
                },
            ))
        })
        .collect()
}

fn kind_of(c: &CrystalConfig) -> CrystalKind {
    match c {
        CrystalConfig::Potnet(_) => CrystalKind::Potnet,
        CrystalConfig::Cgcnn(_) => CrystalKind::Cgcnn,
    }
}

/// Runs a fine-tuning job: every variant × seed on one split, then writes the results.
pub fn finetune(job: FinetuneJob, on_event: &mut dyn FnMut(Event)) -> Result<FinetuneResults> {
    let store = job.store;
    let config = job.config.clone().validated("finetune config")?;
    if job.variants.is_empty() {
        return Err(TrainError::config("variants", "no variant to run"));
    }
    let mut variants = job.variants.clone();
    variants.dedup();
    let run_config = match &job.from {
        Some(run) => Some(RunConfig::read(run)?),
        None => None,
    };
    if variants.contains(&Variant::Pretrained) && run_config.is_none() {
        return Err(TrainError::config(
            "--from",
            "the pretrained variant needs a pretraining run (--from RUN); use --from-scratch without one",
        ));
    }
    let task = Task::resolve(&config.task, store)?;
    if task == Task::ElasticTensor && config.target_transform == TargetTransform::Log10 {
        return Err(TrainError::config(
            "--target-transform",
            "log10 needs positive targets, but elastic-tensor components are often zero or negative; use none",
        ));
    }
    let config_path = job.out.join("config.json");
    if config_path.exists() {
        return Err(TrainError::checkpoint(
            &config_path,
            "this folder already holds a fine-tuning job; choose another --out",
        ));
    }
    let encoders = encoder_configs(run_config.as_ref(), config.preset, &variants)?;
    let pretrained_weights = match (&job.from, variants.contains(&Variant::Pretrained)) {
        (Some(run), true) => Some(
            latest_checkpoint(run)
                .ok_or_else(|| {
                    TrainError::checkpoint(
                        run.join(crate::checkpoint::CHECKPOINT_DIR),
                        "the pretraining run has no completed checkpoint to fine-tune from",
                    )
                })?
                .join(WEIGHTS_FILE),
        ),
        _ => None,
    };
    if config.threads > 0 {
        // Ignored when the global pool already exists (e.g. a second job in one process).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .build_global();
    }
    let spec = parse_device(&config.device).map_err(|p| TrainError::config("device", p))?;
    let device = spec.autodiff_device()?;
    let infer_device = spec.device()?;

    // Graphs of every encoder kind the job needs, so that all variants see the same materials.
    let needs = |k: CrystalKind| encoders.iter().any(|(_, c)| kind_of(c) == k);
    let potnet_graphs = if needs(CrystalKind::Potnet) {
        Some(CrystalGraphs::load(store, CrystalKind::Potnet)?)
    } else {
        None
    };
    let cgcnn_graphs = if needs(CrystalKind::Cgcnn) {
        Some(CrystalGraphs::load(store, CrystalKind::Cgcnn)?)
    } else {
        None
    };
    let graphs_of = |k: CrystalKind| -> Result<&CrystalGraphs> {
        match k {
            CrystalKind::Potnet => potnet_graphs.as_ref(),
            CrystalKind::Cgcnn => cgcnn_graphs.as_ref(),
        }
        .ok_or_else(|| TrainError::Input(format!("no {k:?} graphs were loaded")))
    };

    let targets = task.targets(store)?;
    let (split, reused) = task_split(store, &targets, &config)?;
    let idx = split.indices(store)?;
    let (mut nonpositive, mut no_graph) = (0usize, 0usize);
    let mut keep = |part: &[usize]| -> Vec<usize> {
        part.iter()
            .copied()
            .filter(|&i| {
                let Some(t) = &targets[i] else { return false };
                if !t.iter().all(|&y| config.target_transform.accepts(y)) {
                    nonpositive += 1;
                    return false;
                }
                let has = potnet_graphs.as_ref().is_none_or(|g| g.has(i))
                    && cgcnn_graphs.as_ref().is_none_or(|g| g.has(i));
                if !has {
                    no_graph += 1;
                }
                has
            })
            .collect()
    };
    let prepared = Prepared {
        train: keep(&idx.train),
        val: keep(&idx.val),
        test: keep(&idx.test),
        task,
        targets,
    };
    let sizes = SplitSizes {
        train: prepared.train.len(),
        val: prepared.val.len(),
        test: prepared.test.len(),
    };
    on_event(Event::Prepared {
        split: &split.name,
        reused,
        sizes,
        excluded_nonpositive: nonpositive,
        excluded_without_graph: no_graph,
    });
    if sizes.train < 2 || sizes.val == 0 || sizes.test == 0 {
        return Err(TrainError::Input(format!(
            "{}: task `{}` on split `{}` leaves {} training, {} validation and {} test materials; need at least 2, 1 and 1",
            store.dir().display(),
            prepared.task.name(),
            split.name,
            sizes.train,
            sizes.val,
            sizes.test
        )));
    }

    fs::create_dir_all(&job.out).map_err(|e| TrainError::io(&job.out, e))?;
    let record = FinetuneJobRecord {
        format: JOB_FORMAT.into(),
        version: 1,
        config: config.clone(),
        task: prepared.task.clone(),
        split: split.name.clone(),
        from: job.from.as_ref().map(|p| p.display().to_string()),
        store: job.store_name.clone(),
        variants: encoders.clone(),
        multimat_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&config_path, &record)?;

    let seeds: Vec<u64> = (0..config.seeds as u64).map(|k| config.seed + k).collect();
    let mut results = Vec::new();
    for (variant, crystal) in &encoders {
        let graphs = graphs_of(kind_of(crystal))?;
        let mut runs = Vec::new();
        let mut parameters = 0;
        for &seed in &seeds {
            let model_config = FinetunedModelConfig {
                format: MODEL_FORMAT.into(),
                version: 1,
                task: prepared.task.clone(),
                outputs: prepared.task.outputs(),
                units: prepared.task.units().into(),
                target_transform: config.target_transform,
                variant: *variant,
                seed,
                crystal: crystal.clone(),
                latent_dim: crystal_latent(crystal),
                pretrained_from: match variant {
                    Variant::Pretrained => job.from.as_ref().map(|p| p.display().to_string()),
                    _ => None,
                },
                store: job.store_name.clone(),
                split: split.name.clone(),
            };
            let run = TrainRun {
                config: &config,
                model_config: &model_config,
                prepared: &prepared,
                graphs,
                pretrained: match (variant, &run_config, &pretrained_weights) {
                    (Variant::Pretrained, Some(rc), Some(w)) => Some((&rc.model, w.as_path())),
                    _ => None,
                },
                device: &device,
                infer_device: &infer_device,
                dir: run_dir(&job.out, *variant, seed),
                ids: store.ids(),
            };
            let (result, params) = run.train(on_event)?;
            parameters = params;
            on_event(Event::Tested {
                variant: *variant,
                result: &result,
            });
            runs.push(result);
        }
        let col =
            |f: &dyn Fn(&RunResult) -> f64| MeanStd::of(&runs.iter().map(f).collect::<Vec<_>>());
        results.push(VariantResult {
            variant: *variant,
            encoder: kind_of(crystal),
            pretrained_from: match variant {
                Variant::Pretrained => job.from.as_ref().map(|p| p.display().to_string()),
                _ => None,
            },
            parameters,
            test_mae: col(&|r| r.test.mae),
            test_mse: col(&|r| r.test.mse),
            test_mae_transformed: col(&|r| r.test.mae_transformed),
            runs,
        });
    }
    let out = FinetuneResults {
        task: prepared.task.name().to_string(),
        outputs: prepared.task.outputs(),
        units: prepared.task.units().into(),
        target_transform: config.target_transform,
        selection: "lowest validation MAE in training (transformed) units, checked every epoch"
            .into(),
        split: split.name.clone(),
        split_reused: reused,
        sizes,
        excluded_nonpositive: nonpositive,
        excluded_without_graph: no_graph,
        epochs: config.epochs,
        seeds,
        variants: results,
    };
    write_json(&job.out.join(RESULTS_FILE), &out)?;
    let md = results_markdown(&out);
    let md_path = job.out.join(RESULTS_MD_FILE);
    let tmp = md_path.with_extension("md.tmp");
    fs::write(&tmp, md).map_err(|e| TrainError::io(&tmp, e))?;
    fs::rename(&tmp, &md_path).map_err(|e| TrainError::io(&md_path, e))?;
    Ok(out)
}

fn fmt_value(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// The comparison table of `results.md`.
pub fn results_markdown(r: &FinetuneResults) -> String {
    let mut s = format!(
        "# Fine-tuning: {}\n\nTarget transform: {} (MAE/MSE in {} after inverting it). Split `{}`: {} train / {} val / {} test materials{}. {} epochs, seeds {:?}; best-validation checkpoint tested once; mean ± sample std over seeds.\n\n",
        r.task,
        r.target_transform.name(),
        r.units,
        r.split,
        r.sizes.train,
        r.sizes.val,
        r.sizes.test,
        if r.excluded_nonpositive > 0 {
            format!(" ({} with non-positive targets excluded for log10)", r.excluded_nonpositive)
        } else {
            String::new()
        },
        r.epochs,
        r.seeds
    );
    let log = r.target_transform == TargetTransform::Log10;
    s.push_str(&format!(
        "| model | encoder | parameters | test MAE ({u}) | test MSE ({u}²) |",
        u = r.units
    ));
    if log {
        s.push_str(" test MAE (log10) |");
    }
    s.push_str(" runs |\n|---|---|---|---|---|");
    if log {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for v in &r.variants {
        let name = match v.variant {
            Variant::Pretrained => "MultiMat pretrained",
            Variant::Scratch => "from scratch",
            Variant::Cgcnn => "CGCNN",
        };
        let ms = |m: MeanStd| format!("{} ± {}", fmt_value(m.mean), fmt_value(m.std));
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} |",
            match v.encoder {
                CrystalKind::Potnet => "PotNet",
                CrystalKind::Cgcnn => "CGCNN",
            },
            v.parameters,
            ms(v.test_mae),
            ms(v.test_mse)
        ));
        if log {
            s.push_str(&format!(" {} |", ms(v.test_mae_transformed)));
        }
        s.push_str(&format!(" {} |\n", v.runs.len()));
    }
    s
}

/// `test_predictions.json` of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestPredictions {
    /// Material ids, in test order.
    pub ids: Vec<String>,
    /// Outputs per material.
    pub outputs: usize,
    /// Targets, task units, `ids.len() × outputs` row-major.
    pub targets: Vec<f64>,
    /// Predictions of the best checkpoint, task units, same layout.
    pub predictions: Vec<f64>,
}

struct TrainRun<'a> {
    config: &'a FinetuneConfig,
    model_config: &'a FinetunedModelConfig,
    prepared: &'a Prepared,
    graphs: &'a CrystalGraphs,
    /// The pretraining run's model and its weights file, for the pretrained variant.
    pretrained: Option<(&'a multimat_model::ModelConfig, &'a Path)>,
    device: &'a Device,
    infer_device: &'a Device,
    dir: PathBuf,
    ids: &'a [String],
}

impl TrainRun<'_> {
    fn init_model(&self) -> Result<Regressor> {
        let fresh = self.model_config.init(self.device);
        let Some((model, weights)) = self.pretrained else {
            return Ok(fresh);
        };
        // The whole pretrained model is loaded so that every tensor of the file is checked
        // against the run's architecture; only its crystal encoder is kept.
        let pretrained = load_weights(model.init(self.device)?, weights)?;
        Ok(Regressor {
            crystal: pretrained.crystal,
            head: fresh.head,
        })
    }

    fn train(&self, on_event: &mut dyn FnMut(Event)) -> Result<(RunResult, usize)> {
        let c = self.config;
        let p = self.prepared;
        let transform = c.target_transform;
        let outputs = self.model_config.outputs;
        fs::create_dir_all(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        write_json(&self.dir.join(MODEL_FILE), self.model_config)?;
        self.device.seed(self.model_config.seed);
        let mut model = self.init_model()?;
        let mut optimizer =
            crate::pretrain::adamw(c.betas, c.eps, c.weight_decay, c.clip_grad_norm);
        let parameters = multimat_model::trainable_params(&model);
        // Batches of one material are dropped: batch norm needs more than one sample.
        let epoch_batches = |epoch: usize| -> Vec<Vec<usize>> {
            batches(
                &p.train,
                c.batch_size,
                self.model_config.seed,
                epoch as u64,
                false,
            )
            .into_iter()
            .filter(|b| b.len() >= 2)
            .collect()
        };
        let steps_per_epoch = epoch_batches(1).len();
        let schedule = WarmupCosine {
            peak: c.lr,
            warmup: c.warmup_epochs * steps_per_epoch as f64,
            total: steps_per_epoch * c.epochs,
            min_ratio: 0.0,
        };
        on_event(Event::Start {
            variant: self.model_config.variant,
            seed: self.model_config.seed,
            epochs: c.epochs,
            steps_per_epoch,
            parameters,
        });
        let metrics_path = self.dir.join("metrics.jsonl");
        let mut log =
            fs::File::create(&metrics_path).map_err(|e| TrainError::io(&metrics_path, e))?;
        let val_targets = flat_targets(&p.targets, &p.val);
        let mut best: Option<(BestState, Metrics)> = None;
        let mut step = 0usize;
        for epoch in 1..=c.epochs {
            let started = Instant::now();
            let (mut sum, mut n, mut lr) = (0.0, 0usize, 0.0);
            for (k, batch) in epoch_batches(epoch).iter().enumerate() {
                lr = finetune_lr(&schedule, step);
                let input = self.graphs.input(batch, self.device)?;
                let target: Vec<f32> = flat_targets(&p.targets, batch)
                    .into_iter()
                    .map(|y| transform.forward(y) as f32)
                    .collect();
                let target = Tensor::<2>::from_data(
                    TensorData::new(target, [batch.len(), outputs]),
                    self.device,
                );
                let diff = model.forward(&input)? - target;
                let loss = (diff.clone() * diff).mean();
                let value = scalar(loss.clone());
                if !value.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        step: step + 1,
                        value,
                    });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(lr, model, grads);
                step += 1;
                sum += value;
                n += 1;
                on_event(Event::Step {
                    epoch,
                    step: k + 1,
                    loss: value,
                    lr,
                });
            }
            let eval = model.valid();
            let eval_device = eval
                .devices()
                .into_iter()
                .next()
                .unwrap_or_else(|| self.infer_device.clone());
            let pred = predict_indices(
                &eval,
                self.graphs,
                &p.val,
                transform,
                c.batch_size,
                &eval_device,
            )?;
            let val = metrics(&pred, &val_targets, transform);
            let improved = val.mae_transformed.is_finite()
                && best
                    .as_ref()
                    .is_none_or(|(b, _)| val.mae_transformed < b.val_mae_transformed);
            if improved {
                let state = BestState {
                    epoch,
                    val_mae_transformed: val.mae_transformed,
                    val_mae: val.mae,
                };
                save_best(&self.dir, &model, &state)?;
                best = Some((state, val));
            }
            let record = FinetuneEpochRecord {
                event: "epoch".into(),
                variant: self.model_config.variant,
                seed: self.model_config.seed,
                epoch,
                train_loss: sum / n.max(1) as f64,
                val,
                best: improved,
                lr,
                seconds: started.elapsed().as_secs_f64(),
            };
            let line = serde_json::to_string(&record)
                .map_err(|e| TrainError::checkpoint(&metrics_path, e.to_string()))?;
            writeln!(log, "{line}").map_err(|e| TrainError::io(&metrics_path, e))?;
            log.flush().map_err(|e| TrainError::io(&metrics_path, e))?;
            on_event(Event::Epoch(&record));
        }
        let (best_state, best_val) = best.ok_or_else(|| {
            TrainError::Input(format!(
                "{}: the validation MAE was never finite; no checkpoint to test",
                self.dir.display()
            ))
        })?;
        // The test split is evaluated once, with the weights read back from the best
        // checkpoint on disk (what `predict` will load), not with the last epoch's.
        let (_, tested) = load_finetuned(&self.dir, self.infer_device)?;
        let pred = predict_indices(
            &tested,
            self.graphs,
            &p.test,
            transform,
            c.batch_size,
            self.infer_device,
        )?;
        let test_targets = flat_targets(&p.targets, &p.test);
        let test = metrics(&pred, &test_targets, transform);
        write_json(
            &self.dir.join(TEST_PREDICTIONS_FILE),
            &TestPredictions {
                ids: p.test.iter().map(|&i| self.ids[i].clone()).collect(),
                outputs,
                targets: test_targets,
                predictions: pred,
            },
        )?;
        Ok((
            RunResult {
                seed: self.model_config.seed,
                best_epoch: best_state.epoch,
                val: best_val,
                test,
                dir: self.dir.clone(),
            },
            parameters,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mae_and_mse_average_over_samples_and_components() {
        // Two materials × three components: |errors| = 1, 2, 0, 3, 1, 5 → MAE 12/6 = 2;
        // squares 1, 4, 0, 9, 1, 25 → MSE 40/6.
        let pred = [1.0, 4.0, 3.0, -3.0, 6.0, 10.0];
        let target = [2.0, 2.0, 3.0, 0.0, 5.0, 5.0];
        assert_eq!(mae(&pred, &target), 2.0);
        assert!((mse(&pred, &target) - 40.0 / 6.0).abs() < 1e-15);
        let m = metrics(&pred, &target, TargetTransform::None);
        assert_eq!(m.mae, m.mae_transformed);
    }

    #[test]
    fn log10_round_trips_and_metrics_are_in_both_units() {
        let t = TargetTransform::Log10;
        for y in [1e-3, 0.5, 1.0, 37.25, 412.0, 1e4] {
            assert!((t.inverse(t.forward(y)) - y).abs() <= 1e-12 * y, "{y}");
        }
        assert!(!t.accepts(0.0) && !t.accepts(-40.0) && t.accepts(9.0));
        // 10 vs 100 GPa: 90 GPa off, one decade off.
        let m = metrics(&[10.0], &[100.0], t);
        assert_eq!(m.mae, 90.0);
        assert!((m.mae_transformed - 1.0).abs() < 1e-15);
        assert_eq!("log10".parse::<TargetTransform>(), Ok(t));
        assert!("ln".parse::<TargetTransform>().is_err());
    }

    #[test]
    fn mean_std_uses_the_sample_deviation() {
        let m = MeanStd::of(&[2.0, 4.0, 6.0]);
        assert_eq!(m.mean, 4.0);
        assert_eq!(m.std, 2.0);
        assert_eq!(MeanStd::of(&[3.0]).std, 0.0);
    }

    #[test]
    fn first_step_runs_at_the_peak_then_warm_up_and_cosine() {
        // 20 warm-up epochs of 5 steps within 200 epochs (spec §4.2).
        let s = WarmupCosine {
            peak: 1e-4,
            warmup: 100.0,
            total: 1000,
            min_ratio: 0.0,
        };
        assert_eq!(finetune_lr(&s, 0), 1e-4);
        assert!((finetune_lr(&s, 50) - 5e-5).abs() < 1e-18);
        assert!((finetune_lr(&s, 100) - 1e-4).abs() < 1e-18);
        assert!((finetune_lr(&s, 550) - 5e-5).abs() < 1e-15);
        assert!(finetune_lr(&s, 1000).abs() < 1e-18);
    }

    #[test]
    fn config_checks_name_the_key() {
        let ok = FinetuneConfig {
            task: "band_gap".into(),
            ..Default::default()
        };
        assert_eq!(
            ok.clone().validated("flags").unwrap().split_name(),
            "finetune-band_gap"
        );
        for (c, key) in [
            (
                FinetuneConfig {
                    task: String::new(),
                    ..ok.clone()
                },
                "task",
            ),
            (
                FinetuneConfig {
                    epochs: 0,
                    ..ok.clone()
                },
                "epochs",
            ),
            (
                FinetuneConfig {
                    seeds: 0,
                    ..ok.clone()
                },
                "seeds",
            ),
            (
                FinetuneConfig {
                    lr: -1.0,
                    ..ok.clone()
                },
                "lr",
            ),
            (
                FinetuneConfig {
                    split_ratios: [0.8, 0.2, 0.0],
                    ..ok.clone()
                },
                "split_ratios",
            ),
            (
                FinetuneConfig {
                    device: "tpu".into(),
                    ..ok.clone()
                },
                "device",
            ),
        ] {
            let e = c.validated("flags").unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
