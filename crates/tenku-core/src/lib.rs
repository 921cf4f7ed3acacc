//! The shared vocabulary of Tenku: the traits every model, sampler and pipeline plugs into, the
//! error type, a safetensors weight store and the diffusers model-directory reader.
//!
//! Nothing here names a backend. Tensors and modules live on a run-time [`burn::tensor::Device`];
//! which backends exist is decided by the Cargo features of the final binary.
//!
//! ```
//! use tenku_core::{NoiseFamily, NoiseLevel, Schedule};
//! // A two-step flow schedule: σ = 1 → 0.5 → 0, with α = 1 − σ.
//! let levels = [1.0, 0.5, 0.0]
//!     .iter()
//!     .enumerate()
//!     .map(|(index, &sigma)| NoiseLevel { index, alpha: 1.0 - sigma, sigma, timestep: sigma * 1000.0 })
//!     .collect();
//! let schedule = Schedule { family: NoiseFamily::Flow, levels };
//! assert_eq!(schedule.steps(), 2);
//! ```

mod activation;
mod error;
mod model;
mod model_dir;
mod noise;
mod sampling;
mod weights;

pub use activation::gelu_tanh;
pub use error::{Error, Result, error_chain};
pub use model::{
    Conditioning, Denoiser, LatentLayout, Prediction, TextEmbeddings, TextEncoder, Timestep, VideoAutoencoder,
};
pub use model_dir::{Component, ModelDir};
pub use noise::SeededNoise;
pub use sampling::{ModelFn, NoiseFamily, NoiseLevel, NoiseSource, Sampler, Schedule};
pub use weights::{
    LoadOptions, LoadReport, TensorInfo, WeightStore, read_json, save_safetensors, write_config_json,
    write_file_atomic,
};
