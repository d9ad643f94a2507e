//! BERT in burn: embeddings, post-norm Transformer layers and pooling, laid out so that the
//! HuggingFace parameter names load after three renames (`bert.` prefix dropped,
//! `attention.self` → `attention.self_attn` because `self` is a Rust keyword, `LayerNorm` →
//! `layer_norm`); see [`crate::weights`].
//!
//! The model is only ever run frozen: no dropout, no autodiff.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, relu, softmax, tanh};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{Activation, BertConfig};

/// How token states become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// The final hidden state of `[CLS]` (MultiMat's reference: the MatBERT CLS vector).
    #[default]
    Cls,
    /// The average of the final hidden states over the real tokens (padding excluded),
    /// `[CLS]` and `[SEP]` included, as sentence-transformers does.
    Mean,
}

impl Pooling {
    /// `"cls"` or `"mean"`.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Cls => "cls",
            Pooling::Mean => "mean",
        }
    }
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cls" => Ok(Pooling::Cls),
            "mean" => Ok(Pooling::Mean),
            other => Err(format!("pooling {other:?}: use \"cls\" or \"mean\"")),
        }
    }
}

/// Word + position + segment embeddings, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub layer_norm: LayerNorm,
}

/// The query/key/value projections (HF `attention.self`).
#[derive(Module, Debug)]
pub struct BertSelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
}

/// Projection after attention or feed-forward, residual add, LayerNorm (HF `*.output`).
#[derive(Module, Debug)]
pub struct BertResidualOutput {
    pub dense: Linear,
    pub layer_norm: LayerNorm,
}

/// Self-attention block.
#[derive(Module, Debug)]
pub struct BertAttention {
    pub self_attn: BertSelfAttention,
    pub output: BertResidualOutput,
}

/// The feed-forward expansion (HF `intermediate`).
#[derive(Module, Debug)]
pub struct BertIntermediate {
    pub dense: Linear,
}

/// One Transformer layer (post-norm, as in BERT).
#[derive(Module, Debug)]
pub struct BertLayer {
    pub attention: BertAttention,
    pub intermediate: BertIntermediate,
    pub output: BertResidualOutput,
    #[module(skip)]
    pub heads: usize,
    #[module(skip)]
    pub gelu_kind: usize,
}

/// The layer stack (HF `encoder.layer.N`).
#[derive(Module, Debug)]
pub struct BertStack {
    pub layer: Vec<BertLayer>,
}

/// A BERT model without pooler or heads: token ids → final hidden states.
#[derive(Module, Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub encoder: BertStack,
}

const ACT_GELU: usize = 0;
const ACT_GELU_TANH: usize = 1;
const ACT_RELU: usize = 2;

/// Additive attention bias for padded keys: large enough that exp() underflows to exactly 0,
/// small enough that adding it to a score stays finite in f32.
const MASKED: f32 = -1.0e9;

impl BertModel {
    /// A model with burn's default (random) initialisation, to be overwritten by
    /// [`crate::weights::load_weights`] or used as a random test network.
    pub fn init(c: &BertConfig, device: &Device) -> Self {
        let h = c.hidden_size;
        let ln = || {
            LayerNormConfig::new(h)
                .with_epsilon(c.layer_norm_eps)
                .init(device)
        };
        let lin = |i: usize, o: usize| LinearConfig::new(i, o).init(device);
        let gelu_kind = match c.hidden_act {
            Activation::Gelu => ACT_GELU,
            Activation::GeluTanh => ACT_GELU_TANH,
            Activation::Relu => ACT_RELU,
        };
        BertModel {
            embeddings: BertEmbeddings {
                word_embeddings: EmbeddingConfig::new(c.vocab_size, h).init(device),
                position_embeddings: EmbeddingConfig::new(c.max_position_embeddings, h)
                    .init(device),
                token_type_embeddings: EmbeddingConfig::new(c.type_vocab_size, h).init(device),
                layer_norm: ln(),
            },
            encoder: BertStack {
                layer: (0..c.num_hidden_layers)
                    .map(|_| BertLayer {
                        attention: BertAttention {
                            self_attn: BertSelfAttention {
                                query: lin(h, h),
                                key: lin(h, h),
                                value: lin(h, h),
                            },
                            output: BertResidualOutput {
                                dense: lin(h, h),
                                layer_norm: ln(),
                            },
                        },
                        intermediate: BertIntermediate {
                            dense: lin(h, c.intermediate_size),
                        },
                        output: BertResidualOutput {
                            dense: lin(c.intermediate_size, h),
                            layer_norm: ln(),
                        },
                        heads: c.num_attention_heads,
                        gelu_kind,
                    })
                    .collect(),
            },
        }
    }

    /// Final hidden states `[B, L, hidden]` of a padded batch.
    ///
    /// `ids`: `B` rows of `L` token ids (row-major, `B·L` values); `mask`: 1 for real tokens,
    /// 0 for padding, same layout. Segment ids are all 0 (single sentences). The caller
    /// guarantees `L` ≤ `max_position_embeddings` and ids < vocabulary size.
    pub fn forward(
        &self,
        ids: &[u32],
        mask: &[u8],
        batch: usize,
        len: usize,
        device: &Device,
    ) -> Tensor<3> {
        let ids_i: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids_i, [batch, len]), device);
        let positions: Vec<i64> = (0..len as i64).collect();
        let positions = Tensor::<2, Int>::from_data(TensorData::new(positions, [1, len]), device);
        let segments = Tensor::<2, Int>::zeros([batch, len], device);
        let e = &self.embeddings;
        let x = e.word_embeddings.forward(ids)
            + e.position_embeddings.forward(positions)
            + e.token_type_embeddings.forward(segments);
        let mut x = e.layer_norm.forward(x);
        let bias: Vec<f32> = mask
            .iter()
            .map(|&m| if m != 0 { 0.0 } else { MASKED })
            .collect();
        let bias = Tensor::<4>::from_data(TensorData::new(bias, [batch, 1, 1, len]), device);
        for layer in &self.encoder.layer {
            x = layer.forward(x, bias.clone());
        }
        x
    }
}

impl BertLayer {
    /// `x`: `[B, L, H]`, `bias`: `[B, 1, 1, L]` additive key mask → `[B, L, H]`.
    pub fn forward(&self, x: Tensor<3>, bias: Tensor<4>) -> Tensor<3> {
        let [b, l, h] = x.dims();
        let d = h / self.heads;
        let a = &self.attention.self_attn;
        let split = |t: Tensor<3>| t.reshape([b, l, self.heads, d]).swap_dims(1, 2);
        // Scaling q (L·d values) rather than the scores (L·L) gives the same logits for less work.
        let q = split(a.query.forward(x.clone())).mul_scalar(1.0 / (d as f64).sqrt());
        let k = split(a.key.forward(x.clone()));
        let v = split(a.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)) + bias;
        let ctx = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, l, h]);
        let o = &self.attention.output;
        let x = o.layer_norm.forward(o.dense.forward(ctx) + x);
        let inter = self.intermediate.dense.forward(x.clone());
        let inter = match self.gelu_kind {
            ACT_GELU => gelu(inter),
            ACT_GELU_TANH => gelu_tanh(inter),
            _ => relu(inter),
        };
        let o = &self.output;
        o.layer_norm.forward(o.dense.forward(inter) + x)
    }
}

/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, HF's `gelu_new`.
fn gelu_tanh(x: Tensor<3>) -> Tensor<3> {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715)).mul_scalar(c);
    x.mul_scalar(0.5) * tanh(inner).add_scalar(1.0)
}

/// Pools hidden states `[B, L, H]` into `[B, H]` sentence vectors; `mask` as in
/// [`BertModel::forward`].
pub fn pool(hidden: Tensor<3>, mask: &[u8], pooling: Pooling, device: &Device) -> Tensor<2> {
    let [b, l, h] = hidden.dims();
    match pooling {
        Pooling::Cls => hidden.narrow(1, 0, 1).reshape([b, h]),
        Pooling::Mean => {
            let m: Vec<f32> = mask.iter().map(|&x| f32::from(x)).collect();
            let m = Tensor::<3>::from_data(TensorData::new(m, [b, l, 1]), device);
            let counts = m.clone().sum_dim(1).reshape([b, 1]);
            (hidden * m).sum_dim(1).reshape([b, h]) / counts
        }
    }
}
