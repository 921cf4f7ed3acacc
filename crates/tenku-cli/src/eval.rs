//! `tenku eval shapes` and `tenku eval analyze`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ndarray::Array4;
use tenku::sampler::SamplerKind;
use tenku::train::eval::{
    ClipResult, DenoisingOptions, EvalOptions, ReconstructionOptions, Task, evaluate, evaluate_denoising,
    evaluate_reconstruction, model_world,
};

use crate::CliError;

/// What `tenku eval` measures.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Generate clips for random captions of the shapes world, analyze them and print accuracy
    /// per attribute (colour, shape, size, direction, speed, count, background, permanence) and
    /// temporal jitter.
    Shapes(ShapesArgs),
    /// Read one clip as the shapes world's analyzer does (background, pillar and, per object,
    /// colour, shape, size, motion, jitter and permanence) and print that as JSON, with the
    /// clip's score against a caption: --caption, else the prompt the file records.
    Analyze(AnalyzeArgs),
}

/// Flags of `tenku eval analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The clip: an MP4, a GIF, a directory of PNG frames or a safetensors video.
    clip: PathBuf,
    /// The caption to score the clip against; when absent, the prompt recorded in the clip's
    /// metadata if it is a caption of the shapes world (no score otherwise).
    #[arg(long)]
    caption: Option<String>,
}

/// `--task` values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TaskArg {
    /// Text→video.
    Text,
    /// Image→video from the ground truth's first frame.
    Image,
    /// Extension of the ground truth's first five frames.
    Extend,
}

/// Flags of `tenku eval shapes`.
#[derive(Debug, Args)]
pub struct ShapesArgs {
    /// A diffusers model directory; the embedded default model when absent.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Random captions to evaluate.
    #[arg(long, default_value_t = 200)]
    prompts: usize,
    /// Seed of the captions and of the first clip's noise (clip i uses seed + i).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler, `name[:key=value,...]`; defaults to the model's scheduler.
    #[arg(long, value_parser = crate::generate::parse_sampler)]
    sampler: Option<SamplerKind>,
    /// Sampler steps.
    #[arg(long, default_value_t = tenku::pipeline::DEFAULT_STEPS)]
    steps: usize,
    /// Classifier-free guidance scale; the model's default when absent (5 unless its directory
    /// records another).
    #[arg(long)]
    guidance: Option<f64>,
    /// Noise levels `LOW,HIGH` at which guidance acts; the model's default when absent.
    #[arg(long, value_name = "LOW,HIGH", value_parser = crate::generate::parse_interval)]
    guidance_interval: Option<[f64; 2]>,
    /// Flow shift; defaults to the model's scheduler config.
    #[arg(long)]
    shift: Option<f64>,
    /// Print the metrics and every clip's score as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// What the model is given besides the caption: the ground truth's first frame (image), or
    /// its first five frames (extend).
    #[arg(long, value_enum, default_value = "text")]
    task: TaskArg,
    /// Measure the VAE alone: encode and decode rendered ground-truth clips instead of
    /// generating (the ceiling for generated clips).
    #[arg(long)]
    reconstruct: bool,
    /// With --reconstruct: add Gaussian noise of this standard deviation to the normalized
    /// latents before decoding (how much a small latent error changes the decoded clip).
    #[arg(long, default_value_t = 0.0, requires = "reconstruct", allow_negative_numbers = true, value_parser = parse_latent_noise)]
    latent_noise: f32,
    /// Measure the denoiser alone, without a sampler: noise each ground-truth clip's latents to
    /// each of --noise-levels and report the error of one model evaluation (no guidance) per
    /// level, and the scores of the clean latents it implies, decoded; --task chooses which
    /// frames are given clean.
    #[arg(long, conflicts_with_all = ["reconstruct", "samples", "sampler", "steps", "guidance", "guidance_interval", "shift"])]
    denoise: bool,
    /// With --denoise: the noise levels σ in (0, 1], comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7,0.9,1", requires = "denoise", value_parser = parse_noise_level)]
    noise_levels: Vec<f64>,
    /// With --denoise: measure the latent errors only, without decoding and scoring the
    /// predictions (much faster; the JSON then has no `decoded` per level).
    #[arg(long, requires = "denoise")]
    no_decode: bool,
    /// Also write every clip as a GIF into this directory.
    #[arg(long)]
    samples: Option<PathBuf>,
    /// Compute device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu", value_parser = crate::generate::parse_backend)]
    device: tenku::Backend,
    /// Clips generated (or, with --denoise or --reconstruct, measured) at once, each on its own
    /// thread; the scores do not depend on it.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
}

/// Runs the evaluation and prints the table (or JSON) on stdout.
pub fn run(command: &EvalCommand, quiet: bool) -> Result<(), CliError> {
    match command {
        EvalCommand::Shapes(args) => run_shapes(args, quiet),
        EvalCommand::Analyze(args) => analyze(args),
    }
}

/// `tenku eval analyze`: the analysis of one clip and, with a caption, its score, as JSON.
fn analyze(args: &AnalyzeArgs) -> Result<(), CliError> {
    let (video, metadata) = tenku::io::read_video_with_metadata(&args.clip)?;
    let (frames, height, width, _) = video.frames.dim();
    let world = tenku::shapes::WorldConfig { frames, height, width, fps: video.fps };
    let analysis = tenku::shapes::analyze(video.frames.view(), &world);
    let spec = match (&args.caption, metadata.prompt) {
        (Some(caption), _) => Some(
            tenku::shapes::SceneSpec::parse(caption).map_err(|e| format!("--caption {caption:?}: {e}"))?,
        ),
        (None, Some(prompt)) => tenku::shapes::SceneSpec::parse(&prompt).ok(),
        (None, None) => None,
    };
    let score = spec.map(|spec| tenku::shapes::score(&spec, &analysis));
    let report = serde_json::json!({ "analysis": analysis, "score": score });
    print(&(serde_json::to_string_pretty(&report)? + "\n"))
}

/// `tenku eval shapes`.
fn run_shapes(args: &ShapesArgs, quiet: bool) -> Result<(), CliError> {
    let device = tenku::device(args.device)?;
    let model_dir = crate::embedded::resolve(args.model.as_deref())?;
    let pipeline = tenku::pipeline::load_wan(&model_dir, &device)?;
    if let Some(dir) = &args.samples {
        std::fs::create_dir_all(dir).map_err(|e| format!("--samples {}: {e}", dir.display()))?;
    }
    let captions = tenku::shapes::random_captions(args.prompts, args.seed);
    let task = match args.task {
        TaskArg::Text => Task::TextToVideo,
        TaskArg::Image => Task::ImageToVideo,
        TaskArg::Extend => Task::Extension,
    };
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(captions.len() as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("evaluating [{bar:30}] {pos}/{len} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    if args.denoise {
        let options = DenoisingOptions {
            task,
            seed: args.seed,
            noise_levels: args.noise_levels.clone(),
            decode: !args.no_decode,
            threads: args.threads.into(),
        };
        let report = evaluate_denoising(&pipeline, &captions, &options, &mut |_| bar.inc(1))?;
        bar.finish_and_clear();
        let text = if args.json { serde_json::to_string_pretty(&report)? + "\n" } else { report.table() };
        return print(&text);
    }
    let options = EvalOptions {
        task,
        seed: args.seed,
        steps: args.steps,
        guidance: args.guidance,
        guidance_interval: args.guidance_interval,
        sampler: args.sampler,
        shift: args.shift,
        threads: args.threads.into(),
    };
    let mut write_error = None;
    let mut on_clip = |index: usize, result: &ClipResult, frames: &Array4<f32>| {
        bar.inc(1);
        if let Some(dir) = &args.samples {
            let name = format!("{index:03}-{}.gif", result.score.caption.replace(' ', "_"));
            let video = tenku::io::Video { frames: frames.clone(), fps: pipeline.defaults.fps };
            let metadata = tenku::io::Metadata {
                prompt: Some(result.score.caption.clone()),
                seed: Some(result.seed),
                ..Default::default()
            };
            if let Err(e) = tenku::io::write_video(&dir.join(name), &video, &metadata) {
                write_error.get_or_insert(e);
            }
        }
    };
    let report = if args.reconstruct {
        let world = model_world(&pipeline);
        let options = ReconstructionOptions {
            seed: args.seed,
            latent_noise: args.latent_noise,
            threads: args.threads.into(),
        };
        evaluate_reconstruction(&pipeline.vae, &world, &captions, options, &device, &mut on_clip)?
    } else {
        evaluate(&pipeline, &captions, &options, &mut on_clip)?
    };
    bar.finish_and_clear();
    if let Some(error) = write_error {
        return Err(error.into());
    }
    let text = if args.json { serde_json::to_string_pretty(&report)? + "\n" } else { report.metrics.table() };
    print(&text)
}

/// Writes `text` to stdout; a closed pipe is not an error.
fn print(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// A noise level in (0, 1] for `--noise-levels`.
fn parse_noise_level(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(sigma) if sigma > 0.0 && sigma <= 1.0 => Ok(sigma),
        _ => Err(format!("expected a noise level σ in (0, 1], found `{text}`")),
    }
}

/// A finite, non-negative standard deviation for `--latent-noise`.
fn parse_latent_noise(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(sigma) if sigma.is_finite() && sigma >= 0.0 => Ok(sigma),
        _ => Err(format!("expected a finite standard deviation ≥ 0, found `{text}`")),
    }
}
