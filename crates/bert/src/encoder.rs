//! [`TextEncoder`]: a BERT checkpoint folder loaded for frozen sentence embedding, with
//! length-bucketed batching.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::BertConfig;
use crate::error::{BertError, Result};
use crate::model::{pool, BertModel, Pooling};
use crate::tokenizer::{BertTokenizer, TokenizerSource, MAX_TOKENS};
use crate::weights::{load_weights, WeightFormat};

/// The files of a checkpoint folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFiles {
    pub config: PathBuf,
    /// `tokenizer.json` if present, else `vocab.txt`.
    pub tokenizer: PathBuf,
    pub weights: PathBuf,
    pub weight_format: WeightFormat,
}

impl CheckpointFiles {
    /// Finds the files in `dir`: `config.json`; `tokenizer.json` (preferred) or `vocab.txt`;
    /// `model.safetensors` (preferred) or `pytorch_model.bin`.
    pub fn find(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(BertError::MissingFile {
                dir: dir.to_path_buf(),
                wanted: "the checkpoint folder itself (not found or not a folder)".into(),
            });
        }
        let first = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
        let missing = |wanted: &str| BertError::MissingFile {
            dir: dir.to_path_buf(),
            wanted: wanted.into(),
        };
        let config = first(&["config.json"]).ok_or_else(|| missing("config.json"))?;
        let tokenizer = first(&["tokenizer.json", "vocab.txt"])
            .ok_or_else(|| missing("tokenizer.json or vocab.txt"))?;
        let (weights, weight_format) = if let Some(p) = first(&["model.safetensors"]) {
            (p, WeightFormat::Safetensors)
        } else if let Some(p) = first(&["pytorch_model.bin"]) {
            (p, WeightFormat::Pytorch)
        } else {
            return Err(missing("model.safetensors or pytorch_model.bin"));
        };
        Ok(CheckpointFiles {
            config,
            tokenizer,
            weights,
            weight_format,
        })
    }
}

/// Which checkpoint made a set of vectors and how (the store's `modalities/text/encoder.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderInfo {
    /// The checkpoint's folder name (e.g. `all-MiniLM-L6-v2`, `matbert-base-cased`).
    pub model: String,
    /// The checkpoint folder as given.
    pub model_path: String,
    /// SHA-256 (hex) of config.json, the tokenizer file and the weight file, concatenated in
    /// that order: tells apart two checkpoints with the same folder name.
    pub fingerprint: String,
    /// `model.safetensors` or `pytorch_model.bin`.
    pub weights_file: String,
    /// `tokenizer.json` or `vocab.txt`.
    pub tokenizer_file: String,
    /// For `vocab.txt`: whether the text was lowercased (uncased vocabulary).
    pub lowercase: Option<bool>,
    /// `cls` or `mean`.
    pub pooling: String,
    /// Vector width (= the config's hidden_size).
    pub dim: usize,
    /// Longest token sequence, tokens; longer texts were cut.
    pub max_tokens: usize,
    /// Texts embedded.
    pub texts: usize,
    /// How many of them were longer than `max_tokens` and truncated.
    pub truncated: usize,
    /// On-disk element type of the vectors (`f16` in a store).
    pub dtype: String,
    /// `multimat-bert <version>`.
    pub software: String,
}

/// Sentence vectors of a list of texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Row-major `[texts, dim]`.
    pub vectors: Vec<f32>,
    pub dim: usize,
    /// Token count of each text after truncation (with `[CLS]` and `[SEP]`).
    pub tokens: Vec<usize>,
    /// Whether each text was truncated.
    pub truncated: Vec<bool>,
}

impl Embeddings {
    /// Vector of text `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    /// Number of truncated texts.
    pub fn truncated_count(&self) -> usize {
        self.truncated.iter().filter(|&&t| t).count()
    }
}

/// A frozen BERT checkpoint: tokenizer + model, on a burn device.
#[derive(Debug)]
pub struct TextEncoder {
    pub config: BertConfig,
    pub tokenizer: BertTokenizer,
    pub model: BertModel,
    pub device: Device,
    pub files: CheckpointFiles,
    model_path: PathBuf,
    fingerprint: String,
}

impl TextEncoder {
    /// Loads the checkpoint folder `dir` on `device`. Sequences are cut at
    /// min(512, max_position_embeddings) tokens.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let files = CheckpointFiles::find(dir)?;
        let config = BertConfig::from_file(&files.config)?;
        let max_len = MAX_TOKENS.min(config.max_position_embeddings);
        let tokenizer = BertTokenizer::from_vocab_or_json(&files.tokenizer, max_len)?;
        if tokenizer.vocab_len() > config.vocab_size {
            return Err(BertError::tokenizer(
                &files.tokenizer,
                format!(
                    "{} tokens, but config.json's vocab_size is {}: tokenizer and model do not belong together",
                    tokenizer.vocab_len(),
                    config.vocab_size
                ),
            ));
        }
        let mut model = BertModel::init(&config, device);
        load_weights(&mut model, &files.weights, files.weight_format)?;
        let fingerprint = fingerprint(&[&files.config, &files.tokenizer, &files.weights])?;
        Ok(TextEncoder {
            config,
            tokenizer,
            model,
            device: device.clone(),
            files,
            model_path: dir.to_path_buf(),
            fingerprint,
        })
    }

    /// Width of the sentence vectors.
    pub fn dim(&self) -> usize {
        self.config.hidden_size
    }

    /// SHA-256 of the checkpoint files (see [`EncoderInfo::fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The record for vectors made by this encoder with `pooling` from `texts` texts, of which
    /// `truncated` were cut.
    pub fn info(
        &self,
        pooling: Pooling,
        texts: usize,
        truncated: usize,
        dtype: &str,
    ) -> EncoderInfo {
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        };
        let model = std::fs::canonicalize(&self.model_path)
            .ok()
            .map(|p| name(&p))
            .unwrap_or_else(|| name(&self.model_path));
        EncoderInfo {
            model,
            model_path: self.model_path.display().to_string(),
            fingerprint: self.fingerprint.clone(),
            weights_file: name(&self.files.weights),
            tokenizer_file: name(&self.files.tokenizer),
            lowercase: match self.tokenizer.source() {
                TokenizerSource::Vocab { lowercase, .. } => Some(*lowercase),
                TokenizerSource::TokenizerJson(_) => None,
            },
            pooling: pooling.name().into(),
            dim: self.dim(),
            max_tokens: self.tokenizer.max_len(),
            texts,
            truncated,
            dtype: dtype.into(),
            software: format!("multimat-bert {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Tokenizes every text (ids are checked against the vocabulary). `names[i]` names text
    /// `i` in errors (its material id).
    pub fn tokenize(&self, texts: &[&str], names: &[&str]) -> Result<Vec<crate::Tokenized>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let name = names.get(i).copied().unwrap_or("");
                let tok = self.tokenizer.encode(t, i, name)?;
                if let Some(&bad) = tok
                    .ids
                    .iter()
                    .find(|&&id| id as usize >= self.config.vocab_size)
                {
                    return Err(BertError::BadText {
                        index: i,
                        name: name.into(),
                        problem: format!(
                            "token id {bad} is outside the model's vocabulary of {}",
                            self.config.vocab_size
                        ),
                    });
                }
                Ok(tok)
            })
            .collect()
    }

    /// Embeds tokenized texts. Texts are sorted by length and cut into batches of
    /// `batch_size`, each padded only to its longest member, so padding costs little; the
    /// result is in input order. `progress(n)` is called after each batch with the number of
    /// texts it held.
    pub fn embed_tokens(
        &self,
        tokens: &[crate::Tokenized],
        pooling: Pooling,
        batch_size: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Embeddings {
        let dim = self.dim();
        let mut out = vec![0f32; tokens.len() * dim];
        for batch in length_batches(tokens, batch_size.max(1)) {
            let len = batch
                .iter()
                .map(|&i| tokens[i].ids.len())
                .max()
                .unwrap_or(0);
            let b = batch.len();
            let pad = self.config.pad_token_id as u32;
            let mut ids = vec![pad; b * len];
            let mut mask = vec![0u8; b * len];
            for (r, &i) in batch.iter().enumerate() {
                let t = &tokens[i].ids;
                ids[r * len..r * len + t.len()].copy_from_slice(t);
                mask[r * len..r * len + t.len()].fill(1);
            }
            let hidden = self.model.forward(&ids, &mask, b, len, &self.device);
            let pooled = pool(hidden, &mask, pooling, &self.device);
            let values: Vec<f32> = pooled.into_data().iter::<f32>().collect();
            for (r, &i) in batch.iter().enumerate() {
                out[i * dim..(i + 1) * dim].copy_from_slice(&values[r * dim..(r + 1) * dim]);
            }
            progress(b);
        }
        Embeddings {
            vectors: out,
            dim,
            tokens: tokens.iter().map(|t| t.ids.len()).collect(),
            truncated: tokens.iter().map(|t| t.truncated).collect(),
        }
    }

    /// Tokenizes and embeds `texts` (see [`tokenize`](Self::tokenize) and
    /// [`embed_tokens`](Self::embed_tokens)).
    pub fn embed(
        &self,
        texts: &[&str],
        names: &[&str],
        pooling: Pooling,
        batch_size: usize,
    ) -> Result<Embeddings> {
        let tokens = self.tokenize(texts, names)?;
        Ok(self.embed_tokens(&tokens, pooling, batch_size, &mut |_| {}))
    }
}

/// Indices of `tokens` grouped into batches of at most `batch_size` texts of similar length:
/// sorted by token count (ties by index, so the batching is deterministic).
pub fn length_batches(tokens: &[crate::Tokenized], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| (tokens[i].ids.len(), i));
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// SHA-256 over the contents of `files`, in order, as lowercase hex.
pub fn fingerprint(files: &[&Path]) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let mut file = std::fs::File::open(f).map_err(|e| BertError::io(f, e))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| BertError::io(f, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
