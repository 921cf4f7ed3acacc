//! Word-level tokenizers in T5's conventions, for models trained on a closed vocabulary (such as
//! the shapes world's caption grammar).

use std::collections::HashMap;
use std::path::Path;

use tokenizers::models::wordlevel::WordLevel;
use tokenizers::normalizers::Lowercase;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};

/// The special tokens, in id order: T5's `<pad>` = 0, `</s>` = 1, `<unk>` = 2.
pub const SPECIAL_TOKENS: [&str; 3] = ["<pad>", "</s>", "<unk>"];

/// Builds a tokenizer whose vocabulary is [`SPECIAL_TOKENS`] followed by `words` (lowercased,
/// deduplicated, in the given order): text is lowercased, split on whitespace, and `</s>` is
/// appended, so [`PromptTokenizer`](crate::PromptTokenizer) treats it like umT5's.
pub fn word_level_tokenizer(words: &[&str]) -> Result<Tokenizer> {
    let mut vocab: HashMap<String, u32> = HashMap::new();
    for word in SPECIAL_TOKENS.iter().copied().chain(words.iter().copied()) {
        let next = vocab.len() as u32;
        vocab.entry(word.to_lowercase()).or_insert(next);
    }
    let build_error = |source| Error::TokenizerLoad { path: "<word-level vocabulary>".into(), source };
    let model = WordLevel::builder()
        .vocab(vocab.into_iter().collect())
        .unk_token(SPECIAL_TOKENS[2].into())
        .build()
        .map_err(build_error)?;
    let post = TemplateProcessing::builder()
        .try_single("$A </s>")
        .map_err(|e| build_error(e.into()))?
        .special_tokens(vec![("</s>", 1)])
        .build()
        .map_err(|e| build_error(e.into()))?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(Lowercase)).map_err(build_error)?;
    tokenizer.with_pre_tokenizer(Some(WhitespaceSplit));
    tokenizer.with_post_processor(Some(post));
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect();
    tokenizer.add_special_tokens(specials).map_err(build_error)?;
    Ok(tokenizer)
}

/// Writes `tokenizer.json` and `tokenizer_config.json` (special tokens, `model_max_length`) for
/// a [`word_level_tokenizer`] into `dir`, atomically.
pub fn save_word_level_tokenizer(dir: &Path, words: &[&str], model_max_length: usize) -> Result<()> {
    let tokenizer = word_level_tokenizer(words)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })?;
    let path = dir.join("tokenizer.json");
    let text =
        tokenizer.to_string(true).map_err(|source| Error::TokenizerLoad { path: path.clone(), source })?;
    tenku_core::write_file_atomic(&path, text.as_bytes())?;
    let config = serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "pad_token": SPECIAL_TOKENS[0],
        "eos_token": SPECIAL_TOKENS[1],
        "unk_token": SPECIAL_TOKENS[2],
        "model_max_length": model_max_length,
    });
    let text = serde_json::to_string_pretty(&config).expect("a JSON literal serializes");
    tenku_core::write_file_atomic(&dir.join("tokenizer_config.json"), format!("{text}\n").as_bytes())?;
    Ok(())
}
