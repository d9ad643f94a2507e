//! The per-step learning rate of MultiMat pretraining (spec §4.1, `adjust_learning_rate`):
//! linear warm-up from 0, then cosine from the peak to `min_ratio · peak`.

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
}
