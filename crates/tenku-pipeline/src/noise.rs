//! Initial latents: seeded CPU noise, or a file for parity with other implementations.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use tenku_core::{NoiseSource, SeededNoise, WeightStore};

use crate::Error;

/// The tensor key `--noise` files are read from; a file holding a single tensor may use any key.
pub const NOISE_KEY: &str = "latents";

/// Standard-normal initial latents of `shape` from `seed` (see [`SeededNoise`] for the stream).
pub fn seeded_latents(seed: u64, shape: [usize; 5], device: &Device) -> Tensor<5> {
    SeededNoise::new(seed).sample(shape, device)
}

/// Reads initial latents of exactly `shape` from a safetensors file: the tensor `latents`, or
/// the file's only tensor. f16 and bf16 are converted to f32.
pub fn latents_from_file(path: &Path, shape: [usize; 5], device: &Device) -> Result<Tensor<5>, Error> {
    let store = WeightStore::open(path)?;
    let keys: Vec<&str> = store.tensors().map(|(key, _)| key).collect();
    let key = match keys.as_slice() {
        [only] => *only,
        _ if keys.contains(&NOISE_KEY) => NOISE_KEY,
        _ => {
            return Err(Error::Noise {
                path: path.to_owned(),
                reason: format!(
                    "expected a tensor named `{NOISE_KEY}` (or a single tensor); found {}",
                    keys.join(", ")
                ),
            });
        }
    };
    let found = &store.info(key).expect("listed key").shape;
    if found.as_slice() != shape {
        return Err(Error::Noise {
            path: path.to_owned(),
            reason: format!("tensor `{key}` has shape {found:?}; this request needs {shape:?}"),
        });
    }
    Ok(store.tensor::<5>(key, device)?)
}
