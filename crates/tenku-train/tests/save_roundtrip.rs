//! Saving a component writes the checkpoint its loader (and diffusers) reads: loading the
//! reference fixtures and saving them again gives the same tensors under the same keys.

use std::path::Path;

use tenku_core::WeightStore;

/// Checkpoint keys the loaders skip on purpose, so a saved component does not write them.
fn skipped_on_load(key: &str) -> bool {
    key == "encoder.embed_tokens.weight" || key.ends_with(".attn2.norm_added_q.weight")
}

fn assert_same_tensors(component: &str, original: &Path, saved: &Path) {
    let (original, saved) = (WeightStore::open(original).unwrap(), WeightStore::open(saved).unwrap());
    let mut checked = 0;
    for (key, _) in original.tensors() {
        if skipped_on_load(key) {
            assert!(saved.info(key).is_none(), "{component}: {key} is written though loaders skip it");
            continue;
        }
        let (want, want_shape) = original.read_f32(key).unwrap();
        let (got, got_shape) = saved
            .read_f32(key)
            .unwrap_or_else(|e| panic!("{component}: {key} missing from the saved file: {e}"));
        assert_eq!(got_shape, want_shape, "{component}: {key}");
        assert!(got == want, "{component}: {key} values differ");
        checked += 1;
    }
    assert_eq!(saved.tensors().count(), checked, "{component}: the saved file has extra tensors");
}

#[test]
fn saved_components_hold_the_loaded_tensors_under_the_checkpoint_keys() {
    let device = burn::tensor::Device::flex();
    for case in tenku_testing::wan_cases() {
        let pipeline = tenku_testing::wan_case(&case).join("pipeline");
        let out = tempfile::tempdir().unwrap();

        let dir = pipeline.join("transformer");
        tenku_dit::WanTransformer::load(&dir, &device)
            .unwrap()
            .save(&out.path().join("transformer"))
            .unwrap();
        assert_same_tensors("transformer", &dir, &out.path().join("transformer"));

        let dir = pipeline.join("vae");
        tenku_vae::WanVae::load(&dir, &device).unwrap().save(&out.path().join("vae")).unwrap();
        assert_same_tensors("vae", &dir, &out.path().join("vae"));

        let dir = pipeline.join("text_encoder");
        tenku_text::Umt5Encoder::load(&dir, &device).unwrap().save(&out.path().join("text_encoder")).unwrap();
        assert_same_tensors("text_encoder", &dir, &out.path().join("text_encoder"));

        // And the saved configs load back as the same models.
        tenku_dit::WanTransformer::load(&out.path().join("transformer"), &device).unwrap();
        tenku_vae::WanVae::load(&out.path().join("vae"), &device).unwrap();
        tenku_text::Umt5Encoder::load(&out.path().join("text_encoder"), &device).unwrap();
    }
}
