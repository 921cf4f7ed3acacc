//! Measuring a text-to-video model on the shapes world: generate a clip for each caption,
//! analyze it with [`tenku_shapes::analyze()`] and score it against the caption.

use burn::tensor::{Tensor, TensorData};
use ndarray::Array4;
use serde::Serialize;
use tenku_core::{Denoiser, SeededNoise, TextEncoder, VideoAutoencoder};
use tenku_pipeline::{DEFAULT_STEPS, GenerateRequest, TextToVideo, frames_to_pixels, pixels_to_frames};
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

impl Task {
    /// Ground-truth frames the model is given: none, the first, or `1 + temporal_factor` (two
    /// latent frames).
    pub fn given_frames(self, temporal_factor: usize) -> usize {
        match self {
            Task::TextToVideo => 0,
            Task::ImageToVideo => 1,
            Task::Extension => 1 + temporal_factor,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::TextToVideo => "text→video",
            Task::ImageToVideo => "image→video",
            Task::Extension => "extension",
        })
    }
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
    /// Classifier-free guidance scale; `None` takes the model's
    /// ([`GenerationDefaults::guidance`](tenku_pipeline::GenerationDefaults::guidance)).
    pub guidance: Option<f64>,
    /// The noise levels at which guidance acts; `None` takes the model's
    /// ([`GenerationDefaults::guidance_interval`](tenku_pipeline::GenerationDefaults::guidance_interval)).
    pub guidance_interval: Option<[f64; 2]>,
    /// The sampler; `None` takes the model's.
    pub sampler: Option<SamplerKind>,
    /// Flow shift; `None` takes the model's.
    pub shift: Option<f64>,
    /// Clips generated at once, each on its own thread (0 and 1: one). The results do not
    /// depend on it: every clip is generated as it would be alone.
    pub threads: usize,
}

impl Default for EvalOptions {
    /// 20 steps of the model's sampler at the model's guidance, as `tenku generate` by default.
    fn default() -> Self {
        Self {
            task: Task::TextToVideo,
            seed: 0,
            steps: DEFAULT_STEPS,
            guidance: None,
            guidance_interval: None,
            sampler: None,
            shift: None,
            threads: 1,
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
    /// Clips reconstructed at once, each on its own thread (0 and 1: one); the results do not
    /// depend on it.
    pub threads: usize,
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
pub fn evaluate<E, D, V>(
    pipeline: &TextToVideo<E, D, V>,
    captions: &[SceneSpec],
    options: &EvalOptions,
    on_clip: &mut dyn FnMut(usize, &ClipResult, &Array4<f32>),
) -> Result<EvalReport, EvalError>
where
    E: TextEncoder + Sync,
    D: Denoiser,
    V: VideoAutoencoder + Sync,
{
    let world = model_world(pipeline);
    let generate = |index: usize| -> EvaluatedClip {
        let spec = &captions[index];
        let seed = options.seed.wrapping_add(index as u64);
        let given = options.task.given_frames(pipeline.geometry.temporal_factor);
        let first_frames = if given == 0 {
            None
        } else {
            let truth = Scene::place(spec.clone(), world, seed)?.render();
            Some(truth.slice(ndarray::s![..given, .., .., ..]).to_owned())
        };
        let request = GenerateRequest {
            steps: options.steps,
            guidance: options.guidance.unwrap_or(pipeline.defaults.guidance),
            guidance_interval: options.guidance_interval.or(pipeline.defaults.guidance_interval),
            sampler: options.sampler,
            shift: options.shift,
            seed,
            first_frames,
            ..pipeline.defaults.request(spec.caption())
        };
        let frames = pipeline.generate(&request, &mut |_| {})?;
        Ok((ClipResult { seed, score: score(spec, &analyze(frames.view(), &world)) }, frames))
    };
    report_in_caption_order(captions.len(), options.threads, &generate, on_clip)
}

/// What a clip evaluation gives: the clip's score and its frames.
type EvaluatedClip = Result<(ClipResult, Array4<f32>), EvalError>;

/// The report of `clip` evaluated on every caption index, `threads` at a time
/// ([`in_caption_order`]), each result handed to `on_clip` in caption order.
fn report_in_caption_order(
    captions: usize,
    threads: usize,
    clip: &(dyn Fn(usize) -> EvaluatedClip + Sync),
    on_clip: &mut dyn FnMut(usize, &ClipResult, &Array4<f32>),
) -> Result<EvalReport, EvalError> {
    let mut report = EvalReport::default();
    in_caption_order(captions, threads, clip, &mut |index, (result, frames)| {
        report.metrics.add(&result.score);
        on_clip(index, &result, &frames);
        report.clips.push(result);
    })?;
    Ok(report)
}

/// Runs `work` on every caption index, `threads` of them at a time, each on a thread of its
/// own, and hands the results to `done` in caption order, so that what `done` adds up does not
/// depend on `threads`. Stops at the first error.
fn in_caption_order<T: Send>(
    captions: usize,
    threads: usize,
    work: &(dyn Fn(usize) -> Result<T, EvalError> + Sync),
    done: &mut dyn FnMut(usize, T),
) -> Result<(), EvalError> {
    let indices: Vec<usize> = (0..captions).collect();
    for group in indices.chunks(threads.max(1)) {
        let results: Vec<Result<T, EvalError>> = std::thread::scope(|scope| {
            let others: Vec<_> = group[1..].iter().map(|&index| scope.spawn(move || work(index))).collect();
            let first = work(group[0]);
            let others =
                others.into_iter().map(|other| other.join().expect("an evaluation thread does not panic"));
            std::iter::once(first).chain(others).collect()
        });
        for (&index, result) in group.iter().zip(results) {
            done(index, result?);
        }
    }
    Ok(())
}

/// The shapes world at the size and frame rate `pipeline` generates by default.
pub fn model_world<E, D, V>(pipeline: &TextToVideo<E, D, V>) -> WorldConfig {
    let defaults = &pipeline.defaults;
    WorldConfig { frames: defaults.frames, height: defaults.height, width: defaults.width, fps: defaults.fps }
}

/// How [`evaluate_denoising`] noises the ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct DenoisingOptions {
    /// Text→video, or with ground-truth first frames given clean.
    pub task: Task,
    /// Placement and noise seed of the first clip; clip `i` uses `seed + i`.
    pub seed: u64,
    /// The noise levels σ in (0, 1] to measure at.
    pub noise_levels: Vec<f64>,
    /// Whether to decode and score the implied clean latents; without it only the latent
    /// errors are measured, which skips the VAE decoder and the analyzer (most of the time).
    pub decode: bool,
    /// Clips measured at once, each on its own thread (0 and 1: one); the results do not
    /// depend on it.
    pub threads: usize,
}

/// One-step denoising error at one noise level, averaged over clips, on the latent frames the
/// model had to denoise (given clean frames are left out).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DenoisingError {
    /// The noise level σ.
    pub sigma: f64,
    /// Mean squared error of the predicted flow velocity against `noise − latents`: the
    /// training loss at this level.
    pub velocity_mse: f64,
    /// Mean squared error of the clean latents the prediction implies (`x_σ − σ·v`).
    pub clean_mse: f64,
    /// The analyzer's scores of those clean latents, decoded (with the given frames as given):
    /// which attributes one model evaluation at this level still draws. `None` when
    /// [`DenoisingOptions::decode`] is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<Metrics>,
}

/// The one-step denoising error at each noise level, and what the denoised clips show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DenoisingReport {
    /// What the model was given besides the caption.
    pub task: Task,
    /// Clips measured.
    pub clips: usize,
    /// One entry per noise level, in the order asked.
    pub levels: Vec<DenoisingError>,
}

impl DenoisingReport {
    /// A plain-text table: one row per noise level, with the decoded clean latents' scores
    /// when they were measured ([`DenoisingOptions::decode`]).
    pub fn table(&self) -> String {
        let decoded = self.levels.iter().any(|level| level.decoded.is_some());
        let scores = |values: [&str; 4]| {
            let [shape, size, count, direction] = values;
            if decoded { format!(" {shape:>7} {size:>7} {count:>7} {direction:>9}") } else { String::new() }
        };
        let note = if decoded { "; the last four score the decoded clean latents" } else { "" };
        let mut table = format!(
            "{:<11} {:>12} {:>16}{}  measured on {} clips ({}){note}\n",
            "noise level",
            "velocity MSE",
            "clean-latent MSE",
            scores(["shape", "size", "count", "direction"]),
            self.clips,
            self.task
        );
        for level in &self.levels {
            let percents = match &level.decoded {
                Some(decoded) => [&decoded.shape, &decoded.size, &decoded.count, &decoded.direction]
                    .map(|tally| tally.percent()),
                None => ["-"; 4].map(String::from),
            };
            table += &format!(
                "{:<11.2} {:>12.4} {:>16.4}{}\n",
                level.sigma,
                level.velocity_mse,
                level.clean_mse,
                scores(percents.each_ref().map(String::as_str))
            );
        }
        table
    }
}

/// The denoiser alone, without a sampler: each caption's ground-truth clip (placed with
/// `seed + i`) is encoded, noised to each level with seeded noise (`x_σ = (1 − σ)·x₀ + σ·ε`),
/// and denoised in one conditional model evaluation (no guidance). How far the implied clean
/// latents are from the true ones shows at which noise levels a model has learned the clips'
/// layout and motion — with the first frames given (`Task::ImageToVideo`), the rest of a clip
/// is determined by its caption, so even σ = 1 has an exact answer. The implied clean latents
/// are also decoded and scored against the caption (unless [`DenoisingOptions::decode`] is
/// off): at which noise level the model stops drawing an attribute (a shape, say) that the VAE
/// reconstructs. `on_clip` hears each
/// caption's index when it is done. A noise level outside (0, 1] is an error.
pub fn evaluate_denoising<E, D, V>(
    pipeline: &TextToVideo<E, D, V>,
    captions: &[SceneSpec],
    options: &DenoisingOptions,
    on_clip: &mut dyn FnMut(usize),
) -> Result<DenoisingReport, EvalError>
where
    E: TextEncoder + Sync,
    D: Denoiser,
    V: VideoAutoencoder + Sync,
{
    if let Some(&sigma) = options.noise_levels.iter().find(|&&sigma| !(sigma > 0.0 && sigma <= 1.0)) {
        return Err(EvalError::NoiseLevel(sigma));
    }
    let world = model_world(pipeline);
    let geometry = &pipeline.geometry;
    let given = options.task.given_frames(geometry.temporal_factor);
    let clean_latent_frames =
        if given == 0 { 0 } else { geometry.latent_shape(given, world.height, world.width)[2] };
    let prediction = pipeline.denoiser.prediction();
    // One clip's velocity and clean-latent errors at each level, and its score when decoded.
    let measure = |index: usize| -> Result<Vec<(f64, f64, Option<ClipScore>)>, EvalError> {
        let spec = &captions[index];
        let seed = options.seed.wrapping_add(index as u64);
        let truth = Scene::place(spec.clone(), world, seed)?.render();
        let x0 = pipeline.vae.encode(frames_to_pixels(truth.view(), &pipeline.device));
        let shape = x0.shape();
        let noise = SeededNoise::new(seed).values(shape.num_elements());
        let noise = Tensor::<5>::from_data(TensorData::new(noise, shape), &pipeline.device);
        let first_frames = (given > 0).then(|| truth.slice(ndarray::s![..given, .., .., ..]).to_owned());
        let request = GenerateRequest { seed, first_frames, ..pipeline.defaults.request(spec.caption()) };
        let denoised = |t: Tensor<5>| {
            let frames = t.dims()[2];
            t.narrow(2, clean_latent_frames, frames - clean_latent_frames)
        };
        // The given frames decoded as given, as a sampler keeps them.
        let given_kept = |clean: Tensor<5>| {
            if clean_latent_frames == 0 {
                return clean;
            }
            let rest = denoised(clean);
            Tensor::cat(vec![x0.clone().narrow(2, 0, clean_latent_frames), rest], 2)
        };
        let noisy: Vec<(Tensor<5>, f64)> = options
            .noise_levels
            .iter()
            .map(|&sigma| (x0.clone() * (1.0 - sigma) + noise.clone() * sigma, sigma))
            .collect();
        let outputs = pipeline.predict(&request, &noisy)?;
        let levels = noisy.into_iter().zip(outputs).map(|((x_t, sigma), output)| {
            let clean = prediction.to_x0(output, x_t.clone(), 1.0 - sigma, sigma);
            let velocity = (x_t - clean.clone()) / sigma;
            let mse = |a: Tensor<5>, b: Tensor<5>| {
                f64::from(denoised(a - b).powi_scalar(2).mean().into_scalar::<f32>())
            };
            let velocity_error = mse(velocity, noise.clone() - x0.clone());
            let clean_error = mse(clean.clone(), x0.clone());
            let decoded = options.decode.then(|| {
                let frames = decode_clip(&pipeline.vae, given_kept(clean), world.frames);
                score(spec, &analyze(frames.view(), &world))
            });
            (velocity_error, clean_error, decoded)
        });
        Ok(levels.collect())
    };
    let mut sums = vec![(0.0f64, 0.0f64, Metrics::default()); options.noise_levels.len()];
    in_caption_order(captions.len(), options.threads, &measure, &mut |index, levels| {
        for ((velocity, clean, decoded), sum) in levels.into_iter().zip(&mut sums) {
            sum.0 += velocity;
            sum.1 += clean;
            if let Some(decoded) = decoded {
                sum.2.add(&decoded);
            }
        }
        on_clip(index);
    })?;
    let clips = captions.len();
    let levels = options
        .noise_levels
        .iter()
        .zip(sums)
        .map(|(&sigma, (velocity, clean, decoded))| DenoisingError {
            sigma,
            velocity_mse: velocity / clips.max(1) as f64,
            clean_mse: clean / clips.max(1) as f64,
            decoded: options.decode.then_some(decoded),
        })
        .collect();
    Ok(DenoisingReport { task: options.task, clips, levels })
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
    /// A noise level to measure denoising at lies outside (0, 1].
    #[error("noise level σ = {0}: expected a value in (0, 1]")]
    NoiseLevel(f64),
}

/// The autoencoder alone: renders each caption's ground-truth clip (placed with `seed + i`),
/// encodes and decodes it, and scores the reconstruction — the ceiling of what generated clips
/// can reach through this VAE.
///
/// With `latent_noise` > 0 the latents are perturbed before decoding: how much a small latent
/// error — what a denoiser leaves — changes the decoded clip.
pub fn evaluate_reconstruction<V: VideoAutoencoder + Sync>(
    vae: &V,
    world: &WorldConfig,
    captions: &[SceneSpec],
    ReconstructionOptions { seed, latent_noise, threads }: ReconstructionOptions,
    device: &burn::tensor::Device,
    on_clip: &mut dyn FnMut(usize, &ClipResult, &Array4<f32>),
) -> Result<EvalReport, EvalError> {
    let reconstruct = |index: usize| -> EvaluatedClip {
        let spec = &captions[index];
        let clip_seed = seed.wrapping_add(index as u64);
        let clip = Scene::place(spec.clone(), *world, clip_seed)?.render();
        let mut latents = vae.encode(frames_to_pixels(clip.view(), device));
        if latent_noise > 0.0 {
            let shape = latents.shape();
            let noise = SeededNoise::new(clip_seed).values(shape.num_elements());
            latents = latents + Tensor::from_data(TensorData::new(noise, shape), device) * latent_noise;
        }
        let frames = decode_clip(vae, latents, world.frames);
        Ok((ClipResult { seed: clip_seed, score: score(spec, &analyze(frames.view(), world)) }, frames))
    };
    report_in_caption_order(captions.len(), threads, &reconstruct, on_clip)
}

/// The first `frames` video frames `latents` decode to, `[frames, height, width, 3]` in [0, 1].
fn decode_clip<V: VideoAutoencoder>(vae: &V, latents: Tensor<5>, frames: usize) -> Array4<f32> {
    let mut chunks = Vec::new();
    vae.decode_streaming(latents, &mut |chunk| chunks.push(chunk));
    pixels_to_frames(Tensor::cat(chunks, 2).narrow(2, 0, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(decoded: Option<Metrics>) -> DenoisingReport {
        let level = DenoisingError { sigma: 0.5, velocity_mse: 0.25, clean_mse: 0.125, decoded };
        DenoisingReport { task: Task::TextToVideo, clips: 1, levels: vec![level] }
    }

    #[test]
    fn the_denoising_table_has_score_columns_only_when_the_latents_were_decoded() {
        let decoded = report(Some(Metrics::default())).table();
        assert!(decoded.contains("direction") && decoded.contains("decoded clean latents"), "{decoded}");

        let latent_only = report(None).table();
        let [header, row] = latent_only.lines().collect::<Vec<_>>()[..] else { panic!("{latent_only}") };
        assert!(!header.contains("direction") && !header.contains("decoded"), "{latent_only}");
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["0.50", "0.2500", "0.1250"], "{latent_only}");
    }
}
