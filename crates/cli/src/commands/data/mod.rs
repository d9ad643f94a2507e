//! `multimat data ...`: dataset stores: import, info, splits, graph caches, and the Materials
//! Project download (`fetch_mp`). The import itself is multimat-import; this parses and shows
//! progress.

pub mod fetch_mp;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;
use multimat_dataset::{
    build_graph_cache, info, load_split, make_split, save_split, GraphCacheMeta, GraphKind, Store,
};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Import structure files, Materials Project documents, VASP run folders, DOS/CHGCAR files,
    /// descriptions and label CSVs (or a recipe of tabular datasets) into a store. Resumable;
    /// bad files go to STORE/import_report.json.
    Import(ImportArgs),
    /// Counts per modality and per combination of modalities, label coverage, sources.
    Info(InfoArgs),
    /// Make (and save) a reproducible train/val/test split of a store.
    Split(SplitArgs),
    /// Compute and cache the PotNet or CGCNN graph of every material (in parallel).
    Graphs(GraphsArgs),
    /// Download Materials Project documents (structure, text, DOS, charge density, elasticity,
    /// summary) into a folder that `data import` reads. Resumable; needs MP_API_KEY.
    FetchMp(fetch_mp::Args),
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Store folder (created, or resumed if it exists).
    #[arg(long)]
    out: PathBuf,
    /// Files and folders to import (their kind is detected; .gz accepted).
    sources: Vec<PathBuf>,
    /// A TOML recipe mapping tabular datasets onto the store (e.g. data/shipped.toml).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// CSV of labels keyed by id or file stem (header: id, then one column per label).
    #[arg(long = "labels")]
    label_files: Vec<PathBuf>,
    /// Give every material without a real charge density a promolecular (derived) one.
    #[arg(long)]
    derive_density: bool,
    /// Stop at the first bad file instead of reporting it and going on.
    #[arg(long)]
    strict: bool,
    /// Commit the store after this many materials (an interrupted import resumes from there).
    #[arg(long, default_value_t = 500)]
    commit_every: usize,
    /// Symmetry tolerance for crystal systems and space groups, Å.
    #[arg(long, default_value_t = multimat_crystal::DEFAULT_SYMPREC)]
    symprec: f64,
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
        Command::Import(args) => import(args)?,
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
                .with_context(|| {
                    format!(
                        "--ratios {:?}: expected three numbers like 0.7,0.2,0.1",
                        args.ratios
                    )
                })?;
            let ratios: [f64; 3] = ratios.try_into().map_err(|r: Vec<f64>| {
                anyhow::anyhow!("--ratios needs exactly three numbers, got {}", r.len())
            })?;
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
        Command::FetchMp(args) => fetch_mp::run(args)?,
        Command::Graphs(args) => {
            let store = Store::open(&args.store)?;
            let kind = match args.kind {
                Kind::Potnet => GraphKind::Potnet,
                Kind::Cgcnn => GraphKind::Cgcnn,
            };
            let meta = build_graphs(&store, kind)?;
            println!(
                "{} graphs of {} materials ({} atoms, {} edges) in {:.1} s; {} failed{}",
                kind.name(),
                meta.materials,
                meta.atoms,
                meta.edges,
                meta.seconds,
                meta.failed.len(),
                meta.failed
                    .first()
                    .map(|(id, why)| format!(" (first: {id}: {why})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Builds (or rebuilds) a store's graph cache with a progress bar.
pub fn build_graphs(store: &Store, kind: GraphKind) -> anyhow::Result<GraphCacheMeta> {
    let bar = super::progress_bar(store.len() as u64, kind.name());
    let meta = build_graph_cache(store, kind, &|done| bar.set_position(done as u64))?;
    bar.finish();
    Ok(meta)
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    use multimat_import::{ImportOptions, Recipe};

    anyhow::ensure!(
        !args.sources.is_empty() || args.recipe.is_some() || !args.label_files.is_empty(),
        "nothing to import: give source files/folders, --recipe or --labels"
    );
    let recipe = args.recipe.as_deref().map(Recipe::from_path).transpose()?;
    let options = ImportOptions {
        strict: args.strict,
        derive_density: args.derive_density,
        commit_every: args.commit_every.max(1),
        symprec: args.symprec,
        label_files: args.label_files.clone(),
    };
    let summary = import_with_progress(&args.out, &args.sources, recipe.as_ref(), &options)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if summary.problems > 0 {
        eprintln!(
            "{} input(s) were skipped; see {}",
            summary.problems,
            args.out.join("import_report.json").display()
        );
    }
    Ok(())
}

/// Imports into the store at `out` (created or resumed) with progress bars; the first five
/// problems are shown, all are in `out/import_report.json`.
pub fn import_with_progress(
    out: &Path,
    sources: &[PathBuf],
    recipe: Option<&multimat_import::Recipe>,
    options: &multimat_import::ImportOptions,
) -> anyhow::Result<multimat_import::ImportSummary> {
    use multimat_import::{ImportEvent, Phase};
    let bar = std::cell::RefCell::new(None::<indicatif::ProgressBar>);
    let problems = std::cell::Cell::new(0usize);
    let progress = |event: ImportEvent| match event {
        ImportEvent::PhaseStarted { phase, total } => {
            if let Some(b) = bar.borrow_mut().take() {
                b.finish();
            }
            let what = match phase {
                Phase::Read => "reading",
                Phase::Write => "writing",
            };
            *bar.borrow_mut() = Some(super::progress_bar(total as u64, what));
        }
        ImportEvent::ItemsDone { count, .. } => {
            if let Some(b) = bar.borrow().as_ref() {
                b.inc(count as u64);
            }
        }
        ImportEvent::Problem(p) => {
            problems.set(problems.get() + 1);
            // The first few problems are shown; all are in import_report.json.
            if problems.get() <= 5 {
                let line = format!("skipped {}: {}", p.file, p.reason);
                match bar.borrow().as_ref() {
                    Some(b) if !b.is_hidden() => b.println(line),
                    _ => eprintln!("{line}"),
                }
            }
        }
        ImportEvent::Committed { materials } => {
            if let Some(b) = bar.borrow().as_ref() {
                b.set_message(format!("{materials} saved"));
            }
        }
    };
    let summary = multimat_import::import(out, sources, recipe, options, &progress)?;
    if let Some(b) = bar.borrow_mut().take() {
        b.finish();
    }
    Ok(summary)
}
