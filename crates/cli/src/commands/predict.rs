//! `multimat predict`: a fine-tuned model's predictions for structure files.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use multimat_train::device::DeviceSpec;
use multimat_train::finetune::Variant;
use multimat_train::predict::{resolve_model_dir, Predictor};

/// Arguments of `multimat predict`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A `multimat finetune --out` folder, or one run folder inside it (VARIANT/seed-S).
    #[arg(long)]
    pub model: PathBuf,
    /// Structure files (CIF, POSCAR, pymatgen JSON, extended XYZ; .gz allowed).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Which variant of a job folder: pretrained, scratch or cgcnn (default: the job's first).
    #[arg(long)]
    pub variant: Option<String>,
    /// Which seed of that variant (default: the one with the lowest validation MAE).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the predictions as CSV here instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Structures per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    #[command(flatten)]
    pub input: super::StructureInput,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let variant = match &args.variant {
        Some(v) => Some(
            v.parse::<Variant>()
                .map_err(|e| anyhow::anyhow!("--variant: {e}"))?,
        ),
        None => None,
    };
    let device = args.device.device()?;
    let dir = resolve_model_dir(&args.model, variant, args.seed)?;
    let predictor = Predictor::load(&dir, &device)?;
    let structures = args
        .files
        .iter()
        .map(|f| Ok((f.display().to_string(), args.input.read(f)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bar = super::progress_bar(structures.len() as u64, "predicting");
    let mut rows = Vec::with_capacity(structures.len());
    for chunk in structures.chunks(args.batch_size.max(1)) {
        rows.extend(predictor.predict(chunk, args.batch_size)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let c = &predictor.config;
    let columns: Vec<String> = if c.outputs == 1 {
        vec![c.task.name().to_string()]
    } else {
        (0..c.outputs)
            .map(|k| format!("{}_{k}", c.task.name()))
            .collect()
    };
    let mut text = format!("file,{}\n", columns.join(","));
    for ((name, _), row) in structures.iter().zip(&rows) {
        let values: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        let quoted = if name.contains(',') || name.contains('"') {
            format!("\"{}\"", name.replace('"', "\"\""))
        } else {
            name.clone()
        };
        text.push_str(&format!("{quoted},{}\n", values.join(",")));
    }
    match &args.out {
        Some(path) => {
            multimat_crystal::io::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{} predictions of {} ({}) by {} written to {}",
                rows.len(),
                c.task.name(),
                c.units,
                dir.display(),
                path.display()
            );
        }
        None => {
            eprintln!("{} in {} by {}", c.task.name(), c.units, dir.display());
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
