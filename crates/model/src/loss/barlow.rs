//! Barlow-Twins cross-correlation losses on 2, 3 and 4 modalities (spec §3, the reference's
//! `BTLoss`, `FastBTLoss3D`, `FastBTLoss4D`).
//!
//! Normalisation: the reference computes C = z1ᵀz2 / B (or the 3-/4-way einsum analogue) on the
//! **raw** encoder outputs — no L2 normalisation and no per-feature batch standardisation (the
//! `self.bn(z1)` line of the original Barlow Twins is commented out in `barlow_twins.py`). That is
//! the default here. [`BarlowConfig::standardize`] switches on the original Barlow Twins
//! treatment: each feature is standardised over the batch, (z − mean) / sqrt(var + eps) with the
//! biased variance, as an affine-free BatchNorm in training mode.
//!
//! B is the number of rows that enter C. The reference divides by the configured batch size
//! (`args.batch_size`), which differs only for a smaller final batch (`drop_last=False`). The
//! reference has no masks for these losses; here rows missing any modality of a term are
//! dropped before C is formed (with every modality present this is the reference).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{check_batches, joint_rows, take_rows, zero_from, LossError, ModalityBatch};

/// The reference's off-diagonal weight λ = 0.0051 (`--lmda`).
pub const DEFAULT_LAMBDA: f64 = 0.0051;

/// Settings of the Barlow-Twins losses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BarlowConfig {
    /// Weight λ of the off-target (zero-target) entries; reference 0.0051.
    pub lambda: f64,
    /// Standardise each feature over the batch before forming C (original Barlow Twins).
    /// `false` (the reference) uses the raw embeddings.
    pub standardize: bool,
    /// Variance floor of the standardisation (BatchNorm's 1e-5).
    pub eps: f64,
}

impl Default for BarlowConfig {
    fn default() -> Self {
        Self {
            lambda: DEFAULT_LAMBDA,
            standardize: false,
            eps: 1e-5,
        }
    }
}

impl BarlowConfig {
    fn check(&self) -> Result<(), LossError> {
        if self.lambda.is_finite() && self.lambda >= 0.0 {
            Ok(())
        } else {
            Err(LossError::Lambda(self.lambda))
        }
    }

    fn prepare(&self, z: Tensor<2>) -> Tensor<2> {
        if !self.standardize {
            return z;
        }
        let mean = z.clone().mean_dim(0);
        let var = z.clone().var_bias(0);
        (z - mean) / var.add_scalar(self.eps).sqrt()
    }
}

/// Target of the 3-way cross-correlation cube.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarlowTarget {
    /// 1 on the hyper-diagonal j = k = l, 0 (weighted by λ) elsewhere.
    Diagonal,
    /// 1 on the hyper-diagonal, 0.5 (weight 1) where exactly two indices match, 0 (weighted by λ)
    /// where all differ (the reference's `--barlow_half`).
    Half,
}

/// Σ weight·(C − target)², shape `[1]`.
fn weighted_square<const D: usize>(
    c: Tensor<D>,
    target: Tensor<D>,
    weight: Tensor<D>,
) -> Tensor<1> {
    ((c - target).powi_scalar(2) * weight).sum()
}

/// Two-way Barlow Twins on `[B, d]` inputs: C = z1ᵀz2 / B (`[d, d]`),
/// loss = Σ_i (C_ii − 1)² + λ Σ_{i≠j} C_ij². Returns shape `[1]`; 0 when B = 0.
pub fn barlow_twins(
    z1: Tensor<2>,
    z2: Tensor<2>,
    config: &BarlowConfig,
) -> Result<Tensor<1>, LossError> {
    config.check()?;
    let pair = [
        ModalityBatch::present("first", z1),
        ModalityBatch::present("second", z2),
    ];
    let (b, _) = check_batches("barlow_twins", &pair, "exactly 2", |n| n == 2)?;
    let [a, c] = pair;
    if b == 0 {
        return Ok(zero_from(&a.embeddings));
    }
    Ok(barlow2_rows(a.embeddings, c.embeddings, config))
}

fn barlow2_rows(z1: Tensor<2>, z2: Tensor<2>, config: &BarlowConfig) -> Tensor<1> {
    let [b, d] = z1.dims();
    let device = z1.device();
    let c = config
        .prepare(z1)
        .transpose()
        .matmul(config.prepare(z2))
        .div_scalar(b as f64);
    let eye = Tensor::<2>::eye(d, &device);
    let weight = eye.clone() + eye.clone().neg().add_scalar(1.0).mul_scalar(config.lambda);
    weighted_square(c, eye, weight)
}

/// The reference's `barlow_twins` (`barlow_bimodal`): Σ_{m≠crystal} BT(m, crystal) with the
/// crystal as `batches[0]`, each term on the rows where both exist. Returns shape `[1]`.
pub fn barlow_twins_anchored(
    batches: &[ModalityBatch],
    config: &BarlowConfig,
) -> Result<Tensor<1>, LossError> {
    config.check()?;
    let (b, _) = check_batches("barlow_twins", batches, "at least 2", |n| n >= 2)?;
    let anchor = &batches[0];
    let mut sum = zero_from(&anchor.embeddings);
    for m in &batches[1..] {
        let rows = joint_rows(&[&anchor.exists, &m.exists]);
        if rows.is_empty() {
            continue;
        }
        let zm = take_rows(m.embeddings.clone(), &rows, b);
        let zc = take_rows(anchor.embeddings.clone(), &rows, b);
        sum = sum + barlow2_rows(zm, zc, config);
    }
    Ok(sum)
}

/// Rows where every modality exists, already selected and prepared; `None` when no row is left.
fn common_rows(
    batches: &[ModalityBatch],
    b: usize,
    config: &BarlowConfig,
) -> Option<Vec<Tensor<2>>> {
    let masks: Vec<&[bool]> = batches.iter().map(|m| m.exists.as_slice()).collect();
    let rows = joint_rows(&masks);
    if rows.is_empty() {
        return None;
    }
    Some(
        batches
            .iter()
            .map(|m| config.prepare(take_rows(m.embeddings.clone(), &rows, b)))
            .collect(),
    )
}

/// Three-way Barlow Twins on exactly three modalities `[B, d]` (reference order crystal, DOS,
/// charge density): C_jkl = Σ_i z1_ij z2_ik z3_il / B (`[d, d, d]`), loss = Σ over targeted
/// entries (C − target)² + λ Σ over zero-target entries C², with the target of `target`.
/// Uses the rows where all three exist. Memory: d³ floats per temporary (d = 128: 2.1 M).
pub fn barlow_twins_3way(
    batches: &[ModalityBatch],
    target: BarlowTarget,
    config: &BarlowConfig,
) -> Result<Tensor<1>, LossError> {
    config.check()?;
    let (b, d) = check_batches("tri_barlow_twins", batches, "exactly 3", |n| n == 3)?;
    let device = batches[0].embeddings.device();
    let Some(z) = common_rows(batches, b, config) else {
        return Ok(zero_from(&batches[0].embeddings));
    };
    let n = z[0].dims()[0];
    let [z1, z2, z3] = [z[0].clone(), z[1].clone(), z[2].clone()];
    // C_jkl = Σ_i (z1_ij z2_ik) z3_il as a [d², n] × [n, d] product.
    let outer = (z1.reshape([n, d, 1]) * z2.reshape([n, 1, d])).reshape([n, d * d]);
    let c = outer
        .transpose()
        .matmul(z3)
        .div_scalar(n as f64)
        .reshape([d, d, d]);

    let eye = Tensor::<2>::eye(d, &device);
    let d_jk = eye.clone().reshape([d, d, 1]);
    let d_jl = eye.clone().reshape([d, 1, d]);
    let d_kl = eye.reshape([1, d, d]);
    let matches = d_jk.clone() + d_jl + d_kl.clone();
    let all_equal = d_jk * d_kl;
    let (goal, weight) = match target {
        BarlowTarget::Diagonal => {
            let off = all_equal
                .clone()
                .neg()
                .add_scalar(1.0)
                .mul_scalar(config.lambda);
            (all_equal.clone(), all_equal + off)
        }
        BarlowTarget::Half => {
            let goal = matches.clone().mul_scalar(0.5) - all_equal.mul_scalar(0.5);
            let none = matches.equal_elem(0.0).float();
            let weight = none.clone().neg().add_scalar(1.0) + none.mul_scalar(config.lambda);
            (goal, weight)
        }
    };
    Ok(weighted_square(c, goal, weight))
}

/// Four-way Barlow Twins with the "half" target on exactly four modalities `[B, d]`
/// (the reference's `quad_barlow`, which supports only this target):
/// C_jklm = Σ_i z1_ij z2_ik z3_il z4_im / B (`[d, d, d, d]`); with c = the number of equal index
/// pairs among (j, k, l, m), the target is 1 (c = 6, all equal), 1/2 (c = 3, three equal),
/// 1/3 (c = 2, two pairs), 1/6 (c = 1, one pair), and 0 weighted by λ (c = 0).
/// Uses the rows where all four exist. Memory: d⁴ floats per temporary (d = 128: 268 M,
/// about 1 GiB each in f32) — a GPU-sized loss, as in the reference.
pub fn barlow_twins_4way_half(
    batches: &[ModalityBatch],
    config: &BarlowConfig,
) -> Result<Tensor<1>, LossError> {
    config.check()?;
    let (b, d) = check_batches("quad_barlow", batches, "exactly 4", |n| n == 4)?;
    let device = batches[0].embeddings.device();
    let Some(z) = common_rows(batches, b, config) else {
        return Ok(zero_from(&batches[0].embeddings));
    };
    let n = z[0].dims()[0];
    let [z1, z2, z3, z4] = [z[0].clone(), z[1].clone(), z[2].clone(), z[3].clone()];
    let left = (z1.reshape([n, d, 1]) * z2.reshape([n, 1, d])).reshape([n, d * d]);
    let right = (z3.reshape([n, d, 1]) * z4.reshape([n, 1, d])).reshape([n, d * d]);
    let c = left
        .transpose()
        .matmul(right)
        .div_scalar(n as f64)
        .reshape([d, d, d, d]);

    let eye = Tensor::<2>::eye(d, &device);
    let delta = |shape: [usize; 4]| eye.clone().reshape(shape);
    let count = delta([d, d, 1, 1])
        + delta([d, 1, d, 1])
        + delta([d, 1, 1, d])
        + delta([1, d, d, 1])
        + delta([1, d, 1, d])
        + delta([1, 1, d, d]);
    let is = |c: f64| count.clone().equal_elem(c).float();
    let goal = is(6.0)
        + is(3.0).mul_scalar(0.5)
        + is(2.0).mul_scalar(1.0 / 3.0)
        + is(1.0).mul_scalar(1.0 / 6.0);
    let none = is(0.0);
    let weight = none.clone().neg().add_scalar(1.0) + none.mul_scalar(config.lambda);
    Ok(weighted_square(c, goal, weight))
}
