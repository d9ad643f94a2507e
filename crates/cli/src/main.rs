//! `multimat`: import materials data, build graphs and model inputs, and (in later layers)
//! pretrain, fine-tune, embed, search and plot.

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
    /// Benchmarks, reported as ratios against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(commands::bench::Command),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Convert(args) => commands::convert::run(args),
        Command::Modality(cmd) => commands::modality::run(cmd),
        Command::Data(cmd) => commands::data::run(cmd),
        Command::Bench(cmd) => commands::bench::run(cmd),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
