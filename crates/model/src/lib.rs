//! MultiMat's models on burn 0.22.1: one encoder per modality, each mapping its input to the
//! shared 128-d latent space (spec §2), and the CLIP family of contrastive losses with masks for
//! missing modalities (spec §3). Knows nothing about file formats: inputs arrive as tensors
//! built by the dataset layer.

pub mod encoders;
pub mod flops;
pub mod loss;
pub mod params;

pub use params::trainable_params;
