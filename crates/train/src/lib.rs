//! MultiMat training: pretraining (spec §4.1) over a dataset store, with AdamW and the
//! reference's warm-up + cosine schedule, masked contrastive losses, per-epoch checkpoints
//! (safetensors weights + JSON config + optimiser state), exact resume and a JSONL metrics
//! log; plus loading a trained run for inference ([`session`]: a run + store + graphs for
//! embedding; [`discover`]: a target spectrum embedded and matched against crystals).
//!
//! Layering: reads stores and graph caches (dataset), builds the MultiMat model, its encoders and losses (model),
//! hands embeddings to the eval layer (multimat-eval: ranking, search, metrics; eval never
//! depends on training); knows no file format beyond its own run directory.

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
pub mod predict;
pub mod pretrain;
pub mod session;
pub mod validation;

pub use checkpoint::{load_run, LoadedRun, RunConfig, TrainState};
pub use config::PretrainConfig;
pub use device::DeviceSpec;
pub use error::{Result, TrainError};
pub use pretrain::{pretrain, EpochRecord, Event, PretrainJob, PretrainSummary};
pub use session::{Part, Session};
