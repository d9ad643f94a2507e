//! The one way multimat replaces a file: write a temporary file in the same folder, fsync it,
//! rename it over the target and fsync the folder, so a crash or a kill leaves either the old
//! file or the new one, never a torn one. Every layer (stores, graph caches, runs, downloads,
//! plots) writes through here; this crate is the lowest one they all depend on.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` atomically (see the module doc).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(contents), |_, e| e)
}

/// Like [`write_atomic`], with the contents produced by `fill` writing into the temporary
/// file ([`temp_path`]); `io_error` turns an I/O failure at a path into the caller's error.
pub fn write_atomic_with<E>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), E>,
    io_error: impl Fn(&Path, std::io::Error) -> E,
) -> Result<(), E> {
    write_atomic_via(path, &temp_path(path), fill, io_error)
}

/// Like [`write_atomic_with`] through the temporary file `tmp`, for writers whose leftovers
/// of a killed run are recognised by their own naming.
pub fn write_atomic_via<E>(
    path: &Path,
    tmp: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), E>,
    io_error: impl Fn(&Path, std::io::Error) -> E,
) -> Result<(), E> {
    let result = (|| {
        let mut f = File::create(tmp).map_err(|e| io_error(tmp, e))?;
        fill(&mut f)?;
        f.sync_all().map_err(|e| io_error(tmp, e))?;
        drop(f);
        std::fs::rename(tmp, path).map_err(|e| io_error(path, e))?;
        sync_dir(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// The temporary name used while `path` is being written: `.NAME.tmp.PID` in its folder.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp.{}", std::process::id()))
}

/// Whether a file name is a [`temp_path`] left behind by a write that was killed.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp.")
}

/// Makes the rename itself durable; best effort, since not every filesystem allows opening a
/// directory for fsync and the data are already synced.
fn sync_dir(path: &Path) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = std::env::temp_dir().join(format!("multimat-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A failing fill keeps the old contents and removes the temporary file.
        let err = write_atomic_with(
            &path,
            |_| Err::<(), _>("refused".to_string()),
            |p, e| format!("{}: {e}", p.display()),
        )
        .unwrap_err();
        assert_eq!(err, "refused");
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, vec!["a.json".to_string()]);
        assert!(is_temp_name(
            &temp_path(&path).file_name().unwrap().to_string_lossy()
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
