//! The errors of the model layer: encoder configurations and input shapes ([`EncoderError`]),
//! plain graphs that cannot become a batch ([`GraphInputError`]) and the MultiMat model's own
//! configuration and input problems ([`ModelError`]). One file so that every encoder and the
//! model report problems the same way, naming the place.

/// A configuration that cannot build an encoder, or an input tensor whose shape does not fit
/// the encoder it is given to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncoderError {
    /// The configuration is inconsistent (for example a zero width).
    #[error("{encoder} configuration: {problem}")]
    InvalidConfig {
        /// Which encoder (`"dos"`, `"density"`, `"text"`).
        encoder: &'static str,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// The input tensor's shape is not the one the encoder needs.
    #[error("{encoder} input: expected shape {expected}, found {found:?}")]
    InputShape {
        /// Which encoder.
        encoder: &'static str,
        /// The expected shape, written with symbolic dimensions such as `[B, 2, L]`.
        expected: String,
        /// The shape that was given.
        found: Vec<usize>,
    },
}

/// Why a batch of plain graphs could not become encoder input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphInputError {
    /// The encoder whose input was being built ("PotNet", "CGCNN").
    pub encoder: &'static str,
    /// Position of the offending graph in the batch; `None` for batch-level problems.
    pub graph: Option<usize>,
    /// Which array or element, e.g. "local edge 7".
    pub place: String,
    /// What is wrong with it.
    pub problem: String,
}

impl GraphInputError {
    pub(crate) fn batch(encoder: &'static str, problem: &str) -> Self {
        Self {
            encoder,
            graph: None,
            place: "batch".into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn graph(encoder: &'static str, graph: usize, place: &str, problem: String) -> Self {
        Self {
            encoder,
            graph: Some(graph),
            place: place.into(),
            problem,
        }
    }
}

impl std::fmt::Display for GraphInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.graph {
            Some(g) => write!(
                f,
                "{} input, graph {g} of the batch, {}: {}",
                self.encoder, self.place, self.problem
            ),
            None => write!(
                f,
                "{} input, {}: {}",
                self.encoder, self.place, self.problem
            ),
        }
    }
}

impl std::error::Error for GraphInputError {}

/// What went wrong while building or running a [`crate::MultiMat`] model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model setting (preset, encoder override, modality list) is invalid.
    #[error("{place}: {problem}")]
    Config {
        /// The setting, e.g. `encoders.potnet.conv_layers`.
        place: String,
        /// What is wrong and what is accepted.
        problem: String,
    },
    /// A batch cannot be encoded (wrong kind of input, missing encoder, bad shape).
    #[error("batch input: {0}")]
    Input(String),
    /// The learnable temperature's bounds are invalid.
    #[error("loss: {0}")]
    Temperature(#[from] crate::loss::LossError),
}

impl ModelError {
    /// A configuration problem at `place`.
    pub fn config(place: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Config {
            place: place.into(),
            problem: problem.into(),
        }
    }
}
