//! Precomputed frozen text vectors (`[[text_vectors]]` in a recipe): a `.npy` of
//! `[n, dim]` float16/float32 rows, a JSON list of the `n` material ids in row order, and the
//! encoder record (`multimat text embed`'s `encoder.json`: which checkpoint, pooling, dim).
//! The importer stores them as the `text` modality (f16) of the materials that have a
//! description, and copies the record to `modalities/text/encoder.json`, so a store gets text
//! vectors without any model download.

use std::collections::HashMap;
use std::path::Path;

use multimat_dataset::npy::parse_header;

use crate::error::ImportError;
use crate::recipe::TextVectorsSpec;

/// Store modality name of the frozen text vectors.
pub const TEXT: &str = "text";
/// The encoder record's file name inside `modalities/text/`.
pub const ENCODER_FILE: &str = "encoder.json";

/// Vectors by material id.
#[derive(Debug, Clone, PartialEq)]
pub struct TextVectors {
    /// Width of every vector.
    pub dim: usize,
    /// Material id → vector.
    pub rows: HashMap<String, Vec<f32>>,
    /// The encoder record, as read.
    pub encoder_json: Vec<u8>,
    /// Its `fingerprint` field, when it has one.
    pub fingerprint: Option<String>,
}

fn bad(file: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::Recipe {
        file: file.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads one `[[text_vectors]]` entry and checks that its three files agree.
pub fn read_text_vectors(spec: &TextVectorsSpec) -> Result<TextVectors, ImportError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| bad(p, format!("cannot read: {e}")));
    let bytes = read(&spec.path)?;
    let h = parse_header(&bytes, &spec.path).map_err(|e| bad(&spec.path, e.kind.to_string()))?;
    if h.shape.len() != 2 || h.shape[1] == 0 {
        return Err(bad(
            &spec.path,
            format!("shape {:?}: expected [materials, dim]", h.shape),
        ));
    }
    let (n, dim) = (h.shape[0], h.shape[1]);
    let need = h.data_offset + n * dim * h.dtype.size();
    if bytes.len() < need {
        return Err(bad(
            &spec.path,
            format!(
                "truncated: {} bytes, shape {:?} needs {need}",
                bytes.len(),
                h.shape
            ),
        ));
    }
    let ids: Vec<String> = serde_json::from_slice(&read(&spec.ids)?)
        .map_err(|e| bad(&spec.ids, format!("not a JSON list of ids: {e}")))?;
    if ids.len() != n {
        return Err(bad(
            &spec.ids,
            format!(
                "{} ids, but {} holds {n} vectors",
                ids.len(),
                spec.path.display()
            ),
        ));
    }
    let encoder_json = read(&spec.encoder)?;
    let info: serde_json::Value = serde_json::from_slice(&encoder_json)
        .map_err(|e| bad(&spec.encoder, format!("not valid JSON: {e}")))?;
    match info.get("dim").and_then(|d| d.as_u64()) {
        Some(d) if d as usize == dim => {}
        Some(d) => {
            return Err(bad(
                &spec.encoder,
                format!("dim {d}, but {} holds {dim}-d vectors", spec.path.display()),
            ))
        }
        None => return Err(bad(&spec.encoder, "no \"dim\" field")),
    }
    let fingerprint = info
        .get("fingerprint")
        .and_then(|f| f.as_str())
        .map(str::to_string);
    let data = &bytes[h.data_offset..need];
    let row_bytes = dim * h.dtype.size();
    let mut rows = HashMap::with_capacity(n);
    for (k, id) in ids.into_iter().enumerate() {
        let mut v = vec![0f32; dim];
        h.dtype
            .decode(&data[k * row_bytes..(k + 1) * row_bytes], &mut v);
        if let Some(j) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(
                &spec.path,
                format!("row {k} ({id}) value {j} is not finite"),
            ));
        }
        if rows.insert(id.clone(), v).is_some() {
            return Err(bad(&spec.ids, format!("id {id:?} is listed twice")));
        }
    }
    Ok(TextVectors {
        dim,
        rows,
        encoder_json,
        fingerprint,
    })
}
