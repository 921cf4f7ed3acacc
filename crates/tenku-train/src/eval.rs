//! Measuring a text-to-video model on the shapes world: generate a clip for each caption,
//! analyze it with [`tenku_shapes::analyze()`] and score it against the caption.

use burn::tensor::{Tensor, TensorData};
use ndarray::Array4;
use serde::Serialize;
use tenku_core::{Denoiser, SeededNoise, TextEncoder, VideoAutoencoder};
use tenku_pipeline::{
    DEFAULT_GUIDANCE, DEFAULT_STEPS, GenerateRequest, TextToVideo, frames_to_pixels, pixels_to_frames,
};
use tenku_sampler::SamplerKind;
use tenku_shapes::{ClipScore, Metrics, Scene, SceneSpec, WorldConfig, analyze, score};

/// What the model is given besides the caption.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// The caption alone.
    #[default]
    TextToVideo,
    /// The first frame of the caption's rendered ground-truth clip.
    ImageToVideo,
    /// The first `1 + t` frames of the ground-truth clip (two latent frames), to continue.
    Extension,
}

/// How clips are generated for an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalOptions {
    /// Text→video, or conditioned on ground-truth first frames.
    pub task: Task,
    /// Seed of the first clip's noise; clip `i` uses `seed + i`.
    pub seed: u64,
    /// Sampler steps.
    pub steps: usize,
    /// Classifier-free guidance scale.
    pub guidance: f64,
    /// The sampler; `None` takes the model's.
    pub sampler: Option<SamplerKind>,
    /// Flow shift; `None` takes the model's.
    pub shift: Option<f64>,
}

impl Default for EvalOptions {
    /// 20 steps of the model's sampler with guidance 5, as `tenku generate` by default.
    fn default() -> Self {
        Self {
            task: Task::TextToVideo,
            seed: 0,
            steps: DEFAULT_STEPS,
            guidance: DEFAULT_GUIDANCE,
            sampler: None,
            shift: None,
        }
    }
}

/// How ground-truth clips are reconstructed for [`evaluate_reconstruction`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReconstructionOptions {
    /// Placement seed of the first clip; clip `i` uses `seed + i` (as [`EvalOptions::seed`]).
    pub seed: u64,
    /// Standard deviation of Gaussian noise added to the normalized latents before decoding
    /// (seeded by the clip's seed); 0 decodes the latents as encoded.
    pub latent_noise: f32,
}

/// One evaluated clip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClipResult {
    /// The noise seed it was generated with.
    pub seed: u64,
    /// Its score (with the caption).
    pub score: ClipScore,
}

/// The metrics over a caption set and each clip's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EvalReport {
    /// Accuracies and jitter over all clips.
    pub metrics: Metrics,
    /// Every clip, in caption order.
    pub clips: Vec<ClipResult>,
}

/// Generates one clip per caption with `pipeline` at its default size, analyzes and scores it,
/// handing each result and its frames (`[frames, height, width, 3]` in [0, 1]) to `on_clip`.
/// For the image→video and extension tasks, clip `i`'s ground truth is placed with `seed + i`.
pub fn evaluate<E: TextEncoder, D: Denoiser, V: VideoAutoencoder>(
    pipeline: &TextToVideo<E, D, V>,
    captions: &[SceneSpec],
    options: &EvalOptions,
    on_clip: &mut dyn FnMut(usize, &ClipResult, &Array4<f32>),
) -> Result<EvalReport, EvalError> {
    let defaults = &pipeline.defaults;
    let world = WorldConfig {
        frames: defaults.frames,
        height: defaults.height,
        width: defaults.width,
        fps: defaults.fps,
    };
    let mut report = EvalReport::default();
    for (index, spec) in captions.iter().enumerate() {
        let seed = options.seed.wrapping_add(index as u64);
        let given = match options.task {
            Task::TextToVideo => 0,
            Task::ImageToVideo => 1,
            Task::Extension => 1 + pipeline.geometry.temporal_factor,
        };
        let first_frames = if given == 0 {
            None
        } else {
            let truth = Scene::place(spec.clone(), world, seed)?.render();
            Some(truth.slice(ndarray::s![..given, .., .., ..]).to_owned())
        };
        let request = GenerateRequest {
            frames: world.frames,
            height: world.height,
            width: world.width,
            steps: options.steps,
            guidance: options.guidance,
            sampler: options.sampler,
            shift: options.shift,
            seed,
            first_frames,
            ..defaults.request(spec.caption())
        };
        let frames = pipeline.generate(&request, &mut |_| {})?;
        let result = ClipResult { seed, score: score(spec, &analyze(frames.view(), &world)) };
        report.metrics.add(&result.score);
        on_clip(index, &result, &frames);
        report.clips.push(result);
    }
    Ok(report)
}

/// Why an evaluation stopped.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Generation failed.
    #[error(transparent)]
    Generate(#[from] tenku_pipeline::Error),
    /// A caption's ground truth could not be placed in the model's world size.
    #[error(transparent)]
    Place(#[from] tenku_shapes::PlaceError),
}

/// The autoencoder alone: renders each caption's ground-truth clip (placed with `seed + i`),
/// encodes and decodes it, and scores the reconstruction — the ceiling of what generated clips
/// can reach through this VAE.
///
/// With `latent_noise` > 0 the latents are perturbed before decoding: how much a small latent
/// error — what a denoiser leaves — changes the decoded clip.
pub fn evaluate_reconstruction<V: VideoAutoencoder>(
    vae: &V,
    world: &WorldConfig,
    captions: &[SceneSpec],
    ReconstructionOptions { seed, latent_noise }: ReconstructionOptions,
    device: &burn::tensor::Device,
    on_clip: &mut dyn FnMut(usize, &ClipResult, &Array4<f32>),
) -> Result<EvalReport, EvalError> {
    let mut report = EvalReport::default();
    for (index, spec) in captions.iter().enumerate() {
        let clip_seed = seed.wrapping_add(index as u64);
        let clip = Scene::place(spec.clone(), *world, clip_seed)?.render();
        let mut latents = vae.encode(frames_to_pixels(clip.view(), device));
        if latent_noise > 0.0 {
            let shape = latents.shape();
            let noise = SeededNoise::new(clip_seed).values(shape.num_elements());
            latents = latents + Tensor::from_data(TensorData::new(noise, shape), device) * latent_noise;
        }
        let mut chunks = Vec::new();
        vae.decode_streaming(latents, &mut |chunk| chunks.push(chunk));
        let frames = pixels_to_frames(Tensor::cat(chunks, 2).narrow(2, 0, world.frames));
        let result = ClipResult { seed: clip_seed, score: score(spec, &analyze(frames.view(), world)) };
        report.metrics.add(&result.score);
        on_clip(index, &result, &frames);
        report.clips.push(result);
    }
    Ok(report)
}
