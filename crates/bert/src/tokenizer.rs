//! WordPiece tokenization with the HuggingFace `tokenizers` crate: from `tokenizer.json` when the
//! checkpoint ships one (it records the exact normalizer), else from `vocab.txt` with BERT's
//! normalizer (lowercasing from `tokenizer_config.json`'s `do_lower_case`, or guessed from the
//! vocabulary), BERT pre-tokenizer and `[CLS] … [SEP]` post-processing.

use std::path::{Path, PathBuf};

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{
    AddedToken, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy,
};

use crate::error::{BertError, Result};

/// BERT's hard limit on sequence length, tokens including `[CLS]` and `[SEP]`.
pub const MAX_TOKENS: usize = 512;

/// Token ids of one text, ready for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// `[CLS] … [SEP]` WordPiece ids.
    pub ids: Vec<u32>,
    /// Whether the text was longer than the limit and cut.
    pub truncated: bool,
}

/// Where the vocabulary came from and how it normalizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// `tokenizer.json` (normalization as recorded there).
    TokenizerJson(PathBuf),
    /// `vocab.txt`, lowercasing or not.
    Vocab { path: PathBuf, lowercase: bool },
}

/// A BERT tokenizer that truncates to `max_len` tokens.
#[derive(Clone)]
pub struct BertTokenizer {
    inner: Tokenizer,
    max_len: usize,
    source: TokenizerSource,
    /// Vocabulary size including added tokens.
    vocab_len: usize,
}

impl std::fmt::Debug for BertTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertTokenizer")
            .field("source", &self.source)
            .field("max_len", &self.max_len)
            .field("vocab_len", &self.vocab_len)
            .finish()
    }
}

/// The special tokens BERT's post-processing and WordPiece need.
const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

impl BertTokenizer {
    /// Loads `tokenizer.json`, keeping its normalizer, pre-tokenizer and post-processor; its
    /// own truncation/padding settings are replaced by truncation to `max_len` and no padding
    /// (the encoder pads per batch).
    pub fn from_tokenizer_json(path: &Path, max_len: usize) -> Result<Self> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| BertError::tokenizer(path, e))?;
        inner.with_padding(None);
        let source = TokenizerSource::TokenizerJson(path.to_path_buf());
        Self::finish(inner, max_len, source, path)
    }

    /// Builds BERT's tokenizer from `vocab.txt` (one token per line, id = line number).
    /// `lowercase`: `None` reads `do_lower_case` from a `tokenizer_config.json` next to the
    /// vocabulary, else guesses from the vocabulary (cased vocabularies hold capitalised
    /// words; uncased ones hold none outside `[...]` specials).
    pub fn from_vocab(path: &Path, lowercase: Option<bool>, max_len: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| BertError::io(path, e))?;
        let vocab =
            WordPiece::read_bytes(text.as_bytes()).map_err(|e| BertError::tokenizer(path, e))?;
        if vocab.is_empty() {
            return Err(BertError::tokenizer(path, "the vocabulary is empty"));
        }
        for s in ["[UNK]", "[CLS]", "[SEP]"] {
            if !vocab.contains_key(s) {
                return Err(BertError::tokenizer(
                    path,
                    format!("the vocabulary has no {s} token, so it is not a BERT vocabulary"),
                ));
            }
        }
        let lowercase = match lowercase {
            Some(l) => l,
            None => match config_lowercase(path)? {
                Some(l) => l,
                None => !vocab.keys().any(|t| {
                    !(t.starts_with('[') && t.ends_with(']')) && t.chars().any(char::is_uppercase)
                }),
            },
        };
        let cls = vocab["[CLS]"];
        let sep = vocab["[SEP]"];
        let specials: Vec<AddedToken> = SPECIAL
            .iter()
            .filter(|s| vocab.contains_key(**s))
            .map(|s| AddedToken::from(s.to_string(), true))
            .collect();
        let model = WordPiece::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix("##".into())
            .build()
            .map_err(|e| BertError::tokenizer(path, e))?;
        let mut inner = Tokenizer::new(model);
        // Accents are stripped exactly when lowercasing, as in HF's BertTokenizer.
        inner.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)));
        inner.with_pre_tokenizer(Some(BertPreTokenizer));
        inner.with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), sep),
            ("[CLS]".into(), cls),
        )));
        inner.add_special_tokens(&specials);
        let source = TokenizerSource::Vocab {
            path: path.to_path_buf(),
            lowercase,
        };
        Self::finish(inner, max_len, source, path)
    }

    fn finish(
        mut inner: Tokenizer,
        max_len: usize,
        source: TokenizerSource,
        path: &Path,
    ) -> Result<Self> {
        if max_len < 3 {
            return Err(BertError::tokenizer(
                path,
                format!("max_len {max_len} leaves no room for [CLS] text [SEP]"),
            ));
        }
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| BertError::tokenizer(path, e))?;
        let vocab_len = inner.get_vocab_size(true);
        Ok(BertTokenizer {
            inner,
            max_len,
            source,
            vocab_len,
        })
    }

    /// [`from_tokenizer_json`](Self::from_tokenizer_json) for a file named
    /// `tokenizer.json`, else [`from_vocab`](Self::from_vocab) (lowercasing as configured or
    /// guessed).
    pub fn from_vocab_or_json(path: &Path, max_len: usize) -> Result<Self> {
        if path.file_name().is_some_and(|n| n == "tokenizer.json") {
            Self::from_tokenizer_json(path, max_len)
        } else {
            Self::from_vocab(path, None, max_len)
        }
    }

    /// Where the vocabulary came from.
    pub fn source(&self) -> &TokenizerSource {
        &self.source
    }

    /// Longest sequence produced, tokens.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_len(&self) -> usize {
        self.vocab_len
    }

    /// Tokenizes one text into `[CLS] … [SEP]` ids, cut to [`max_len`](Self::max_len).
    /// `index` and `name` identify the text in errors; an empty or whitespace-only text is an
    /// error (BERT would embed the bare `[CLS] [SEP]`, a vector that describes nothing).
    pub fn encode(&self, text: &str, index: usize, name: &str) -> Result<Tokenized> {
        let bad = |problem: String| BertError::BadText {
            index,
            name: name.to_string(),
            problem,
        };
        if text.trim().is_empty() {
            return Err(bad("the text is empty".into()));
        }
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| bad(format!("tokenizer failed: {e}")))?;
        let truncated = !enc.get_overflowing().is_empty();
        let ids = enc.get_ids().to_vec();
        if ids.len() <= 2 {
            return Err(bad(
                "the text has no tokens after normalization (only control characters?)".into(),
            ));
        }
        Ok(Tokenized { ids, truncated })
    }
}

/// `do_lower_case` from `tokenizer_config.json` next to `vocab`, if that file says.
fn config_lowercase(vocab: &Path) -> Result<Option<bool>> {
    let path = vocab.with_file_name("tokenizer_config.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(BertError::io(&path, e)),
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| BertError::tokenizer(&path, format!("not valid JSON: {e}")))?;
    Ok(v.get("do_lower_case").and_then(|x| x.as_bool()))
}
