//! The fine-tuning loop: prepares the task's split, then trains every variant × seed (AdamW,
//! warm-up + cosine, MSE in training units), keeps the best-validation checkpoint, tests it
//! once and writes the job's results.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use multimat_dataset::{batches, load_or_make_split, Split, Store};
use serde::{Deserialize, Serialize};

use super::config::FinetuneConfig;
use super::model::{
    encoder_configs, load_finetuned, run_dir, save_best, BestState, FinetunedModelConfig,
    Regressor, Variant, MODEL_FILE, MODEL_FORMAT,
};
use super::results::{
    metrics, write_results, FinetuneEpochRecord, FinetuneResults, MeanStd, Metrics, RunResult,
    SplitSizes, TestPredictions, VariantResult, TEST_PREDICTIONS_FILE,
};
use super::task::{TargetTransform, Task};
use crate::checkpoint::{write_json, RunConfig, METRICS_FILE};
use crate::data::CrystalGraphs;
use crate::device::DeviceSpec;
use crate::error::{Result, TrainError};
use crate::metrics_log::MetricsLog;
use crate::optim::{finetune_lr, WarmupCosine};
use crate::pretrain::scalar;
use multimat_model::{CrystalConfig, CrystalKind};

const JOB_FORMAT: &str = "multimat-finetune-job";

/// A fine-tuning job.
pub struct FinetuneJob<'a> {
    /// The dataset store (with its PotNet graph cache for PotNet variants).
    pub store: &'a Store,
    /// How the store was named by the user (recorded).
    pub store_name: String,
    /// Settings.
    pub config: FinetuneConfig,
    /// A pretraining run (`multimat pretrain --out RUN`); needed by `Variant::Pretrained` and
    /// sets the architecture of the other variants.
    pub from: Option<PathBuf>,
    /// Variants to run, in this order, each on the same split and seeds.
    pub variants: Vec<Variant>,
    /// The output folder (must not hold a job already).
    pub out: PathBuf,
    /// Where to train: a job setting, not saved with the job, so the same settings run
    /// anywhere (CPU, `cuda:N`, `wgpu:N`).
    pub device: DeviceSpec,
    /// Worker threads for CPU tensor work (0 = rayon's default, all cores); ignored when the
    /// process's thread pool already exists (e.g. a second job in one process).
    pub threads: usize,
}

/// What the job reports while it runs.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The split is ready.
    Prepared {
        /// Split name.
        split: &'a str,
        /// Reused from disk.
        reused: bool,
        /// Materials per part.
        sizes: SplitSizes,
        /// Left out for a non-positive target (log10).
        excluded_nonpositive: usize,
        /// Left out for a missing graph.
        excluded_without_graph: usize,
    },
    /// A run starts.
    Start {
        /// Variant.
        variant: Variant,
        /// Seed.
        seed: u64,
        /// Epochs.
        epochs: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
        /// Trainable parameters.
        parameters: usize,
    },
    /// One optimiser step finished.
    Step {
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        step: usize,
        /// Batch MSE (training units).
        loss: f64,
        /// Learning rate used.
        lr: f64,
    },
    /// An epoch finished.
    Epoch(&'a FinetuneEpochRecord),
    /// A run finished and its best checkpoint was tested.
    Tested {
        /// Variant.
        variant: Variant,
        /// The run's result.
        result: &'a RunResult,
    },
}

/// `config.json` of a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneJobRecord {
    /// Always `multimat-finetune-job`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// The settings.
    pub config: FinetuneConfig,
    /// The task's resolved form.
    pub task: Task,
    /// The split file.
    pub split: String,
    /// The pretraining run given, if any.
    pub from: Option<String>,
    /// The store, as given.
    pub store: String,
    /// Variants and their encoder configurations.
    pub variants: Vec<(Variant, CrystalConfig)>,
    /// multimat version.
    pub multimat_version: String,
}

struct Prepared {
    task: Task,
    targets: Vec<Option<Vec<f64>>>,
    train: Vec<usize>,
    val: Vec<usize>,
    test: Vec<usize>,
}

/// Loads or creates the split of the materials with the task's target.
fn task_split(
    store: &Store,
    targets: &[Option<Vec<f64>>],
    config: &FinetuneConfig,
) -> Result<(Split, bool)> {
    let ids: Vec<String> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_some())
        .map(|(i, _)| store.ids()[i].clone())
        .collect();
    Ok(load_or_make_split(
        store,
        &config.split_name(),
        &ids,
        config.split_seed,
        config.split_ratios,
    )?)
}

fn to_f64(t: Tensor<2>) -> Result<Vec<f64>> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .map_err(|e| TrainError::Input(format!("reading predictions back: {e:?}")))
}

/// Predictions (task units, `indices.len() × outputs` row-major) of `model` for the materials
/// at `indices`, in evaluation batches of `batch_size`.
pub fn predict_indices(
    model: &Regressor,
    graphs: &CrystalGraphs,
    indices: &[usize],
    transform: TargetTransform,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(batch_size.max(1)) {
        let input = graphs.input(chunk, device)?;
        out.extend(
            to_f64(model.forward(&input)?)?
                .into_iter()
                .map(|x| transform.inverse(x)),
        );
    }
    Ok(out)
}

fn flat_targets(targets: &[Option<Vec<f64>>], indices: &[usize]) -> Vec<f64> {
    indices
        .iter()
        .flat_map(|&i| targets[i].iter().flatten().copied())
        .collect()
}

/// Runs a fine-tuning job: every variant × seed on one split, then writes the results.
pub fn finetune(job: FinetuneJob, on_event: &mut dyn FnMut(Event)) -> Result<FinetuneResults> {
    let store = job.store;
    let config = job.config.clone().validated("finetune config")?;
    if job.variants.is_empty() {
        return Err(TrainError::config("variants", "no variant to run"));
    }
    let mut variants = job.variants.clone();
    variants.dedup();
    let run_config = match &job.from {
        Some(run) => Some(RunConfig::read(run)?),
        None => None,
    };
    if variants.contains(&Variant::Pretrained) && run_config.is_none() {
        return Err(TrainError::config(
            "--from",
            "the pretrained variant needs a pretraining run (--from RUN); use --from-scratch without one",
        ));
    }
    let task = Task::resolve(&config.task, store)?;
    if task == Task::ElasticTensor && config.target_transform == TargetTransform::Log10 {
        return Err(TrainError::config(
            "--target-transform",
            "log10 needs positive targets, but elastic-tensor components are often zero or negative; use none",
        ));
    }
    let config_path = job.out.join("config.json");
    if config_path.exists() {
        return Err(TrainError::checkpoint(
            &config_path,
            "this folder already holds a fine-tuning job; choose another --out",
        ));
    }
    let encoders = encoder_configs(run_config.as_ref(), config.preset, &variants)?;
    // A pretraining run's latest checkpoint, or a model folder's weights (maybe f16).
    let pretrained_weights = match (&job.from, variants.contains(&Variant::Pretrained)) {
        (Some(run), true) => Some(crate::package::weights_of(run)?),
        _ => None,
    };
    if job.threads > 0 {
        // Ignored when the global pool already exists (e.g. a second job in one process).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(job.threads)
            .build_global();
    }
    let device = job.device.autodiff_device()?;
    let infer_device = job.device.device()?;

    // Graphs of every encoder kind the job needs, so that all variants see the same materials.
    let needs = |k: CrystalKind| encoders.iter().any(|(_, c)| c.kind() == k);
    let potnet_graphs = if needs(CrystalKind::Potnet) {
        Some(CrystalGraphs::load(store, CrystalKind::Potnet)?)
    } else {
        None
    };
    let cgcnn_graphs = if needs(CrystalKind::Cgcnn) {
        Some(CrystalGraphs::load(store, CrystalKind::Cgcnn)?)
    } else {
        None
    };
    let graphs_of = |k: CrystalKind| -> Result<&CrystalGraphs> {
        match k {
            CrystalKind::Potnet => potnet_graphs.as_ref(),
            CrystalKind::Cgcnn => cgcnn_graphs.as_ref(),
        }
        .ok_or_else(|| TrainError::Input(format!("no {k:?} graphs were loaded")))
    };

    let targets = task.targets(store)?;
    let (split, reused) = task_split(store, &targets, &config)?;
    let idx = split.indices(store)?;
    let (mut nonpositive, mut no_graph) = (0usize, 0usize);
    let mut keep = |part: &[usize]| -> Vec<usize> {
        part.iter()
            .copied()
            .filter(|&i| {
                let Some(t) = &targets[i] else { return false };
                if !t.iter().all(|&y| config.target_transform.accepts(y)) {
                    nonpositive += 1;
                    return false;
                }
                let has = potnet_graphs.as_ref().is_none_or(|g| g.has(i))
                    && cgcnn_graphs.as_ref().is_none_or(|g| g.has(i));
                if !has {
                    no_graph += 1;
                }
                has
            })
            .collect()
    };
    let prepared = Prepared {
        train: keep(&idx.train),
        val: keep(&idx.val),
        test: keep(&idx.test),
        task,
        targets,
    };
    let sizes = SplitSizes {
        train: prepared.train.len(),
        val: prepared.val.len(),
        test: prepared.test.len(),
    };
    on_event(Event::Prepared {
        split: &split.name,
        reused,
        sizes,
        excluded_nonpositive: nonpositive,
        excluded_without_graph: no_graph,
    });
    if sizes.train < 2 || sizes.val == 0 || sizes.test == 0 {
        return Err(TrainError::Input(format!(
            "{}: task `{}` on split `{}` leaves {} training, {} validation and {} test materials; need at least 2, 1 and 1",
            store.dir().display(),
            prepared.task.name(),
            split.name,
            sizes.train,
            sizes.val,
            sizes.test
        )));
    }

    fs::create_dir_all(&job.out).map_err(|e| TrainError::io(&job.out, e))?;
    let record = FinetuneJobRecord {
        format: JOB_FORMAT.into(),
        version: 1,
        config: config.clone(),
        task: prepared.task.clone(),
        split: split.name.clone(),
        from: job.from.as_ref().map(|p| p.display().to_string()),
        store: job.store_name.clone(),
        variants: encoders.clone(),
        multimat_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&config_path, &record)?;

    let seeds: Vec<u64> = (0..config.seeds as u64).map(|k| config.seed + k).collect();
    let mut results = Vec::new();
    for (variant, crystal) in &encoders {
        let graphs = graphs_of(crystal.kind())?;
        let mut runs = Vec::new();
        let mut parameters = 0;
        for &seed in &seeds {
            let model_config = FinetunedModelConfig {
                format: MODEL_FORMAT.into(),
                version: 1,
                task: prepared.task.clone(),
                outputs: prepared.task.outputs(),
                units: prepared.task.units().into(),
                target_transform: config.target_transform,
                variant: *variant,
                seed,
                crystal: crystal.clone(),
                latent_dim: crystal.output_dim(),
                pretrained_from: match variant {
                    Variant::Pretrained => job.from.as_ref().map(|p| p.display().to_string()),
                    _ => None,
                },
                store: job.store_name.clone(),
                split: split.name.clone(),
                weights_dtype: None,
            };
            let run = TrainRun {
                config: &config,
                model_config: &model_config,
                prepared: &prepared,
                graphs,
                pretrained: match (variant, &run_config, &pretrained_weights) {
                    (Variant::Pretrained, Some(rc), Some((w, dtype))) => {
                        Some((&rc.model, w.as_path(), *dtype))
                    }
                    _ => None,
                },
                device: &device,
                infer_device: &infer_device,
                dir: run_dir(&job.out, *variant, seed),
                ids: store.ids(),
            };
            let (result, params) = run.train(on_event)?;
            parameters = params;
            on_event(Event::Tested {
                variant: *variant,
                result: &result,
            });
            runs.push(result);
        }
        let col =
            |f: &dyn Fn(&RunResult) -> f64| MeanStd::of(&runs.iter().map(f).collect::<Vec<_>>());
        results.push(VariantResult {
            variant: *variant,
            encoder: crystal.kind(),
            pretrained_from: match variant {
                Variant::Pretrained => job.from.as_ref().map(|p| p.display().to_string()),
                _ => None,
            },
            parameters,
            test_mae: col(&|r| r.test.mae),
            test_mse: col(&|r| r.test.mse),
            test_mae_transformed: col(&|r| r.test.mae_transformed),
            runs,
        });
    }
    let out = FinetuneResults {
        task: prepared.task.name().to_string(),
        outputs: prepared.task.outputs(),
        units: prepared.task.units().into(),
        target_transform: config.target_transform,
        selection: "lowest validation MAE in training (transformed) units, checked every epoch"
            .into(),
        split: split.name.clone(),
        split_reused: reused,
        sizes,
        excluded_nonpositive: nonpositive,
        excluded_without_graph: no_graph,
        epochs: config.epochs,
        seeds,
        variants: results,
    };
    write_results(&job.out, &out)?;
    Ok(out)
}

struct TrainRun<'a> {
    config: &'a FinetuneConfig,
    model_config: &'a FinetunedModelConfig,
    prepared: &'a Prepared,
    graphs: &'a CrystalGraphs,
    /// The pretraining run's model and its weights file, for the pretrained variant.
    pretrained: Option<(
        &'a multimat_model::ModelConfig,
        &'a Path,
        crate::package::WeightsDtype,
    )>,
    device: &'a Device,
    infer_device: &'a Device,
    dir: PathBuf,
    ids: &'a [String],
}

impl TrainRun<'_> {
    fn init_model(&self) -> Result<Regressor> {
        let fresh = self.model_config.init(self.device);
        let Some((model, weights, dtype)) = self.pretrained else {
            return Ok(fresh);
        };
        // The whole pretrained model is loaded so that every tensor of the file is checked
        // against the run's architecture; only its crystal encoder is kept.
        let pretrained = crate::package::load_weights_as(model.init(self.device)?, weights, dtype)?;
        Ok(Regressor {
            crystal: pretrained.crystal,
            head: fresh.head,
        })
    }

    fn train(&self, on_event: &mut dyn FnMut(Event)) -> Result<(RunResult, usize)> {
        let c = self.config;
        let p = self.prepared;
        let transform = c.target_transform;
        let outputs = self.model_config.outputs;
        fs::create_dir_all(&self.dir).map_err(|e| TrainError::io(&self.dir, e))?;
        write_json(&self.dir.join(MODEL_FILE), self.model_config)?;
        self.device.seed(self.model_config.seed);
        let mut model = self.init_model()?;
        let mut optimizer = c.adamw.optimizer();
        let parameters = multimat_model::trainable_params(&model);
        // Batches of one material are dropped: batch norm needs more than one sample.
        let epoch_batches = |epoch: usize| -> Vec<Vec<usize>> {
            batches(
                &p.train,
                c.batch_size,
                self.model_config.seed,
                epoch as u64,
                false,
            )
            .into_iter()
            .filter(|b| b.len() >= 2)
            .collect()
        };
        let steps_per_epoch = epoch_batches(1).len();
        let schedule =
            WarmupCosine::over_epochs(c.lr, c.warmup_epochs, steps_per_epoch, c.epochs, 0.0);
        on_event(Event::Start {
            variant: self.model_config.variant,
            seed: self.model_config.seed,
            epochs: c.epochs,
            steps_per_epoch,
            parameters,
        });
        let mut log = MetricsLog::create(self.dir.join(METRICS_FILE))?;
        let val_targets = flat_targets(&p.targets, &p.val);
        let mut best: Option<(BestState, Metrics)> = None;
        let mut step = 0usize;
        for epoch in 1..=c.epochs {
            let started = Instant::now();
            let (mut sum, mut n, mut lr) = (0.0, 0usize, 0.0);
            for (k, batch) in epoch_batches(epoch).iter().enumerate() {
                lr = finetune_lr(&schedule, step);
                let input = self.graphs.input(batch, self.device)?;
                let target: Vec<f32> = flat_targets(&p.targets, batch)
                    .into_iter()
                    .map(|y| transform.forward(y) as f32)
                    .collect();
                let target = Tensor::<2>::from_data(
                    TensorData::new(target, [batch.len(), outputs]),
                    self.device,
                );
                let diff = model.forward(&input)? - target;
                let loss = (diff.clone() * diff).mean();
                let value = scalar(loss.clone());
                if !value.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        step: step + 1,
                        value,
                    });
                }
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(lr, model, grads);
                step += 1;
                sum += value;
                n += 1;
                on_event(Event::Step {
                    epoch,
                    step: k + 1,
                    loss: value,
                    lr,
                });
            }
            let eval = model.valid();
            let eval_device = eval
                .devices()
                .into_iter()
                .next()
                .unwrap_or_else(|| self.infer_device.clone());
            let pred = predict_indices(
                &eval,
                self.graphs,
                &p.val,
                transform,
                c.batch_size,
                &eval_device,
            )?;
            let val = metrics(&pred, &val_targets, transform);
            let improved = val.mae_transformed.is_finite()
                && best
                    .as_ref()
                    .is_none_or(|(b, _)| val.mae_transformed < b.val_mae_transformed);
            if improved {
                let state = BestState {
                    epoch,
                    val_mae_transformed: val.mae_transformed,
                    val_mae: val.mae,
                };
                save_best(&self.dir, &model, &state)?;
                best = Some((state, val));
            }
            let record = FinetuneEpochRecord {
                event: "epoch".into(),
                variant: self.model_config.variant,
                seed: self.model_config.seed,
                epoch,
                train_loss: sum / n.max(1) as f64,
                val,
                best: improved,
                lr,
                seconds: started.elapsed().as_secs_f64(),
            };
            log.write(&record)?;
            on_event(Event::Epoch(&record));
        }
        let (best_state, best_val) = best.ok_or_else(|| {
            TrainError::Input(format!(
                "{}: the validation MAE was never finite; no checkpoint to test",
                self.dir.display()
            ))
        })?;
        // The test split is evaluated once, with the weights read back from the best
        // checkpoint on disk (what `predict` will load), not with the last epoch's.
        let (_, tested) = load_finetuned(&self.dir, self.infer_device)?;
        let pred = predict_indices(
            &tested,
            self.graphs,
            &p.test,
            transform,
            c.batch_size,
            self.infer_device,
        )?;
        let test_targets = flat_targets(&p.targets, &p.test);
        let test = metrics(&pred, &test_targets, transform);
        write_json(
            &self.dir.join(TEST_PREDICTIONS_FILE),
            &TestPredictions {
                ids: p.test.iter().map(|&i| self.ids[i].clone()).collect(),
                outputs,
                targets: test_targets,
                predictions: pred,
            },
        )?;
        Ok((
            RunResult {
                seed: self.model_config.seed,
                best_epoch: best_state.epoch,
                val: best_val,
                test,
                dir: self.dir.clone(),
            },
            parameters,
        ))
    }
}
