//! The `tenku` command line: generate videos, inspect model directories, list samplers.

mod embedded;
mod eval;
mod generate;
mod info;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tenku (天空): text-to-video diffusion in Rust.
#[derive(Debug, Parser)]
#[command(name = "tenku", version, about, long_about = None)]
struct Cli {
    /// Print only errors.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a video from a prompt.
    Generate(Box<generate::GenerateArgs>),
    /// Show what a diffusers model directory holds: components, configs, parameters, dtypes.
    Info {
        /// The model directory (with model_index.json).
        dir: std::path::PathBuf,
    },
    /// List the built-in samplers and their options.
    Samplers,
    /// Measure a model on a synthetic world.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Train a model from scratch on the shapes world (the default model's recipe unless
    /// --recipe), resuming the run in --out if there is one.
    Train(train::TrainArgs),
}

/// An error for the user: its message and causes are printed on one line.
type CliError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        Err(error) => {
            // clap's message without its usage footer, joined into one line as for every other
            // error (a missing argument's name is on the line after the message).
            let rendered = error.to_string();
            let message: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect();
            eprintln!(
                "{}",
                if message.is_empty() { "invalid arguments".to_owned() } else { message.join(" ") }
            );
            return ExitCode::from(2);
        }
    };
    // Warnings (words outside a model's vocabulary) by default; RUST_LOG=info shows progress notes.
    let level = if cli.quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).without_time().init();
    let result = match cli.command {
        Command::Generate(args) => generate::run(&args, cli.quiet),
        Command::Info { dir } => info::run(&dir),
        Command::Train(args) => train::run(&args, cli.quiet),
        Command::Eval(command) => eval::run(&command, cli.quiet),
        Command::Samplers => {
            print_samplers();
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", tenku::core::error_chain(&*error));
            ExitCode::FAILURE
        }
    }
}

fn print_samplers() {
    println!("{:<16} {:<24} {:<13} description", "name", "options", "kind");
    for info in tenku::sampler::CATALOG {
        let kind = if info.stochastic { "stochastic" } else { "deterministic" };
        let options = if info.options.is_empty() { "-" } else { info.options };
        println!("{:<16} {:<24} {:<13} {}", info.name, options, kind, info.summary);
    }
    println!("\nOptions go after a colon: --sampler unipc:order=3, --sampler ddim:eta=0.5");
}
