//! Errors of the training layer. Every variant names the file or the place it concerns.

use std::path::{Path, PathBuf};

/// What went wrong while configuring, running or resuming a training job.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value (TOML file or flag) is invalid.
    #[error("{place}: {problem}")]
    Config {
        /// The file and key, or the flag, that holds the bad value.
        place: String,
        /// What is wrong and what is accepted.
        problem: String,
    },
    /// The dataset store could not be read.
    #[error(transparent)]
    Data(#[from] multimat_dataset::Error),
    /// A file of the run directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A checkpoint or run file is missing, damaged or belongs to another configuration.
    #[error("{}: {problem}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The batch could not be turned into model inputs (e.g. a graph with an unknown element).
    #[error("batch input: {0}")]
    Input(String),
    /// The model could not be built or could not encode a batch.
    #[error(transparent)]
    Model(#[from] multimat_model::ModelError),
    /// The loss could not be computed for this batch.
    #[error("loss: {0}")]
    Loss(#[from] multimat_model::loss::LossError),
    /// Training diverged (a non-finite loss) and was stopped before any damage was saved.
    #[error("epoch {epoch}, step {step}: the loss is {value}; training stopped (lower the learning rate or enable gradient clipping); the last checkpoint is intact")]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Global optimiser step (1-based).
        step: usize,
        /// The loss value.
        value: f64,
    },
    /// The requested device is not available in this build or on this machine.
    #[error("device {0}")]
    Device(String),
    /// The run cannot do what was asked (e.g. embed a modality it has no encoder for).
    #[error("{0}")]
    Request(String),
    /// An input file (e.g. a target DOS) could not be read.
    #[error(transparent)]
    File(#[from] multimat_crystal::Error),
    /// Embeddings could not be assembled or searched (eval layer).
    #[error(transparent)]
    Eval(#[from] multimat_eval::Error),
    /// An error with what was being done when it happened (the error's text follows the
    /// context, as `anyhow`'s context chain prints it).
    #[error("{context}: {error}")]
    While {
        /// What was being done, e.g. "opening the store data/store".
        context: String,
        /// The underlying error.
        error: Box<TrainError>,
    },
}

/// Result type of the training layer.
pub type Result<T> = std::result::Result<T, TrainError>;

impl TrainError {
    /// An I/O error at `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A configuration problem at `place`.
    pub fn config(place: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Config {
            place: place.into(),
            problem: problem.into(),
        }
    }

    /// This error, prefixed by what was being done.
    pub fn context(self, context: impl Into<String>) -> Self {
        Self::While {
            context: context.into(),
            error: Box::new(self),
        }
    }

    /// A checkpoint problem at `path`.
    pub fn checkpoint(path: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }
}
