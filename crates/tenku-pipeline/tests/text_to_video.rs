//! The text-to-video composition with stand-in components whose exact output is known.

use std::path::PathBuf;

use burn::tensor::{Device, Tensor};
use tenku_core::{
    Conditioning, Denoiser, LatentLayout, Prediction, TextEmbeddings, TextEncoder, Timestep, VideoAutoencoder,
};
use tenku_pipeline::scheduler::flow_schedule;
use tenku_pipeline::{Error, Event, GenerateRequest, Geometry, SchedulerSpec, TextToVideo, seeded_latents};
use tenku_sampler::SamplerKind;

/// Embeds a prompt as one row whose value is its length (so the branches differ).
struct LengthEncoder;

impl TextEncoder for LengthEncoder {
    fn encode(&self, prompts: &[&str], max_tokens: usize) -> tenku_core::Result<TextEmbeddings> {
        let device = Device::flex();
        let hidden = Tensor::<3>::ones([prompts.len(), max_tokens, 2], &device) * prompts[0].len() as f64;
        Ok(TextEmbeddings { hidden, lengths: vec![1; prompts.len()] })
    }

    fn unknown_words(&self, prompt: &str) -> Vec<String> {
        prompt.split_whitespace().filter(|w| w.contains('z')).map(str::to_owned).collect()
    }
}

/// Predicts the clean sample directly: 0.5 for the prompt, 0.25 for the negative prompt.
struct ConstantDenoiser;

impl Denoiser for ConstantDenoiser {
    fn prediction(&self) -> Prediction {
        Prediction::Sample
    }

    fn forward(&self, latents: Tensor<5>, timestep: Timestep, cond: &Conditioning) -> Tensor<5> {
        match timestep {
            Timestep::PerSample(t) => assert_eq!(t.dims(), [latents.dims()[0]]),
            // Clean first frames: timestep 0 on the first latent frame and their latents are
            // the encoded frames.
            Timestep::PerFrame(t) => {
                assert_eq!(t.dims(), [1, latents.dims()[2]]);
                let t = t.into_data().try_into_vec::<f32>().unwrap();
                assert!(t[0] == 0.0 && t[1..].iter().all(|&v| v > 0.0), "{t:?}");
                let first = latents.clone().narrow(2, 0, 1).into_data().try_into_vec::<f32>().unwrap();
                assert!(first.iter().all(|&v| v == ENCODED), "{first:?}");
            }
            Timestep::PerToken(_) => panic!("the pipeline gives clean frames per frame"),
        }
        let prompt_length: f32 = cond.text.hidden.clone().slice([0..1, 0..1, 0..1]).into_scalar();
        let value = if prompt_length > 3.0 { 0.5 } else { 0.25 };
        latents.zeros_like() + value
    }
}

/// Predicts its input as the clean sample, so every flow sampler step keeps the latents as
/// they are.
struct IdentityDenoiser;

impl Denoiser for IdentityDenoiser {
    fn prediction(&self) -> Prediction {
        Prediction::Sample
    }

    fn forward(&self, latents: Tensor<5>, _timestep: Timestep, _cond: &Conditioning) -> Tensor<5> {
        latents
    }
}

/// The latent value [`RepeatVae`] encodes any frames to.
const ENCODED: f32 = -0.5;

/// Upsamples latents ×8 in space; the first latent frame gives one frame, each later one four.
struct RepeatVae {
    layout: LatentLayout,
}

impl VideoAutoencoder for RepeatVae {
    fn layout(&self) -> &LatentLayout {
        &self.layout
    }

    /// Every latent of the encoded frames is [`ENCODED`].
    fn encode(&self, video: Tensor<5>) -> Tensor<5> {
        let [b, _, f, h, w] = video.dims();
        Tensor::full([b, 3, 1 + (f - 1) / 4, h / 8, w / 8], ENCODED, &video.device())
    }

    fn decode_streaming(&self, latents: Tensor<5>, sink: &mut dyn FnMut(Tensor<5>)) {
        let [b, c, t, h, w] = latents.dims();
        for i in 0..t {
            let frame = latents.clone().slice([0..b, 0..c, i..i + 1, 0..h, 0..w]);
            let repeat = if i == 0 { 1 } else { 4 };
            let up = frame.repeat_dim(2, repeat).repeat_dim(3, 8).repeat_dim(4, 8);
            sink(up);
        }
    }
}

fn pipeline() -> TextToVideo<LengthEncoder, ConstantDenoiser, RepeatVae> {
    pipeline_with(ConstantDenoiser)
}

fn pipeline_with<D: Denoiser>(denoiser: D) -> TextToVideo<LengthEncoder, D, RepeatVae> {
    let layout = LatentLayout {
        channels: 3,
        temporal_factor: 4,
        spatial_factor: 8,
        mean: vec![0.0; 3],
        std: vec![1.0; 3],
    };
    TextToVideo {
        text_encoder: LengthEncoder,
        denoiser,
        vae: RepeatVae { layout },
        scheduler: SchedulerSpec {
            shift: 3.0,
            default_sampler: SamplerKind::UniPc { order: 2, corrector: true },
        },
        geometry: Geometry { latent_channels: 3, temporal_factor: 4, spatial_factor: 8, patch: (2, 2) },
        defaults: Default::default(),
        device: Device::flex(),
    }
}

fn request() -> GenerateRequest {
    GenerateRequest {
        prompt: "a red circle".into(),
        negative_prompt: "no".into(),
        frames: 9,
        height: 16,
        width: 32,
        steps: 4,
        guidance: 3.0,
        guidance_interval: None,
        sampler: None,
        shift: None,
        seed: 1,
        noise: None,
        max_sequence_length: 8,
        first_frames: None,
    }
}

#[test]
fn guided_frames_come_out_in_unit_range_with_every_event() {
    let mut events = Vec::new();
    let frames = pipeline().generate(&request(), &mut |e| events.push(e)).unwrap();
    assert_eq!(frames.dim(), (9, 16, 32, 3));
    // CFG on a clean-sample model: 0.25 + 3·(0.5 − 0.25) = 1.0 in latent space → 1.0 in pixels.
    assert!(
        frames.iter().all(|&v| (v - 1.0).abs() < 1e-5),
        "{:?}",
        frames.iter().take(3).collect::<Vec<_>>()
    );
    assert_eq!(events[0], Event::Encoded);
    let steps: Vec<_> = events.iter().filter(|e| matches!(e, Event::Step { .. })).collect();
    assert_eq!(steps.len(), 4);
    assert_eq!(events.last(), Some(&Event::Decoded { done: 9, total: 9 }));
}

#[test]
fn without_guidance_only_the_prompt_counts() {
    let request = GenerateRequest { guidance: 1.0, sampler: Some(SamplerKind::Euler), ..request() };
    let frames = pipeline().generate(&request, &mut |_| {}).unwrap();
    // 0.5 in latent space → 0.5/2 + 0.5 = 0.75 in pixels.
    assert!(frames.iter().all(|&v| (v - 0.75).abs() < 1e-5));
}

#[test]
fn a_guidance_interval_decides_by_the_noise_level_of_each_step() {
    // Euler's last step lands on its model's x0 estimate, made at the lowest noise level; its
    // first level is σ = 1.
    let pixel = |interval| {
        let request = GenerateRequest {
            guidance_interval: Some(interval),
            sampler: Some(SamplerKind::Euler),
            ..request()
        };
        pipeline().generate(&request, &mut |_| {}).unwrap()[[0, 0, 0, 0]]
    };
    assert!((pixel([1.0, f64::INFINITY]) - 0.75).abs() < 1e-5, "guided at the first level only");
    assert!((pixel([0.0, 0.99]) - 1.0).abs() < 1e-5, "guided at every level but the first");
}

#[test]
fn requests_are_checked_against_the_model_geometry() {
    let err = pipeline().generate(&GenerateRequest { width: 40, ..request() }, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { flag: "--width", .. }), "{err}");
    let missing =
        GenerateRequest { noise: Some(PathBuf::from("/nonexistent/noise.safetensors")), ..request() };
    let err = pipeline().generate(&missing, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/noise.safetensors"), "{err}");
    assert_eq!(pipeline().unknown_words("a zebra and a cat"), vec!["zebra".to_owned()]);
}

#[test]
fn first_frames_stay_clean_while_the_rest_is_generated() {
    let image = ndarray::Array4::<f32>::zeros((1, 16, 32, 3));
    let with_image = GenerateRequest { first_frames: Some(image), ..request() };
    let frames = pipeline().generate(&with_image, &mut |_| {}).unwrap();
    // Frame 0 decodes the clean latent (−0.5 → 0.25 in pixels); the rest is generated as without
    // first frames (1.0, see the guided test).
    assert!(frames.slice(ndarray::s![0, .., .., ..]).iter().all(|&v| (v - 0.25).abs() < 1e-6));
    assert!(frames.slice(ndarray::s![1.., .., .., ..]).iter().all(|&v| (v - 1.0).abs() < 1e-5));

    let wrong = GenerateRequest { first_frames: Some(ndarray::Array4::zeros((2, 16, 32, 3))), ..request() };
    let err = pipeline().generate(&wrong, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("1 + 4j frames"), "{err}");
}

#[test]
fn one_prediction_is_the_conditional_model_output_with_clean_first_frames() {
    let pipeline = pipeline();
    let shape = pipeline.geometry.latent_shape(9, 16, 32);
    let image = ndarray::Array4::<f32>::zeros((1, 16, 32, 3));
    let with_image = GenerateRequest { first_frames: Some(image), ..request() };
    // The stand-in denoiser checks that the first latent frame is the encoded image at timestep 0.
    let zeros = Tensor::<5>::zeros(shape, &Device::flex());
    let outputs = pipeline.predict(&with_image, &[(zeros.clone(), 0.5), (zeros.clone(), 1.0)]).unwrap();
    assert_eq!(outputs.len(), 2, "one output per noisy latent");
    for output in outputs {
        assert_eq!(output.dims(), shape);
        let values = output.into_data().try_into_vec::<f32>().unwrap();
        // The prompt's branch alone (0.5), not the guided mix a sampler step would use (1.0).
        assert!(values.iter().all(|&v| v == 0.5), "{:?}", &values[..3]);
    }

    let wrong = Tensor::zeros([1, 3, 2, 2, 2], &Device::flex());
    let err = pipeline.predict(&request(), &[(zeros, 0.5), (wrong, 0.5)]).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { flag: "latents", .. }), "{err}");
}

#[test]
fn regeneration_starts_from_the_clean_latents_noised_to_its_strength() {
    // The identity model keeps the sampler's latents where they start, so the result is the
    // start: α·clean + σ·noise at the level half-way into the schedule.
    let pipeline = pipeline_with(IdentityDenoiser);
    let request = GenerateRequest { sampler: Some(SamplerKind::Euler), guidance: 1.0, ..request() };
    let shape = pipeline.geometry.latent_shape(9, 16, 32);
    let clean = Tensor::<5>::full(shape, 2.0, &Device::flex());
    let regenerated = pipeline.regenerate(&request, clean, 0.5, &mut |_| {}).unwrap();
    let schedule = flow_schedule(&SamplerKind::Euler, 4, 3.0);
    let start = &schedule.levels[2];
    let expected = seeded_latents(request.seed, shape, &Device::flex()) * start.sigma + 2.0 * start.alpha;
    let difference: f32 = (regenerated - expected).abs().max().into_scalar();
    assert!(difference < 1e-6, "{difference}");

    let zeros = Tensor::<5>::zeros(shape, &Device::flex());
    for strength in [0.0, 1.5, f64::NAN] {
        let err = pipeline.regenerate(&request, zeros.clone(), strength, &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { flag: "--strength", .. }), "{err}");
    }
    let wrong = Tensor::zeros([1, 3, 2, 2, 2], &Device::flex());
    let err = pipeline.regenerate(&request, wrong, 0.5, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { flag: "latents", .. }), "{err}");
}

#[test]
fn video_to_video_decodes_the_regenerated_clip_of_the_requests_size() {
    let request = GenerateRequest { sampler: Some(SamplerKind::Euler), ..request() };
    let video = ndarray::Array4::<f32>::zeros((9, 16, 32, 3));
    let mut events = Vec::new();
    let frames = pipeline().generate_from_video(&request, &video, 0.5, &mut |e| events.push(e)).unwrap();
    // Euler lands on the guided clean estimate (1.0, see the guided test) whatever it starts from.
    assert_eq!(frames.dim(), (9, 16, 32, 3));
    assert!(frames.iter().all(|&v| (v - 1.0).abs() < 1e-5));
    let steps = events.iter().filter(|e| matches!(e, Event::Step { .. })).count();
    assert_eq!(steps, 2, "half of the 4 steps");
    assert_eq!(events.last(), Some(&Event::Decoded { done: 9, total: 9 }));

    let short = ndarray::Array4::<f32>::zeros((5, 16, 32, 3));
    let err = pipeline().generate_from_video(&request, &short, 0.5, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { flag: "--video", .. }), "{err}");
    assert!(err.to_string().contains("9 frames of 32x16"), "{err}");
}
