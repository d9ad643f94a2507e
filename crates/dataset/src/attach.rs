//! Attaching (or replacing) one array modality of an existing store, resumably:
//! [`ModalityStaging`].
//!
//! Rows are computed outside the store (e.g. text vectors by `multimat text embed`) and land
//! first in a staging folder, `STORE/staging/<M>/`, as chunks: `chunk-NNNNN.npy` (the rows)
//! then `chunk-NNNNN.ids.json` (their material ids), each written via temp file + rename; the
//! ids file is the chunk's commit. A killed run reopens the staging folder and skips the ids
//! already staged. [`ModalityStaging::commit`] then swaps the modality into the store:
//!
//! 1. if the store already has `M`: a manifest without `M` is committed (readers now see a
//!    store without `M`, which is consistent), the table is rewritten without `M_row` /
//!    `M_derived`, and the old shards are deleted;
//! 2. the new shards are written (rows in table order), then the extra files (e.g.
//!    `encoder.json`), then the table with the new `M_row` / `M_derived` columns;
//! 3. the manifest listing `M` is written: **this rename is the commit**; the staging folder
//!    is removed afterwards.
//!
//! A crash at any point leaves a readable store (with the old `M`, without `M`, or with the new
//! `M`), and the staged chunks stay, so rerunning finishes the job without recomputing them.
//! One writer per store at a time, as for [`crate::StoreWriter`].

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use arrow_array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use multimat_crystal::io::atomic::is_temp_name;
use multimat_crystal::io::write_atomic_with;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{self, Manifest, ModalityEntry, TABLE_FILE};
use crate::npy::{self, Dtype};
use crate::table;
use crate::writer::{default_shard_rows, shard_name};

/// Folder (inside the store) holding staging areas, one subfolder per modality.
pub const STAGING_DIR: &str = "staging";
const META_FILE: &str = "staging.json";

/// What a staging area is for; a staging area whose meta differs from the current request is
/// stale and discarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StagingMeta {
    name: String,
    shape: Vec<usize>,
    dtype: Dtype,
    /// Caller's identity of what produces the rows (e.g. checkpoint fingerprint + pooling).
    key: String,
    /// Committed materials of the store when staging began.
    materials: usize,
}

/// The outcome of [`ModalityStaging::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSummary {
    /// Rows of the modality now in the store.
    pub rows: usize,
    /// Whether an existing modality of that name was replaced.
    pub replaced: bool,
}

/// A resumable staging area for modality rows; see the module docs.
#[derive(Debug)]
pub struct ModalityStaging {
    store: PathBuf,
    dir: PathBuf,
    meta: StagingMeta,
    done: HashSet<String>,
    next_chunk: usize,
}

impl ModalityStaging {
    /// Opens the staging area of modality `name` in the store `store`, resuming the chunks
    /// staged by an earlier run with the same `shape`, `dtype` and `key` on the same committed
    /// store, else starting afresh. Fails if the folder is not a committed store or the name
    /// is not a valid modality name.
    pub fn open(
        store: impl AsRef<Path>,
        name: &str,
        shape: Vec<usize>,
        dtype: Dtype,
        key: &str,
    ) -> Result<Self> {
        let store = store.as_ref().to_path_buf();
        let manifest = Manifest::read(&store)?;
        check_modality_name(name, &store)?;
        if shape.is_empty() || shape.contains(&0) {
            return Err(Error::new(
                &store,
                ErrorKind::InvalidName(format!(
                    "modality {name:?}: shape {shape:?} must be non-empty without zeros"
                )),
            ));
        }
        let dir = store.join(STAGING_DIR).join(name);
        let meta = StagingMeta {
            name: name.into(),
            shape,
            dtype,
            key: key.into(),
            materials: manifest.materials,
        };
        let meta_path = dir.join(META_FILE);
        let old: Option<StagingMeta> = match std::fs::read(&meta_path) {
            Ok(b) => serde_json::from_slice(&b).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&meta_path, e)),
        };
        if old.as_ref() != Some(&meta) {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let text = serde_json::to_vec_pretty(&meta)
                .map_err(|e| Error::new(&meta_path, ErrorKind::Io(e.to_string())))?;
            manifest::write_atomic(&meta_path, &text)?;
        }
        let mut s = ModalityStaging {
            store,
            dir,
            meta,
            done: HashSet::new(),
            next_chunk: 0,
        };
        s.scan()?;
        Ok(s)
    }

    /// Reads the committed chunks' ids; removes leftovers of a chunk that never committed.
    fn scan(&mut self) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut names: Vec<String> = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(&self.dir, e))?;
            names.push(e.file_name().to_string_lossy().to_string());
        }
        names.sort();
        for n in &names {
            if is_temp_name(n) {
                // A temp file of a write that was killed before its rename.
                let p = self.dir.join(n);
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                continue;
            }
            let Some(num) = chunk_number(n) else { continue };
            let ids_name = format!("chunk-{num:05}.ids.json");
            if n.ends_with(".npy") && !names.contains(&ids_name) {
                let p = self.dir.join(n);
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
                continue;
            }
            if n.ends_with(".ids.json") {
                let ids = self.read_chunk_ids(num)?;
                for id in ids {
                    self.done.insert(id);
                }
            }
            self.next_chunk = self.next_chunk.max(num + 1);
        }
        Ok(())
    }

    fn chunk_paths(&self, num: usize) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("chunk-{num:05}.npy")),
            self.dir.join(format!("chunk-{num:05}.ids.json")),
        )
    }

    fn read_chunk_ids(&self, num: usize) -> Result<Vec<String>> {
        let (_, ids_path) = self.chunk_paths(num);
        let b = std::fs::read(&ids_path).map_err(|e| Error::io(&ids_path, e))?;
        serde_json::from_slice(&b).map_err(|e| {
            Error::new(
                &ids_path,
                ErrorKind::BadShard(format!("staged ids are not a JSON list of strings: {e}")),
            )
        })
    }

    /// Encoded rows of chunk `num` (checked against its ids).
    fn read_chunk_rows(&self, num: usize, n: usize) -> Result<Vec<u8>> {
        let (npy_path, _) = self.chunk_paths(num);
        let mut bytes = Vec::new();
        File::open(&npy_path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(&npy_path, e))?;
        let h = npy::parse_header(&bytes, &npy_path)?;
        let row_bytes = self.row_len() * self.meta.dtype.size();
        if h.dtype != self.meta.dtype || h.shape[1..] != self.meta.shape[..] || h.shape[0] != n {
            return Err(Error::new(
                &npy_path,
                ErrorKind::BadShard(format!(
                    "staged chunk holds {} {:?}, expected {} rows of {} {:?}",
                    h.dtype.name(),
                    h.shape,
                    n,
                    self.meta.dtype.name(),
                    self.meta.shape
                )),
            ));
        }
        let need = h.data_offset + n * row_bytes;
        if bytes.len() < need {
            return Err(Error::new(
                &npy_path,
                ErrorKind::ShardTooShort {
                    expected: need as u64,
                    found: bytes.len() as u64,
                },
            ));
        }
        Ok(bytes[h.data_offset..need].to_vec())
    }

    fn row_len(&self) -> usize {
        self.meta.shape.iter().product()
    }

    /// The staging folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether material `id` already has a staged row (skip it when resuming).
    pub fn is_done(&self, id: &str) -> bool {
        self.done.contains(id)
    }

    /// Materials staged so far.
    pub fn staged(&self) -> usize {
        self.done.len()
    }

    /// Stages the rows of `ids` (`values`: `ids.len()` rows of the modality's shape, C order).
    /// Durable when this returns. Values must be finite (and within ±65504 for f16).
    pub fn write_chunk(&mut self, ids: &[String], values: &[f32]) -> Result<()> {
        let row_len = self.row_len();
        let name = self.meta.name.clone();
        if values.len() != ids.len() * row_len {
            return Err(Error::new(
                &self.dir,
                ErrorKind::ShapeMismatch {
                    modality: name,
                    id: format!("(chunk of {} materials)", ids.len()),
                    expected: ids.len() * row_len,
                    found: values.len(),
                },
            ));
        }
        if ids.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(ids.len());
        for id in ids {
            if self.done.contains(id) || !seen.insert(id.as_str()) {
                return Err(Error::new(&self.dir, ErrorKind::DuplicateId(id.clone())));
            }
        }
        let mut data = npy::header(self.meta.dtype, ids.len(), &self.meta.shape);
        for (id, row) in ids.iter().zip(values.chunks_exact(row_len)) {
            self.meta.dtype.encode(row, &mut data).map_err(|e| {
                Error::new(
                    &self.dir,
                    ErrorKind::InvalidValue(format!("material {id:?}: modality {name}: {e}")),
                )
            })?;
        }
        let num = self.next_chunk;
        let (npy_path, ids_path) = self.chunk_paths(num);
        manifest::write_atomic(&npy_path, &data)?;
        let ids_json = serde_json::to_vec(ids)
            .map_err(|e| Error::new(&ids_path, ErrorKind::Io(e.to_string())))?;
        manifest::write_atomic(&ids_path, &ids_json)?;
        self.next_chunk += 1;
        self.done.extend(ids.iter().cloned());
        Ok(())
    }

    /// Puts the staged rows into the store as modality `M` (replacing an existing one), with
    /// `extra_files` (name, contents) written into `modalities/M/` before the commit; then
    /// removes the staging folder. See the module docs for the order of writes.
    pub fn commit(self, extra_files: &[(&str, Vec<u8>)]) -> Result<AttachSummary> {
        let name = self.meta.name.clone();
        let mut man = Manifest::read(&self.store)?;
        if man.materials != self.meta.materials {
            return Err(Error::new(
                self.store.join(manifest::MANIFEST_FILE),
                ErrorKind::CorruptManifest(format!(
                    "the store changed while {name:?} was being staged ({} materials then, {} now); rerun",
                    self.meta.materials, man.materials
                )),
            ));
        }
        for (f, _) in extra_files {
            if f.contains('/') || f.contains('\\') || f.starts_with('.') || f.ends_with(".npy") {
                return Err(Error::new(
                    &self.store,
                    ErrorKind::InvalidName(format!("extra file name {f:?}")),
                ));
            }
        }
        // Staged rows, indexed by material.
        let ids = read_ids(&self.store, man.materials)?;
        let index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let row_bytes = self.row_len() * self.meta.dtype.size();
        let mut staged: Vec<Option<(usize, usize)>> = vec![None; ids.len()];
        let mut blobs: Vec<Vec<u8>> = Vec::new();
        for num in 0..self.next_chunk {
            let (_, ids_path) = self.chunk_paths(num);
            if !ids_path.exists() {
                continue;
            }
            let chunk_ids = self.read_chunk_ids(num)?;
            let rows = self.read_chunk_rows(num, chunk_ids.len())?;
            let b = blobs.len();
            blobs.push(rows);
            for (k, id) in chunk_ids.iter().enumerate() {
                let i = *index
                    .get(id.as_str())
                    .ok_or_else(|| Error::new(&ids_path, ErrorKind::UnknownId(id.clone())))?;
                staged[i] = Some((b, k));
            }
        }
        let total = staged.iter().filter(|s| s.is_some()).count();

        // Phase 1: take the old modality out.
        let replaced = man.modalities.contains_key(&name);
        let mod_dir = self.store.join("modalities").join(&name);
        if replaced {
            man.modalities.remove(&name);
            man.updated = manifest::now_iso8601();
            man.write(&self.store)?;
            rewrite_table(&self.store, &man, None)?;
        }
        if mod_dir.exists() {
            // Whatever is there is referenced by no manifest now.
            std::fs::remove_dir_all(&mod_dir).map_err(|e| Error::io(&mod_dir, e))?;
        }

        // Phase 2: shards in table order, extra files, table, manifest.
        std::fs::create_dir_all(&mod_dir).map_err(|e| Error::io(&mod_dir, e))?;
        let shard_rows = default_shard_rows(self.row_len());
        let order: Vec<(usize, (usize, usize))> = staged
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .collect();
        let mut shards = Vec::new();
        for (s, part) in order.chunks(shard_rows).enumerate() {
            let path = mod_dir.join(shard_name(s));
            manifest::write_atomic_with(&path, |f| {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                w.write_all(&npy::header(self.meta.dtype, part.len(), &self.meta.shape))?;
                for &(_, (b, k)) in part {
                    w.write_all(&blobs[b][k * row_bytes..(k + 1) * row_bytes])?;
                }
                w.flush()
            })?;
            shards.push(shard_name(s));
        }
        for (f, contents) in extra_files {
            manifest::write_atomic(&mod_dir.join(f), contents)?;
        }
        let mut rows = vec![-1i64; ids.len()];
        for (r, &(i, _)) in order.iter().enumerate() {
            rows[i] = r as i64;
        }
        man.modalities.insert(
            name.clone(),
            ModalityEntry {
                shape: self.meta.shape.clone(),
                dtype: self.meta.dtype,
                rows: total,
                shard_rows,
                shards,
                derived_rows: 0,
            },
        );
        rewrite_table(&self.store, &man, Some((&name, &rows)))?;
        man.updated = manifest::now_iso8601();
        man.write(&self.store)?;
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let staging_root = self.store.join(STAGING_DIR);
        // Only removes the folder when no other modality is staging.
        let _ = std::fs::remove_dir(&staging_root);
        Ok(AttachSummary {
            rows: total,
            replaced,
        })
    }
}

fn chunk_number(file: &str) -> Option<usize> {
    let rest = file.strip_prefix("chunk-")?;
    let digits = rest.split('.').next()?;
    if !(rest.ends_with(".npy") || rest.ends_with(".ids.json")) {
        return None;
    }
    digits.parse().ok()
}

fn check_modality_name(name: &str, dir: &Path) -> Result<()> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name != "structure"
        && !table::FIXED_COLUMNS.contains(&name)
        && !table::TRAILING_COLUMNS.contains(&name);
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            dir,
            ErrorKind::InvalidName(format!(
                "modality {name:?}: use lowercase letters, digits and _ (max 64), not a column name"
            )),
        ))
    }
}

/// The committed material ids in table order.
fn read_ids(store: &Path, materials: usize) -> Result<Vec<String>> {
    let tpath = store.join(TABLE_FILE);
    let mut ids = Vec::with_capacity(materials);
    if materials == 0 {
        return Ok(ids);
    }
    let file = File::open(&tpath).map_err(|e| Error::io(&tpath, e))?;
    let only_id = |n: &str| n == "id";
    table::for_each_batch(file, &tpath, materials, Some(&only_id), |b| {
        let col = b
            .column_by_name("id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| {
                Error::new(
                    &tpath,
                    ErrorKind::CorruptTable("id column missing or not string".into()),
                )
            })?;
        ids.extend(col.iter().map(|s| s.unwrap_or_default().to_string()));
        Ok(())
    })?;
    Ok(ids)
}

/// Rewrites the committed table rows in the schema of `man` (labels and modalities), through a
/// temp file and a rename. With `set = (M, rows)`, `M_row` takes `rows` and `M_derived` false
/// for every material; other modality columns are copied.
fn rewrite_table(store: &Path, man: &Manifest, set: Option<(&str, &[i64])>) -> Result<()> {
    let path = store.join(TABLE_FILE);
    let modalities: Vec<String> = man.modalities.keys().cloned().collect();
    let schema = table::schema(&man.labels, &modalities);
    let set_cols = set.map(|(m, rows)| {
        let r = schema.index_of(&table::row_column(m)).ok();
        let d = schema.index_of(&table::derived_column(m)).ok();
        (r, d, rows)
    });
    let io = |p: &Path, e| Error::io(p, e);
    write_atomic_with(
        &path,
        |file| {
            let file = file.try_clone().map_err(|e| Error::io(&path, e))?;
            let mut w = table::open_writer(file, &schema, &path)?;
            let werr = |e: parquet::errors::ParquetError| {
                Error::new(&path, ErrorKind::CorruptTable(e.to_string()))
            };
            let mut start = 0usize;
            if man.materials > 0 {
                let old = File::open(&path).map_err(|e| Error::io(&path, e))?;
                table::for_each_batch(old, &path, man.materials, None, |b| {
                    let n = b.num_rows();
                    let mut b = table::conform_batch(&b, &schema, &path)?;
                    if let Some((Some(ri), Some(di), rows)) = set_cols {
                        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
                        cols[ri] =
                            std::sync::Arc::new(Int64Array::from(rows[start..start + n].to_vec()));
                        cols[di] = std::sync::Arc::new(BooleanArray::from(vec![false; n]));
                        b = RecordBatch::try_new(schema.clone(), cols).map_err(|e| {
                            Error::new(&path, ErrorKind::CorruptTable(e.to_string()))
                        })?;
                    }
                    start += n;
                    w.write(&b).map_err(werr)
                })?;
            }
            w.close().map_err(werr)?;
            Ok(())
        },
        io,
    )
}
