//! Errors of a training run.

use std::path::PathBuf;

/// Why training could not start, continue or finish.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error(transparent)]
    Core(#[from] tenku_core::Error),
    /// Writing the tokenizer or text encoder failed.
    #[error(transparent)]
    Text(#[from] tenku_text::Error),
    /// Writing or reading the VAE failed.
    #[error(transparent)]
    Vae(#[from] tenku_vae::Error),
    /// Writing the transformer failed.
    #[error(transparent)]
    Transformer(#[from] tenku_dit::Error),
    /// Loading or running the warm start's pipeline (the decoder stage's regeneration) failed.
    #[error(transparent)]
    Pipeline(#[from] tenku_pipeline::Error),
    /// The shapes world could not place a scene (the world is too small for it).
    #[error("shapes world: {0}")]
    World(String),
    /// The recipe's parts do not fit together.
    #[error("invalid recipe {path}: {reason}")]
    InvalidRecipe {
        /// The recipe file (or `<built-in>`).
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The output directory holds a run of a different recipe.
    #[error(
        "{path} belongs to a run of a different recipe; resume it with that recipe or train into another directory"
    )]
    RecipeMismatch {
        /// The recipe file of the earlier run.
        path: PathBuf,
    },
    /// A checkpoint file does not match the checksum recorded when it was written.
    #[error(
        "corrupt checkpoint {path}: SHA-256 {found}, expected {expected}; not loaded (delete the checkpoint to resume from the one before)"
    )]
    CorruptCheckpoint {
        /// The damaged file.
        path: PathBuf,
        /// The checksum in the checkpoint's `state.json`.
        expected: String,
        /// The file's checksum now.
        found: String,
    },
    /// A run directory has no checkpoint to export.
    #[error("no checkpoint in {path}: the run has not written one yet")]
    NoCheckpoint {
        /// The run's checkpoint folder.
        path: PathBuf,
    },
    /// A checkpoint could not be decoded.
    #[error("cannot read checkpoint {path}: {reason}")]
    UnreadableCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The recipe's `warm_start` model has another architecture than the recipe.
    #[error(
        "warm_start: {path} differs from the recipe's {component} config; a warm start needs the same architecture"
    )]
    WarmStartMismatch {
        /// The component's `config.json` in the warm-start model.
        path: PathBuf,
        /// `vae`, `text_encoder` or `transformer`.
        component: &'static str,
    },
    /// The loss became NaN or infinite.
    #[error("{stage} stage diverged at step {step}: loss {loss}")]
    Diverged {
        /// The stage.
        stage: &'static str,
        /// The step.
        step: usize,
        /// The loss.
        loss: f64,
    },
}

/// Training's result type.
pub type Result<T> = std::result::Result<T, Error>;
