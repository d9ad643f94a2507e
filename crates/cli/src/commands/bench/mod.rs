//! `multimat bench ...`: benchmarks, each reported as a ratio against a baseline measured in the
//! same run; one module per subcommand.

pub mod encoders;
pub mod graphs;
pub mod modalities;
mod peaks;
pub mod search;
pub mod structures;
pub mod text;

#[derive(clap::Subcommand)]
pub enum Command {
    /// PotNet graph throughput on real structures, beside a brute-force f64 direct summation.
    Graphs(graphs::GraphsArgs),
    /// CHGCAR parse + resample throughput (beside a naive std-parse baseline) and derived
    /// promolecular densities per second.
    Modalities(modalities::ModalitiesArgs),
    /// Training-step throughput (forward + backward) and achieved GFLOP/s of every encoder on
    /// the CPU, beside the machine's peak measured in the same run.
    Encoders(encoders::Args),
    /// Frozen BERT text encoder: texts/s at batch 32 beside one text at a time, and the
    /// token-length distribution of the shipped descriptions.
    Text(text::BenchArgs),
    /// Exact cosine top-k search (blocked matrix products) against a naive scan, 1M × 128.
    Search(search::Args),
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Graphs(args) => graphs::run(args),
        Command::Modalities(args) => modalities::run(args),
        Command::Encoders(args) => encoders::run(args),
        Command::Text(args) => text::run(args),
        Command::Search(args) => search::run(args),
    }
}
