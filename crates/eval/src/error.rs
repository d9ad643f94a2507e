//! The evaluation layer's error type: every error names the file (or input) it concerns, the
//! place inside it and the problem.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// An operating-system error reading or writing the file.
    #[error("i/o error: {0}")]
    Io(String),
    /// The file is not in the expected format (wrong columns, bad header, bad JSON, ...).
    #[error("{0}")]
    Format(String),
    /// Arrays whose sizes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A value that cannot be used (NaN, infinite, out of range).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// An argument that makes no sense (k = 0, empty input, unknown id, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An error from the dataset store.
    #[error("store: {0}")]
    Store(String),
    /// The plotting backend failed.
    #[error("plot: {0}")]
    Plot(String),
}

/// An evaluation error: the file or input concerned (`source_name`), where in it
/// (`location`, may be empty) and the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Error {
    /// The file (or, for in-memory inputs, a descriptive name such as `query embeddings`).
    pub source_name: String,
    /// Row, column, id or key inside the source; empty when the whole source is concerned.
    pub location: String,
    pub kind: ErrorKind,
}

impl Error {
    /// An error about `source_name` as a whole.
    pub fn new(source_name: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            source_name: source_name.into(),
            location: String::new(),
            kind,
        }
    }

    /// An error about one place (`location`) inside `source_name`.
    pub fn at(
        source_name: impl Into<String>,
        location: impl Into<String>,
        kind: ErrorKind,
    ) -> Self {
        Self {
            source_name: source_name.into(),
            location: location.into(),
            kind,
        }
    }

    pub(crate) fn io(source_name: impl Into<String>, err: &std::io::Error) -> Self {
        Self::new(source_name, ErrorKind::Io(err.to_string()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.source_name, self.kind)
        } else {
            write!(f, "{}: {}: {}", self.source_name, self.location, self.kind)
        }
    }
}

impl From<multimat_dataset::Error> for Error {
    fn from(err: multimat_dataset::Error) -> Self {
        Self::new(
            err.file.display().to_string(),
            ErrorKind::Store(err.kind.to_string()),
        )
    }
}

/// Result with the evaluation [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
