//! Bad model directories give typed errors naming the file and key, never a panic.

use std::path::Path;

use tenku_pipeline::{DEFAULT_GUIDANCE, Error, load_wan};
use tenku_testing::{device, wan_case};

/// A writable copy of the `tiny_a` pipeline directory.
fn copy_of_tiny_pipeline() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&wan_case("tiny_a").join("pipeline"), dir.path());
    dir
}

fn load_error(dir: &Path) -> String {
    match load_wan(dir, &device()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_fixture_loads() {
    let dir = copy_of_tiny_pipeline();
    let pipeline = load_wan(dir.path(), &device()).unwrap();
    assert_eq!(pipeline.geometry.latent_channels, 4);
    assert_eq!(pipeline.scheduler.shift, 3.0);
    assert_eq!(pipeline.defaults.guidance, DEFAULT_GUIDANCE, "no recorded guidance: Wan's");
}

/// Replaces the `_tenku_defaults` that the directory's `model_index.json` records.
fn record_defaults(dir: &Path, defaults: serde_json::Value) {
    let index = dir.join("model_index.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    json["_tenku_defaults"] = defaults;
    std::fs::write(&index, json.to_string()).unwrap();
}

#[test]
fn a_recorded_guidance_is_the_default_and_a_negative_one_is_named() {
    let dir = copy_of_tiny_pipeline();
    record_defaults(dir.path(), serde_json::json!({ "guidance": 2.5 }));
    assert_eq!(load_wan(dir.path(), &device()).unwrap().defaults.guidance, 2.5);
    record_defaults(dir.path(), serde_json::json!({ "guidance": -1.0 }));
    let message = load_error(dir.path());
    assert!(
        message.contains("model_index.json") && message.contains("_tenku_defaults.guidance -1"),
        "{message}"
    );
}

#[test]
fn a_recorded_guidance_interval_is_the_default_and_a_reversed_one_is_named() {
    let dir = copy_of_tiny_pipeline();
    assert_eq!(load_wan(dir.path(), &device()).unwrap().defaults.guidance_interval, None);
    record_defaults(dir.path(), serde_json::json!({ "guidance_interval": [0.3, 1.0] }));
    assert_eq!(load_wan(dir.path(), &device()).unwrap().defaults.guidance_interval, Some([0.3, 1.0]));
    record_defaults(dir.path(), serde_json::json!({ "guidance_interval": [0.9, 0.3] }));
    let message = load_error(dir.path());
    assert!(message.contains("_tenku_defaults.guidance_interval 0.9,0.3"), "{message}");
}

#[test]
fn recorded_sizes_and_frame_rate_are_checked_on_load_and_named() {
    let dir = copy_of_tiny_pipeline();
    for (defaults, named) in [
        (serde_json::json!({ "frames": 18 }), "_tenku_defaults.frames 18: expected a count of the form 4k+1"),
        (serde_json::json!({ "width": 0 }), "_tenku_defaults.width 0"),
        (serde_json::json!({ "fps": 0.0 }), "_tenku_defaults.fps 0"),
    ] {
        record_defaults(dir.path(), defaults);
        let message = load_error(dir.path());
        assert!(message.contains("model_index.json") && message.contains(named), "{message}");
    }
}

#[test]
fn a_missing_component_is_named() {
    let dir = copy_of_tiny_pipeline();
    std::fs::remove_dir_all(dir.path().join("vae")).unwrap();
    let message = load_error(dir.path());
    assert!(message.contains("vae"), "{message}");
}

#[test]
fn an_unknown_component_class_names_the_index() {
    let dir = copy_of_tiny_pipeline();
    let index = dir.path().join("model_index.json");
    let text = std::fs::read_to_string(&index).unwrap().replace("AutoencoderKLWan", "AutoencoderKLCogVideoX");
    std::fs::write(&index, text).unwrap();
    let message = load_error(dir.path());
    assert!(message.contains("AutoencoderKLCogVideoX") && message.contains("model_index.json"), "{message}");
}

#[test]
fn a_truncated_weights_file_is_named() {
    let dir = copy_of_tiny_pipeline();
    let weights = dir.path().join("transformer/diffusion_pytorch_model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let message = load_error(dir.path());
    assert!(message.contains("diffusion_pytorch_model.safetensors"), "{message}");
}

#[test]
fn mismatched_transformer_and_vae_channels_are_an_error() {
    let dir = copy_of_tiny_pipeline();
    let config = dir.path().join("vae/config.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    json["latents_mean"] = serde_json::json!([0.0, 0.0, 0.0]);
    std::fs::write(&config, json.to_string()).unwrap();
    let err = load_wan(dir.path(), &device()).expect_err("inconsistent VAE config must fail");
    assert!(matches!(err, Error::Vae(_)), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
}
