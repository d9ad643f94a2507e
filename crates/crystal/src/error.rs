//! The one error type every structure reader returns: it names the file, the place inside it
//! and the problem, so a user with ten thousand files can find and fix the bad one.

use std::fmt;

/// Where in a file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The whole file (empty, binary, unreadable).
    File,
    /// 1-based line number.
    Line(usize),
    /// A CIF tag or data block, e.g. `_cell_length_a` or `data_Si`.
    Tag(String),
    /// A JSON path, e.g. `sites[3].abc`.
    Key(String),
    /// A site index (0-based) in the parsed structure.
    Site(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => write!(f, "file"),
            Location::Line(n) => write!(f, "line {n}"),
            Location::Tag(t) => write!(f, "tag {t}"),
            Location::Key(k) => write!(f, "key {k}"),
            Location::Site(i) => write!(f, "site {i}"),
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("file is empty")]
    Empty,
    #[error("file looks binary, not text")]
    Binary,
    #[error("file ends early: {0}")]
    Truncated(String),
    #[error("expected a number for {what}, found {found:?}")]
    InvalidNumber { what: String, found: String },
    #[error("unknown element {0:?}")]
    UnknownElement(String),
    #[error("lattice has zero or negative volume ({0:.3e} Å³)")]
    ZeroVolume(f64),
    #[error("sites {i} and {j} overlap ({distance:.4} Å apart)")]
    OverlappingAtoms { i: usize, j: usize, distance: f64 },
    #[error("{0}")]
    Syntax(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("structure is disordered ({0}); this needs an ordered structure")]
    Disordered(String),
}

/// A reader or builder error naming the file, the place and the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {location}: {kind}")]
pub struct Error {
    /// The file (or other source) name as the user gave it.
    pub source_name: String,
    pub location: Location,
    pub kind: ErrorKind,
}

impl Error {
    pub fn new(source_name: impl Into<String>, location: Location, kind: ErrorKind) -> Self {
        Error {
            source_name: source_name.into(),
            location,
            kind,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
