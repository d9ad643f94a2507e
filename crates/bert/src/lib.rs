//! The frozen BERT text encoder of MultiMat's text branch (spec §2.4): a HuggingFace BERT
//! checkpoint (MatBERT, MatSciBERT, SciBERT, all-MiniLM-L6-v2, any BERT) run natively on burn,
//! turning each material description into one sentence vector (CLS pooling as the reference;
//! mean pooling as an option) that the trainable text MLP then reads.
//!
//! - [`BertConfig`]: `config.json` (rejects non-BERT architectures).
//! - [`BertTokenizer`]: WordPiece via the `tokenizers` crate, from `tokenizer.json` or
//!   `vocab.txt` (cased or uncased), truncating at 512 tokens and reporting truncation.
//! - [`BertModel`]: embeddings + post-norm Transformer layers, HF parameter names
//!   ([`weights::HF_KEY_RENAMES`]); weights from `model.safetensors` or `pytorch_model.bin`.
//! - [`TextEncoder`]: a checkpoint folder loaded, with length-bucketed batching
//!   ([`length_batches`]) and pooling ([`Pooling`]).
//! - [`store`]: the resumable pipeline that embeds a dataset store's descriptions into its
//!   `text` modality ([`embed_store`]).

pub mod config;
pub mod encoder;
pub mod error;
pub mod model;
pub mod store;
pub mod tokenizer;
pub mod weights;

pub use config::{Activation, BertConfig};
pub use encoder::{
    fingerprint, length_batches, CheckpointFiles, Embeddings, EncoderInfo, TextEncoder,
};
pub use error::{BertError, Result};
pub use model::{pool, BertModel, Pooling};
pub use store::{embed_store, StoreTextError, StoreTextEvent, StoreTextJob, StoreTextSummary};
pub use tokenizer::{BertTokenizer, Tokenized, TokenizerSource, MAX_TOKENS};
pub use weights::{load_weights, WeightFormat, HF_KEY_RENAMES};

pub use burn::tensor::Device;

/// The CPU device the encoder runs on by default (burn's `flex` backend).
pub fn cpu_device() -> Device {
    Device::flex()
}
