//! Evaluation of MultiMat embeddings, independent of how they were trained: it only sees
//! embedding matrices (one row per material id) and store data.
//!
//! - [`embeddings`]: [`Embeddings`] files (Parquet with ids, or `.npy` + `.ids.json`).
//! - [`search`]: exact cosine top-k as blocked matrix products, rayon-parallel, and the one
//!   ranking rule (ties broken by index) that training-time validation uses too.
//! - [`retrieval`]: cross-modal retrieval ranks and top-k accuracy (spec §5.1).
//! - [`discovery`]: DOS-targeted material discovery and the nMAE best-of-N curve (spec §5.2).
//! - [`umap`]: UMAP layouts and their trustworthiness (spec §5.3).
//! - [`plot`]: axis-free scatter maps as PNG/SVG with a legend or colour bar.

pub mod discovery;
pub mod embeddings;
pub mod error;
pub mod plot;
pub mod retrieval;
pub mod search;
pub mod umap;

pub use embeddings::Embeddings;
pub use error::{Error, ErrorKind, Result};
