//! `multimat text embed-file`: a descriptions file embedded into OUT.f16.npy, OUT.ids.json and
//! OUT.encoder.json, the layout of the shipped vectors that a recipe's [[text_vectors]] imports.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use multimat_bert::{cpu_device, Pooling, TextEncoder};
use multimat_dataset::Dtype;

#[derive(clap::Args)]
pub struct EmbedFileArgs {
    /// HuggingFace BERT checkpoint folder.
    #[arg(long)]
    pub model: PathBuf,
    /// Descriptions file (.gz accepted).
    #[arg(long)]
    pub texts: PathBuf,
    /// Output prefix, e.g. data/text/all-minilm-l6-v2.
    #[arg(long)]
    pub out: PathBuf,
    /// cls (the reference) or mean.
    #[arg(long, default_value = "cls")]
    pub pooling: Pooling,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

pub fn run(args: EmbedFileArgs) -> anyhow::Result<()> {
    let name = args.texts.display().to_string();
    let raw = multimat_crystal::io::read_text(&args.texts)?;
    let descriptions = multimat_modalities::text::read_descriptions(&raw, &name)?;
    if descriptions.is_empty() {
        bail!("{name}: no descriptions");
    }
    let mut seen = std::collections::HashSet::new();
    for d in &descriptions {
        if !seen.insert(d.id.as_str()) {
            bail!("{name}: id {:?} appears twice", d.id);
        }
    }
    let device = cpu_device();
    let encoder = TextEncoder::load(&args.model, &device)?;
    let texts: Vec<&str> = descriptions.iter().map(|d| d.text.as_str()).collect();
    let ids: Vec<&str> = descriptions.iter().map(|d| d.id.as_str()).collect();
    let tokens = encoder.tokenize(&texts, &ids)?;
    let bar = crate::commands::progress_bar(tokens.len() as u64, "embed");
    let start = Instant::now();
    let e = encoder.embed_tokens(&tokens, args.pooling, args.batch_size.max(1), &mut |n| {
        bar.inc(n as u64)
    });
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let mut data = multimat_dataset::npy::header(Dtype::F16, ids.len(), &[e.dim]);
    Dtype::F16
        .encode(&e.vectors, &mut data)
        .map_err(|m| anyhow::anyhow!("{name}: a vector cannot be stored as float16: {m}"))?;
    let prefix = args.out.display().to_string();
    let info = encoder.info(args.pooling, ids.len(), e.truncated_count(), "f16");
    multimat_dataset::manifest::write_atomic(Path::new(&format!("{prefix}.f16.npy")), &data)?;
    multimat_dataset::manifest::write_atomic(
        Path::new(&format!("{prefix}.ids.json")),
        &serde_json::to_vec(&ids)?,
    )?;
    multimat_dataset::manifest::write_atomic(
        Path::new(&format!("{prefix}.encoder.json")),
        &serde_json::to_vec_pretty(&info)?,
    )?;
    eprintln!(
        "{} texts → {prefix}.f16.npy ({}-d, {} pooling) in {:.1} s ({:.1} texts/s); {} truncated at {} tokens",
        ids.len(),
        e.dim,
        args.pooling.name(),
        secs,
        ids.len() as f64 / secs.max(1e-9),
        e.truncated_count(),
        encoder.tokenizer.max_len()
    );
    Ok(())
}
