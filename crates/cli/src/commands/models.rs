//! `multimat models`: the model folders multimat can find, and `models export`, which packs a
//! pretraining run and its fine-tuned heads into one (the layout is
//! [`multimat_train::package`]).

use std::path::PathBuf;

use multimat_train::device::DeviceSpec;
use multimat_train::package::{self, ExportSpec, ModelEntry, WeightsDtype};

/// `multimat models`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Also describe these model folders or pretraining runs.
    #[arg(long)]
    pub model: Vec<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Pack a pretraining run and fine-tuned runs into a model folder.
    Export(ExportArgs),
}

/// `multimat models export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The pretraining run.
    #[arg(long)]
    pub run: PathBuf,
    /// The store it was trained on: its split is copied and every material's crystal
    /// embedding becomes the folder's default discovery candidates.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A fine-tuned run folder (FT/VARIANT/seed-S) to ship as a head; repeat per property.
    #[arg(long)]
    pub head: Vec<PathBuf>,
    /// The model's name.
    #[arg(long, default_value = package::DEFAULT_MODEL)]
    pub name: String,
    /// The model card (Markdown); its first line is the model's one-line summary.
    #[arg(long)]
    pub card: PathBuf,
    /// Weight precision: f16 (half the size) or f32.
    #[arg(long, default_value = "f16")]
    pub dtype: String,
    /// The model folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(Command::Export(a)) => export(a),
        None => list(&args.model),
    }
}

fn list(extra: &[PathBuf]) -> anyhow::Result<()> {
    let mut found: Vec<(PathBuf, String)> = extra
        .iter()
        .map(|p| (p.clone(), "--model".to_string()))
        .collect();
    for (dir, how) in package::default_model_candidates() {
        let key = dir.canonicalize().unwrap_or(dir.clone());
        let seen = found
            .iter()
            .any(|(d, _)| d.canonicalize().unwrap_or(d.clone()) == key);
        if dir.join("config.json").exists() && !seen {
            found.push((dir, how));
        }
    }
    if found.is_empty() {
        println!(
            "no models found; looked in: {}",
            package::default_model_candidates()
                .iter()
                .map(|(d, how)| format!("{} ({how})", d.display()))
                .collect::<Vec<_>>()
                .join("; ")
        );
        return Ok(());
    }
    let mut default_marked = false;
    for (dir, how) in found {
        match ModelEntry::open(&dir, &how) {
            Ok(m) => {
                let is_default = how != "--model" && !default_marked;
                default_marked |= is_default;
                println!(
                    "{}{}  {}",
                    m.name,
                    if is_default { " (default)" } else { "" },
                    m.summary
                );
                println!(
                    "    {}  [{}]  latent {}  modalities {}",
                    m.dir.display(),
                    m.found_by,
                    m.latent_dim,
                    m.modalities.join(", ")
                );
                if !m.heads.is_empty() {
                    println!(
                        "    heads: {}",
                        m.heads
                            .iter()
                            .map(|h| format!("{} ({})", h.task, h.units))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Err(e) => println!("{}: not usable: {e}", dir.display()),
        }
    }
    Ok(())
}

fn export(a: ExportArgs) -> anyhow::Result<()> {
    let dtype = match a.dtype.as_str() {
        "f16" => WeightsDtype::F16,
        "f32" => WeightsDtype::F32,
        other => anyhow::bail!("--dtype {other:?}: use f16 or f32"),
    };
    let card = std::fs::read_to_string(&a.card)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.card.display()))?;
    let summary = card
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string();
    let spec = ExportSpec {
        run: a.run,
        heads: a.head,
        name: a.name,
        summary,
        card,
        dtype,
        store: a.data,
    };
    let device = a.device.device()?;
    let info = package::export(&spec, &a.out, &device)?;
    println!(
        "{} → {} ({} heads: {}; weights {:?})",
        info.name,
        a.out.display(),
        info.heads.len(),
        info.heads
            .iter()
            .map(|h| h.task.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        info.weights_dtype
    );
    Ok(())
}
