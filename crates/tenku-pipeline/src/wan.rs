//! Wan2.1 text-to-video from a diffusers model directory.

use std::path::Path;

use burn::tensor::Device;
use tenku_core::{Error as CoreError, ModelDir, VideoAutoencoder};
use tenku_dit::WanTransformer;
use tenku_text::WanTextEncoder;
use tenku_vae::WanVae;

use crate::scheduler::SUPPORTED_SCHEDULERS;
use crate::{Error, GenerationDefaults, Geometry, SchedulerSpec, TextToVideo};

/// Wan2.1 text-to-video: umT5, the Wan DiT and the Wan2.1 causal VAE.
pub type WanTextToVideo = TextToVideo<WanTextEncoder, WanTransformer, WanVae>;

/// Pipeline classes [`load_wan`] accepts in `model_index.json`.
pub const WAN_PIPELINES: [&str; 1] = ["WanPipeline"];

/// `(component, accepted classes)` of a Wan2.1 text-to-video directory.
const WAN_COMPONENTS: [(&str, &[&str]); 5] = [
    ("transformer", &["WanTransformer3DModel"]),
    ("vae", &["AutoencoderKLWan"]),
    ("text_encoder", &["UMT5EncoderModel"]),
    ("tokenizer", &["T5Tokenizer", "T5TokenizerFast", "AutoTokenizer", "PreTrainedTokenizerFast"]),
    ("scheduler", &SUPPORTED_SCHEDULERS),
];

/// Loads a Wan2.1 text-to-video pipeline from a diffusers directory
/// (`Wan-AI/Wan2.1-T2V-1.3B-Diffusers` and the like) onto `device`.
///
/// Every component class is checked before any weight is read; a class Tenku does not implement
/// is an error naming the component, the class and `model_index.json`; so is a recorded default
/// (`_tenku_defaults`) that would not make a valid request for the model's geometry.
pub fn load_wan(dir: &Path, device: &Device) -> Result<WanTextToVideo, Error> {
    let model = ModelDir::open(dir)?;
    let index = model.index_path();
    if !WAN_PIPELINES.contains(&model.pipeline_class()) {
        return Err(CoreError::UnsupportedClass {
            component: "pipeline".into(),
            class: model.pipeline_class().to_owned(),
            path: index,
            supported: WAN_PIPELINES.join(", "),
        }
        .into());
    }
    for (name, classes) in WAN_COMPONENTS {
        model.component(name)?.expect_class(classes, &index)?;
    }
    let scheduler = SchedulerSpec::from_file(&model.component("scheduler")?.config_path()?)?;
    let text_encoder = WanTextEncoder::load(
        &model.component("tokenizer")?.dir,
        &model.component("text_encoder")?.dir,
        device,
    )?;
    let transformer_dir = &model.component("transformer")?.dir;
    let denoiser = WanTransformer::load(transformer_dir, device)?;
    let vae = WanVae::load(&model.component("vae")?.dir, device)?;

    let config = denoiser.config();
    let layout = vae.layout();
    if layout.channels != config.in_channels {
        return Err(CoreError::InvalidConfig {
            path: transformer_dir.join("config.json"),
            reason: format!(
                "in_channels {} does not match the VAE's z_dim {}",
                config.in_channels, layout.channels
            ),
        }
        .into());
    }
    let geometry = Geometry {
        latent_channels: config.in_channels,
        temporal_factor: layout.temporal_factor,
        spatial_factor: layout.spatial_factor,
        patch: (config.patch_size[1], config.patch_size[2]),
    };
    let mut defaults: GenerationDefaults =
        match tenku_core::read_json::<serde_json::Value>(&index)?.get("_tenku_defaults") {
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|source| CoreError::Json { path: index.clone(), source })?,
            None => GenerationDefaults::default(),
        };
    if let Some(reason) = defaults.problem(&geometry) {
        return Err(CoreError::InvalidConfig { path: index, reason }.into());
    }
    if let Some(max_length) = text_encoder.tokenizer.model_max_length() {
        defaults.max_sequence_length = max_length;
    }
    Ok(TextToVideo { text_encoder, denoiser, vae, scheduler, geometry, defaults, device: device.clone() })
}
