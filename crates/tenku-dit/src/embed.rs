//! Condition embedders: the timestep sinusoid and MLPs, and the text projection
//! (diffusers' `WanTimeTextImageEmbedding` without its image branch).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor, TensorData};
use tenku_core::gelu_tanh;

use crate::config::WanTransformerConfig;

/// `TimestepEmbedding`: `linear_2(SiLU(linear_1(sinusoid)))`.
#[derive(Module, Debug)]
pub struct TimestepEmbedding {
    /// `freq_dim → D`.
    pub linear_1: Linear,
    /// `D → D`.
    pub linear_2: Linear,
}

impl TimestepEmbedding {
    /// # Shapes
    /// - `x`: `[n, freq_dim]`
    /// - output: `[n, D]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.linear_2.forward(silu(self.linear_1.forward(x)))
    }
}

/// `PixArtAlphaTextProjection` with `act_fn="gelu_tanh"`: `linear_2(GELU_tanh(linear_1(x)))`.
#[derive(Module, Debug)]
pub struct TextProjection {
    /// `text_dim → D`.
    pub linear_1: Linear,
    /// `D → D`.
    pub linear_2: Linear,
}

impl TextProjection {
    /// # Shapes
    /// - `x`: `[batch, tokens, text_dim]`
    /// - output: `[batch, tokens, D]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.linear_2.forward(gelu_tanh(self.linear_1.forward(x)))
    }
}

/// The time and text embedders (`condition_embedder.*`).
#[derive(Module, Debug)]
pub struct WanTimeTextEmbedding {
    /// Timestep sinusoid → time embedding `temb`.
    pub time_embedder: TimestepEmbedding,
    /// `SiLU(temb)` → the six modulation vectors of every block, `D → 6D`.
    pub time_proj: Linear,
    /// Text encoder states → model width.
    pub text_embedder: TextProjection,
    /// Width of the timestep sinusoid.
    pub freq_dim: usize,
}

impl WanTimeTextEmbedding {
    pub(crate) fn new(config: &WanTransformerConfig, device: &Device) -> Self {
        let d = config.inner_dim();
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        Self {
            time_embedder: TimestepEmbedding { linear_1: linear(config.freq_dim, d), linear_2: linear(d, d) },
            time_proj: linear(d, 6 * d),
            text_embedder: TextProjection { linear_1: linear(config.text_dim, d), linear_2: linear(d, d) },
            freq_dim: config.freq_dim,
        }
    }

    /// The time embedding `temb` and the block modulation `time_proj(SiLU(temb))`.
    ///
    /// # Shapes
    /// - `timesteps`: `[n]`
    /// - output: (`[n, D]`, `[n, 6D]`)
    pub fn time(&self, timesteps: Tensor<1>) -> (Tensor<2>, Tensor<2>) {
        let temb = self.time_embedder.forward(timestep_sinusoid(timesteps, self.freq_dim));
        let proj = self.time_proj.forward(silu(temb.clone()));
        (temb, proj)
    }

    /// Projects text encoder states to the model width. Every row is used, padding included.
    ///
    /// # Shapes
    /// - `text`: `[batch, tokens, text_dim]`
    /// - output: `[batch, tokens, D]`
    pub fn text(&self, text: Tensor<3>) -> Tensor<3> {
        self.text_embedder.forward(text)
    }
}

/// diffusers' `get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0)`:
/// `[cos(t·ω_k), sin(t·ω_k)]` with `ω_k = exp(−ln(10000)·k / half)`, `half = dim / 2`, zero
/// padded to `dim` when `dim` is odd.
///
/// The reference computes `ω` in f32 (`exp` of an f32 exponent); it is computed here in f64 from
/// the same f32 exponent and rounded once, which is the correctly rounded value that the
/// reference's `exp` gives too except in rare last-bit ties.
///
/// # Shapes
/// - `timesteps`: `[n]`
/// - output: `[n, dim]`
pub fn timestep_sinusoid(timesteps: Tensor<1>, dim: usize) -> Tensor<2> {
    let half = dim / 2;
    let device = timesteps.device();
    // Mirrors `exponent = -math.log(10000) * arange(half, f32) / (half - 0)` in f32 arithmetic.
    let log = -(10_000f64.ln() as f32);
    let omegas: Vec<f32> =
        (0..half).map(|k| (((log * k as f32) / half as f32) as f64).exp() as f32).collect();
    let omegas = Tensor::<1>::from_data(TensorData::new(omegas, [half]), &device);
    let [n] = timesteps.dims();
    let args = timesteps.reshape([n, 1]) * omegas.reshape([1, half]);
    let mut parts = vec![args.clone().cos(), args.sin()];
    if !dim.is_multiple_of(2) {
        parts.push(Tensor::zeros([n, 1], &device));
    }
    Tensor::cat(parts, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoid_is_cos_first() {
        let device = Device::flex();
        let emb = timestep_sinusoid(Tensor::<1>::from_floats([0.0, 2.0], &device), 8);
        let values = emb.into_data().try_into_vec::<f32>().unwrap();
        // t = 0: cos = 1, sin = 0.
        assert_eq!(&values[..8], &[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // t = 2, k = 1: ω = 10000^(−1/4) = 0.1.
        assert!((values[8 + 1] - (0.2f32).cos()).abs() < 1e-6);
        assert!((values[8 + 4 + 1] - (0.2f32).sin()).abs() < 1e-6);
        let odd = timestep_sinusoid(Tensor::<1>::from_floats([3.0], &device), 5);
        assert_eq!(odd.dims(), [1, 5]);
    }
}
