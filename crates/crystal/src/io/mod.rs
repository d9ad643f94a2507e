//! Structure file formats: detection, reading (plain or gzip-compressed) and writing.
//!
//! Every reader takes the file's text and a `source_name` (the path as the user typed it) and
//! returns a [`Structure`] or an [`Error`] naming the file, the line/tag/key and the problem.

pub mod atomic;
pub mod cif;
pub mod json;
pub mod poscar;
pub mod xyz;

pub use atomic::{write_atomic, write_atomic_via, write_atomic_with};

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind, Location};
use crate::structure::{Structure, OVERLAP_TOLERANCE};

/// A structure file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CIF 1.1.
    Cif,
    /// VASP POSCAR / CONTCAR (VASP 4 and 5).
    Poscar,
    /// pymatgen `Structure.as_dict()` JSON, as served by the Materials Project API.
    PymatgenJson,
    /// Extended XYZ with a `Lattice="..."` comment line.
    ExtXyz,
}

impl Format {
    /// Parses a user-supplied format name (`cif`, `poscar`, `vasp`, `json`, `xyz`, `extxyz`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "cif" => Format::Cif,
            "poscar" | "contcar" | "vasp" => Format::Poscar,
            "json" | "pymatgen" => Format::PymatgenJson,
            "xyz" | "extxyz" => Format::ExtXyz,
            _ => return None,
        })
    }
}

/// Options for [`read_structure`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a format instead of detecting it from the name and content.
    pub format: Option<Format>,
    /// CIF data block to read (`data_NAME` without the prefix); the first block by default.
    pub block: Option<String>,
}

/// Reads a file as UTF-8 text, transparently gunzipping `*.gz` (or gzip magic). Empty files,
/// binary content and invalid UTF-8 are reported as errors naming the file.
pub fn read_text(path: &Path) -> Result<String, Error> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|e| Error::new(&name, Location::File, ErrorKind::Io(e.to_string())))?;
    decode_text(&bytes, &name)
}

/// [`read_text`] on bytes already in memory.
pub fn decode_text(bytes: &[u8], name: &str) -> Result<String, Error> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::new(
                    name,
                    Location::File,
                    ErrorKind::Truncated(format!("gzip stream is corrupt: {e}")),
                )
            })?;
        out
    } else {
        bytes.to_vec()
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::new(name, Location::File, ErrorKind::Empty));
    }
    let sample = &bytes[..bytes.len().min(8192)];
    let control = sample
        .iter()
        .filter(|&&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)))
        .count();
    if control * 100 > sample.len() || sample.contains(&0) {
        return Err(Error::new(name, Location::File, ErrorKind::Binary));
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            name,
            Location::File,
            ErrorKind::Syntax(format!("not valid UTF-8 text ({e})")),
        )
    })
}

/// Guesses the format from the file name, then from the content.
pub fn detect_format(path: &Path, text: &str) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if name.ends_with(".cif") || name.ends_with(".mcif") {
        return Some(Format::Cif);
    }
    if name.ends_with(".json") {
        return Some(Format::PymatgenJson);
    }
    if name.ends_with(".xyz") || name.ends_with(".extxyz") {
        return Some(Format::ExtXyz);
    }
    if name.ends_with(".vasp")
        || name.ends_with(".poscar")
        || name.starts_with("poscar")
        || name.starts_with("contcar")
    {
        return Some(Format::Poscar);
    }
    sniff_format(text)
}

/// Guesses the format from the content alone.
pub fn sniff_format(text: &str) -> Option<Format> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return Some(Format::PymatgenJson);
    }
    if text
        .lines()
        .any(|l| l.trim_start().to_ascii_lowercase().starts_with("data_"))
    {
        return Some(Format::Cif);
    }
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let second = lines.next().unwrap_or("");
    if first.trim().parse::<usize>().is_ok() && second.contains("Lattice=") {
        return Some(Format::ExtXyz);
    }
    if second.trim().parse::<f64>().is_ok() {
        return Some(Format::Poscar);
    }
    None
}

/// Parses `text` in `format`. The result is checked for overlapping atoms.
pub fn parse_structure(
    text: &str,
    source_name: &str,
    format: Format,
    options: &ReadOptions,
) -> Result<Structure, Error> {
    let structure = match format {
        Format::Cif => cif::read_cif(text, source_name, options.block.as_deref())?,
        Format::Poscar => poscar::read_poscar(text, source_name)?,
        Format::PymatgenJson => json::read_pymatgen_json(text, source_name)?,
        Format::ExtXyz => xyz::read_extxyz(text, source_name)?,
    };
    if structure.sites.is_empty() {
        return Err(Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax("structure has no sites".into()),
        ));
    }
    structure.check_overlaps(source_name, OVERLAP_TOLERANCE)?;
    Ok(structure)
}

/// Reads a structure file of any supported format (optionally gzip-compressed).
pub fn read_structure(path: &Path, options: &ReadOptions) -> Result<Structure, Error> {
    let name = path.display().to_string();
    let text = read_text(path)?;
    let format = match options.format.or_else(|| detect_format(path, &text)) {
        Some(f) => f,
        None => {
            return Err(Error::new(
                &name,
                Location::File,
                ErrorKind::Unsupported(
                    "cannot tell the structure format from the name or content (use --format)"
                        .into(),
                ),
            ))
        }
    };
    parse_structure(&text, &name, format, options)
}

/// Serialises a structure in `format` (CIF, POSCAR, pymatgen JSON or extended XYZ).
pub fn write_structure(structure: &Structure, format: Format, title: &str) -> String {
    match format {
        Format::Cif => cif::write_cif(structure, title),
        Format::Poscar => poscar::write_poscar(structure, title),
        Format::PymatgenJson => json::write_pymatgen_json(structure),
        Format::ExtXyz => xyz::write_extxyz(structure, title),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_binary_detected() {
        assert_eq!(
            decode_text(b"  \n\n", "a.cif").unwrap_err().kind,
            ErrorKind::Empty
        );
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 256) as u8).collect();
        assert_eq!(
            decode_text(&garbage, "a.cif").unwrap_err().kind,
            ErrorKind::Binary
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"hello\n").unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(decode_text(&bytes, "a.gz").unwrap(), "hello\n");
        let err = decode_text(&bytes[..bytes.len() / 2], "a.gz").unwrap_err();
        assert!(matches!(err.kind, ErrorKind::Truncated(_)));
    }

    #[test]
    fn format_detection() {
        assert_eq!(
            detect_format(Path::new("x/Si.cif.gz"), ""),
            Some(Format::Cif)
        );
        assert_eq!(
            detect_format(Path::new("CONTCAR"), ""),
            Some(Format::Poscar)
        );
        assert_eq!(
            sniff_format("{\"lattice\": {}}"),
            Some(Format::PymatgenJson)
        );
        assert_eq!(
            sniff_format("2\nLattice=\"1 0 0 0 1 0 0 0 1\"\n"),
            Some(Format::ExtXyz)
        );
        assert_eq!(sniff_format("Si\n1.0\n"), Some(Format::Poscar));
    }
}
