//! What a fine-tuning job reports: regression metrics (MAE/MSE in task and training units),
//! mean ± std over seeds, the per-epoch metrics line, `results.json`, the Markdown comparison
//! table `results.md` and each run's `test_predictions.json`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::Variant;
use super::task::TargetTransform;
use crate::checkpoint::write_json;
use crate::error::{Result, TrainError};
use multimat_model::CrystalKind;

/// Per-run test predictions.
pub const TEST_PREDICTIONS_FILE: &str = "test_predictions.json";
/// The job's results.
pub const RESULTS_FILE: &str = "results.json";
/// The job's comparison table.
pub const RESULTS_MD_FILE: &str = "results.md";

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

/// Writes the job's `results.json` and `results.md` into `out`, each replaced atomically.
pub(crate) fn write_results(out: &Path, results: &FinetuneResults) -> Result<()> {
    write_json(&out.join(RESULTS_FILE), results)?;
    let md = results_markdown(results);
    let md_path = out.join(RESULTS_MD_FILE);
    let tmp = md_path.with_extension("md.tmp");
    fs::write(&tmp, md).map_err(|e| TrainError::io(&tmp, e))?;
    fs::rename(&tmp, &md_path).map_err(|e| TrainError::io(&md_path, e))
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
}
