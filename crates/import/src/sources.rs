//! Finding the inputs (files, folders, VASP run folders) and reading each into a [`Batch`].

use std::io::Read;
use std::path::{Path, PathBuf};

use multimat_crystal::io::{read_structure, read_text, sniff_format, ReadOptions};
use multimat_modalities::charge_density::{self, Resample, MODEL_GRID};
use multimat_modalities::dos::{self, pymatgen, SpectrumKind};
use multimat_modalities::text;
use serde_json::{Map, Value};

use crate::collect::{Batch, DensitySource, Item};
use crate::ids::id_from_path;
use crate::labels;
use crate::recipe::{self, LabelsSpec, TableSpec};
use crate::sniff::{base_name, file_kind, kind_from_name, FileKind as Kind, Grid};
use crate::values::{self, StructureFormat};

/// One thing to read, in the order the merge sees it.
#[derive(Debug, Clone)]
pub(crate) enum Unit {
    /// A file; `explicit` when named on the command line (an unknown kind is then a problem,
    /// while unknown files met in a folder walk are passed over).
    File {
        path: PathBuf,
        explicit: bool,
    },
    Run(RunFolder),
    Table(TableSpec),
    Labels(LabelsSpec),
    Text(PathBuf),
    LabelCsv(PathBuf),
}

/// A VASP calculation folder: one material named after the folder.
#[derive(Debug, Clone)]
pub(crate) struct RunFolder {
    pub dir: PathBuf,
    /// CONTCAR then POSCAR: the first that reads gives the structure.
    pub structures: Vec<PathBuf>,
    /// vasprun.xml then DOSCAR: the first that reads gives the DOS.
    pub dos: Vec<PathBuf>,
    pub chgcar: Option<PathBuf>,
}

/// Turns the command-line sources into units: files as they are, folders walked (sorted, hidden
/// entries skipped), VASP run folders as one unit. Missing paths become problems.
pub(crate) fn plan(
    sources: &[PathBuf],
    units: &mut Vec<Unit>,
    missing: &mut Vec<(String, String)>,
) {
    for s in sources {
        match std::fs::metadata(s) {
            Ok(m) if m.is_dir() => walk(s, units, missing),
            Ok(_) => units.push(Unit::File {
                path: s.clone(),
                explicit: true,
            }),
            Err(e) => missing.push((s.display().to_string(), format!("cannot read: {e}"))),
        }
    }
}

fn walk(dir: &Path, units: &mut Vec<Unit>, problems: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            problems.push((
                dir.display().to_string(),
                format!("cannot list folder: {e}"),
            ));
            return;
        }
    };
    entries.retain(|p| {
        !p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
    });
    entries.sort();
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    let find = |name: &str| files.iter().find(|f| base_name(f) == name).cloned();
    let structures: Vec<PathBuf> = ["contcar", "poscar"]
        .iter()
        .filter_map(|n| find(n))
        .collect();
    let dos: Vec<PathBuf> = ["vasprun.xml", "doscar"]
        .iter()
        .filter_map(|n| find(n))
        .collect();
    let chgcar = find("chgcar");
    if !structures.is_empty() && (!dos.is_empty() || chgcar.is_some()) {
        units.push(Unit::Run(RunFolder {
            dir: dir.to_path_buf(),
            structures,
            dos,
            chgcar,
        }));
    } else {
        for f in files {
            if kind_from_name(&f) != Kind::Unknown {
                units.push(Unit::File {
                    path: f,
                    explicit: false,
                });
            }
        }
    }
    for d in dirs {
        walk(&d, units, problems);
    }
}

/// Reads one unit. Never fails: what cannot be read becomes a problem of the batch.
pub(crate) fn read_unit(unit: &Unit) -> Batch {
    match unit {
        Unit::File { path, explicit } => read_file(path, *explicit),
        Unit::Run(r) => read_run(r),
        Unit::Table(t) => recipe::read_table(t),
        Unit::Labels(l) => recipe::read_labels(l),
        Unit::Text(p) => read_text_file(p),
        Unit::LabelCsv(p) => labels::label_csv_batch(p),
    }
}

fn id_or_problem(path: &Path, b: &mut Batch) -> Option<String> {
    let id = id_from_path(path);
    if id.is_none() {
        b.problem("cannot tell the material id from the file name (name it like mp-149.cif)");
    }
    id
}

fn read_file(path: &Path, explicit: bool) -> Batch {
    let file = path.display().to_string();
    let mut b = Batch::new(file.clone());
    match file_kind(path) {
        Kind::Structure => read_structure_file(path, &mut b),
        Kind::Dos => {
            let Some(id) = id_or_problem(path, &mut b) else {
                return b;
            };
            match dos::read_dos(path) {
                Ok(d) => push_dos(&mut b, id, d),
                Err(e) => b.problem(e.to_string()),
            }
        }
        Kind::Volumetric(Grid::ChargeDensity) => {
            let Some(id) = id_or_problem(path, &mut b) else {
                return b;
            };
            b.items.push(Item::Density {
                id,
                source: DensitySource::File(path.to_path_buf()),
            });
        }
        Kind::Volumetric(Grid::Potential | Grid::Elf) => {
            b.problem("LOCPOT/ELFCAR grids are not charge densities; not imported")
        }
        Kind::Volumetric(Grid::PartialCharge) => {
            b.problem("PARCHG grids are band-decomposed partial charge densities; not imported")
        }
        Kind::Json => read_json_file(path, &mut b),
        Kind::Csv => read_csv_file(path, &mut b),
        Kind::Unknown => {
            // A file named on the command line: try it as a structure by content.
            match read_text(path) {
                Ok(t) if explicit && sniff_format(&t).is_some() => read_structure_file(path, &mut b),
                Ok(_) => b.problem(
                    "cannot tell what this file is (expected a structure, DOS, volumetric, JSON or CSV file)",
                ),
                Err(e) => b.problem(e.to_string()),
            }
        }
    }
    b
}

fn read_structure_file(path: &Path, b: &mut Batch) {
    let Some(id) = id_or_problem(path, b) else {
        return;
    };
    match read_structure(path, &ReadOptions::default()) {
        Ok(structure) => b.items.push(Item::Structure {
            id,
            structure,
            source: "file".into(),
        }),
        Err(e) => b.problem(e.to_string()),
    }
}

fn push_dos(b: &mut Batch, id: String, d: dos::Dos) {
    match d.kind {
        SpectrumKind::Electronic => b.items.push(Item::Dos {
            id,
            dos: values::slim_dos(d),
        }),
        SpectrumKind::Phonon { .. } => b.items.push(Item::PhononDos {
            id,
            dos: values::slim_dos(values::phonon_to_inverse_cm(d)),
        }),
    }
}

fn read_run(r: &RunFolder) -> Batch {
    let mut b = Batch::new(r.dir.display().to_string());
    let Some(id) = r
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().trim().to_string())
        .filter(|s| !s.is_empty())
    else {
        b.problem("cannot name the material after this folder");
        return b;
    };
    let mut first_err = None;
    for p in &r.structures {
        match read_structure(
            p,
            &ReadOptions {
                format: Some(multimat_crystal::io::Format::Poscar),
                block: None,
            },
        ) {
            Ok(structure) => {
                b.items.push(Item::Structure {
                    id: id.clone(),
                    structure,
                    source: "vasp".into(),
                });
                first_err = None;
                break;
            }
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    if let Some(e) = first_err {
        b.problem(e);
    }
    let mut first_err = None;
    for p in &r.dos {
        match dos::read_dos(p) {
            Ok(d) => {
                push_dos(&mut b, id.clone(), d);
                first_err = None;
                break;
            }
            Err(e) => {
                first_err.get_or_insert(e.to_string());
            }
        }
    }
    if let Some(e) = first_err {
        b.problem(e);
    }
    if let Some(c) = &r.chgcar {
        b.items.push(Item::Density {
            id,
            source: DensitySource::File(c.clone()),
        });
    }
    b
}

/// Reads at most `n` bytes of the (decompressed) file: enough to tell a huge charge-density
/// document from other JSON without reading it twice.
fn peek(path: &Path, n: usize) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let got = f.read(&mut magic)?;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(n);
    if got == 2 && magic == [0x1f, 0x8b] {
        flate2::read::MultiGzDecoder::new(f)
            .take(n as u64)
            .read_to_end(&mut buf)?;
    } else {
        f.take(n as u64).read_to_end(&mut buf)?;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Values of every `"key": "value"` pair with this key in `text` (a cheap scan, no parsing).
fn string_values<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let pat = format!("\"{key}\"");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&pat) {
        rest = &rest[i + pat.len()..];
        let t = rest.trim_start();
        let Some(t) = t.strip_prefix(':') else {
            continue;
        };
        let t = t.trim_start();
        let Some(t) = t.strip_prefix('"') else {
            continue;
        };
        if let Some(end) = t.find('"') {
            out.push(&t[..end]);
        }
    }
    out
}

const VOLUMETRIC_CLASSES: [&str; 3] = ["Chgcar", "VolumetricData", "Aeccar"];

fn read_json_file(path: &Path, b: &mut Batch) {
    let file = b.file.clone();
    let head = match peek(path, 1 << 16) {
        Ok(h) => h,
        Err(e) => return b.problem(format!("cannot read file: {e}")),
    };
    if head.trim_start().starts_with('{') {
        let classes = string_values(&head, "@class");
        if classes.iter().any(|c| VOLUMETRIC_CLASSES.contains(c)) {
            // One charge-density document per file, read when the material is written.
            let id = ["material_id", "task_id"]
                .iter()
                .find_map(|k| {
                    string_values(&head, k)
                        .first()
                        .map(|s| s.trim().to_string())
                })
                .filter(|s| !s.is_empty())
                .or_else(|| id_from_path(path));
            match id {
                Some(id) => b.items.push(Item::Density {
                    id,
                    source: DensitySource::File(path.to_path_buf()),
                }),
                None => b.problem("cannot tell the material id of this charge density"),
            }
            return;
        }
        if classes.iter().any(|c| matches!(*c, "Locpot" | "Elfcar")) {
            return b.problem("LOCPOT/ELFCAR grids are not charge densities; not imported");
        }
    }
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => return b.problem(e.to_string()),
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Array(docs)) => read_documents(docs, "", path, b),
        Ok(Value::Object(obj)) => {
            if doc_id(&obj).is_none() {
                if let Some(Value::Array(_)) = obj.get("data") {
                    if let Some(Value::Array(docs)) =
                        obj.into_iter().find(|(k, _)| k == "data").map(|(_, v)| v)
                    {
                        read_documents(docs, "data", path, b);
                    }
                    return;
                }
                let Some(id) = id_or_problem(path, b) else {
                    return;
                };
                if obj.contains_key("lattice") {
                    match values::structure(
                        &Value::Object(obj),
                        &file,
                        "",
                        StructureFormat::Pymatgen,
                    ) {
                        Ok(structure) => b.items.push(Item::Structure {
                            id,
                            structure,
                            source: "file".into(),
                        }),
                        Err(e) => b.problem(e.to_string()),
                    }
                    return;
                }
                if let Err(e) = read_document(&obj, &id, "", "file", &file, b) {
                    b.problem(e);
                }
            } else {
                read_documents(vec![Value::Object(obj)], "", path, b);
            }
        }
        Ok(other) => b.problem(format!(
            "{file}: file: expected a JSON object or list, found {}",
            values::preview(&other)
        )),
        Err(e)
            if trimmed
                .lines()
                .filter(|l| !l.trim().is_empty())
                .nth(1)
                .is_some()
                && trimmed.starts_with('{') =>
        {
            let _ = e;
            read_json_lines(trimmed, path, b);
        }
        Err(e) => {
            let kind = if e.is_eof() {
                "file ends early"
            } else {
                "invalid JSON"
            };
            b.problem(format!("{file}: line {}: {kind}: {e}", e.line()));
        }
    }
}

fn read_json_lines(text: &str, path: &Path, b: &mut Batch) {
    let file = b.file.clone();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => {
                let place = format!("line {}", i + 1);
                match doc_id(&obj) {
                    Some(id) => {
                        if let Err(e) = read_document(&obj, &id, &place, "mp", &file, b) {
                            b.problem(e);
                        }
                    }
                    None => b.problem(format!(
                        "{file}: {place}: document has no material_id, task_id or id"
                    )),
                }
            }
            Ok(other) => b.problem(format!(
                "{file}: line {}: expected a JSON object, found {}",
                i + 1,
                values::preview(&other)
            )),
            Err(e) => b.problem(format!("{file}: line {}: invalid JSON: {e}", i + 1)),
        }
    }
    let _ = path;
}

fn read_documents(docs: Vec<Value>, prefix: &str, path: &Path, b: &mut Batch) {
    let file = b.file.clone();
    let _ = path;
    for (i, doc) in docs.into_iter().enumerate() {
        let place = format!("{prefix}[{i}]");
        let Value::Object(obj) = doc else {
            b.problem(format!(
                "{file}: key {place}: expected a document object, found {}",
                values::preview(&doc)
            ));
            continue;
        };
        match doc_id(&obj) {
            Some(id) => {
                if let Err(e) = read_document(&obj, &id, &place, "mp", &file, b) {
                    b.problem(e);
                }
            }
            None => b.problem(format!(
                "{file}: key {place}: document has no material_id, task_id or id"
            )),
        }
    }
}

/// The id of a document: `material_id`, `task_id`, `id` or `mp_id`.
fn doc_id(obj: &Map<String, Value>) -> Option<String> {
    ["material_id", "task_id", "id", "mp_id"]
        .iter()
        .find_map(|k| match obj.get(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
}

/// The fields of one Materials Project (or pymatgen) document; see the crate docs for the list.
/// Adds nothing when any field is bad, so one bad document is one problem.
fn read_document(
    obj: &Map<String, Value>,
    id: &str,
    place: &str,
    source: &str,
    file: &str,
    b: &mut Batch,
) -> Result<(), String> {
    let key = |k: &str| {
        if place.is_empty() {
            k.to_string()
        } else {
            format!("{place}.{k}")
        }
    };
    let named = if place.is_empty() {
        file.to_string()
    } else {
        format!("{file} {place}")
    };
    let id = id.to_string();
    let mut items = Vec::new();
    let class = obj.get("@class").and_then(Value::as_str).unwrap_or("");
    if VOLUMETRIC_CLASSES.contains(&class) {
        let text = Value::Object(obj.clone()).to_string();
        let v = charge_density::read_mp_json(&text, &named).map_err(|e| e.to_string())?;
        let grid = charge_density::model_input(&v, Resample::Fourier)
            .map_err(|e| format!("{named}: {e}"))?;
        let grid = charge_density::to_row_major(&grid, [MODEL_GRID; 3]);
        items.push(Item::Density {
            id: id.clone(),
            source: DensitySource::Grid(grid),
        });
    }
    let is_dos = obj.contains_key("energies") || obj.contains_key("frequencies");
    if let Some(s) = obj.get("structure").filter(|v| !v.is_null()) {
        let structure = values::structure(s, file, &key("structure"), StructureFormat::Auto)
            .map_err(|e| e.to_string())?;
        items.push(Item::Structure {
            id: id.clone(),
            structure,
            source: source.into(),
        });
    }
    let label =
        |name: &str, v: Option<&Value>, what: &str, items: &mut Vec<Item>| -> Result<(), String> {
            if let Some(v) = v {
                match values::number(v) {
                    Ok(Some(value)) => items.push(Item::Label {
                        id: id.clone(),
                        name: name.into(),
                        value,
                    }),
                    Ok(None) => {}
                    Err(e) => return Err(format!("{file}: key {}: {e}", key(what))),
                }
            }
            Ok(())
        };
    label(
        "formation_energy",
        obj.get("formation_energy_per_atom"),
        "formation_energy_per_atom",
        &mut items,
    )?;
    label("band_gap", obj.get("band_gap"), "band_gap", &mut items)?;
    if !is_dos {
        label("efermi", obj.get("efermi"), "efermi", &mut items)?;
    }
    for (name, field) in [
        ("bulk_modulus", "bulk_modulus"),
        ("shear_modulus", "shear_modulus"),
    ] {
        match obj.get(field) {
            Some(Value::Object(m)) => {
                label(name, m.get("vrh"), &format!("{field}.vrh"), &mut items)?
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                return Err(format!(
                    "{file}: key {}: expected {{\"voigt\", \"reuss\", \"vrh\"}}, found {}",
                    key(field),
                    values::preview(other)
                ))
            }
        }
    }
    if let Some(v) = obj.get("is_metal").filter(|v| !v.is_null()) {
        match values::boolean(v) {
            Ok(Some(value)) => items.push(Item::IsMetal {
                id: id.clone(),
                value,
            }),
            Ok(None) => {}
            Err(e) => return Err(format!("{file}: key {}: {e}", key("is_metal"))),
        }
    }
    if let Some(cs) = obj
        .get("symmetry")
        .and_then(|s| s.get("crystal_system"))
        .and_then(Value::as_str)
    {
        items.push(Item::CrystalSystem {
            id: id.clone(),
            name: cs.trim().to_ascii_lowercase(),
        });
    }
    if let Some(t) = obj.get("elastic_tensor").filter(|v| !v.is_null()) {
        let (v, k) = match t.get("ieee_format") {
            Some(v) => (v, key("elastic_tensor.ieee_format")),
            None => (t, key("elastic_tensor")),
        };
        let tensor = values::elastic_tensor(v, file, &k).map_err(|e| e.to_string())?;
        items.push(Item::Elastic {
            id: id.clone(),
            tensor,
        });
    }
    if let Some(d) = obj.get("description").filter(|v| !v.is_null()) {
        let doc = serde_json::json!({"id": id, "description": d});
        let d = text::from_document(&doc, file, place).map_err(|e| e.to_string())?;
        items.push(Item::Description {
            id: id.clone(),
            text: d.text,
        });
    }
    if obj.contains_key("frequencies") {
        let d = pymatgen::read_phonon_object(obj, &named).map_err(|e| e.to_string())?;
        items.push(Item::PhononDos {
            id: id.clone(),
            dos: values::slim_dos(values::phonon_to_inverse_cm(d)),
        });
    } else if obj.contains_key("energies") {
        let d = pymatgen::read_electronic_object(obj, &named).map_err(|e| e.to_string())?;
        items.push(Item::Dos {
            id: id.clone(),
            dos: values::slim_dos(d),
        });
    }
    if items.is_empty() {
        return Err(format!(
            "{file}: key {}: document {id} has nothing to import (no structure, labels, elasticity, description, DOS or charge density)",
            if place.is_empty() { "(top level)".to_string() } else { place.to_string() }
        ));
    }
    b.items.extend(items);
    Ok(())
}

fn read_csv_file(path: &Path, b: &mut Batch) {
    let text = match read_text(path) {
        Ok(t) => t,
        Err(e) => return b.problem(e.to_string()),
    };
    let header: Vec<String> = {
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        match r.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
            Err(e) => return b.problem(format!("{}: line 1: bad CSV header: {e}", b.file)),
        }
    };
    let has = |n: &str| header.iter().any(|h| h == n);
    if has("phfreq") && has("phdos") {
        let spec = TableSpec::phonon_csv(path);
        *b = recipe::read_table_text(&spec, &text);
    } else if has("description") && (has("material_id") || has("id") || has("mp_id")) {
        match text::read_csv(&text, &b.file) {
            Ok(ds) => b.items.extend(ds.into_iter().map(|d| Item::Description {
                id: d.id,
                text: d.text,
            })),
            Err(e) => b.problem(e.to_string()),
        }
    } else {
        b.problem(format!(
            "{}: line 1: a CSV with columns {header:?} is not a known source (label tables go in --labels, other tables need a recipe)",
            b.file
        ));
    }
}

fn read_text_file(path: &Path) -> Batch {
    let mut b = Batch::new(path.display().to_string());
    match read_text(path).and_then(|t| text::read_descriptions(&t, &b.file)) {
        Ok(ds) => b.items.extend(ds.into_iter().map(|d| Item::Description {
            id: d.id,
            text: d.text,
        })),
        Err(e) => b.problem(e.to_string()),
    }
    b
}
