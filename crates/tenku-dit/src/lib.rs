//! Wan's video diffusion transformer on Burn: [`WanTransformer`] is diffusers'
//! `WanTransformer3DModel` (diffusers 0.42.1) for any text-to-video `transformer/config.json`,
//! matching it in f32.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! use tenku_core::Timestep;
//! use tenku_dit::WanTransformerConfig;
//!
//! let device = Device::flex();
//! let config = WanTransformerConfig {
//!     num_attention_heads: 2, attention_head_dim: 12, in_channels: 4, out_channels: Some(4),
//!     text_dim: 32, ffn_dim: 32, num_layers: 1, rope_max_seq_len: 32,
//!     ..WanTransformerConfig::wan2_1_t2v_1_3b()
//! };
//! let model = config.init(&device);
//! let latents = Tensor::<5>::zeros([1, 4, 2, 4, 4], &device);
//! let t = Timestep::PerSample(Tensor::from_floats([500.0], &device));
//! let text = Tensor::<3>::zeros([1, 8, 32], &device);
//! assert_eq!(model.forward(latents, t, text).dims(), [1, 4, 2, 4, 4]);
//! ```
//!
//! Load a checkpoint with [`WanTransformer::load`] from a diffusers `transformer/` folder.

mod attention;
mod block;
mod config;
mod embed;
mod error;
mod model;

pub use attention::WanAttention;
pub use block::{FeedForward, WanTransformerBlock, layer_norm_no_affine};
pub use config::WanTransformerConfig;
pub use embed::{TextProjection, TimestepEmbedding, WanTimeTextEmbedding, timestep_sinusoid};
pub use error::{ConfigError, Error, Result};
pub use model::WanTransformer;
