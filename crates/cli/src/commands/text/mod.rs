//! `multimat text embed`: frozen BERT vectors of every description in a store, stored as the
//! `text` modality (f16, shape `[hidden]`), resumable; and `multimat bench text`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use multimat_bert::{cpu_device, length_batches, Pooling, TextEncoder, Tokenized};
use multimat_dataset::{Dtype, ModalityStaging, Store};
use serde_json::json;

/// Name of the store modality holding the frozen text vectors.
pub const TEXT_MODALITY: &str = "text";
/// The file beside the `text` shards that records which checkpoint made them.
pub const ENCODER_FILE: &str = "encoder.json";

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

#[derive(clap::Args)]
pub struct EmbedFileArgs {
    /// HuggingFace BERT checkpoint folder.
    #[arg(long)]
    model: PathBuf,
    /// Descriptions file (.gz accepted).
    #[arg(long)]
    texts: PathBuf,
    /// Output prefix, e.g. data/text/all-minilm-l6-v2.
    #[arg(long)]
    out: PathBuf,
    /// cls (the reference) or mean.
    #[arg(long, default_value = "cls")]
    pooling: Pooling,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
}

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

#[derive(clap::Args)]
pub struct BenchArgs {
    /// BERT checkpoint folder (e.g. all-MiniLM-L6-v2); default: $MULTIMAT_MINILM_DIR, which
    /// scripts/test sets after installing the weights under .cache/minilm.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Descriptions (JSON lines with id and description, as shipped).
    #[arg(
        long,
        default_value = "data/raw/text/robocrys_mp_descriptions.jsonl.gz"
    )]
    texts: PathBuf,
    /// Texts timed (spread evenly over the file).
    #[arg(long, default_value_t = 128)]
    n: usize,
    /// Batch size of the measured configuration.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Write the results as JSON here as well.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Embed(args) => embed(args),
        Command::EmbedFile(args) => embed_file(args),
    }
}

fn embed_file(args: EmbedFileArgs) -> anyhow::Result<()> {
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
    let bar = super::progress_bar(tokens.len() as u64, "embed");
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

fn embed(args: EmbedArgs) -> anyhow::Result<()> {
    if args.batch_size == 0 || args.chunk == 0 {
        bail!("--batch-size and --chunk must be positive");
    }
    let store = Store::open(&args.data)?;
    let mut ids: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for (id, d) in store.ids().iter().zip(store.descriptions()) {
        let Some(d) = d else { continue };
        if d.trim().is_empty() {
            bail!(
                "{}: material {id:?} has an empty description; re-import it with a description or without one",
                args.data.display()
            );
        }
        ids.push(id.clone());
        texts.push(d.clone());
    }
    if ids.is_empty() {
        bail!(
            "{}: no material has a description, so there is nothing to embed (import descriptions with a [[text]] recipe entry or robocrys files)",
            args.data.display()
        );
    }
    drop(store);
    let device = cpu_device();
    let t0 = Instant::now();
    let encoder = TextEncoder::load(&args.model, &device)?;
    eprintln!(
        "loaded {} ({} layers, hidden {}) in {:.1} s; {} descriptions",
        args.model.display(),
        encoder.config.num_hidden_layers,
        encoder.dim(),
        t0.elapsed().as_secs_f64(),
        ids.len()
    );
    let key = format!(
        "{} pooling={} max_tokens={}",
        encoder.fingerprint(),
        args.pooling.name(),
        encoder.tokenizer.max_len()
    );
    let mut staging = ModalityStaging::open(
        &args.data,
        TEXT_MODALITY,
        vec![encoder.dim()],
        Dtype::F16,
        &key,
    )?;
    let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let tokens = encoder.tokenize(&text_refs, &id_refs)?;
    let truncated = tokens.iter().filter(|t| t.truncated).count();
    let todo: Vec<usize> = (0..ids.len())
        .filter(|&i| !staging.is_done(&ids[i]))
        .collect();
    if todo.len() < ids.len() {
        eprintln!(
            "resuming: {} of {} descriptions already embedded",
            ids.len() - todo.len(),
            ids.len()
        );
    }
    let mut metrics = match &args.metrics {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("{}: cannot open metrics file", p.display()))?,
        ),
        None => None,
    };
    let bar = super::progress_bar(ids.len() as u64, "embed");
    bar.set_position((ids.len() - todo.len()) as u64);
    // Chunks of similar length so each chunk's batches pad little.
    let todo_tokens: Vec<Tokenized> = todo.iter().map(|&i| tokens[i].clone()).collect();
    let order: Vec<usize> = length_batches(&todo_tokens, args.chunk)
        .into_iter()
        .flatten()
        .collect();
    let start = Instant::now();
    let mut done = 0usize;
    for chunk in order.chunks(args.chunk) {
        let chunk_tokens: Vec<Tokenized> = chunk.iter().map(|&k| todo_tokens[k].clone()).collect();
        let chunk_ids: Vec<String> = chunk.iter().map(|&k| ids[todo[k]].clone()).collect();
        let e = encoder.embed_tokens(&chunk_tokens, args.pooling, args.batch_size, &mut |n| {
            bar.inc(n as u64)
        });
        staging.write_chunk(&chunk_ids, &e.vectors)?;
        done += chunk.len();
        if let Some(f) = metrics.as_mut() {
            let secs = start.elapsed().as_secs_f64();
            let line = json!({
                "event": "chunk", "done": ids.len() - todo.len() + done, "total": ids.len(),
                "seconds": secs, "texts_per_s": done as f64 / secs.max(1e-9),
                "tokens": chunk_tokens.iter().map(|t| t.ids.len()).sum::<usize>(),
            });
            writeln!(f, "{line}").context("writing metrics")?;
        }
    }
    bar.finish_and_clear();
    let info = encoder.info(args.pooling, ids.len(), truncated, "f16");
    let info_json = serde_json::to_vec_pretty(&info)?;
    let summary = staging.commit(&[(ENCODER_FILE, info_json)])?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} text vectors ({}-d, {} pooling, f16) {} in {}: {} computed in {:.1} s ({:.1} texts/s); {} of {} texts were longer than {} tokens and truncated",
        summary.rows,
        encoder.dim(),
        args.pooling.name(),
        if summary.replaced { "replaced" } else { "stored" },
        Path::new(&args.data).display(),
        done,
        secs,
        done as f64 / secs.max(1e-9),
        truncated,
        ids.len(),
        encoder.tokenizer.max_len()
    );
    Ok(())
}

/// Percentile (nearest rank) of sorted values.
fn percentile(sorted: &[usize], p: f64) -> usize {
    if sorted.is_empty() {
        return 0;
    }
    let k = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

/// `multimat bench text`: texts/s of the encoder at `--batch-size` (length-bucketed) beside
/// one text at a time (the baseline), measured in the same run on the same texts, and the
/// token-length distribution of all descriptions.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let model = match (&args.model, std::env::var_os("MULTIMAT_MINILM_DIR")) {
        (Some(m), _) => m.clone(),
        (None, Some(m)) => PathBuf::from(m),
        (None, None) => {
            bail!("give --model DIR (a BERT checkpoint folder) or set MULTIMAT_MINILM_DIR")
        }
    };
    let name = args.texts.display().to_string();
    let raw = multimat_crystal::io::read_text(&args.texts)?;
    let descriptions = multimat_modalities::text::read_descriptions(&raw, &name)?;
    if descriptions.is_empty() {
        bail!("{name}: no descriptions");
    }
    let device = cpu_device();
    let t0 = Instant::now();
    let encoder = TextEncoder::load(&model, &device)?;
    let load_s = t0.elapsed().as_secs_f64();
    let texts: Vec<&str> = descriptions.iter().map(|d| d.text.as_str()).collect();
    let names: Vec<&str> = descriptions.iter().map(|d| d.id.as_str()).collect();
    let t = Instant::now();
    let tokens = encoder.tokenize(&texts, &names)?;
    let tokenize_s = t.elapsed().as_secs_f64();
    // Untruncated lengths for the distribution: the tokenizer cuts at the model limit, so
    // count with a second tokenizer without that cut.
    let mut lengths: Vec<usize> = Vec::with_capacity(texts.len());
    let long = multimat_bert::BertTokenizer::from_vocab_or_json(&encoder.files.tokenizer, 1 << 20)?;
    for (i, t) in texts.iter().enumerate() {
        lengths.push(long.encode(t, i, names[i])?.ids.len());
    }
    lengths.sort_unstable();
    let over = lengths
        .iter()
        .filter(|&&l| l > encoder.tokenizer.max_len())
        .count();
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    let dist = json!({
        "texts": lengths.len(), "min": lengths[0], "p10": percentile(&lengths, 10.0),
        "p50": percentile(&lengths, 50.0), "mean": mean, "p90": percentile(&lengths, 90.0),
        "p99": percentile(&lengths, 99.0), "max": lengths[lengths.len() - 1],
        "over_limit": over, "limit": encoder.tokenizer.max_len(),
    });
    println!(
        "token lengths of {} descriptions ({}): min {} p10 {} median {} mean {:.0} p90 {} p99 {} max {}; {} ({:.1}%) exceed {} and are truncated",
        lengths.len(), name, lengths[0], percentile(&lengths, 10.0), percentile(&lengths, 50.0), mean,
        percentile(&lengths, 90.0), percentile(&lengths, 99.0), lengths[lengths.len() - 1], over,
        100.0 * over as f64 / lengths.len() as f64, encoder.tokenizer.max_len()
    );
    // Timed subset, spread over the file so its length mix is the file's.
    let n = args.n.clamp(1, tokens.len());
    let step = tokens.len() / n;
    let subset: Vec<Tokenized> = (0..n).map(|k| tokens[k * step].clone()).collect();
    let sub_tokens: usize = subset.iter().map(|t| t.ids.len()).sum();
    let time = |bs: usize| {
        let t = Instant::now();
        let _ = encoder.embed_tokens(&subset, Pooling::Cls, bs, &mut |_| {});
        t.elapsed().as_secs_f64()
    };
    // Warm-up on a few texts so one-off allocations are not timed.
    let _ = encoder.embed_tokens(&subset[..n.min(4)], Pooling::Cls, 4, &mut |_| {});
    let base_s = time(1);
    let batched_s = time(args.batch_size.max(1));
    let per_s = |s: f64| n as f64 / s;
    println!(
        "{} ({} layers, hidden {}) on {} texts ({} tokens) on the CPU ({} threads): batch {} length-bucketed {:.1} texts/s ({:.0} tokens/s) vs one at a time {:.1} texts/s → {:.2}× ; load {:.2} s, tokenize all {} in {:.2} s",
        model.display(), encoder.config.num_hidden_layers, encoder.dim(), n, sub_tokens,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), args.batch_size,
        per_s(batched_s), sub_tokens as f64 / batched_s, per_s(base_s), base_s / batched_s,
        load_s, tokens.len(), tokenize_s
    );
    let result = json!({
        "model": model.display().to_string(), "texts_file": name,
        "token_lengths": dist,
        "timed_texts": n, "timed_tokens": sub_tokens, "batch_size": args.batch_size,
        "batched_texts_per_s": per_s(batched_s), "batched_tokens_per_s": sub_tokens as f64 / batched_s,
        "baseline_batch1_texts_per_s": per_s(base_s), "speedup_vs_batch1": base_s / batched_s,
        "load_seconds": load_s, "tokenize_seconds": tokenize_s,
    });
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&result)?)
            .with_context(|| format!("{}: cannot write", out.display()))?;
    }
    Ok(())
}
