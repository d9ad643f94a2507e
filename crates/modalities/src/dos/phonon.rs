//! The phonon-DOS CSV table (`mp_id,structure,phfreq,phdos`) of the phonon-DOS tutorial data set
//! (Petretto et al. 2018 DFPT phonons): `phfreq` and `phdos` are Python-repr lists in quoted CSV
//! fields (`"[0.0, 20.0, ...]"`), frequencies in cm⁻¹, DOS max-normalised. The `structure` column
//! (a Python-repr dict) is not parsed here.
//!

use std::path::Path;

use multimat_crystal::io::read_text;

use super::{Dos, FrequencyUnit, SpectrumKind};
use crate::{Error, ErrorKind, Location};

/// Reads every row of the table: `(mp_id, Dos)` with frequencies in cm⁻¹ and one DOS curve.
/// Each `Dos::source_name` is `"<source_name>:<mp_id>"`.
pub fn read_phonondos_csv(text: &str, source_name: &str) -> Result<Vec<(String, Dos)>, Error> {
    let err = |line: usize, kind: ErrorKind| Error::new(source_name, Location::Line(line), kind);
    let records = parse_csv(text, source_name)?;
    let mut records = records.into_iter();
    let (_, header) = records.next().ok_or_else(|| err(1, ErrorKind::Empty))?;
    let column = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            err(
                1,
                ErrorKind::Syntax(format!("no column \"{name}\" in the header {header:?}")),
            )
        })
    };
    let (c_id, c_freq, c_dos) = (column("mp_id")?, column("phfreq")?, column("phdos")?);
    let mut out = Vec::new();
    for (line, fields) in records {
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            return Err(err(
                line,
                ErrorKind::Syntax(format!(
                    "row has {} fields, the header has {}",
                    fields.len(),
                    header.len()
                )),
            ));
        }
        let mp_id = fields[c_id].trim().to_string();
        let name = format!("{source_name}:{mp_id}");
        let energies = python_list(&fields[c_freq], "phfreq", source_name, line)?;
        let densities = python_list(&fields[c_dos], "phdos", source_name, line)?;
        let dos = Dos {
            kind: SpectrumKind::Phonon {
                unit: FrequencyUnit::InverseCm,
            },
            energies,
            densities: vec![densities],
            efermi: None,
            source_name: name,
        };
        let place = Location::Line(line);
        dos.check([place.clone(), place.clone(), place])
            .map_err(|mut e| {
                // Name the table, not the row pseudo-file, so the user can open the file.
                e.source_name = source_name.into();
                if let ErrorKind::Syntax(m) = &e.kind {
                    e.kind = ErrorKind::Syntax(format!("{mp_id}: {m}"));
                }
                e
            })?;
        out.push((mp_id, dos));
    }
    Ok(out)
}

/// [`read_phonondos_csv`] on a file (optionally `.gz`).
pub fn read_phonondos_csv_file(path: &Path) -> Result<Vec<(String, Dos)>, Error> {
    let name = path.display().to_string();
    let text = read_text(path)?;
    read_phonondos_csv(&text, &name)
}

/// Parses a Python-repr list of floats, e.g. `[0.0, 1e-3, nan]`.
fn python_list(
    field: &str,
    column: &str,
    source_name: &str,
    line: usize,
) -> Result<Vec<f64>, Error> {
    let s = field.trim();
    let inner = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(|| {
            let shown: String = s.chars().take(40).collect();
            Error::new(
                source_name,
                Location::Line(line),
                ErrorKind::Syntax(format!(
                    "column {column}: expected a list like [0.0, 1.0], found {shown:?}"
                )),
            )
        })?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .enumerate()
        .map(|(i, x)| {
            x.trim().parse::<f64>().map_err(|_| {
                Error::new(
                    source_name,
                    Location::Line(line),
                    ErrorKind::InvalidNumber {
                        what: format!("{column}[{i}]"),
                        found: x.trim().into(),
                    },
                )
            })
        })
        .collect()
}

/// RFC 4180 records (via the `csv` crate) with the 1-based line each starts on.
fn parse_csv(text: &str, source_name: &str) -> Result<Vec<(usize, Vec<String>)>, Error> {
    // The csv crate reads an unterminated quoted field silently to the end of the input; in
    // RFC 4180 quotes inside fields are doubled, so an odd quote count means a cut-off file.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        let line = text
            .rfind('"')
            .map(|i| text[..i].lines().count().max(1))
            .unwrap_or(1);
        return Err(Error::new(
            source_name,
            Location::Line(line),
            ErrorKind::Truncated("file ends inside a quoted field".into()),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            Error::new(
                source_name,
                Location::Line(line),
                ErrorKind::Syntax(format!("bad CSV: {e}")),
            )
        })?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        records.push((line, record.iter().map(String::from).collect()));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_lists() {
        let t = "mp_id,structure,phfreq,phdos\nmp-1,\"{'a': [1, 2]}\",\"[0.0, 10.0]\",\"[0.5, 1.0]\"\r\nmp-2,\"x\n\"\"y\"\"\",\"[0, 1, 2]\",\"[1, nan, 3]\"\n";
        let rows = read_phonondos_csv(t, "p.csv").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "mp-1");
        assert_eq!(rows[0].1.energies, vec![0.0, 10.0]);
        assert!(rows[1].1.densities[0][1].is_nan());
        let e = read_phonondos_csv(
            "mp_id,structure,phfreq,phdos\nmp-1,s,\"[0, 1]\",\"[1]\"\n",
            "p.csv",
        )
        .unwrap_err();
        assert_eq!(e.location, Location::Line(2));
        let e = read_phonondos_csv("mp_id,structure,phfreq,phdos\nmp-1,\"s", "p.csv").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Truncated(_)));
    }
}
