//! Importing materials data into a multimat store ([`multimat_dataset`]).
//!
//! [`import`] reads every input into per-id partial records, merges them by id, and writes the
//! materials in a deterministic order ([`compare_ids`]: `mp-<n>` by `n`, then other ids by
//! string) in parallel chunks, committing every [`ImportOptions::commit_every`] materials and
//! writing `import_report.json` at each commit and at the end.
//!
//! # Store content
//! | what | where | notes |
//! |---|---|---|
//! | structure | `structure` column | every material has one; materials without are reported and skipped |
//! | crystal system, space group | columns | from [`multimat_crystal::analyze`] with [`ImportOptions::symprec`]; a failure leaves the space group empty and keeps a document's stated crystal system |
//! | labels | one float64 column each | `formation_energy` (eV/atom), `band_gap` (eV), `efermi` (eV), `bulk_modulus`, `shear_modulus` (VRH, GPa), `bulk_modulus_voigt`, `shear_modulus_voigt` (GPa), `refractive_index`, any label-CSV column |
//! | `is_metal`, `elastic_tensor` | columns | the tensor as the 15 numbers of spec §1.6: lower triangle of Voigt rows 1–5, row-major (C11; C21, C22; C31..C33; C41..C44; C51..C55), GPa |
//! | `description` | column | the text modality (counted as `text` by [`multimat_dataset::info()`]) |
//! | `dos` | `[2, 601]` f32 | electronic DOS model input (spec §1.3): row 0 E − E_F (eV; E_F from the material's `efermi` label when it has one, as the reference uses the summary document's, else the DOS file's), row 1 spin-up DOS (states/eV) |
//! | `phonon_dos` | `[2, 601]` f32 | the same model input of a phonon DOS: row 0 frequency in **cm⁻¹** always (pymatgen `PhononDos` JSON in THz is converted, densities divided by 33.356 so the area is kept), unshifted |
//! | `density` | `[1, 32, 32, 32]` f32 | charge density in the CHGCAR convention (ρ·V_cell, electrons) resampled to 32³ (Fourier), **row-major `[ix][iy][iz]`** (z fastest, pymatgen's `data["total"]` order); real CHGCAR/cube/JSON = not derived; promolecular ([`ImportOptions::derive_density`]) = derived |
//!
//! # Inputs
//! Sources are files or folders; their kind is told automatically. All files may be gzipped.
//!
//! 1. **Structure files**: `*.cif`, `*.mcif`, `*.vasp`, `*.poscar`, `POSCAR*`, `CONTCAR*`,
//!    `*.xyz`/`*.extxyz`, and pymatgen `Structure.as_dict()` JSON (an object with `lattice`).
//!    id = the file name without `.gz`, without its extension and without a leading or trailing
//!    kind word (`POSCAR_mp-149` → `mp-149`); source `file`.
//! 2. **Folders**, walked recursively (sorted; hidden entries skipped). A folder holding
//!    `POSCAR` or `CONTCAR` plus `vasprun.xml`, `DOSCAR` or `CHGCAR` is a **VASP run folder**: one
//!    material named after the folder, source `vasp`, structure from CONTCAR else POSCAR, DOS
//!    from vasprun.xml else DOSCAR, density from CHGCAR. Other files in folders are read by
//!    kind; files of unknown kind met in a walk (INCAR, OUTCAR, README) are passed over.
//! 3. **Materials Project API documents** (`*.json`, `*.jsonl`): one object, a list, an API
//!    response `{"data": [...]}` or JSON lines; each document's id is its `material_id`,
//!    `task_id`, `id` or `mp_id`; source `mp`. Fields read (a document may have several):
//!    - summary: `structure` (pymatgen dict), `formation_energy_per_atom` → `formation_energy`,
//!      `band_gap`, `efermi` (not of DOS documents), `is_metal`, `symmetry.crystal_system`;
//!    - elasticity: `bulk_modulus.vrh` → `bulk_modulus`, `shear_modulus.vrh` →
//!      `shear_modulus`, `elastic_tensor.ieee_format` (6×6) → `elastic_tensor`;
//!    - robocrys: `description`;
//!    - electronic DOS rows: `energies` + `spin_up_densities` (+ `spin_down_densities`,
//!      `efermi`), or pymatgen `densities: {"1": ..., "-1": ...}`; phonon: `frequencies` +
//!      `densities` (THz);
//!    - charge density: `{"@class": "Chgcar", ...}`. A file whose first 64 KiB show such a
//!      class is one charge-density document, read when the material is written; its id is the
//!      first `material_id`/`task_id` string in those 64 KiB, else the file stem. Charge-density
//!      documents inside a list are resampled while reading.
//!
//!    A JSON object without an id key is a single-material file named by its stem: a
//!    structure, or a pymatgen DOS (a `CompleteDos` also gives its structure).
//! 4. **Descriptions**: our robocrys JSONL (`{"id", "description", ...}` per line, read as in 3)
//!    and CSVs with `material_id`/`id`/`mp_id` and `description` columns (LLM-Prop).
//!    A CSV with `mp_id, structure, phfreq, phdos` columns is the phonon-DOS table
//!    (structure = Python-repr ASE-like dict, frequencies in cm⁻¹).
//! 5. **DOS files** (`vasprun*.xml`, `*DOSCAR*`) and **volumetric files** (`*CHGCAR*`,
//!    `*AECCAR*`, `CHG`, `*.cube`) given directly: id from the file name as in 1
//!    (`mp-149_CHGCAR.gz`, `CHGCAR_mp-149` → `mp-149`; a bare `vasprun.xml` or `CHGCAR` takes the
//!    folder's name). LOCPOT and ELFCAR are reported, not imported (not charge densities).
//!
//! Label CSVs ([`read_label_csv`], [`ImportOptions::label_files`]) and recipes ([`Recipe`]) add
//! labels and tabular datasets.
//!
//! # Merging
//! Inputs are merged in this order: label files, the recipe's `[[labels]]`, `[[table]]`,
//! `[[text]]`, then the sources in the order given. For each id the first structure wins;
//! later inputs add labels and modalities; a second, different value of a label, `is_metal`,
//! modality or description keeps the first and is noted in the report. Ids named by
//! label-only inputs but without a structure are summed up in one report entry per file; other
//! ids without a structure are reported one by one ("no structure for id X").
//!
//! # Failures and resuming
//! One bad file or record never stops an import: it is reported as an [`ImportProblem`]
//! (`file`, `reason` = the reader's message naming file and place) in `import_report.json`,
//! unless [`ImportOptions::strict`], where the first problem is returned as
//! [`ImportError::Problem`]. Re-running on an existing store resumes: ids already in it are
//! skipped. An import killed half-way leaves the last commit readable.
//!
//! # Recipes
//! A TOML file mapping tabular datasets onto the store; paths are relative to the recipe:
//! ```toml
//! [options]
//! derive_density = true                  # promolecular density for every material without one
//!
//! [[labels]]                             # label-only file, read first: its values win
//! path = "raw/labels/megnet_gap.json.gz" # {id: value} or {"train": {id: value}, ...}, or a label CSV
//! name = "band_gap"                      # label name (JSON files)
//! is_metal_from_zero = true              # also is_metal = (value == 0)
//!
//! [[table]]
//! path = "raw/structures/table.json.gz"  # JSON list of objects, pandas {col: {row: v}} or split JSON, or CSV
//! source = "mp"                          # the `source` column (default "table")
//! id = "material_id"                     # id column; and/or id_prefix = "x-" (+ row key / 0-based index)
//! structure = "cif"                      # column: pymatgen dict, CIF/POSCAR text, or ASE-like Python-repr dict
//! structure_format = "auto"              # auto | pymatgen | ase | cif | poscar
//! labels = { bulk_modulus = "K_VRH" }    # store label = column (literal key first, then dotted path)
//! is_metal = "is_metal"                  # optional columns:
//! elastic_tensor = "elasticity.elastic_tensor"   # 6×6 Voigt (GPa)
//! phonon_dos = { frequencies = "phfreq", densities = "phdos", unit = "cm-1" }  # or "THz"
//! description = "description"
//!
//! [[text]]
//! path = "raw/text/robocrys.jsonl.gz"    # descriptions (JSON, JSONL or CSV)
//!
//! [[text_vectors]]                       # frozen text vectors computed beforehand (at most one)
//! path = "text/all-minilm-l6-v2.f16.npy" # [n, dim] float16/float32
//! ids = "text/all-minilm-l6-v2.ids.json" # the n material ids, row order
//! encoder = "text/all-minilm-l6-v2.encoder.json"  # copied to modalities/text/encoder.json
//!
//! [[arrays]]                             # model inputs computed beforehand (any number)
//! modality = "dos"                       # dos | phonon_dos | density
//! path = "raw/dos/example_dos.npy.gz"    # [n, 2, 601] (density: [n, 1, 32, 32, 32]), f16/f32
//! ids = "raw/dos/example_dos.ids.json"   # the n material ids, row order
//! ```
//! `[[arrays]]` rows fill that modality of the materials with a structure ([`arrays`]); a real
//! density row replaces the derived one.
//! `[[text_vectors]]` rows become the `text` modality (`[dim]` f16) of the materials that have
//! a description and a vector ([`text_vectors`]); appending to a store whose text vectors came
//! from another checkpoint (different `fingerprint`) is refused.

pub mod arrays;
pub mod error;
pub mod ids;
pub mod labels;
pub mod pyrepr;
pub mod recipe;
pub mod sniff;
pub mod text_vectors;
pub mod values;

mod collect;
mod sources;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use multimat_dataset::{write_import_report, Dtype, ImportProblem, StoreWriter};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use error::ImportError;
pub use ids::{compare_ids, id_from_file_name, id_from_path, sort_ids};
pub use labels::{parse_label_csv, read_label_csv, LabelRow};
pub use recipe::{
    LabelsSpec, PhononColumns, Recipe, RecipeOptions, TableSpec, TextSpec, TextVectorsSpec,
};
pub use sniff::{file_kind, FileKind, Grid};
pub use text_vectors::{read_text_vectors, TextVectors};
pub use values::StructureFormat;
pub use write::{DENSITY, DOS, PHONON_DOS};

use collect::{Batch, Collector};
use sources::Unit;

/// How an import behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Stop at the first bad file or record (returned as [`ImportError::Problem`]) instead of
    /// reporting it and going on.
    pub strict: bool,
    /// Give every material without a real charge density a promolecular one (derived).
    pub derive_density: bool,
    /// Commit the store after this many added materials (at least 1).
    pub commit_every: usize,
    /// Symmetry tolerance for the space-group analysis, Å.
    pub symprec: f64,
    /// Label CSVs ([`read_label_csv`]), merged before everything else.
    pub label_files: Vec<PathBuf>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strict: false,
            derive_density: false,
            commit_every: 500,
            symprec: multimat_crystal::DEFAULT_SYMPREC,
            label_files: Vec::new(),
        }
    }
}

/// The two phases of an import, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Reading the inputs; items are inputs (files, run folders, recipe entries).
    Read,
    /// Computing and writing materials; items are materials.
    Write,
}

/// Progress of an import, sent to the callback of [`import`] (always from the calling thread).
#[derive(Debug, Clone, Copy)]
pub enum ImportEvent<'a> {
    /// A phase starts with `total` items.
    PhaseStarted { phase: Phase, total: usize },
    /// `count` more items of the phase are done.
    ItemsDone { phase: Phase, count: usize },
    /// A bad file or record was reported.
    Problem(&'a ImportProblem),
    /// The store was committed with `materials` materials in it.
    Committed { materials: usize },
}

/// Rows added per modality by one import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalityAdded {
    /// Rows given by the sources.
    pub real: usize,
    /// Rows computed here (promolecular densities).
    pub derived: usize,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Materials added to the store.
    pub materials_added: usize,
    /// Materials skipped because the store already held their id.
    pub skipped_existing: usize,
    /// Ids with data but no structure (not imported).
    pub without_structure: usize,
    /// Bad files and records (each in `import_report.json`).
    pub problems: usize,
    /// Conflicts and other notes (also in the report; never fatal).
    pub notes: usize,
    /// Rows added per modality (`dos`, `phonon_dos`, `density`, and `text` for descriptions).
    pub modalities: BTreeMap<String, ModalityAdded>,
    /// Materials in the store after the import.
    pub store_materials: usize,
    /// Wall time reading and merging the inputs, s.
    pub seconds_read: f64,
    /// Wall time computing and writing the materials, s.
    pub seconds_write: f64,
    /// Total wall time, s.
    pub seconds: f64,
    /// Materials with a description but no vector in the recipe's `[[text_vectors]]`.
    pub text_without_vector: usize,
    /// CPU time spent computing promolecular densities, summed over threads, s.
    pub derived_density_cpu_seconds: f64,
}

/// Inputs read in parallel per round; bounds the batches held before merging.
const READ_ROUND: usize = 64;
/// Materials computed in parallel per round; bounds the density grids held at once.
const WRITE_ROUND: usize = 256;

/// Imports `sources` (files and folders, see the crate docs), the `recipe` and the label files
/// of `options` into the store at `out` (created, or resumed when it exists). `progress`
/// receives [`ImportEvent`]s on the calling thread.
pub fn import(
    out: &Path,
    sources: &[PathBuf],
    recipe: Option<&Recipe>,
    options: &ImportOptions,
    progress: &dyn Fn(ImportEvent),
) -> Result<ImportSummary, ImportError> {
    let start = Instant::now();
    let derive_density = options.derive_density || recipe.is_some_and(|r| r.options.derive_density);
    let strict = options.strict;

    let mut units: Vec<Unit> = options
        .label_files
        .iter()
        .cloned()
        .map(Unit::LabelCsv)
        .collect();
    if let Some(r) = recipe {
        units.extend(r.labels.iter().cloned().map(Unit::Labels));
        units.extend(r.table.iter().cloned().map(Unit::Table));
        units.extend(r.text.iter().map(|t| Unit::Text(t.path.clone())));
    }
    let mut missing = Vec::new();
    sources::plan(sources, &mut units, &mut missing);

    let mut report: Vec<ImportProblem> = Vec::new();
    let mut summary = ImportSummary::default();
    let record =
        |p: ImportProblem, report: &mut Vec<ImportProblem>, summary: &mut ImportSummary| {
            progress(ImportEvent::Problem(&p));
            summary.problems += 1;
            if strict {
                return Err(ImportError::Problem(p));
            }
            report.push(p);
            Ok(())
        };
    for (file, reason) in missing {
        record(ImportProblem { file, reason }, &mut report, &mut summary)?;
    }

    // Read: rounds of inputs in parallel, merged in input order (deterministic first-wins).
    progress(ImportEvent::PhaseStarted {
        phase: Phase::Read,
        total: units.len(),
    });
    let mut collector = Collector::default();
    for round in units.chunks(READ_ROUND) {
        let batches: Vec<Batch> = round.par_iter().map(sources::read_unit).collect();
        for b in batches {
            for p in collector.add(b) {
                record(p, &mut report, &mut summary)?;
            }
        }
        progress(ImportEvent::ItemsDone {
            phase: Phase::Read,
            count: round.len(),
        });
    }

    // Ids without a structure.
    let mut label_only: Vec<(std::sync::Arc<str>, Vec<String>)> =
        std::mem::take(&mut collector.label_only_ids);
    let mut no_structure: Vec<(String, String)> = collector
        .materials
        .iter()
        .filter(|(_, p)| p.structure.is_none())
        .filter_map(|(id, p)| p.named_by.as_ref().map(|f| (id.clone(), f.to_string())))
        .collect();
    no_structure.sort_by(|a, b| compare_ids(&a.0, &b.0));
    summary.without_structure = collector
        .materials
        .values()
        .filter(|p| p.structure.is_none())
        .count();
    let mut notes = std::mem::take(&mut collector.notes);
    // A recipe whose tables are cut with `limit` leaves the descriptions of the other rows
    // without a structure by design: one note per file then, not one problem per id.
    let limited = recipe.is_some_and(|r| r.table.iter().any(|t| t.limit.is_some()));
    if limited {
        let mut by_file: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, file) in no_structure {
            by_file.entry(file).or_default().push(id);
        }
        for (file, ids) in by_file {
            notes.push(ImportProblem {
                file,
                reason: format!(
                    "{} ids have no structure among the recipe's limited tables and were left out (e.g. {})",
                    ids.len(),
                    ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    } else {
        for (id, file) in no_structure {
            record(
                ImportProblem {
                    file,
                    reason: format!("no structure for id {id}"),
                },
                &mut report,
                &mut summary,
            )?;
        }
    }
    for (file, ids) in label_only.drain(..) {
        let mut missing: Vec<&String> = ids
            .iter()
            .filter(|id| {
                collector
                    .materials
                    .get(*id)
                    .is_none_or(|p| p.structure.is_none() && p.named_by.is_none())
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        missing.sort_by(|a, b| compare_ids(a, b));
        let shown: Vec<&str> = missing.iter().take(5).map(|s| s.as_str()).collect();
        notes.push(ImportProblem {
            file: file.to_string(),
            reason: format!(
                "{} of its {} ids have no structure in any input, so their labels were not imported (e.g. {})",
                missing.len(),
                ids.len(),
                shown.join(", ")
            ),
        });
    }
    collector.materials.retain(|_, p| p.structure.is_some());
    summary.seconds_read = start.elapsed().as_secs_f64();

    let text_vectors = match recipe.and_then(|r| r.text_vectors.first()) {
        Some(spec) => Some(read_text_vectors(spec)?),
        None => None,
    };
    let mut arrays: Vec<arrays::ModalityArrays> = Vec::new();
    for spec in recipe.map(|r| r.arrays.as_slice()).unwrap_or_default() {
        let (a, problems) = arrays::read_arrays(spec)?;
        for p in problems {
            record(p, &mut report, &mut summary)?;
        }
        let unmatched = a
            .rows
            .keys()
            .filter(|id| !collector.materials.contains_key(*id))
            .count();
        if unmatched > 0 {
            notes.push(ImportProblem {
                file: a.file.clone(),
                reason: format!(
                    "{unmatched} of its {} rows have no structure in any input and were not imported",
                    a.rows.len()
                ),
            });
        }
        arrays.push(a);
    }
    summary.notes = notes.len();
    let array_density = |id: &str| {
        arrays
            .iter()
            .any(|a| a.modality == write::DENSITY && a.rows.contains_key(id))
    };

    // Write.
    let write_start = Instant::now();
    let mut writer = if out.join(multimat_dataset::manifest::MANIFEST_FILE).exists() {
        StoreWriter::open_for_append(out)?
    } else {
        StoreWriter::create(out)?
    };
    let mut ids: Vec<String> = Vec::with_capacity(collector.materials.len());
    for id in collector.materials.keys() {
        if writer.contains(id) {
            summary.skipped_existing += 1;
        } else {
            ids.push(id.clone());
        }
    }
    sort_ids(&mut ids);
    let needs = |f: &dyn Fn(&collect::Partial) -> bool| {
        ids.iter()
            .any(|id| collector.materials.get(id).is_some_and(f))
    };
    let in_arrays = |name: &str| {
        arrays
            .iter()
            .any(|a| a.modality == name && ids.iter().any(|id| a.rows.contains_key(id)))
    };
    if needs(&|p| p.dos.is_some()) || in_arrays(DOS) {
        writer.register_modality(DOS, vec![2, 601], Dtype::F32)?;
    }
    if needs(&|p| p.phonon_dos.is_some()) || in_arrays(PHONON_DOS) {
        writer.register_modality(PHONON_DOS, vec![2, 601], Dtype::F32)?;
    }
    if !ids.is_empty() && (derive_density || needs(&|p| p.density.is_some()) || in_arrays(DENSITY))
    {
        // f32, not f16: promolecular ρ·V of large cells with heavy atoms peaks above f16's 65504.
        writer.register_modality(DENSITY, vec![1, 32, 32, 32], Dtype::F32)?;
    }

    if let Some(tv) = &text_vectors {
        let used = ids.iter().any(|id| {
            tv.rows.contains_key(id)
                && collector
                    .materials
                    .get(id)
                    .is_some_and(|p| p.description.is_some())
        });
        if used {
            attach_text_encoder(&mut writer, out, tv)?;
        }
    }

    let all_notes = notes;
    // Notes met while writing (array rows a source file already covered).
    let mut all_notes_extra: Vec<ImportProblem> = Vec::new();
    let write_report = |report: &[ImportProblem], extra: &[ImportProblem]| {
        let mut all = report.to_vec();
        all.extend(all_notes.iter().cloned());
        all.extend(extra.iter().cloned());
        write_import_report(out, &all)
    };
    progress(ImportEvent::PhaseStarted {
        phase: Phase::Write,
        total: ids.len(),
    });
    let commit_every = options.commit_every.max(1);
    let mut since_commit = 0usize;
    let symprec = options.symprec;
    for round in ids.chunks(WRITE_ROUND) {
        let parts: Vec<(String, collect::Partial)> = round
            .iter()
            .filter_map(|id| collector.materials.remove(id).map(|p| (id.clone(), p)))
            .collect();
        let built: Vec<write::Built> = parts
            .into_par_iter()
            .map(|(id, p)| {
                let derive = derive_density && !array_density(&id);
                write::build(id, p, symprec, derive)
            })
            .collect();
        for b in built {
            summary.derived_density_cpu_seconds += b.density_seconds;
            for p in b.problems {
                record(p, &mut report, &mut summary)?;
            }
            let Some(mut rec) = b.record else { continue };
            for a in &arrays {
                let Some(row) = a.rows.get(&rec.id) else {
                    continue;
                };
                match rec.modalities.iter_mut().find(|(n, _, _)| *n == a.modality) {
                    None => rec
                        .modalities
                        .push((a.modality.clone(), row.clone(), false)),
                    Some(slot) if slot.2 => *slot = (a.modality.clone(), row.clone(), false),
                    Some(_) => {
                        summary.notes += 1;
                        all_notes_extra.push(ImportProblem {
                            file: a.file.clone(),
                            reason: format!(
                                "{}: `{}` already came from a source file; the array row was not used",
                                rec.id, a.modality
                            ),
                        });
                    }
                }
            }
            if let (Some(tv), Some(_)) = (&text_vectors, &rec.description) {
                match tv.rows.get(&rec.id) {
                    Some(v) => rec
                        .modalities
                        .push((text_vectors::TEXT.into(), v.clone(), false)),
                    None => summary.text_without_vector += 1,
                }
            }
            let mut mods: Vec<(String, bool)> = rec
                .modalities
                .iter()
                .map(|(n, _, d)| (n.clone(), *d))
                .collect();
            if rec.description.is_some() && !mods.iter().any(|(n, _)| n == text_vectors::TEXT) {
                mods.push(("text".into(), false));
            }
            let id = rec.id.clone();
            let file = id.clone();
            match writer.add_material(rec) {
                Ok(()) => {
                    summary.materials_added += 1;
                    for (name, derived) in mods {
                        let m = summary.modalities.entry(name).or_default();
                        if derived {
                            m.derived += 1;
                        } else {
                            m.real += 1;
                        }
                    }
                    since_commit += 1;
                }
                Err(e) if per_material(&e) => {
                    record(
                        ImportProblem {
                            file,
                            reason: format!("{id}: {e}"),
                        },
                        &mut report,
                        &mut summary,
                    )?;
                }
                Err(e) => return Err(e.into()),
            }
            if since_commit >= commit_every {
                writer.commit()?;
                since_commit = 0;
                progress(ImportEvent::Committed {
                    materials: writer.len(),
                });
                write_report(&report, &all_notes_extra)?;
            }
        }
        progress(ImportEvent::ItemsDone {
            phase: Phase::Write,
            count: round.len(),
        });
    }
    writer.commit()?;
    progress(ImportEvent::Committed {
        materials: writer.len(),
    });
    write_report(&report, &all_notes_extra)?;
    summary.store_materials = writer.len();
    summary.seconds_write = write_start.elapsed().as_secs_f64();
    summary.seconds = start.elapsed().as_secs_f64();
    Ok(summary)
}

/// Registers the `text` modality for `tv` and writes its encoder record, refusing vectors of
/// another checkpoint than the store's existing ones (mixing them would make the rows
/// incomparable).
fn attach_text_encoder(
    writer: &mut StoreWriter,
    out: &Path,
    tv: &TextVectors,
) -> Result<(), ImportError> {
    let dir = out.join("modalities").join(text_vectors::TEXT);
    let path = dir.join(text_vectors::ENCODER_FILE);
    if let Ok(old) = std::fs::read(&path) {
        let old_fp = serde_json::from_slice::<serde_json::Value>(&old)
            .ok()
            .and_then(|v| {
                v.get("fingerprint")
                    .and_then(|f| f.as_str())
                    .map(str::to_string)
            });
        if old_fp != tv.fingerprint {
            return Err(ImportError::Recipe {
                file: path.display().to_string(),
                reason: format!(
                    "the store's text vectors come from checkpoint {}, the recipe's from {}: recompute them with `multimat text embed` instead of mixing",
                    old_fp.as_deref().unwrap_or("(unknown)"),
                    tv.fingerprint.as_deref().unwrap_or("(unknown)")
                ),
            });
        }
    }
    writer.register_modality(text_vectors::TEXT, vec![tv.dim], Dtype::F16)?;
    std::fs::create_dir_all(&dir).map_err(|e| multimat_dataset::Error::io(&dir, e))?;
    multimat_dataset::manifest::write_atomic(&path, &tv.encoder_json)?;
    Ok(())
}

/// Store errors that concern one material's data (the import goes on without it).
fn per_material(e: &multimat_dataset::Error) -> bool {
    use multimat_dataset::ErrorKind as K;
    matches!(
        e.kind,
        K::InvalidValue(_) | K::InvalidName(_) | K::ShapeMismatch { .. } | K::DuplicateId(_)
    )
}
