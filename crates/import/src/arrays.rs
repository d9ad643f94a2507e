//! Model inputs computed beforehand (`[[arrays]]` in a recipe): a `.npy` (optionally gzipped)
//! of `[n, ...]` float16/float32 rows already in the store's layout of one modality, and a JSON
//! list of the `n` material ids in row order. This is how data that exists only as model
//! inputs enters a store: MultiMat's own example data ships its electronic DOS as `[2, 601]`
//! arrays (E − E_F in eV, DOS) and its charge densities as resampled `[1, 32, 32, 32]` grids,
//! with no file a reader could parse.
//!
//! Rows are attached to materials that have a structure from the other inputs; an id without
//! one is counted in a note, a row with a non-finite value is a problem (that row is skipped).
//! A real array row replaces a derived (promolecular) density and never a row a source file
//! gave (that conflict is noted).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use multimat_dataset::npy::parse_header;
use multimat_dataset::ImportProblem;

use crate::error::ImportError;
use crate::recipe::ArraysSpec;
use crate::write::{DENSITY, DOS, PHONON_DOS};

/// Rows of one `[[arrays]]` entry by material id.
#[derive(Debug, Clone, PartialEq)]
pub struct ModalityArrays {
    /// Store modality name (`dos`, `phonon_dos` or `density`).
    pub modality: String,
    /// Shape of one row (without the leading row axis).
    pub shape: Vec<usize>,
    /// Material id → row values (f32, C order of `shape`).
    pub rows: HashMap<String, Vec<f32>>,
    /// The file, for messages.
    pub file: String,
}

/// The row shape a modality has in a store, or `None` for a modality arrays cannot fill.
pub fn row_shape(modality: &str) -> Option<Vec<usize>> {
    match modality {
        DOS | PHONON_DOS => Some(vec![2, 601]),
        DENSITY => Some(vec![1, 32, 32, 32]),
        _ => None,
    }
}

fn bad(file: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::Recipe {
        file: file.display().to_string(),
        reason: reason.into(),
    }
}

/// Reads one `[[arrays]]` entry, checks its shape against the modality and its ids against
/// its rows. Rows with a non-finite value are left out and returned as problems.
pub fn read_arrays(spec: &ArraysSpec) -> Result<(ModalityArrays, Vec<ImportProblem>), ImportError> {
    let shape = row_shape(&spec.modality).ok_or_else(|| {
        bad(
            &spec.path,
            format!(
                "modality {:?}: arrays can fill `dos`, `phonon_dos` or `density`",
                spec.modality
            ),
        )
    })?;
    let raw =
        std::fs::read(&spec.path).map_err(|e| bad(&spec.path, format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| bad(&spec.path, format!("gzip stream is corrupt: {e}")))?;
        out
    } else {
        raw
    };
    let h = parse_header(&bytes, &spec.path).map_err(|e| bad(&spec.path, e.kind.to_string()))?;
    if h.shape.len() != shape.len() + 1 || h.shape[1..] != shape[..] {
        return Err(bad(
            &spec.path,
            format!(
                "shape {:?}: a `{}` array must be [materials, {}]",
                h.shape,
                spec.modality,
                shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let n = h.shape[0];
    let row_len: usize = shape.iter().product();
    let row_bytes = row_len * h.dtype.size();
    let need = h.data_offset + n * row_bytes;
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
    let ids_text =
        std::fs::read(&spec.ids).map_err(|e| bad(&spec.ids, format!("cannot read: {e}")))?;
    let ids: Vec<String> = serde_json::from_slice(&ids_text)
        .map_err(|e| bad(&spec.ids, format!("not a JSON list of ids: {e}")))?;
    if ids.len() != n {
        return Err(bad(
            &spec.ids,
            format!(
                "{} ids, but {} holds {n} rows",
                ids.len(),
                spec.path.display()
            ),
        ));
    }
    let data = &bytes[h.data_offset..need];
    let mut rows = HashMap::with_capacity(n);
    let mut problems = Vec::new();
    for (k, id) in ids.into_iter().enumerate() {
        let mut v = vec![0f32; row_len];
        h.dtype
            .decode(&data[k * row_bytes..(k + 1) * row_bytes], &mut v);
        if let Some(j) = v.iter().position(|x| !x.is_finite()) {
            problems.push(ImportProblem {
                file: spec.path.display().to_string(),
                reason: format!("row {k} ({id}): value {j} is not finite; row skipped"),
            });
            continue;
        }
        if rows.insert(id.clone(), v).is_some() {
            return Err(bad(&spec.ids, format!("id {id:?} is listed twice")));
        }
    }
    Ok((
        ModalityArrays {
            modality: spec.modality.clone(),
            shape,
            rows,
            file: spec.path.display().to_string(),
        },
        problems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("multimat-arrays-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn npy_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let mut header = format!(
            "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
            dims.join(", ")
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        for v in values {
            out.extend(v.to_le_bytes());
        }
        out
    }

    fn spec(dir: &Path, modality: &str, npy: &[u8], ids: &str, gz: bool) -> ArraysSpec {
        let path = dir.join(if gz { "a.npy.gz" } else { "a.npy" });
        if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(npy).unwrap();
            std::fs::write(&path, e.finish().unwrap()).unwrap();
        } else {
            std::fs::write(&path, npy).unwrap();
        }
        let ids_path = dir.join("a.ids.json");
        std::fs::write(&ids_path, ids).unwrap();
        ArraysSpec {
            modality: modality.into(),
            path,
            ids: ids_path,
        }
    }

    #[test]
    fn reads_gzipped_dos_rows_by_id_and_skips_non_finite_rows() {
        let dir = tempdir("gz");
        let mut values: Vec<f32> = (0..3 * 1202).map(|i| i as f32).collect();
        values[1202 + 5] = f32::NAN;
        let s = spec(
            &dir,
            "dos",
            &npy_f32(&[3, 2, 601], &values),
            r#"["mp-1", "mp-2", "mp-3"]"#,
            true,
        );
        let (a, problems) = read_arrays(&s).unwrap();
        assert_eq!(a.rows.len(), 2);
        assert_eq!(a.rows["mp-3"][0], 2404.0);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].reason.contains("mp-2"),
            "{}",
            problems[0].reason
        );
    }

    #[test]
    fn refuses_a_wrong_shape_an_id_count_mismatch_and_an_unknown_modality() {
        let dir = tempdir("bad");
        let s = spec(
            &dir,
            "dos",
            &npy_f32(&[1, 2, 600], &vec![0.0; 1200]),
            r#"["mp-1"]"#,
            false,
        );
        let e = read_arrays(&s).unwrap_err().to_string();
        assert!(e.contains("[materials, 2, 601]"), "{e}");
        let s = spec(
            &dir,
            "dos",
            &npy_f32(&[1, 2, 601], &vec![0.0; 1202]),
            r#"["mp-1", "mp-2"]"#,
            false,
        );
        let e = read_arrays(&s).unwrap_err().to_string();
        assert!(e.contains("2 ids"), "{e}");
        let s = spec(
            &dir,
            "text",
            &npy_f32(&[1, 2, 601], &vec![0.0; 1202]),
            r#"["mp-1"]"#,
            false,
        );
        let e = read_arrays(&s).unwrap_err().to_string();
        assert!(e.contains("arrays can fill"), "{e}");
    }
}
