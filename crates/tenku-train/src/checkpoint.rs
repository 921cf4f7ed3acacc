//! Checkpoints: a folder per save holding the module and optimizer records and a `state.json`
//! with the step and each file's SHA-256.
//!
//! A checkpoint is written into a temporary folder and renamed into place, and `latest` (a
//! one-line file naming it) is replaced atomically afterwards, so a kill at any moment leaves
//! the previous checkpoint intact. Loading verifies every checksum first: a damaged file is
//! reported, never loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Checkpoints kept on disk; older ones are deleted after a save.
const KEEP: usize = 2;

/// The stages of a training run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The autoencoder.
    Vae,
    /// A warm start's VAE decoder, on its frozen encoder's latents (`Recipe::decoder_stage`).
    Decoder,
    /// The text encoder and transformer, on the frozen autoencoder's latents.
    Denoiser,
}

impl Stage {
    /// The stage's name in checkpoint folders and reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Vae => "vae",
            Stage::Decoder => "decoder",
            Stage::Denoiser => "denoiser",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The part of a checkpoint that is not tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The stage being trained.
    pub stage: Stage,
    /// Optimizer steps done in that stage.
    pub step: usize,
    /// The smoothed loss at that step (for progress reports).
    pub loss_ema: Option<f64>,
    /// SHA-256 (hex) of each file of the checkpoint.
    pub files: BTreeMap<String, String>,
}

/// A verified checkpoint read back from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Stage, step and checksums.
    pub state: CheckpointState,
    /// File name → contents, each matching its checksum.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| tenku_core::Error::Io { path: path.to_owned(), source }.into()
}

/// Writes a checkpoint of `stage` at `step` with `files` under `root`, makes it the latest and
/// deletes all but the newest [`KEEP`]. Returns its folder.
pub fn save(
    root: &Path,
    stage: Stage,
    step: usize,
    loss_ema: Option<f64>,
    files: &[(&str, Vec<u8>)],
) -> Result<PathBuf> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    // Stage index first, so that name order is the order of writing.
    let name = format!("{}-{stage}-{step:07}", stage as u8 + 1);
    let dir = root.join(&name);
    let temp = root.join(format!(".{name}.tmp"));
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    std::fs::create_dir(&temp).map_err(io(&temp))?;
    let mut sums = BTreeMap::new();
    for (file, bytes) in files {
        let path = temp.join(file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        sums.insert((*file).to_owned(), sha256_hex(bytes));
    }
    let state = CheckpointState { stage, step, loss_ema, files: sums };
    let json = serde_json::to_string_pretty(&state).expect("checkpoint state serializes");
    std::fs::write(temp.join("state.json"), json).map_err(io(&temp))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    }
    std::fs::rename(&temp, &dir).map_err(io(&dir))?;
    tenku_core::write_file_atomic(&root.join("latest"), format!("{name}\n").as_bytes())?;
    prune(root)?;
    Ok(dir)
}

/// Deletes checkpoint folders other than the newest [`KEEP`] (name order is writing order).
fn prune(root: &Path) -> Result<()> {
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io(root))? {
        let entry = entry.map_err(io(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !name.starts_with('.') {
            names.push(name);
        }
    }
    names.sort();
    let excess = names.len().saturating_sub(KEEP);
    for name in names.into_iter().take(excess) {
        let path = root.join(name);
        std::fs::remove_dir_all(&path).map_err(io(&path))?;
    }
    Ok(())
}

/// The latest checkpoint under `root`, verified, or `None` when there is none.
pub fn load_latest(root: &Path) -> Result<Option<Checkpoint>> {
    let pointer = root.join("latest");
    if !pointer.is_file() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&pointer).map_err(io(&pointer))?;
    load(&root.join(name.trim())).map(Some)
}

/// Reads and verifies the checkpoint in `dir`.
pub fn load(dir: &Path) -> Result<Checkpoint> {
    let state_path = dir.join("state.json");
    let state: CheckpointState = tenku_core::read_json(&state_path)?;
    let mut files = BTreeMap::new();
    for (file, expected) in &state.files {
        let path = dir.join(file);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let found = sha256_hex(&bytes);
        if &found != expected {
            return Err(Error::CorruptCheckpoint { path, expected: expected.clone(), found });
        }
        files.insert(file.clone(), bytes);
    }
    Ok(Checkpoint { dir: dir.to_owned(), state, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_verifies_and_keeps_the_newest_two() {
        let root = tempfile::tempdir().unwrap();
        for step in 1..=3 {
            save(root.path(), Stage::Vae, step, Some(0.5), &[("model.bpk", vec![step as u8; 10])]).unwrap();
        }
        let latest = load_latest(root.path()).unwrap().unwrap();
        assert_eq!(latest.state.step, 3);
        assert_eq!(latest.files["model.bpk"], vec![3u8; 10]);
        assert!(!root.path().join("1-vae-0000001").exists());
        assert!(root.path().join("1-vae-0000002").exists());
    }

    #[test]
    fn a_damaged_file_is_reported_not_loaded() {
        let root = tempfile::tempdir().unwrap();
        let dir = save(root.path(), Stage::Denoiser, 5, None, &[("optim.bpk", vec![1, 2, 3])]).unwrap();
        std::fs::write(dir.join("optim.bpk"), [1, 2, 4]).unwrap();
        let error = load_latest(root.path()).unwrap_err();
        assert!(matches!(error, Error::CorruptCheckpoint { .. }), "{error}");
        assert!(error.to_string().contains("optim.bpk"), "{error}");
    }

    #[test]
    fn no_checkpoint_is_none() {
        assert!(load_latest(tempfile::tempdir().unwrap().path()).unwrap().is_none());
    }
}
