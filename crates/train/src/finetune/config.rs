//! Fine-tuning settings (spec §4.2): the task, the optimiser and schedule, seeds and the split.
//! What a job trains, not where: the device and CPU threads are settings of the
//! [`FinetuneJob`](super::FinetuneJob).

use serde::{Deserialize, Serialize};

use super::task::TargetTransform;
use crate::config::LegacyRunSettings;
use crate::error::{Result, TrainError};
use crate::optim::{check_schedule, AdamWSettings};
use multimat_model::Preset;

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
    /// AdamW settings (keys `weight_decay`, `betas`, `eps`, `clip_grad_norm`; reference 0.05,
    /// 0.9/0.95, 1e-8, no clipping).
    #[serde(flatten)]
    pub adamw: AdamWSettings,
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
    /// Run settings older job records carry (`device`, `threads`); read, never written or used.
    #[serde(flatten, skip_serializing)]
    pub legacy: LegacyRunSettings,
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
            adamw: AdamWSettings::default(),
            seed: 42,
            seeds: 1,
            split: None,
            split_seed: 42,
            split_ratios: [0.7, 0.2, 0.1],
            legacy: LegacyRunSettings::default(),
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
        check_schedule(self.epochs, self.lr, self.warmup_epochs, source)?;
        if self.seeds == 0 {
            return bad("seeds", "must be at least 1".into());
        }
        self.adamw.check(source)?;
        let r = self.split_ratios;
        if !(r.iter().all(|x| x.is_finite() && *x > 0.0) && r.iter().sum::<f64>() <= 1.0 + 1e-9) {
            return bad("split_ratios", format!("fine-tuning needs train, val and test parts: all > 0 with a sum <= 1, got {r:?}"));
        }
        self.legacy.check(source)?;
        Ok(self)
    }

    /// The split file's name: `split`, or `finetune-TASK`.
    pub fn split_name(&self) -> String {
        self.split
            .clone()
            .unwrap_or_else(|| format!("finetune-{}", self.task.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    legacy: LegacyRunSettings {
                        device: Some("tpu".into()),
                        threads: None,
                    },
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
