//! `tenku generate`.

use std::path::PathBuf;

use clap::Args;
use tenku::pipeline::{Event, GenerateRequest, Geometry};
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
    /// Frames, of the form 4k+1.
    #[arg(long, default_value_t = 17)]
    frames: usize,
    /// Height in pixels, a multiple of 16.
    #[arg(long, default_value_t = 64)]
    height: usize,
    /// Width in pixels, a multiple of 16.
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Sampler steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Classifier-free guidance scale (≤ 1 turns the unconditional pass off).
    #[arg(long, default_value_t = 5.0)]
    guidance: f64,
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
    /// Prompt tokens the text encoder sees.
    #[arg(long, default_value_t = 512)]
    max_sequence_length: usize,
    /// Compute device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu", value_parser = parse_backend)]
    device: tenku::Backend,
    /// Output: .mp4, .gif, .safetensors, or a directory for PNG frames.
    #[arg(long, short)]
    output: PathBuf,
}

fn parse_sampler(text: &str) -> Result<SamplerKind, String> {
    text.parse().map_err(|e: tenku::sampler::Error| e.to_string())
}

pub(crate) fn parse_backend(text: &str) -> Result<tenku::Backend, String> {
    text.parse().map_err(|e: tenku::Error| e.to_string())
}

/// Where the embedded default model lives, relative to the workspace.
const EMBEDDED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tenku-shapes");

/// Validates every flag, loads the model, generates and writes the video.
pub fn run(args: &GenerateArgs, quiet: bool) -> Result<(), CliError> {
    let request = GenerateRequest {
        prompt: args.prompt.clone(),
        negative_prompt: args.negative_prompt.clone(),
        frames: args.frames,
        height: args.height,
        width: args.width,
        steps: args.steps,
        guidance: args.guidance,
        sampler: args.sampler,
        shift: args.shift,
        seed: args.seed,
        noise: args.noise.clone(),
        max_sequence_length: args.max_sequence_length,
    };
    // Every model family Tenku loads shares Wan's geometry, so flags are checked before the
    // (slow) load; the pipeline checks again against the loaded model's own geometry.
    request.validate(&Geometry::WAN_2_1)?;
    tenku::io::VideoFormat::from_path(&args.output)?;
    if let Some(noise) = &request.noise
        && !noise.is_file()
    {
        return Err(format!("--noise {}: no such file", noise.display()).into());
    }
    let device = tenku::device(args.device)?;
    let model_dir = match &args.model {
        Some(dir) => dir.clone(),
        None => PathBuf::from(EMBEDDED_MODEL),
    };
    if args.model.is_none() && !model_dir.join(tenku::core::ModelDir::INDEX).is_file() {
        return Err("no model: this build has no embedded default model yet; pass --model DIR (a diffusers directory)".into());
    }

    tracing::info!(model = %model_dir.display(), device = %args.device, "loading");
    let pipeline = tenku::pipeline::load_wan(&model_dir, &device)?;
    let unknown = pipeline.unknown_words(&request.prompt);
    if !unknown.is_empty() {
        tracing::warn!("words outside the model's vocabulary: {}", unknown.join(", "));
    }
    let sampler = request.sampler.unwrap_or(pipeline.scheduler.default_sampler);
    let progress = Progress::new(quiet);
    let frames = pipeline.generate(&request, &mut |event| progress.update(event))?;
    progress.finish();

    let video = tenku::io::Video::new(frames, tenku::pipeline::DEFAULT_FPS)?;
    let metadata = tenku::io::Metadata {
        prompt: Some(request.prompt.clone()),
        negative_prompt: Some(request.negative_prompt.clone()),
        seed: request.noise.is_none().then_some(request.seed),
        sampler: Some(sampler.to_string()),
        steps: Some(request.steps as u32),
        extra: [
            ("guidance".to_owned(), request.guidance.to_string()),
            ("model".to_owned(), model_dir.display().to_string()),
        ]
        .into(),
    };
    let format = tenku::io::write_video(&args.output, &video, &metadata)?;
    tracing::info!(output = %args.output.display(), %format, frames = video.num_frames(), "wrote");
    Ok(())
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
