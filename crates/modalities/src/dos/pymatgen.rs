//! pymatgen and Materials Project JSON shapes of a density of states.
//!
//! Accepted shapes (extra keys such as `structure`, `pdos`, `atom_dos`, `spd_dos`, `@module`,
//! `@class` are ignored; the structure can be read separately with the crystal crate):
//!
//! * pymatgen `Dos.as_dict()` / `CompleteDos.as_dict()`:
//!   `{"energies": [eV...], "densities": {"1": [...], "-1": [...]}, "efermi": eV}`;
//!   spin keys are `str(Spin.up) = "1"` and `str(Spin.down) = "-1"` (`"up"`/`"down"` also taken).
//!   `"-1"` is absent for non-spin-polarised runs.
//! * Materials Project API row (`ElectronicDos`-like, as flattened by download scripts):
//!   `{"energies": [...], "spin_up_densities": [...], "spin_down_densities": [...] | null, "efermi": eV | null}`;
//!   the names `dos_up` / `dos_down` of the MultiMat HDF5 file are accepted as aliases.
//! * pymatgen `PhononDos.as_dict()` / `CompletePhononDos.as_dict()`:
//!   `{"frequencies": [THz...], "densities": [...]}` (one curve; `pdos` ignored).
//!
//! Python's `json` writes NaN as a bare `NaN`, which is not JSON; such tokens are read as NaN
//! (and repaired later by the model input), and `null` inside a number list is NaN too.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Dos, FrequencyUnit, SpectrumKind};
use crate::{Error, ErrorKind, Location};

/// Reads any of the JSON shapes above (electronic or phonon), told apart by their keys.
pub fn read_dos_json(text: &str, source_name: &str) -> Result<Dos, Error> {
    let root = parse_json(text, source_name)?;
    let obj = root.as_object().ok_or_else(|| {
        Error::new(
            source_name,
            Location::File,
            ErrorKind::Syntax("expected a JSON object at the top level".into()),
        )
    })?;
    if obj.contains_key("frequencies") {
        read_phonon_object(obj, source_name)
    } else {
        read_electronic_object(obj, source_name)
    }
}

/// Reads a pymatgen `Dos`/`CompleteDos` or MP row object (see the module docs).
pub fn read_electronic_object(obj: &Map<String, Value>, source_name: &str) -> Result<Dos, Error> {
    let key_err =
        |key: &str, kind: ErrorKind| Error::new(source_name, Location::Key(key.into()), kind);
    let energies = numbers(
        required(obj, "energies", source_name)?,
        "energies",
        source_name,
    )?;
    let efermi = match obj.get("efermi") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_f64().ok_or_else(|| {
            key_err(
                "efermi",
                ErrorKind::InvalidNumber {
                    what: "Fermi energy".into(),
                    found: short(v),
                },
            )
        })?),
    };
    let (densities, places) = if let Some(dens) = obj.get("densities") {
        let map = dens.as_object().ok_or_else(|| {
            key_err(
                "densities",
                ErrorKind::Syntax(format!(
                    "expected an object keyed by spin (\"1\", \"-1\"), found {}",
                    short(dens)
                )),
            )
        })?;
        let pick = |names: &[&'static str]| names.iter().find_map(|n| map.get(*n).map(|v| (*n, v)));
        let (up_name, up) = pick(&["1", "up", "Spin.up"]).ok_or_else(|| {
            key_err(
                "densities",
                ErrorKind::Syntax("no spin-up curve (key \"1\")".into()),
            )
        })?;
        let up_key = format!("densities.{up_name}");
        let mut curves = vec![numbers(up, &up_key, source_name)?];
        let mut down_key = "densities.-1".to_string();
        if let Some((down_name, down)) = pick(&["-1", "down", "Spin.down"]) {
            down_key = format!("densities.{down_name}");
            curves.push(numbers(down, &down_key, source_name)?);
        }
        (curves, [up_key, down_key])
    } else {
        let pick = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|n| obj.get(*n).filter(|v| !v.is_null()).map(|v| (*n, v)))
        };
        let (up_name, up) = pick(&["spin_up_densities", "dos_up"]).ok_or_else(|| {
            Error::new(
                source_name,
                Location::File,
                ErrorKind::Syntax(
                    "no DOS curve: expected \"densities\" (pymatgen), \"spin_up_densities\" (MP row) or \"frequencies\" (phonon)"
                        .into(),
                ),
            )
        })?;
        let mut curves = vec![numbers(up, up_name, source_name)?];
        let mut down_key = "spin_down_densities".to_string();
        if let Some((down_name, down)) = pick(&["spin_down_densities", "dos_down"]) {
            down_key = down_name.to_string();
            curves.push(numbers(down, down_name, source_name)?);
        }
        (curves, [up_name.to_string(), down_key])
    };
    let dos = Dos {
        kind: SpectrumKind::Electronic,
        energies,
        densities,
        efermi,
        source_name: source_name.into(),
    };
    let [up_key, down_key] = places;
    dos.check([
        Location::Key("energies".into()),
        Location::Key(up_key),
        Location::Key(down_key),
    ])?;
    Ok(dos)
}

/// Reads a pymatgen `PhononDos`/`CompletePhononDos` object: frequencies in THz.
pub fn read_phonon_object(obj: &Map<String, Value>, source_name: &str) -> Result<Dos, Error> {
    let energies = numbers(
        required(obj, "frequencies", source_name)?,
        "frequencies",
        source_name,
    )?;
    let densities = numbers(
        required(obj, "densities", source_name)?,
        "densities",
        source_name,
    )?;
    let dos = Dos {
        kind: SpectrumKind::Phonon {
            unit: FrequencyUnit::Thz,
        },
        energies,
        densities: vec![densities],
        efermi: None,
        source_name: source_name.into(),
    };
    dos.check([
        Location::Key("frequencies".into()),
        Location::Key("densities".into()),
        Location::Key("densities".into()),
    ])?;
    Ok(dos)
}

/// Parses JSON text, reading Python's bare `NaN` tokens as `null`; errors carry the line.
pub(crate) fn parse_json(text: &str, source_name: &str) -> Result<Value, Error> {
    let text = nan_tokens_to_null(text);
    serde_json::from_str(&text).map_err(|e| {
        let kind = if e.is_eof() {
            ErrorKind::Truncated(format!("JSON ends early ({e})"))
        } else {
            ErrorKind::Syntax(format!("invalid JSON: {e}"))
        };
        Error::new(source_name, Location::Line(e.line()), kind)
    })
}

/// Replaces `NaN` outside strings by `null`, keeping line numbers.
fn nan_tokens_to_null(text: &str) -> Cow<'_, str> {
    if !text.contains("NaN") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let (mut in_string, mut escaped, mut copied) = (false, false, 0);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if bytes[i..].starts_with(b"NaN") {
            out.push_str(&text[copied..i]);
            out.push_str("null");
            i += 3;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

fn required<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    source_name: &str,
) -> Result<&'a Value, Error> {
    obj.get(key).ok_or_else(|| {
        Error::new(
            source_name,
            Location::Key(key.into()),
            ErrorKind::Syntax(format!("missing key \"{key}\"")),
        )
    })
}

/// A JSON list of numbers; `null` (Python's NaN) becomes NaN.
pub(crate) fn numbers(v: &Value, key: &str, source_name: &str) -> Result<Vec<f64>, Error> {
    let list = v.as_array().ok_or_else(|| {
        Error::new(
            source_name,
            Location::Key(key.into()),
            ErrorKind::Syntax(format!("expected a list of numbers, found {}", short(v))),
        )
    })?;
    list.iter()
        .enumerate()
        .map(|(i, x)| match x {
            Value::Null => Ok(f64::NAN),
            _ => x.as_f64().ok_or_else(|| {
                Error::new(
                    source_name,
                    Location::Key(format!("{key}[{i}]")),
                    ErrorKind::InvalidNumber {
                        what: key.into(),
                        found: short(x),
                    },
                )
            }),
        })
        .collect()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(40).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_tokens_outside_strings_only() {
        assert_eq!(
            nan_tokens_to_null(r#"{"a": [1, NaN], "NaN": "x NaN"}"#),
            r#"{"a": [1, null], "NaN": "x NaN"}"#
        );
        let d = read_dos_json(
            r#"{"energies": [0, 1, 2], "densities": {"1": [1, NaN, 3]}, "efermi": 1}"#,
            "t",
        )
        .unwrap();
        assert!(d.densities[0][1].is_nan());
    }

    #[test]
    fn mp_row_shape() {
        let d = read_dos_json(
            r#"{"energies": [0, 1], "spin_up_densities": [1, 2], "spin_down_densities": null, "efermi": null}"#,
            "t",
        )
        .unwrap();
        assert!(!d.spin_polarized());
        assert_eq!(d.efermi, None);
        let e = read_dos_json(
            r#"{"energies": [0, 1], "spin_up_densities": [1, "x"]}"#,
            "t",
        )
        .unwrap_err();
        assert_eq!(e.location, Location::Key("spin_up_densities[1]".into()));
    }
}
