//! Text → video: encode the prompt, sample latents with guidance, decode in a stream.

use std::ops::ControlFlow;

use burn::tensor::{Device, Tensor};
use ndarray::{Array4, s};
use tenku_core::{Conditioning, Denoiser, NoiseLevel, SeededNoise, TextEncoder, Timestep, VideoAutoencoder};
use tenku_sampler::{Branch, Cfg, Guidance, Guided, sample};

use crate::scheduler::{SchedulerSpec, flow_schedule};
use crate::{Error, GenerateRequest, Geometry, latents_from_file, seeded_latents};

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
        let sampler_kind = request.sampler.unwrap_or(self.scheduler.default_sampler);
        let shift = request.shift.unwrap_or(self.scheduler.shift);

        // 1. Prompts. The negative branch runs only when guidance is on (scale > 1), as diffusers.
        let guided = request.guidance > 1.0;
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

        // 2. Initial latents and the schedule.
        let shape = self.geometry.latent_shape(request.frames, request.height, request.width);
        let latents = match &request.noise {
            Some(path) => latents_from_file(path, shape, &self.device)?,
            None => seeded_latents(request.seed, shape, &self.device),
        };
        let schedule = flow_schedule(&sampler_kind, request.steps, shift);
        let latents = latents * schedule.init_noise_scale();

        // 3. Denoise.
        let predict = |x: Tensor<5>, level: &NoiseLevel, branch: Branch| {
            let t = Tensor::<1>::full([x.dims()[0]], level.timestep, &x.device());
            let conditioning = match (branch, &uncond) {
                (Branch::Unconditional, Some(uncond)) => uncond,
                _ => &cond,
            };
            self.denoiser.forward(x, Timestep::PerSample(t), conditioning)
        };
        let guidance: Option<Box<dyn Guidance>> =
            guided.then(|| Box::new(Cfg { scale: request.guidance }) as _);
        let mut model = Guided::new(predict, self.denoiser.prediction(), guidance);
        let mut sampler = sampler_kind.build();
        // Stochastic samplers continue the seed's stream past the initial latents.
        let mut noise = SeededNoise::new(request.seed.wrapping_add(1));
        let latents = sample(&mut *sampler, &mut model, latents, &schedule, &mut noise, &mut |p| {
            on_event(Event::Step { done: p.done, total: p.total });
            ControlFlow::Continue(())
        })?;

        // 4. Decode one chunk at a time into a host buffer.
        let [_, _, _, h, w] = latents.dims();
        let s = self.vae.layout().spatial_factor;
        let mut frames = Array4::<f32>::zeros((request.frames, h * s, w * s, 3));
        let mut done = 0;
        self.vae.decode_streaming(latents, &mut |chunk| {
            let chunk = to_unit_frames(chunk);
            let n = chunk.dim().0.min(request.frames - done);
            frames.slice_mut(s![done..done + n, .., .., ..]).assign(&chunk.slice(s![..n, .., .., ..]));
            done += n;
            on_event(Event::Decoded { done, total: request.frames });
        });
        Ok(frames)
    }
}

/// `[1, 3, f, h, w]` in [-1, 1] → `[f, h, w, 3]` in [0, 1], as diffusers' `postprocess_video`.
fn to_unit_frames(chunk: Tensor<5>) -> Array4<f32> {
    let [_, c, f, h, w] = chunk.dims();
    let unit = (chunk.clamp(-1.0, 1.0) / 2.0 + 0.5).clamp(0.0, 1.0);
    let values = unit.permute([0, 2, 3, 4, 1]).into_data().try_into_vec::<f32>().expect("f32 frames");
    Array4::from_shape_vec((f, h, w, c), values).expect("shape matches the tensor")
}
