//! Fine-tuning for property prediction (spec §4.2): the crystal encoder plus a linear head,
//! every weight trainable, MSE on the (optionally log10-transformed) targets, AdamW with
//! warm-up + cosine, the best-validation checkpoint kept and the test split evaluated once with
//! it. One job runs any of three variants on the same split and seeds: the pretrained encoder
//! of a `multimat pretrain` run, the same network from scratch (the PotNet baseline) and CGCNN.
//!
//! The folder a job writes:
//!
//! ```text
//! FT/
//!   config.json                     the job: task, transform, hyper-parameters, variants
//!   results.json, results.md        per variant per seed test MAE/MSE, mean ± std
//!   VARIANT/seed-S/                 one training run (VARIANT = pretrained, scratch, cgcnn)
//!     model.json                    FinetunedModelConfig: what `predict` rebuilds
//!     best/model.safetensors        weights of the epoch with the lowest validation MAE
//!     best/state.json               that epoch and its validation metrics
//!     metrics.jsonl                 one line per epoch: train loss, validation MAE, lr
//!     test_predictions.json         the test materials, targets and predictions (task units)
//! ```
//!
//! The rooms: [`task`] (what is predicted and in which units), [`config`] (the settings),
//! [`model`] (the fine-tuned model and its folder, all that inference needs), [`results`]
//! (metrics, `results.json`, `results.md`) and [`run`] (the loop).

pub mod config;
pub mod model;
pub mod results;
pub mod run;
pub mod task;

pub use crate::optim::finetune_lr;
pub use config::FinetuneConfig;
pub use model::{
    load_finetuned, run_dir, BestState, FinetunedModelConfig, Regressor, Variant, BEST_DIR,
    MODEL_FILE,
};
pub use results::{
    mae, metrics, mse, results_markdown, FinetuneEpochRecord, FinetuneResults, MeanStd, Metrics,
    RunResult, SplitSizes, TestPredictions, VariantResult, RESULTS_FILE, RESULTS_MD_FILE,
    TEST_PREDICTIONS_FILE,
};
pub use run::{finetune, predict_indices, Event, FinetuneJob, FinetuneJobRecord};
pub use task::{TargetTransform, Task, ELASTIC_OUTPUTS};
