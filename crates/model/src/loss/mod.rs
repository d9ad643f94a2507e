//! The CLIP family of contrastive losses and the Barlow-Twins variants of MultiMat (spec §3),
//! with missing-modality masks.
//!
//! All losses take L2-normalised or raw embeddings as rows of a `[B, d]` tensor (one row per
//! material of the batch, the same row order in every modality) and return a scalar as a
//! `Tensor<1>` of shape `[1]` that stays on the embeddings' device and in their autodiff graph.
//! Embeddings are dimensionless; the temperature τ is dimensionless too.
//!
//! | [`LossKind`] name | function | reference (`--loss_function_name`) | normalisation |
//! |---|---|---|---|
//! | `clip` | [`clip_pair`] on two modalities | `loss_pair` (spec §3 common piece) | CE + CEᵀ, the *sum* of both directions |
//! | `anchored_clip` | [`anchored_clip_sum`] | `anchored_clip` (CLI default) | Σ_{m≠c} infoNCE = Σ (CE + CEᵀ)/2 |
//! | `tri_anchored_clip` | [`anchored_clip`] | `tri_anchored_clip` | Σ_{m≠c} (CE + CEᵀ) / (2·#M) |
//! | `all_pairs_clip`, `tri_all_pairs_clip` | [`all_pairs_clip`] | `tri_all_pairs_clip` | Σ_{pairs} (CE + CEᵀ) / (2·#pairs) |
//! | `tensor_clip` | [`tensor_clip`] | `tensor_clip` (`TensorCLIPLoss2`) | loss₁ + loss₂ + loss₃ |
//! | `barlow_twins` | [`barlow_twins_anchored`] | `barlow_twins` (`barlow_bimodal`) | Σ_{m≠c} BT(m, c) |
//! | `tri_barlow_twins` | [`barlow_twins_3way`] | `tri_barlow_twins(_fast)` | one 3-way BT |
//! | `tri_barlow_twins_half` | [`barlow_twins_3way`] with [`BarlowTarget::Half`] | `tri_barlow_twins_fast --barlow_half` | one 3-way BT |
//! | `quad_barlow` | [`barlow_twins_4way_half`] | `quad_barlow` (half only) | one 4-way BT |
//!
//! The reference's own `all_pairs_clip` needs an argument its training loop never passes (spec
//! §3: broken), so that name selects the working masked all-pairs loss here.
//!
//! Temperature: the reference uses a fixed τ = 0.2 (spec §10 gotcha 2); [`Temperature::Fixed`]
//! with [`Temperature::REFERENCE`] reproduces it. [`LearnableTemperature`] is an opt-in
//! CLIP-style learnable logit scale, not part of the reference.
//!
//! Masks: every modality carries a per-row `exists` flag. The CLIP losses drop the rows where a
//! pair does not both exist *before* building the n×n logits (spec §10 gotcha 3): the loss is a
//! plain CLIP on the surviving sub-batch. A pair with 0 surviving rows contributes exactly 0 (the
//! reference's `cross_entropy` over 0 rows gives NaN) and a pair with 1 row contributes 0 as well
//! (a 1×1 logits matrix has log-softmax 0), so both are finite. The divisors (2·#M, 2·#pairs) are
//! fixed counts as in the reference: they do not shrink when a pair has no rows.

mod barlow;
mod clip;
mod tensor_clip;

pub use barlow::{
    barlow_twins, barlow_twins_3way, barlow_twins_4way_half, barlow_twins_anchored, BarlowConfig,
    BarlowTarget, DEFAULT_LAMBDA,
};
pub use clip::{
    all_pairs_clip, anchored_clip, anchored_clip_sum, clip_pair, info_nce, l2_normalize,
    masked_clip_pair,
};
pub use tensor_clip::tensor_clip;

use std::fmt;
use std::str::FromStr;

use burn::module::{Module, Param};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// What went wrong when a loss was asked for. `modality` names the offending entry of the
/// batch list, which is the place the error occurred.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossError {
    /// The loss needs a different number of modalities than it was given.
    #[error("loss `{loss}`: needs {expected} modalities, got {found}")]
    ModalityCount {
        /// Loss name.
        loss: &'static str,
        /// Human-readable requirement, e.g. "exactly 3".
        expected: &'static str,
        /// Number of modalities given.
        found: usize,
    },
    /// A modality's embedding tensor has a different number of rows than the first one.
    #[error("modality `{modality}`: {found} rows but the first modality has {expected}")]
    BatchSize {
        /// Offending modality.
        modality: String,
        /// Rows of the first modality.
        expected: usize,
        /// Rows of this modality.
        found: usize,
    },
    /// A modality's embedding width differs from the first modality's.
    #[error(
        "modality `{modality}`: embedding width {found} but the first modality has {expected}"
    )]
    Width {
        /// Offending modality.
        modality: String,
        /// Width of the first modality.
        expected: usize,
        /// Width of this modality.
        found: usize,
    },
    /// The `exists` mask does not have one entry per row.
    #[error("modality `{modality}`: exists mask has {found} entries for {rows} rows")]
    MaskLength {
        /// Offending modality.
        modality: String,
        /// Rows of the embedding tensor.
        rows: usize,
        /// Mask entries.
        found: usize,
    },
    /// An embedding tensor has zero width, so no similarity can be formed.
    #[error("modality `{modality}`: embedding width is 0")]
    ZeroWidth {
        /// Offending modality.
        modality: String,
    },
    /// τ must be positive and finite.
    #[error("temperature must be positive and finite, got {0}")]
    Temperature(f64),
    /// The learnable-temperature bounds are not ordered or not finite.
    #[error("learnable temperature: need finite 0 < tau_min <= tau_init <= tau_max, got min {min}, init {init}, max {max}")]
    TemperatureBounds {
        /// Smallest τ allowed.
        min: f64,
        /// Starting τ.
        init: f64,
        /// Largest τ allowed.
        max: f64,
    },
    /// Barlow-Twins λ must be finite and ≥ 0.
    #[error("Barlow Twins lambda must be finite and >= 0, got {0}")]
    Lambda(f64),
    /// A loss name that [`LossKind::from_str`] does not know.
    #[error("unknown loss `{0}`; known: {known}", known = LossKind::NAMES.join(", "))]
    UnknownLoss(String),
}

/// One modality of a batch: its name (for error messages), its embeddings and which rows exist.
#[derive(Clone, Debug)]
pub struct ModalityBatch {
    /// Modality name, e.g. `crystal`, `dos`, `charge_density`, `text`.
    pub name: String,
    /// Embeddings, shape `[B, d]`, dimensionless. Rows of missing materials may hold anything
    /// finite (the encoders see zero inputs for them); they are ignored through `exists`.
    pub embeddings: Tensor<2>,
    /// `exists[i]` is false when material `i` lacks this modality; length `B`.
    pub exists: Vec<bool>,
}

impl ModalityBatch {
    /// A modality with a per-row existence mask; the mask must have one entry per row.
    pub fn new(
        name: impl Into<String>,
        embeddings: Tensor<2>,
        exists: Vec<bool>,
    ) -> Result<Self, LossError> {
        let name = name.into();
        let rows = embeddings.dims()[0];
        if exists.len() != rows {
            return Err(LossError::MaskLength {
                modality: name,
                rows,
                found: exists.len(),
            });
        }
        Ok(Self {
            name,
            embeddings,
            exists,
        })
    }

    /// A modality present for every row.
    pub fn present(name: impl Into<String>, embeddings: Tensor<2>) -> Self {
        let rows = embeddings.dims()[0];
        Self {
            name: name.into(),
            embeddings,
            exists: vec![true; rows],
        }
    }

    /// Rows of the batch (`B`).
    pub fn rows(&self) -> usize {
        self.embeddings.dims()[0]
    }
}

/// Checks the batch list and returns `(B, d)`. `count` is checked by the caller's `expected`.
pub(crate) fn check_batches(
    loss: &'static str,
    batches: &[ModalityBatch],
    expected: &'static str,
    count_ok: impl Fn(usize) -> bool,
) -> Result<(usize, usize), LossError> {
    if !count_ok(batches.len()) {
        return Err(LossError::ModalityCount {
            loss,
            expected,
            found: batches.len(),
        });
    }
    let [rows, width] = batches[0].embeddings.dims();
    for b in batches {
        let [r, w] = b.embeddings.dims();
        if r != rows {
            return Err(LossError::BatchSize {
                modality: b.name.clone(),
                expected: rows,
                found: r,
            });
        }
        if w != width {
            return Err(LossError::Width {
                modality: b.name.clone(),
                expected: width,
                found: w,
            });
        }
        if w == 0 {
            return Err(LossError::ZeroWidth {
                modality: b.name.clone(),
            });
        }
        if b.exists.len() != r {
            return Err(LossError::MaskLength {
                modality: b.name.clone(),
                rows: r,
                found: b.exists.len(),
            });
        }
    }
    Ok((rows, width))
}

/// Row indices where every given mask is true. Masks come from the data loader on the host,
/// so this is host work; only the resulting index list is uploaded.
pub(crate) fn joint_rows(masks: &[&[bool]]) -> Vec<usize> {
    let rows = masks.first().map_or(0, |m| m.len());
    (0..rows).filter(|&i| masks.iter().all(|m| m[i])).collect()
}

/// Keeps the listed rows of `x` (`[B, d]` → `[rows.len(), d]`); no copy when all rows are kept.
/// Callers handle `rows.is_empty()` themselves, since zero-sized tensors are avoided.
pub(crate) fn take_rows(x: Tensor<2>, rows: &[usize], total: usize) -> Tensor<2> {
    if rows.len() == total {
        return x;
    }
    let device = x.device();
    let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows.len()]), &device);
    x.select(0, idx)
}

/// A scalar 0 of shape `[1]` for a term with no rows, computed from `x` (`[B, d]`) so that it
/// stays in `x`'s autodiff graph: `backward()` on a loss made only of such terms then gives zero
/// gradients instead of failing on an untracked tensor. The value is exactly 0 even when `x`
/// holds non-finite numbers (`mask_fill`, not a multiplication by 0). A zero-row `x` gives an
/// untracked 0, as there is nothing to differentiate.
pub(crate) fn zero_from(x: &Tensor<2>) -> Tensor<1> {
    let device = x.device();
    if x.dims()[0] == 0 || x.dims()[1] == 0 {
        return Tensor::zeros([1], &device);
    }
    let all = Tensor::<1, Bool>::from_data(TensorData::new(vec![true], [1]), &device);
    x.clone()
        .slice([0..1, 0..1])
        .reshape([1])
        .mask_fill(all, 0.0)
}

/// The softmax temperature τ of the CLIP losses (logits = cosine similarity / τ).
// One value is built per training step, so the tensor variant's size costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Temperature {
    /// A constant τ, as in the reference (`--temp`, default 0.2).
    Fixed(f64),
    /// A logit scale 1/τ held in a tensor of shape `[1]`, e.g. from
    /// [`LearnableTemperature::scale`]; gradients flow into it.
    Scale(Tensor<1>),
}

impl Temperature {
    /// The reference's fixed temperature, τ = 0.2.
    pub const REFERENCE: f64 = 0.2;

    /// The reference setting, `Fixed(0.2)`.
    pub fn reference() -> Self {
        Self::Fixed(Self::REFERENCE)
    }

    pub(crate) fn check(&self) -> Result<(), LossError> {
        match self {
            Self::Fixed(t) if !(t.is_finite() && *t > 0.0) => Err(LossError::Temperature(*t)),
            _ => Ok(()),
        }
    }

    /// Similarities → logits: divides by τ (or multiplies by the learnt scale, broadcast).
    pub(crate) fn apply<const D: usize>(&self, sim: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Fixed(t) => sim.div_scalar(*t),
            Self::Scale(s) => sim * s.clone().reshape([1usize; D]),
        }
    }
}

impl Default for Temperature {
    fn default() -> Self {
        Self::reference()
    }
}

impl From<f64> for Temperature {
    fn from(t: f64) -> Self {
        Self::Fixed(t)
    }
}

/// Settings of [`LearnableTemperature`]. Defaults start at the reference τ = 0.2 and clamp
/// τ to [0.01, 1], i.e. the logit scale to [1, 100] as CLIP does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearnableTemperatureConfig {
    /// Starting τ (dimensionless). CLIP starts at 0.07; 0.2 is the reference's fixed value.
    pub tau_init: f64,
    /// Smallest τ the forward pass allows (CLIP: 0.01, i.e. scale ≤ 100).
    pub tau_min: f64,
    /// Largest τ the forward pass allows (CLIP: 1, i.e. scale ≥ 1).
    pub tau_max: f64,
}

impl Default for LearnableTemperatureConfig {
    fn default() -> Self {
        Self {
            tau_init: Temperature::REFERENCE,
            tau_min: 0.01,
            tau_max: 1.0,
        }
    }
}

impl LearnableTemperatureConfig {
    /// Builds the module on `device`; errors on non-finite or unordered bounds.
    pub fn init(&self, device: &Device) -> Result<LearnableTemperature, LossError> {
        let ok = [self.tau_min, self.tau_init, self.tau_max]
            .iter()
            .all(|t| t.is_finite() && *t > 0.0)
            && self.tau_min <= self.tau_init
            && self.tau_init <= self.tau_max;
        if !ok {
            return Err(LossError::TemperatureBounds {
                min: self.tau_min,
                init: self.tau_init,
                max: self.tau_max,
            });
        }
        let log_scale = Tensor::<1>::from_data(
            TensorData::new(vec![(1.0 / self.tau_init).ln() as f32], [1]),
            device,
        );
        Ok(LearnableTemperature {
            log_scale: Param::from_tensor(log_scale),
            min_log_scale: (1.0 / self.tau_max).ln(),
            max_log_scale: (1.0 / self.tau_min).ln(),
        })
    }
}

/// A learnable temperature in CLIP's parametrisation: the parameter is log(1/τ), the logit scale
/// is exp(log(1/τ)). **Not used by the reference**, which keeps τ = 0.2 fixed.
///
/// The log-scale is clamped in the forward pass to [ln(1/τ_max), ln(1/τ_min)]; while it sits
/// outside that range its gradient is zero (CLIP instead clamps the stored parameter after each
/// optimiser step; clamping in the forward pass needs no hook in the training loop).
#[derive(Module, Debug)]
pub struct LearnableTemperature {
    /// log(1/τ), shape `[1]`.
    pub log_scale: Param<Tensor<1>>,
    #[module(skip)]
    min_log_scale: f64,
    #[module(skip)]
    max_log_scale: f64,
}

impl LearnableTemperature {
    /// The clamped logit scale 1/τ, shape `[1]`.
    pub fn scale(&self) -> Tensor<1> {
        self.log_scale
            .val()
            .clamp(self.min_log_scale, self.max_log_scale)
            .exp()
    }

    /// The current clamped τ = 1/scale, shape `[1]`.
    pub fn tau(&self) -> Tensor<1> {
        self.scale().recip()
    }

    /// The temperature to hand to the losses.
    pub fn temperature(&self) -> Temperature {
        Temperature::Scale(self.scale())
    }
}

/// Which contrastive loss to train with; names follow the reference's `--loss_function_name`
/// (see the table in the module docs). Parsed with [`FromStr`] and (de)serialised by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Symmetric CLIP between exactly two modalities, CE + CEᵀ on rows where both exist.
    Clip,
    /// The reference's CLI default: Σ_{m≠crystal} infoNCE(m, crystal) = Σ (CE + CEᵀ)/2.
    AnchoredClip,
    /// The reference's masked `tri_anchored_clip`: Σ_{m≠crystal} (CE + CEᵀ) / (2·#M).
    #[serde(alias = "masked_anchored_clip")]
    TriAnchoredClip,
    /// The reference's masked `tri_all_pairs_clip`: Σ_{pairs} (CE + CEᵀ) / (2·#pairs).
    #[serde(alias = "tri_all_pairs_clip")]
    AllPairsClip,
    /// 3-way TensorCLIP (crystal, DOS, charge density).
    TensorClip,
    /// Σ_{m≠crystal} Barlow Twins(m, crystal).
    BarlowTwins,
    /// 3-way Barlow Twins, target 1 on the hyper-diagonal and 0 elsewhere.
    #[serde(alias = "tri_barlow_twins_fast")]
    TriBarlowTwins,
    /// 3-way Barlow Twins with the "half" target (0.5 where two indices match).
    TriBarlowTwinsHalf,
    /// 4-way Barlow Twins with the "half" target (1, 1/2, 1/3, 1/6 by match count).
    #[serde(alias = "quad_barlow_half")]
    QuadBarlow,
}

impl LossKind {
    /// Every accepted name, canonical names first.
    pub const NAMES: &'static [&'static str] = &[
        "clip",
        "anchored_clip",
        "tri_anchored_clip",
        "all_pairs_clip",
        "tensor_clip",
        "barlow_twins",
        "tri_barlow_twins",
        "tri_barlow_twins_half",
        "quad_barlow",
        "masked_anchored_clip",
        "tri_all_pairs_clip",
        "tri_barlow_twins_fast",
        "quad_barlow_half",
    ];

    /// The canonical name (what [`fmt::Display`] prints and serde writes).
    pub fn name(self) -> &'static str {
        match self {
            Self::Clip => "clip",
            Self::AnchoredClip => "anchored_clip",
            Self::TriAnchoredClip => "tri_anchored_clip",
            Self::AllPairsClip => "all_pairs_clip",
            Self::TensorClip => "tensor_clip",
            Self::BarlowTwins => "barlow_twins",
            Self::TriBarlowTwins => "tri_barlow_twins",
            Self::TriBarlowTwinsHalf => "tri_barlow_twins_half",
            Self::QuadBarlow => "quad_barlow",
        }
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LossKind {
    type Err = LossError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "clip" => Self::Clip,
            "anchored_clip" => Self::AnchoredClip,
            "tri_anchored_clip" | "masked_anchored_clip" => Self::TriAnchoredClip,
            "all_pairs_clip" | "tri_all_pairs_clip" => Self::AllPairsClip,
            "tensor_clip" => Self::TensorClip,
            "barlow_twins" => Self::BarlowTwins,
            "tri_barlow_twins" | "tri_barlow_twins_fast" => Self::TriBarlowTwins,
            "tri_barlow_twins_half" => Self::TriBarlowTwinsHalf,
            "quad_barlow" | "quad_barlow_half" => Self::QuadBarlow,
            other => return Err(LossError::UnknownLoss(other.to_string())),
        })
    }
}

/// Everything [`contrastive_loss_with`] needs besides the batch.
#[derive(Clone, Debug, Default)]
pub struct LossOptions {
    /// τ for the CLIP losses (reference: fixed 0.2).
    pub temperature: Temperature,
    /// λ and feature normalisation for the Barlow losses.
    pub barlow: BarlowConfig,
}

/// Computes the loss `kind` on `batches` (crystal first, all with the same `B` rows) with the
/// given temperature and the default Barlow settings. Returns a scalar of shape `[1]`.
pub fn contrastive_loss(
    kind: LossKind,
    batches: &[ModalityBatch],
    temperature: &Temperature,
) -> Result<Tensor<1>, LossError> {
    let options = LossOptions {
        temperature: temperature.clone(),
        barlow: BarlowConfig::default(),
    };
    contrastive_loss_with(kind, batches, &options)
}

/// As [`contrastive_loss`], with all options explicit.
pub fn contrastive_loss_with(
    kind: LossKind,
    batches: &[ModalityBatch],
    options: &LossOptions,
) -> Result<Tensor<1>, LossError> {
    let t = &options.temperature;
    let bt = &options.barlow;
    match kind {
        LossKind::Clip => {
            check_batches("clip", batches, "exactly 2", |n| n == 2)?;
            Ok(masked_clip_pair(&batches[0], &batches[1], t)?.0)
        }
        LossKind::AnchoredClip => anchored_clip_sum(batches, t),
        LossKind::TriAnchoredClip => anchored_clip(batches, t),
        LossKind::AllPairsClip => all_pairs_clip(batches, t),
        LossKind::TensorClip => tensor_clip(batches, t),
        LossKind::BarlowTwins => barlow_twins_anchored(batches, bt),
        LossKind::TriBarlowTwins => barlow_twins_3way(batches, BarlowTarget::Diagonal, bt),
        LossKind::TriBarlowTwinsHalf => barlow_twins_3way(batches, BarlowTarget::Half, bt),
        LossKind::QuadBarlow => barlow_twins_4way_half(batches, bt),
    }
}
