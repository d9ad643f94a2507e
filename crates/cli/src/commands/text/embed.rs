//! `multimat text embed`: the store's `text` modality computed with a BERT checkpoint; the
//! resumable pipeline is [`multimat_bert::store`], this parses, shows progress and prints.

use std::path::PathBuf;

use multimat_bert::{cpu_device, embed_store, Pooling, StoreTextEvent, StoreTextJob};

#[derive(clap::Args)]
pub struct EmbedArgs {
    /// HuggingFace BERT checkpoint folder (config.json, vocab.txt or tokenizer.json,
    /// model.safetensors or pytorch_model.bin): MatBERT, MatSciBERT, SciBERT, MiniLM, ...
    #[arg(long)]
    model: PathBuf,
    /// The store (made by `multimat data import`).
    #[arg(long)]
    data: PathBuf,
    /// cls (MultiMat's reference: the CLS vector) or mean (average over tokens).
    #[arg(long, default_value = "cls")]
    pooling: Pooling,
    /// Texts per forward pass (texts of similar length are batched together).
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Texts per durable chunk: a killed run loses at most one chunk of work.
    #[arg(long, default_value_t = 512)]
    chunk: usize,
    /// Append one JSON line of progress per chunk here.
    #[arg(long)]
    metrics: Option<PathBuf>,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<()> {
    let job = StoreTextJob {
        model: args.model.clone(),
        store: args.data.clone(),
        pooling: args.pooling,
        batch_size: args.batch_size,
        chunk: args.chunk,
        metrics: args.metrics.clone(),
    };
    let mut bar: Option<indicatif::ProgressBar> = None;
    let summary = embed_store(&job, &cpu_device(), &mut |event| {
        match event {
        StoreTextEvent::Loaded {
            layers,
            hidden,
            seconds,
            descriptions,
        } => eprintln!(
            "loaded {} ({layers} layers, hidden {hidden}) in {seconds:.1} s; {descriptions} descriptions",
            args.model.display()
        ),
        StoreTextEvent::Started { done, total } => {
            if done > 0 {
                eprintln!("resuming: {done} of {total} descriptions already embedded");
            }
            let b = crate::commands::progress_bar(total as u64, "embed");
            b.set_position(done as u64);
            bar = Some(b);
        }
        StoreTextEvent::Embedded { count } => {
            if let Some(b) = &bar {
                b.inc(count as u64);
            }
        }
    }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = summary.seconds;
    eprintln!(
        "{} text vectors ({}-d, {} pooling, f16) {} in {}: {} computed in {:.1} s ({:.1} texts/s); {} of {} texts were longer than {} tokens and truncated",
        summary.rows,
        summary.dim,
        args.pooling.name(),
        if summary.replaced { "replaced" } else { "stored" },
        args.data.display(),
        summary.computed,
        secs,
        summary.computed as f64 / secs.max(1e-9),
        summary.truncated,
        summary.total,
        summary.max_tokens
    );
    Ok(())
}
