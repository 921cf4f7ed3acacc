//! The error type of `tenku-vae`.

use std::path::PathBuf;

/// What can go wrong while loading a Wan VAE.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the config or the weights failed; the inner error names the file and, for weight
    /// problems, the checkpoint keys (missing, unexpected or mis-shaped).
    #[error(transparent)]
    Load(#[from] tenku_core::Error),
    /// `config.json` parsed but describes no valid VAE.
    #[error("invalid VAE config {path}: {reason}")]
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
