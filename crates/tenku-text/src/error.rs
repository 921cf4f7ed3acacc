//! The error type of `tenku-text`.

use std::path::PathBuf;
use tenku_core::error_chain;

/// Everything that can go wrong while loading or running the text encoder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file the tokenizer or encoder needs does not exist.
    #[error("{what} not found: {path}")]
    NotFound {
        /// What was looked for (`tokenizer.json`, `config.json`).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (config, tokenizer config) did not parse or lacks required fields.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The `tokenizers` crate rejected a tokenizer file.
    #[error("cannot load tokenizer {path}: {source}")]
    TokenizerLoad {
        /// The `tokenizer.json` file.
        path: PathBuf,
        /// The tokenizer's error.
        #[source]
        source: tokenizers::Error,
    },
    /// Tokenizing a prompt failed.
    #[error("cannot tokenize prompt {prompt:?}: {source}")]
    Tokenize {
        /// The prompt (after cleaning).
        prompt: String,
        /// The tokenizer's error.
        #[source]
        source: tokenizers::Error,
    },
    /// A special token the pipeline needs is not in the vocabulary.
    #[error("tokenizer {path} has no `{token}` token")]
    MissingToken {
        /// The `tokenizer.json` file.
        path: PathBuf,
        /// The token looked for (the padding token).
        token: String,
    },
    /// `max_len` cannot hold the special tokens the tokenizer appends.
    #[error("max_len {max_len} is too short: the tokenizer appends {special} special token(s)")]
    MaxLenTooShort {
        /// The requested length.
        max_len: usize,
        /// Special tokens appended to every prompt (`</s>` for T5).
        special: usize,
    },
    /// A configuration value is unsupported or inconsistent.
    #[error("invalid config {path}: {reason}")]
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// Reading the weights failed: a missing, unexpected or mis-shaped tensor, named by key.
    #[error(transparent)]
    Weights(#[from] tenku_core::Error),
}

impl Error {
    /// Converts into `tenku_core`'s error, for the [`tenku_core::TextEncoder`] seam; errors that
    /// name no file (a prompt that fails to tokenize, a too short `max_len`) are attributed to
    /// `tokenizer`, the tokenizer file in use.
    pub(crate) fn into_core(self, tokenizer: &std::path::Path) -> tenku_core::Error {
        match self {
            Error::Weights(inner) => inner,
            Error::NotFound { what, path } => tenku_core::Error::NotFound { what, path },
            Error::Io { path, source } => tenku_core::Error::Io { path, source },
            Error::Json { path, source } => tenku_core::Error::Json { path, source },
            Error::InvalidConfig { path, reason } => tenku_core::Error::InvalidConfig { path, reason },
            Error::TokenizerLoad { ref path, .. } | Error::MissingToken { ref path, .. } => {
                tenku_core::Error::Load { path: path.clone(), reason: error_chain(&self) }
            }
            other @ (Error::Tokenize { .. } | Error::MaxLenTooShort { .. }) => {
                tenku_core::Error::InvalidConfig { path: tokenizer.to_owned(), reason: error_chain(&other) }
            }
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
