//! The transformer's configuration: a serde mirror of diffusers' `transformer/config.json`.

use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use tenku_core::LoadOptions;

use crate::error::{ConfigError, Error, Result};
use crate::model::WanTransformer;

/// The hyper-parameters of `WanTransformer3DModel`, field for field as diffusers writes them to
/// `transformer/config.json` (diffusers 0.42.1, `models/transformers/transformer_wan.py`).
///
/// Unknown fields (`_class_name`, `_diffusers_version`, ...) are ignored. There is no `Default`:
/// read the model's own config, or pick a preset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WanTransformerConfig {
    /// Patch size `[frames, height, width]` in latent voxels.
    pub patch_size: [usize; 3],
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Channels per head; the model width is `num_attention_heads · attention_head_dim`.
    pub attention_head_dim: usize,
    /// Latent channels in.
    pub in_channels: usize,
    /// Latent channels out; `null` means `in_channels` (diffusers' `out_channels or in_channels`).
    pub out_channels: Option<usize>,
    /// Width of the text encoder's hidden states (4096 for umT5-XXL).
    pub text_dim: usize,
    /// Width of the timestep sinusoid.
    pub freq_dim: usize,
    /// Hidden width of each block's feed-forward network.
    pub ffn_dim: usize,
    /// Transformer blocks.
    pub num_layers: usize,
    /// Whether cross-attention has an affine LayerNorm (`norm2`) in front of it.
    pub cross_attn_norm: bool,
    /// Recorded but not read by diffusers 0.42.1: q/k always get an RMSNorm across all heads.
    pub qk_norm: Option<String>,
    /// Epsilon of every LayerNorm and RMSNorm in the blocks and the output head.
    pub eps: f64,
    /// Width of CLIP image embeddings (image-to-video); must be `null` (not supported yet).
    pub image_dim: Option<usize>,
    /// Width of the extra key/value inputs of cross-attention (image-to-video); must be `null`.
    pub added_kv_proj_dim: Option<usize>,
    /// Positions per axis of the RoPE tables.
    pub rope_max_seq_len: usize,
    /// Learned positions of the image embedder (FLF2V); only read with `image_dim`.
    pub pos_embed_seq_len: Option<usize>,
}

impl WanTransformerConfig {
    /// Wan2.1 T2V 1.3B.
    // https://huggingface.co/Wan-AI/Wan2.1-T2V-1.3B-Diffusers/blob/main/transformer/config.json
    // (values as tabulated in shared/reference/wan.md §0).
    pub fn wan2_1_t2v_1_3b() -> Self {
        Self { num_attention_heads: 12, ffn_dim: 8960, num_layers: 30, ..Self::wan2_1_t2v_14b() }
    }

    /// Wan2.1 T2V 14B.
    // https://huggingface.co/Wan-AI/Wan2.1-T2V-14B-Diffusers/blob/main/transformer/config.json
    // (values as tabulated in shared/reference/wan.md §0).
    pub fn wan2_1_t2v_14b() -> Self {
        Self {
            patch_size: [1, 2, 2],
            num_attention_heads: 40,
            attention_head_dim: 128,
            in_channels: 16,
            out_channels: Some(16),
            text_dim: 4096,
            freq_dim: 256,
            ffn_dim: 13824,
            num_layers: 40,
            cross_attn_norm: true,
            qk_norm: Some("rms_norm_across_heads".to_owned()),
            eps: 1e-6,
            image_dim: None,
            added_kv_proj_dim: None,
            rope_max_seq_len: 1024,
            pos_embed_seq_len: None,
        }
    }

    /// Reads and checks a `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let config: Self = tenku_core::read_json(path)?;
        config.validate().map_err(|source| Error::Config { path: path.to_owned(), source })?;
        Ok(config)
    }

    /// Checks that this crate can build the model the config describes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: String| Err(ConfigError::Invalid { reason });
        if let Some(dim) = self.image_dim {
            return Err(ConfigError::Unsupported {
                feature: format!(
                    "image_dim = {dim} (the CLIP image-conditioning branch of Wan2.1 image-to-video)"
                ),
            });
        }
        if let Some(dim) = self.added_kv_proj_dim {
            return Err(ConfigError::Unsupported {
                feature: format!(
                    "added_kv_proj_dim = {dim} (the image key/value projections of Wan2.1 image-to-video)"
                ),
            });
        }
        if self.patch_size.contains(&0) {
            return invalid(format!("patch_size {:?} has a zero side", self.patch_size));
        }
        if self.num_attention_heads == 0 || self.attention_head_dim == 0 {
            return invalid("num_attention_heads and attention_head_dim must be positive".to_owned());
        }
        if !self.attention_head_dim.is_multiple_of(2) {
            return invalid(format!(
                "attention_head_dim = {} must be even (RoPE rotates pairs)",
                self.attention_head_dim
            ));
        }
        if self.in_channels == 0 || self.out_channels == Some(0) {
            return invalid("in_channels and out_channels must be positive".to_owned());
        }
        if self.freq_dim < 2 {
            return invalid(format!("freq_dim = {} must be at least 2", self.freq_dim));
        }
        if self.text_dim == 0 || self.ffn_dim == 0 || self.rope_max_seq_len == 0 {
            return invalid("text_dim, ffn_dim and rope_max_seq_len must be positive".to_owned());
        }
        if self.eps.is_nan() || self.eps <= 0.0 {
            return invalid(format!("eps = {} must be positive", self.eps));
        }
        Ok(())
    }

    /// The model width `D = num_attention_heads · attention_head_dim`.
    pub fn inner_dim(&self) -> usize {
        self.num_attention_heads * self.attention_head_dim
    }

    /// Latent channels out (`out_channels`, or `in_channels` when it is `null`).
    pub fn output_channels(&self) -> usize {
        self.out_channels.unwrap_or(self.in_channels)
    }

    /// How checkpoint keys map onto [`WanTransformer`]'s fields.
    ///
    /// Field names equal the diffusers keys except where a key cannot be a Rust field path:
    ///
    /// | checkpoint key | field |
    /// |---|---|
    /// | `blocks.{i}.ffn.net.0.proj.{weight,bias}` | `blocks.{i}.ffn.net_0_proj.…` |
    /// | `blocks.{i}.ffn.net.2.{weight,bias}` | `blocks.{i}.ffn.net_2.…` |
    ///
    /// (`attn{1,2}.to_out.0` needs no remap: `to_out` is a `Vec` whose index forms the key.)
    /// `blocks.{i}.attn2.norm_added_q.weight` is ignored like diffusers'
    /// `_keys_to_ignore_on_load_unexpected`.
    pub fn load_options(&self) -> LoadOptions {
        let mut options = LoadOptions::f32()
            .with_remap(r"^(blocks\.\d+\.ffn)\.net\.0\.proj\.(weight|bias)$", "${1}.net_0_proj.${2}")
            .with_remap(r"^(blocks\.\d+\.ffn)\.net\.2\.(weight|bias)$", "${1}.net_2.${2}");
        options.ignore_unexpected =
            (0..self.num_layers).map(|i| format!("blocks.{i}.attn2.norm_added_q.weight")).collect();
        options
    }

    /// Builds a randomly initialized transformer (parameters are materialized lazily, so
    /// initializing and then loading does not pay for the random values).
    ///
    /// # Panics
    /// If [`WanTransformerConfig::validate`] fails; [`WanTransformer::load`] reports that as an
    /// error instead.
    pub fn init(&self, device: &Device) -> WanTransformer {
        if let Err(e) = self.validate() {
            panic!("cannot build a Wan transformer from this config: {e}");
        }
        WanTransformer::new(self, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config.json as diffusers' `save_pretrained` writes it, for the tiny test model.
    const TINY: &str = r#"{
        "_class_name": "WanTransformer3DModel",
        "_diffusers_version": "0.42.1",
        "added_kv_proj_dim": null,
        "attention_head_dim": 12,
        "cross_attn_norm": true,
        "eps": 1e-06,
        "ffn_dim": 32,
        "freq_dim": 256,
        "image_dim": null,
        "in_channels": 4,
        "num_attention_heads": 2,
        "num_layers": 2,
        "out_channels": 4,
        "patch_size": [1, 2, 2],
        "pos_embed_seq_len": null,
        "qk_norm": "rms_norm_across_heads",
        "rope_max_seq_len": 32,
        "text_dim": 32
    }"#;

    #[test]
    fn parses_a_diffusers_config() {
        let config: WanTransformerConfig = serde_json::from_str(TINY).unwrap();
        assert_eq!(config.inner_dim(), 24);
        assert_eq!(config.output_channels(), 4);
        assert_eq!(config.patch_size, [1, 2, 2]);
        assert_eq!(config.image_dim, None);
        config.validate().unwrap();
    }

    #[test]
    fn presets_are_valid() {
        for config in [WanTransformerConfig::wan2_1_t2v_1_3b(), WanTransformerConfig::wan2_1_t2v_14b()] {
            config.validate().unwrap();
            assert_eq!(config.attention_head_dim, 128);
        }
        assert_eq!(WanTransformerConfig::wan2_1_t2v_1_3b().inner_dim(), 1536);
        assert_eq!(WanTransformerConfig::wan2_1_t2v_14b().inner_dim(), 5120);
    }

    #[test]
    fn image_branch_is_reported_unsupported() {
        let mut config: WanTransformerConfig = serde_json::from_str(TINY).unwrap();
        config.image_dim = Some(1280);
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("image_dim = 1280") && message.contains("not supported"), "{message}");
        config.image_dim = None;
        config.added_kv_proj_dim = Some(24);
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("added_kv_proj_dim = 24"), "{message}");
    }

    #[test]
    fn odd_head_dim_is_invalid() {
        let mut config: WanTransformerConfig = serde_json::from_str(TINY).unwrap();
        config.attention_head_dim = 13;
        assert!(matches!(config.validate(), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn ffn_keys_are_remapped() {
        let config: WanTransformerConfig = serde_json::from_str(TINY).unwrap();
        let options = config.load_options();
        assert_eq!(options.remap.len(), 2);
        assert_eq!(options.ignore_unexpected.len(), 2);
    }
}
