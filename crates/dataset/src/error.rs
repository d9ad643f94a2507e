//! The store's error type: every error names the file (or store folder) it concerns and the
//! problem, so a broken 20 GB store can be diagnosed without a debugger.

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    /// An operating-system error reading or writing the file.
    #[error("i/o error: {0}")]
    Io(String),
    /// The folder has no `manifest.json`, so it is not a (committed) store.
    #[error("no manifest.json: not a multimat store, or nothing was ever committed")]
    MissingManifest,
    /// The manifest names another format.
    #[error("format is {0:?}, expected \"multimat-store\"")]
    WrongFormat(String),
    /// The manifest has a version this code does not read.
    #[error("store version {found} is not supported (this build reads version {supported})")]
    WrongVersion { found: u64, supported: u64 },
    /// The manifest is not valid JSON or is inconsistent.
    #[error("corrupt manifest: {0}")]
    CorruptManifest(String),
    /// `materials.parquet` cannot be decoded or lacks an expected column.
    #[error("corrupt material table: {0}")]
    CorruptTable(String),
    /// A shard holds fewer bytes than the manifest says it must.
    #[error("shard too short: needs {expected} bytes, file has {found}")]
    ShardTooShort { expected: u64, found: u64 },
    /// A shard's `.npy` header is unreadable or disagrees with the manifest.
    #[error("bad shard: {0}")]
    BadShard(String),
    /// A modality name that the store does not have.
    #[error("unknown modality {0:?}")]
    UnknownModality(String),
    /// A label name that the store does not have.
    #[error("unknown label {0:?}")]
    UnknownLabel(String),
    /// A row has the wrong number of values for its modality.
    #[error("modality {modality:?} of material {id:?}: expected {expected} values, got {found}")]
    ShapeMismatch {
        modality: String,
        id: String,
        expected: usize,
        found: usize,
    },
    /// A value that cannot be stored (non-finite, out of f16 range, ...).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A name (material id, label or modality name) that is empty, reserved or malformed.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// The material id is already in the store.
    #[error("duplicate material id {0:?}")]
    DuplicateId(String),
    /// A split or a query names an id the store does not hold.
    #[error("material id {0:?} is not in the store")]
    UnknownId(String),
    /// A row or material index past the end.
    #[error("index {index} out of range (length {len})")]
    OutOfRange { index: usize, len: usize },
    /// A split file or split request that makes no sense.
    #[error("invalid split: {0}")]
    InvalidSplit(String),
    /// A structure stored in the table cannot be parsed back.
    #[error("structure: {0}")]
    Structure(String),
}

/// A store error: the file (or folder) concerned and the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Error {
    /// The file or folder the problem concerns.
    pub file: PathBuf,
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.kind)
    }
}

impl Error {
    pub fn new(file: impl AsRef<Path>, kind: ErrorKind) -> Self {
        Error {
            file: file.as_ref().to_path_buf(),
            kind,
        }
    }

    /// Wraps an I/O error for `file`.
    pub fn io(file: impl AsRef<Path>, e: std::io::Error) -> Self {
        Error::new(file, ErrorKind::Io(e.to_string()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
