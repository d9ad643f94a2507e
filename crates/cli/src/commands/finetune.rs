//! `multimat finetune`: the crystal encoder plus a linear head trained for one property
//! (spec §4.2), pretrained and/or from scratch and/or CGCNN, on one split and seeds.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar};
use multimat_dataset::Store;
use multimat_train::finetune::{
    finetune, Event, FinetuneConfig, FinetuneJob, FinetuneResults, Variant,
};
use multimat_train::optim::AdamWSettings;
use multimat_train::DeviceSpec;

use super::args::{merge_flags, DeviceArg};

/// Arguments of `multimat finetune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dataset store (PotNet variants need its graph cache: `multimat data graphs STORE`).
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder: config.json, results.json, results.md, VARIANT/seed-S/ runs.
    #[arg(long)]
    pub out: PathBuf,
    /// Task: bulk_modulus, shear_modulus, elastic_tensor (15 outputs), band_gap,
    /// formation_energy or any numeric label of the store.
    #[arg(long)]
    pub task: String,
    /// Pretraining run (`multimat pretrain --out RUN`) whose crystal encoder is fine-tuned; its
    /// architecture is also used by --from-scratch and its preset by --encoder cgcnn.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Train the same architecture from freshly initialised weights (the PotNet baseline).
    #[arg(long, conflicts_with = "compare")]
    pub from_scratch: bool,
    /// Crystal encoder: potnet (default) or cgcnn (the CGCNN baseline, from scratch).
    #[arg(long, conflicts_with = "compare")]
    pub encoder: Option<String>,
    /// Run pretrained (with --from), from scratch and CGCNN on the same split and seeds, and
    /// write the comparison table.
    #[arg(long)]
    pub compare: bool,
    /// Runs per variant (seeds --seed, --seed + 1, ...); results report mean ± std.
    #[arg(long, default_value_t = 1)]
    pub seeds: usize,
    /// First seed (weight initialisation and batch order).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Target transform: none (raw units, the reference) or log10 (Matbench's moduli).
    #[arg(long)]
    pub target_transform: Option<String>,
    /// Architecture preset without --from: paper or small.
    #[arg(long)]
    pub preset: Option<String>,
    /// Epochs (reference 200).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size (reference 128).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Peak learning rate (reference 1e-4).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Warm-up epochs (reference 20).
    #[arg(long)]
    pub warmup_epochs: Option<f64>,
    /// AdamW weight decay (reference 0.05).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Clip the global gradient norm (reference: off).
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// Split file name in STORE/splits (default finetune-TASK; created 70/20/10 when missing).
    #[arg(long)]
    pub split: Option<String>,
    /// Device: cpu, cuda:N or wgpu:N (a job setting: not saved with the job).
    #[arg(long, default_value = "cpu", value_parser = DeviceArg)]
    pub device: DeviceSpec,
    /// CPU threads (0 = all cores; a job setting: not saved with the job).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

fn variants(args: &Args) -> anyhow::Result<Vec<Variant>> {
    if args.compare {
        let mut v = Vec::new();
        if args.from.is_some() {
            v.push(Variant::Pretrained);
        } else {
            eprintln!("warning: --compare without --from: running from scratch and CGCNN only (no pretrained encoder to compare)");
        }
        v.extend([Variant::Scratch, Variant::Cgcnn]);
        return Ok(v);
    }
    match args.encoder.as_deref().map(str::trim) {
        None | Some("potnet") => Ok(vec![if args.from_scratch || args.from.is_none() {
            Variant::Scratch
        } else {
            Variant::Pretrained
        }]),
        Some("cgcnn") => Ok(vec![Variant::Cgcnn]),
        Some(other) => {
            anyhow::bail!("--encoder: unknown crystal encoder `{other}`; use potnet or cgcnn")
        }
    }
}

fn config_from(args: &Args) -> anyhow::Result<FinetuneConfig> {
    let mut c = FinetuneConfig {
        task: args.task.clone(),
        seeds: args.seeds,
        split: args.split.clone(),
        adamw: AdamWSettings {
            clip_grad_norm: args.clip_grad_norm,
            ..Default::default()
        },
        ..Default::default()
    };
    if let Some(t) = &args.target_transform {
        c.target_transform = t
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--target-transform: {e}"))?;
    }
    if let Some(p) = &args.preset {
        if args.from.is_some() {
            anyhow::bail!("--preset: the architecture comes from the pretraining run given by --from; drop --preset");
        }
        c.preset = p
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--preset: {e}"))?;
    }
    merge_flags!(c, args; seed, epochs, batch_size, lr, warmup_epochs);
    merge_flags!(c.adamw, args; weight_decay);
    Ok(c.validated("flags")?)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = config_from(&args)?;
    let variants = variants(&args)?;
    let store = Store::open(&args.data)
        .with_context(|| format!("opening the store {}", args.data.display()))?;
    let job = FinetuneJob {
        store: &store,
        store_name: args.data.display().to_string(),
        config,
        from: args.from.clone(),
        variants,
        out: args.out.clone(),
        device: args.device,
        threads: args.threads,
    };
    let results = run_job(job)?;
    for v in &results.variants {
        println!(
            "{:<10} test MAE {:.4} ± {:.4} {} (MSE {:.4} ± {:.4}) over {} seed(s)",
            v.variant.name(),
            v.test_mae.mean,
            v.test_mae.std,
            results.units,
            v.test_mse.mean,
            v.test_mse.std,
            v.runs.len()
        );
    }
    println!(
        "results in {} and {}",
        args.out.join("results.json").display(),
        args.out.join("results.md").display()
    );
    Ok(())
}

/// Runs a fine-tuning job with a progress bar per epoch and one line per epoch on stderr.
pub fn run_job(job: FinetuneJob) -> anyhow::Result<FinetuneResults> {
    let bars = MultiProgress::new();
    let mut bar: Option<ProgressBar> = None;
    let (mut steps, mut epochs, mut label) = (0usize, 0usize, String::new());
    let mut on_event = |event: Event| match event {
        Event::Prepared {
            split,
            reused,
            sizes,
            excluded_nonpositive,
            excluded_without_graph,
        } => {
            say(
                &bars,
                format!(
                    "split `{split}` ({}): {} train / {} val / {} test materials",
                    if reused { "reused" } else { "created" },
                    sizes.train,
                    sizes.val,
                    sizes.test
                ),
            );
            if excluded_nonpositive > 0 {
                say(&bars, format!(
                    "warning: {excluded_nonpositive} materials with non-positive targets left out (log10 needs positive values)"
                ));
            }
            if excluded_without_graph > 0 {
                say(
                    &bars,
                    format!(
                    "warning: {excluded_without_graph} materials without a crystal graph left out"
                ),
                );
            }
        }
        Event::Start {
            variant,
            seed,
            epochs: e,
            steps_per_epoch,
            parameters,
        } => {
            steps = steps_per_epoch;
            epochs = e;
            label = format!("{} seed {seed}", variant.name());
            say(&bars, format!(
                "{label}: {parameters} trainable parameters, {steps_per_epoch} steps per epoch, {e} epochs"
            ));
        }
        Event::Step {
            epoch,
            step,
            loss,
            lr,
        } => {
            let b = bar.get_or_insert_with(|| {
                let b = bars.add(super::progress_bar(steps as u64, "fine-tuning"));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:30}] {pos}/{len} ({eta}) {prefix}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b
            });
            b.set_message(format!("{label} epoch {epoch}/{epochs}"));
            b.set_position(step as u64);
            b.set_prefix(format!("loss {loss:.4}  lr {lr:.2e}"));
        }
        Event::Epoch(r) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            say(
                &bars,
                format!(
                    "{label} epoch {:>3}: train MSE {:.4}  val MAE {:.4}{}  {:.0} s",
                    r.epoch,
                    r.train_loss,
                    r.val.mae,
                    if r.best { " (best)" } else { "" },
                    r.seconds
                ),
            );
        }
        Event::Tested { variant, result } => {
            say(
                &bars,
                format!(
                    "{} seed {}: best epoch {}, test MAE {:.4}, MSE {:.4}",
                    variant.name(),
                    result.seed,
                    result.best_epoch,
                    result.test.mae,
                    result.test.mse
                ),
            );
        }
    };
    Ok(finetune(job, &mut on_event)?)
}

/// A line above the progress bars, also when they are hidden (stderr not a terminal).
fn say(bars: &MultiProgress, line: String) {
    bars.suspend(|| eprintln!("{line}"));
}
