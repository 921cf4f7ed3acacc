//! `tenku train`.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use tenku::train::{Event, Outcome, Recipe, TrainOptions};

use crate::CliError;

/// Flags of `tenku train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The run directory: checkpoints, the recipe, and the trained model in `DIR/model`. A run
    /// already there continues from its latest checkpoint.
    #[arg(long, required_unless_present = "list_recipes")]
    out: Option<PathBuf>,
    /// A recipe: a JSON file, or the name of a built-in one (`--list-recipes`): the shipped
    /// model's runs, each after the first continuing the one before (they need `--warm-start`).
    /// When absent: `shapes-default`, or `shapes-continued` with `--warm-start`.
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// Print the names of the built-in recipes, one per line in the order of the shipped model's
    /// runs, and exit.
    #[arg(long)]
    list_recipes: bool,
    /// Continue from this model directory (its VAE, text encoder and transformer, or its VAE
    /// alone if the recipe sets `fresh_denoiser`), under the recipe given or, without
    /// `--recipe`, under `shapes-continued`.
    #[arg(long)]
    warm_start: Option<PathBuf>,
    /// Stop after this many optimizer steps, as if interrupted (the run resumes later).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Compute device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu", value_parser = crate::generate::parse_backend)]
    device: tenku::Backend,
    /// Threads that share each denoiser step's samples, each with a copy of the weights
    /// (default: 2 on the CPU, 1 on a GPU). The model is the same up to float rounding; a
    /// resumed run reproduces an uninterrupted one byte for byte only with the same count.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: Option<u16>,
}

/// Trains (or continues training) and reports progress on stderr.
pub fn run(args: &TrainArgs, quiet: bool) -> Result<(), CliError> {
    if args.list_recipes {
        println!("{}", Recipe::BUILT_IN.join("\n"));
        return Ok(());
    }
    let out = args.out.as_ref().ok_or("--out: required to train")?;
    let warm_start = args.warm_start.clone();
    let default_name = if warm_start.is_some() { "shapes-continued" } else { "shapes-default" };
    let path = args.recipe.clone().unwrap_or_else(|| default_name.into());
    let recipe = match path.to_str().and_then(|name| Recipe::built_in(name, warm_start.clone())) {
        Some(built_in) => built_in?,
        None if !path.exists() => {
            let names = Recipe::BUILT_IN.join(", ");
            return Err(format!(
                "--recipe {}: no such file, nor a built-in recipe ({names})",
                path.display()
            )
            .into());
        }
        None => {
            let recipe = Recipe::from_file(&path)?;
            Recipe { warm_start: warm_start.or(recipe.warm_start.clone()), ..recipe }
        }
    };
    let device = tenku::device(args.device)?;
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let default_threads = if args.device == tenku::Backend::Cpu { 2 } else { 1 };
    let options = TrainOptions {
        stop_after: args.stop_after,
        denoiser_threads: args.threads.map_or(default_threads, usize::from),
    };
    // Off a terminal (a log file, CI) the bar is invisible: print a line every half minute.
    let log_lines = !quiet && !std::io::stderr().is_terminal();
    let mut last_line = std::time::Instant::now();
    let outcome = tenku::train::train(out, &recipe, &device, &options, &mut |event| match event {
        Event::Resumed { stage, step } => bar.println(format!("resuming the {stage} stage at step {step}")),
        Event::Progress(p) => {
            let status = format!(
                "loss {:.4}  {:.1} clips/s  eta {}",
                p.loss,
                p.samples_per_sec,
                indicatif::FormattedDuration(p.eta)
            );
            if log_lines && (last_line.elapsed().as_secs() >= 30 || p.step == p.steps) {
                eprintln!("{} {}/{} {status}", p.stage, p.step, p.steps);
                last_line = std::time::Instant::now();
            }
            bar.set_prefix(p.stage.name());
            bar.set_length(p.steps as u64);
            bar.set_position(p.step as u64);
            bar.set_message(status);
        }
        Event::Checkpoint { dir } => tracing::info!(checkpoint = %dir.display(), "saved"),
        Event::StageDone(stage) => bar.println(format!("{stage} stage done")),
    })?;
    bar.finish_and_clear();
    match outcome {
        Outcome::Finished(model) => eprintln!("trained model: {}", model.display()),
        // Step 0: the stage stopped before its first checkpoint, so a rerun starts it over.
        Outcome::Stopped { stage, step: 0 } => {
            eprintln!(
                "stopped in the {stage} stage before its first checkpoint; run again to start the stage over"
            )
        }
        Outcome::Stopped { stage, step } => {
            eprintln!("stopped in the {stage} stage; latest checkpoint at step {step}; run again to resume")
        }
    }
    Ok(())
}
