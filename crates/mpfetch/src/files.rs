//! The files of a download folder: atomic writes, gzip, checksums, the JSONL manifest and
//! skip list, and the cleanup of `.part` files a killed run left behind.

use super::*;

pub(crate) fn gunzip_if_needed(body: &[u8]) -> Result<Vec<u8>, String> {
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut out)
            .map_err(|e| format!("broken gzip: {e}"))?;
        Ok(out)
    } else {
        Ok(body.to_vec())
    }
}

pub(crate) fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    // Level 1: charge densities are tens of MB of JSON each; level 6 would cost several times
    // the CPU for about a tenth less disk.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, hex (to check a manifest against the files).
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let mut f = std::fs::File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| FetchError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Writes `path` atomically through `.<name>.part` beside it (the name [`remove_partials`]
/// recognises after a killed run).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| FetchError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    multimat_crystal::io::write_atomic_via(
        path,
        &dir.join(format!(".{name}.part")),
        |f| f.write_all(bytes).map_err(|e| FetchError::io(path, e)),
        |_, e| FetchError::io(path, e),
    )
}

/// Removes `.*.part` files left in the document folders by a killed run.
pub(crate) fn remove_partials(out: &Path) -> Result<usize, FetchError> {
    let mut n = 0;
    for g in [
        Group::Summary,
        Group::Elasticity,
        Group::Robocrys,
        Group::Dos,
        Group::ChargeDensity,
    ] {
        let dir = out.join(g.dir());
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".part") {
                std::fs::remove_file(e.path()).map_err(|err| FetchError::io(&e.path(), err))?;
                n += 1;
            }
        }
    }
    Ok(n)
}

pub(crate) fn load_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Vec<T>, FetchError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FetchError::io(path, e)),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => out.push(v),
            // A run killed mid-append leaves a cut last line: that document is fetched again.
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(FetchError::Config {
                    path: path.display().to_string(),
                    place: format!("line {}", i + 1),
                    problem: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// The manifest entries whose files are still there with the listed size, by path.
pub(crate) fn load_manifest(
    out: &Path,
    path: &Path,
) -> Result<HashMap<String, ManifestEntry>, FetchError> {
    let mut done = HashMap::new();
    for e in load_jsonl::<ManifestEntry>(path)? {
        let ok = std::fs::metadata(out.join(&e.path)).is_ok_and(|m| m.len() == e.bytes);
        if ok {
            done.insert(e.path.clone(), e);
        } else {
            done.remove(&e.path);
        }
    }
    Ok(done)
}

pub(crate) fn write_jsonl<T: Serialize>(path: &Path, rows: &[T]) -> Result<(), FetchError> {
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r).map_err(|e| FetchError::io(path, e))?);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}
