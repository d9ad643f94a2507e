//! Reading a store: [`Store`] (table columns in memory, structures fetched on demand) and
//! [`ModalityArray`] (memory-mapped shards, rows decoded on demand).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, StringArray};
use memmap2::Mmap;
use multimat_crystal::Structure;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{Manifest, ModalityEntry, TABLE_FILE};
use crate::npy::{self, Dtype};
use crate::table::{self, Columns, ELASTIC_COMPONENTS};

/// One modality's rows, memory-mapped shard by shard. Reading a row touches only that row's
/// pages, so a 20 GB modality costs nothing until rows are asked for.
#[derive(Debug, Clone)]
pub struct ModalityArray {
    name: String,
    entry: ModalityEntry,
    shards: Vec<Arc<Mmap>>,
    offsets: Vec<usize>,
    files: Vec<PathBuf>,
}

impl ModalityArray {
    /// Maps every shard of `entry` and checks header and length against the manifest.
    fn open(dir: &Path, name: &str, entry: &ModalityEntry) -> Result<Self> {
        let row_bytes = entry.row_bytes();
        let mut shards = Vec::with_capacity(entry.shards.len());
        let mut offsets = Vec::with_capacity(entry.shards.len());
        let mut files = Vec::with_capacity(entry.shards.len());
        for (s, file_name) in entry.shards.iter().enumerate() {
            let path = dir.join("modalities").join(name).join(file_name);
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            // SAFETY: the writer never modifies a shard in place; it writes a new file and
            // renames it over, so an existing mapping keeps pointing at the old, unchanged
            // inode. Truncation by an outside program is the one hazard mmap cannot rule out.
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
            let h = npy::parse_header(&map, &path)?;
            if h.dtype != entry.dtype || h.shape[1..] != entry.shape[..] {
                return Err(Error::new(
                    &path,
                    ErrorKind::BadShard(format!(
                        "holds {} {:?}, manifest says {} {:?}",
                        h.dtype.name(),
                        &h.shape[1..],
                        entry.dtype.name(),
                        entry.shape
                    )),
                ));
            }
            let need_rows = entry.shard_rows.min(entry.rows - s * entry.shard_rows);
            let expected = (h.data_offset + need_rows * row_bytes) as u64;
            if h.shape[0] < need_rows || (map.len() as u64) < expected {
                return Err(Error::new(
                    &path,
                    ErrorKind::ShardTooShort {
                        expected,
                        found: map.len() as u64,
                    },
                ));
            }
            shards.push(Arc::new(map));
            offsets.push(h.data_offset);
            files.push(path);
        }
        Ok(ModalityArray {
            name: name.to_string(),
            entry: entry.clone(),
            shards,
            offsets,
            files,
        })
    }

    /// The modality name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Shape of one row.
    pub fn shape(&self) -> &[usize] {
        &self.entry.shape
    }

    /// Values per row (product of the shape).
    pub fn row_len(&self) -> usize {
        self.entry.row_len()
    }

    /// On-disk element type.
    pub fn dtype(&self) -> Dtype {
        self.entry.dtype
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.entry.rows
    }

    pub fn is_empty(&self) -> bool {
        self.entry.rows == 0
    }

    /// Shard file paths, in row order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn row_bytes(&self, r: usize) -> Result<&[u8]> {
        if r >= self.entry.rows {
            return Err(Error::new(
                self.files.first().cloned().unwrap_or_default(),
                ErrorKind::OutOfRange {
                    index: r,
                    len: self.entry.rows,
                },
            ));
        }
        let s = r / self.entry.shard_rows;
        let rb = self.entry.row_bytes();
        let start = self.offsets[s] + (r % self.entry.shard_rows) * rb;
        // Lengths were checked at open, so the slice is in bounds.
        Ok(&self.shards[s][start..start + rb])
    }

    /// Decodes row `r` into `out` (length [`row_len`](Self::row_len)).
    pub fn read_row_into(&self, r: usize, out: &mut [f32]) -> Result<()> {
        if out.len() != self.row_len() {
            return Err(Error::new(
                self.files.first().cloned().unwrap_or_default(),
                ErrorKind::ShapeMismatch {
                    modality: self.name.clone(),
                    id: format!("(row {r})"),
                    expected: self.row_len(),
                    found: out.len(),
                },
            ));
        }
        let bytes = self.row_bytes(r)?;
        self.entry.dtype.decode(bytes, out);
        Ok(())
    }

    /// Row `r` as f32 values in C order of [`shape`](Self::shape).
    pub fn row(&self, r: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.row_len()];
        self.read_row_into(r, &mut out)?;
        Ok(out)
    }

    /// Rows `rs` stacked: `[rs.len(), *shape]` flattened in C order.
    pub fn rows(&self, rs: &[usize]) -> Result<Vec<f32>> {
        let n = self.row_len();
        let mut out = vec![0f32; rs.len() * n];
        for (chunk, &r) in out.chunks_exact_mut(n.max(1)).zip(rs) {
            self.read_row_into(r, chunk)?;
        }
        Ok(out)
    }
}

/// Everything the table says about one material.
#[derive(Debug, Clone, PartialEq)]
pub struct Material {
    pub id: String,
    pub source: String,
    /// Reduced formula, e.g. `NaCl`.
    pub formula: String,
    pub nsites: i32,
    pub structure: Structure,
    pub crystal_system: Option<String>,
    pub spacegroup: Option<i32>,
    /// The non-null labels of this material.
    pub labels: BTreeMap<String, f64>,
    pub is_metal: Option<bool>,
    /// Elastic tensor components (GPa).
    pub elastic_tensor: Option<[f32; ELASTIC_COMPONENTS]>,
    /// Text description, if any.
    pub description: Option<String>,
    /// Modality → (row in that modality, derived) for the modalities this material has.
    pub modalities: BTreeMap<String, (usize, bool)>,
}

/// An opened store: the manifest, the table columns (not the structures) in memory and every
/// modality mapped.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    manifest: Manifest,
    columns: Columns,
    index: HashMap<String, usize>,
    modalities: BTreeMap<String, ModalityArray>,
    table_meta: ArrowReaderMetadata,
    /// The table file as opened: a later commit renames a new file over the path, and reading
    /// through this handle keeps this `Store` on the snapshot its metadata describes.
    table_file: Arc<File>,
    /// Clones of `table_file` share one file offset, and the Parquet reader seeks then reads:
    /// concurrent reads (e.g. graph building on several threads) must take turns.
    table_read: Arc<std::sync::Mutex<()>>,
    /// First material index of each Parquet row group, plus the total at the end.
    group_starts: Vec<usize>,
    structure_root: usize,
}

thread_local! {
    /// True on the thread that is inside [`Store::for_each_structure_json`] (and so holds the
    /// table-read lock).
    static STREAMING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Sets [`STREAMING`] for its lifetime, also when the callback panics.
struct StreamingGuard;

impl StreamingGuard {
    fn enter() -> Self {
        STREAMING.with(|s| s.set(true));
        StreamingGuard
    }
}

impl Drop for StreamingGuard {
    fn drop(&mut self) {
        STREAMING.with(|s| s.set(false));
    }
}

impl Store {
    /// Opens the committed state of the store in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let manifest = Manifest::read(&dir)?;
        let tpath = dir.join(TABLE_FILE);
        let modality_names: Vec<String> = manifest.modalities.keys().cloned().collect();
        // One open file for the columns, the metadata and later structure reads: they all
        // describe the same snapshot even if a writer commits meanwhile.
        let file = File::open(&tpath).map_err(|e| Error::io(&tpath, e))?;
        let columns = table::read_columns(
            file.try_clone().map_err(|e| Error::io(&tpath, e))?,
            &tpath,
            manifest.materials,
            &manifest.labels,
            &modality_names,
        )?;
        if columns.ids.len() != manifest.materials {
            return Err(Error::new(
                &tpath,
                ErrorKind::CorruptTable(format!(
                    "read {} rows, manifest commits {}",
                    columns.ids.len(),
                    manifest.materials
                )),
            ));
        }
        let mut index = HashMap::with_capacity(columns.ids.len());
        for (i, id) in columns.ids.iter().enumerate() {
            if index.insert(id.clone(), i).is_some() {
                return Err(Error::new(
                    &tpath,
                    ErrorKind::CorruptTable(format!("duplicate id {id:?}")),
                ));
            }
        }
        let mut modalities = BTreeMap::new();
        for (name, entry) in &manifest.modalities {
            let (rows, _) = &columns.modalities[name];
            if let Some(bad) = rows.iter().position(|&r| r < -1 || r >= entry.rows as i64) {
                return Err(Error::new(
                    &tpath,
                    ErrorKind::CorruptTable(format!(
                        "{} of material {:?} is {}, modality has {} rows",
                        table::row_column(name),
                        columns.ids[bad],
                        rows[bad],
                        entry.rows
                    )),
                ));
            }
            modalities.insert(name.clone(), ModalityArray::open(&dir, name, entry)?);
        }
        let table_meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
            .map_err(|e| Error::new(&tpath, ErrorKind::CorruptTable(e.to_string())))?;
        let mut group_starts = vec![0usize];
        for g in table_meta.metadata().row_groups() {
            let last = *group_starts.last().unwrap_or(&0);
            group_starts.push(last + g.num_rows() as usize);
        }
        let structure_root = table_meta
            .schema()
            .fields()
            .iter()
            .position(|f| f.name() == "structure")
            .ok_or_else(|| {
                Error::new(
                    &tpath,
                    ErrorKind::CorruptTable("missing column structure".into()),
                )
            })?;
        Ok(Store {
            dir,
            manifest,
            columns,
            index,
            modalities,
            table_meta,
            table_file: Arc::new(file),
            table_read: Arc::new(std::sync::Mutex::new(())),
            group_starts,
            structure_root,
        })
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Number of materials.
    pub fn len(&self) -> usize {
        self.columns.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.ids.is_empty()
    }

    /// Material ids in table order.
    pub fn ids(&self) -> &[String] {
        &self.columns.ids
    }

    /// Table position of `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// `source` of every material.
    pub fn sources(&self) -> &[String] {
        &self.columns.sources
    }

    /// Reduced formula of every material.
    pub fn formulas(&self) -> &[String] {
        &self.columns.formulas
    }

    /// Number of sites of every material.
    pub fn nsites(&self) -> &[i32] {
        &self.columns.nsites
    }

    /// Label names (sorted).
    pub fn label_names(&self) -> &[String] {
        &self.manifest.labels
    }

    /// Modality names (sorted).
    pub fn modality_names(&self) -> impl Iterator<Item = &str> {
        self.modalities.keys().map(String::as_str)
    }

    /// Label `name` of every material (None where the material has no value).
    pub fn label(&self, name: &str) -> Result<&[Option<f64>]> {
        self.columns
            .labels
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| {
                Error::new(
                    self.dir.join(TABLE_FILE),
                    ErrorKind::UnknownLabel(name.into()),
                )
            })
    }

    /// `is_metal` of every material.
    pub fn is_metal(&self) -> &[Option<bool>] {
        &self.columns.is_metal
    }

    /// Elastic tensor (15 components, GPa) of every material.
    pub fn elastic_tensors(&self) -> &[Option<[f32; ELASTIC_COMPONENTS]>] {
        &self.columns.elastic_tensor
    }

    /// Text description of every material (`None` where missing).
    pub fn descriptions(&self) -> &[Option<String>] {
        &self.columns.descriptions
    }

    /// Crystal system of every material.
    pub fn crystal_systems(&self) -> &[Option<String>] {
        &self.columns.crystal_system
    }

    /// Space-group number of every material.
    pub fn spacegroups(&self) -> &[Option<i32>] {
        &self.columns.spacegroup
    }

    /// The rows of modality `name`, or None if the store has no such modality.
    pub fn modality(&self, name: &str) -> Option<&ModalityArray> {
        self.modalities.get(name)
    }

    fn modality_columns(&self, name: &str) -> Result<&(Vec<i64>, Vec<bool>)> {
        self.columns.modalities.get(name).ok_or_else(|| {
            Error::new(
                self.dir.join(TABLE_FILE),
                ErrorKind::UnknownModality(name.into()),
            )
        })
    }

    /// Row of modality `name` for each material (`None` where the material lacks it).
    pub fn modality_rows(&self, name: &str) -> Result<Vec<Option<usize>>> {
        Ok(self
            .modality_columns(name)?
            .0
            .iter()
            .map(|&r| usize::try_from(r).ok())
            .collect())
    }

    /// Whether each material has modality `name`.
    pub fn exists(&self, name: &str) -> Result<Vec<bool>> {
        Ok(self
            .modality_columns(name)?
            .0
            .iter()
            .map(|&r| r >= 0)
            .collect())
    }

    /// Whether each material's row of modality `name` is derived (false where missing).
    pub fn derived(&self, name: &str) -> Result<Vec<bool>> {
        Ok(self.modality_columns(name)?.1.clone())
    }

    /// Row of modality `name` for material `i`, if it has one.
    pub fn row_of(&self, name: &str, i: usize) -> Result<Option<usize>> {
        let (rows, _) = self.modality_columns(name)?;
        let r = rows.get(i).ok_or_else(|| self.out_of_range(i))?;
        Ok(usize::try_from(*r).ok())
    }

    fn out_of_range(&self, i: usize) -> Error {
        Error::new(
            self.dir.join(TABLE_FILE),
            ErrorKind::OutOfRange {
                index: i,
                len: self.len(),
            },
        )
    }

    /// The pymatgen Structure JSON of material `i`, read from the table on demand (decodes
    /// one row group's page of the `structure` column, not the whole table).
    pub fn structure_json(&self, i: usize) -> Result<String> {
        let tpath = self.dir.join(TABLE_FILE);
        if i >= self.len() {
            return Err(self.out_of_range(i));
        }
        let g = self.group_starts.partition_point(|&s| s <= i) - 1;
        let offset = i - self.group_starts[g];
        let corrupt = |e: String| Error::new(&tpath, ErrorKind::CorruptTable(e));
        // A panic while holding the lock cannot leave the file in a bad state: every read
        // seeks first, so a poisoned lock is still usable. A call from inside
        // `for_each_structure_json` on the same thread already holds it (reads on one thread
        // never interleave mid-read, so that is safe) and must not wait for itself.
        let _turn = if STREAMING.with(|s| s.get()) {
            None
        } else {
            Some(self.table_read.lock().unwrap_or_else(|p| p.into_inner()))
        };
        let file = self
            .table_file
            .try_clone()
            .map_err(|e| Error::io(&tpath, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.table_meta.clone());
        let mask = ProjectionMask::roots(builder.parquet_schema(), [self.structure_root]);
        let reader = builder
            .with_projection(mask)
            .with_row_groups(vec![g])
            .with_row_selection(RowSelection::from(vec![
                RowSelector::skip(offset),
                RowSelector::select(1),
            ]))
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| corrupt(e.to_string()))?;
            if batch.num_rows() == 0 {
                continue;
            }
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| corrupt("structure column is not a string column".into()))?;
            if col.is_null(0) {
                return Err(corrupt(format!("structure of row {i} is null")));
            }
            return Ok(col.value(0).to_string());
        }
        Err(corrupt(format!("row {i} not found in row group {g}")))
    }

    /// Streams the pymatgen JSON of every material in table order, `f(index, json)`: one pass
    /// over the `structure` column (≈ 8192 rows decoded at a time), for bulk work such as
    /// building every crystal graph, where [`structure_json`](Self::structure_json) per row
    /// would re-decode a page per call.
    pub fn for_each_structure_json(
        &self,
        mut f: impl FnMut(usize, &str) -> Result<()>,
    ) -> Result<()> {
        let tpath = self.dir.join(TABLE_FILE);
        let _turn = self.table_read.lock().unwrap_or_else(|p| p.into_inner());
        let _streaming = StreamingGuard::enter();
        let file = self
            .table_file
            .try_clone()
            .map_err(|e| Error::io(&tpath, e))?;
        let only_structure = |n: &str| n == "structure";
        let mut i = 0usize;
        table::for_each_batch(file, &tpath, self.len(), Some(&only_structure), |b| {
            let col = b
                .column_by_name("structure")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| {
                    Error::new(
                        &tpath,
                        ErrorKind::CorruptTable("structure column missing or not string".into()),
                    )
                })?;
            for k in 0..col.len() {
                if col.is_null(k) {
                    return Err(Error::new(
                        &tpath,
                        ErrorKind::CorruptTable(format!("structure of row {i} is null")),
                    ));
                }
                f(i, col.value(k))?;
                i += 1;
            }
            Ok(())
        })
    }

    /// The structure of material `i`, parsed from its pymatgen JSON.
    pub fn structure(&self, i: usize) -> Result<Structure> {
        let text = self.structure_json(i)?;
        let err = |e: String| {
            Error::new(
                self.dir.join(TABLE_FILE),
                ErrorKind::Structure(format!("material {:?} (row {i}): {e}", self.columns.ids[i])),
            )
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        multimat_crystal::io::json::structure_from_value(&value, TABLE_FILE, "structure")
            .map_err(|e| err(e.to_string()))
    }

    /// Everything about material `i`.
    pub fn material(&self, i: usize) -> Result<Material> {
        let structure = self.structure(i)?;
        let c = &self.columns;
        let labels = c
            .labels
            .iter()
            .filter_map(|(n, v)| v[i].map(|x| (n.clone(), x)))
            .collect();
        let modalities = c
            .modalities
            .iter()
            .filter_map(|(n, (rows, der))| {
                usize::try_from(rows[i])
                    .ok()
                    .map(|r| (n.clone(), (r, der[i])))
            })
            .collect();
        Ok(Material {
            id: c.ids[i].clone(),
            source: c.sources[i].clone(),
            formula: c.formulas[i].clone(),
            nsites: c.nsites[i],
            structure,
            crystal_system: c.crystal_system[i].clone(),
            spacegroup: c.spacegroup[i],
            labels,
            is_metal: c.is_metal[i],
            elastic_tensor: c.elastic_tensor[i],
            description: c.descriptions[i].clone(),
            modalities,
        })
    }
}
