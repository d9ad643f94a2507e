//! `manifest.json`: the commit point of a store. Everything it does not reference (shard tails,
//! table rows past `materials`, unlisted shard files) is an uncommitted leftover that readers
//! ignore and the next writer overwrites.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::npy::Dtype;

/// Value of the manifest's `format` field.
pub const FORMAT: &str = "multimat-store";
/// The store layout version this code writes and reads.
pub const VERSION: u64 = 1;
/// File names inside a store folder.
pub const MANIFEST_FILE: &str = "manifest.json";
pub const TABLE_FILE: &str = "materials.parquet";
pub const IMPORT_REPORT_FILE: &str = "import_report.json";

/// One modality as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityEntry {
    /// Shape of one row (one material), e.g. `[2, 601]` for a DOS, `[1, 32, 32, 32]` for a
    /// charge-density grid, `[768]` for a text embedding.
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// Committed rows; row `r` is in `shards[r / shard_rows]` at `r % shard_rows`.
    pub rows: usize,
    /// Rows per shard file (the last shard may hold fewer).
    pub shard_rows: usize,
    /// Shard file names, relative to `modalities/<name>/`.
    pub shards: Vec<String>,
    /// How many of the committed rows are derived (computed by multimat rather than given by
    /// the source, e.g. a DOS computed from a band structure).
    pub derived_rows: usize,
}

impl ModalityEntry {
    /// Number of values in one row (product of `shape`).
    pub fn row_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of one row on disk.
    pub fn row_bytes(&self) -> usize {
        self.row_len() * self.dtype.size()
    }
}

/// The parsed `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u64,
    /// When the store was first created (UTC, ISO 8601).
    pub created: String,
    /// When this manifest was committed (UTC, ISO 8601).
    #[serde(default)]
    pub updated: String,
    /// Committed materials: the first `materials` rows of `materials.parquet`.
    pub materials: usize,
    pub modalities: BTreeMap<String, ModalityEntry>,
    /// Distinct `source` values of the committed materials, sorted.
    pub sources: Vec<String>,
    /// Scalar label columns of the table, sorted.
    pub labels: Vec<String>,
}

impl Manifest {
    pub fn new() -> Self {
        let now = now_iso8601();
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            created: now.clone(),
            updated: now,
            materials: 0,
            modalities: BTreeMap::new(),
            sources: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Reads and validates `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(&path, ErrorKind::MissingManifest))
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        // Check format and version before the full schema so an old or foreign file gets
        // the precise error rather than "missing field".
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(&path, ErrorKind::CorruptManifest(e.to_string())))?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT {
            return Err(Error::new(&path, ErrorKind::WrongFormat(format.into())));
        }
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != VERSION {
            return Err(Error::new(
                &path,
                ErrorKind::WrongVersion {
                    found: version,
                    supported: VERSION,
                },
            ));
        }
        let m: Manifest = serde_json::from_value(value)
            .map_err(|e| Error::new(&path, ErrorKind::CorruptManifest(e.to_string())))?;
        for (name, entry) in &m.modalities {
            let problem = if entry.shard_rows == 0 {
                Some("shard_rows is 0".to_string())
            } else if entry.shards.len() != entry.rows.div_ceil(entry.shard_rows) {
                Some(format!(
                    "{} rows at {} per shard need {} shards, manifest lists {}",
                    entry.rows,
                    entry.shard_rows,
                    entry.rows.div_ceil(entry.shard_rows),
                    entry.shards.len()
                ))
            } else if entry.derived_rows > entry.rows {
                Some("derived_rows exceeds rows".into())
            } else if entry
                .shards
                .iter()
                .any(|s| s.contains('/') || s.contains('\\') || s.starts_with('.'))
            {
                Some("shard names must be plain file names".into())
            } else {
                None
            };
            if let Some(p) = problem {
                return Err(Error::new(
                    &path,
                    ErrorKind::CorruptManifest(format!("modality {name:?}: {p}")),
                ));
            }
        }
        Ok(m)
    }

    /// Writes the manifest atomically; after this returns the commit is durable.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST_FILE);
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::new(&path, ErrorKind::CorruptManifest(e.to_string())))?;
        write_atomic(&path, &text)
    }
}

impl Default for Manifest {
    fn default() -> Self {
        Self::new()
    }
}

/// [`multimat_crystal::io::write_atomic`] with the store's error type.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    multimat_crystal::io::write_atomic(path, contents).map_err(|e| Error::io(path, e))
}

/// [`multimat_crystal::io::write_atomic_with`] for contents written by `fill`, with the store's
/// error type naming `path`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    multimat_crystal::io::write_atomic_with(path, fill, |_, e| e).map_err(|e| Error::io(path, e))
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_iso8601() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    iso8601_from_unix(secs)
}

/// Formats Unix seconds as ISO 8601 UTC (proleptic Gregorian; Howard Hinnant's civil_from_days).
pub fn iso8601_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601_from_unix(0), "1970-01-01T00:00:00Z");
        // `date -u -d @1709210096` → 2024-02-29 12:34:56 (leap day).
        assert_eq!(iso8601_from_unix(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(iso8601_from_unix(951_782_400), "2000-02-29T00:00:00Z");
    }
}
