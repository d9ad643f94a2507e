//! The importer's error type.

use multimat_dataset::ImportProblem;

/// Why an import stopped. Bad input files do not stop an import (they go into
/// `import_report.json`) unless [`crate::ImportOptions::strict`] is set.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Writing the store failed (disk full, permissions, a corrupt existing store).
    #[error(transparent)]
    Store(#[from] multimat_dataset::Error),
    /// Strict mode: the first bad file or record.
    #[error("{}: {}", .0.file, .0.reason)]
    Problem(ImportProblem),
    /// The recipe file is unreadable or malformed.
    #[error("recipe {file}: {reason}")]
    Recipe { file: String, reason: String },
    /// A label CSV is unreadable or malformed (the message names file, line and column).
    #[error("{0}")]
    Labels(String),
}
