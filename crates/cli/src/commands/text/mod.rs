//! `multimat text`: frozen BERT vectors of descriptions, into a store ([`embed`]) or into
//! the shipped-vector file layout ([`embed_file`]). `multimat bench text` is in
//! `commands/bench/text.rs`.

pub mod embed;
pub mod embed_file;

use embed::EmbedArgs;
use embed_file::EmbedFileArgs;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Compute the frozen BERT vector of every description in a store and store them as the
    /// `text` modality (f16), replacing an existing one. Resumable: a killed run continues
    /// from the chunks already done.
    Embed(EmbedArgs),
    /// Embed a descriptions file (JSON lines with id and description, JSON or CSV) into
    /// OUT.f16.npy ([texts, hidden] float16), OUT.ids.json and OUT.encoder.json, the layout
    /// of the shipped vectors in data/text/ that a recipe's [[text_vectors]] imports.
    EmbedFile(EmbedFileArgs),
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Embed(args) => embed::run(args),
        Command::EmbedFile(args) => embed_file::run(args),
    }
}
