//! `tenku info DIR`.

use std::collections::BTreeMap;
use std::path::Path;

use tenku::core::{Component, ModelDir};

use crate::CliError;

/// Config keys worth showing, when a component's config has them.
const SHOWN_KEYS: [&str; 14] = [
    "num_layers",
    "num_attention_heads",
    "attention_head_dim",
    "in_channels",
    "out_channels",
    "patch_size",
    "base_dim",
    "z_dim",
    "d_model",
    "num_heads",
    "vocab_size",
    "flow_shift",
    "shift",
    "solver_order",
];

/// Prints the directory's components; fails if any component's weights cannot be read.
pub fn run(dir: &Path) -> Result<(), CliError> {
    let model = ModelDir::open(dir)?;
    println!("{}  ({})", dir.display(), model.pipeline_class());
    let mut first_error = None;
    for component in model.components() {
        println!("\n{}: {} ({})", component.name, component.class_name, component.library);
        if let Err(error) = describe(&model, component) {
            println!("  error: {error}");
            first_error.get_or_insert(error);
        }
    }
    for (key, value) in model.settings() {
        println!("\n{key} = {value}");
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn describe(model: &ModelDir, component: &Component) -> Result<(), CliError> {
    let component = model.component(&component.name)?;
    if let Ok(path) = component.config_path() {
        let config: serde_json::Map<String, serde_json::Value> = tenku::core::read_json(&path)?;
        let shown: Vec<String> =
            SHOWN_KEYS.iter().filter_map(|k| config.get(*k).map(|v| format!("{k}={v}"))).collect();
        if !shown.is_empty() {
            println!("  config: {}", shown.join(" "));
        }
    }
    let has_weights = std::fs::read_dir(&component.dir)?.filter_map(Result::ok).any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json")
    });
    if !has_weights {
        return Ok(());
    }
    let weights = component.weights()?;
    let mut dtypes: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, info) in weights.tensors() {
        *dtypes.entry(info.dtype.as_str()).or_default() += info.numel();
    }
    let dtypes: Vec<String> = dtypes.iter().map(|(d, n)| format!("{d} {}", human(*n))).collect();
    println!(
        "  weights: {} tensors, {} parameters ({}) in {} file(s)",
        weights.tensors().count(),
        human(weights.parameter_count()),
        dtypes.join(", "),
        weights.files().count()
    );
    Ok(())
}

/// 1_419_000_000 → "1.42B".
fn human(n: usize) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.2}K", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}B", n as f64 / 1e9),
    }
}
