//! A training run interrupted and resumed gives the model an uninterrupted run gives; damaged
//! checkpoints and foreign run directories are refused.

use std::path::Path;

use burn::tensor::Device;
use tenku_train::{
    Error, Outcome, Recipe, Snapshot, SnapshotWeights, Stage, TrainOptions, export_snapshot, train,
};

fn run(out: &Path, recipe: &Recipe, stop_after: Option<usize>) -> Result<Outcome, Error> {
    run_on_threads(out, recipe, stop_after, 1)
}

fn run_on_threads(
    out: &Path,
    recipe: &Recipe,
    stop_after: Option<usize>,
    denoiser_threads: usize,
) -> Result<Outcome, Error> {
    let options = TrainOptions { stop_after, denoiser_threads };
    train(out, recipe, &Device::flex(), &options, &mut |_| {})
}

/// Every file of the trained model directory, by relative path.
fn model_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The tiny recipe with both stages keeping a moving average of their weights.
fn averaging() -> Recipe {
    let mut recipe = Recipe::tiny();
    recipe.vae_stage.ema_decay = Some(0.5);
    recipe.denoiser_stage.ema_decay = Some(0.5);
    recipe
}

#[test]
fn interrupted_runs_resume_to_the_same_model() {
    assert_resumes_to_the_same_model(&Recipe::tiny());
}

#[test]
fn interrupted_runs_with_moving_averages_resume_to_the_same_model() {
    assert_resumes_to_the_same_model(&averaging());
}

#[test]
fn interrupted_runs_on_two_threads_resume_to_the_same_model() {
    assert_resumes_to_the_same_model_on(&Recipe::tiny(), 2);
}

fn assert_resumes_to_the_same_model(recipe: &Recipe) {
    assert_resumes_to_the_same_model_on(recipe, 1);
}

fn assert_resumes_to_the_same_model_on(recipe: &Recipe, threads: usize) {
    let run = |out: &Path, stop_after| run_on_threads(out, recipe, stop_after, threads);
    let whole = tempfile::tempdir().unwrap();
    let Outcome::Finished(reference) = run(whole.path(), None).unwrap() else {
        panic!("an unlimited run finishes")
    };

    // Killed once in each stage (every step is checkpointed in the tiny recipe).
    let pieces = tempfile::tempdir().unwrap();
    let first = run(pieces.path(), Some(2)).unwrap();
    assert_eq!(first, Outcome::Stopped { stage: Stage::Vae, step: 2 });
    let second = run(pieces.path(), Some(3)).unwrap();
    assert_eq!(second, Outcome::Stopped { stage: Stage::Denoiser, step: 2 });
    let Outcome::Finished(resumed) = run(pieces.path(), None).unwrap() else {
        panic!("the resumed run finishes")
    };

    let (expected, found) = (model_files(&reference), model_files(&resumed));
    assert_eq!(
        expected.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        found.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    let differing: Vec<&str> = expected
        .iter()
        .zip(&found)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, _), _)| name.as_str())
        .collect();
    assert!(differing.is_empty(), "{differing:?} differ between the uninterrupted and the resumed run");
}

#[test]
fn the_trained_directory_loads_as_a_wan_pipeline() {
    let recipe = Recipe::tiny();
    let out = tempfile::tempdir().unwrap();
    let Outcome::Finished(model) = run(out.path(), &recipe, None).unwrap() else { panic!("finishes") };
    let pipeline = tenku_pipeline::load_wan(&model, &Device::flex()).unwrap();
    assert_eq!(pipeline.geometry.latent_channels, recipe.vae.z_dim);
    assert_eq!(
        Some(pipeline.defaults.guidance),
        recipe.guidance,
        "the recipe's guidance is the model's default"
    );
    assert!(pipeline.unknown_words("a red circle moves left").is_empty());
    assert_eq!(pipeline.unknown_words("a purple circle moves left"), ["purple"]);
}

#[test]
fn a_corrupt_checkpoint_is_reported_not_loaded() {
    let recipe = Recipe::tiny();
    let out = tempfile::tempdir().unwrap();
    run(out.path(), &recipe, Some(1)).unwrap();
    let latest = std::fs::read_to_string(out.path().join("checkpoints/latest")).unwrap();
    let model = out.path().join("checkpoints").join(latest.trim()).join("model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&model, bytes).unwrap();

    let error = run(out.path(), &recipe, None).unwrap_err();
    assert!(matches!(error, Error::CorruptCheckpoint { .. }), "{error}");
    assert!(error.to_string().contains("model.bpk"), "{error}");
}

#[test]
fn a_directory_of_another_recipe_is_refused() {
    let out = tempfile::tempdir().unwrap();
    run(out.path(), &Recipe::tiny(), Some(0)).unwrap();
    let mut other = Recipe::tiny();
    other.seed += 1;
    let error = run(out.path(), &other, Some(0)).unwrap_err();
    assert!(matches!(error, Error::RecipeMismatch { .. }), "{error}");
}

#[test]
fn a_recipe_reproduces_its_model() {
    let recipe = Recipe::tiny();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let Outcome::Finished(first) = run(a.path(), &recipe, None).unwrap() else { panic!("finishes") };
    let Outcome::Finished(second) = run(b.path(), &recipe, None).unwrap() else { panic!("finishes") };
    let differing: Vec<String> = model_files(&first)
        .into_iter()
        .zip(model_files(&second))
        .filter(|((_, x), (_, y))| x != y)
        .map(|((name, _), _)| name)
        .collect();
    assert!(differing.is_empty(), "{differing:?} differ between two runs of one recipe");
}

#[test]
fn snapshots_export_the_latest_checkpoint_of_either_stage() {
    let recipe = Recipe::tiny();
    let (run_dir, device) = (tempfile::tempdir().unwrap(), Device::flex());
    let missing =
        export_snapshot(run_dir.path(), &run_dir.path().join("none"), SnapshotWeights::HandedOn, &device)
            .unwrap_err();
    assert!(matches!(missing, Error::Core(_)), "a folder without a run has no recipe: {missing}");
    run(run_dir.path(), &recipe, Some(0)).unwrap();
    let empty =
        export_snapshot(run_dir.path(), &run_dir.path().join("none"), SnapshotWeights::HandedOn, &device)
            .unwrap_err();
    assert!(matches!(empty, Error::NoCheckpoint { .. }), "{empty}");

    let vae_stage = tempfile::tempdir().unwrap();
    run(run_dir.path(), &recipe, Some(1)).unwrap();
    let snapshot =
        export_snapshot(run_dir.path(), vae_stage.path(), SnapshotWeights::HandedOn, &device).unwrap();
    assert_eq!(snapshot, Snapshot { stage: Stage::Vae, step: 1 });
    tenku_vae::WanVae::load(&vae_stage.path().join("vae"), &device).unwrap();
    assert!(!vae_stage.path().join("transformer").exists());

    // A finished run's last checkpoint is the end of its denoiser stage: the snapshot holds the
    // run's own model, byte for byte.
    let Outcome::Finished(model) = run(run_dir.path(), &recipe, None).unwrap() else { panic!("finishes") };
    let finished = tempfile::tempdir().unwrap();
    let snapshot =
        export_snapshot(run_dir.path(), finished.path(), SnapshotWeights::HandedOn, &device).unwrap();
    assert_eq!(snapshot, Snapshot { stage: Stage::Denoiser, step: recipe.denoiser_stage.steps });
    assert_eq!(model_files(finished.path()), model_files(&model));
    tenku_pipeline::load_wan(finished.path(), &device).unwrap();
}

#[test]
fn a_stage_with_a_moving_average_hands_on_the_average() {
    let (recipe, device) = (averaging(), Device::flex());
    let run_dir = tempfile::tempdir().unwrap();
    let Outcome::Finished(model) = run(run_dir.path(), &recipe, None).unwrap() else { panic!("finishes") };
    let (average, last) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    export_snapshot(run_dir.path(), average.path(), SnapshotWeights::HandedOn, &device).unwrap();
    export_snapshot(run_dir.path(), last.path(), SnapshotWeights::Last, &device).unwrap();
    assert_eq!(model_files(average.path()), model_files(&model), "the run exports the average");
    let weights =
        |dir: &Path| std::fs::read(dir.join("transformer/diffusion_pytorch_model.safetensors")).unwrap();
    assert_ne!(weights(last.path()), weights(&model), "the last weights are not the average");
}
