//! Predictions of a fine-tuned model for new structures: the crystal graph is built exactly as
//! the store's graph cache builds it ([`crate::structures::crystal_input`]), the model runs in
//! evaluation mode and the target transform is undone, so values come out in the task's units
//! (GPa, eV).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use multimat_crystal::Structure;
use multimat_model::CrystalInput;

use crate::checkpoint::read_json;
use crate::error::{Result, TrainError};
use crate::finetune::model::{
    load_finetuned, run_dir, FinetunedModelConfig, Regressor, Variant, MODEL_FILE,
};
use crate::finetune::results::{FinetuneResults, RESULTS_FILE};

/// One structure's prediction: its `config.outputs` values in task units, or why it has none
/// (the message names the structure).
pub type Prediction = std::result::Result<Vec<f64>, String>;

/// A fine-tuned model ready for inference.
pub struct Predictor {
    /// The model folder it was loaded from.
    pub dir: PathBuf,
    /// What it predicts and how.
    pub config: FinetunedModelConfig,
    model: Regressor,
    device: Device,
}

/// The model folder to load from `path`: a run folder (with `model.json`) as is, or in a job
/// folder (with `results.json`) the run of `variant` (default: the first variant of the job)
/// and `seed` (default: that variant's seed with the lowest validation MAE).
pub fn resolve_model_dir(
    path: &Path,
    variant: Option<Variant>,
    seed: Option<u64>,
) -> Result<PathBuf> {
    if path.join(MODEL_FILE).exists() {
        if variant.is_some() || seed.is_some() {
            return Err(TrainError::config(
                "--variant/--seed",
                format!("{} is a single fine-tuned model; --variant and --seed choose among the runs of a job folder", path.display()),
            ));
        }
        return Ok(path.to_path_buf());
    }
    let results_path = path.join(RESULTS_FILE);
    if !results_path.exists() {
        return Err(TrainError::checkpoint(
            path,
            "not a fine-tuned model: neither model.json nor results.json is here (write one with `multimat finetune --out`)",
        ));
    }
    let results: FinetuneResults = read_json(&results_path)?;
    let names = || {
        results
            .variants
            .iter()
            .map(|v| v.variant.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let v = match variant {
        Some(want) => results
            .variants
            .iter()
            .find(|v| v.variant == want)
            .ok_or_else(|| {
                TrainError::config(
                    "--variant",
                    format!(
                        "the job in {} has no `{}` runs; it has: {}",
                        path.display(),
                        want.name(),
                        names()
                    ),
                )
            })?,
        None => results
            .variants
            .first()
            .ok_or_else(|| TrainError::checkpoint(&results_path, "lists no runs"))?,
    };
    let run = match seed {
        Some(s) => v.runs.iter().find(|r| r.seed == s).ok_or_else(|| {
            let seeds: Vec<String> = v.runs.iter().map(|r| r.seed.to_string()).collect();
            TrainError::config(
                "--seed",
                format!(
                    "variant `{}` has no run with seed {s}; seeds: {}",
                    v.variant.name(),
                    seeds.join(", ")
                ),
            )
        })?,
        None => v
            .runs
            .iter()
            .min_by(|a, b| a.val.mae_transformed.total_cmp(&b.val.mae_transformed))
            .ok_or_else(|| {
                TrainError::checkpoint(
                    &results_path,
                    format!("variant `{}` lists no runs", v.variant.name()),
                )
            })?,
    };
    Ok(run_dir(path, v.variant, run.seed))
}

impl Predictor {
    /// Loads the model in `dir` (a run folder) onto `device` (a device without autodiff).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let (config, model) = load_finetuned(dir, device)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            model,
            device: device.clone(),
        })
    }

    /// Predictions for `structures` (`(name, structure)`; the name is used in errors), in
    /// batches of `batch_size`: one row of `config.outputs` values per structure, task units.
    /// Fails on the first structure without a prediction; [`Predictor::predict_each`] keeps
    /// going.
    pub fn predict(
        &self,
        structures: &[(String, Structure)],
        batch_size: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let mut out = Vec::with_capacity(structures.len());
        for chunk in structures.chunks(batch_size.max(1)) {
            out.extend(self.forward_chunk(chunk)?);
        }
        Ok(out)
    }

    /// One [`Prediction`] per structure, in order: a structure whose graph cannot be built (or
    /// that the model cannot take) gets its error and every other one its values, so one bad
    /// file among thousands costs only its own row. A batch that fails is retried one
    /// structure at a time to find the culprit; the model is in evaluation mode, so a
    /// structure's values do not depend on its batch.
    pub fn predict_each(
        &self,
        structures: &[(String, Structure)],
        batch_size: usize,
    ) -> Vec<Prediction> {
        let mut out = Vec::with_capacity(structures.len());
        for chunk in structures.chunks(batch_size.max(1)) {
            match self.forward_chunk(chunk) {
                Ok(rows) => out.extend(rows.into_iter().map(Ok)),
                Err(_) if chunk.len() > 1 => out.extend(chunk.iter().map(|one| {
                    self.forward_chunk(std::slice::from_ref(one))
                        .map(|mut rows| rows.remove(0))
                        .map_err(|e| e.to_string())
                })),
                Err(e) => out.push(Err(e.to_string())),
            }
        }
        out
    }

    /// The rows (task units) of one batch.
    fn forward_chunk(&self, chunk: &[(String, Structure)]) -> Result<Vec<Vec<f64>>> {
        let input = self.input(chunk)?;
        let values = self
            .model
            .forward(&input)?
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .map_err(|e| TrainError::Input(format!("reading predictions back: {e:?}")))?;
        let t = self.config.target_transform;
        Ok(values
            .chunks(self.config.outputs)
            .map(|row| row.iter().map(|&x| t.inverse(x)).collect())
            .collect())
    }

    fn input(&self, chunk: &[(String, Structure)]) -> Result<CrystalInput> {
        crate::structures::crystal_input(&self.config.crystal, chunk, &self.device)
    }
}
