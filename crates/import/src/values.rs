//! Turning JSON / CSV cell values into structures, numbers, tensors and spectra.

use multimat_crystal::io::{json::structure_from_value, parse_structure, Format, ReadOptions};
use multimat_crystal::structure::OVERLAP_TOLERANCE;
use multimat_crystal::{element, Error, ErrorKind, Lattice, Location, Site, Structure};
use multimat_modalities::dos::{Dos, FrequencyUnit, SpectrumKind};
use serde::Deserialize;
use serde_json::Value;

use crate::pyrepr;

/// wavenumbers (cm⁻¹) per terahertz: 10¹² Hz / c, c = 2.99792458 × 10¹⁰ cm/s.
pub const CM1_PER_THZ: f64 = 33.356_409_519_815_2;

/// How a structure cell is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StructureFormat {
    /// Told from the value: a JSON object or a `{`-string holding a pymatgen dict (`lattice`,
    /// `sites`) or an ASE-like dict (`numbers`/`symbols`, `positions`, `cell`); any other string
    /// is read as CIF, then POSCAR.
    #[default]
    Auto,
    /// pymatgen `Structure.as_dict()` (object, JSON string or Python-repr string).
    Pymatgen,
    /// ASE-like dict: `numbers` (Z) or `symbols`, `positions` (Cartesian Å) or
    /// `scaled_positions` (fractional), `cell` (rows = lattice vectors, Å).
    Ase,
    /// A CIF text.
    Cif,
    /// A POSCAR text.
    Poscar,
}

fn err(source: &str, key: &str, kind: ErrorKind) -> Error {
    Error::new(source, Location::Key(key.to_string()), kind)
}

/// A short preview of a value for error messages.
pub fn preview(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Parses a cell that holds a dict or list written as JSON or as a Python repr.
pub fn literal(v: &Value, source: &str, key: &str) -> Result<Value, Error> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            serde_json::from_str(t)
                .or_else(|_| pyrepr::parse(t))
                .map_err(|e| {
                    err(
                        source,
                        key,
                        ErrorKind::Syntax(format!("not a JSON or Python literal: {e}")),
                    )
                })
        }
        other => Ok(other.clone()),
    }
}

/// Reads the structure in `v` (at `key` of `source`, for errors) and checks it for
/// overlapping atoms as the file readers do.
pub fn structure(
    v: &Value,
    source: &str,
    key: &str,
    format: StructureFormat,
) -> Result<Structure, Error> {
    let s = match (format, v) {
        (StructureFormat::Cif, Value::String(t)) => {
            parse_structure(t, source, Format::Cif, &ReadOptions::default())?
        }
        (StructureFormat::Poscar, Value::String(t)) => {
            parse_structure(t, source, Format::Poscar, &ReadOptions::default())?
        }
        (StructureFormat::Auto, Value::String(t)) if !t.trim_start().starts_with('{') => {
            let fmt = if t
                .lines()
                .any(|l| l.trim_start().to_ascii_lowercase().starts_with("data_"))
            {
                Format::Cif
            } else {
                Format::Poscar
            };
            parse_structure(t, source, fmt, &ReadOptions::default())?
        }
        (StructureFormat::Cif | StructureFormat::Poscar, other) => {
            return Err(err(
                source,
                key,
                ErrorKind::Syntax(format!(
                    "expected a structure text, found {}",
                    preview(other)
                )),
            ))
        }
        _ => {
            let value = literal(v, source, key)?;
            let ase = format == StructureFormat::Ase
                || (format == StructureFormat::Auto
                    && value.get("lattice").is_none()
                    && value.get("cell").is_some());
            let s = if ase {
                ase_structure(&value, source, key)?
            } else {
                structure_from_value(&value, source, key)?
            };
            if s.sites.is_empty() {
                return Err(err(
                    source,
                    key,
                    ErrorKind::Syntax("structure has no sites".into()),
                ));
            }
            s
        }
    };
    s.check_overlaps(source, OVERLAP_TOLERANCE)?;
    Ok(s)
}

/// An ASE-like dict (see [`StructureFormat::Ase`]).
pub fn ase_structure(v: &Value, source: &str, key: &str) -> Result<Structure, Error> {
    let at = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}.{k}")
        }
    };
    let cell = matrix3(v.get("cell"), source, &at("cell"))?;
    let lattice = Lattice::new(cell).map_err(|kind| err(source, &at("cell"), kind))?;
    let zs: Vec<u8> = if let Some(n) = v.get("numbers") {
        let arr = n.as_array().ok_or_else(|| {
            err(
                source,
                &at("numbers"),
                ErrorKind::Syntax(format!("expected a list, found {}", preview(n))),
            )
        })?;
        arr.iter()
            .enumerate()
            .map(|(i, z)| {
                z.as_u64()
                    .filter(|&z| z <= u8::MAX as u64 && element(z as u8).is_some())
                    .map(|z| z as u8)
                    .ok_or_else(|| {
                        err(
                            source,
                            &format!("{}[{i}]", at("numbers")),
                            ErrorKind::UnknownElement(z.to_string()),
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    } else if let Some(s) = v.get("symbols").and_then(Value::as_array) {
        s.iter()
            .enumerate()
            .map(|(i, sym)| {
                let sym = sym.as_str().unwrap_or_default();
                multimat_crystal::element::z_of_symbol(sym).ok_or_else(|| {
                    err(
                        source,
                        &format!("{}[{i}]", at("symbols")),
                        ErrorKind::UnknownElement(sym.into()),
                    )
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(err(
            source,
            key,
            ErrorKind::Syntax("no \"numbers\" or \"symbols\"".into()),
        ));
    };
    let (coords, fractional, ckey) = match (v.get("positions"), v.get("scaled_positions")) {
        (_, Some(p)) => (p, true, at("scaled_positions")),
        (Some(p), None) => (p, false, at("positions")),
        (None, None) => {
            return Err(err(
                source,
                key,
                ErrorKind::Syntax("no \"positions\"".into()),
            ))
        }
    };
    let rows = coords.as_array().ok_or_else(|| {
        err(
            source,
            &ckey,
            ErrorKind::Syntax(format!("expected a list, found {}", preview(coords))),
        )
    })?;
    if rows.len() != zs.len() {
        return Err(err(
            source,
            &ckey,
            ErrorKind::Syntax(format!("{} positions for {} atoms", rows.len(), zs.len())),
        ));
    }
    let mut sites = Vec::with_capacity(zs.len());
    for (i, (row, &z)) in rows.iter().zip(&zs).enumerate() {
        let p = vector3(row, source, &format!("{ckey}[{i}]"))?;
        let frac = if fractional {
            p
        } else {
            lattice.to_fractional(p)
        };
        sites.push(Site::ordered(z, frac));
    }
    Ok(Structure::new(lattice, sites))
}

fn vector3(v: &Value, source: &str, key: &str) -> Result<[f64; 3], Error> {
    let a = v.as_array().filter(|a| a.len() == 3).ok_or_else(|| {
        err(
            source,
            key,
            ErrorKind::Syntax(format!("expected 3 numbers, found {}", preview(v))),
        )
    })?;
    let mut out = [0.0; 3];
    for (o, x) in out.iter_mut().zip(a) {
        *o = x.as_f64().filter(|x| x.is_finite()).ok_or_else(|| {
            err(
                source,
                key,
                ErrorKind::InvalidNumber {
                    what: "coordinate".into(),
                    found: preview(x),
                },
            )
        })?;
    }
    Ok(out)
}

fn matrix3(v: Option<&Value>, source: &str, key: &str) -> Result<[[f64; 3]; 3], Error> {
    let v = v.ok_or_else(|| err(source, key, ErrorKind::Syntax("missing".into())))?;
    // ASE writes a Cell object as {"array": [[...]], "pbc": ...} in some dumps.
    let v = v.get("array").unwrap_or(v);
    let a = v.as_array().filter(|a| a.len() == 3).ok_or_else(|| {
        err(
            source,
            key,
            ErrorKind::Syntax(format!("expected 3 lattice vectors, found {}", preview(v))),
        )
    })?;
    Ok([
        vector3(&a[0], source, &format!("{key}[0]"))?,
        vector3(&a[1], source, &format!("{key}[1]"))?,
        vector3(&a[2], source, &format!("{key}[2]"))?,
    ])
}

/// A scalar label cell: a number or a numeric string. `Ok(None)` for missing values (null, an
/// empty string, `nan`, `None`); an error for anything else that is not a finite number.
pub fn number(v: &Value) -> Result<Option<f64>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{n} is not a finite number")),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty()
                || matches!(
                    t.to_ascii_lowercase().as_str(),
                    "nan" | "none" | "null" | "na" | "n/a"
                )
            {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(format!("expected a number, found {:?}", t)),
            }
        }
        other => Err(format!("expected a number, found {}", preview(other))),
    }
}

/// A boolean cell: JSON bool, `true`/`false` in any case, `1`/`0`; `Ok(None)` when missing.
pub fn boolean(v: &Value) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Some(true)),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Some(false)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "nan" | "none" | "null" => Ok(None),
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(format!("expected true/false, found {s:?}")),
        },
        other => Err(format!("expected true/false, found {}", preview(other))),
    }
}

/// A list of numbers (JSON array, or a JSON / Python-repr list in a string); `null` and `nan`
/// entries become NaN (repaired by the DOS model input).
pub fn number_list(v: &Value, source: &str, key: &str) -> Result<Vec<f64>, Error> {
    let v = literal(v, source, key)?;
    let a = v.as_array().ok_or_else(|| {
        err(
            source,
            key,
            ErrorKind::Syntax(format!("expected a list of numbers, found {}", preview(&v))),
        )
    })?;
    a.iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::Null => Ok(f64::NAN),
            Value::Number(n) => n.as_f64().ok_or_else(|| {
                err(
                    source,
                    &format!("{key}[{i}]"),
                    ErrorKind::InvalidNumber {
                        what: "value".into(),
                        found: n.to_string(),
                    },
                )
            }),
            Value::String(s) => s.trim().parse::<f64>().map_err(|_| {
                err(
                    source,
                    &format!("{key}[{i}]"),
                    ErrorKind::InvalidNumber {
                        what: "value".into(),
                        found: s.clone(),
                    },
                )
            }),
            other => Err(err(
                source,
                &format!("{key}[{i}]"),
                ErrorKind::InvalidNumber {
                    what: "value".into(),
                    found: preview(other),
                },
            )),
        })
        .collect()
}

/// The 15 stored elastic components from a 6×6 Voigt matrix (GPa): the lower triangle of rows
/// 1–5, row-major (C11; C21, C22; C31..C33; C41..C44; C51..C55), as the reference's
/// `elastic_tensor.pt` (spec §1.6). A flat list of 15 is taken as already in that order.
pub fn elastic_tensor(v: &Value, source: &str, key: &str) -> Result<[f32; 15], Error> {
    let v = literal(v, source, key)?;
    let rows = v.as_array().ok_or_else(|| {
        err(
            source,
            key,
            ErrorKind::Syntax(format!("expected a 6×6 matrix, found {}", preview(&v))),
        )
    })?;
    let mut out = [0f32; 15];
    if rows.len() == 15 && rows.iter().all(|x| !x.is_array()) {
        let flat = number_list(&v, source, key)?;
        for (o, x) in out.iter_mut().zip(&flat) {
            *o = *x as f32;
        }
    } else {
        if rows.len() != 6 {
            return Err(err(
                source,
                key,
                ErrorKind::Syntax(format!("expected 6 rows, found {}", rows.len())),
            ));
        }
        let mut k = 0;
        for (i, row) in rows.iter().enumerate().take(5) {
            let r = number_list(row, source, &format!("{key}[{i}]"))?;
            if r.len() != 6 {
                return Err(err(
                    source,
                    &format!("{key}[{i}]"),
                    ErrorKind::Syntax(format!("expected 6 columns, found {}", r.len())),
                ));
            }
            for &x in &r[..=i] {
                out[k] = x as f32;
                k += 1;
            }
        }
    }
    if let Some(i) = out.iter().position(|x| !x.is_finite()) {
        return Err(err(
            source,
            key,
            ErrorKind::InvalidNumber {
                what: format!("elastic component {i}"),
                found: out[i].to_string(),
            },
        ));
    }
    Ok(out)
}

/// Brings a phonon spectrum to the store's unit, cm⁻¹ (densities rescaled so the area is kept).
pub fn phonon_to_inverse_cm(mut dos: Dos) -> Dos {
    if let SpectrumKind::Phonon {
        unit: FrequencyUnit::Thz,
    } = dos.kind
    {
        for e in &mut dos.energies {
            *e *= CM1_PER_THZ;
        }
        for curve in &mut dos.densities {
            for d in curve.iter_mut() {
                *d /= CM1_PER_THZ;
            }
        }
        dos.kind = SpectrumKind::Phonon {
            unit: FrequencyUnit::InverseCm,
        };
    }
    dos
}

/// Keeps only what the model input reads (the spin-up curve), to hold many spectra in memory.
pub fn slim_dos(mut dos: Dos) -> Dos {
    dos.densities.truncate(1);
    dos.energies.shrink_to_fit();
    for c in &mut dos.densities {
        c.shrink_to_fit();
    }
    dos
}

/// Looks up column `name` in a row object: the literal key first (pandas writes
/// `"elasticity.elastic_tensor"` as one key), then a dotted path into nested objects.
pub fn get<'a>(row: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = row.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut cur = row.get(parts.next()?)?;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn elastic_lower_triangle() {
        let m: Vec<Vec<f64>> = (0..6)
            .map(|i| (0..6).map(|j| (10 * (i + 1) + j + 1) as f64).collect())
            .collect();
        let t = elastic_tensor(&json!(m), "t", "e").unwrap();
        assert_eq!(
            t,
            [11., 21., 22., 31., 32., 33., 41., 42., 43., 44., 51., 52., 53., 54., 55.]
        );
        assert!(elastic_tensor(&json!([[1, 2]]), "t", "e").is_err());
    }

    #[test]
    fn numbers_and_paths() {
        assert_eq!(number(&json!("1.5")).unwrap(), Some(1.5));
        assert_eq!(number(&json!("")).unwrap(), None);
        assert_eq!(number(&json!("nan")).unwrap(), None);
        assert!(number(&json!("abc")).is_err());
        let row = json!({"a.b": 1, "a": {"b": 2, "c": 3}});
        let row = row.as_object().unwrap();
        assert_eq!(get(row, "a.b"), Some(&json!(1)));
        assert_eq!(get(row, "a.c"), Some(&json!(3)));
        assert_eq!(get(row, "a.d"), None);
    }

    #[test]
    fn ase_dict_from_python_repr() {
        let v = json!("{'numbers': [11, 17], 'positions': [[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]], 'cell': [[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]], 'pbc': [True, True, True]}");
        let s = structure(&v, "t.csv", "row 1.structure", StructureFormat::Auto).unwrap();
        assert_eq!(s.sites.len(), 2);
        assert_eq!(s.sites[1].frac, [0.5, 0.5, 0.5]);
        assert_eq!(s.sites[1].z(), 17);
    }
}
