//! Project automation: `cargo xtask <command>`.
//!
//! - `fixtures`: regenerates every reference fixture with the Python reference (diffusers,
//!   transformers, torch) in a virtualenv outside the repository.
//! - `real-size`: one forward of the real Wan2.1 1.3B transformer (random weights) at 17×256×256
//!   in Tenku and in diffusers on this machine, with the time ratio.
//! - `parity`: builds `tenku-cli`, then checks `tenku generate` against diffusers on N tiny Wan2.1
//!   pipelines drawn at random (`scripts/check_wan_parity.py`, max |diff| ≤ 1e-3).
//! - `train-default`: trains the default model with its built-in recipes in order (`tenku train
//!   --recipe`, each run continuing the one before; resumable) and installs it in
//!   `models/tenku-shapes`.

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
    /// Time one Wan2.1 1.3B transformer forward (random weights, 17×256×256) in Tenku and in
    /// diffusers, and print the ratio.
    RealSize {
        /// The virtualenv with torch and diffusers (see `fixtures`).
        #[arg(long, env = "TENKU_VENV", default_value = "/tmp/tenku-venv")]
        venv: PathBuf,
    },
    /// Build `tenku-cli` and check `tenku generate` against diffusers' WanPipeline on tiny
    /// random-weight pipelines drawn at random from seeds 0..N (scripts/check_wan_parity.py).
    Parity {
        /// How many random configurations (seeds 0..N).
        #[arg(long, default_value_t = 8)]
        seeds: u32,
        /// Keep each seed's pipeline, noise and outputs under DIR/seed-N.
        #[arg(long)]
        keep: Option<PathBuf>,
        /// The virtualenv with torch, diffusers, transformers and tokenizers (see `fixtures`).
        #[arg(long, env = "TENKU_VENV", default_value = "/tmp/tenku-venv")]
        venv: PathBuf,
    },
    /// Train the shipped default model from scratch with its built-in recipes and seeds
    /// (`tenku train --recipe NAME`, each run continuing the one before; rerun to resume after
    /// an interruption), then copy it into models/tenku-shapes.
    TrainDefault {
        /// The run directory (checkpoints and the trained model).
        #[arg(long, default_value = "target/train-default")]
        out: PathBuf,
        /// Leave models/tenku-shapes as it is.
        #[arg(long)]
        no_install: bool,
        /// Compute device of every run (`tenku train --device`): cpu, or wgpu or cuda, which
        /// build tenku-cli with that feature. The later runs take 8 clips per step and were
        /// trained on a GPU; on two CPU cores they take 40 to 100 minutes each.
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "wgpu", "cuda"])]
        device: String,
    },
}

/// What the fixture scripts import.
const PYTHON_PACKAGES: [&str; 6] =
    ["torch", "diffusers", "transformers", "safetensors", "sentencepiece", "numpy"];

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Task::Fixtures { venv } => fixtures(&venv),
        Task::RealSize { venv } => real_size(&venv),
        Task::Parity { seeds, keep, venv } => parity(seeds, keep.as_deref(), &venv),
        Task::TrainDefault { out, no_install, device } => train_default(&out, !no_install, &device),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The shipped model's runs, each continuing the one before: `tenku train --device DEVICE
/// --out OUT/<name> --recipe <name> [--warm-start OUT/<previous>/model]` for every built-in
/// recipe in order, then the last run's model → models/tenku-shapes.
fn train_default(out: &Path, install: bool, device: &str) -> Result<(), String> {
    let root = workspace_root();
    let mut previous: Option<PathBuf> = None;
    for name in shipped_runs(&root)? {
        let run_dir = root.join(out).join(&name);
        let mut command = Command::new(env!("CARGO"));
        // A release build: Tenku's own code at `opt-level = 3` trains about twice as fast as
        // the dev profile's 1 (docs/performance.md), with the same float arithmetic.
        command.args(["run", "--release", "--quiet", "--package", "tenku-cli"]);
        if device != "cpu" {
            command.args(["--features", device]);
        }
        command.args(["--", "train", "--device", device, "--recipe", &name, "--out"]);
        command.arg(&run_dir).current_dir(&root);
        if let Some(model) = &previous {
            command.arg("--warm-start").arg(model);
        }
        run(&mut command)?;
        previous = Some(run_dir.join("model"));
    }
    let model = previous.ok_or("tenku train --list-recipes listed no recipes")?;
    if !install {
        return Ok(());
    }
    let target = root.join("models/tenku-shapes");
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|e| format!("cannot remove {}: {e}", target.display()))?;
    }
    copy_dir(&model, &target)?;
    println!("xtask: installed {}", target.display());
    Ok(())
}

/// The built-in recipes behind the shipped model, in run order, as `tenku train --list-recipes`
/// prints them (xtask stays free of the model crates to build fast).
fn shipped_runs(root: &Path) -> Result<Vec<String>, String> {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--release", "--quiet", "--package", "tenku-cli", "--", "train", "--list-recipes"])
        .current_dir(root);
    let output = command.output().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{command:?} failed with {}: {stderr}", output.status));
    }
    let names: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    if names.is_empty() {
        return Err(format!("{command:?} listed no recipes"));
    }
    Ok(names)
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let dest = to.join(path.file_name().expect("entries have names"));
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            std::fs::copy(&path, &dest).map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
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

/// Runs `command` and returns its stdout's last line parsed as `"key": number` pairs.
fn json_line(command: &mut Command) -> Result<String, String> {
    let output = command.output().map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout.lines().last().map(str::to_owned).ok_or_else(|| format!("{command:?} printed nothing"))
}

/// The number after `"key":` in a flat JSON line.
fn field(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(&format!("\"{key}\":"))? + key.len() + 3..];
    rest.trim_start().split([',', '}']).next()?.trim().parse().ok()
}

fn real_size(venv: &Path) -> Result<(), String> {
    let root = workspace_root();
    println!("xtask: Tenku forward (cargo run -p tenku-dit --example real_size)");
    let tenku = json_line(
        Command::new(env!("CARGO"))
            .args(["run", "--quiet", "-p", "tenku-dit", "--example", "real_size"])
            .current_dir(&root),
    )?;
    println!("{tenku}");
    println!("xtask: diffusers forward (scripts/bench_wan_reference.py)");
    let reference = json_line(
        Command::new(venv.join("bin/python")).arg("scripts/bench_wan_reference.py").current_dir(&root),
    )?;
    println!("{reference}");
    let (ours, theirs) = (field(&tenku, "forward_seconds"), field(&reference, "forward_seconds"));
    match (ours, theirs) {
        (Some(ours), Some(theirs)) => println!("tenku / diffusers time: {:.2}", ours / theirs),
        _ => return Err("could not read forward_seconds from both runs".into()),
    }
    Ok(())
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace) or `<workspace>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

fn parity(seeds: u32, keep: Option<&Path>, venv: &Path) -> Result<(), String> {
    if seeds == 0 {
        return Err("--seeds must be at least 1".into());
    }
    let root = workspace_root();
    println!("xtask: building tenku-cli");
    run(Command::new(env!("CARGO")).args(["build", "-p", "tenku-cli"]).current_dir(&root))?;
    let tenku = target_dir(&root).join("debug").join(format!("tenku{}", std::env::consts::EXE_SUFFIX));
    let mut command = Command::new(venv.join("bin/python"));
    command.arg("scripts/check_wan_parity.py").arg("--tenku").arg(&tenku).arg("--seeds");
    command.args((0..seeds).map(|seed| seed.to_string()));
    if let Some(dir) = keep {
        // The script runs in the workspace root; a relative DIR means the caller's directory.
        let cwd = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
        command.arg("--keep").arg(cwd.join(dir));
    }
    run(command.current_dir(&root))
}
