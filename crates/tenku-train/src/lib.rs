//! Training Tenku's models from scratch on the shapes world, and measuring them on it
//! ([`eval`]).
//!
//! A run trains, in order: a word-level tokenizer built from the caption grammar's vocabulary;
//! a Wan-style causal VAE (reconstruction + KL); then a umT5 text encoder and a Wan transformer
//! together with the flow-matching objective of the Wan family. Clips are rendered on the fly
//! from `(seed, step)`, and each clip is drawn a task — text→video, image→video (first latent
//! frame clean) or extension (first k latent frames clean) — that it learns through per-token
//! timesteps, as Wan2.2 TI2V does, so one model serves all three.
//!
//! Everything runs through Burn's autodiff on any backend (CPU by default). Checkpoints are
//! written atomically every few minutes with SHA-256 checksums; a run continues from the latest
//! one with the same result as an uninterrupted run, and a damaged checkpoint is reported, not
//! loaded. The result is a diffusers directory (`WanPipeline` layout) that Tenku's loader reads.
//!
//! ```no_run
//! use tenku_train::{Recipe, TrainOptions, train};
//! # fn main() -> Result<(), tenku_train::Error> {
//! let device = burn::tensor::Device::flex();
//! let outcome = train(
//!     "runs/shapes".as_ref(),
//!     &Recipe::shapes_default(),
//!     &device,
//!     &TrainOptions::default(),
//!     &mut |event| println!("{event:?}"),
//! )?;
//! # Ok(()) }
//! ```

mod average;
mod checkpoint;
mod data;
mod error;
pub mod eval;
mod recipe;
mod train;

pub use checkpoint::{Checkpoint, CheckpointState, Stage, load as load_checkpoint, load_latest, sha256_hex};
pub use data::{ClipBatch, Window, clip_batch, rng_for, streams};
pub use error::{Error, Result};
pub use recipe::{DecodedLoss, Recipe, Regeneration, StageConfig};
pub use train::{
    Event, MODEL_DIR, Outcome, Progress, Snapshot, SnapshotWeights, TextToVideoModel, TrainOptions,
    export_snapshot, train,
};
