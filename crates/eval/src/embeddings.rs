//! Embedding matrices with their material ids, on disk as Parquet or `.npy`.
//!
//! - `FILE.parquet`: columns `id` (utf8) and `embedding` (`FixedSizeList<float32, dim>`), one
//!   row per material; the Parquet key-value metadata holds `multimat.modality`,
//!   `multimat.model` (when known) and `multimat.dim`. `pandas.read_parquet` reads it directly.
//! - `FILE.npy`: a C-order `[N, dim]` float32 array, with the ids and the metadata in
//!   `FILE.ids.json` beside it (`{"modality": ..., "model": ..., "dim": ..., "ids": [...]}`).
//!
//! Both are written through a temporary file and a rename, so a crash never leaves a torn file.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Float32Type;
use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, LargeListArray, ListArray, RecordBatch,
    StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use multimat_crystal::io::write_atomic_with;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// Parquet key-value metadata key of the modality name.
pub const META_MODALITY: &str = "multimat.modality";
/// Parquet key-value metadata key of the model (run) the embeddings came from.
pub const META_MODEL: &str = "multimat.model";
/// Parquet key-value metadata key of the embedding width.
pub const META_DIM: &str = "multimat.dim";

/// Norm below which a row counts as zero when normalising (the reference's cosine eps, 1e-6).
pub const NORM_EPS: f32 = 1e-6;

/// One embedding per material: `values` is row-major `[ids.len(), dim]` (dimensionless latent
/// coordinates; rows are unit vectors after [`Embeddings::normalize`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Material ids, unique, one per row.
    pub ids: Vec<String>,
    /// Which encoder produced the rows: `crystal`, `dos`, `density`, `text`, or any name.
    pub modality: String,
    /// The model / run the rows came from, when known.
    pub model: Option<String>,
    /// Width of one row.
    pub dim: usize,
    /// Row-major values, `ids.len() * dim` of them.
    pub values: Vec<f32>,
}

/// Which file layout [`Embeddings::write`] / [`Embeddings::read`] use, from the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.parquet`
    Parquet,
    /// `.npy` with `.ids.json` beside it
    Npy,
}

impl FileKind {
    /// The layout named by `path`'s extension, or an error naming the file.
    pub fn of(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("parquet") | Some("pq") => Ok(FileKind::Parquet),
            Some("npy") => Ok(FileKind::Npy),
            _ => Err(Error::new(
                path.display().to_string(),
                ErrorKind::InvalidInput("embedding files must end in .parquet or .npy".to_string()),
            )),
        }
    }
}

/// The `.ids.json` sidecar of an `.npy` embedding file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdsSidecar {
    modality: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    dim: usize,
    ids: Vec<String>,
}

impl Embeddings {
    /// Checks and wraps a matrix: `values.len() == ids.len() * dim`, `dim > 0`, every value
    /// finite, ids unique and non-empty. `source_name` names the input in errors.
    pub fn new(
        ids: Vec<String>,
        modality: impl Into<String>,
        dim: usize,
        values: Vec<f32>,
        source_name: &str,
    ) -> Result<Self> {
        if dim == 0 {
            return Err(Error::new(
                source_name,
                ErrorKind::Shape("embedding width (dim) is 0".into()),
            ));
        }
        if values.len() != ids.len() * dim {
            return Err(Error::new(
                source_name,
                ErrorKind::Shape(format!(
                    "{} ids × dim {dim} needs {} values, got {}",
                    ids.len(),
                    ids.len() * dim,
                    values.len()
                )),
            ));
        }
        if let Some(pos) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::at(
                source_name,
                format!(
                    "row {} (id {:?}), column {}",
                    pos / dim,
                    ids[pos / dim],
                    pos % dim
                ),
                ErrorKind::InvalidValue(format!("{} is not finite", values[pos])),
            ));
        }
        let mut seen = HashSet::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if id.is_empty() {
                return Err(Error::at(
                    source_name,
                    format!("row {i}"),
                    ErrorKind::InvalidInput("empty material id".into()),
                ));
            }
            if !seen.insert(id.as_str()) {
                return Err(Error::at(
                    source_name,
                    format!("row {i}"),
                    ErrorKind::InvalidInput(format!("duplicate material id {id:?}")),
                ));
            }
        }
        Ok(Self {
            ids,
            modality: modality.into(),
            model: None,
            dim,
            values,
        })
    }

    /// Sets the model / run name stored with the embeddings.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Row `i` (`dim` values). Panics past the end, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// Map from id to row.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect()
    }

    /// Scales every row to unit L2 norm in place; rows with norm below [`NORM_EPS`] are divided
    /// by `NORM_EPS` instead (as the reference's cosine similarity clamps the norm), so a zero
    /// row stays zero and scores 0 against everything.
    pub fn normalize(&mut self) {
        normalize_rows(&mut self.values, self.dim);
    }

    /// A copy with unit-norm rows (see [`Embeddings::normalize`]).
    pub fn normalized(&self) -> Self {
        let mut out = self.clone();
        out.normalize();
        out
    }

    /// The rows whose ids are in `ids`, in that order; an id missing here is an error naming it.
    pub fn select(&self, ids: &[String]) -> Result<Self> {
        let index = self.index();
        let mut values = Vec::with_capacity(ids.len() * self.dim);
        for id in ids {
            let i = *index.get(id.as_str()).ok_or_else(|| {
                Error::new(
                    format!("{} embeddings", self.modality),
                    ErrorKind::InvalidInput(format!("no embedding for material id {id:?}")),
                )
            })?;
            values.extend_from_slice(self.row(i));
        }
        Ok(Self {
            ids: ids.to_vec(),
            modality: self.modality.clone(),
            model: self.model.clone(),
            dim: self.dim,
            values,
        })
    }

    /// Writes the embeddings; the layout follows the extension (`.parquet` or `.npy`, see the
    /// module docs). Atomic: a temporary file and a rename.
    pub fn write(&self, path: &Path) -> Result<()> {
        match FileKind::of(path)? {
            FileKind::Parquet => self.write_parquet(path),
            FileKind::Npy => self.write_npy(path),
        }
    }

    /// Reads embeddings written by [`Embeddings::write`] (or by pandas/numpy in the same
    /// layout); checks shapes, finiteness and id uniqueness.
    pub fn read(path: &Path) -> Result<Self> {
        match FileKind::of(path)? {
            FileKind::Parquet => Self::read_parquet(path),
            FileKind::Npy => Self::read_npy(path),
        }
    }

    fn write_parquet(&self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let dim = i32::try_from(self.dim).map_err(|_| {
            Error::new(
                &name,
                ErrorKind::Shape(format!("dim {} too large", self.dim)),
            )
        })?;
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new(
                "embedding",
                DataType::FixedSizeList(item.clone(), dim),
                false,
            ),
        ]));
        let mut kv = vec![
            KeyValue::new(META_MODALITY.to_string(), self.modality.clone()),
            KeyValue::new(META_DIM.to_string(), self.dim.to_string()),
        ];
        if let Some(model) = &self.model {
            kv.push(KeyValue::new(META_MODEL.to_string(), model.clone()));
        }
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(kv))
            .build();
        write_atomic_with(
            path,
            |file| {
                let file = file.try_clone().map_err(|e| e.to_string())?;
                let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
                    .map_err(|e| e.to_string())?;
                // Row groups of 64k rows keep the writer's buffer to ~32 MB at dim 128.
                const CHUNK: usize = 65536;
                for start in (0..self.len()).step_by(CHUNK) {
                    let end = (start + CHUNK).min(self.len());
                    let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
                        self.ids[start..end].iter().map(String::as_str),
                    ));
                    let flat =
                        Float32Array::from(self.values[start * self.dim..end * self.dim].to_vec());
                    let list = FixedSizeListArray::try_new(item.clone(), dim, Arc::new(flat), None)
                        .map_err(|e| e.to_string())?;
                    let batch = RecordBatch::try_new(schema.clone(), vec![ids, Arc::new(list)])
                        .map_err(|e| e.to_string())?;
                    writer.write(&batch).map_err(|e| e.to_string())?;
                }
                writer.close().map_err(|e| e.to_string())?;
                Ok(())
            },
            |_, e| e.to_string(),
        )
        .map_err(|m| Error::new(name, ErrorKind::Io(m)))
    }

    fn read_parquet(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(&name, &e))?;
        let format = |m: String| Error::new(&name, ErrorKind::Format(m));
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| format(format!("not a readable Parquet file: {e}")))?;
        let kv: HashMap<String, String> = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .filter_map(|e| e.value.clone().map(|v| (e.key.clone(), v)))
                    .collect()
            })
            .unwrap_or_default();
        let schema = builder.schema().clone();
        for col in ["id", "embedding"] {
            if schema.index_of(col).is_err() {
                return Err(format(format!(
                    "no column {col:?} (columns: {:?})",
                    schema.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
                )));
            }
        }
        let reader = builder
            .build()
            .map_err(|e| format(format!("cannot read: {e}")))?;
        let mut ids = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        let mut dim: Option<usize> = kv.get(META_DIM).and_then(|d| d.parse().ok());
        for batch in reader {
            let batch = batch.map_err(|e| format(format!("cannot decode: {e}")))?;
            let row0 = ids.len();
            let id_col = batch
                .column_by_name("id")
                .ok_or_else(|| format("no id column".into()))?;
            let id_col = id_col
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| {
                    format(format!(
                        "column \"id\" is {}, expected utf8",
                        id_col.data_type()
                    ))
                })?;
            for i in 0..id_col.len() {
                if id_col.is_null(i) {
                    return Err(Error::at(
                        &name,
                        format!("row {}", row0 + i),
                        ErrorKind::Format("null id".into()),
                    ));
                }
                ids.push(id_col.value(i).to_string());
            }
            let emb = batch
                .column_by_name("embedding")
                .ok_or_else(|| format("no embedding column".into()))?;
            for i in 0..emb.len() {
                let row: ArrayRef =
                    if let Some(l) = emb.as_any().downcast_ref::<FixedSizeListArray>() {
                        if l.is_null(i) {
                            None
                        } else {
                            Some(l.value(i))
                        }
                    } else if let Some(l) = emb.as_any().downcast_ref::<ListArray>() {
                        if l.is_null(i) {
                            None
                        } else {
                            Some(l.value(i))
                        }
                    } else if let Some(l) = emb.as_any().downcast_ref::<LargeListArray>() {
                        if l.is_null(i) {
                            None
                        } else {
                            Some(l.value(i))
                        }
                    } else {
                        return Err(format(format!(
                            "column \"embedding\" is {}, expected a list of float32",
                            emb.data_type()
                        )));
                    }
                    .ok_or_else(|| {
                        Error::at(
                            &name,
                            format!("row {}", row0 + i),
                            ErrorKind::Format("null embedding".into()),
                        )
                    })?;
                let floats = row
                    .as_any()
                    .downcast_ref::<arrow_array::PrimitiveArray<Float32Type>>()
                    .ok_or_else(|| {
                        format(format!(
                            "embedding items are {}, expected float32",
                            row.data_type()
                        ))
                    })?;
                if floats.null_count() > 0 {
                    return Err(Error::at(
                        &name,
                        format!("row {}", row0 + i),
                        ErrorKind::Format("null value inside the embedding".into()),
                    ));
                }
                let d = *dim.get_or_insert(floats.len());
                if floats.len() != d {
                    return Err(Error::at(
                        &name,
                        format!("row {}", row0 + i),
                        ErrorKind::Shape(format!(
                            "embedding has {} values, expected {d}",
                            floats.len()
                        )),
                    ));
                }
                values.extend_from_slice(floats.values());
            }
        }
        let dim = dim.ok_or_else(|| format("no rows and no multimat.dim metadata".into()))?;
        let modality = kv.get(META_MODALITY).cloned().unwrap_or_default();
        let mut out = Self::new(ids, modality, dim, values, &name)?;
        out.model = kv.get(META_MODEL).cloned();
        Ok(out)
    }

    fn write_npy(&self, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let sidecar = ids_path(path);
        let meta = IdsSidecar {
            modality: self.modality.clone(),
            model: self.model.clone(),
            dim: self.dim,
            ids: self.ids.clone(),
        };
        let json = serde_json::to_vec(&meta)
            .map_err(|e| Error::new(sidecar.display().to_string(), ErrorKind::Io(e.to_string())))?;
        // The ids first: a reader that finds a new .npy always finds ids that match it
        // (the .npy rename is the commit).
        multimat_crystal::io::write_atomic(&sidecar, &json)
            .map_err(|e| Error::io(sidecar.display().to_string(), &e))?;
        let header = multimat_modalities::npy::header("<f4", &[self.len(), self.dim])
            .map_err(|e| Error::io(&name, &e))?;
        write_atomic_with(
            path,
            |file| {
                file.write_all(&header).map_err(|e| e.to_string())?;
                let mut buf = Vec::with_capacity(1 << 20);
                for chunk in self.values.chunks(1 << 18) {
                    buf.clear();
                    for v in chunk {
                        buf.extend_from_slice(&v.to_le_bytes());
                    }
                    file.write_all(&buf).map_err(|e| e.to_string())?;
                }
                Ok(())
            },
            |_, e| e.to_string(),
        )
        .map_err(|m| Error::new(name, ErrorKind::Io(m)))
    }

    fn read_npy(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| Error::io(&name, &e))?;
        let header = multimat_dataset::npy::parse_header(&bytes, path)
            .map_err(|e| Error::new(&name, ErrorKind::Format(e.kind.to_string())))?;
        let (rows, dim) = match header.shape.as_slice() {
            [r, d] => (*r, *d),
            s => {
                return Err(Error::new(
                    &name,
                    ErrorKind::Shape(format!("expected a 2-D [N, dim] array, shape is {s:?}")),
                ))
            }
        };
        let need = rows * dim * header.dtype.size();
        let data = &bytes[header.data_offset..];
        if data.len() < need {
            return Err(Error::new(
                &name,
                ErrorKind::Format(format!(
                    "truncated: shape {:?} needs {need} data bytes, file has {}",
                    header.shape,
                    data.len()
                )),
            ));
        }
        let mut values = vec![0f32; rows * dim];
        header.dtype.decode(&data[..need], &mut values);
        let sidecar = ids_path(path);
        let sname = sidecar.display().to_string();
        let text = std::fs::read_to_string(&sidecar).map_err(|e| {
            Error::new(
                &sname,
                ErrorKind::Io(format!("{e} (the ids of {name} are kept in this file)")),
            )
        })?;
        let meta: IdsSidecar = serde_json::from_str(&text).map_err(|e| {
            Error::at(
                &sname,
                format!("line {}", e.line()),
                ErrorKind::Format(e.to_string()),
            )
        })?;
        if meta.ids.len() != rows || meta.dim != dim {
            return Err(Error::new(
                &sname,
                ErrorKind::Shape(format!(
                    "{} ids of dim {} do not match {name} of shape [{rows}, {dim}]",
                    meta.ids.len(),
                    meta.dim
                )),
            ));
        }
        let mut out = Self::new(meta.ids, meta.modality, dim, values, &name)?;
        out.model = meta.model;
        Ok(out)
    }
}

/// `FILE.ids.json` for `FILE.npy`.
pub fn ids_path(npy: &Path) -> PathBuf {
    let stem = npy
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    npy.with_file_name(format!("{stem}.ids.json"))
}

/// Divides each `dim`-wide row by max(‖row‖, [`NORM_EPS`]).
pub fn normalize_rows(values: &mut [f32], dim: usize) {
    if dim == 0 {
        return;
    }
    for row in values.chunks_exact_mut(dim) {
        let norm = row
            .iter()
            .map(|v| (*v as f64) * (*v as f64))
            .sum::<f64>()
            .sqrt() as f32;
        let scale = 1.0 / norm.max(NORM_EPS);
        row.iter_mut().for_each(|v| *v *= scale);
    }
}
