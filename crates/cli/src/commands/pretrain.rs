//! `multimat pretrain`: align the encoders of a store's modalities (spec §4.1).

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar};
use multimat_dataset::Store;
use multimat_model::Modality;
use multimat_train::{pretrain, DeviceSpec, Event, PretrainConfig, PretrainJob, PretrainSummary};

use super::args::{merge_flags, DeviceArg};

/// Arguments of `multimat pretrain`. Flags override the TOML file's values.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Dataset store (from `multimat data import`; PotNet needs `multimat data graphs` too).
    #[arg(long)]
    pub data: PathBuf,
    /// Run directory: config.json, metrics.jsonl, checkpoint/.
    #[arg(long)]
    pub out: PathBuf,
    /// TOML file with any PretrainConfig field (see README); defaults are the paper's.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run in --out from its last checkpoint (its own config is used).
    #[arg(long)]
    pub resume: bool,
    /// Stop after this many completed epochs (resumable later with --resume).
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Modalities to align, comma-separated (crystal is always included):
    /// crystal,dos,phonon_dos,density,text.
    #[arg(long, value_delimiter = ',')]
    pub modalities: Option<Vec<String>>,
    /// Loss: clip, anchored_clip, tri_anchored_clip, all_pairs_clip, tensor_clip, barlow_twins, ...
    #[arg(long)]
    pub loss: Option<String>,
    /// Model preset: paper or small.
    #[arg(long)]
    pub preset: Option<String>,
    /// Crystal encoder: potnet or cgcnn.
    #[arg(long)]
    pub crystal_encoder: Option<String>,
    /// Batch size B.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Warm-up epochs.
    #[arg(long)]
    pub warmup_epochs: Option<f64>,
    /// Base learning rate (peak = lr·B/256).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Clip the global gradient norm.
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Device: cpu, cuda:N or wgpu:N (a job setting: not saved in the run).
    #[arg(long, default_value = "cpu", value_parser = DeviceArg)]
    pub device: DeviceSpec,
    /// Use at most this many training materials.
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Use at most this many validation materials.
    #[arg(long)]
    pub max_val: Option<usize>,
    /// CPU threads (0 = all cores; a job setting: not saved in the run).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Builds the configuration from the file and the flags.
pub fn config_from(args: &Args) -> anyhow::Result<PretrainConfig> {
    let mut c = match &args.config {
        Some(p) => PretrainConfig::from_toml_file(p)?,
        None => PretrainConfig::default(),
    };
    if let Some(m) = &args.modalities {
        c.modalities = m
            .iter()
            .map(|s| {
                s.parse::<Modality>()
                    .map_err(|e| anyhow::anyhow!("--modalities: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(l) = &args.loss {
        c.loss = l.parse().map_err(|e| anyhow::anyhow!("--loss: {e}"))?;
    }
    if let Some(p) = &args.preset {
        c.preset = p
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--preset: {e}"))?;
    }
    if let Some(k) = &args.crystal_encoder {
        c.crystal_encoder = k
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--crystal-encoder: {e}"))?;
    }
    merge_flags!(c, args; batch_size, epochs, warmup_epochs, lr, seed, max_train, max_val);
    if args.clip_grad_norm.is_some() {
        c.adamw.clip_grad_norm = args.clip_grad_norm;
    }
    if c.legacy.present() {
        eprintln!("warning: `device` and `threads` in the config file are ignored; pass --device and --threads");
    }
    Ok(c.validated("flags")?)
}

fn flags_given(args: &Args) -> bool {
    args.config.is_some()
        || args.modalities.is_some()
        || args.loss.is_some()
        || args.preset.is_some()
        || args.crystal_encoder.is_some()
        || args.batch_size.is_some()
        || args.epochs.is_some()
        || args.warmup_epochs.is_some()
        || args.lr.is_some()
        || args.clip_grad_norm.is_some()
        || args.seed.is_some()
        || args.max_train.is_some()
        || args.max_val.is_some()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.resume && flags_given(&args) {
        anyhow::bail!(
            "--resume continues {} with the settings in its config.json; drop the other settings (only --data, --out, --stop-after, --device and --threads go with --resume)",
            args.out.display()
        );
    }
    let config = if args.resume {
        PretrainConfig::default()
    } else {
        config_from(&args)?
    };
    let store = Store::open(&args.data)
        .with_context(|| format!("opening the store {}", args.data.display()))?;
    let job = PretrainJob {
        store: &store,
        store_name: args.data.display().to_string(),
        config,
        out: args.out.clone(),
        resume: args.resume,
        stop_after: args.stop_after,
        device: args.device,
        threads: args.threads,
    };
    let summary = run_job(job)?;
    println!(
        "{} epochs completed; checkpoint in {}, metrics in {}",
        summary.epochs_completed,
        summary.run.join("checkpoint").display(),
        summary.run.join("metrics.jsonl").display()
    );
    Ok(())
}

/// Runs a pretraining job with a progress bar per epoch and one line per epoch on stderr.
pub fn run_job(job: PretrainJob) -> anyhow::Result<PretrainSummary> {
    let bars = MultiProgress::new();
    let mut bar: Option<ProgressBar> = None;
    let mut steps = 0;
    let mut epochs = 0;
    let mut on_event = |event: Event| match event {
        Event::Start {
            first_epoch,
            epochs: e,
            steps_per_epoch,
            train,
            val,
            parameters,
        } => {
            steps = steps_per_epoch;
            epochs = e;
            bars.suspend(|| eprintln!(
                "pretraining {} trainable parameters on {train} materials ({val} held out), {steps_per_epoch} steps per epoch, epochs {first_epoch}..={e}",
                parameters
            ));
        }
        Event::Step {
            epoch,
            step,
            loss,
            lr,
            materials_per_s,
        } => {
            let b = bar.get_or_insert_with(|| {
                let b = bars.add(super::progress_bar(
                    steps as u64,
                    &format!("epoch {epoch}/{epochs}"),
                ));
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg} [{bar:30}] {pos}/{len} ({eta}) {prefix}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                b.set_message(format!("epoch {epoch}/{epochs}"));
                b
            });
            b.set_position(step as u64);
            b.set_prefix(format!(
                "loss {loss:.4}  lr {lr:.2e}  {materials_per_s:.1} materials/s"
            ));
        }
        Event::Validating { epoch } => {
            if let Some(b) = &bar {
                b.set_prefix(format!("epoch {epoch}: validating and saving"));
            }
        }
        Event::Epoch(r) => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
            let retrieval: Vec<String> = r
                .retrieval
                .iter()
                .map(|p| {
                    format!(
                        "{}→{} top5 {:.3} (chance {:.3})",
                        p.query, p.gallery, p.top5, p.chance_top5
                    )
                })
                .collect();
            bars.suspend(|| {
                eprintln!(
                    "epoch {:>3}: train loss {:.4}  val loss {}  {:.1} materials/s  {:.0} s  {}",
                    r.epoch,
                    r.train_loss,
                    r.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
                    r.materials_per_s,
                    r.seconds,
                    retrieval.join("; ")
                )
            });
        }
    };
    Ok(pretrain(job, &mut on_event)?)
}
