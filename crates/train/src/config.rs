//! The pretraining configuration (`pretrain.toml`): which modalities, which loss, the optimiser
//! and schedule of spec §4.1, and the model preset. Every field has the reference's default, so
//! an empty file is the paper's setting.
//!
//! It says what a run is, not where it runs: the device and the CPU threads are settings of the
//! job (`PretrainJob`), so a run started on one device can be resumed or fine-tuned on another.

use std::path::Path;

use multimat_model::loss::LossKind;
use multimat_model::{CrystalKind, EncoderOverrides, Modality, Preset};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::optim::{check_schedule, AdamWSettings};

/// Everything `multimat pretrain` needs besides the store and the output folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    /// Modalities to align; the crystal is added first if missing. Default: crystal, dos,
    /// density, text (the paper's four).
    pub modalities: Vec<Modality>,
    /// Contrastive loss (reference names, see `multimat_model::loss`). Default
    /// `tri_anchored_clip`, the masked AnchoredCLIP the paper's missing-modality runs need.
    pub loss: LossKind,
    /// The anchor of AnchoredCLIP. Only `crystal` is supported, as in the reference.
    pub anchor: Modality,
    /// Model size: `paper` (spec §2 sizes, latent 128) or `small` (latent 32, for CPU demos).
    pub preset: Preset,
    /// Crystal encoder: `potnet` (paper) or `cgcnn`.
    pub crystal_encoder: CrystalKind,
    /// Per-encoder overrides of the preset's widths and depths.
    pub encoders: EncoderOverrides,
    /// Global batch size B (reference 128).
    pub batch_size: usize,
    /// Number of epochs (reference default 500).
    pub epochs: usize,
    /// Linear warm-up length in epochs (reference: 10, hard-coded).
    pub warmup_epochs: f64,
    /// Base learning rate; the peak is `lr · B / 256` (reference 1e-4 → 5e-5 at B = 128).
    pub lr: f64,
    /// The cosine ends at `min_lr_ratio · peak` (reference 1e-3).
    pub min_lr_ratio: f64,
    /// AdamW settings (keys `weight_decay`, `betas`, `eps`, `clip_grad_norm`).
    #[serde(flatten)]
    pub adamw: AdamWSettings,
    /// Softmax temperature τ of the CLIP losses (reference: fixed 0.2).
    pub temperature: f64,
    /// Learn τ (CLIP-style logit scale, starting at `temperature`); not the reference's.
    pub learnable_temperature: bool,
    /// Seed of weight initialisation and batch order (reference 42).
    pub seed: u64,
    /// Split file of the store (`splits/NAME.json`) giving train/val/test; created with
    /// `split_ratios` and `seed` when missing.
    pub split: String,
    /// Train/val/test fractions used when the split is created.
    pub split_ratios: [f64; 3],
    /// Use at most this many training materials (0 = all); handy for quick runs.
    pub max_train: usize,
    /// Use at most this many validation materials for the per-epoch retrieval check (0 = all).
    pub max_val: usize,
    /// Keep a copy of the weights every this many epochs (and after epoch 1), as the
    /// reference does every 20; 0 keeps only the latest checkpoint.
    pub keep_every: usize,
    /// Write a step record to the metrics log every this many steps.
    pub log_every: usize,
    /// Run settings older files carry (`device`, `threads`); read, never written or used.
    #[serde(flatten, skip_serializing)]
    pub legacy: LegacyRunSettings,
}

/// The `device` and `threads` keys of run folders and TOML files written before these became
/// job settings: still accepted so that those files load, then ignored (the job's device and
/// threads apply). A `device` that names no device is still an error, so a typo in an old file
/// is not silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LegacyRunSettings {
    /// The old `device` key, if the file had one.
    #[serde(default)]
    pub device: Option<String>,
    /// The old `threads` key, if the file had one.
    #[serde(default)]
    pub threads: Option<usize>,
}

impl LegacyRunSettings {
    /// Checks an old `device` value; `source` names the configuration in errors.
    pub fn check(&self, source: &str) -> Result<()> {
        if let Some(d) = &self.device {
            crate::device::parse_device(d)
                .map_err(|p| TrainError::config(format!("{source}: device"), p))?;
        }
        Ok(())
    }

    /// Whether the file had either key (callers may warn that it is ignored now).
    pub fn present(&self) -> bool {
        self.device.is_some() || self.threads.is_some()
    }
}

impl Default for PretrainConfig {
    fn default() -> Self {
        Self {
            modalities: vec![
                Modality::Crystal,
                Modality::Dos,
                Modality::Density,
                Modality::Text,
            ],
            loss: LossKind::TriAnchoredClip,
            anchor: Modality::Crystal,
            preset: Preset::Paper,
            crystal_encoder: CrystalKind::Potnet,
            encoders: EncoderOverrides::default(),
            batch_size: 128,
            epochs: 500,
            warmup_epochs: 10.0,
            lr: 1e-4,
            min_lr_ratio: 1e-3,
            adamw: AdamWSettings::default(),
            temperature: 0.2,
            learnable_temperature: false,
            seed: 42,
            split: "multimat".into(),
            split_ratios: [0.8, 0.1, 0.1],
            max_train: 0,
            max_val: 0,
            keep_every: 20,
            log_every: 10,
            legacy: LegacyRunSettings::default(),
        }
    }
}

impl PretrainConfig {
    /// Reads a TOML file; unknown keys and bad values are errors naming the file and key.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses TOML text; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self> {
        let config: Self = toml::from_str(text)
            .map_err(|e| TrainError::config(source, e.to_string().trim_end().to_string()))?;
        config.validated(source)
    }

    /// Checks every value and puts the crystal first in `modalities`; `source` names the
    /// configuration in errors.
    pub fn validated(mut self, source: &str) -> Result<Self> {
        let bad = |key: &str, problem: String| {
            Err(TrainError::config(format!("{source}: {key}"), problem))
        };
        if self.anchor != Modality::Crystal {
            return bad(
                "anchor",
                format!(
                    "only `crystal` can anchor the latent space (the reference's choice), got `{}`",
                    self.anchor
                ),
            );
        }
        let mut mods = vec![Modality::Crystal];
        for m in &self.modalities {
            if mods.contains(m) {
                if *m != Modality::Crystal {
                    return bad("modalities", format!("`{m}` is listed twice"));
                }
            } else {
                mods.push(*m);
            }
        }
        if mods.len() < 2 {
            return bad(
                "modalities",
                "need the crystal and at least one other modality".into(),
            );
        }
        self.modalities = mods;
        let n = self.modalities.len();
        let needs = match self.loss {
            LossKind::Clip => (n == 2, "exactly 2 modalities (crystal + one)"),
            LossKind::TensorClip | LossKind::TriBarlowTwins | LossKind::TriBarlowTwinsHalf => {
                (n == 3, "exactly 3 modalities")
            }
            LossKind::QuadBarlow => (n == 4, "exactly 4 modalities"),
            _ => (true, ""),
        };
        if !needs.0 {
            return bad(
                "loss",
                format!("`{}` needs {}, the config lists {n}", self.loss, needs.1),
            );
        }
        if self.batch_size < 2 {
            return bad(
                "batch_size",
                format!(
                    "must be at least 2 for a contrastive loss, got {}",
                    self.batch_size
                ),
            );
        }
        check_schedule(self.epochs, self.lr, self.warmup_epochs, source)?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(self.min_lr_ratio.is_finite() && (0.0..=1.0).contains(&self.min_lr_ratio)) {
            return bad(
                "min_lr_ratio",
                format!("must be in [0, 1], got {}", self.min_lr_ratio),
            );
        }
        self.adamw.check(source)?;
        if !positive(self.temperature) {
            return bad(
                "temperature",
                format!("must be positive, got {}", self.temperature),
            );
        }
        let r = self.split_ratios;
        if !(r.iter().all(|x| x.is_finite() && *x >= 0.0)
            && r.iter().sum::<f64>() <= 1.0 + 1e-9
            && r[0] > 0.0)
        {
            return bad(
                "split_ratios",
                format!("need train > 0, all >= 0 and a sum <= 1, got {r:?}"),
            );
        }
        self.legacy.check(source)?;
        if self.log_every == 0 {
            self.log_every = 1;
        }
        Ok(self)
    }

    /// The peak learning rate `lr · B / 256` (spec §4.1).
    pub fn peak_lr(&self) -> f64 {
        self.lr * self.batch_size as f64 / 256.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_reference_setting() {
        let c = PretrainConfig::from_toml_str("", "pretrain.toml").unwrap();
        assert_eq!(c, PretrainConfig::default());
        assert_eq!(c.peak_lr(), 5e-5);
        assert_eq!(c.modalities[0], Modality::Crystal);
    }

    #[test]
    fn crystal_is_put_first_and_names_parse() {
        let c = PretrainConfig::from_toml_str(
            "modalities = [\"text\", \"phonon_dos\"]\nloss = \"anchored_clip\"\npreset = \"small\"\nbatch_size = 8",
            "x.toml",
        )
        .unwrap();
        assert_eq!(
            c.modalities,
            vec![Modality::Crystal, Modality::Text, Modality::PhononDos]
        );
        assert_eq!(c.loss, LossKind::AnchoredClip);
        assert_eq!(c.preset, Preset::Small);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("batch_size = 1", "batch_size"),
            ("lr = -1.0", "lr"),
            ("betas = [0.9, 1.5]", "betas"),
            ("modalities = [\"crystal\"]", "modalities"),
            ("loss = \"tensor_clip\"\nmodalities = [\"text\"]", "loss"),
            ("device = \"tpu\"", "device"),
            ("anchor = \"text\"", "anchor"),
        ] {
            let err = PretrainConfig::from_toml_str(text, "p.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(key) && err.starts_with("p.toml"),
                "{text}: {err}"
            );
        }
        let err = PretrainConfig::from_toml_str("batchsize = 3", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("batchsize"), "{err}");
        let err = PretrainConfig::from_toml_str("loss = \"clipp\"", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("clipp"), "{err}");
    }
}
