//! The whole VAE (diffusers' `AutoencoderKLWan`): chunked encode, streaming decode, loading and
//! the [`VideoAutoencoder`] seam with the pipelines' latent normalization.

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use tenku_core::{
    LatentLayout, LoadOptions, VideoAutoencoder, WeightStore, save_safetensors, write_config_json,
};

use crate::causal_conv::{CausalConv3d, CausalConv3dConfig, FeatureCache};
use crate::config::WanVaeConfig;
use crate::decoder::WanDecoder;
use crate::encoder::WanEncoder;
use crate::error::Error;

/// Frames per encoder chunk after the first frame. diffusers' `_encode` hard-codes 4 whatever
/// the temporal factor, so this does too.
const ENCODE_CHUNK_FRAMES: usize = 4;

/// The checkpoint stores each resampler's spatial conv as `resample.1.*` (index 1 of an
/// `nn.Sequential`); the module field is `resample`.
const RESAMPLE_REMAP: (&str, &str) = (r"^(.+)\.resample\.1\.(weight|bias)$", "$1.resample.$2");

/// The Wan causal video VAE.
///
/// Fields are named after the checkpoint's top-level keys; the parameter paths equal the
/// diffusers state-dict keys except for two documented remaps (see [`WanVae::load`]).
#[derive(Module, Debug)]
pub struct WanVae {
    /// Pixels to posterior parameters.
    pub encoder: WanEncoder,
    /// 1³ conv on the posterior's `2·z_dim` channels.
    pub quant_conv: CausalConv3d,
    /// 1³ conv on the latents before decoding.
    pub post_quant_conv: CausalConv3d,
    /// Latents to pixels.
    pub decoder: WanDecoder,
    /// Channels, compression factors and normalization.
    #[module(skip)]
    pub layout: LatentLayout,
    /// Spatial patch size folded into channels (1 for Wan2.1, 2 for Wan2.2).
    #[module(skip)]
    pub patch: usize,
    /// The config the VAE was built from (with the latent statistics of `layout`).
    #[module(skip)]
    config: WanVaeConfig,
}

impl WanVae {
    /// Builds a randomly initialized VAE for `config` (call [`WanVaeConfig::validate`] first, or
    /// use [`WanVaeConfig::init`]).
    pub fn new(config: &WanVaeConfig, device: &Device) -> Self {
        let z = config.z_dim;
        Self {
            encoder: WanEncoder::new(config, device),
            quant_conv: CausalConv3dConfig::cubic([2 * z, 2 * z], 1).init(device),
            post_quant_conv: CausalConv3dConfig::cubic([z, z], 1).init(device),
            decoder: WanDecoder::new(config, device),
            layout: LatentLayout {
                channels: z,
                temporal_factor: config.temporal_factor(),
                spatial_factor: config.spatial_factor(),
                mean: config.latents_mean.clone(),
                std: config.latents_std.clone(),
            },
            patch: config.patch(),
            config: config.clone(),
        }
    }

    /// The config the VAE was built from.
    pub fn config(&self) -> &WanVaeConfig {
        &self.config
    }

    /// Replaces the per-channel latent statistics the pipelines normalize with (a trainer sets
    /// them from encoded training data).
    ///
    /// # Panics
    /// When either has other than `z_dim` values.
    pub fn with_latent_stats(mut self, mean: Vec<f32>, std: Vec<f32>) -> Self {
        let z = self.layout.channels;
        assert!(mean.len() == z && std.len() == z, "latent statistics need {z} values each");
        self.config.latents_mean = mean.clone();
        self.config.latents_std = std.clone();
        self.layout.mean = mean;
        self.layout.std = std;
        self
    }

    /// Writes a diffusers `vae/` folder that [`WanVae::load`] (and diffusers) reads:
    /// `config.json` and `diffusion_pytorch_model.safetensors`, each written atomically.
    pub fn save(&self, component_dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(component_dir)
            .map_err(|source| tenku_core::Error::Io { path: component_dir.to_owned(), source })?;
        write_config_json(&component_dir.join("config.json"), "AutoencoderKLWan", &self.config, &[])?;
        let remap = [(r"^(.+)\.resample\.(weight|bias)$", "$1.resample.1.$2")];
        save_safetensors(self, &component_dir.join("diffusion_pytorch_model.safetensors"), &remap)?;
        Ok(())
    }

    /// Loads a diffusers `vae/` directory: `config.json` plus its safetensors weights, as f32.
    ///
    /// Two key remaps are applied, both anchored: `….resample.1.{weight,bias}` →
    /// `….resample.{weight,bias}` (see [`crate::Resample`]), and
    /// `encoder.down_blocks.{i}.…` → `encoder.down_blocks.{i}.<Variant>.…` (see
    /// [`crate::DownLayer`]). Errors name checkpoint keys as the file spells them.
    pub fn load(component_dir: &Path, device: &Device) -> Result<WanVae, Error> {
        let config = WanVaeConfig::from_file(&component_dir.join("config.json"))?;
        let vae = config.init(device);
        let store = WeightStore::open(component_dir)?;
        let mut options = LoadOptions::f32().with_remap(RESAMPLE_REMAP.0, RESAMPLE_REMAP.1);
        for (pattern, replacement) in vae.encoder.variant_remaps("encoder") {
            options = options.with_remap(pattern, replacement);
        }
        let (vae, _report) = store.load_into(vae, &options).map_err(checkpoint_keys)?;
        Ok(vae)
    }

    /// The raw posterior mean (`vae.encode(x).latent_dist.mean`), computed like diffusers'
    /// `_encode`: frame 0, then chunks of 4 frames through the causal cache, then `quant_conv`.
    ///
    /// Like the reference, frames past the last whole chunk of 4 are ignored; pass
    /// `1 + 4k` frames.
    ///
    /// # Shapes
    /// - `video`: `[batch, in_channels / patch², frames, height, width]`, pixels in [-1, 1]
    /// - output: `[batch, z_dim, 1 + (frames − 1) / 4, height / s, width / s]`
    pub fn encode_mean(&self, video: Tensor<5>) -> Tensor<5> {
        self.encode_posterior(video).narrow(1, 0, self.layout.channels)
    }

    /// The raw posterior parameters: mean (channels `0..z_dim`) and log-variance (channels
    /// `z_dim..2·z_dim`), computed as [`WanVae::encode_mean`] describes.
    ///
    /// # Shapes
    /// - output: `[batch, 2·z_dim, 1 + (frames − 1) / 4, height / s, width / s]`
    pub fn encode_posterior(&self, video: Tensor<5>) -> Tensor<5> {
        let x = patchify(video, self.patch);
        let frames = x.dims()[2];
        assert!(frames >= 1, "encode needs at least one frame");
        let chunks = 1 + (frames - 1) / ENCODE_CHUNK_FRAMES;
        let mut cache = FeatureCache::new();
        let mut outs = Vec::with_capacity(chunks);
        for i in 0..chunks {
            let (start, len) =
                if i == 0 { (0, 1) } else { (1 + ENCODE_CHUNK_FRAMES * (i - 1), ENCODE_CHUNK_FRAMES) };
            cache.start_chunk();
            outs.push(self.encoder.forward(x.clone().narrow(2, start, len), &mut cache));
        }
        self.quant_conv.forward(Tensor::cat(outs, 2), None)
    }

    /// Decodes raw (de-normalized) latents one latent frame at a time through the causal cache,
    /// as diffusers' `_decode`, handing each chunk to `sink` clamped to [-1, 1]: one frame for
    /// latent frame 0, `temporal_factor` frames for each later one. Only the cache and the
    /// current chunk stay alive.
    ///
    /// # Shapes
    /// - `z`: `[batch, z_dim, latent_frames, h, w]`
    /// - each chunk: `[batch, out_channels / patch², 1 or temporal_factor, h·s, w·s]`
    pub fn decode_raw_streaming(&self, z: Tensor<5>, sink: &mut dyn FnMut(Tensor<5>)) {
        self.decode_unclamped_streaming(z, &mut |chunk| sink(chunk.clamp(-1.0, 1.0)));
    }

    /// [`WanVae::decode_raw_streaming`] without the final clamp, for training losses (a clamp
    /// has no gradient outside [-1, 1]).
    pub fn decode_unclamped_streaming(&self, z: Tensor<5>, sink: &mut dyn FnMut(Tensor<5>)) {
        let latent_frames = z.dims()[2];
        let mut cache = FeatureCache::new();
        for i in 0..latent_frames {
            cache.start_chunk();
            // post_quant_conv is 1³, so applying it per frame equals applying it to the whole z.
            let x = self.post_quant_conv.forward(z.clone().narrow(2, i, 1), None);
            let out = self.decoder.forward(x, &mut cache, i == 0);
            sink(unpatchify(out, self.patch));
        }
    }

    /// Decodes raw latents to one video tensor (the chunks of [`WanVae::decode_raw_streaming`]
    /// concatenated in time): `vae.decode(z).sample`.
    ///
    /// # Shapes
    /// - `z`: `[batch, z_dim, latent_frames, h, w]`
    /// - output: `[batch, out_channels / patch², 1 + temporal_factor·(latent_frames − 1), h·s, w·s]`
    pub fn decode_raw(&self, z: Tensor<5>) -> Tensor<5> {
        let mut chunks = Vec::new();
        self.decode_raw_streaming(z, &mut |chunk| chunks.push(chunk));
        Tensor::cat(chunks, 2)
    }

    /// Raw latents of normalized `latents` (`[batch, z_dim, frames, h, w]`):
    /// `latents / (1 / std) + mean`, as WanPipeline de-normalizes before decoding.
    pub fn denormalize(&self, latents: Tensor<5>) -> Tensor<5> {
        let (mean, inv) = self.norm_tensors(&latents.device());
        latents / inv + mean
    }

    /// `latents_mean` and `1 / latents_std` as `[1, z_dim, 1, 1, 1]` f32 tensors; the reciprocal
    /// is taken in f32, as the pipelines do.
    fn norm_tensors(&self, device: &Device) -> (Tensor<5>, Tensor<5>) {
        let inv: Vec<f32> = self.layout.std.iter().map(|s| 1.0 / s).collect();
        (self.layout.per_channel(&self.layout.mean, device), self.layout.per_channel(&inv, device))
    }
}

impl VideoAutoencoder for WanVae {
    fn layout(&self) -> &LatentLayout {
        &self.layout
    }

    /// Encodes to normalized latents `(μ − mean) · (1 / std)`, as WanImageToVideoPipeline does.
    fn encode(&self, video: Tensor<5>) -> Tensor<5> {
        let mu = self.encode_mean(video);
        let (mean, inv) = self.norm_tensors(&mu.device());
        (mu - mean) * inv
    }

    /// De-normalizes `z = latents / (1 / std) + mean`, as WanPipeline does, then streams
    /// [`WanVae::decode_raw_streaming`].
    fn decode_streaming(&self, latents: Tensor<5>, sink: &mut dyn FnMut(Tensor<5>)) {
        self.decode_raw_streaming(self.denormalize(latents), sink);
    }
}

/// Rewrites module paths in a load error back to checkpoint keys: drops the `down_blocks` enum
/// variant segment and restores `resample.1`.
fn checkpoint_keys(error: tenku_core::Error) -> Error {
    let fix = |key: String| -> String {
        let mut key = key;
        for variant in WanEncoder::variant_names() {
            key = key.replace(&format!(".{variant}."), ".");
        }
        for param in ["weight", "bias"] {
            let burn_path = format!(".resample.{param}");
            if key.ends_with(&burn_path) {
                key = format!("{}.resample.1.{param}", &key[..key.len() - burn_path.len()]);
            }
        }
        key
    };
    let error = match error {
        tenku_core::Error::KeyMismatch { path, missing, unexpected } => tenku_core::Error::KeyMismatch {
            path,
            missing: missing.into_iter().map(fix).collect(),
            unexpected: unexpected.into_iter().map(fix).collect(),
        },
        tenku_core::Error::ShapeMismatch { key, path, expected, found } => {
            tenku_core::Error::ShapeMismatch { key: fix(key), path, expected, found }
        }
        other => other,
    };
    Error::Load(error)
}

/// Folds `patch × patch` pixel blocks into channels (diffusers' `patchify`): channel
/// `c·p² + wi·p + hi` holds pixel `(p·h + hi, p·w + wi)` — the width offset varies slower.
///
/// # Shapes
/// - `x`: `[b, c, f, h, w]`; output: `[b, c·p², f, h / p, w / p]`
pub fn patchify(x: Tensor<5>, patch: usize) -> Tensor<5> {
    if patch == 1 {
        return x;
    }
    let [b, c, f, h, w] = x.dims();
    let (h2, w2) = (h / patch, w / patch);
    assert!(h2 * patch == h && w2 * patch == w, "height {h} and width {w} must be divisible by {patch}");
    x.reshape([b * c, f, h2, patch, w2, patch])
        // → [b·c, wi, hi, f, h', w']
        .permute([0, 5, 3, 1, 2, 4])
        .reshape([b, c * patch * patch, f, h2, w2])
}

/// Inverse of [`patchify`] (diffusers' `unpatchify`).
///
/// # Shapes
/// - `x`: `[b, c·p², f, h, w]`; output: `[b, c, f, h·p, w·p]`
pub fn unpatchify(x: Tensor<5>, patch: usize) -> Tensor<5> {
    if patch == 1 {
        return x;
    }
    let [b, cp, f, h, w] = x.dims();
    let c = cp / (patch * patch);
    x.reshape([b * c, patch, patch, f, h, w])
        // [b·c, wi, hi, f, h, w] → [b·c, f, h, hi, w, wi]
        .permute([0, 3, 4, 2, 5, 1])
        .reshape([b, c, f, h * patch, w * patch])
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    #[test]
    fn unpatchify_inverts_patchify_with_the_reference_channel_order() {
        let device = Device::flex();
        let x = Tensor::<5>::random([2, 3, 2, 4, 6], Distribution::Normal(0.0, 1.0), &device);
        let p = patchify(x.clone(), 2);
        assert_eq!(p.dims(), [2, 12, 2, 2, 3]);
        // Channel c·4 + wi·2 + hi at (h, w) is pixel (2h + hi, 2w + wi).
        let (c, wi, hi, f, h, w) = (1, 1, 0, 1, 1, 2);
        let got: f32 = p
            .clone()
            .slice([0..1, c * 4 + wi * 2 + hi..c * 4 + wi * 2 + hi + 1, f..f + 1, h..h + 1, w..w + 1])
            .into_scalar();
        let want: f32 = x
            .clone()
            .slice([0..1, c..c + 1, f..f + 1, 2 * h + hi..2 * h + hi + 1, 2 * w + wi..2 * w + wi + 1])
            .into_scalar();
        assert_eq!(got, want);
        let back = unpatchify(p, 2);
        let diff: f32 = (back - x).abs().max().into_scalar();
        assert_eq!(diff, 0.0);
    }
}
