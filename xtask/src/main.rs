//! Project automation: `cargo xtask <command>`.
//!
//! - `fixtures`: regenerates every reference fixture with the Python reference (diffusers,
//!   transformers, torch) in a virtualenv outside the repository.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Tenku project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Regenerate the parity fixtures from the Python reference (needs network access to PyPI
    /// the first time, to fill the virtualenv).
    Fixtures {
        /// The virtualenv to use or create.
        #[arg(long, env = "TENKU_VENV", default_value = "/tmp/tenku-venv")]
        venv: PathBuf,
    },
}

/// What the fixture scripts import.
const PYTHON_PACKAGES: [&str; 6] =
    ["torch", "diffusers", "transformers", "safetensors", "sentencepiece", "numpy"];

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Task::Fixtures { venv } => fixtures(&venv),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("{command:?} failed with {status}"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_owned()
}

fn fixtures(venv: &Path) -> Result<(), String> {
    let python = venv.join("bin/python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    }
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet"]).args(PYTHON_PACKAGES))?;
    let root = workspace_root();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("scripts"))
        .map_err(|e| format!("cannot list scripts/: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("make_"))
                && p.extension().is_some_and(|e| e == "py")
        })
        .collect();
    scripts.sort();
    for script in scripts {
        println!("xtask: running {}", script.display());
        run(Command::new(&python).arg(&script).current_dir(&root))?;
    }
    Ok(())
}
