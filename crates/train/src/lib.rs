//! MultiMat training and the jobs that run a trained model, over a dataset store:
//!
//! - [`pretrain`]: pretraining (spec §4.1), masked contrastive losses over every material of
//!   the training split, a checkpoint after every epoch, exact resume ([`checkpoint`]:
//!   safetensors weights + JSON config + optimiser state; [`metrics_log`]: the JSONL log).
//! - [`finetune`]: fine-tuning for a property (spec §4.2), a folder of rooms: `task` (targets),
//!   `config`, `model` (the crystal encoder + linear head, what [`predict`] loads), `results`
//!   (MAE/MSE, mean ± std, the Markdown report) and `run` (the loop over variants × seeds).
//! - [`optim`]: what both loops share: the AdamW settings and builder, warm-up + cosine.
//! - [`data`]: store rows → model inputs (crystal graphs from the graph caches, array
//!   modalities with their masks); [`embed`]: a model over store rows → embeddings.
//! - [`session`] (a run + store + graphs for embedding), [`discover`] (a target spectrum
//!   embedded and matched against crystals), [`predict`] (a fine-tuned model on new files),
//!   [`validation`] (the per-epoch held-out retrieval, ranked as `eval retrieval` ranks).
//! - [`package`]: model folders (the shipped `multimat-base`): pretrained weights, card and
//!   fine-tuned heads in one folder, and where the shipped one is found.
//! - [`config`]: `pretrain.toml`; [`device`]: `cpu`, `cuda:N`, `wgpu:N`, a setting of the job,
//!   never of the run, so a run continues on another device.
//!
//! Layering: reads stores and graph caches (dataset), builds the MultiMat model, its encoders
//! and losses (model), hands embeddings to the eval layer (ranking, search, metrics; eval
//! never depends on training); knows no file format beyond its own run directories.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod discover;
pub mod embed;
pub mod error;
pub mod finetune;
pub mod metrics_log;
pub mod optim;
pub mod package;
pub mod predict;
pub mod pretrain;
pub mod session;
pub mod structures;
pub mod validation;

pub use checkpoint::{load_run, LoadedRun, RunConfig, TrainState};
pub use config::PretrainConfig;
pub use device::DeviceSpec;
pub use error::{Result, TrainError};
pub use pretrain::{pretrain, EpochRecord, Event, PretrainJob, PretrainSummary};
pub use session::{Part, Session};
