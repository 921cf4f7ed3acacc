//! Text → video: encode the prompt, sample latents with guidance, decode in a stream.

use std::ops::ControlFlow;

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array4, ArrayView4, s};
use tenku_core::{
    Conditioning, Denoiser, NoiseLevel, Schedule, SeededNoise, TextEncoder, Timestep, VideoAutoencoder,
};
use tenku_sampler::{Branch, Cfg, Guidance, GuidanceInterval, Guided, SamplerKind, sample};

use crate::scheduler::{SchedulerSpec, flow_schedule};
use crate::{Error, GenerateRequest, GenerationDefaults, Geometry, latents_from_file, seeded_latents};

/// What a running generation reports, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The prompts are encoded.
    Encoded,
    /// A sampler step finished: `done` of `total`.
    Step {
        /// Steps done.
        done: usize,
        /// Steps in all.
        total: usize,
    },
    /// Frames decoded so far, of `total`.
    Decoded {
        /// Frames decoded.
        done: usize,
        /// Frames in all.
        total: usize,
    },
}

/// A text-to-video pipeline over any text encoder, flow denoiser and video autoencoder.
#[derive(Debug)]
pub struct TextToVideo<E, D, V> {
    /// Prompts → embeddings.
    pub text_encoder: E,
    /// The denoiser (a flow model: α = 1 − σ).
    pub denoiser: D,
    /// Latents ↔ pixels.
    pub vae: V,
    /// Shift and default sampler from the model's scheduler config.
    pub scheduler: SchedulerSpec,
    /// The sizes the model accepts.
    pub geometry: Geometry,
    /// What the model generates when a request does not say.
    pub defaults: GenerationDefaults,
    /// Where the model lives.
    pub device: Device,
}

/// Frames per second of generated clips (Wan's 16 fps).
pub const DEFAULT_FPS: f32 = 16.0;

impl<E: TextEncoder, D: Denoiser, V: VideoAutoencoder> TextToVideo<E, D, V> {
    /// Prompt words the text encoder does not know.
    pub fn unknown_words(&self, prompt: &str) -> Vec<String> {
        self.text_encoder.unknown_words(prompt)
    }

    /// Generates the video `request` asks for, as frames `[frames, height, width, 3]` in [0, 1]
    /// (diffusers' `output_type="np"`), reporting progress to `on_event`.
    pub fn generate(
        &self,
        request: &GenerateRequest,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Array4<f32>, Error> {
        request.validate(&self.geometry)?;
        let shape = self.geometry.latent_shape(request.frames, request.height, request.width);
        let schedule = self.schedule(request);
        let latents = self.initial_noise(request, shape)? * schedule.init_noise_scale();
        let latents = self.denoise(request, latents, &schedule, on_event)?;

        Ok(self.decode(latents, request.frames, on_event))
    }

    /// Video → video: redraws `video` (`[frames, height, width, 3]` in [0, 1], the request's
    /// size) after the request's prompt, keeping as much of it as `strength` leaves
    /// ([`TextToVideo::regenerate`]), and decodes the result like [`TextToVideo::generate`].
    pub fn generate_from_video(
        &self,
        request: &GenerateRequest,
        video: &Array4<f32>,
        strength: f64,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Array4<f32>, Error> {
        let (frames, height, width, _) = video.dim();
        if (frames, height, width) != (request.frames, request.height, request.width) {
            return Err(Error::InvalidRequest {
                flag: "--video",
                value: format!("of {frames} frames of {width}x{height}"),
                expected: format!(
                    "the output's {} frames of {}x{} (the CLI takes the clip's size when --frames, \
                     --height and --width are left out)",
                    request.frames, request.width, request.height
                ),
            });
        }
        request.validate(&self.geometry)?;
        let clean = self.vae.encode(frames_to_pixels(video.view(), &self.device));
        let latents = self.regenerate(request, clean, strength, on_event)?;
        Ok(self.decode(latents, request.frames, on_event))
    }

    /// Decodes normalized latents one chunk at a time into a host buffer of `frames` frames.
    fn decode(&self, latents: Tensor<5>, frames: usize, on_event: &mut dyn FnMut(Event)) -> Array4<f32> {
        let [_, _, _, h, w] = latents.dims();
        let s = self.vae.layout().spatial_factor;
        let mut decoded = Array4::<f32>::zeros((frames, h * s, w * s, 3));
        let mut done = 0;
        self.vae.decode_streaming(latents, &mut |chunk| {
            let chunk = pixels_to_frames(chunk);
            let n = chunk.dim().0.min(frames - done);
            decoded.slice_mut(s![done..done + n, .., .., ..]).assign(&chunk.slice(s![..n, .., .., ..]));
            done += n;
            on_event(Event::Decoded { done, total: frames });
        });
        decoded
    }

    /// Video → video in latent space (diffusers' `WanVideoToVideoPipeline`): noises the
    /// normalized latents `clean` to the level `strength` of the way into the request's
    /// schedule ([`Schedule::last_steps`]; α·clean + σ·noise, the noise from the request's seed
    /// or `--noise` file) and samples from there with its prompt, guidance and sampler. Returns
    /// the sampled normalized latents, not decoded: 1 redraws the clip from pure noise, small
    /// values keep its layout and redraw its details.
    ///
    /// # Shapes
    /// - `clean`: the request's latent shape `[1, channels, latent_frames, h, w]`
    /// - output: the same
    pub fn regenerate(
        &self,
        request: &GenerateRequest,
        clean: Tensor<5>,
        strength: f64,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Tensor<5>, Error> {
        request.validate(&self.geometry)?;
        let shape = self.geometry.latent_shape(request.frames, request.height, request.width);
        if clean.dims() != shape {
            return Err(Error::InvalidRequest {
                flag: "latents",
                value: format!("of shape {:?}", clean.dims()),
                expected: format!("shape {shape:?} for the request's frames, height and width"),
            });
        }
        if !(strength > 0.0 && strength <= 1.0) {
            return Err(Error::InvalidRequest {
                flag: "--strength",
                value: strength.to_string(),
                expected: "a share of the schedule in (0, 1]".into(),
            });
        }
        let schedule = self.schedule(request).last_steps(strength);
        let start = schedule.first();
        let latents = clean * start.alpha + self.initial_noise(request, shape)? * start.sigma;
        self.denoise(request, latents, &schedule, on_event)
    }

    /// Standard-normal noise of `shape`: the request's `--noise` file, or its seed's.
    fn initial_noise(&self, request: &GenerateRequest, shape: [usize; 5]) -> Result<Tensor<5>, Error> {
        match &request.noise {
            Some(path) => latents_from_file(path, shape, &self.device),
            None => Ok(seeded_latents(request.seed, shape, &self.device)),
        }
    }

    /// The sampler the request names, or the model's.
    fn sampler_kind(&self, request: &GenerateRequest) -> SamplerKind {
        request.sampler.unwrap_or(self.scheduler.default_sampler)
    }

    /// The request's noise levels: its steps of its sampler's schedule at its shift, or the model's.
    fn schedule(&self, request: &GenerateRequest) -> Schedule {
        let shift = request.shift.unwrap_or(self.scheduler.shift);
        flow_schedule(&self.sampler_kind(request), request.steps, shift)
    }

    /// Samples `latents`, which carry the noise of `schedule`'s first level, along `schedule`
    /// with the request's prompt, guidance and sampler. Clean first frames replace their
    /// latents in every model input, keep timestep 0 (Wan2.2 TI2V's `expand_timesteps`) and
    /// are written into the result.
    fn denoise(
        &self,
        request: &GenerateRequest,
        latents: Tensor<5>,
        schedule: &Schedule,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Tensor<5>, Error> {
        // The negative branch runs only when guidance is on (scale > 1), as diffusers.
        let guided = request.guided();
        let cond =
            Conditioning::text(self.text_encoder.encode(&[&request.prompt], request.max_sequence_length)?);
        let uncond = if guided {
            Some(Conditioning::text(
                self.text_encoder.encode(&[&request.negative_prompt], request.max_sequence_length)?,
            ))
        } else {
            None
        };
        on_event(Event::Encoded);

        let shape = latents.dims();
        let clean = request.first_frames.as_ref().map(|frames| self.clean_latents(frames, shape));
        let denoiser = &self.denoiser;
        let predict = |x: Tensor<5>, level: &NoiseLevel, branch: Branch| {
            let conditioning = match (branch, &uncond) {
                (Branch::Unconditional, Some(uncond)) => uncond,
                _ => &cond,
            };
            model_output(denoiser, x, level.timestep, conditioning, clean.as_ref())
        };
        let guidance = guided.then(|| -> Box<dyn Guidance> {
            let cfg = Cfg { scale: request.guidance };
            match request.guidance_interval {
                None => Box::new(cfg),
                Some([low, high]) => Box::new(GuidanceInterval { inner: cfg, sigmas: low..=high }),
            }
        });
        let mut model = Guided::new(predict, self.denoiser.prediction(), guidance);
        let mut sampler = self.sampler_kind(request).build();
        // Stochastic samplers continue the seed's stream past the initial latents.
        let mut noise = SeededNoise::new(request.seed.wrapping_add(1));
        let latents = sample(&mut *sampler, &mut model, latents, schedule, &mut noise, &mut |p| {
            on_event(Event::Step { done: p.done, total: p.total });
            ControlFlow::Continue(())
        })?;
        Ok(match &clean {
            Some(clean) => clean.apply(latents),
            None => latents,
        })
    }

    /// The denoiser's raw conditional outputs (what [`Denoiser::prediction`] says they are; no
    /// guidance), one model evaluation per `(latents, σ)` of `noisy`, each as a sampler step
    /// makes it: `request`'s prompt, and its first frames written into the latents at timestep 0
    /// (both encoded once for all). A diagnostic of how well a model denoises at each level,
    /// apart from any sampler; the timestep is `σ·1000`, the flow models' training scale.
    ///
    /// # Shapes
    /// - each `latents`: normalized, the request's latent shape `[1, channels, latent_frames, h, w]`
    /// - each output: the same
    pub fn predict(
        &self,
        request: &GenerateRequest,
        noisy: &[(Tensor<5>, f64)],
    ) -> Result<Vec<Tensor<5>>, Error> {
        request.validate(&self.geometry)?;
        let shape = self.geometry.latent_shape(request.frames, request.height, request.width);
        if let Some((latents, _)) = noisy.iter().find(|(latents, _)| latents.dims() != shape) {
            return Err(Error::InvalidRequest {
                flag: "latents",
                value: format!("of shape {:?}", latents.dims()),
                expected: format!("shape {shape:?} for the request's frames, height and width"),
            });
        }
        let conditioning =
            Conditioning::text(self.text_encoder.encode(&[&request.prompt], request.max_sequence_length)?);
        let clean = request.first_frames.as_ref().map(|frames| self.clean_latents(frames, shape));
        Ok(noisy
            .iter()
            .map(|(latents, sigma)| {
                model_output(
                    &self.denoiser,
                    latents.clone(),
                    sigma * TRAIN_TIMESTEPS,
                    &conditioning,
                    clean.as_ref(),
                )
            })
            .collect())
    }
}

/// One evaluation of `denoiser` at `timestep`; clean first frames replace their latents and
/// keep timestep 0 (Wan2.2 TI2V's `expand_timesteps`).
fn model_output<D: Denoiser>(
    denoiser: &D,
    x: Tensor<5>,
    timestep: f64,
    conditioning: &Conditioning,
    clean: Option<&CleanFrames>,
) -> Tensor<5> {
    match clean {
        None => {
            let t = Tensor::<1>::full([x.dims()[0]], timestep, &x.device());
            denoiser.forward(x, Timestep::PerSample(t), conditioning)
        }
        Some(clean) => denoiser.forward(clean.apply(x), clean.timesteps(timestep as f32), conditioning),
    }
}

/// Timesteps per unit of σ: the flow models' training scale (`num_train_timesteps`).
const TRAIN_TIMESTEPS: f64 = 1000.0;

/// Clean latent frames at the start of a clip, and how they enter the model.
struct CleanFrames {
    /// Normalized latents `[1, c, frames, h, w]`, zero past the clean frames.
    latents: Tensor<5>,
    /// 1 on clean latent frames, 0 elsewhere: `[1, 1, frames, 1, 1]`.
    mask: Tensor<5>,
    /// Clean latent frames.
    count: usize,
    /// Latent frames in all.
    frames: usize,
}

impl CleanFrames {
    /// `x` with its first frames replaced by the clean latents.
    fn apply(&self, x: Tensor<5>) -> Tensor<5> {
        x * (self.mask.clone().neg() + 1.0) + self.latents.clone()
    }

    /// Per-frame timesteps: 0 on clean frames, `t` elsewhere.
    fn timesteps(&self, t: f32) -> Timestep {
        let values: Vec<f32> = (0..self.frames).map(|f| if f < self.count { 0.0 } else { t }).collect();
        Timestep::PerFrame(Tensor::from_data(TensorData::new(values, [1, self.frames]), &self.mask.device()))
    }
}

impl<E: TextEncoder, D: Denoiser, V: VideoAutoencoder> TextToVideo<E, D, V> {
    /// Encodes the request's first frames (validated: `1 + j·t` frames of the request's size)
    /// into normalized latents padded with zeros to the full latent `shape`.
    fn clean_latents(&self, frames: &Array4<f32>, shape: [usize; 5]) -> CleanFrames {
        let encoded = self.vae.encode(frames_to_pixels(frames.view(), &self.device));
        let count = encoded.dims()[2];
        let [_, c, latent_frames, lh, lw] = shape;
        let padding = Tensor::<5>::zeros([1, c, latent_frames - count, lh, lw], &self.device);
        let mask: Vec<f32> = (0..latent_frames).map(|f| if f < count { 1.0 } else { 0.0 }).collect();
        CleanFrames {
            latents: Tensor::cat(vec![encoded, padding], 2),
            mask: Tensor::from_data(TensorData::new(mask, [1, 1, latent_frames, 1, 1]), &self.device),
            count,
            frames: latent_frames,
        }
    }
}

/// Host frames `[f, h, w, 3]` in [0, 1] → the VAE's input `[1, 3, f, h, w]` in [-1, 1], as
/// diffusers' `preprocess_video`.
pub fn frames_to_pixels(frames: ArrayView4<f32>, device: &Device) -> Tensor<5> {
    let (f, h, w, c) = frames.dim();
    let values: Vec<f32> = frames.permuted_axes([3, 0, 1, 2]).iter().map(|v| v * 2.0 - 1.0).collect();
    Tensor::from_data(TensorData::new(values, [1, c, f, h, w]), device)
}

/// The VAE's output `[1, 3, f, h, w]` in [-1, 1] → host frames `[f, h, w, 3]` in [0, 1], as
/// diffusers' `postprocess_video`.
pub fn pixels_to_frames(chunk: Tensor<5>) -> Array4<f32> {
    let [_, c, f, h, w] = chunk.dims();
    let unit = (chunk.clamp(-1.0, 1.0) / 2.0 + 0.5).clamp(0.0, 1.0);
    let values = unit.permute([0, 2, 3, 4, 1]).into_data().try_into_vec::<f32>().expect("f32 frames");
    Array4::from_shape_vec((f, h, w, c), values).expect("shape matches the tensor")
}
