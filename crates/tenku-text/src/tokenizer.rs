//! The prompt tokenizer: a `tokenizer.json` (HF `tokenizers`) with WanPipeline's cleaning,
//! truncation and padding rules.
//!
//! WanPipeline calls the umT5 tokenizer as
//! `tokenizer(prompts, padding="max_length", max_length=L, truncation=True, add_special_tokens=True)`:
//! the cleaned prompt is tokenized, cut to `L − 1` tokens so that `</s>` still fits, `</s>`
//! appended by the post-processor, and the result padded with `<pad>` (id 0) to exactly `L`.
//! The attention mask covers the prompt tokens and `</s>`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use tokenizers::{PostProcessor, Tokenizer, TruncationDirection};

use crate::clean::{is_python_space, prompt_clean};
use crate::error::{Error, Result};

/// Token ids of a batch of prompts, each padded to the same length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBatch {
    /// Token ids per prompt, each exactly `max_len` long: the prompt's tokens, `</s>`, then the
    /// padding id.
    pub ids: Vec<Vec<u32>>,
    /// Number of real tokens (prompt tokens and `</s>`) of each prompt; the attention mask is 1
    /// for the first `lengths[i]` positions and 0 after.
    pub lengths: Vec<usize>,
}

impl TokenBatch {
    /// The attention mask, 1 for real tokens and 0 for padding, one row per prompt.
    pub fn attention_mask(&self) -> Vec<Vec<u32>> {
        self.ids
            .iter()
            .zip(&self.lengths)
            .map(|(row, &len)| (0..row.len()).map(|i| u32::from(i < len)).collect())
            .collect()
    }
}

/// A T5/umT5 tokenizer loaded from `tokenizer.json`, applying WanPipeline's prompt handling.
#[derive(Clone, Debug)]
pub struct PromptTokenizer {
    tokenizer: Tokenizer,
    path: PathBuf,
    pad_id: u32,
    unk_id: Option<u32>,
    special: usize,
    model_max_length: Option<usize>,
}

/// The few fields of `tokenizer.json` the `tokenizers` crate does not expose.
#[derive(Deserialize)]
struct TokenizerHeader {
    model: ModelHeader,
}

#[derive(Deserialize)]
struct ModelHeader {
    #[serde(default)]
    unk_id: Option<u32>,
}

/// `tokenizer_config.json`, the transformers side of the tokenizer (special token names).
#[derive(Deserialize)]
struct TokenizerConfig {
    #[serde(default)]
    pad_token: Option<TokenName>,
    /// transformers writes a huge float (1e30) for "no limit".
    #[serde(default)]
    model_max_length: Option<f64>,
}

/// A special token as transformers writes it: a string or an `AddedToken` object.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenName {
    Plain(String),
    Added { content: String },
}

impl PromptTokenizer {
    /// Loads `tokenizer.json`.
    ///
    /// The padding token is `pad_token` from `tokenizer_config.json` beside it when that file
    /// exists, `<pad>` otherwise (transformers' T5 default). Truncation and padding settings stored
    /// in the file are ignored: [`PromptTokenizer::encode`] applies the pipeline's own.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { what: "tokenizer.json", path: path.to_owned() },
            _ => Error::Io { path: path.to_owned(), source },
        })?;
        let mut tokenizer = Tokenizer::from_str(&text)
            .map_err(|source| Error::TokenizerLoad { path: path.to_owned(), source })?;
        tokenizer
            .with_truncation(None)
            .map_err(|source| Error::TokenizerLoad { path: path.to_owned(), source })?;
        tokenizer.with_padding(None);
        let header: TokenizerHeader =
            serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_owned(), source })?;
        let unk_id = header.model.unk_id.or_else(|| tokenizer.token_to_id("<unk>"));

        let config = match path.parent().map(|dir| dir.join("tokenizer_config.json")) {
            Some(config_path) if config_path.is_file() => {
                let text = std::fs::read_to_string(&config_path)
                    .map_err(|source| Error::Io { path: config_path.clone(), source })?;
                serde_json::from_str(&text)
                    .map_err(|source| Error::Json { path: config_path.clone(), source })?
            }
            _ => TokenizerConfig { pad_token: None, model_max_length: None },
        };
        let model_max_length = config.model_max_length.filter(|n| (1.0..1e9).contains(n)).map(|n| n as usize);
        let pad_token = config
            .pad_token
            .map(|token| match token {
                TokenName::Plain(name) | TokenName::Added { content: name } => name,
            })
            .unwrap_or_else(|| "<pad>".to_owned());
        let pad_id = tokenizer
            .token_to_id(&pad_token)
            .ok_or_else(|| Error::MissingToken { path: path.to_owned(), token: pad_token })?;
        let special = tokenizer.get_post_processor().map_or(0, |p| p.added_tokens(false));
        Ok(Self { tokenizer, path: path.to_owned(), pad_id, unk_id, special, model_max_length })
    }

    /// The `tokenizer.json` this tokenizer was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `model_max_length` from `tokenizer_config.json`, when it names a real limit (umT5: 512;
    /// a model trained on short prompts records its own).
    pub fn model_max_length(&self) -> Option<usize> {
        self.model_max_length
    }

    /// The padding id (0 for T5).
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The unknown-token id, if the model has one (2 for T5).
    pub fn unk_id(&self) -> Option<u32> {
        self.unk_id
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// The underlying `tokenizers` tokenizer (truncation and padding disabled).
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Cleans ([`prompt_clean`]), tokenizes, truncates and pads each prompt to exactly `max_len`
    /// ids, like WanPipeline's `_get_t5_prompt_embeds`.
    ///
    /// Fails when a prompt cannot be tokenized or `max_len` is shorter than the special tokens
    /// the tokenizer appends (1 for T5).
    pub fn encode(&self, prompts: &[&str], max_len: usize) -> Result<TokenBatch> {
        let room = max_len
            .checked_sub(self.special)
            .ok_or(Error::MaxLenTooShort { max_len, special: self.special })?;
        let mut ids = Vec::with_capacity(prompts.len());
        let mut lengths = Vec::with_capacity(prompts.len());
        for prompt in prompts {
            let cleaned = prompt_clean(prompt);
            let tokenize = |source| Error::Tokenize { prompt: cleaned.clone(), source };
            let mut encoding = self.tokenizer.encode(cleaned.as_str(), false).map_err(tokenize)?;
            // What `tokenizers` does under `truncation=True`: cut the content so that the special
            // tokens still fit, then add them.
            if encoding.len() > room {
                encoding.truncate(room, 0, TruncationDirection::Right);
            }
            let encoding = self.tokenizer.post_process(encoding, None, true).map_err(tokenize)?;
            let mut row: Vec<u32> = encoding.get_ids().to_vec();
            row.truncate(max_len);
            lengths.push(row.len());
            row.resize(max_len, self.pad_id);
            ids.push(row);
        }
        Ok(TokenBatch { ids, lengths })
    }

    /// Words of the cleaned prompt that contain a token outside the vocabulary (the unknown
    /// token), in order of first appearance, each once. Empty when the model has no unknown token
    /// or every word is known.
    pub fn unknown_words(&self, prompt: &str) -> Vec<String> {
        let Some(unk) = self.unk_id else { return Vec::new() };
        let cleaned = prompt_clean(prompt);
        let mut unknown: Vec<String> = Vec::new();
        for word in cleaned.split(is_python_space).filter(|w| !w.is_empty()) {
            let has_unk = self.tokenizer.encode(word, false).is_ok_and(|e| e.get_ids().contains(&unk));
            if has_unk && !unknown.iter().any(|w| w == word) {
                unknown.push(word.to_owned());
            }
        }
        unknown
    }
}
