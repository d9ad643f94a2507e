//! One module per subcommand: argument parsing and messages only; the numerics live in the
//! library crates.

pub mod args;
pub mod bench;
pub mod convert;
pub mod data;
pub mod discover;
pub mod embed;
pub mod eval;
pub mod finetune;
pub mod graph;
pub mod inspect;
pub mod modality;
pub mod models;
pub mod predict;
pub mod pretrain;
pub mod quickstart;
pub mod text;
pub mod umap;

use std::path::Path;

use multimat_crystal::io::{read_structure, Format, ReadOptions};
use multimat_crystal::Structure;

/// Options shared by every command that reads a structure file.
#[derive(clap::Args, Debug, Clone)]
pub struct StructureInput {
    /// CIF data block to read (default: the first block with atom sites).
    #[arg(long)]
    pub block: Option<String>,
    /// Structure format (cif, poscar, json, xyz); detected from the name and content by default.
    #[arg(long)]
    pub format: Option<String>,
}

impl StructureInput {
    pub fn read(&self, path: &Path) -> anyhow::Result<Structure> {
        let format = match &self.format {
            Some(name) => Some(Format::from_name(name).ok_or_else(|| {
                anyhow::anyhow!("unknown --format {name:?} (use cif, poscar, json or xyz)")
            })?),
            None => None,
        };
        let options = ReadOptions {
            format,
            block: self.block.clone(),
        };
        Ok(read_structure(path, &options)?)
    }
}

/// A progress bar in multimat's style (hidden when stderr is not a terminal, as in CI logs).
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Peak resident memory of this process so far (Linux `VmHWM`), MiB; `None` elsewhere.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
