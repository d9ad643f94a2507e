use std::path::PathBuf;

use anyhow::Context;
use clap::ValueEnum;
use multimat_dataset::{build_graph_cache, info, load_split, make_split, save_split, GraphKind, Store};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Counts per modality and per combination of modalities, label coverage, sources.
    Info(InfoArgs),
    /// Make (and save) a reproducible train/val/test split of a store.
    Split(SplitArgs),
    /// Compute and cache the PotNet or CGCNN graph of every material (in parallel).
    Graphs(GraphsArgs),
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// Store folder.
    store: PathBuf,
    /// Print JSON instead of a readable summary.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct SplitArgs {
    /// Store folder.
    store: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Train, validation and test fractions (comma-separated, summing to 1).
    #[arg(long, default_value = "0.7,0.2,0.1")]
    ratios: String,
    /// Split name; saved as STORE/splits/NAME.json.
    #[arg(long, default_value = "default")]
    name: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Potnet,
    Cgcnn,
}

#[derive(clap::Args)]
pub struct GraphsArgs {
    /// Store folder.
    store: PathBuf,
    #[arg(long, value_enum, default_value = "potnet")]
    kind: Kind,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Info(args) => {
            let store = Store::open(&args.store)?;
            let info = info(&store)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                super::inspect::print_readable(&serde_json::to_value(&info)?, 0);
            }
        }
        Command::Split(args) => {
            let ratios: Vec<f64> = args
                .ratios
                .split(',')
                .map(|r| r.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--ratios {:?}: expected three numbers like 0.7,0.2,0.1", args.ratios))?;
            let ratios: [f64; 3] = ratios
                .try_into()
                .map_err(|r: Vec<f64>| anyhow::anyhow!("--ratios needs exactly three numbers, got {}", r.len()))?;
            let store = Store::open(&args.store)?;
            let split = make_split(&store, args.seed, ratios, &args.name)?;
            let path = save_split(&store, &split)?;
            // Read it back, so what we report is what later tasks will load.
            let split = load_split(&store, &args.name)?;
            println!(
                "split {:?} (seed {}): {} train / {} val / {} test → {}",
                split.name,
                split.seed,
                split.train.len(),
                split.val.len(),
                split.test.len(),
                path.display()
            );
        }
        Command::Graphs(args) => {
            let store = Store::open(&args.store)?;
            let kind = match args.kind {
                Kind::Potnet => GraphKind::Potnet,
                Kind::Cgcnn => GraphKind::Cgcnn,
            };
            let bar = super::progress_bar(store.len() as u64, kind.name());
            let meta = build_graph_cache(&store, kind, &|done| bar.set_position(done as u64))?;
            bar.finish();
            println!(
                "{} graphs of {} materials ({} atoms, {} edges) in {:.1} s; {} failed{}",
                kind.name(),
                meta.materials,
                meta.atoms,
                meta.edges,
                meta.seconds,
                meta.failed.len(),
                meta.failed.first().map(|(id, why)| format!(" (first: {id}: {why})")).unwrap_or_default()
            );
        }
    }
    Ok(())
}
