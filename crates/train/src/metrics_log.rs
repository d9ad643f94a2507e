//! The JSONL metrics log both training loops write (`metrics.jsonl`): one JSON object per line,
//! appended and flushed record by record so that a killed run leaves every finished line
//! readable (and `tail -f` shows progress). One writer for pretraining and fine-tuning, so the
//! two logs cannot differ in how they are written.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, TrainError};

/// An open metrics log.
pub struct MetricsLog {
    path: PathBuf,
    file: fs::File,
}

impl MetricsLog {
    /// Starts an empty log at `path` (an existing file is replaced).
    pub fn create(path: PathBuf) -> Result<Self> {
        if path.exists() {
            fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
        Self::append(path)
    }

    /// Continues the log at `path` after its last line (creating it if missing).
    pub fn append(path: PathBuf) -> Result<Self> {
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path, file })
    }

    /// Continues the log of a resumed run: first drops the lines of epochs after `epochs` (what
    /// a killed session logged after its last checkpoint), so the log reads as if the run had
    /// never stopped.
    pub fn resume(path: PathBuf, epochs: usize) -> Result<Self> {
        trim(&path, epochs)?;
        Self::append(path)
    }

    /// Appends `record` as one line and flushes it.
    pub fn write<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let line = serde_json::to_string(record)
            .map_err(|e| TrainError::checkpoint(&self.path, e.to_string()))?;
        writeln!(self.file, "{line}").map_err(|e| TrainError::io(&self.path, e))?;
        self.file.flush().map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Keeps the lines whose `epoch` is ≤ `epochs`.
fn trim(path: &Path, epochs: usize) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let f = fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
    let mut kept = String::new();
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| TrainError::io(path, e))?;
        let epoch = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v.get("epoch").and_then(|e| e.as_u64()));
        if epoch.is_some_and(|e| e as usize <= epochs) {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    let tmp = path.with_extension("jsonl.tmp");
    fs::write(&tmp, kept).map_err(|e| TrainError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_replaces_append_continues_resume_trims() {
        let dir = std::env::temp_dir().join(format!("multimat-metrics-log-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let lines = || fs::read_to_string(&path).unwrap().lines().count();
        let mut log = MetricsLog::create(path.clone()).unwrap();
        for epoch in 1..=3 {
            log.write(&serde_json::json!({ "event": "epoch", "epoch": epoch }))
                .unwrap();
        }
        assert_eq!(lines(), 3);
        MetricsLog::append(path.clone())
            .unwrap()
            .write(&serde_json::json!({ "epoch": 4 }))
            .unwrap();
        assert_eq!(lines(), 4);
        MetricsLog::resume(path.clone(), 2).unwrap();
        assert_eq!(lines(), 2);
        MetricsLog::create(path.clone()).unwrap();
        assert_eq!(lines(), 0);
        let _ = fs::remove_dir_all(&dir);
    }
}
