//! The seams between model components: text encoder, denoiser and video autoencoder.
//!
//! Each trait is object safe, takes tensors by value (Burn's convention) and names no backend:
//! a value runs on the device its tensors and parameters live on.

use burn::tensor::{Bool, Device, Tensor, TensorData};

/// What a denoiser's raw output means, for a noisy sample `x = α·x0 + σ·ε`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prediction {
    /// Flow-matching velocity `v = ε − x0` (Wan, SD3, Flux).
    Velocity,
    /// The noise `ε` (DDPM, SD 1.x).
    Epsilon,
    /// The clean sample `x0` itself.
    Sample,
    /// The "v" of v-prediction, `v = α·ε − σ·x0` (SD 2.x 768).
    V,
}

impl Prediction {
    /// Converts a raw prediction at noise level `(alpha, sigma)` into the clean-sample estimate.
    ///
    /// `x` is the noisy input the prediction was made from.
    pub fn to_x0<const D: usize>(
        self,
        prediction: Tensor<D>,
        x: Tensor<D>,
        alpha: f64,
        sigma: f64,
    ) -> Tensor<D> {
        match self {
            // x = α·x0 + σ·(v + x0)  ⇒  x0 = (x − σ·v) / (α + σ); α + σ = 1 for flow schedules.
            Prediction::Velocity => (x - prediction * sigma) / (alpha + sigma),
            Prediction::Epsilon => (x - prediction * sigma) / alpha,
            Prediction::Sample => prediction,
            // Exact when α² + σ² = 1 (variance preserving), where v-prediction is defined.
            Prediction::V => x * alpha - prediction * sigma,
        }
    }
}

/// Prompt embeddings handed from a text encoder to a denoiser.
#[derive(Clone, Debug)]
pub struct TextEmbeddings {
    /// Hidden states, `[batch, tokens, dim]`; rows past a prompt's length are zero where the
    /// model's pipeline zeroes them (Wan does).
    pub hidden: Tensor<3>,
    /// Number of real (non-padding) tokens of each prompt.
    pub lengths: Vec<usize>,
}

/// Turns prompts into embeddings.
pub trait TextEncoder {
    /// Encodes a batch of prompts, padding or truncating each to `max_tokens`.
    ///
    /// # Shapes
    /// - output `hidden`: `[prompts.len(), max_tokens, dim]`
    fn encode(&self, prompts: &[&str], max_tokens: usize) -> crate::Result<TextEmbeddings>;

    /// Words of `prompt` outside the encoder's vocabulary, which the model will not understand.
    /// Empty when every word is known.
    fn unknown_words(&self, prompt: &str) -> Vec<String> {
        let _ = prompt;
        Vec::new()
    }
}

/// The time input of a denoiser.
#[derive(Clone, Debug)]
pub enum Timestep {
    /// One timestep per sample, `[batch]`.
    PerSample(Tensor<1>),
    /// One timestep per latent frame, `[batch, latent_frames]`, shared by every position of
    /// the frame: how Wan2.2 TI2V's per-token timesteps occur (clean conditioning frames at 0,
    /// the rest at the sample's level). Means the same as `PerToken` with each frame's value
    /// repeated over its tokens; a denoiser can embed it once per frame instead of per token.
    PerFrame(Tensor<2>),
    /// One timestep per latent token, `[batch, tokens]` (Wan2.2 TI2V, conditioning frames at 0).
    PerToken(Tensor<2>),
}

/// Everything besides the noisy latents that a denoiser is conditioned on.
#[derive(Clone, Debug)]
pub struct Conditioning {
    /// The prompt embeddings.
    pub text: TextEmbeddings,
    /// Clean latent frames and a mask of which latent frames they fix (image→video, extension):
    /// `(latents [b, c, t, h, w], mask [b, 1, t, 1, 1] with true = clean)`.
    pub clean_frames: Option<(Tensor<5>, Tensor<5, Bool>)>,
}

impl Conditioning {
    /// Text-only conditioning.
    pub fn text(text: TextEmbeddings) -> Self {
        Self { text, clean_frames: None }
    }
}

/// A network that denoises latents: a DiT or a U-Net.
///
/// Shared between threads (`Sync`): a guided step evaluates its conditional and unconditional
/// branches at the same time.
pub trait Denoiser: Sync {
    /// What [`Denoiser::forward`] returns.
    fn prediction(&self) -> Prediction;

    /// The denoiser's raw prediction for noisy `latents` at `timestep`.
    ///
    /// # Shapes
    /// - `latents`: `[batch, channels, frames, height, width]`
    /// - output: same as `latents`
    fn forward(&self, latents: Tensor<5>, timestep: Timestep, cond: &Conditioning) -> Tensor<5>;
}

/// How a video autoencoder lays out its latents.
#[derive(Clone, Debug, PartialEq)]
pub struct LatentLayout {
    /// Latent channels.
    pub channels: usize,
    /// Frames per latent frame after the first (4 for Wan: frames = 1 + 4·(latent frames − 1)).
    pub temporal_factor: usize,
    /// Pixels per latent pixel along height and width (8 for Wan2.1, 16 for Wan2.2).
    pub spatial_factor: usize,
    /// Per-channel mean the pipeline removes from raw latents.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation the pipeline divides raw latents by.
    pub std: Vec<f32>,
}

impl LatentLayout {
    /// Latent frames for `frames` video frames, when `frames` follows the causal rule `1 + k·factor`.
    pub fn latent_frames(&self, frames: usize) -> Option<usize> {
        (frames >= 1 && (frames - 1).is_multiple_of(self.temporal_factor))
            .then(|| 1 + (frames - 1) / self.temporal_factor)
    }

    /// Video frames decoded from `latent_frames` latent frames.
    pub fn video_frames(&self, latent_frames: usize) -> usize {
        1 + latent_frames.saturating_sub(1) * self.temporal_factor
    }

    /// `values`, one per channel of this layout (such as `mean` or `std`), as a
    /// `[1, channels, 1, 1, 1]` tensor on `device` that broadcasts over latents
    /// `[batch, channels, frames, h, w]`.
    ///
    /// # Panics
    /// If `values` does not hold one value per channel.
    pub fn per_channel(&self, values: &[f32], device: &Device) -> Tensor<5> {
        assert_eq!(values.len(), self.channels, "one value per latent channel");
        Tensor::from_data(TensorData::new(values.to_vec(), [1, self.channels, 1, 1, 1]), device)
    }
}

/// A causal video autoencoder (VAE).
pub trait VideoAutoencoder {
    /// The latent layout: channels, compression and normalization.
    fn layout(&self) -> &LatentLayout;

    /// Encodes pixels in [-1, 1] to normalized latents.
    ///
    /// # Shapes
    /// - `video`: `[batch, 3, frames, height, width]`, frames = `1 + k·temporal_factor`
    /// - output: `[batch, channels, latent_frames, height / s, width / s]`
    fn encode(&self, video: Tensor<5>) -> Tensor<5>;

    /// Decodes normalized latents, handing each decoded chunk of frames to `sink` in order so that
    /// memory does not grow with the clip's length.
    ///
    /// # Shapes
    /// - `latents`: `[batch, channels, latent_frames, h, w]`
    /// - each chunk: `[batch, 3, chunk_frames, h·s, w·s]`, pixels in [-1, 1]
    fn decode_streaming(&self, latents: Tensor<5>, sink: &mut dyn FnMut(Tensor<5>));

    /// Decodes normalized latents to one video tensor (collects [`decode_streaming`]'s chunks).
    ///
    /// [`decode_streaming`]: VideoAutoencoder::decode_streaming
    fn decode(&self, latents: Tensor<5>) -> Tensor<5> {
        let mut chunks = Vec::new();
        self.decode_streaming(latents, &mut |chunk| chunks.push(chunk));
        Tensor::cat(chunks, 2)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor};

    use super::*;

    /// For x = α·x0 + σ·ε, every prediction type built from the true (x0, ε) converts back to x0.
    #[test]
    fn every_prediction_type_converts_back_to_x0() {
        let device = Device::flex();
        let x0 = Tensor::<1>::from_floats([0.5, -1.0, 2.0], &device);
        let eps = Tensor::<1>::from_floats([1.0, 0.25, -0.75], &device);
        for (alpha, sigma, vp) in [(0.6f64, 0.4f64, false), (0.8, 0.6, true)] {
            let x = x0.clone() * alpha + eps.clone() * sigma;
            let mut cases = vec![(Prediction::Epsilon, eps.clone()), (Prediction::Sample, x0.clone())];
            if vp {
                cases.push((Prediction::V, eps.clone() * alpha - x0.clone() * sigma));
            } else {
                cases.push((Prediction::Velocity, eps.clone() - x0.clone()));
            }
            for (kind, prediction) in cases {
                let got = kind.to_x0(prediction, x.clone(), alpha, sigma);
                let diff: f32 = (got - x0.clone()).abs().max().into_scalar();
                assert!(diff < 1e-6, "{kind:?} at α={alpha}: {diff}");
            }
        }
    }

    #[test]
    fn latent_frames_follow_the_causal_rule() {
        let layout =
            LatentLayout { channels: 16, temporal_factor: 4, spatial_factor: 8, mean: vec![], std: vec![] };
        assert_eq!(layout.latent_frames(81), Some(21));
        assert_eq!(layout.latent_frames(1), Some(1));
        assert_eq!(layout.latent_frames(80), None);
        assert_eq!(layout.latent_frames(0), None);
        assert_eq!(layout.video_frames(21), 81);
    }
}
