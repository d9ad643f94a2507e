//! Building and appending to a store: [`StoreWriter`].
//!
//! Memory: the writer holds the table rows added since the last commit and, per modality, at
//! most one shard's worth of encoded rows (a full shard is written as soon as it fills). The
//! committed table is streamed from disk at each commit, never held whole.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use multimat_crystal::io::write_atomic_with;
use multimat_crystal::Structure;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Manifest, ModalityEntry, IMPORT_REPORT_FILE, TABLE_FILE};
use crate::npy::{self, Dtype};
use crate::table::{self, TableRow, ELASTIC_COMPONENTS};

/// Shard size for rows of at least [`LARGE_ROW_VALUES`] values (charge-density grids:
/// 1024 × 32³ f32 = 128 MiB per shard).
pub const LARGE_SHARD_ROWS: usize = 1024;
/// Shard size for smaller rows (DOS 2×601, text 768, ...).
pub const SMALL_SHARD_ROWS: usize = 16384;
/// Rows with at least this many values get [`LARGE_SHARD_ROWS`] per shard.
pub const LARGE_ROW_VALUES: usize = 4096;

/// Default rows per shard for a row of `row_len` values.
pub fn default_shard_rows(row_len: usize) -> usize {
    if row_len >= LARGE_ROW_VALUES {
        LARGE_SHARD_ROWS
    } else {
        SMALL_SHARD_ROWS
    }
}

/// One material to add to a store.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialRecord {
    /// Unique id, e.g. `mp-149`.
    pub id: String,
    /// Where it came from, e.g. `mp`, `jarvis`, `snumat`.
    pub source: String,
    pub structure: Structure,
    /// Scalar labels by name, in the units of the label's convention (bulk/shear modulus in
    /// GPa, energies in eV or eV/atom, band gap in eV, refractive index dimensionless).
    pub labels: BTreeMap<String, f64>,
    pub is_metal: Option<bool>,
    /// The 15 stored components of the elastic tensor (GPa), in the importer's documented order.
    pub elastic_tensor: Option<[f32; ELASTIC_COMPONENTS]>,
    /// Crystal system name, e.g. `cubic`.
    pub crystal_system: Option<String>,
    /// International space-group number 1–230.
    pub spacegroup: Option<i32>,
    /// Text description of the material (e.g. robocrystallographer's), stored in the table's
    /// `description` column; the text modality of [`crate::info()`] counts these.
    pub description: Option<String>,
    /// (modality name, row values in C order of the registered shape, derived?).
    pub modalities: Vec<(String, Vec<f32>, bool)>,
}

impl MaterialRecord {
    /// A record with only id, source and structure set.
    pub fn new(id: impl Into<String>, source: impl Into<String>, structure: Structure) -> Self {
        MaterialRecord {
            id: id.into(),
            source: source.into(),
            structure,
            labels: BTreeMap::new(),
            is_metal: None,
            elastic_tensor: None,
            crystal_system: None,
            spacegroup: None,
            description: None,
            modalities: Vec::new(),
        }
    }
}

/// One entry of `import_report.json`: an input file that was skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    pub file: String,
    pub reason: String,
}

/// Writes `STORE/import_report.json` atomically.
pub fn write_import_report(dir: &Path, problems: &[ImportProblem]) -> Result<()> {
    let path = dir.join(IMPORT_REPORT_FILE);
    let text = serde_json::to_vec_pretty(problems)
        .map_err(|e| Error::new(&path, ErrorKind::Io(e.to_string())))?;
    manifest::write_atomic(&path, &text)
}

/// Reads `STORE/import_report.json` (empty when there is none).
pub fn read_import_report(dir: &Path) -> Result<Vec<ImportProblem>> {
    let path = dir.join(IMPORT_REPORT_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::new(&path, ErrorKind::CorruptManifest(e.to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Names a table column can not take as a label.
fn reserved(name: &str) -> bool {
    table::FIXED_COLUMNS.contains(&name)
        || table::TRAILING_COLUMNS.contains(&name)
        || name.ends_with("_row")
        || name.ends_with("_derived")
}

/// Label and modality names: lowercase ASCII letters, digits and `_`, starting with a letter,
/// so they are valid column names, folder names and Python identifiers.
fn check_name(name: &str, what: &str, dir: &Path) -> Result<()> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(Error::new(
            dir,
            ErrorKind::InvalidName(format!(
                "{what} {name:?}: use lowercase letters, digits and _ (max 64)"
            )),
        ));
    }
    Ok(())
}

#[derive(Debug)]
struct ModState {
    shape: Vec<usize>,
    dtype: Dtype,
    shard_rows: usize,
    /// Rows assigned so far (committed + pending).
    rows: usize,
    derived_rows: usize,
    /// Rows whose bytes are in shard files (a prefix of `rows`).
    rows_on_disk: usize,
    /// Encoded rows `rows_on_disk..rows`.
    pending: Vec<u8>,
}

impl ModState {
    fn row_len(&self) -> usize {
        self.shape.iter().product()
    }

    fn row_bytes(&self) -> usize {
        self.row_len() * self.dtype.size()
    }
}

/// Writes a store folder. One writer per store at a time; readers may open the store
/// concurrently and see the last commit.
#[derive(Debug)]
pub struct StoreWriter {
    dir: PathBuf,
    manifest: Manifest,
    modalities: BTreeMap<String, ModState>,
    labels: BTreeSet<String>,
    ids: HashSet<String>,
    sources: BTreeSet<String>,
    pending: Vec<TableRow>,
    schema_changed: bool,
}

impl StoreWriter {
    /// Starts a new, empty store in `dir` (created if needed). Fails if `dir` already holds a
    /// committed store (use [`StoreWriter::open_for_append`]). Nothing is on disk until the
    /// first [`commit`](Self::commit).
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mpath = dir.join(manifest::MANIFEST_FILE);
        if mpath.exists() {
            return Err(Error::new(
                &mpath,
                ErrorKind::Io("a store already exists here; open it for append instead".into()),
            ));
        }
        Ok(StoreWriter {
            dir,
            manifest: Manifest::new(),
            modalities: BTreeMap::new(),
            labels: BTreeSet::new(),
            ids: HashSet::new(),
            sources: BTreeSet::new(),
            pending: Vec::new(),
            schema_changed: true,
        })
    }

    /// Reopens a committed store to add materials. Only what the manifest commits is kept:
    /// leftovers of an interrupted commit are ignored and overwritten.
    pub fn open_for_append(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let mut ids = HashSet::with_capacity(manifest.materials);
        if manifest.materials > 0 {
            let tpath = dir.join(TABLE_FILE);
            let only_id = |n: &str| n == "id";
            let file = File::open(&tpath).map_err(|e| Error::io(&tpath, e))?;
            table::for_each_batch(file, &tpath, manifest.materials, Some(&only_id), |b| {
                let col = b
                    .column_by_name("id")
                    .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                    .ok_or_else(|| {
                        Error::new(
                            &tpath,
                            ErrorKind::CorruptTable("id column missing or not string".into()),
                        )
                    })?;
                for id in col.iter().flatten() {
                    if !ids.insert(id.to_string()) {
                        return Err(Error::new(
                            &tpath,
                            ErrorKind::CorruptTable(format!("duplicate id {id:?}")),
                        ));
                    }
                }
                Ok(())
            })?;
        }
        let modalities = manifest
            .modalities
            .iter()
            .map(|(name, e)| {
                (
                    name.clone(),
                    ModState {
                        shape: e.shape.clone(),
                        dtype: e.dtype,
                        shard_rows: e.shard_rows,
                        rows: e.rows,
                        derived_rows: e.derived_rows,
                        rows_on_disk: e.rows,
                        pending: Vec::new(),
                    },
                )
            })
            .collect();
        Ok(StoreWriter {
            labels: manifest.labels.iter().cloned().collect(),
            sources: manifest.sources.iter().cloned().collect(),
            dir,
            manifest,
            modalities,
            ids,
            pending: Vec::new(),
            schema_changed: false,
        })
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Materials added so far, committed or not.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Materials added since the last commit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether a material with this id was already added (committed or pending), so an
    /// importer resuming after a crash can skip it.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Declares modality `name` with per-row `shape` (e.g. `[2, 601]`) and on-disk `dtype`,
    /// with the default shard size ([`default_shard_rows`]). Registering again with the same
    /// shape and dtype is a no-op (as when resuming); a different shape or dtype is an error.
    pub fn register_modality(&mut self, name: &str, shape: Vec<usize>, dtype: Dtype) -> Result<()> {
        let rows = default_shard_rows(shape.iter().product());
        self.register_modality_sharded(name, shape, dtype, rows)
    }

    /// Like [`register_modality`](Self::register_modality) with an explicit `shard_rows`. On an
    /// existing modality the shard size already on disk is kept.
    pub fn register_modality_sharded(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        dtype: Dtype,
        shard_rows: usize,
    ) -> Result<()> {
        check_name(name, "modality", &self.dir)?;
        if name == "structure" {
            return Err(Error::new(
                &self.dir,
                ErrorKind::InvalidName("\"structure\" is not a modality name".into()),
            ));
        }
        if shape.contains(&0) || shard_rows == 0 {
            return Err(Error::new(
                &self.dir,
                ErrorKind::InvalidName(format!(
                    "modality {name:?}: shape {shape:?} and shard_rows {shard_rows} must be non-zero"
                )),
            ));
        }
        if let Some(m) = self.modalities.get(name) {
            if m.shape != shape || m.dtype != dtype {
                return Err(Error::new(
                    &self.dir,
                    ErrorKind::ShapeMismatch {
                        modality: name.into(),
                        id: format!("(registered as {:?} {})", m.shape, m.dtype.name()),
                        expected: m.row_len(),
                        found: shape.iter().product(),
                    },
                ));
            }
            return Ok(());
        }
        self.modalities.insert(
            name.to_string(),
            ModState {
                shape,
                dtype,
                shard_rows,
                rows: 0,
                derived_rows: 0,
                rows_on_disk: 0,
                pending: Vec::new(),
            },
        );
        self.schema_changed = true;
        Ok(())
    }

    /// Adds one material. Everything is validated before anything changes, so a failed add
    /// leaves the writer as it was. Full shards are written to disk as they fill; the material
    /// becomes visible to readers at the next [`commit`](Self::commit).
    pub fn add_material(&mut self, rec: MaterialRecord) -> Result<()> {
        let dir = self.dir.clone();
        let invalid = |m: String| Error::new(&dir, ErrorKind::InvalidValue(m));
        if rec.id.is_empty() || rec.id.chars().any(char::is_control) || rec.id.trim() != rec.id {
            return Err(Error::new(
                &dir,
                ErrorKind::InvalidName(format!("material id {:?}", rec.id)),
            ));
        }
        if self.ids.contains(&rec.id) {
            return Err(Error::new(&dir, ErrorKind::DuplicateId(rec.id)));
        }
        let id = &rec.id;
        for (name, v) in &rec.labels {
            check_name(name, "label", &dir)?;
            if reserved(name) {
                return Err(Error::new(
                    &dir,
                    ErrorKind::InvalidName(format!("label {name:?} is a reserved column name")),
                ));
            }
            if !v.is_finite() {
                return Err(invalid(format!("material {id:?}: label {name} = {v}")));
            }
        }
        if let Some(t) = &rec.elastic_tensor {
            if t.iter().any(|x| !x.is_finite()) {
                return Err(invalid(format!(
                    "material {id:?}: elastic_tensor has non-finite entries"
                )));
            }
        }
        check_structure(&rec.structure, id).map_err(invalid)?;
        let mut encoded: Vec<(String, Vec<u8>, bool)> = Vec::with_capacity(rec.modalities.len());
        for (name, values, derived) in &rec.modalities {
            let m = self
                .modalities
                .get(name)
                .ok_or_else(|| Error::new(&dir, ErrorKind::UnknownModality(name.clone())))?;
            if encoded.iter().any(|(n, _, _)| n == name) {
                return Err(invalid(format!(
                    "material {id:?}: modality {name} given twice"
                )));
            }
            if values.len() != m.row_len() {
                return Err(Error::new(
                    &dir,
                    ErrorKind::ShapeMismatch {
                        modality: name.clone(),
                        id: id.clone(),
                        expected: m.row_len(),
                        found: values.len(),
                    },
                ));
            }
            let mut bytes = Vec::new();
            m.dtype
                .encode(values, &mut bytes)
                .map_err(|e| invalid(format!("material {id:?}: modality {name}: {e}")))?;
            encoded.push((name.clone(), bytes, *derived));
        }

        let mut modality_rows = BTreeMap::new();
        for (name, bytes, derived) in encoded {
            let Some(m) = self.modalities.get_mut(&name) else {
                continue;
            };
            modality_rows.insert(name.clone(), (m.rows as i64, derived));
            m.rows += 1;
            m.derived_rows += usize::from(derived);
            m.pending.extend_from_slice(&bytes);
            self.flush_modality(&name, false)?;
        }
        for name in rec.labels.keys() {
            if self.labels.insert(name.clone()) {
                self.schema_changed = true;
            }
        }
        self.sources.insert(rec.source.clone());
        self.ids.insert(rec.id.clone());
        self.pending.push(TableRow {
            formula: rec.structure.reduced_formula(),
            nsites: rec.structure.sites.len() as i32,
            structure_json: structure_to_json(&rec.structure),
            id: rec.id,
            source: rec.source,
            crystal_system: rec.crystal_system,
            spacegroup: rec.spacegroup,
            labels: rec.labels,
            is_metal: rec.is_metal,
            elastic_tensor: rec.elastic_tensor,
            description: rec.description,
            modality_rows,
        });
        Ok(())
    }

    fn shard_path(&self, modality: &str, shard: usize) -> PathBuf {
        self.dir
            .join("modalities")
            .join(modality)
            .join(shard_name(shard))
    }

    /// Writes the pending rows of `name` into shard files: only completed shards unless
    /// `partial`. A shard that already holds rows is rewritten whole (its committed prefix
    /// copied) into a temp file and renamed over, so the committed rows are never at risk.
    fn flush_modality(&mut self, name: &str, partial: bool) -> Result<()> {
        loop {
            let Some(m) = self.modalities.get(name) else {
                return Ok(());
            };
            let row_bytes = m.row_bytes();
            let pending_rows = m.pending.len() / row_bytes;
            if pending_rows == 0 {
                return Ok(());
            }
            let shard = m.rows_on_disk / m.shard_rows;
            let keep = m.rows_on_disk % m.shard_rows;
            let n = pending_rows.min(m.shard_rows - keep);
            if keep + n < m.shard_rows && !partial {
                return Ok(());
            }
            let path = self.shard_path(name, shard);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let (dtype, shape) = (m.dtype, m.shape.clone());
            // Open and check the committed prefix before creating the temp file.
            let mut old = if keep > 0 {
                let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
                let mut head = vec![0u8; 4096];
                let got = read_up_to(&mut f, &mut head).map_err(|e| Error::io(&path, e))?;
                let h = npy::parse_header(&head[..got], &path)?;
                let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
                let need = (h.data_offset + keep * row_bytes) as u64;
                if h.dtype != dtype || h.shape[1..] != shape[..] {
                    return Err(Error::new(
                        &path,
                        ErrorKind::BadShard(format!(
                            "holds {} {:?}, modality is {} {:?}",
                            h.dtype.name(),
                            &h.shape[1..],
                            dtype.name(),
                            shape
                        )),
                    ));
                }
                if len < need || h.shape[0] < keep {
                    return Err(Error::new(
                        &path,
                        ErrorKind::ShardTooShort {
                            expected: need,
                            found: len,
                        },
                    ));
                }
                f.seek(SeekFrom::Start(h.data_offset as u64))
                    .map_err(|e| Error::io(&path, e))?;
                Some(f)
            } else {
                None
            };
            let m = self
                .modalities
                .get(name)
                .ok_or_else(|| Error::new(&self.dir, ErrorKind::UnknownModality(name.into())))?;
            let new_bytes = &m.pending[..n * row_bytes];
            manifest::write_atomic_with(&path, |f| {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                w.write_all(&npy::header(dtype, keep + n, &shape))?;
                if let Some(old) = old.as_mut() {
                    let want = (keep * row_bytes) as u64;
                    let copied = std::io::copy(&mut old.take(want), &mut w)?;
                    if copied != want {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "committed shard prefix shrank while copying",
                        ));
                    }
                }
                w.write_all(new_bytes)?;
                w.flush()
            })?;
            let m = self
                .modalities
                .get_mut(name)
                .ok_or_else(|| Error::new(&self.dir, ErrorKind::UnknownModality(name.into())))?;
            m.pending.drain(..n * row_bytes);
            m.rows_on_disk += n;
        }
    }

    /// Makes everything added so far durable and visible: writes the remaining shard rows, the
    /// new `materials.parquet` (committed rows streamed from the old table, then the new ones)
    /// and finally `manifest.json`, each via temp file + rename. A crash at any point leaves
    /// the previous commit readable.
    pub fn commit(&mut self) -> Result<()> {
        let names: Vec<String> = self.modalities.keys().cloned().collect();
        for name in &names {
            self.flush_modality(name, true)?;
        }
        let labels: Vec<String> = self.labels.iter().cloned().collect();
        if !self.pending.is_empty()
            || self.schema_changed
            || (self.manifest.materials == 0 && !self.dir.join(TABLE_FILE).exists())
        {
            self.write_table(&labels, &names)?;
        }
        let mut next = self.manifest.clone();
        next.materials += self.pending.len();
        next.labels = labels;
        next.sources = self.sources.iter().cloned().collect();
        next.updated = manifest::now_iso8601();
        next.modalities = self
            .modalities
            .iter()
            .map(|(name, m)| {
                let shards = (0..m.rows.div_ceil(m.shard_rows)).map(shard_name).collect();
                (
                    name.clone(),
                    ModalityEntry {
                        shape: m.shape.clone(),
                        dtype: m.dtype,
                        rows: m.rows,
                        shard_rows: m.shard_rows,
                        shards,
                        derived_rows: m.derived_rows,
                    },
                )
            })
            .collect();
        next.write(&self.dir)?;
        self.manifest = next;
        self.pending.clear();
        self.schema_changed = false;
        Ok(())
    }

    fn write_table(&self, labels: &[String], modalities: &[String]) -> Result<()> {
        let path = self.dir.join(TABLE_FILE);
        let schema = table::schema(labels, modalities);
        let io = |p: &std::path::Path, e| Error::io(p, e);
        write_atomic_with(
            &path,
            |file| {
                let file = file.try_clone().map_err(|e| Error::io(&path, e))?;
                let mut w = table::open_writer(file, &schema, &path)?;
                let werr = |e: parquet::errors::ParquetError| {
                    Error::new(&path, ErrorKind::CorruptTable(e.to_string()))
                };
                if self.manifest.materials > 0 {
                    let old = File::open(&path).map_err(|e| Error::io(&path, e))?;
                    table::for_each_batch(old, &path, self.manifest.materials, None, |b| {
                        let b = table::conform_batch(&b, &schema, &path)?;
                        w.write(&b).map_err(werr)
                    })?;
                }
                for chunk in self.pending.chunks(table::ROW_GROUP_ROWS) {
                    let b = table::rows_to_batch(chunk, &schema, labels, modalities)?;
                    w.write(&b).map_err(werr)?;
                }
                w.close().map_err(werr)?;
                Ok(())
            },
            io,
        )
    }

    /// Test hook: commits shards and the table but stops before the manifest, as a process
    /// killed at that instant would.
    #[doc(hidden)]
    pub fn simulate_crash_before_manifest(mut self) -> Result<()> {
        let names: Vec<String> = self.modalities.keys().cloned().collect();
        for name in &names {
            self.flush_modality(name, true)?;
        }
        let labels: Vec<String> = self.labels.iter().cloned().collect();
        self.write_table(&labels, &names)
    }
}

/// File name of shard `i`.
pub fn shard_name(i: usize) -> String {
    format!("shard-{i:05}.npy")
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// The `structure` column text for `s`: compact pymatgen `Structure.as_dict()` JSON (floats in
/// shortest round-trip form, so coordinates come back bit-exact).
pub fn structure_to_json(s: &Structure) -> String {
    multimat_crystal::io::json::structure_to_value(s).to_string()
}

/// Checks what the structure reader will demand when the row is read back, so a bad structure
/// fails at import time rather than when a model trains on it.
fn check_structure(s: &Structure, id: &str) -> std::result::Result<(), String> {
    if s.sites.is_empty() {
        return Err(format!("material {id:?}: structure has no sites"));
    }
    for (i, site) in s.sites.iter().enumerate() {
        if site.frac.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "material {id:?}: site {i} has non-finite coordinates"
            ));
        }
        if site.occupants.is_empty() {
            return Err(format!("material {id:?}: site {i} has no species"));
        }
        let mut total = 0.0;
        for o in &site.occupants {
            if multimat_crystal::element(o.z).is_none() {
                return Err(format!(
                    "material {id:?}: site {i} has unknown atomic number {}",
                    o.z
                ));
            }
            if !(o.occupancy > 0.0 && o.occupancy <= 1.0 + OCCUPANCY_SLACK) {
                return Err(format!(
                    "material {id:?}: site {i} occupancy {} outside (0, 1]",
                    o.occupancy
                ));
            }
            if o.oxidation.is_some_and(|x| !x.is_finite()) {
                return Err(format!(
                    "material {id:?}: site {i} has a non-finite oxidation state"
                ));
            }
            total += o.occupancy;
        }
        if total > 1.0 + OCCUPANCY_SLACK {
            return Err(format!(
                "material {id:?}: site {i} occupancies add up to {total} > 1"
            ));
        }
    }
    Ok(())
}

/// Rounding slack on occupancies, as in the crystal crate's JSON reader.
const OCCUPANCY_SLACK: f64 = 1e-6;
