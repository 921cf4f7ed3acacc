//! `tenku generate`.

use std::path::PathBuf;

use clap::Args;
use tenku::pipeline::{GenerateRequest, Geometry};
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
    /// Sampler, `name[:key=value,...]`; see `tenku samplers`.
    #[arg(long, default_value = "unipc", value_parser = parse_sampler)]
    sampler: SamplerKind,
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

fn parse_backend(text: &str) -> Result<tenku::Backend, String> {
    text.parse().map_err(|e: tenku::Error| e.to_string())
}

/// Where the embedded default model lives, relative to the workspace.
const EMBEDDED_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tenku-shapes");

/// Validates every flag, then loads the model and generates.
pub fn run(args: &GenerateArgs, _quiet: bool) -> Result<(), CliError> {
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
    // Every model family Tenku will load (Wan2.1 and the embedded Wan-architecture model)
    // shares this geometry; a family with another one validates against its own on load.
    request.validate(&Geometry::WAN_2_1)?;
    tenku::io::VideoFormat::from_path(&args.output)?;
    if let Some(noise) = &request.noise
        && !noise.is_file()
    {
        return Err(format!("--noise {}: no such file", noise.display()).into());
    }
    let _device = tenku::device(args.device)?;
    let model_dir = match &args.model {
        Some(dir) => dir.clone(),
        None => PathBuf::from(EMBEDDED_MODEL),
    };
    if args.model.is_none() && !model_dir.join(tenku::core::ModelDir::INDEX).is_file() {
        return Err("no model: this build has no embedded default model yet; pass --model DIR (a diffusers directory)".into());
    }
    let model = tenku::core::ModelDir::open(&model_dir)?;
    Err(tenku::core::Error::UnsupportedClass {
        component: "pipeline".into(),
        class: model.pipeline_class().to_owned(),
        path: model.index_path(),
        supported: "none yet (Wan2.1 support is in progress)".into(),
    }
    .into())
}
