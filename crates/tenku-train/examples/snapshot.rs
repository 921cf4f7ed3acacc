//! Exports the model of a run's latest checkpoint, to measure a run before it finishes: from the
//! VAE stage a `vae/` folder (score it with `tenku eval shapes --reconstruct` on a model
//! directory that uses it), from the denoiser stage a whole model directory for
//! `tenku generate --model` and `tenku eval shapes --model`.
//!
//! Run: `cargo run --release -p tenku-train --example snapshot -- RUN_DIR OUT_DIR`

use std::path::PathBuf;

use burn::tensor::Device;
use tenku_train::export_snapshot;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: snapshot RUN_DIR OUT_DIR";
    let run = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let snapshot = export_snapshot(&run, &out, &Device::flex())?;
    println!("{} stage at step {} written to {}", snapshot.stage, snapshot.step, out.display());
    Ok(())
}
