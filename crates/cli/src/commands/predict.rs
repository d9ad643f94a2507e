//! `multimat predict`: a fine-tuned model's predictions for structure files.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use multimat_train::device::DeviceSpec;
use multimat_train::finetune::Variant;
use multimat_train::predict::{resolve_model_dir, Prediction, Predictor};

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
    // One unreadable or unpredictable file costs only its own row: every file gets a line,
    // with its values or, in the `error` column, why it has none.
    let names: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let mut results: Vec<Prediction> = Vec::with_capacity(names.len());
    let mut readable = Vec::new();
    for (i, f) in args.files.iter().enumerate() {
        match args.input.read(f) {
            Ok(s) => {
                readable.push((i, (names[i].clone(), s)));
                results.push(Ok(Vec::new()));
            }
            Err(e) => results.push(Err(format!("{e:#}"))),
        }
    }
    let bar = super::progress_bar(readable.len() as u64, "predicting");
    for chunk in readable.chunks(args.batch_size.max(1)) {
        let structures: Vec<_> = chunk.iter().map(|(_, s)| s.clone()).collect();
        let predicted = predictor.predict_each(&structures, args.batch_size);
        for ((i, _), p) in chunk.iter().zip(predicted) {
            results[*i] = p;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let rows: Vec<(&String, &Prediction)> = names.iter().zip(&results).collect();
    let c = &predictor.config;
    let columns: Vec<String> = if c.outputs == 1 {
        vec![c.task.name().to_string()]
    } else {
        (0..c.outputs)
            .map(|k| format!("{}_{k}", c.task.name()))
            .collect()
    };
    let mut text = format!("file,{},error\n", columns.join(","));
    let mut failed = 0;
    for &(name, p) in &rows {
        let (values, error) = match p {
            Ok(row) => (row.iter().map(|v| format!("{v}")).collect(), String::new()),
            Err(e) => {
                failed += 1;
                eprintln!("no prediction for {e}");
                (vec![String::new(); c.outputs], csv_field(e))
            }
        };
        text.push_str(&format!(
            "{},{},{error}\n",
            csv_field(name),
            values.join(",")
        ));
    }
    let done = rows.len() - failed;
    if done == 0 {
        anyhow::bail!(
            "none of the {} files got a prediction (reasons above)",
            rows.len()
        );
    }
    match &args.out {
        Some(path) => {
            multimat_crystal::io::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{done} predictions of {} ({}) by {} written to {}{}",
                c.task.name(),
                c.units,
                dir.display(),
                path.display(),
                if failed > 0 {
                    format!("; {failed} files without one (see the error column)")
                } else {
                    String::new()
                }
            );
        }
        None => {
            eprintln!("{} in {} by {}", c.task.name(), c.units, dir.display());
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
