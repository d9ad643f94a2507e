//! Label CSV files (`--labels`): one id column plus one numeric column per label.

use std::collections::BTreeMap;
use std::path::Path;

use multimat_crystal::io::read_text;
use serde_json::Value;

use crate::collect::{Batch, Item};
use crate::error::ImportError;
use crate::ids::id_from_file_name;
use crate::values;

/// Labels of one material read from a label CSV.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelRow {
    /// Label name → value (units as the column gives them).
    pub labels: BTreeMap<String, f64>,
    /// From an `is_metal` column, if there is one.
    pub is_metal: Option<bool>,
}

/// Header names of the key column, in the order they are looked for. `file` holds file names,
/// which become ids the way structure files do (`mp-149.cif` → `mp-149`).
pub const ID_COLUMNS: [&str; 4] = ["id", "material_id", "mp_id", "file"];

/// Checks that `name` can be a store label (lowercase ASCII letters, digits, `_`, starting with
/// a letter, at most 64 characters).
pub fn check_label_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("label name {name:?}: use lowercase letters, digits and _ (max 64), starting with a letter"))
    }
}

/// Reads a label CSV: a header with a key column (`id`, `material_id`, `mp_id` or `file`) and one
/// column per label (numbers; an empty cell or `nan` is missing; a column named `is_metal` holds
/// true/false/1/0). Keys from a `file` column are file stems (`runs/NaCl.cif` → `NaCl`).
/// Errors name the file, line and column; a repeated id is an error.
pub fn read_label_csv(path: &Path) -> Result<BTreeMap<String, LabelRow>, ImportError> {
    let name = path.display().to_string();
    let text = read_text(path).map_err(|e| ImportError::Labels(e.to_string()))?;
    parse_label_csv(&text, &name).map_err(ImportError::Labels)
}

/// [`read_label_csv`] on text; `name` names the file in errors.
pub fn parse_label_csv(text: &str, name: &str) -> Result<BTreeMap<String, LabelRow>, String> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("{name}: line 1: bad CSV header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let key_col = ID_COLUMNS
        .iter()
        .find_map(|k| headers.iter().position(|h| h == k))
        .ok_or_else(|| {
            format!("{name}: line 1: no id column (one of {ID_COLUMNS:?}) in {headers:?}")
        })?;
    let by_file = headers[key_col] == "file";
    let mut label_cols = Vec::new();
    let mut metal_col = None;
    for (i, h) in headers.iter().enumerate() {
        if i == key_col {
            continue;
        }
        if h == "is_metal" {
            metal_col = Some(i);
        } else {
            check_label_name(h).map_err(|e| format!("{name}: line 1: column {}: {e}", i + 1))?;
            label_cols.push(i);
        }
    }
    let mut out: BTreeMap<String, LabelRow> = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("{name}: line {line}: bad CSV row: {e}")
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let raw = rec.get(key_col).unwrap_or("").trim();
        let id = if by_file {
            let file = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
            id_from_file_name(file)
        } else {
            raw.to_string()
        };
        if id.is_empty() {
            return Err(format!("{name}: line {line}: empty {}", headers[key_col]));
        }
        let mut row = LabelRow::default();
        for &c in &label_cols {
            let cell = Value::String(rec.get(c).unwrap_or("").to_string());
            match values::number(&cell) {
                Ok(Some(v)) => {
                    row.labels.insert(headers[c].clone(), v);
                }
                Ok(None) => {}
                Err(e) => return Err(format!("{name}: line {line}: column {}: {e}", headers[c])),
            }
        }
        if let Some(c) = metal_col {
            row.is_metal = values::boolean(&Value::String(rec.get(c).unwrap_or("").to_string()))
                .map_err(|e| format!("{name}: line {line}: column is_metal: {e}"))?;
        }
        if out.insert(id.clone(), row).is_some() {
            return Err(format!("{name}: line {line}: id {id} appears twice"));
        }
    }
    Ok(out)
}

/// A label CSV as a batch of label items (the whole file is one problem when it is bad).
pub(crate) fn label_csv_batch(path: &Path) -> Batch {
    let file = path.display().to_string();
    let mut b = match read_label_csv(path) {
        Ok(rows) => {
            let mut b = Batch::new(file);
            for (id, row) in rows {
                for (name, value) in row.labels {
                    b.items.push(Item::Label {
                        id: id.clone(),
                        name,
                        value,
                    });
                }
                if let Some(value) = row.is_metal {
                    b.items.push(Item::IsMetal { id, value });
                }
            }
            b
        }
        Err(e) => Batch::failed(file, e.to_string()),
    };
    b.labels_only = true;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        let t = "file,band_gap,is_metal\ndata/NaCl.cif.gz,5.0,false\nSi.vasp,,0\n";
        let m = parse_label_csv(t, "l.csv").unwrap();
        assert_eq!(m["NaCl"].labels["band_gap"], 5.0);
        assert_eq!(m["NaCl"].is_metal, Some(false));
        assert!(m["Si"].labels.is_empty());
        assert!(parse_label_csv("id,Band Gap\nmp-1,1\n", "l.csv")
            .unwrap_err()
            .contains("column 2"));
        let e = parse_label_csv("id,band_gap\nmp-1,1\nmp-2,x\n", "l.csv").unwrap_err();
        assert!(e.contains("line 3") && e.contains("band_gap"), "{e}");
        assert!(parse_label_csv("name,x\na,1\n", "l.csv").is_err());
    }
}
