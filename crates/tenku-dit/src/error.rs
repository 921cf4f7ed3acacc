//! The error types of `tenku-dit`.

use std::path::PathBuf;

/// Everything that can go wrong while building or loading a [`WanTransformer`](crate::WanTransformer).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the config or the weights failed: a missing file, a missing, unexpected or
    /// mis-shaped tensor (the variant names the key), bad JSON.
    #[error(transparent)]
    Core(#[from] tenku_core::Error),
    /// The config parsed but describes a model this crate cannot build.
    #[error("transformer config {path}: {source}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ConfigError,
    },
}

/// Why a [`WanTransformerConfig`](crate::WanTransformerConfig) cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A feature of `WanTransformer3DModel` that is not implemented yet.
    #[error("{feature} is not supported yet")]
    Unsupported {
        /// The feature and the config value that asks for it.
        feature: String,
    },
    /// A value out of range or inconsistent with another.
    #[error("invalid value: {reason}")]
    Invalid {
        /// What is wrong and what was expected.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
