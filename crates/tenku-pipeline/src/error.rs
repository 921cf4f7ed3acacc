//! The error type of `tenku-pipeline`.

use std::path::PathBuf;

/// What can go wrong preparing or running a generation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request value is out of range; the message names the flag and the nearest valid values.
    #[error("invalid {flag} {value}: {expected}")]
    InvalidRequest {
        /// The CLI flag (or field) at fault, e.g. `--frames`.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What is accepted, with the nearest valid values where there are some.
        expected: String,
    },
    /// An initial-latents file does not hold what the request needs.
    #[error("noise file {path}: {reason}")]
    Noise {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// Reading a model or weights failed.
    #[error(transparent)]
    Model(#[from] tenku_core::Error),
    /// Loading the tokenizer or text encoder failed.
    #[error(transparent)]
    Text(#[from] tenku_text::Error),
    /// Loading the transformer failed.
    #[error(transparent)]
    Transformer(#[from] tenku_dit::Error),
    /// Loading the VAE failed.
    #[error(transparent)]
    Vae(#[from] tenku_vae::Error),
    /// Choosing or running the sampler failed.
    #[error(transparent)]
    Sampler(#[from] tenku_sampler::Error),
}
