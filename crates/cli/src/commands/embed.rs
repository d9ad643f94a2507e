//! `multimat embed`: one modality of a store's materials embedded by a pretrained run and
//! written as Parquet or `.npy` (the pass itself is [`multimat_train::Session::embed`]).

use std::path::PathBuf;

use super::eval::{embed_with_bar, open_session, parse_modality, RunInput};

/// `multimat embed`.
#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub input: RunInput,
    /// crystal, dos, phonon_dos, density or text.
    #[arg(long)]
    pub modality: String,
    /// Output: `.parquet` (id + embedding columns) or `.npy` (+ `.ids.json`).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let modality = parse_modality(&args.modality)?;
    let session = open_session(&args.input)?;
    let emb = embed_with_bar(&session, modality, false)?;
    emb.write(&args.out)?;
    println!(
        "{} {} embeddings ({}-d, L2-normalised) of the {} part → {}",
        emb.len(),
        modality,
        emb.dim,
        args.input.part,
        args.out.display()
    );
    Ok(())
}
