//! The Wan causal 3D video VAE — diffusers' `AutoencoderKLWan` — on Burn, for any
//! `vae/config.json`: Wan2.1 (`base_dim` 96, z 16) and Wan2.2 (residual blocks, patchified, z 48)
//! alike.
//!
//! Encoding runs frame 0 and then chunks of 4 frames through a causal feature cache; decoding
//! runs one latent frame at a time and streams each decoded chunk, so decode memory does not grow
//! with the clip's length. Both follow the reference's chunk loop exactly
//! (`diffusers/models/autoencoders/autoencoder_kl_wan.py`, diffusers 0.42.1).
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use tenku_vae::WanVaeConfig;
//!
//! let config: WanVaeConfig = serde_json::from_str(r#"{
//!     "base_dim": 4, "z_dim": 2, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1,
//!     "temperal_downsample": [false, true, true],
//!     "latents_mean": [0.0, 0.0], "latents_std": [1.0, 1.0]
//! }"#).unwrap();
//! let device = Device::flex();
//! let vae = config.init(&device);
//! let video = Tensor::<5>::random([1, 3, 5, 16, 16], Distribution::Uniform(-1.0, 1.0), &device);
//! let mean = vae.encode_mean(video);
//! assert_eq!(mean.dims(), [1, 2, 2, 2, 2]);
//! assert_eq!(vae.decode_raw(mean).dims(), [1, 3, 5, 16, 16]);
//! ```

mod blocks;
mod causal_conv;
mod config;
mod decoder;
mod encoder;
mod error;
mod model;

pub use blocks::{
    AttentionBlock, AvgDown3d, DupUp3d, MidBlock, Resample, ResampleMode, ResidualBlock, RmsNorm2d, RmsNorm3d,
};
pub use causal_conv::{CacheEntry, CausalConv3d, CausalConv3dConfig, FeatureCache};
pub use config::WanVaeConfig;
pub use decoder::{UpBlock, WanDecoder};
pub use encoder::{DownLayer, ResidualDownBlock, WanEncoder};
pub use error::Error;
pub use model::{WanVae, patchify, unpatchify};
