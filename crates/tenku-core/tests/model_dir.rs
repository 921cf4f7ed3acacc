//! Reading diffusers model directories.

use std::path::Path;

use tenku_core::{Error, ModelDir};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The layout of `Wan-AI/Wan2.1-T2V-1.3B-Diffusers`, configs only.
fn wan_layout(root: &Path) {
    write(
        &root.join("model_index.json"),
        r#"{"_class_name": "WanPipeline", "_diffusers_version": "0.33.0.dev0",
            "scheduler": ["diffusers", "UniPCMultistepScheduler"], "text_encoder": ["transformers", "UMT5EncoderModel"],
            "tokenizer": ["transformers", "T5TokenizerFast"], "transformer": ["diffusers", "WanTransformer3DModel"],
            "transformer_2": [null, null], "vae": ["diffusers", "AutoencoderKLWan"], "boundary_ratio": null,
            "expand_timesteps": false}"#,
    );
    write(
        &root.join("scheduler/scheduler_config.json"),
        r#"{"_class_name": "UniPCMultistepScheduler", "flow_shift": 3.0}"#,
    );
    write(
        &root.join("transformer/config.json"),
        r#"{"_class_name": "WanTransformer3DModel", "num_layers": 30}"#,
    );
    write(&root.join("vae/config.json"), r#"{"_class_name": "AutoencoderKLWan", "z_dim": 16}"#);
    write(&root.join("text_encoder/config.json"), r#"{"d_model": 4096}"#);
    write(&root.join("tokenizer/tokenizer_config.json"), r#"{}"#);
}

#[test]
fn lists_components_classes_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    wan_layout(dir.path());
    let model = ModelDir::open(dir.path()).unwrap();
    assert_eq!(model.pipeline_class(), "WanPipeline");
    let names: Vec<&str> = model.components().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["scheduler", "text_encoder", "tokenizer", "transformer", "vae"]);
    assert!(model.settings().contains_key("expand_timesteps"));
    let scheduler = model.component("scheduler").unwrap();
    assert_eq!(scheduler.class_name, "UniPCMultistepScheduler");
    assert!(scheduler.config_path().unwrap().ends_with("scheduler_config.json"));
    let config: serde_json::Value = scheduler.config().unwrap();
    assert_eq!(config["flow_shift"], 3.0);
    let transformer = model.component("transformer").unwrap();
    transformer.expect_class(&["WanTransformer3DModel"], &model.index_path()).unwrap();
    // Configs but no weights: opening the weights names the folder.
    assert!(matches!(transformer.weights(), Err(Error::NotFound { .. })));
}

#[test]
fn bad_directories_give_typed_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(ModelDir::open(&dir.path().join("absent")), Err(Error::NotFound { .. })));
    let err = ModelDir::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("model_index.json"), "{err}");

    write(&dir.path().join("model_index.json"), "{ not json");
    assert!(matches!(ModelDir::open(dir.path()), Err(Error::Json { .. })));

    write(&dir.path().join("model_index.json"), r#"{"vae": ["diffusers", "AutoencoderKLWan"]}"#);
    assert!(matches!(ModelDir::open(dir.path()), Err(Error::InvalidConfig { .. })));

    wan_layout(dir.path());
    let model = ModelDir::open(dir.path()).unwrap();
    let err = model.component("image_encoder").unwrap_err();
    assert!(matches!(err, Error::MissingComponent { .. }));
    assert!(err.to_string().contains("transformer, vae") || err.to_string().contains("vae"), "{err}");
    let err = model
        .component("vae")
        .unwrap()
        .expect_class(&["AutoencoderKLWan2"], &model.index_path())
        .unwrap_err();
    assert!(
        err.to_string().contains("AutoencoderKLWan") && err.to_string().contains("model_index.json"),
        "{err}"
    );
    std::fs::remove_dir_all(dir.path().join("vae")).unwrap();
    assert!(matches!(model.component("vae"), Err(Error::NotFound { .. })));
}
