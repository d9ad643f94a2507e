//! Pairwise symmetric InfoNCE (CLIP) and its masked multi-modality sums (spec §3).

use burn::tensor::activation::log_softmax;
use burn::tensor::Tensor;

use super::{
    check_batches, joint_rows, take_rows, zero_from, LossError, ModalityBatch, Temperature,
};

/// Row-wise L2 normalisation `x / max(‖x‖, 1e-12)`, as PyTorch's `F.normalize(x, dim=1)`.
/// Shape `[n, d]` → `[n, d]`.
///
/// The norm is taken as `sqrt(max(‖x‖², 1e-24))`, which has the same value but a zero (not NaN)
/// gradient for an all-zero row.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).clamp_min(1e-24).sqrt();
    x / norm
}

/// CE(L, diag) + CE(Lᵀ, diag) for square logits `[n, n]`, n ≥ 1, each CE a mean over rows.
/// The transposed direction is the column-wise log-softmax, so no transpose is materialised.
fn symmetric_ce(logits: Tensor<2>) -> Tensor<1> {
    let n = logits.dims()[0];
    let eye = Tensor::<2>::eye(n, &logits.device());
    let rows = log_softmax(logits.clone(), 1);
    let cols = log_softmax(logits, 0);
    ((rows + cols) * eye).sum().neg().div_scalar(n as f64)
}

/// `CE(logits, diag) + CE(logitsᵀ, diag)` on already-normalised rows (`[n, d]` each, n ≥ 1).
fn pair_on_normalized(a: Tensor<2>, c: Tensor<2>, temperature: &Temperature) -> Tensor<1> {
    let logits = temperature.apply(a.matmul(c.transpose()));
    symmetric_ce(logits)
}

fn check_pair(a: &Tensor<2>, c: &Tensor<2>) -> Result<usize, LossError> {
    let [n, d] = a.dims();
    let [m, e] = c.dims();
    if n != m {
        return Err(LossError::BatchSize {
            modality: "second".into(),
            expected: n,
            found: m,
        });
    }
    if d != e {
        return Err(LossError::Width {
            modality: "second".into(),
            expected: d,
            found: e,
        });
    }
    if d == 0 {
        return Err(LossError::ZeroWidth {
            modality: "first".into(),
        });
    }
    Ok(n)
}

/// The spec's `loss_pair`: rows of `a` and `c` (`[n, d]` each) are L2-normalised,
/// logits = a cᵀ / τ, and the loss is CE(logits, diag) + CE(logitsᵀ, diag) with each CE a mean
/// over rows — the **sum** of both directions. Returns shape `[1]`; 0 for n = 0, and 0 for
/// n = 1 (a 1×1 logits matrix).
pub fn clip_pair(
    a: Tensor<2>,
    c: Tensor<2>,
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    temperature.check()?;
    let n = check_pair(&a, &c)?;
    if n == 0 {
        return Ok(zero_from(&a));
    }
    Ok(pair_on_normalized(
        l2_normalize(a),
        l2_normalize(c),
        temperature,
    ))
}

/// The reference's `infoNCE(a, c)`: the **mean** of both directions, i.e. `clip_pair / 2`.
/// This is the term of the CLI-default `anchored_clip` ([`anchored_clip_sum`]).
pub fn info_nce(
    a: Tensor<2>,
    c: Tensor<2>,
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    Ok(clip_pair(a, c, temperature)?.div_scalar(2.0))
}

/// [`clip_pair`] on the rows where both modalities exist; those rows are selected (removed, not
/// zeroed) before the logits are built. Returns the loss (CE + CEᵀ, shape `[1]`) and the number
/// of surviving rows; 0 rows give 0.
pub fn masked_clip_pair(
    a: &ModalityBatch,
    c: &ModalityBatch,
    temperature: &Temperature,
) -> Result<(Tensor<1>, usize), LossError> {
    temperature.check()?;
    let pair = [a.clone(), c.clone()];
    check_batches("clip", &pair, "exactly 2", |n| n == 2)?;
    let [a, c] = pair;
    let total = a.rows();
    let rows = joint_rows(&[&a.exists, &c.exists]);
    if rows.is_empty() {
        return Ok((zero_from(&a.embeddings), 0));
    }
    let za = take_rows(l2_normalize(a.embeddings), &rows, total);
    let zc = take_rows(l2_normalize(c.embeddings), &rows, total);
    Ok((pair_on_normalized(za, zc, temperature), rows.len()))
}

/// Normalises every modality once; row selection commutes with row-wise normalisation.
fn normalized(batches: &[ModalityBatch]) -> Vec<Tensor<2>> {
    batches
        .iter()
        .map(|b| l2_normalize(b.embeddings.clone()))
        .collect()
}

fn masked_pair_term(
    batches: &[ModalityBatch],
    z: &[Tensor<2>],
    p: usize,
    q: usize,
    temperature: &Temperature,
) -> Tensor<1> {
    let total = batches[p].rows();
    let rows = joint_rows(&[&batches[p].exists, &batches[q].exists]);
    if rows.is_empty() {
        return zero_from(&z[p]);
    }
    let zp = take_rows(z[p].clone(), &rows, total);
    let zq = take_rows(z[q].clone(), &rows, total);
    pair_on_normalized(zp, zq, temperature)
}

/// The reference's masked `tri_anchored_clip` (AnchoredCLIP): with the crystal as
/// `batches[0]`, Σ_{m≠crystal} [CE + CEᵀ] on the rows where crystal and m both exist, divided by
/// **2·#M where #M counts all modalities including the crystal** (4 modalities → 3 terms / 8).
/// The divisor stays fixed when a pair has 0 surviving rows (that term is 0).
/// Needs ≥ 2 modalities of equal `[B, d]`; returns shape `[1]`.
pub fn anchored_clip(
    batches: &[ModalityBatch],
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    temperature.check()?;
    check_batches("tri_anchored_clip", batches, "at least 2", |n| n >= 2)?;
    let z = normalized(batches);
    let mut sum = masked_pair_term(batches, &z, 0, 1, temperature);
    for m in 2..batches.len() {
        sum = sum + masked_pair_term(batches, &z, 0, m, temperature);
    }
    Ok(sum.div_scalar(2.0 * batches.len() as f64))
}

/// The reference's masked `tri_all_pairs_clip` (AllPairsCLIP): Σ over unordered pairs
/// {m1, m2} of [CE + CEᵀ] on the rows where both exist, divided by 2·#pairs
/// (#pairs = M(M−1)/2, fixed even when a pair has no rows). Returns shape `[1]`.
pub fn all_pairs_clip(
    batches: &[ModalityBatch],
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    temperature.check()?;
    check_batches("all_pairs_clip", batches, "at least 2", |n| n >= 2)?;
    let z = normalized(batches);
    let mut terms = Vec::new();
    for p in 0..batches.len() {
        for q in p + 1..batches.len() {
            terms.push(masked_pair_term(batches, &z, p, q, temperature));
        }
    }
    let pairs = terms.len();
    let sum = terms
        .into_iter()
        .reduce(|acc, t| acc + t)
        .unwrap_or_else(|| zero_from(&z[0]));
    Ok(sum.div_scalar(2.0 * pairs as f64))
}

/// The reference's CLI-default `anchored_clip`: Σ_{m≠crystal} infoNCE(m, crystal)
/// = Σ (CE + CEᵀ)/2, no division by the number of modalities. The reference applies no masks
/// here (and crashes when asked to); with masks that are all true this is exactly the
/// reference, and rows missing a modality are dropped from that pair like the masked losses do.
pub fn anchored_clip_sum(
    batches: &[ModalityBatch],
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    temperature.check()?;
    check_batches("anchored_clip", batches, "at least 2", |n| n >= 2)?;
    let z = normalized(batches);
    let mut sum = masked_pair_term(batches, &z, 0, 1, temperature);
    for m in 2..batches.len() {
        sum = sum + masked_pair_term(batches, &z, 0, m, temperature);
    }
    Ok(sum.div_scalar(2.0))
}
