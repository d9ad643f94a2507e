//! The optimiser and learning-rate schedule both training loops share (pretraining, spec §4.1,
//! and fine-tuning, spec §4.2): one AdamW settings struct with the reference's defaults and one
//! check, the AdamW builder, and the reference's warm-up + cosine schedule
//! (`adjust_learning_rate`: linear warm-up from 0, then cosine from the peak to
//! `min_ratio · peak`). Kept in one place so the two loops cannot drift apart.

use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// AdamW settings shared by the pretraining and fine-tuning configurations. Flattened into
/// both, so their TOML/JSON keys (`weight_decay`, `betas`, `eps`, `clip_grad_norm`) are
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdamWSettings {
    /// Decoupled weight decay on every parameter (reference 0.05).
    pub weight_decay: f64,
    /// β₁, β₂ (reference 0.9, 0.95).
    pub betas: [f64; 2],
    /// ε (PyTorch default 1e-8).
    pub eps: f64,
    /// Clip the global gradient norm to this value (reference: no clipping).
    pub clip_grad_norm: Option<f64>,
}

impl Default for AdamWSettings {
    fn default() -> Self {
        Self {
            weight_decay: 0.05,
            betas: [0.9, 0.95],
            eps: 1e-8,
            clip_grad_norm: None,
        }
    }
}

impl AdamWSettings {
    /// Checks weight decay ≥ 0, betas in [0, 1), ε > 0 and an optional clip norm > 0;
    /// `source` names the configuration in errors.
    pub fn check(&self, source: &str) -> Result<()> {
        let bad = |key: &str, problem: String| {
            Err(TrainError::config(format!("{source}: {key}"), problem))
        };
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let (weight_decay, betas, eps) = (self.weight_decay, self.betas, self.eps);
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return bad("weight_decay", format!("must be >= 0, got {weight_decay}"));
        }
        if !betas
            .iter()
            .all(|b| b.is_finite() && (0.0..1.0).contains(b))
        {
            return bad("betas", format!("each must be in [0, 1), got {betas:?}"));
        }
        if !positive(eps) {
            return bad("eps", format!("must be positive, got {eps}"));
        }
        if let Some(c) = self.clip_grad_norm {
            if !positive(c) {
                return bad("clip_grad_norm", format!("must be positive, got {c}"));
            }
        }
        Ok(())
    }

    /// The AdamW optimiser (decoupled weight decay, optional global-norm clipping). burn takes
    /// the learning rate per step, so the schedule is applied by passing
    /// [`WarmupCosine::lr`] (or [`finetune_lr`]) to every `step`.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let mut adamw = AdamWConfig::new()
            .with_beta_1(self.betas[0] as f32)
            .with_beta_2(self.betas[1] as f32)
            .with_epsilon(self.eps as f32)
            .with_weight_decay(self.weight_decay as f32);
        if let Some(norm) = self.clip_grad_norm {
            adamw = adamw.with_grad_clipping(Some(GradientClippingConfig::Norm(norm as f32)));
        }
        adamw.init()
    }
}

/// Checks the schedule settings both configurations have: at least one epoch, a positive
/// finite learning rate and a warm-up of >= 0 epochs; `source` names the configuration.
pub fn check_schedule(epochs: usize, lr: f64, warmup_epochs: f64, source: &str) -> Result<()> {
    let bad =
        |key: &str, problem: String| Err(TrainError::config(format!("{source}: {key}"), problem));
    if epochs == 0 {
        return bad("epochs", "must be at least 1".into());
    }
    if !(lr.is_finite() && lr > 0.0) {
        return bad("lr", format!("must be positive and finite, got {lr}"));
    }
    if !(warmup_epochs.is_finite() && warmup_epochs >= 0.0) {
        return bad(
            "warmup_epochs",
            format!("must be >= 0, got {warmup_epochs}"),
        );
    }
    Ok(())
}

/// Warm-up + cosine schedule over `total` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmupCosine {
    /// Peak learning rate (reference: lr · B / 256).
    pub peak: f64,
    /// Warm-up length in steps (reference: 10 epochs of steps).
    pub warmup: f64,
    /// Total number of steps of the run.
    pub total: usize,
    /// Floor of the cosine as a fraction of the peak (reference 1e-3).
    pub min_ratio: f64,
}

impl WarmupCosine {
    /// The schedule of a run of `epochs` epochs of `steps_per_epoch` optimiser steps, warming
    /// up over `warmup_epochs` epochs (fractions allowed).
    pub fn over_epochs(
        peak: f64,
        warmup_epochs: f64,
        steps_per_epoch: usize,
        epochs: usize,
        min_ratio: f64,
    ) -> Self {
        Self {
            peak,
            warmup: warmup_epochs * steps_per_epoch as f64,
            total: steps_per_epoch * epochs,
            min_ratio,
        }
    }

    /// The learning rate of the `step`-th optimiser step (0-based). As in the reference the
    /// very first step has learning rate 0 when there is a warm-up.
    pub fn lr(&self, step: usize) -> f64 {
        let s = step as f64;
        if s < self.warmup {
            return self.peak * s / self.warmup;
        }
        let span = self.total as f64 - self.warmup;
        let q = if span <= 0.0 {
            1.0
        } else {
            0.5 * (1.0 + (std::f64::consts::PI * ((s - self.warmup) / span).min(1.0)).cos())
        };
        self.peak * q + self.min_ratio * self.peak * (1.0 - q)
    }
}

/// The learning rate of the `step`-th fine-tuning step (0-based): the reference steps its
/// scheduler after the optimiser, so step 0 runs at the optimiser's initial (peak) rate and
/// step k ≥ 1 at the warm-up + cosine value of k (spec gotcha 14).
pub fn finetune_lr(schedule: &WarmupCosine, step: usize) -> f64 {
    if step == 0 {
        schedule.peak
    } else {
        schedule.lr(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_formula() {
        // B = 128, lr = 1e-4 → peak 5e-5; 10 warm-up epochs of 5 steps, 50 epochs.
        let s = WarmupCosine {
            peak: 5e-5,
            warmup: 50.0,
            total: 250,
            min_ratio: 1e-3,
        };
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(25) - 2.5e-5).abs() < 1e-18);
        assert!((s.lr(50) - 5e-5).abs() < 1e-18);
        // Half-way through the cosine: q = 0.5 → (peak + floor) / 2.
        assert!((s.lr(150) - (5e-5 + 5e-8) / 2.0).abs() < 1e-15);
        assert!((s.lr(250) - 5e-8).abs() < 1e-18);
        // Monotone after the peak.
        assert!((51..250).all(|i| s.lr(i) <= s.lr(i - 1)));
    }

    #[test]
    fn no_warmup_starts_at_the_peak() {
        let s = WarmupCosine {
            peak: 1.0,
            warmup: 0.0,
            total: 10,
            min_ratio: 0.0,
        };
        assert_eq!(s.lr(0), 1.0);
        assert!(s.lr(10).abs() < 1e-15);
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
    fn adamw_defaults_are_the_reference_and_checks_name_the_key() {
        let d = AdamWSettings::default();
        assert_eq!((d.weight_decay, d.betas, d.eps), (0.05, [0.9, 0.95], 1e-8));
        assert!(d.check("x").is_ok());
        for (s, key) in [
            (
                AdamWSettings {
                    weight_decay: -1.0,
                    ..d
                },
                "weight_decay",
            ),
            (
                AdamWSettings {
                    betas: [0.9, 1.0],
                    ..d
                },
                "betas",
            ),
            (AdamWSettings { eps: 0.0, ..d }, "eps"),
            (
                AdamWSettings {
                    clip_grad_norm: Some(0.0),
                    ..d
                },
                "clip_grad_norm",
            ),
        ] {
            let e = s.check("x").unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
