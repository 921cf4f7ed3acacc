//! Exports the VAE of a run's latest checkpoint as a diffusers `vae/` folder, to look at its
//! reconstructions mid-training (`tenku eval shapes --reconstruct` on a model directory that
//! uses it). Its latent statistics are placeholders (0 and 1); reconstruction does not depend on
//! them.
//!
//! Run: `cargo run -p tenku-train --example vae_snapshot -- RUN_DIR OUT_DIR`

use std::path::PathBuf;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use tenku_train::{Recipe, Stage, load_latest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: vae_snapshot RUN_DIR OUT_DIR";
    let run = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let recipe = Recipe::from_file(&run.join("recipe.json"))?;
    let checkpoint = load_latest(&run.join("checkpoints"))?.ok_or("the run has no checkpoint yet")?;
    if checkpoint.state.stage != Stage::Vae {
        return Err(format!(
            "the latest checkpoint is of the {} stage; the VAE is in {}/model/vae",
            checkpoint.state.stage,
            run.display()
        )
        .into());
    }
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(checkpoint.files["model.bpk"].clone()))?;
    let vae = recipe.vae.init(&Device::flex()).try_load_record(record)?;
    vae.save(&out)?;
    println!("VAE at step {} written to {}", checkpoint.state.step, out.display());
    Ok(())
}
