//! MultiMat training: pretraining (spec §4.1) over a dataset store, with AdamW and the
//! reference's warm-up + cosine schedule, masked contrastive losses, per-epoch checkpoints
//! (safetensors weights + JSON config + optimiser state), exact resume and a JSONL metrics
//! log; plus loading a trained run for inference.
//!
//! Layering: reads stores and graph caches (dataset), builds encoders and losses (model);
//! knows no file format beyond its own run directory.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod embed;
pub mod error;
pub mod finetune;
pub mod metrics_log;
pub mod model;
pub mod optim;
pub mod predict;
pub mod pretrain;
pub mod validation;

pub use checkpoint::{load_run, LoadedRun, RunConfig, TrainState};
pub use config::{Modality, PretrainConfig};
pub use device::DeviceSpec;
pub use error::{Result, TrainError};
pub use model::{CrystalKind, ModelConfig, MultiMat, Preset};
pub use pretrain::{pretrain, EpochRecord, Event, PretrainJob, PretrainSummary};
