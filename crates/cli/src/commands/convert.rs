use std::path::PathBuf;

use anyhow::Context;
use multimat_crystal::io::{write_atomic, write_structure, Format};

use super::StructureInput;

#[derive(clap::Args)]
pub struct Args {
    /// Input structure file (CIF, POSCAR/CONTCAR, pymatgen JSON, extended XYZ; .gz accepted).
    file: PathBuf,
    /// Output format: cif, poscar, json or xyz.
    #[arg(long)]
    to: String,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    input: StructureInput,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let structure = args.input.read(&args.file)?;
    let format = Format::from_name(&args.to).ok_or_else(|| {
        anyhow::anyhow!("unknown --to {:?} (use cif, poscar, json or xyz)", args.to)
    })?;
    if format == Format::Poscar && !structure.is_ordered() {
        anyhow::bail!(
            "{}: POSCAR cannot hold partially occupied sites; convert to cif or json instead",
            args.file.display()
        );
    }
    let title = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let text = write_structure(&structure, format, &title);
    match args.out {
        Some(path) => write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
