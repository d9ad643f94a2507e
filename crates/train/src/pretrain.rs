//! MultiMat pretraining (spec §4.1): every material of the training split is a row of a batch,
//! missing modalities are masked in the loss, AdamW with warm-up + cosine, a checkpoint after
//! every epoch, exact resume, a JSONL metrics log and a held-out retrieval check.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use multimat_dataset::{batches, load_or_make_split, Store};
use multimat_model::loss::{
    contrastive_loss_with, LearnableTemperatureConfig, LossOptions, ModalityBatch, Temperature,
};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    latest_checkpoint, restore, save_checkpoint, write_json, RunConfig, TrainState, CONFIG_FILE,
    METRICS_FILE,
};
use crate::config::PretrainConfig;
use crate::data::{check_store_modalities, load_batch, text_dim, CrystalGraphs};
use crate::device::DeviceSpec;
use crate::embed::{embed_modality, with_modality};
use crate::error::{Result, TrainError};
use crate::metrics_log::MetricsLog;
use crate::optim::WarmupCosine;
use crate::validation::{pair_retrieval, PairRetrieval};
use multimat_model::{Modality, ModelConfig, MultiMat};

/// A pretraining job.
pub struct PretrainJob<'a> {
    /// The dataset store (with its PotNet graph cache for the PotNet encoder).
    pub store: &'a Store,
    /// How the store was named by the user (recorded in the run's config).
    pub store_name: String,
    /// Settings; ignored when resuming (the run's own `config.json` is used).
    pub config: PretrainConfig,
    /// The run directory.
    pub out: PathBuf,
    /// Continue the run in `out` from its latest checkpoint.
    pub resume: bool,
    /// Stop after this many completed epochs (the run stays resumable); `None` runs to the end.
    pub stop_after: Option<usize>,
    /// Where to train: a job setting, not saved in the run, so a run started on one device
    /// resumes (or is fine-tuned) on another.
    pub device: DeviceSpec,
    /// Worker threads for CPU tensor work (0 = rayon's default, all cores); ignored when the
    /// process's thread pool already exists (e.g. a second job in one process).
    pub threads: usize,
}

/// What the loop reports while it runs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// Training is about to start (or restart at `first_epoch`).
    Start {
        /// First epoch to run (1-based).
        first_epoch: usize,
        /// Total epochs.
        epochs: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
        /// Training materials.
        train: usize,
        /// Validation materials.
        val: usize,
        /// Trainable parameters.
        parameters: usize,
    },
    /// One optimiser step finished.
    Step {
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        step: usize,
        /// Loss of this batch.
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Materials per second of this step (data loading included).
        materials_per_s: f64,
    },
    /// Validation of the epoch is running.
    Validating {
        /// Epoch (1-based).
        epoch: usize,
    },
    /// An epoch finished and its checkpoint is saved.
    Epoch(&'a EpochRecord),
}

/// One `"event": "epoch"` line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Always `epoch`.
    pub event: String,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Optimiser steps so far.
    pub global_step: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Mean validation loss (evaluation mode), if there are validation materials.
    pub val_loss: Option<f64>,
    /// Retrieval on the validation materials, crystal ↔ every other modality.
    pub retrieval: Vec<PairRetrieval>,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Training materials per second (data loading included).
    pub materials_per_s: f64,
    /// Wall-clock seconds of the epoch (validation and checkpoint included).
    pub seconds: f64,
}

/// One `"event": "step"` line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Always `step`.
    pub event: String,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Global optimiser step (1-based).
    pub step: usize,
    /// Batch loss.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Materials in the batch.
    pub batch: usize,
}

/// What a finished (or stopped) job returns.
#[derive(Debug, Clone)]
pub struct PretrainSummary {
    /// The run directory.
    pub run: PathBuf,
    /// Epoch records of this session, in order.
    pub epochs: Vec<EpochRecord>,
    /// Epochs completed in total (earlier sessions included).
    pub epochs_completed: usize,
}

/// The training/validation materials of a run: split members with a crystal graph.
fn select(
    store: &Store,
    graphs: &CrystalGraphs,
    config: &PretrainConfig,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let (split, _) = load_or_make_split(
        store,
        &config.split,
        store.ids(),
        config.seed,
        config.split_ratios,
    )?;
    let idx = split.indices(store)?;
    let keep = |v: &[usize], max: usize| {
        let mut out: Vec<usize> = v.iter().copied().filter(|&i| graphs.has(i)).collect();
        if max > 0 {
            out.truncate(max);
        }
        out
    };
    Ok((
        keep(&idx.train, config.max_train),
        keep(&idx.val, config.max_val),
    ))
}

fn loss_of(
    model: &MultiMat,
    store: &Store,
    graphs: &CrystalGraphs,
    indices: &[usize],
    config: &PretrainConfig,
    device: &Device,
) -> Result<Tensor<1>> {
    let inputs = load_batch(store, graphs, indices, &config.modalities, device)?;
    let embeddings = model.embed(&inputs)?;
    let batches: Vec<ModalityBatch> = embeddings
        .into_iter()
        .map(|(m, e)| {
            let exists = match inputs.arrays.get(&m) {
                Some((_, exists)) => exists.clone(),
                None => vec![true; indices.len()],
            };
            ModalityBatch::new(m.name(), e, exists)
        })
        .collect::<std::result::Result<_, _>>()?;
    let temperature = match &model.temperature {
        Some(t) => t.temperature(),
        None => Temperature::Fixed(config.temperature),
    };
    let options = LossOptions {
        temperature,
        ..Default::default()
    };
    Ok(contrastive_loss_with(config.loss, &batches, &options)?)
}

/// The first value of a one-element tensor (a loss), NaN when it cannot be read back; the
/// loops check for NaN and stop, so an unreadable loss counts as a diverged one.
pub(crate) fn scalar(t: Tensor<1>) -> f64 {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(f64::NAN)
}

/// Runs (or resumes) a pretraining job, reporting progress through `on_event`.
pub fn pretrain(job: PretrainJob, on_event: &mut dyn FnMut(Event)) -> Result<PretrainSummary> {
    let store = job.store;
    let run = job.out.clone();
    let config_path = run.join(CONFIG_FILE);
    let run_config = if job.resume {
        RunConfig::read(&run)?
    } else {
        if config_path.exists() {
            return Err(TrainError::checkpoint(
                &config_path,
                "this folder already holds a run; continue it with --resume or choose another --out",
            ));
        }
        let config = job.config.clone().validated("pretrain config")?;
        check_store_modalities(store, &config.modalities)?;
        let learnable = config
            .learnable_temperature
            .then(|| LearnableTemperatureConfig {
                tau_init: config.temperature,
                ..Default::default()
            });
        let model = ModelConfig::build(
            config.preset,
            config.crystal_encoder,
            &config.modalities,
            &config.encoders,
            text_dim(store),
            learnable,
        )?;
        let text_encoder = fs::read_to_string(store.dir().join("modalities/text/encoder.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        fs::create_dir_all(&run).map_err(|e| TrainError::io(&run, e))?;
        let rc = RunConfig::new(
            config,
            model,
            job.store_name.clone(),
            store.len(),
            text_encoder,
        );
        write_json(&config_path, &rc)?;
        rc
    };
    let config = &run_config.pretrain;
    check_store_modalities(store, &config.modalities)?;
    if run_config.store_materials != store.len() {
        return Err(TrainError::checkpoint(
            &config_path,
            format!(
                "the run was trained on a store of {} materials but {} has {}",
                run_config.store_materials,
                store.dir().display(),
                store.len()
            ),
        ));
    }
    if job.threads > 0 {
        // Ignored when the global pool already exists (e.g. a second job in one process).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(job.threads)
            .build_global();
    }

    let device = job.device.autodiff_device()?;
    device.seed(config.seed);
    let graphs = CrystalGraphs::load(store, run_config.model.crystal_kind())?;
    let (train, val) = select(store, &graphs, config)?;
    if train.len() < 2 {
        return Err(TrainError::Input(format!(
            "{}: only {} training materials with a crystal graph; need at least 2",
            store.dir().display(),
            train.len()
        )));
    }

    let mut model = run_config.model.init(&device)?;
    let mut optimizer = config.adamw.optimizer();
    let mut state = TrainState {
        epochs_completed: 0,
        global_step: 0,
        seconds: 0.0,
        train_loss: f64::NAN,
        val_loss: None,
    };
    let metrics_path = run.join(METRICS_FILE);
    // A run killed before its first checkpoint has nothing to restore: it starts over from its
    // saved settings, which gives exactly what the uninterrupted run would have.
    let mut log = if job.resume && latest_checkpoint(&run).is_some() {
        let restored = restore(&run, model, optimizer)?;
        model = restored.model;
        optimizer = restored.optimizer;
        state = restored.state;
        MetricsLog::resume(metrics_path, state.epochs_completed)?
    } else {
        MetricsLog::create(metrics_path)?
    };

    let epoch_batches = |epoch: usize| -> Vec<Vec<usize>> {
        batches(&train, config.batch_size, config.seed, epoch as u64, false)
            .into_iter()
            .filter(|b| b.len() >= 2)
            .collect()
    };
    let steps_per_epoch = epoch_batches(1).len();
    let schedule = WarmupCosine::over_epochs(
        config.peak_lr(),
        config.warmup_epochs,
        steps_per_epoch,
        config.epochs,
        config.min_lr_ratio,
    );
    on_event(Event::Start {
        first_epoch: state.epochs_completed + 1,
        epochs: config.epochs,
        steps_per_epoch,
        train: train.len(),
        val: val.len(),
        parameters: multimat_model::trainable_params(&model),
    });

    let mut records = Vec::new();
    let last = job
        .stop_after
        .map_or(config.epochs, |s| s.min(config.epochs));
    for epoch in state.epochs_completed + 1..=last {
        let started = Instant::now();
        let (mut loss_sum, mut seen, mut lr) = (0.0, 0usize, 0.0);
        let epoch_batches = epoch_batches(epoch);
        for (k, batch) in epoch_batches.iter().enumerate() {
            let t0 = Instant::now();
            lr = schedule.lr(state.global_step);
            let loss = loss_of(&model, store, &graphs, batch, config, &device)?;
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    step: state.global_step + 1,
                    value,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            state.global_step += 1;
            loss_sum += value;
            seen += 1;
            let rate = batch.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9);
            if state.global_step.is_multiple_of(config.log_every) || k + 1 == epoch_batches.len() {
                log.write(&StepRecord {
                    event: "step".into(),
                    epoch,
                    step: state.global_step,
                    loss: value,
                    lr,
                    batch: batch.len(),
                })?;
            }
            on_event(Event::Step {
                epoch,
                step: k + 1,
                loss: value,
                lr,
                materials_per_s: rate,
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();
        on_event(Event::Validating { epoch });
        let (val_loss, retrieval) = validate(&model, store, &graphs, &val, config)?;
        state.epochs_completed = epoch;
        state.train_loss = loss_sum / seen.max(1) as f64;
        state.val_loss = val_loss;
        let seconds = started.elapsed().as_secs_f64();
        state.seconds += seconds;
        let keep = config.keep_every > 0 && (epoch == 1 || epoch % config.keep_every == 0);
        save_checkpoint(&run, &model, &optimizer, &state, keep)?;
        let record = EpochRecord {
            event: "epoch".into(),
            epoch,
            global_step: state.global_step,
            train_loss: state.train_loss,
            val_loss,
            retrieval,
            lr,
            materials_per_s: train.len() as f64 / train_seconds.max(1e-9),
            seconds,
        };
        log.write(&record)?;
        on_event(Event::Epoch(&record));
        records.push(record);
    }
    Ok(PretrainSummary {
        run,
        epochs: records,
        epochs_completed: state.epochs_completed,
    })
}

/// Validation loss (evaluation mode, batches of the training size) and crystal ↔ modality
/// retrieval over the validation materials.
fn validate(
    model: &MultiMat,
    store: &Store,
    graphs: &CrystalGraphs,
    val: &[usize],
    config: &PretrainConfig,
) -> Result<(Option<f64>, Vec<PairRetrieval>)> {
    if val.len() < 2 {
        return Ok((None, Vec::new()));
    }
    let eval = model.valid();
    let device = eval.device();
    let mut sum = 0.0;
    let mut n = 0usize;
    for chunk in val.chunks(config.batch_size) {
        if chunk.len() < 2 {
            continue;
        }
        sum += scalar(loss_of(&eval, store, graphs, chunk, config, &device)?);
        n += 1;
    }
    let val_loss = (n > 0).then(|| sum / n as f64);
    let mut retrieval = Vec::new();
    let bs = config.batch_size.max(2);
    for &m in config
        .modalities
        .iter()
        .filter(|&&m| m != Modality::Crystal)
    {
        let both = with_modality(store, graphs, m, val)?;
        if both.len() < 2 {
            continue;
        }
        let c = embed_modality(
            &eval,
            store,
            graphs,
            Modality::Crystal,
            &both,
            bs,
            true,
            &device,
            &mut |_| {},
        )?;
        let o = embed_modality(
            &eval,
            store,
            graphs,
            m,
            &both,
            bs,
            true,
            &device,
            &mut |_| {},
        )?;
        retrieval.push(pair_retrieval(
            "crystal",
            m.name(),
            &c.values,
            &o.values,
            c.dim,
        ));
        retrieval.push(pair_retrieval(
            m.name(),
            "crystal",
            &o.values,
            &c.values,
            c.dim,
        ));
    }
    Ok((val_loss, retrieval))
}
