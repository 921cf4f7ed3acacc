//! A warm start: a run continues from the recipe's `warm_start` model — its VAE kept (or its
//! decoder fine-tuned), its text encoder and transformer, not fresh weights, beginning the
//! denoiser stage (unless the recipe asks for a fresh denoiser).

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use tenku_core::WeightStore;
use tenku_train::{
    Error, Outcome, Recipe, Regeneration, Snapshot, SnapshotWeights, Stage, StageConfig, TrainOptions,
    export_snapshot, train,
};

fn run(out: &Path, recipe: &Recipe) -> Result<PathBuf, Error> {
    match train(out, recipe, &Device::flex(), &TrainOptions::default(), &mut |_| {})? {
        Outcome::Finished(model) => Ok(model),
        Outcome::Stopped { .. } => panic!("no stop was asked for"),
    }
}

/// The largest difference between the same tensors of two components' weight files.
fn largest_difference(a: &Path, b: &Path) -> f32 {
    largest_difference_of(a, b, |_| true)
}

/// The largest difference between the tensors whose keys `chosen` accepts of two components'
/// weight files.
fn largest_difference_of(a: &Path, b: &Path, chosen: impl Fn(&str) -> bool) -> f32 {
    let (a, b) = (WeightStore::open(a).unwrap(), WeightStore::open(b).unwrap());
    let mut largest = 0.0f32;
    for (key, _) in a.tensors().filter(|(key, _)| chosen(key)) {
        let ((x, _), (y, _)) = (a.read_f32(key).unwrap(), b.read_f32(key).unwrap());
        largest = x.iter().zip(&y).map(|(x, y)| (x - y).abs()).fold(largest, f32::max);
    }
    largest
}

/// The tiny recipe with another seed: a model no fresh run of `Recipe::tiny()` starts near.
fn other_model(dir: &Path) -> PathBuf {
    run(dir, &Recipe { seed: 8, ..Recipe::tiny() }).unwrap()
}

/// The tiny recipe, warm-started from `init`, at `learning_rate`.
fn warm(init: Option<PathBuf>, learning_rate: f64) -> Recipe {
    let tiny = Recipe::tiny();
    Recipe {
        warm_start: init,
        denoiser_stage: StageConfig { learning_rate, ..tiny.denoiser_stage.clone() },
        ..tiny
    }
}

#[test]
fn the_denoiser_stage_starts_from_the_warm_start_weights_and_trains_them() {
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let init = other_model(dirs[0].path());
    let difference =
        |model: &Path, component| largest_difference(&init.join(component), &model.join(component));

    // A learning rate of 1e-12 leaves the starting weights as they were.
    let kept = run(dirs[1].path(), &warm(Some(init.clone()), 1e-12)).unwrap();
    let fresh = run(dirs[2].path(), &warm(None, 1e-12)).unwrap();
    let vae_config = |model: &Path| std::fs::read_to_string(model.join("vae/config.json")).unwrap();
    assert_eq!(vae_config(&kept), vae_config(&init), "the VAE, latent statistics included, is kept");
    assert_eq!(difference(&kept, "vae"), 0.0, "the VAE is not trained again");
    assert!(difference(&fresh, "vae") > 1e-2, "a fresh run trains its own VAE");
    for component in ["transformer", "text_encoder"] {
        assert!(difference(&kept, component) < 1e-6, "{component}: warm start not kept");
        assert!(difference(&fresh, component) > 1e-2, "{component}: a fresh start lands on the other model");
    }
    let trained = run(dirs[3].path(), &warm(Some(init.clone()), 1e-3)).unwrap();
    for component in ["transformer", "text_encoder"] {
        assert!(difference(&trained, component) > 1e-4, "{component}: warm-started weights did not train");
    }
}

#[test]
fn a_fresh_denoiser_of_another_patch_size_trains_on_the_warm_starts_vae() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let init = other_model(dirs[0].path());
    let mut finer = warm(None, 1e-12);
    finer.transformer.patch_size = [1, 2, 2];
    let scratch = run(dirs[1].path(), &finer).unwrap();
    let restarted =
        run(dirs[2].path(), &Recipe { warm_start: Some(init.clone()), fresh_denoiser: true, ..finer })
            .unwrap();

    assert_eq!(largest_difference(&init.join("vae"), &restarted.join("vae")), 0.0, "the VAE is kept");
    let patch = |model: &Path| {
        let config = std::fs::read_to_string(model.join("transformer/config.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&config).unwrap()["patch_size"].clone()
    };
    assert_eq!(patch(&restarted), serde_json::json!([1, 2, 2]));
    for component in ["transformer", "text_encoder"] {
        let difference = largest_difference(&scratch.join(component), &restarted.join(component));
        assert!(difference < 1e-6, "{component}: not the recipe's fresh weights ({difference})");
    }
}

#[test]
fn a_warm_start_of_another_architecture_is_refused() {
    let a = tempfile::tempdir().unwrap();
    let init = other_model(a.path());
    let mut deeper = warm(Some(init.clone()), 1e-3);
    deeper.transformer.num_layers += 1;
    let mut other_vae = warm(Some(init.clone()), 1e-3);
    other_vae.vae.num_res_blocks += 1;
    for (recipe, component) in [(deeper, "transformer"), (other_vae, "vae")] {
        let error = run(tempfile::tempdir().unwrap().path(), &recipe).unwrap_err();
        assert!(
            matches!(&error, Error::WarmStartMismatch { path, component: c }
                if *c == component && *path == init.join(component).join("config.json")),
            "{error}"
        );
    }
}

#[test]
fn a_missing_warm_start_names_its_folder() {
    let (a, missing) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let init = missing.path().join("no-model");
    let error = run(a.path(), &warm(Some(init.clone()), 1e-3)).unwrap_err().to_string();
    assert!(error.contains(&init.join("vae/config.json").display().to_string()), "{error}");
}

#[test]
fn a_decoder_stage_trains_the_warm_starts_decoder_alone_and_resumes_and_0_denoiser_steps_keep_the_rest() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let init = other_model(dirs[0].path());
    let tiny = Recipe::tiny();
    let decoder_stage = StageConfig { steps: 3, learning_rate: 1e-3, ..tiny.vae_stage.clone() };
    let denoiser_kept = StageConfig { steps: 0, ..tiny.denoiser_stage.clone() };
    // With latent noise and regenerated latents, which a resumed stage must draw as the
    // uninterrupted one did.
    let regeneration = Regeneration { share: 1.0, strength: [0.3, 0.8], steps: 4 };
    let recipe = Recipe {
        decoder_stage: Some(decoder_stage),
        decoder_latent_noise: 0.3,
        decoder_regeneration: Some(regeneration),
        denoiser_stage: denoiser_kept,
        ..warm(Some(init.clone()), 1e-3)
    };
    let tuned = run(dirs[1].path(), &recipe).unwrap();
    for component in ["transformer", "text_encoder"] {
        assert_eq!(largest_difference(&init.join(component), &tuned.join(component)), 0.0, "{component}");
    }

    let decoder_side = |key: &str| key.starts_with("decoder.") || key.starts_with("post_quant_conv.");
    let encoder_side = |key: &str| !decoder_side(key);
    let (before, after) = (init.join("vae"), tuned.join("vae"));
    assert_eq!(largest_difference_of(&before, &after, encoder_side), 0.0, "the encoder is frozen");
    assert!(largest_difference_of(&before, &after, decoder_side) > 1e-4, "the decoder did not train");
    let vae_config = |model: &Path| std::fs::read_to_string(model.join("vae/config.json")).unwrap();
    assert_eq!(vae_config(&tuned), vae_config(&init), "the latent statistics are the warm start's");

    // Killed in the decoder stage, then resumed: the same decoder.
    let stopped = train(
        dirs[2].path(),
        &recipe,
        &Device::flex(),
        &TrainOptions { stop_after: Some(2), ..Default::default() },
        &mut |_| {},
    );
    assert!(matches!(stopped, Ok(Outcome::Stopped { stage: Stage::Decoder, step: 2 })), "{stopped:?}");
    let snapshot_dir = tempfile::tempdir().unwrap();
    let snapshot =
        export_snapshot(dirs[2].path(), snapshot_dir.path(), SnapshotWeights::HandedOn, &Device::flex())
            .unwrap();
    assert_eq!(snapshot, Snapshot { stage: Stage::Decoder, step: 2 });
    let snapshot_config = std::fs::read_to_string(snapshot_dir.path().join("vae/config.json")).unwrap();
    assert_eq!(snapshot_config, vae_config(&init), "a decoder snapshot keeps the latent statistics");
    assert!(largest_difference_of(&before, &snapshot_dir.path().join("vae"), decoder_side) > 1e-5);
    let resumed = run(dirs[2].path(), &recipe).unwrap();
    assert_eq!(largest_difference(&after, &resumed.join("vae")), 0.0, "a resumed decoder stage differs");

    // The regenerated latents are not the encoder's: without them the decoder trains otherwise.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = run(plain_dir.path(), &Recipe { decoder_regeneration: None, ..recipe }).unwrap();
    assert!(largest_difference(&after, &plain.join("vae")) > 1e-6, "regeneration changed nothing");
}

#[test]
fn a_decoder_stage_needs_a_warm_start() {
    let tiny = Recipe::tiny();
    let recipe = Recipe { decoder_stage: Some(tiny.vae_stage.clone()), ..tiny };
    let error = run(tempfile::tempdir().unwrap().path(), &recipe).unwrap_err().to_string();
    assert!(error.contains("decoder_stage") && error.contains("warm_start"), "{error}");
}
