//! Density-of-states encoder (spec §2.2): a pre-norm Transformer in which every energy point
//! of the spectrum is a token.
//!
//! Input `[B, 2, L]` (the reference uses L = 601): row 0 holds the energies E − E_F in eV, row 1
//! the DOS in states/eV. Both are fed raw, without scaling (spec §10 gotcha 10); energies act as
//! the only position signal, there is no positional encoding and no CLS token. Each token is
//! `W_r [ (W_E·E_t + b_E) ; (W_D·ρ_t + b_D) ] + b_r`, followed by `depth` blocks
//! `x += W_o·MHA(LN(x)) + b_o`, `x += FF(LN(x))`, then a mean over tokens. There is no final
//! LayerNorm, and the output width is `dim` (spec §10 gotcha 21: the reference ties the DOS
//! output width to `--dim`, not `--latent_dim`).
//!
//! # Why the attention is written by hand
//! The reference uses the `vit-pytorch` attention: one bias-free `Linear(dim → 3·heads·dim_head)`
//! for q, k and v, heads of width `dim_head = 64` so that the inner width (8·64 = 512) is four
//! times `dim`, softmax(q kᵀ/√dim_head), and an output `Linear(512 → dim)` with bias. burn's
//! `MultiHeadAttention` / `TransformerEncoder` have three separate q/k/v linears *with* bias and
//! fix the head width to `d_model / n_heads` (16 here), so they can reproduce neither the weights
//! nor the parameter count (1,611,392). [`attention`] is therefore a plain
//! matmul–softmax–matmul.
//!
//! # Memory
//! Attention is dense over all L tokens: the score tensor is `B × heads × L × L` f32. At the
//! paper's size and batch (B = 128, 8 heads, L = 601) that is 128·8·601²·4 B ≈ 1.48 GB for one
//! layer, and training keeps the softmax output of each of the 4 layers for the backward pass
//! (≈ 6 GB, plus the scores while they are alive). Setting
//! [`DosTransformerConfig::query_chunk`] processes the queries in blocks of that many rows,
//! which caps the inference peak at `B × heads × chunk × L`; under autodiff the per-chunk
//! probabilities are still kept for the backward, so chunking helps inference far more than
//! training.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Tensor};

use crate::error::EncoderError;

/// Configuration of the [`DosTransformer`]. Defaults are the paper's (spec §2.2): dim 128,
/// depth 4, 8 heads of width 64 (inner 512), MLP width 512, no dropout; 1,611,392 parameters.
#[derive(Config, Debug)]
pub struct DosTransformerConfig {
    /// Token (model) width, which is also the output width.
    #[config(default = 128)]
    pub dim: usize,
    /// Number of pre-norm Transformer blocks.
    #[config(default = 4)]
    pub depth: usize,
    /// Number of attention heads.
    #[config(default = 8)]
    pub heads: usize,
    /// Width of each head (independent of `dim / heads`, as in `vit-pytorch`).
    #[config(default = 64)]
    pub dim_head: usize,
    /// Hidden width of the feed-forward block (the reference uses 4·dim).
    #[config(default = 512)]
    pub mlp_dim: usize,
    /// LayerNorm epsilon (PyTorch's default).
    #[config(default = 1e-5)]
    pub layer_norm_eps: f64,
    /// If non-zero, attention is computed for this many query rows at a time (same result,
    /// lower peak memory). 0 computes all rows at once.
    #[config(default = 0)]
    pub query_chunk: usize,
    /// Points per token: the spectrum is averaged over windows of this many consecutive
    /// points (energies and DOS alike) before tokenisation, so 601 points become ⌊601/s⌋
    /// tokens (a trailing partial window is dropped). 1 is the reference (every point a token).
    /// Attention cost falls as 1/s²; the small preset uses 4 (150 tokens), which keeps the
    /// shape of a phonon spectrum sampled at 51 points and of an electronic DOS at 0.067 eV.
    #[config(default = 1)]
    pub token_stride: usize,
    /// Factor applied to row 0 (the energy axis) before the energy embedding. 1 for the
    /// electronic DOS (eV, as the reference). Phonon spectra are stored in cm⁻¹ (0–1000 on
    /// one shared grid); fed raw, the energy term swamps the DOS values after the LayerNorm
    /// and every phonon spectrum embeds alike, so the phonon encoder uses 0.01 (hundreds of
    /// cm⁻¹, the range of the electronic energies).
    #[config(default = 1.0)]
    pub energy_scale: f64,
}

impl DosTransformerConfig {
    /// A small preset for CPU demos and tests: dim 32, depth 2, 4 heads of width 16, MLP 128,
    /// 4 points per token.
    pub fn small() -> Self {
        Self::new()
            .with_dim(32)
            .with_depth(2)
            .with_heads(4)
            .with_dim_head(16)
            .with_mlp_dim(128)
            .with_token_stride(4)
    }

    /// Tokens for a spectrum of `points` energy points.
    pub fn tokens(&self, points: usize) -> usize {
        points / self.token_stride.max(1)
    }

    /// Width of the concatenated heads (`heads · dim_head`).
    pub fn inner_dim(&self) -> usize {
        self.heads * self.dim_head
    }

    /// Checks that all widths are positive and the epsilon is finite and positive.
    pub fn validate(&self) -> Result<(), EncoderError> {
        for (name, value) in [
            ("dim", self.dim),
            ("depth", self.depth),
            ("heads", self.heads),
            ("dim_head", self.dim_head),
            ("mlp_dim", self.mlp_dim),
            ("token_stride", self.token_stride),
        ] {
            if value == 0 {
                return Err(EncoderError::InvalidConfig {
                    encoder: "dos",
                    problem: format!("{name} must be positive"),
                });
            }
        }
        if !(self.energy_scale.is_finite() && self.energy_scale > 0.0) {
            return Err(EncoderError::InvalidConfig {
                encoder: "dos",
                problem: format!(
                    "energy_scale must be finite and positive, found {}",
                    self.energy_scale
                ),
            });
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(EncoderError::InvalidConfig {
                encoder: "dos",
                problem: format!(
                    "layer_norm_eps must be finite and positive, found {}",
                    self.layer_norm_eps
                ),
            });
        }
        Ok(())
    }

    /// Builds the encoder. All linear layers use burn's default initialiser, which equals
    /// PyTorch's `nn.Linear` default (weight and bias U(±1/√fan_in)); LayerNorm γ = 1, β = 0.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails; call it first on user-supplied configurations.
    pub fn init(&self, device: &Device) -> DosTransformer {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let inner = self.inner_dim();
        let blocks = (0..self.depth)
            .map(|_| DosBlock {
                attn_norm: LayerNormConfig::new(self.dim)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
                qkv: LinearConfig::new(self.dim, 3 * inner)
                    .with_bias(false)
                    .init(device),
                attn_out: LinearConfig::new(inner, self.dim).init(device),
                ff_norm: LayerNormConfig::new(self.dim)
                    .with_epsilon(self.layer_norm_eps)
                    .init(device),
                ff1: LinearConfig::new(self.dim, self.mlp_dim).init(device),
                ff2: LinearConfig::new(self.mlp_dim, self.dim).init(device),
                heads: self.heads,
                dim_head: self.dim_head,
                query_chunk: self.query_chunk,
            })
            .collect();
        DosTransformer {
            energy_embed: LinearConfig::new(1, self.dim).init(device),
            dos_embed: LinearConfig::new(1, self.dim).init(device),
            token_proj: LinearConfig::new(2 * self.dim, self.dim).init(device),
            blocks,
            token_stride: self.token_stride.max(1),
            energy_scale: self.energy_scale,
        }
    }

    /// Forward floating-point operations for `batch` spectra of `points` energy points
    /// (multiply-add = 2; LayerNorm, softmax, GELU and residual adds counted at a few FLOPs per
    /// element). The two attention matmuls grow as `points²`; the rest linearly.
    pub fn forward_flops(&self, batch: usize, points: usize) -> f64 {
        let (n, d) = (self.tokens(points) as f64, self.dim as f64);
        let inner = self.inner_dim() as f64;
        let (h, dh, m) = (self.heads as f64, self.dim_head as f64, self.mlp_dim as f64);
        let embed = 2.0 * (2.0 * n * d) + 2.0 * n * (2.0 * d) * d + n * d;
        let per_block = 2.0 * n * d * 3.0 * inner // qkv
            + 2.0 * h * n * n * dh * 2.0 // q kᵀ and p v
            + 5.0 * h * n * n // scale, softmax (max, exp, sum, divide)
            + 2.0 * n * inner * d + n * d // output projection and bias
            + 2.0 * (8.0 * n * d) // two LayerNorms
            + 2.0 * n * d * m + n * m + 8.0 * n * m // FF1, bias, GELU
            + 2.0 * n * m * d + n * d // FF2, bias
            + 2.0 * n * d; // two residual adds
        batch as f64 * (embed + self.depth as f64 * per_block + n * d)
    }
}

/// One pre-norm Transformer block of the DOS encoder.
#[derive(Module, Debug)]
pub struct DosBlock {
    /// LayerNorm before attention.
    pub attn_norm: LayerNorm,
    /// Bias-free `dim → 3·heads·dim_head` projection; columns are `[q | k | v]`, each split into
    /// heads of `dim_head` consecutive columns (the `vit-pytorch` layout).
    pub qkv: Linear,
    /// `heads·dim_head → dim` output projection, with bias.
    pub attn_out: Linear,
    /// LayerNorm before the feed-forward.
    pub ff_norm: LayerNorm,
    /// `dim → mlp_dim`.
    pub ff1: Linear,
    /// `mlp_dim → dim`.
    pub ff2: Linear,
    /// Number of heads.
    #[module(skip)]
    pub heads: usize,
    /// Width of each head.
    #[module(skip)]
    pub dim_head: usize,
    /// Query rows per attention chunk (0 = all).
    #[module(skip)]
    pub query_chunk: usize,
}

impl DosBlock {
    /// `x`: `[B, L, dim]` → `[B, L, dim]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, _] = x.dims();
        let inner = self.heads * self.dim_head;
        let qkv = self.qkv.forward(self.attn_norm.forward(x.clone()));
        let split_heads =
            |t: Tensor<3>| t.reshape([b, n, self.heads, self.dim_head]).swap_dims(1, 2);
        let q = split_heads(qkv.clone().narrow(2, 0, inner));
        let k = split_heads(qkv.clone().narrow(2, inner, inner));
        let v = split_heads(qkv.narrow(2, 2 * inner, inner));
        let heads_out = attention(q, k, v, self.query_chunk);
        let merged = heads_out.swap_dims(1, 2).reshape([b, n, inner]);
        let x = x + self.attn_out.forward(merged);
        let hidden = gelu(self.ff1.forward(self.ff_norm.forward(x.clone())));
        x + self.ff2.forward(hidden)
    }
}

/// Scaled dot-product attention, `softmax(q kᵀ / √d) v`, the softmax taken over the key axis.
///
/// `q`: `[B, H, Lq, d]`, `k` and `v`: `[B, H, Lk, d]` → `[B, H, Lq, d]`. If `query_chunk` is
/// non-zero the query rows are processed in blocks of that size (identical result, the
/// `[B, H, chunk, Lk]` score block is the largest temporary).
pub fn attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, query_chunk: usize) -> Tensor<4> {
    let [_, _, lq, d] = q.dims();
    let scale = 1.0 / (d as f64).sqrt();
    let kt = k.swap_dims(2, 3);
    // Scaling q (Lq·d values) instead of the scores (Lq·Lk) gives the same logits for less work.
    let one = |q: Tensor<4>| softmax(q.mul_scalar(scale).matmul(kt.clone()), 3).matmul(v.clone());
    if query_chunk == 0 || query_chunk >= lq {
        one(q)
    } else {
        let parts = q.split(query_chunk, 2).into_iter().map(one).collect();
        Tensor::cat(parts, 2)
    }
}

/// The DOS Transformer: `[B, 2, L]` spectra → `[B, dim]` embeddings.
#[derive(Module, Debug)]
pub struct DosTransformer {
    /// `Linear(1 → dim)` applied to each energy E − E_F (eV).
    pub energy_embed: Linear,
    /// `Linear(1 → dim)` applied to each DOS value (states/eV).
    pub dos_embed: Linear,
    /// `Linear(2·dim → dim)` mixing the concatenated `[energy ; dos]` embeddings.
    pub token_proj: Linear,
    /// The pre-norm Transformer blocks.
    pub blocks: Vec<DosBlock>,
    /// Points averaged into one token.
    #[module(skip)]
    pub token_stride: usize,
    /// Factor on the energy axis before embedding (see [`DosTransformerConfig::energy_scale`]).
    #[module(skip)]
    pub energy_scale: f64,
}

impl DosTransformer {
    /// Token width (= output width).
    pub fn dim(&self) -> usize {
        self.token_proj.weight.shape().dims::<2>()[1]
    }

    /// Window means of `token_stride` points: `[B, 2, L]` → `[B, 2, ⌊L/s⌋]` (unchanged for
    /// s = 1 or when L < s).
    fn pool(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, _, n] = x.dims();
        let s = self.token_stride;
        if s <= 1 || n < s {
            return x;
        }
        let t = n / s;
        x.narrow(2, 0, t * s)
            .reshape([b, 2, t, s])
            .mean_dim(3)
            .reshape([b, 2, t])
    }

    /// Token embeddings before the Transformer blocks: `[B, 2, L]` → `[B, ⌊L/s⌋, dim]`.
    pub fn embed(&self, x: Tensor<3>) -> Tensor<3> {
        let x = self.pool(x);
        let [b, _, n] = x.dims();
        let mut energies = x.clone().narrow(1, 0, 1).reshape([b, n, 1]);
        if self.energy_scale != 1.0 {
            energies = energies.mul_scalar(self.energy_scale);
        }
        let dos = x.narrow(1, 1, 1).reshape([b, n, 1]);
        let tokens = Tensor::cat(
            vec![
                self.energy_embed.forward(energies),
                self.dos_embed.forward(dos),
            ],
            2,
        );
        self.token_proj.forward(tokens)
    }

    /// `x`: `[B, 2, L]` with row 0 = E − E_F (eV) and row 1 = DOS (states/eV) → `[B, dim]`
    /// (mean over the L tokens after the last block).
    ///
    /// Burn panics on a wrong shape; use [`try_forward`](Self::try_forward) for tensors that
    /// come from outside the program.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let mut h = self.embed(x);
        for block in &self.blocks {
            h = block.forward(h);
        }
        h.mean_dim(1).squeeze_dim(1)
    }

    /// [`forward`](Self::forward) after checking that `x` is `[B ≥ 1, 2, L ≥ 1]`.
    pub fn try_forward(&self, x: Tensor<3>) -> Result<Tensor<2>, EncoderError> {
        let dims = x.dims();
        if dims[0] == 0 || dims[1] != 2 || dims[2] == 0 {
            return Err(EncoderError::InputShape {
                encoder: "dos",
                expected: "[B>=1, 2, L>=1] (row 0 energies, row 1 DOS)".to_string(),
                found: dims.to_vec(),
            });
        }
        Ok(self.forward(x))
    }
}
