//! MultiMat's models on burn 0.22.1: one encoder per modality, each mapping its input to the
//! shared 128-d latent space (spec §2), the MultiMat model that holds one encoder per modality
//! and embeds a batch of all of them, and the CLIP family of contrastive losses with masks for
//! missing modalities (spec §3). Knows nothing about file formats: graphs arrive as the graphs
//! crate's borrowed views and arrays as tensors built by the training layer.
//!
//! - [`modality`]: the modalities and their one name each;
//! - [`preset`]: model sizes, the one preset → encoder-configuration mapping;
//! - [`encoders`]: PotNet, CGCNN, DOS Transformer, 3-D ResNeXt, text MLP;
//! - [`crystal`]: the crystal encoder (PotNet or CGCNN), the anchor every model holds;
//! - [`multimat`]: [`ModelConfig`] (saved in a run) and the [`MultiMat`] model;
//! - [`loss`]: CLIP, AnchoredCLIP, TensorCLIP, Barlow Twins, with masks;
//! - [`error`]: encoder, graph-input and model errors;
//! - [`flops`], [`params`]: FLOP counts and parameter counts for benchmarks.

pub mod crystal;
pub mod encoders;
pub mod error;
pub mod flops;
pub mod loss;
pub mod modality;
pub mod multimat;
pub mod params;
pub mod preset;

pub use crystal::{CrystalConfig, CrystalEncoder, CrystalInput, CrystalKind};
pub use error::{EncoderError, GraphInputError, ModelError};
pub use modality::Modality;
pub use multimat::{ArrayInput, BatchInputs, EncoderOverrides, ModelConfig, MultiMat};
pub use params::trainable_params;
pub use preset::Preset;
