//! `multimat`: import materials data, build graphs and model inputs, pretrain, fine-tune,
//! embed, evaluate, search and plot. A thin CLI: `commands/` mirrors the command tree (a folder
//! per command with subcommands), parses arguments and prints; the pipelines live in the
//! library crates.

// glibc malloc roughly halves CPU throughput for tensor-heavy work (mmap/munmap on every
// large allocation); mimalloc keeps freed pages around.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "multimat",
    version,
    about = "Multimodal foundation models for crystalline materials"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline on the shipped data: import, pretrain, fine-tune, evaluate, map.
    Quickstart(commands::quickstart::Args),
    /// Summarise a structure, DOS or volumetric (charge density) file.
    Inspect(commands::inspect::Args),
    /// Build the CGCNN or PotNet graph of a structure.
    Graph(commands::graph::Args),
    /// Convert a structure file to CIF, POSCAR, pymatgen JSON or extended XYZ.
    Convert(commands::convert::Args),
    /// Write the model input of a DOS or charge-density file as .npy.
    #[command(subcommand)]
    Modality(commands::modality::Command),
    /// Dataset stores: import, info, splits, graph caches.
    #[command(subcommand)]
    Data(commands::data::Command),
    /// Frozen BERT text vectors of a store's descriptions.
    #[command(subcommand)]
    Text(commands::text::Command),
    /// Align the encoders of a store's modalities (MultiMat pretraining).
    Pretrain(commands::pretrain::Args),
    /// Embed structure, DOS or charge-density files, or one modality of a store's materials.
    Embed(commands::embed::EmbedArgs),
    /// List the models multimat can find (the shipped multimat-base first); pack one.
    Models(commands::models::Args),
    /// Evaluate a pretrained run: retrieval (§5.1) and material discovery (§5.2).
    #[command(subcommand)]
    Eval(commands::eval::EvalCommand),
    /// Find the crystals whose embeddings are nearest to a target DOS.
    Discover(commands::discover::DiscoverArgs),
    /// 2-D UMAP map of embeddings coloured by crystal system, metallicity or a label.
    Umap(commands::umap::Args),
    /// Fine-tune the crystal encoder + a linear head for a property (with baselines).
    Finetune(commands::finetune::Args),
    /// Predict properties of structure files (every head of the shipped model by default).
    Predict(commands::predict::Args),
    /// Benchmarks, reported as ratios against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(commands::bench::Command),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => commands::quickstart::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Modality(cmd) => commands::modality::run(cmd),
        Command::Data(cmd) => commands::data::run(cmd),
        Command::Pretrain(args) => commands::pretrain::run(args),
        Command::Embed(args) => commands::embed::run(args),
        Command::Models(args) => commands::models::run(args),
        Command::Eval(cmd) => commands::eval::eval(cmd),
        Command::Discover(args) => commands::discover::run(args),
        Command::Umap(args) => commands::umap::run(args),
        Command::Finetune(args) => commands::finetune::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Bench(cmd) => commands::bench::run(cmd),
        Command::Text(cmd) => commands::text::run(cmd),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
