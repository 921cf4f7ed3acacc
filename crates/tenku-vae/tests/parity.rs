//! Parity of the Wan VAE with diffusers' `AutoencoderKLWan`, plus properties of the chunked
//! encode and streaming decode, and typed load errors.
//!
//! Reference fixtures: `crates/tenku-testing/fixtures/wan/<case>` (Wan2.1 layout, written by
//! `scripts/make_wan_fixtures.py`) and `tests/fixtures/wan22_tiny` (Wan2.2 layout: residual
//! blocks, patch size 2, own decoder width; written by `scripts/make_vae_wan22_fixture.py`).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Distribution, Tensor};
use tenku_core::{VideoAutoencoder, WeightStore};
use tenku_testing::{assert_close, device, tensor, wan_case, wan_cases};
use tenku_vae::{Error, WanVae, WanVaeConfig};

/// Max abs difference allowed for the posterior mean against the f32 reference (flex CPU vs torch
/// CPU). Observed worst: 2.5e-7 / 3.9e-7 (tiny_a, 5 / 9 frames), 5.1e-7 / 6.0e-7 (tiny_b),
/// 3.0e-7 / 1.3e-7 (wan22_tiny), for means up to 0.8 in magnitude.
const ENCODE_TOLERANCE: f32 = 2e-6;

/// Max abs difference allowed for decoded pixels (in [-1, 1]). Observed worst: 1.8e-6 / 2.6e-6
/// (tiny_a, 5 / 9 frames), 4.7e-6 / 6.2e-6 (tiny_b), 1.4e-6 / 1.9e-6 (wan22_tiny) — summation-order
/// noise of ~30 stacked convs; torch itself moves by up to 3e-6 between mmapped and copied
/// weights (fixture README). A wrong cache or padding rule moves values by 1e-2 or more.
const DECODE_TOLERANCE: f32 = 2e-5;

/// A reference case: the `vae/` directory and the `reference.safetensors` file.
struct Case {
    name: String,
    vae_dir: PathBuf,
    reference: WeightStore,
}

fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = wan_cases()
        .into_iter()
        .map(|name| Case {
            vae_dir: wan_case(&name).join("pipeline").join("vae"),
            reference: tenku_testing::reference(&name),
            name,
        })
        .collect();
    let wan22 = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wan22_tiny");
    cases.push(Case {
        name: "wan22_tiny".into(),
        vae_dir: wan22.join("vae"),
        reference: WeightStore::open(&wan22.join("reference.safetensors")).expect("wan22_tiny reference"),
    });
    assert!(cases.len() >= 3, "expected the tiny_a and tiny_b fixtures");
    cases
}

fn load(dir: &Path) -> WanVae {
    WanVae::load(dir, &device()).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

#[test]
fn encode_matches_diffusers() {
    for case in cases() {
        let vae = load(&case.vae_dir);
        for frames in [5, 9] {
            let video = tensor::<5>(&case.reference, &format!("vae.video{frames}"));
            let want = tensor::<5>(&case.reference, &format!("vae.encode{frames}_mean"));
            let got = vae.encode_mean(video);
            assert_close(&format!("{} encode{frames}", case.name), got, want, ENCODE_TOLERANCE);
        }
    }
}

#[test]
fn decode_matches_diffusers() {
    for case in cases() {
        let vae = load(&case.vae_dir);
        for frames in [5, 9] {
            let z = tensor::<5>(&case.reference, &format!("vae.z{frames}"));
            let want = tensor::<5>(&case.reference, &format!("vae.decode{frames}"));
            let got = vae.decode_raw(z);
            assert_close(&format!("{} decode{frames}", case.name), got, want, DECODE_TOLERANCE);
        }
    }
}

/// Streaming hands over 1 frame, then `temporal_factor` frames per latent frame, each clamped,
/// and the chunks concatenate to the whole decode.
#[test]
fn streaming_chunks_make_up_the_whole_decode() {
    for case in cases() {
        let vae = load(&case.vae_dir);
        let z = tensor::<5>(&case.reference, "vae.z9");
        let mut sizes = Vec::new();
        let mut chunks = Vec::new();
        vae.decode_raw_streaming(z.clone(), &mut |chunk| {
            sizes.push(chunk.dims()[2]);
            chunks.push(chunk);
        });
        assert_eq!(sizes, [1, 4, 4], "{}", case.name);
        let streamed = Tensor::cat(chunks, 2);
        let max: f32 = streamed.clone().abs().max().into_scalar();
        assert!(max <= 1.0, "{}: decode must be clamped, found {max}", case.name);
        assert_close(&format!("{} stream", case.name), streamed, vae.decode_raw(z), 0.0);
    }
}

/// Causality: frames decoded from the first latent frames do not change when more latent frames
/// follow, and likewise encoding more frames leaves the earlier latents unchanged.
#[test]
fn appending_frames_leaves_earlier_outputs_unchanged() {
    for case in cases() {
        let vae = load(&case.vae_dir);
        let z9 = tensor::<5>(&case.reference, "vae.z9");
        let z5 = z9.clone().narrow(2, 0, 2);
        let short = vae.decode_raw(z5);
        let long = vae.decode_raw(z9).narrow(2, 0, 5);
        assert_close(&format!("{} causal decode", case.name), long, short, 0.0);

        let video9 = tensor::<5>(&case.reference, "vae.video9");
        let short = vae.encode_mean(video9.clone().narrow(2, 0, 5));
        let long = vae.encode_mean(video9).narrow(2, 0, 2);
        assert_close(&format!("{} causal encode", case.name), long, short, 0.0);
    }
}

/// The trait's encode/decode apply the pipelines' normalization around the raw methods.
#[test]
fn trait_methods_normalize_like_the_pipelines() {
    let case = &cases()[0];
    let vae = load(&case.vae_dir);
    let layout = vae.layout().clone();
    let config = WanVaeConfig::from_file(&case.vae_dir.join("config.json")).unwrap();
    assert_eq!(layout.channels, config.z_dim);
    assert_eq!((layout.temporal_factor, layout.spatial_factor), (4, 8));
    assert_eq!(
        (layout.mean.clone(), layout.std.clone()),
        (config.latents_mean.clone(), config.latents_std.clone())
    );

    let z = layout.channels;
    let shape = [1, z, 1, 1, 1];
    let mean = Tensor::<5>::from_data(burn::tensor::TensorData::new(layout.mean.clone(), shape), &device());
    let inv: Vec<f32> = layout.std.iter().map(|s| 1.0 / s).collect();
    let inv = Tensor::<5>::from_data(burn::tensor::TensorData::new(inv, shape), &device());

    let video = tensor::<5>(&case.reference, "vae.video5");
    let raw = vae.encode_mean(video.clone());
    assert_close("normalized encode", vae.encode(video), (raw - mean.clone()) * inv.clone(), 0.0);

    let latents = tensor::<5>(&case.reference, "vae.z5");
    let raw = vae.decode_raw(latents.clone() / inv + mean);
    assert_close("normalized decode", vae.decode(latents), raw, 0.0);
}

/// A random VAE from a hand-written config runs end to end with the documented shapes.
#[test]
fn random_config_shapes() {
    let config: WanVaeConfig = serde_json::from_str(
        r#"{"_class_name": "AutoencoderKLWan", "base_dim": 4, "z_dim": 3, "dim_mult": [1, 2, 2],
            "num_res_blocks": 1, "attn_scales": [0.5], "temperal_downsample": [true, false],
            "latents_mean": [0, 0, 0], "latents_std": [1, 1, 1], "something_new": 1}"#,
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!((config.temporal_factor(), config.spatial_factor()), (2, 4));
    let device = Device::flex();
    let vae = config.init(&device);
    let video = Tensor::<5>::random([2, 3, 9, 8, 12], Distribution::Uniform(-1.0, 1.0), &device);
    // The reference encodes 4 frames per chunk whatever the temporal factor: 1 + 2 + 2 latents.
    let z = vae.encode_mean(video);
    assert_eq!(z.dims(), [2, 3, 5, 2, 3]);
    assert_eq!(vae.decode_raw(z).dims(), [2, 3, 9, 8, 12]);
}

/// A temporary copy of a VAE directory whose weights file went through `edit`.
fn edited_copy(
    dir: &Path,
    edit: impl Fn(&str, Vec<usize>, Vec<u8>) -> Option<(Vec<usize>, Vec<u8>)>,
) -> tempfile::TempDir {
    use safetensors::tensor::TensorView;
    let out = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("config.json"), out.path().join("config.json")).unwrap();
    let name = "diffusion_pytorch_model.safetensors";
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut kept = Vec::new();
    for (key, view) in file.tensors() {
        if let Some((shape, data)) = edit(&key, view.shape().to_vec(), view.data().to_vec()) {
            kept.push((key, view.dtype(), shape, data));
        }
    }
    let views: Vec<(String, TensorView)> = kept
        .iter()
        .map(|(key, dtype, shape, data)| (key.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &out.path().join(name)).unwrap();
    out
}

#[test]
fn missing_key_is_a_typed_error_naming_the_key() {
    let dir = wan_case(&wan_cases()[0]).join("pipeline").join("vae");
    for key in ["decoder.conv_out.weight", "encoder.down_blocks.1.resample.1.weight"] {
        let copy = edited_copy(&dir, |k, shape, data| (k != key).then_some((shape, data)));
        match WanVae::load(copy.path(), &device()).map(|_| ()) {
            Err(Error::Load(tenku_core::Error::KeyMismatch { missing, unexpected, .. })) => {
                assert_eq!(missing, [key.to_owned()]);
                assert!(unexpected.is_empty(), "{unexpected:?}");
            }
            other => panic!("expected a key mismatch naming {key}, got {other:?}"),
        }
    }
}

#[test]
fn extra_key_is_a_typed_error_naming_the_key() {
    let dir = wan_case(&wan_cases()[0]).join("pipeline").join("vae");
    let copy = edited_copy(&dir, |_, shape, data| Some((shape, data)));
    // A second shard holding one tensor that no parameter takes.
    let bytes = std::fs::read(dir.join("diffusion_pytorch_model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let stray = vec![("decoder.conv_out.extra".to_owned(), file.tensor("decoder.conv_out.bias").unwrap())];
    safetensors::serialize_to_file(stray, None, &copy.path().join("extra.safetensors")).unwrap();
    match WanVae::load(copy.path(), &device()).map(|_| ()) {
        Err(Error::Load(tenku_core::Error::KeyMismatch { missing, unexpected, .. })) => {
            assert!(missing.is_empty(), "{missing:?}");
            assert_eq!(unexpected, ["decoder.conv_out.extra".to_owned()]);
        }
        other => panic!("expected a key mismatch naming the stray key, got {other:?}"),
    }
}

#[test]
fn wrong_shape_is_a_typed_error_naming_the_key() {
    let dir = wan_case(&wan_cases()[0]).join("pipeline").join("vae");
    for key in ["decoder.norm_out.gamma", "encoder.down_blocks.0.conv1.bias"] {
        // Drop the last element of the first dimension.
        let copy = edited_copy(&dir, |k, mut shape, data| {
            if k == key {
                let row = data.len() / shape[0];
                shape[0] -= 1;
                Some((shape, data[..data.len() - row].to_vec()))
            } else {
                Some((shape, data))
            }
        });
        let error = WanVae::load(copy.path(), &device()).map(|_| ()).expect_err("shape mismatch must fail");
        match &error {
            Error::Load(tenku_core::Error::ShapeMismatch { key: got, .. }) => assert_eq!(got, key),
            other => panic!("expected a shape mismatch naming {key}, got {other:?}"),
        }
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[test]
fn invalid_config_is_a_typed_error() {
    let dir = wan_case(&wan_cases()[0]).join("pipeline").join("vae");
    let copy = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    config["latents_std"] = serde_json::json!([1.0]);
    std::fs::write(copy.path().join("config.json"), config.to_string()).unwrap();
    match WanVae::load(copy.path(), &device()).map(|_| ()) {
        Err(Error::InvalidConfig { reason, .. }) => assert!(reason.contains("latents_std"), "{reason}"),
        other => panic!("expected an invalid config error, got {other:?}"),
    }
}
