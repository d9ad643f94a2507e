//! What a fine-tuning job predicts: the task (a numeric label of the store or the elastic
//! tensor), its targets per material, and the transform the targets are trained in.

use multimat_dataset::Store;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Width of the elastic-tensor target: Voigt lower triangle rows 1–5 (spec §1.6).
pub const ELASTIC_OUTPUTS: usize = 15;

/// What to predict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A numeric label column of the store (`bulk_modulus`, `band_gap`, ...): one output.
    Label(String),
    /// The 15 stored elastic-tensor components (GPa).
    ElasticTensor,
}

impl Task {
    /// Resolves a task name against `store`: `elastic_tensor` or one of its numeric labels.
    /// Unknown names and tasks without any value are errors that list what the store has.
    pub fn resolve(name: &str, store: &Store) -> Result<Self> {
        let name = name.trim();
        let available = || {
            let mut names: Vec<String> = store.label_names().to_vec();
            if store.elastic_tensors().iter().any(Option::is_some) {
                names.push("elastic_tensor".into());
            }
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        let task = if name == "elastic_tensor" {
            Task::ElasticTensor
        } else if store.label_names().iter().any(|l| l == name) {
            Task::Label(name.to_string())
        } else {
            return Err(TrainError::config(
                "--task",
                format!(
                    "unknown task `{name}`: {} has no such label; its tasks are: {}",
                    store.dir().display(),
                    available()
                ),
            ));
        };
        let n = task.targets(store)?.iter().filter(|t| t.is_some()).count();
        if n == 0 {
            return Err(TrainError::config(
                "--task",
                format!(
                    "`{name}`: no material of {} has a finite value; tasks with values: {}",
                    store.dir().display(),
                    available()
                ),
            ));
        }
        Ok(task)
    }

    /// The task's name (the label, or `elastic_tensor`).
    pub fn name(&self) -> &str {
        match self {
            Task::Label(l) => l,
            Task::ElasticTensor => "elastic_tensor",
        }
    }

    /// Number of outputs of the head.
    pub fn outputs(&self) -> usize {
        match self {
            Task::Label(_) => 1,
            Task::ElasticTensor => ELASTIC_OUTPUTS,
        }
    }

    /// Units of the targets, for reports.
    pub fn units(&self) -> &'static str {
        let name = self.name();
        if name == "elastic_tensor" || name.contains("modulus") {
            "GPa"
        } else if name.contains("formation_energy")
            || name.contains("e_form")
            || name.contains("above_hull")
        {
            "eV/atom"
        } else if name.contains("gap") || name == "efermi" {
            "eV"
        } else if name == "refractive_index" || name == "poisson_ratio" {
            "dimensionless"
        } else if name.contains("heat_capacity") {
            "J/(K·mol)"
        } else {
            "label units"
        }
    }

    /// The targets of every material of `store` (`None` where it has no finite value).
    pub fn targets(&self, store: &Store) -> Result<Vec<Option<Vec<f64>>>> {
        Ok(match self {
            Task::Label(l) => store
                .label(l)?
                .iter()
                .map(|v| v.filter(|x| x.is_finite()).map(|x| vec![x]))
                .collect(),
            Task::ElasticTensor => store
                .elastic_tensors()
                .iter()
                .map(|t| {
                    t.filter(|c| c.iter().all(|x| x.is_finite()))
                        .map(|c| c.iter().map(|&x| x as f64).collect())
                })
                .collect(),
        })
    }
}

/// Transform applied to the targets before training; predictions are mapped back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetTransform {
    /// Raw targets (the reference: GPa, eV; spec gotcha 13).
    #[default]
    None,
    /// log10 of the target, as Matbench reports moduli; needs positive targets.
    Log10,
}

impl std::str::FromStr for TargetTransform {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim() {
            "none" | "raw" => Ok(TargetTransform::None),
            "log10" => Ok(TargetTransform::Log10),
            other => Err(format!(
                "unknown target transform `{other}`; use none or log10"
            )),
        }
    }
}

impl TargetTransform {
    /// The name written in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            TargetTransform::None => "none",
            TargetTransform::Log10 => "log10",
        }
    }

    /// Whether `y` (task units) can be transformed.
    pub fn accepts(self, y: f64) -> bool {
        match self {
            TargetTransform::None => y.is_finite(),
            TargetTransform::Log10 => y.is_finite() && y > 0.0,
        }
    }

    /// Task units → training units.
    pub fn forward(self, y: f64) -> f64 {
        match self {
            TargetTransform::None => y,
            TargetTransform::Log10 => y.log10(),
        }
    }

    /// Training units → task units.
    pub fn inverse(self, x: f64) -> f64 {
        match self {
            TargetTransform::None => x,
            TargetTransform::Log10 => 10f64.powf(x),
        }
    }
}
