//! The default model (`models/tenku-shapes`), compiled into the binary and unpacked into a cache
//! folder the first time it is used, so `tenku generate` works without a download or a source
//! checkout.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

macro_rules! model_files {
    ($($path:literal),* $(,)?) => {
        [$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tenku-shapes/", $path)) as &[u8])),*]
    };
}

/// Every file of the model directory, by relative path.
const FILES: [(&str, &[u8]); 10] = model_files![
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
];

/// `--model DIR` when given, else the embedded model's folder.
pub fn resolve(model: Option<&Path>) -> Result<PathBuf, crate::CliError> {
    match model {
        Some(dir) => Ok(dir.to_owned()),
        None => model_dir()
            .map_err(|e| format!("cannot unpack the embedded model into the cache folder: {e}").into()),
    }
}

/// The folder holding the embedded model, unpacking it first if needed: under
/// `$XDG_CACHE_HOME` (or `~/.cache`, or the temp folder) in `tenku/models/tenku-shapes-<hash>`,
/// where the hash covers every file, so each build's model gets its own folder.
pub fn model_dir() -> std::io::Result<PathBuf> {
    let mut hasher = Sha256::new();
    for (path, bytes) in FILES {
        hasher.update(path.as_bytes());
        hasher.update(bytes);
    }
    let hash: String = hasher.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    let dir = cache_root().join("tenku/models").join(format!("tenku-shapes-{hash}"));
    if !dir.join("model_index.json").is_file() {
        unpack(&dir)?;
    }
    Ok(dir)
}

/// Writes the files into a temporary sibling of `dir` and renames it into place, so a folder
/// that exists is complete.
fn unpack(dir: &Path) -> std::io::Result<()> {
    let parent = dir.parent().expect("the cache path has a parent");
    std::fs::create_dir_all(parent)?;
    let temp = parent.join(format!(".unpacking-{}", std::process::id()));
    for (path, bytes) in FILES {
        let file = temp.join(path);
        std::fs::create_dir_all(file.parent().expect("files sit in the model folder"))?;
        std::fs::write(file, bytes)?;
    }
    match std::fs::rename(&temp, dir) {
        Ok(()) => Ok(()),
        // Another process unpacked it first.
        Err(_) if dir.join("model_index.json").is_file() => std::fs::remove_dir_all(&temp),
        Err(error) => Err(error),
    }
}

fn cache_root() -> PathBuf {
    let from_env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    from_env("XDG_CACHE_HOME")
        .or_else(|| from_env("HOME").map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
}
