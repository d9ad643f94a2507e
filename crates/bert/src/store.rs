//! The store's `text` modality: the frozen BERT vector of every material description in a
//! dataset store, written as f16 rows of shape `[hidden]` through the store's resumable
//! staging ([`multimat_dataset::ModalityStaging`]), so a killed run continues from the chunks
//! already done. `multimat text embed` is this pipeline plus a progress bar.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use multimat_dataset::{Dtype, ModalityStaging, Store};
use serde_json::json;

use crate::encoder::{length_batches, TextEncoder};
use crate::error::BertError;
use crate::model::Pooling;
use crate::tokenizer::Tokenized;

/// Name of the store modality holding the frozen text vectors.
pub const TEXT_MODALITY: &str = "text";
/// The file beside the `text` shards that records which checkpoint made them.
pub const ENCODER_FILE: &str = "encoder.json";

/// What went wrong while embedding a store's descriptions.
#[derive(Debug, thiserror::Error)]
pub enum StoreTextError {
    /// The checkpoint could not be loaded or a text not encoded.
    #[error(transparent)]
    Bert(#[from] BertError),
    /// The store could not be read or written.
    #[error(transparent)]
    Data(#[from] multimat_dataset::Error),
    /// The request or the store's content cannot be embedded (the message says why).
    #[error("{0}")]
    Input(String),
}

/// How to embed a store's descriptions.
#[derive(Debug, Clone)]
pub struct StoreTextJob {
    /// HuggingFace BERT checkpoint folder.
    pub model: PathBuf,
    /// The store (made by `multimat data import`).
    pub store: PathBuf,
    /// CLS (the reference) or mean pooling.
    pub pooling: Pooling,
    /// Texts per forward pass (texts of similar length are batched together); ≥ 1.
    pub batch_size: usize,
    /// Texts per durable chunk: a killed run loses at most one chunk of work; ≥ 1.
    pub chunk: usize,
    /// Append one JSON line of progress per chunk to this file.
    pub metrics: Option<PathBuf>,
}

/// Progress of [`embed_store`], for a caller that shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreTextEvent {
    /// The checkpoint is loaded.
    Loaded {
        /// Transformer layers of the checkpoint.
        layers: usize,
        /// Vector width (hidden size).
        hidden: usize,
        /// Load time, s.
        seconds: f64,
        /// Materials with a description.
        descriptions: usize,
    },
    /// Embedding starts: `done` of `total` descriptions were embedded by an earlier run.
    Started { done: usize, total: usize },
    /// `count` more descriptions were embedded.
    Embedded { count: usize },
}

/// What [`embed_store`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreTextSummary {
    /// Rows of the committed `text` modality.
    pub rows: usize,
    /// Vector width (hidden size).
    pub dim: usize,
    /// Whether an existing `text` modality was replaced.
    pub replaced: bool,
    /// Descriptions embedded by this run (the rest were resumed).
    pub computed: usize,
    /// Descriptions in the store.
    pub total: usize,
    /// Descriptions longer than the model's limit, truncated.
    pub truncated: usize,
    /// The model's token limit.
    pub max_tokens: usize,
    /// Embedding time of this run, s.
    pub seconds: f64,
}

fn metrics_error(p: &Path, what: &str, e: impl std::fmt::Display) -> StoreTextError {
    StoreTextError::Input(format!("{}: {what}: {e}", p.display()))
}

/// Embeds every description of the store at `job.store` with the checkpoint at `job.model`
/// and stores the vectors as the [`TEXT_MODALITY`] modality (f16), replacing an existing one;
/// resumes a killed run when the checkpoint, pooling and token limit are the same.
pub fn embed_store(
    job: &StoreTextJob,
    device: &burn::tensor::Device,
    progress: &mut dyn FnMut(StoreTextEvent),
) -> Result<StoreTextSummary, StoreTextError> {
    if job.batch_size == 0 || job.chunk == 0 {
        return Err(StoreTextError::Input(
            "--batch-size and --chunk must be positive".into(),
        ));
    }
    let store = Store::open(&job.store)?;
    let mut ids: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    for (id, d) in store.ids().iter().zip(store.descriptions()) {
        let Some(d) = d else { continue };
        if d.trim().is_empty() {
            return Err(StoreTextError::Input(format!(
                "{}: material {id:?} has an empty description; re-import it with a description or without one",
                job.store.display()
            )));
        }
        ids.push(id.clone());
        texts.push(d.clone());
    }
    if ids.is_empty() {
        return Err(StoreTextError::Input(format!(
            "{}: no material has a description, so there is nothing to embed (import descriptions with a [[text]] recipe entry or robocrys files)",
            job.store.display()
        )));
    }
    drop(store);
    let t0 = Instant::now();
    let encoder = TextEncoder::load(&job.model, device)?;
    progress(StoreTextEvent::Loaded {
        layers: encoder.config.num_hidden_layers,
        hidden: encoder.dim(),
        seconds: t0.elapsed().as_secs_f64(),
        descriptions: ids.len(),
    });
    // The staging key: a resumed run must use the same vectors' recipe.
    let key = format!(
        "{} pooling={} max_tokens={}",
        encoder.fingerprint(),
        job.pooling.name(),
        encoder.tokenizer.max_len()
    );
    let mut staging = ModalityStaging::open(
        &job.store,
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
    let mut metrics = match &job.metrics {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| metrics_error(p, "cannot open metrics file", e))?,
        ),
        None => None,
    };
    progress(StoreTextEvent::Started {
        done: ids.len() - todo.len(),
        total: ids.len(),
    });
    // Chunks of similar length so each chunk's batches pad little.
    let todo_tokens: Vec<Tokenized> = todo.iter().map(|&i| tokens[i].clone()).collect();
    let order: Vec<usize> = length_batches(&todo_tokens, job.chunk)
        .into_iter()
        .flatten()
        .collect();
    let start = Instant::now();
    let mut done = 0usize;
    for chunk in order.chunks(job.chunk) {
        let chunk_tokens: Vec<Tokenized> = chunk.iter().map(|&k| todo_tokens[k].clone()).collect();
        let chunk_ids: Vec<String> = chunk.iter().map(|&k| ids[todo[k]].clone()).collect();
        let e = encoder.embed_tokens(&chunk_tokens, job.pooling, job.batch_size, &mut |n| {
            progress(StoreTextEvent::Embedded { count: n })
        });
        staging.write_chunk(&chunk_ids, &e.vectors)?;
        done += chunk.len();
        if let (Some(f), Some(p)) = (metrics.as_mut(), job.metrics.as_ref()) {
            let secs = start.elapsed().as_secs_f64();
            let line = json!({
                "event": "chunk", "done": ids.len() - todo.len() + done, "total": ids.len(),
                "seconds": secs, "texts_per_s": done as f64 / secs.max(1e-9),
                "tokens": chunk_tokens.iter().map(|t| t.ids.len()).sum::<usize>(),
            });
            writeln!(f, "{line}").map_err(|e| metrics_error(p, "writing metrics", e))?;
        }
    }
    let info = encoder.info(job.pooling, ids.len(), truncated, "f16");
    let info_json = serde_json::to_vec_pretty(&info)
        .map_err(|e| StoreTextError::Input(format!("encoding {ENCODER_FILE}: {e}")))?;
    let summary = staging.commit(&[(ENCODER_FILE, info_json)])?;
    Ok(StoreTextSummary {
        rows: summary.rows,
        dim: encoder.dim(),
        replaced: summary.replaced,
        computed: done,
        total: ids.len(),
        truncated,
        max_tokens: encoder.tokenizer.max_len(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
