//! The VAE's configuration: a serde mirror of diffusers' `vae/config.json`.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::WanVae;

/// The configuration of an `AutoencoderKLWan`, as diffusers writes it to `vae/config.json`.
///
/// Field names and meanings are diffusers' (including its spelling `temperal_downsample`);
/// `_class_name`, `_diffusers_version` and unknown fields are ignored. Fields that older configs
/// may lack default to diffusers' `__init__` defaults.
// https://github.com/huggingface/diffusers/blob/v0.42.1/src/diffusers/models/autoencoders/autoencoder_kl_wan.py
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WanVaeConfig {
    /// Channels of the encoder's first stage (96 for Wan2.1, 160 for Wan2.2).
    pub base_dim: usize,
    /// Channels of the decoder's last stage; `None` means `base_dim`.
    #[serde(default)]
    pub decoder_base_dim: Option<usize>,
    /// Latent channels.
    pub z_dim: usize,
    /// Channel multipliers per stage; `len − 1` spatial ×2 resamplings.
    pub dim_mult: Vec<usize>,
    /// Residual blocks per encoder stage (the decoder uses one more).
    pub num_res_blocks: usize,
    /// Scales (1, 0.5, ...) at which the (non-residual) encoder adds attention after each
    /// residual block. The decoder never has stage attention, as in diffusers.
    #[serde(default)]
    pub attn_scales: Vec<f64>,
    /// Whether each encoder downsampling also halves time; the decoder uses the reverse.
    pub temperal_downsample: Vec<bool>,
    /// Dropout rate; inference ignores it.
    #[serde(default)]
    pub dropout: f64,
    /// Per-channel latent mean the pipelines subtract.
    pub latents_mean: Vec<f32>,
    /// Per-channel latent standard deviation the pipelines divide by.
    pub latents_std: Vec<f32>,
    /// Wan2.2 layout: residual down/up blocks with parameter-free shortcuts.
    #[serde(default)]
    pub is_residual: bool,
    /// Pixel channels before patchifying.
    #[serde(default = "three")]
    pub in_channels: usize,
    /// Pixel channels after the decoder, before unpatchifying.
    #[serde(default = "three")]
    pub out_channels: usize,
    /// Spatial patch size folded into channels before the encoder (Wan2.2: 2); `None` is 1.
    #[serde(default)]
    pub patch_size: Option<usize>,
    /// The temporal factor the config declares (informational; [`WanVaeConfig::temporal_factor`]
    /// derives it from `temperal_downsample`).
    #[serde(default)]
    pub scale_factor_temporal: Option<usize>,
    /// The spatial factor the config declares (informational; [`WanVaeConfig::spatial_factor`]
    /// derives it from `dim_mult` and `patch_size`).
    #[serde(default)]
    pub scale_factor_spatial: Option<usize>,
}

fn three() -> usize {
    3
}

impl WanVaeConfig {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let config: Self = tenku_core::read_json(path)?;
        config.validate().map_err(|reason| Error::InvalidConfig { path: path.to_owned(), reason })?;
        Ok(config)
    }

    /// Checks that the fields are consistent; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let stages = self.dim_mult.len();
        if stages == 0 || self.dim_mult.contains(&0) {
            return Err(format!("dim_mult must be non-empty and positive, got {:?}", self.dim_mult));
        }
        if self.base_dim == 0 || self.z_dim == 0 || self.decoder_base_dim == Some(0) {
            return Err("base_dim, decoder_base_dim and z_dim must be positive".into());
        }
        if self.temperal_downsample.len() < stages - 1 {
            return Err(format!(
                "temperal_downsample has {} entries; dim_mult {:?} needs {}",
                self.temperal_downsample.len(),
                self.dim_mult,
                stages - 1
            ));
        }
        for (name, values) in [("latents_mean", &self.latents_mean), ("latents_std", &self.latents_std)] {
            if values.len() != self.z_dim {
                return Err(format!("{name} has {} values; z_dim is {}", values.len(), self.z_dim));
            }
        }
        if let Some(bad) = self.latents_std.iter().find(|s| !(s.is_finite() && **s != 0.0)) {
            return Err(format!("latents_std must be finite and non-zero, found {bad}"));
        }
        if self.patch_size == Some(0) {
            return Err("patch_size must be positive".into());
        }
        let p2 = self.patch() * self.patch();
        if self.patch_size.is_some()
            && !(self.in_channels.is_multiple_of(p2) && self.out_channels.is_multiple_of(p2))
        {
            return Err(format!(
                "in_channels {} and out_channels {} must be divisible by patch_size² = {p2}",
                self.in_channels, self.out_channels
            ));
        }
        if self.is_residual {
            let dims = self.encoder_dims();
            for (i, pair) in dims.windows(2).enumerate() {
                let factor =
                    if i + 1 == stages { 1 } else { 4 * (1 + usize::from(self.temperal_downsample[i])) };
                if !(pair[0] * factor).is_multiple_of(pair[1]) {
                    return Err(format!(
                        "residual down block {i}: {} channels × factor {factor} not divisible by {}",
                        pair[0], pair[1]
                    ));
                }
            }
            let dims = self.decoder_dims();
            let up = self.temperal_upsample();
            for i in 0..stages - 1 {
                let factor = 4 * (1 + usize::from(up[i]));
                if !(dims[i + 1] * factor).is_multiple_of(dims[i]) {
                    return Err(format!(
                        "residual up block {i}: {} channels × factor {factor} not divisible by {}",
                        dims[i + 1],
                        dims[i]
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds a randomly initialized VAE (load weights with [`WanVae::load`] instead).
    pub fn init(&self, device: &Device) -> WanVae {
        WanVae::new(self, device)
    }

    /// The spatial patch size (1 without patchifying).
    pub fn patch(&self) -> usize {
        self.patch_size.unwrap_or(1)
    }

    /// Channels per encoder stage: `base_dim · [1, dim_mult...]`.
    pub(crate) fn encoder_dims(&self) -> Vec<usize> {
        std::iter::once(1).chain(self.dim_mult.iter().copied()).map(|m| self.base_dim * m).collect()
    }

    /// Channels per decoder stage: `decoder_base_dim · [dim_mult[-1], reversed dim_mult...]`.
    pub(crate) fn decoder_dims(&self) -> Vec<usize> {
        let base = self.decoder_base_dim.unwrap_or(self.base_dim);
        let last = *self.dim_mult.last().expect("validated: dim_mult is non-empty");
        std::iter::once(last).chain(self.dim_mult.iter().rev().copied()).map(|m| base * m).collect()
    }

    /// Whether each decoder stage doubles time: `temperal_downsample` reversed.
    pub(crate) fn temperal_upsample(&self) -> Vec<bool> {
        self.temperal_downsample.iter().rev().copied().collect()
    }

    /// Video frames per latent frame after the first: 2 to the number of temporal
    /// downsamplings among the `dim_mult.len() − 1` resamplings (4 for Wan).
    pub fn temporal_factor(&self) -> usize {
        let downs = self.temperal_downsample.iter().take(self.dim_mult.len() - 1).filter(|t| **t).count();
        1 << downs
    }

    /// Pixels per latent pixel: `2^(dim_mult.len() − 1) · patch` (8 for Wan2.1, 16 for Wan2.2).
    pub fn spatial_factor(&self) -> usize {
        (1 << (self.dim_mult.len() - 1)) * self.patch()
    }
}
