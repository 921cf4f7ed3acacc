//! `tenku generate`.

use std::path::PathBuf;

use clap::Args;
use tenku::pipeline::{Event, GenerateRequest};
use tenku::sampler::SamplerKind;

use crate::CliError;

/// Flags of `tenku generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What the video shows.
    #[arg(long)]
    prompt: String,
    /// What to steer away from (the unconditional branch of guidance).
    #[arg(long, default_value = "")]
    negative_prompt: String,
    /// A diffusers model directory; the embedded default model when absent.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Frames, of the form 4k+1; the model's default when absent (17 for the embedded model).
    #[arg(long)]
    frames: Option<usize>,
    /// Height in pixels; the model's default when absent (64 for the embedded model).
    #[arg(long)]
    height: Option<usize>,
    /// Width in pixels; the model's default when absent (64 for the embedded model).
    #[arg(long)]
    width: Option<usize>,
    /// Frames per second of the written video; the model's default when absent.
    #[arg(long)]
    fps: Option<f32>,
    /// Sampler steps.
    #[arg(long, default_value_t = tenku::pipeline::DEFAULT_STEPS)]
    steps: usize,
    /// Classifier-free guidance scale (≤ 1 turns the unconditional pass off); the model's
    /// default when absent (5 unless its directory records another).
    #[arg(long)]
    guidance: Option<f64>,
    /// Noise levels `LOW,HIGH` (σ, from 0 to 1) at which guidance acts; the conditional
    /// prediction alone elsewhere. The model's default when absent (every level, unless its
    /// directory records an interval).
    #[arg(long, value_name = "LOW,HIGH", value_parser = parse_interval)]
    guidance_interval: Option<[f64; 2]>,
    /// Sampler, `name[:key=value,...]` (see `tenku samplers`); defaults to the model's scheduler.
    #[arg(long, value_parser = parse_sampler)]
    sampler: Option<SamplerKind>,
    /// Flow shift; defaults to the model's scheduler config.
    #[arg(long)]
    shift: Option<f64>,
    /// Seed of the initial noise (ChaCha8 on the CPU, the same on every device).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Initial latents from a safetensors file (tensor `latents`) instead of the seed.
    #[arg(long)]
    noise: Option<PathBuf>,
    /// Prompt tokens the text encoder sees; the tokenizer's `model_max_length` when absent.
    #[arg(long)]
    max_sequence_length: Option<usize>,
    /// Image→video: the video starts with this image (PNG or JPEG of the output's size).
    #[arg(long, conflicts_with = "extend")]
    image: Option<PathBuf>,
    /// Extension: the video continues this clip (any format `tenku` writes), starting with its
    /// last frames (up to 5, so two latent frames of motion).
    #[arg(long)]
    extend: Option<PathBuf>,
    /// Video → video: redraws this clip (any format `tenku` writes) after the prompt, keeping
    /// what `--strength` leaves of it; its frame count and size are the output's unless given.
    #[arg(long, conflicts_with_all = ["image", "extend"])]
    video: Option<PathBuf>,
    /// How much of `--video` is redrawn: the share of the sampler's schedule that runs, in
    /// (0, 1]; 1 redraws it from pure noise (diffusers' default is 0.8).
    #[arg(long, default_value_t = 0.8, requires = "video")]
    strength: f64,
    /// Compute device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu", value_parser = parse_backend)]
    device: tenku::Backend,
    /// Output: .mp4, .gif, .safetensors, or a directory for PNG frames.
    #[arg(long, short)]
    output: PathBuf,
}

pub(crate) fn parse_sampler(text: &str) -> Result<SamplerKind, String> {
    text.parse().map_err(|e: tenku::sampler::Error| e.to_string())
}

/// `LOW,HIGH` as two numbers; their range is the request's to check.
pub(crate) fn parse_interval(text: &str) -> Result<[f64; 2], String> {
    let number = |part: &str| part.trim().parse::<f64>().ok();
    match text.split_once(',').map(|(low, high)| (number(low), number(high))) {
        Some((Some(low), Some(high))) => Ok([low, high]),
        _ => Err(format!("expected two noise levels LOW,HIGH such as 0.3,1, got {text:?}")),
    }
}

pub(crate) fn parse_backend(text: &str) -> Result<tenku::Backend, String> {
    text.parse().map_err(|e: tenku::Error| e.to_string())
}

/// Validates every flag, loads the model, generates and writes the video.
pub fn run(args: &GenerateArgs, quiet: bool) -> Result<(), CliError> {
    tenku::io::VideoFormat::from_path(&args.output)?;
    if let Some(noise) = &args.noise
        && !noise.is_file()
    {
        return Err(format!("--noise {}: no such file", noise.display()).into());
    }
    if let Some(fps) = args.fps
        && !(fps.is_finite() && fps > 0.0)
    {
        return Err(format!("--fps {fps}: expected a positive number").into());
    }
    let device = tenku::device(args.device)?;
    let model_dir = crate::embedded::resolve(args.model.as_deref())?;

    tracing::info!(model = %model_dir.display(), device = %args.device, "loading");
    let pipeline = tenku::pipeline::load_wan(&model_dir, &device)?;
    let defaults = &pipeline.defaults;
    let source = args.video.as_deref().map(tenku::io::read_video).transpose()?.map(|video| video.frames);
    let (source_frames, source_height, source_width, _) =
        source.as_ref().map_or((defaults.frames, defaults.height, defaults.width, 3), |video| video.dim());
    let request = GenerateRequest {
        prompt: args.prompt.clone(),
        negative_prompt: args.negative_prompt.clone(),
        frames: args.frames.unwrap_or(source_frames),
        height: args.height.unwrap_or(source_height),
        width: args.width.unwrap_or(source_width),
        steps: args.steps,
        guidance: args.guidance.unwrap_or(defaults.guidance),
        guidance_interval: args.guidance_interval.or(defaults.guidance_interval),
        sampler: args.sampler,
        shift: args.shift,
        seed: args.seed,
        noise: args.noise.clone(),
        max_sequence_length: args.max_sequence_length.unwrap_or(defaults.max_sequence_length),
        first_frames: None,
    };
    let request = GenerateRequest {
        first_frames: first_frames(args, &request, pipeline.geometry.temporal_factor)?,
        ..request
    };
    request.validate(&pipeline.geometry)?;
    let unknown = pipeline.unknown_words(&request.prompt);
    if !unknown.is_empty() {
        tracing::warn!("words outside the model's vocabulary: {}", unknown.join(", "));
    }
    let sampler = request.sampler.unwrap_or(pipeline.scheduler.default_sampler);
    let progress = Progress::new(quiet);
    let frames = match &source {
        Some(video) => pipeline
            .generate_from_video(&request, video, args.strength, &mut |event| progress.update(event))?,
        None => pipeline.generate(&request, &mut |event| progress.update(event))?,
    };
    progress.finish();

    let video = tenku::io::Video::new(frames, args.fps.unwrap_or(pipeline.defaults.fps))?;
    let mut extra = std::collections::BTreeMap::from([
        ("guidance".to_owned(), request.guidance.to_string()),
        (
            "model".to_owned(),
            args.model.as_ref().map_or("tenku-shapes (embedded)".into(), |m| m.display().to_string()),
        ),
    ]);
    if args.video.is_some() {
        extra.insert("strength".to_owned(), args.strength.to_string());
    }
    if request.guided() {
        let interval = request.guidance_interval.map_or("all".into(), |[low, high]| format!("{low},{high}"));
        extra.insert("guidance_interval".to_owned(), interval);
    }
    let metadata = tenku::io::Metadata {
        prompt: Some(request.prompt.clone()),
        negative_prompt: Some(request.negative_prompt.clone()),
        seed: request.noise.is_none().then_some(request.seed),
        sampler: Some(sampler.to_string()),
        steps: Some(request.steps as u32),
        extra,
    };
    let format = tenku::io::write_video(&args.output, &video, &metadata)?;
    tracing::info!(output = %args.output.display(), %format, frames = video.num_frames(), "wrote");
    Ok(())
}

/// Frames the video must start with: `--image` as one frame, or the last `1 + t·j` frames of
/// `--extend` (at most 5, fewer than the video's).
fn first_frames(
    args: &GenerateArgs,
    request: &GenerateRequest,
    temporal_factor: usize,
) -> Result<Option<ndarray::Array4<f32>>, CliError> {
    let frames = if let Some(path) = &args.image {
        let image = tenku::io::read_image(path)?;
        image.insert_axis(ndarray::Axis(0))
    } else if let Some(path) = &args.extend {
        let clip = tenku::io::read_video(path)?.frames;
        let available = clip.dim().0.min(5).min(request.frames.saturating_sub(1)).max(1);
        let keep = 1 + (available - 1) / temporal_factor * temporal_factor;
        clip.slice(ndarray::s![clip.dim().0 - keep.., .., .., ..]).to_owned()
    } else {
        return Ok(None);
    };
    let (_, height, width, _) = frames.dim();
    if (height, width) != (request.height, request.width) {
        let flag = if args.image.is_some() { "--image" } else { "--extend" };
        return Err(format!(
            "{flag}: frames are {width}x{height}, the video is {}x{} (pass --width {width} --height {height})",
            request.width, request.height
        )
        .into());
    }
    Ok(Some(frames))
}

/// Progress bars for denoising and decoding (hidden with `--quiet` or off a terminal).
struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
        let style = indicatif::ProgressStyle::with_template(
            "{msg:>9} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        Self { bar }
    }

    fn update(&self, event: Event) {
        match event {
            Event::Encoded => self.bar.set_message("encoded"),
            Event::Step { done, total } => {
                self.bar.set_message("denoising");
                self.bar.set_length(total as u64);
                self.bar.set_position(done as u64);
            }
            Event::Decoded { done, total } => {
                self.bar.set_message("decoding");
                self.bar.set_length(total as u64);
                self.bar.set_position(done as u64);
            }
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
