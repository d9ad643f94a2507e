//! `config.json` of a HuggingFace BERT checkpoint (`transformers.BertConfig`).

use std::path::Path;

use serde::Deserialize;

use crate::error::{BertError, Result};

/// The feed-forward activation (`hidden_act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: the exact, erf-based GELU (BERT, MiniLM).
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh` / `gelu_fast`: the tanh approximation.
    GeluTanh,
    /// `relu`.
    Relu,
}

/// The architecture numbers of a BERT checkpoint, with `transformers.BertConfig`'s defaults
/// for fields an old `config.json` (e.g. SciBERT's) leaves out.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Token vocabulary size (30522 for uncased BERT/MiniLM, 31090 for SciBERT).
    pub vocab_size: usize,
    /// Width of every hidden state and of the pooled sentence vector (384 for MiniLM-L6,
    /// 768 for BERT-base).
    pub hidden_size: usize,
    /// Transformer layers (6 for MiniLM-L6, 12 for BERT-base).
    pub num_hidden_layers: usize,
    /// Attention heads per layer; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer (usually 4 × hidden).
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    /// Longest token sequence the position table covers (512).
    pub max_position_embeddings: usize,
    /// Segment (token-type) vocabulary size (2).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon (1e-12).
    pub layer_norm_eps: f64,
    /// Id of the padding token (0).
    pub pad_token_id: usize,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    hidden_act: Option<String>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    pad_token_id: Option<usize>,
    position_embedding_type: Option<String>,
}

impl BertConfig {
    /// Reads and validates `path` (a `config.json`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| BertError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses `config.json` text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = serde_json::from_str(text)
            .map_err(|e| BertError::config(path, format!("not a valid config.json: {e}")))?;
        // Old checkpoints (SciBERT, the original Google conversions) have no model_type; then
        // the architectures list, if any, must name a BERT class.
        match raw.model_type.as_deref() {
            Some("bert") => {}
            Some(other) => {
                return Err(BertError::NotBert {
                    file: path.to_path_buf(),
                    model_type: other.to_string(),
                })
            }
            None => {
                if let Some(archs) = &raw.architectures {
                    if let Some(a) = archs.iter().find(|a| !a.starts_with("Bert")) {
                        return Err(BertError::NotBert {
                            file: path.to_path_buf(),
                            model_type: a.clone(),
                        });
                    }
                }
            }
        }
        if let Some(p) = raw.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(BertError::config(
                    path,
                    format!("position_embedding_type {p:?} is not supported (only \"absolute\")"),
                ));
            }
        }
        let need = |v: Option<usize>, name: &str| {
            v.ok_or_else(|| BertError::config(path, format!("missing field {name}")))
        };
        let hidden_act = match raw.hidden_act.as_deref().unwrap_or("gelu") {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(BertError::config(
                    path,
                    format!("hidden_act {other:?} is not supported (gelu, gelu_new, relu)"),
                ))
            }
        };
        let c = BertConfig {
            vocab_size: need(raw.vocab_size, "vocab_size")?,
            hidden_size: need(raw.hidden_size, "hidden_size")?,
            num_hidden_layers: need(raw.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads: need(raw.num_attention_heads, "num_attention_heads")?,
            intermediate_size: need(raw.intermediate_size, "intermediate_size")?,
            hidden_act,
            max_position_embeddings: raw.max_position_embeddings.unwrap_or(512),
            type_vocab_size: raw.type_vocab_size.unwrap_or(2),
            layer_norm_eps: raw.layer_norm_eps.unwrap_or(1e-12),
            pad_token_id: raw.pad_token_id.unwrap_or(0),
        };
        c.validate(path)?;
        Ok(c)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v == 0 {
                return Err(BertError::config(path, format!("{name} must be positive")));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(BertError::config(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(BertError::config(
                path,
                format!("layer_norm_eps {} must be positive", self.layer_norm_eps),
            ));
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(BertError::config(
                path,
                format!(
                    "pad_token_id {} is outside the vocabulary of {}",
                    self.pad_token_id, self.vocab_size
                ),
            ));
        }
        if self.max_position_embeddings < 3 {
            return Err(BertError::config(
                path,
                "max_position_embeddings must leave room for [CLS] text [SEP]",
            ));
        }
        Ok(())
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: &str = r#"{"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
      "hidden_act": "gelu", "hidden_size": 384, "intermediate_size": 1536,
      "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
      "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
      "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30522}"#;

    #[test]
    fn reads_minilm_and_scibert_style_configs() {
        let c = BertConfig::parse(MINILM, Path::new("config.json")).unwrap();
        assert_eq!(
            (c.hidden_size, c.num_hidden_layers, c.head_dim()),
            (384, 6, 32)
        );
        // SciBERT's config has neither model_type nor layer_norm_eps.
        let sci = r#"{"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
          "hidden_size": 768, "intermediate_size": 3072, "max_position_embeddings": 512,
          "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
          "vocab_size": 31090}"#;
        let c = BertConfig::parse(sci, Path::new("config.json")).unwrap();
        assert_eq!(c.layer_norm_eps, 1e-12);
        assert_eq!(c.vocab_size, 31090);
    }

    #[test]
    fn rejects_non_bert_and_inconsistent_configs() {
        let gpt = MINILM.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\"");
        let e = BertConfig::parse(&gpt, Path::new("x/config.json")).unwrap_err();
        assert!(matches!(e, BertError::NotBert { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("x/config.json: model_type \"gpt2\""),
            "{e}"
        );
        let heads = MINILM.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7");
        let e = BertConfig::parse(&heads, Path::new("config.json")).unwrap_err();
        assert!(e.to_string().contains("not a multiple"), "{e}");
        let e = BertConfig::parse("{", Path::new("config.json")).unwrap_err();
        assert!(e.to_string().contains("not a valid config.json"), "{e}");
        let no_hidden = MINILM.replace("\"hidden_size\": 384,", "");
        let e = BertConfig::parse(&no_hidden, Path::new("config.json")).unwrap_err();
        assert!(e.to_string().contains("missing field hidden_size"), "{e}");
        let roberta_arch = r#"{"architectures": ["RobertaModel"], "hidden_size": 8}"#;
        let e = BertConfig::parse(roberta_arch, Path::new("config.json")).unwrap_err();
        assert!(matches!(e, BertError::NotBert { .. }), "{e}");
    }
}
