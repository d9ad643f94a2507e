//! `multimat bench text`: texts/s of the frozen BERT encoder batched beside one text at a time,
//! and the token-length distribution of the shipped descriptions.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use multimat_bert::{cpu_device, Pooling, TextEncoder, Tokenized};
use serde_json::json;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// BERT checkpoint folder (e.g. all-MiniLM-L6-v2); default: $MULTIMAT_MINILM_DIR, which
    /// scripts/test sets after installing the weights under .cache/minilm.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Descriptions (JSON lines with id and description, as shipped).
    #[arg(
        long,
        default_value = "data/raw/text/robocrys_mp_descriptions.jsonl.gz"
    )]
    pub texts: PathBuf,
    /// Texts timed (spread evenly over the file).
    #[arg(long, default_value_t = 128)]
    pub n: usize,
    /// Batch size of the measured configuration.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Write the results as JSON here as well.
    #[arg(long)]
    pub out: Option<PathBuf>,
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
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
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
