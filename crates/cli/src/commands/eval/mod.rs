//! `multimat eval retrieval|discovery` and the options shared by every command that opens a
//! pretrained run over a store (`embed`, `eval`, `discover`, the quickstart). Opening the run
//! and embedding live in [`multimat_train::session`]; the metrics in multimat-eval.

pub mod discovery;
pub mod retrieval;

use std::path::{Path, PathBuf};

use anyhow::Context;
use multimat_eval::embeddings::Embeddings;
use multimat_model::Modality;
use multimat_train::device::DeviceSpec;
use multimat_train::{Part, Session};

pub use discovery::{discovery_report, print_discovery, DiscoveryArgs};
pub use retrieval::{print_retrieval, retrieval_report, RetrievalArgs};

/// Options shared by the commands that load a run and a store.
#[derive(clap::Args, Debug, Clone)]
pub struct RunInput {
    /// Model folder or pretraining run directory (default: the shipped multimat-base; see
    /// `multimat models`).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Dataset store.
    #[arg(long)]
    pub data: PathBuf,
    /// Which materials: a part (train, val, test) of the run's split, or `all`.
    #[arg(long, default_value = "test")]
    pub part: String,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, default_value = "cpu", value_parser = super::args::DeviceArg)]
    pub device: DeviceSpec,
    /// Materials per batch.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
}

/// Opens the run and store of `input` (see [`Session::open`]).
pub fn open_session(input: &RunInput) -> anyhow::Result<Session> {
    let device = input.device.device()?;
    let part: Part = input
        .part
        .parse()
        .map_err(|e| anyhow::anyhow!("--part {e}"))?;
    let model = multimat_train::package::resolve_model(input.model.as_deref())?;
    Ok(Session::open(
        &model,
        &input.data,
        part,
        input.batch_size,
        device,
    )?)
}

/// [`Session::embed`] with a progress bar (none when `quiet`).
pub fn embed_with_bar(
    session: &Session,
    modality: Modality,
    quiet: bool,
) -> anyhow::Result<Embeddings> {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        super::progress_bar(0, modality.name())
    };
    let emb = session.embed(modality, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(emb)
}

pub fn parse_modality(s: &str) -> anyhow::Result<Modality> {
    s.parse::<Modality>()
        .map_err(|e| anyhow::anyhow!("--modality: {e}"))
}

/// `multimat eval ...`.
#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// Cross-modal retrieval for every ordered pair of the run's modalities (spec §5.1).
    Retrieval(RetrievalArgs),
    /// Material discovery: nMAE of the best of the N nearest crystals' DOS (spec §5.2).
    Discovery(DiscoveryArgs),
}

pub fn eval(cmd: EvalCommand) -> anyhow::Result<()> {
    match cmd {
        EvalCommand::Retrieval(a) => {
            let report = retrieval_report(&a.input)?;
            print_retrieval(&report);
            if let Some(out) = a.out {
                write_json(&out, &report)?;
            }
            Ok(())
        }
        EvalCommand::Discovery(a) => {
            let report = discovery_report(&a)?;
            print_discovery(&report);
            if let Some(out) = a.out {
                write_json(&out, &report)?;
            }
            Ok(())
        }
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    multimat_crystal::io::write_atomic(path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
