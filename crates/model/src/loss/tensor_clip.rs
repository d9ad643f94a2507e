//! TensorCLIP: a non-pairwise 3-way contrastive loss over a B×B×B similarity cube (spec §3,
//! the reference's `TensorCLIPLoss2`).

use burn::tensor::{Tensor, TensorData};

use super::clip::l2_normalize;
use super::{check_batches, zero_from, LossError, ModalityBatch, Temperature};

/// Fill value for masked logits before the row max; any finite logit is far above it, and
/// `exp(FILL - max)` underflows to exactly 0.
const FILL: f64 = -1.0e30;

/// TensorCLIP on exactly three modalities (reference order: crystal, DOS, charge density),
/// each `[B, d]`. Returns shape `[1]`.
///
/// With L2-normalised rows z1, z2, z3: S_ijk = Σ_b z1_ib z2_jb z3_kb / τ. Weights W_ijk = 1 if
/// i = j = k, 0.5 if exactly two indices are equal, 0 otherwise; negatives N_ijk = [W_ijk = 0]
/// (only all-distinct triples). Both are multiplied by exists1_i·exists2_j·exists3_k. For each
/// axis a (its index i, the other two flattened into B² columns):
/// loss_a = mean_i Σ_(j,k) W·(−S + log Σ_(j,k) N·exp(S)), and the total is loss₁ + loss₂ + loss₃.
/// The mean runs over all B rows, masked rows included (they add 0), as in the reference.
///
/// The log-sum-exp is taken stably over the negatives only. A row with **no negatives** (every
/// row when B < 3, and a row whose own modality is missing) contributes 0. The reference instead
/// computes 0·log 0 there, which gives NaN whenever any modality of the batch is missing and
/// −∞ for B < 3. The reference also reuses axis 1's masked weights for axes 2 and 3 without
/// transposing them (harmless only without masks, where W is symmetric); here each axis uses
/// its own transposed W. Without missing modalities and with B ≥ 3 both agree exactly.
///
/// The cube costs B²·d + B³ floats (B = 128, d = 128: 2.1 M + 2.1 M).
pub fn tensor_clip(
    batches: &[ModalityBatch],
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    temperature.check()?;
    let (b, d) = check_batches("tensor_clip", batches, "exactly 3", |n| n == 3)?;
    let device = batches[0].embeddings.device();
    if b == 0 {
        return Ok(zero_from(&batches[0].embeddings));
    }
    let z1 = l2_normalize(batches[0].embeddings.clone());
    let z2 = l2_normalize(batches[1].embeddings.clone());
    let z3 = l2_normalize(batches[2].embeddings.clone());

    // S_ijk = Σ_b (z1_ib z2_jb) z3_kb as one [B², d] × [d, B] product.
    let outer = z1.reshape([b, 1, d]) * z2.reshape([1, b, d]);
    let s = outer.reshape([b * b, d]).matmul(z3.transpose());
    let s = temperature.apply(s.reshape([b, b, b]));

    // W and N from the three pairwise Kronecker deltas, built on the device.
    let eye = Tensor::<2>::eye(b, &device);
    let d_ij = eye.clone().reshape([b, b, 1]);
    let d_ik = eye.clone().reshape([b, 1, b]);
    let d_jk = eye.reshape([1, b, b]);
    let matches = d_ij.clone() + d_ik + d_jk.clone();
    let all_equal = d_ij * d_jk;
    let mut w = matches.clone().mul_scalar(0.5) - all_equal.mul_scalar(0.5);
    let mut neg = matches.equal_elem(0.0).float();

    if batches.iter().any(|m| m.exists.iter().any(|e| !e)) {
        let flag = |m: &ModalityBatch| -> Tensor<1> {
            let v: Vec<f32> = m
                .exists
                .iter()
                .map(|&e| if e { 1.0 } else { 0.0 })
                .collect();
            Tensor::<1>::from_data(TensorData::new(v, [b]), &device)
        };
        let present = flag(&batches[0]).reshape([b, 1, 1])
            * flag(&batches[1]).reshape([1, b, 1])
            * flag(&batches[2]).reshape([1, 1, b]);
        w = w * present.clone();
        neg = neg * present;
    }

    let axis1 = axis_term(s.clone(), w.clone(), neg.clone());
    let axis2 = axis_term(
        s.clone().swap_dims(0, 1),
        w.clone().swap_dims(0, 1),
        neg.clone().swap_dims(0, 1),
    );
    let axis3 = axis_term(s.swap_dims(0, 2), w.swap_dims(0, 2), neg.swap_dims(0, 2));
    Ok(axis1 + axis2 + axis3)
}

/// mean_i Σ_c W_ic (−S_ic + log Σ_c N_ic exp S_ic) with the row index along axis 0.
fn axis_term(s: Tensor<3>, w: Tensor<3>, neg: Tensor<3>) -> Tensor<1> {
    let [b, _, _] = s.dims();
    let s = s.reshape([b, b * b]);
    let w = w.reshape([b, b * b]);
    let neg = neg.reshape([b, b * b]);

    let not_neg = neg.clone().equal_elem(0.0);
    let no_negatives = neg.sum_dim(1).equal_elem(0.0); // [b, 1]
    let masked = s.clone().mask_fill(not_neg, FILL);
    // The max only shifts the exponent; detaching it leaves the value and gradient unchanged.
    let row_max = masked
        .clone()
        .max_dim(1)
        .detach()
        .mask_fill(no_negatives.clone(), 0.0);
    let sum_exp = (masked - row_max.clone()).exp().sum_dim(1);
    // Rows without negatives would take log 0; feed them log 1 and zero their term below.
    let sum_exp = sum_exp.mask_fill(no_negatives.clone(), 1.0);
    let lse = row_max + sum_exp.log();
    let row = w.clone().sum_dim(1) * lse - (w * s).sum_dim(1);
    row.mask_fill(no_negatives, 0.0).mean()
}
