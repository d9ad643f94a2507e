//! What the readers produce ([`Item`]s grouped per input in a [`Batch`]) and how they are merged
//! per material id into [`Partial`] records.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use multimat_crystal::Structure;
use multimat_dataset::ImportProblem;
use multimat_modalities::dos::Dos;

/// Where a material's charge density comes from.
#[derive(Debug, Clone)]
pub(crate) enum DensitySource {
    /// A volumetric file, read and resampled when the material is written (bounded memory).
    File(PathBuf),
    /// A grid already resampled to the model input, row-major `[ix][iy][iz]` (from a charge
    /// density document embedded in a list of documents).
    Grid(Vec<f32>),
}

/// One fact about one material.
#[derive(Debug)]
pub(crate) enum Item {
    Structure {
        id: String,
        structure: Structure,
        source: String,
    },
    Label {
        id: String,
        name: String,
        value: f64,
    },
    IsMetal {
        id: String,
        value: bool,
    },
    Elastic {
        id: String,
        tensor: [f32; 15],
    },
    /// Crystal system a document states (used only when symmetry analysis fails).
    CrystalSystem {
        id: String,
        name: String,
    },
    Dos {
        id: String,
        dos: Dos,
    },
    PhononDos {
        id: String,
        dos: Dos,
    },
    Density {
        id: String,
        source: DensitySource,
    },
    Description {
        id: String,
        text: String,
    },
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Structure { id, .. }
            | Item::Label { id, .. }
            | Item::IsMetal { id, .. }
            | Item::Elastic { id, .. }
            | Item::CrystalSystem { id, .. }
            | Item::Dos { id, .. }
            | Item::PhononDos { id, .. }
            | Item::Density { id, .. }
            | Item::Description { id, .. } => id,
        }
    }
}

/// Everything read from one input (a file, a VASP run folder, a recipe entry).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The input as named in the report.
    pub file: String,
    pub items: Vec<Item>,
    /// Bad records of this input (the rest of it was read).
    pub problems: Vec<ImportProblem>,
    /// A label-only input (label CSV, `[[labels]]`): ids it names without a structure anywhere
    /// are summed up in one note instead of one problem each.
    pub labels_only: bool,
}

impl Batch {
    pub fn new(file: impl Into<String>) -> Self {
        Batch {
            file: file.into(),
            ..Batch::default()
        }
    }

    /// A batch holding only the error that stopped reading the input.
    pub fn failed(file: impl Into<String>, reason: impl Into<String>) -> Self {
        let file = file.into();
        let mut b = Batch::new(file.clone());
        b.problem(reason);
        b
    }

    pub fn problem(&mut self, reason: impl Into<String>) {
        self.problems.push(ImportProblem {
            file: self.file.clone(),
            reason: reason.into(),
        });
    }
}

/// Everything known about one material id before it is written.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    /// (structure, source, input) of the first input that gave one.
    pub structure: Option<(Structure, String, Arc<str>)>,
    /// label → (value, input that gave it).
    pub labels: BTreeMap<String, (f64, Arc<str>)>,
    pub is_metal: Option<(bool, Arc<str>)>,
    pub elastic: Option<[f32; 15]>,
    pub crystal_system: Option<String>,
    pub dos: Option<(Dos, Arc<str>)>,
    pub phonon_dos: Option<(Dos, Arc<str>)>,
    pub density: Option<(DensitySource, Arc<str>)>,
    pub description: Option<(String, Arc<str>)>,
    /// First input that named this id with more than labels.
    pub named_by: Option<Arc<str>>,
}

/// Merges batches in input order: the first structure wins; later inputs add labels and
/// modalities; a second, different value for the same label, flag, modality or description
/// keeps the first and is noted.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub materials: HashMap<String, Partial>,
    /// Conflicts and other notes (not failures, even in strict mode).
    pub notes: Vec<ImportProblem>,
    /// Per label-only input: ids it named (checked for a structure at the end).
    pub label_only_ids: Vec<(Arc<str>, Vec<String>)>,
}

fn differs(a: f64, b: f64) -> bool {
    (a - b).abs() > 1e-9 * a.abs().max(b.abs()).max(1.0)
}

impl Collector {
    /// Adds one batch; returns its problems (bad files and records) for the caller to report.
    pub fn add(&mut self, batch: Batch) -> Vec<ImportProblem> {
        let file: Arc<str> = Arc::from(batch.file.as_str());
        let mut label_ids = Vec::new();
        for item in batch.items {
            let id = item.id().to_string();
            if batch.labels_only {
                label_ids.push(id.clone());
            }
            let p = self.materials.entry(id.clone()).or_default();
            let note = |what: String| ImportProblem {
                file: file.to_string(),
                reason: what,
            };
            if !batch.labels_only && p.named_by.is_none() {
                p.named_by = Some(file.clone());
            }
            match item {
                Item::Structure { structure, source, .. } => {
                    if p.structure.is_none() {
                        p.structure = Some((structure, source, file.clone()));
                    }
                }
                Item::Label { name, value, .. } => match p.labels.get(&name) {
                    None => {
                        p.labels.insert(name, (value, file.clone()));
                    }
                    Some((old, from)) if differs(*old, value) => self.notes.push(note(format!(
                        "{id}: label {name} = {value} differs from {old} given by {from}; kept the first"
                    ))),
                    Some(_) => {}
                },
                Item::IsMetal { value, .. } => match &p.is_metal {
                    None => p.is_metal = Some((value, file.clone())),
                    Some((old, from)) if *old != value => self.notes.push(note(format!(
                        "{id}: is_metal = {value} differs from {old} given by {from}; kept the first"
                    ))),
                    Some(_) => {}
                },
                Item::Elastic { tensor, .. } => {
                    if p.elastic.is_none() {
                        p.elastic = Some(tensor);
                    }
                }
                Item::CrystalSystem { name, .. } => {
                    if p.crystal_system.is_none() {
                        p.crystal_system = Some(name);
                    }
                }
                Item::Dos { dos, .. } => match &p.dos {
                    None => p.dos = Some((dos, file.clone())),
                    Some((_, from)) => self.notes.push(note(format!(
                        "{id}: a second electronic DOS; kept the one from {from}"
                    ))),
                },
                Item::PhononDos { dos, .. } => match &p.phonon_dos {
                    None => p.phonon_dos = Some((dos, file.clone())),
                    Some((_, from)) => self.notes.push(note(format!(
                        "{id}: a second phonon DOS; kept the one from {from}"
                    ))),
                },
                Item::Density { source, .. } => match &p.density {
                    None => p.density = Some((source, file.clone())),
                    Some((_, from)) => self.notes.push(note(format!(
                        "{id}: a second charge density; kept the one from {from}"
                    ))),
                },
                Item::Description { text, .. } => match &p.description {
                    None => p.description = Some((text, file.clone())),
                    Some((old, from)) if *old != text => self.notes.push(note(format!(
                        "{id}: a different description; kept the one from {from}"
                    ))),
                    Some(_) => {}
                },
            }
        }
        if batch.labels_only && !label_ids.is_empty() {
            label_ids.sort();
            label_ids.dedup();
            self.label_only_ids.push((file, label_ids));
        }
        batch.problems
    }
}
