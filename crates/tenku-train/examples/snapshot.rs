//! Exports the model of a run's latest checkpoint, to measure a run before it finishes: from the
//! VAE stage a `vae/` folder (score it with `tenku eval shapes --reconstruct` on a model
//! directory that uses it), from the denoiser stage a whole model directory for
//! `tenku generate --model` and `tenku eval shapes --model`. A stage that keeps a moving average
//! of its weights gives the average, or its last weights with `--last`.
//!
//! Run: `cargo run --release -p tenku-train --example snapshot -- RUN_DIR OUT_DIR [--last]`

use std::path::PathBuf;

use burn::tensor::Device;
use tenku_train::{SnapshotWeights, export_snapshot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: snapshot RUN_DIR OUT_DIR [--last]";
    let run = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let weights = match args.next().as_deref() {
        None => SnapshotWeights::HandedOn,
        Some("--last") => SnapshotWeights::Last,
        Some(_) => return Err(usage.into()),
    };
    let snapshot = export_snapshot(&run, &out, weights, &Device::flex())?;
    println!("{} stage at step {} written to {}", snapshot.stage, snapshot.step, out.display());
    Ok(())
}
