//! The encoder's error type: every error names the file (checkpoint file, store, text) and the
//! problem, so a user pointing multimat at the wrong folder learns what to fix.

use std::path::{Path, PathBuf};

/// What went wrong while loading a checkpoint or encoding texts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BertError {
    /// A file the checkpoint needs is absent.
    #[error("{}: missing {wanted} (a BERT checkpoint folder holds config.json, vocab.txt or tokenizer.json, and model.safetensors or pytorch_model.bin)", dir.display())]
    MissingFile {
        /// The checkpoint folder.
        dir: PathBuf,
        /// Which file(s) were looked for.
        wanted: String,
    },
    /// The operating system could not read or write a file.
    #[error("{}: i/o error: {message}", file.display())]
    Io { file: PathBuf, message: String },
    /// `config.json` is not valid JSON or has an impossible value.
    #[error("{}: {problem}", file.display())]
    Config { file: PathBuf, problem: String },
    /// `config.json` describes another architecture.
    #[error("{}: model_type {model_type:?} is not a BERT model (supported: BERT-architecture checkpoints such as BERT, SciBERT, MatSciBERT, MatBERT, MiniLM)", file.display())]
    NotBert { file: PathBuf, model_type: String },
    /// The vocabulary / tokenizer file cannot be used.
    #[error("{}: tokenizer: {message}", file.display())]
    Tokenizer { file: PathBuf, message: String },
    /// The weight file cannot be read or does not fit the configuration.
    #[error("{}: weights: {problem}", file.display())]
    Weights { file: PathBuf, problem: String },
    /// A text that cannot be encoded (empty or whitespace only).
    #[error("text {index} ({name}): {problem}")]
    BadText {
        /// Position of the text in the input list.
        index: usize,
        /// The text's id, or a short preview when it has none.
        name: String,
        problem: String,
    },
}

impl BertError {
    /// Wraps an I/O error for `file`.
    pub fn io(file: impl AsRef<Path>, e: impl std::fmt::Display) -> Self {
        BertError::Io {
            file: file.as_ref().to_path_buf(),
            message: e.to_string(),
        }
    }

    /// A `config.json` problem.
    pub fn config(file: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        BertError::Config {
            file: file.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }

    /// A weight-file problem.
    pub fn weights(file: impl AsRef<Path>, problem: impl Into<String>) -> Self {
        BertError::Weights {
            file: file.as_ref().to_path_buf(),
            problem: problem.into(),
        }
    }

    /// A tokenizer problem.
    pub fn tokenizer(file: impl AsRef<Path>, message: impl std::fmt::Display) -> Self {
        BertError::Tokenizer {
            file: file.as_ref().to_path_buf(),
            message: message.to_string(),
        }
    }
}

/// Result with [`BertError`].
pub type Result<T, E = BertError> = std::result::Result<T, E>;
