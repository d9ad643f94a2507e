//! Recipes: TOML files that map the columns of tabular datasets onto the store (see the crate
//! docs for the format), and the table reader behind them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use multimat_crystal::io::read_text;
use multimat_modalities::dos::{Dos, FrequencyUnit, SpectrumKind};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::collect::{Batch, Item};
use crate::error::ImportError;
use crate::labels::{self, check_label_name};
use crate::values::{self, StructureFormat};

/// A parsed recipe. Paths inside are resolved against the recipe file's folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    #[serde(default)]
    pub options: RecipeOptions,
    /// Tables of structures with label / modality columns, read in order.
    #[serde(default)]
    pub table: Vec<TableSpec>,
    /// Label-only files, read before the tables.
    #[serde(default)]
    pub labels: Vec<LabelsSpec>,
    /// Description files, read after the tables.
    #[serde(default)]
    pub text: Vec<TextSpec>,
    /// Precomputed frozen text vectors, stored as the `text` modality (at most one entry).
    #[serde(default)]
    pub text_vectors: Vec<TextVectorsSpec>,
    /// Model inputs computed beforehand (see [`crate::arrays`]), attached after the tables.
    #[serde(default)]
    pub arrays: Vec<ArraysSpec>,
}

/// `[options]` of a recipe.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeOptions {
    /// Compute a promolecular density for every material without a real one (turns
    /// [`crate::ImportOptions::derive_density`] on).
    #[serde(default)]
    pub derive_density: bool,
}

/// One `[[table]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The table file (JSON list of objects, pandas column-oriented JSON
    /// `{column: {row_key: value}}`, pandas split JSON `{index, columns, data}`, or CSV).
    pub path: PathBuf,
    /// The `source` column value of its materials.
    #[serde(default = "default_source")]
    pub source: String,
    /// Column holding the material id.
    #[serde(default)]
    pub id: Option<String>,
    /// Prefix put before the id column's value, or, without `id`, before the row key
    /// (column-oriented JSON) or 0-based row index (lists, CSV).
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Column holding the structure.
    pub structure: String,
    #[serde(default)]
    pub structure_format: StructureFormat,
    /// Store label name → column (numbers or numeric strings; empty / NaN = missing).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Column with a metal flag (bool, 0/1, "True"/"False").
    #[serde(default)]
    pub is_metal: Option<String>,
    /// Column with a 6×6 Voigt elastic tensor in GPa (or the 15 stored components).
    #[serde(default)]
    pub elastic_tensor: Option<String>,
    /// Columns of a phonon DOS.
    #[serde(default)]
    pub phonon_dos: Option<PhononColumns>,
    /// Column with a text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Import only the first `limit` rows in file order (a quick subset, e.g. the quickstart's).
    #[serde(default)]
    pub limit: Option<usize>,
}

fn default_source() -> String {
    "table".into()
}

/// Phonon DOS columns of a table: lists of numbers (JSON or Python repr).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhononColumns {
    pub frequencies: String,
    pub densities: String,
    /// Unit of the frequencies: `"cm-1"` or `"THz"` (converted to cm⁻¹ on import).
    pub unit: String,
}

/// One `[[labels]]`: a label-only file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsSpec {
    /// JSON `{id: value}`, JSON of splits `{"train": {id: value}, "val": ..., "test": ...}`
    /// (the JARVIS-leaderboard layout), or a label CSV ([`crate::read_label_csv`]).
    pub path: PathBuf,
    /// Label name for JSON files (CSV files name their labels in the header).
    #[serde(default)]
    pub name: Option<String>,
    /// Also set `is_metal = (value == 0)` (for band gaps).
    #[serde(default)]
    pub is_metal_from_zero: bool,
}

/// One `[[text]]`: descriptions in any layout `multimat_modalities::text::read_descriptions` reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSpec {
    pub path: PathBuf,
}

/// One `[[text_vectors]]`: frozen text vectors computed beforehand (`multimat text embed`, or
/// shipped in data/text/), see [`crate::text_vectors`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextVectorsSpec {
    /// `.npy` file of `[materials, dim]` float16 or float32 vectors.
    pub path: PathBuf,
    /// JSON list of the material ids of its rows, in order.
    pub ids: PathBuf,
    /// The encoder record (checkpoint, pooling, dim) copied to `modalities/text/encoder.json`.
    pub encoder: PathBuf,
}

/// One `[[arrays]]`: rows of one modality's model input by material id, see [`crate::arrays`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArraysSpec {
    /// Store modality the rows fill: `dos`, `phonon_dos` or `density`.
    pub modality: String,
    /// `.npy` or `.npy.gz` of `[materials, ...row shape]` float16 or float32 rows, in the
    /// store's layout (density row-major `[1][ix][iy][iz]`).
    pub path: PathBuf,
    /// JSON list of the material ids of its rows, in order.
    pub ids: PathBuf,
}

impl Recipe {
    /// Reads a recipe file; relative paths inside become relative to its folder.
    pub fn from_path(path: &Path) -> Result<Recipe, ImportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImportError::Recipe {
            file: path.display().to_string(),
            reason: format!("cannot read: {e}"),
        })?;
        Recipe::parse(
            &text,
            path.parent().unwrap_or(Path::new("")),
            &path.display().to_string(),
        )
    }

    /// Parses recipe text; `base` is the folder relative paths are resolved against, `name`
    /// names the recipe in errors.
    pub fn parse(text: &str, base: &Path, name: &str) -> Result<Recipe, ImportError> {
        let bad = |reason: String| ImportError::Recipe {
            file: name.to_string(),
            reason,
        };
        let mut r: Recipe = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        for (i, t) in r.table.iter_mut().enumerate() {
            t.path = base.join(&t.path);
            if t.id.is_none() && t.id_prefix.is_none() {
                return Err(bad(format!(
                    "table[{i}] ({}): give `id` (a column) or `id_prefix`",
                    t.path.display()
                )));
            }
            for l in t.labels.keys() {
                check_label_name(l).map_err(|e| bad(format!("table[{i}].labels: {e}")))?;
            }
            if let Some(p) = &t.phonon_dos {
                unit(&p.unit).map_err(|e| bad(format!("table[{i}].phonon_dos: {e}")))?;
            }
        }
        for (i, l) in r.labels.iter_mut().enumerate() {
            l.path = base.join(&l.path);
            let csv = l
                .path
                .to_string_lossy()
                .to_ascii_lowercase()
                .trim_end_matches(".gz")
                .ends_with(".csv");
            match &l.name {
                Some(n) => check_label_name(n).map_err(|e| bad(format!("labels[{i}]: {e}")))?,
                None if !csv => {
                    return Err(bad(format!(
                        "labels[{i}] ({}): give the label `name`",
                        l.path.display()
                    )))
                }
                None => {}
            }
        }
        for t in &mut r.text {
            t.path = base.join(&t.path);
        }
        if r.text_vectors.len() > 1 {
            return Err(bad(format!(
                "{} [[text_vectors]] entries: a store holds one set of text vectors",
                r.text_vectors.len()
            )));
        }
        for t in &mut r.text_vectors {
            t.path = base.join(&t.path);
            t.ids = base.join(&t.ids);
            t.encoder = base.join(&t.encoder);
        }
        for (i, a) in r.arrays.iter_mut().enumerate() {
            if crate::arrays::row_shape(&a.modality).is_none() {
                return Err(bad(format!(
                    "arrays[{i}]: modality {:?}: use \"dos\", \"phonon_dos\" or \"density\"",
                    a.modality
                )));
            }
            a.path = base.join(&a.path);
            a.ids = base.join(&a.ids);
        }
        Ok(r)
    }
}

fn unit(u: &str) -> Result<FrequencyUnit, String> {
    match u
        .to_ascii_lowercase()
        .replace(['^', '⁻', '¹', ' '], "")
        .as_str()
    {
        "cm-1" | "cm1" | "1/cm" | "invcm" => Ok(FrequencyUnit::InverseCm),
        "thz" => Ok(FrequencyUnit::Thz),
        _ => Err(format!("unit {u:?}: use \"cm-1\" or \"THz\"")),
    }
}

impl TableSpec {
    /// The built-in mapping of the phonon-DOS CSV (`mp_id, structure, phfreq, phdos`, cm⁻¹).
    pub fn phonon_csv(path: &Path) -> TableSpec {
        TableSpec {
            path: path.to_path_buf(),
            source: "mp".into(),
            id: Some("mp_id".into()),
            id_prefix: None,
            structure: "structure".into(),
            structure_format: StructureFormat::Auto,
            labels: BTreeMap::new(),
            is_metal: None,
            elastic_tensor: None,
            phonon_dos: Some(PhononColumns {
                frequencies: "phfreq".into(),
                densities: "phdos".into(),
                unit: "cm-1".into(),
            }),
            description: None,
            limit: None,
        }
    }
}

/// One table row: its key (row key or index), where it is (for errors) and its cells.
struct Row {
    key: String,
    place: String,
    cells: Map<String, Value>,
}

/// Reads the rows of a table file (see [`TableSpec::path`] for the layouts).
fn load_rows(text: &str, file: &str) -> Result<Vec<Row>, String> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if !(t.starts_with('[') || t.starts_with('{')) {
        return csv_rows(text, file);
    }
    let v: Value = serde_json::from_str(t).map_err(|e| {
        let kind = if e.is_eof() {
            "file ends early"
        } else {
            "invalid JSON"
        };
        format!("{file}: line {}: {kind}: {e}", e.line())
    })?;
    match v {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(cells) => Ok(Row {
                    key: i.to_string(),
                    place: format!("[{i}]"),
                    cells,
                }),
                other => Err(format!(
                    "{file}: key [{i}]: expected an object, found {}",
                    values::preview(&other)
                )),
            })
            .collect(),
        Value::Object(mut top) => {
            if let (Some(Value::Array(_)), Some(Value::Array(_))) =
                (top.get("columns"), top.get("data"))
            {
                return split_rows(top, file);
            }
            if let Some(Value::Array(_)) = top.get("data") {
                if let Some(data) = top.remove("data") {
                    return load_rows(&data.to_string(), file);
                }
            }
            // pandas column-oriented: {column: {row_key: value}}; row order = first column's.
            let mut rows: Vec<Row> = Vec::new();
            let mut index: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            for (col, values) in top {
                let Value::Object(values) = values else {
                    return Err(format!(
                        "{file}: key {col}: expected a column object {{row_key: value}} (pandas orient=\"columns\")"
                    ));
                };
                for (key, v) in values {
                    let i = *index.entry(key.clone()).or_insert_with(|| {
                        rows.push(Row {
                            key: key.clone(),
                            place: format!("row {key}"),
                            cells: Map::new(),
                        });
                        rows.len() - 1
                    });
                    rows[i].cells.insert(col.clone(), v);
                }
            }
            Ok(rows)
        }
        other => Err(format!(
            "{file}: file: expected a table, found {}",
            values::preview(&other)
        )),
    }
}

fn split_rows(mut top: Map<String, Value>, file: &str) -> Result<Vec<Row>, String> {
    let columns: Vec<String> = match top.remove("columns") {
        Some(Value::Array(c)) => c
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| c.to_string())
            })
            .collect(),
        _ => Vec::new(),
    };
    let index = match top.remove("index") {
        Some(Value::Array(i)) => i,
        _ => Vec::new(),
    };
    let Some(Value::Array(data)) = top.remove("data") else {
        return Ok(Vec::new());
    };
    data.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let Value::Array(cells) = row else {
                return Err(format!("{file}: key data[{i}]: expected a list of cells"));
            };
            let key = match index.get(i) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => i.to_string(),
            };
            Ok(Row {
                place: format!("data[{i}]"),
                key,
                cells: columns.iter().cloned().zip(cells).collect(),
            })
        })
        .collect()
}

fn csv_rows(text: &str, file: &str) -> Result<Vec<Row>, String> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("{file}: line 1: bad CSV header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("{file}: line {line}: bad CSV row: {e}")
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let cells = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        rows.push(Row {
            key: i.to_string(),
            place: format!("line {line}"),
            cells,
        });
    }
    Ok(rows)
}

/// Reads a `[[table]]` (never fails: bad rows and a bad file become problems).
pub(crate) fn read_table(spec: &TableSpec) -> Batch {
    match read_text(&spec.path) {
        Ok(text) => read_table_text(spec, &text),
        Err(e) => Batch::failed(spec.path.display().to_string(), e.to_string()),
    }
}

/// [`read_table`] on text already read.
pub(crate) fn read_table_text(spec: &TableSpec, text: &str) -> Batch {
    let file = spec.path.display().to_string();
    let mut b = Batch::new(file.clone());
    let rows = match load_rows(text, &file) {
        Ok(r) => r,
        Err(e) => {
            b.problem(e);
            return b;
        }
    };
    let unit = spec.phonon_dos.as_ref().map(|p| unit(&p.unit));
    for row in rows.into_iter().take(spec.limit.unwrap_or(usize::MAX)) {
        match table_row(spec, &row, &file, &unit) {
            Ok(items) => b.items.extend(items),
            Err(e) => b.problem(e),
        }
    }
    b
}

fn table_row(
    spec: &TableSpec,
    row: &Row,
    file: &str,
    unit: &Option<Result<FrequencyUnit, String>>,
) -> Result<Vec<Item>, String> {
    let at = |col: &str| format!("{}.{col}", row.place);
    let cell = |col: &str| values::get(&row.cells, col).filter(|v| !v.is_null());
    let prefix = spec.id_prefix.as_deref().unwrap_or("");
    let id = match &spec.id {
        Some(col) => match cell(col) {
            Some(Value::String(s)) if !s.trim().is_empty() => format!("{prefix}{}", s.trim()),
            Some(Value::Number(n)) => format!("{prefix}{n}"),
            _ => return Err(format!("{file}: key {}: no material id", at(col))),
        },
        None => format!("{prefix}{}", row.key),
    };
    let mut items = Vec::new();
    let s = cell(&spec.structure)
        .ok_or_else(|| format!("{file}: key {}: {id} has no structure", at(&spec.structure)))?;
    let structure = values::structure(s, file, &at(&spec.structure), spec.structure_format)
        .map_err(|e| format!("{id}: {e}"))?;
    items.push(Item::Structure {
        id: id.clone(),
        structure,
        source: spec.source.clone(),
    });
    for (name, col) in &spec.labels {
        if let Some(v) = cell(col) {
            match values::number(v) {
                Ok(Some(value)) => items.push(Item::Label {
                    id: id.clone(),
                    name: name.clone(),
                    value,
                }),
                Ok(None) => {}
                Err(e) => return Err(format!("{file}: key {}: {id}: {e}", at(col))),
            }
        }
    }
    if let Some(col) = &spec.is_metal {
        if let Some(v) = cell(col) {
            match values::boolean(v) {
                Ok(Some(value)) => items.push(Item::IsMetal {
                    id: id.clone(),
                    value,
                }),
                Ok(None) => {}
                Err(e) => return Err(format!("{file}: key {}: {id}: {e}", at(col))),
            }
        }
    }
    if let Some(col) = &spec.elastic_tensor {
        if let Some(v) = cell(col) {
            let tensor =
                values::elastic_tensor(v, file, &at(col)).map_err(|e| format!("{id}: {e}"))?;
            items.push(Item::Elastic {
                id: id.clone(),
                tensor,
            });
        }
    }
    if let (Some(p), Some(unit)) = (&spec.phonon_dos, unit) {
        let unit = unit.clone().map_err(|e| format!("{file}: {e}"))?;
        if let (Some(f), Some(d)) = (cell(&p.frequencies), cell(&p.densities)) {
            let name = format!("{file}:{id}");
            let energies = values::number_list(f, file, &at(&p.frequencies))
                .map_err(|e| format!("{id}: {e}"))?;
            let dens = values::number_list(d, file, &at(&p.densities))
                .map_err(|e| format!("{id}: {e}"))?;
            let dos = Dos {
                kind: SpectrumKind::Phonon { unit },
                energies,
                densities: vec![dens],
                efermi: None,
                source_name: name,
            };
            dos.validate()
                .map_err(|e| format!("{file}: {} ({id}): {}", row.place, e.kind))?;
            items.push(Item::PhononDos {
                id: id.clone(),
                dos: values::slim_dos(values::phonon_to_inverse_cm(dos)),
            });
        }
    }
    if let Some(col) = &spec.description {
        if let Some(Value::String(t)) = cell(col) {
            if !t.trim().is_empty() {
                items.push(Item::Description {
                    id: id.clone(),
                    text: t.trim().to_string(),
                });
            }
        }
    }
    Ok(items)
}

/// Reads a `[[labels]]` file.
pub(crate) fn read_labels(spec: &LabelsSpec) -> Batch {
    let file = spec.path.display().to_string();
    let csv = file
        .to_ascii_lowercase()
        .trim_end_matches(".gz")
        .ends_with(".csv");
    let mut b = if csv {
        labels::label_csv_batch(&spec.path)
    } else {
        read_label_json(spec, &file)
    };
    if spec.is_metal_from_zero {
        let extra: Vec<Item> = b
            .items
            .iter()
            .filter_map(|it| match it {
                Item::Label { id, name, value }
                    if spec.name.as_deref().is_none_or(|n| n == name) =>
                {
                    Some(Item::IsMetal {
                        id: id.clone(),
                        value: *value == 0.0,
                    })
                }
                _ => None,
            })
            .collect();
        b.items.extend(extra);
    }
    b.labels_only = true;
    b
}

fn read_label_json(spec: &LabelsSpec, file: &str) -> Batch {
    let mut b = Batch::new(file);
    let name = spec.name.clone().unwrap_or_default();
    let text = match read_text(&spec.path) {
        Ok(t) => t,
        Err(e) => return Batch::failed(file, e.to_string()),
    };
    let v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return Batch::failed(
                file,
                format!("{file}: line {}: invalid JSON: {e}", e.line()),
            )
        }
    };
    let Value::Object(top) = v else {
        return Batch::failed(
            file,
            format!("{file}: file: expected an object {{id: value}} or {{split: {{id: value}}}}"),
        );
    };
    // Either {id: value} or {split: {id: value}}.
    let nested = top.values().all(Value::is_object);
    let groups: Vec<(String, Map<String, Value>)> = if nested {
        top.into_iter()
            .filter_map(|(k, v)| match v {
                Value::Object(m) => Some((k, m)),
                _ => None,
            })
            .collect()
    } else {
        vec![(String::new(), top)]
    };
    for (split, entries) in groups {
        for (id, v) in entries {
            match values::number(&v) {
                Ok(Some(value)) => b.items.push(Item::Label {
                    id: id.trim().to_string(),
                    name: name.clone(),
                    value,
                }),
                Ok(None) => {}
                Err(e) => {
                    let key = if split.is_empty() {
                        id.clone()
                    } else {
                        format!("{split}.{id}")
                    };
                    b.problem(format!("{file}: key {key}: {e}"));
                }
            }
        }
    }
    b
}
