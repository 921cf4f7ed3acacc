//! The error type of `tenku-core`.

use std::path::PathBuf;

/// Everything that can go wrong while reading weights, model directories or configs.
///
/// Every variant names the file, tensor key or value at fault and what was expected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A path that should exist does not.
    #[error("{what} not found: {path}")]
    NotFound {
        /// What was looked for ("model directory", "shard", ...).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A JSON file did not parse or did not have the expected fields.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The JSON file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A safetensors file is malformed or truncated.
    #[error("invalid safetensors file {path}: {reason}")]
    Safetensors {
        /// The safetensors file.
        path: PathBuf,
        /// What the parser reported.
        reason: String,
    },
    /// A tensor key was asked for but no file holds it.
    #[error("tensor `{key}` not found in {path}")]
    MissingTensor {
        /// The tensor key.
        key: String,
        /// The file or directory searched.
        path: PathBuf,
    },
    /// A tensor has a dtype that cannot be converted to a float tensor.
    #[error("tensor `{key}` in {path} has dtype {found}; expected F32, F16, BF16 or F64")]
    UnsupportedDtype {
        /// The tensor key.
        key: String,
        /// The file holding it.
        path: PathBuf,
        /// The dtype found.
        found: String,
    },
    /// A tensor has another shape or rank than the module or caller expects.
    #[error("tensor `{key}` in {path} has shape {found:?}; expected {expected:?}")]
    ShapeMismatch {
        /// The tensor key.
        key: String,
        /// The file holding it.
        path: PathBuf,
        /// The expected shape.
        expected: Vec<usize>,
        /// The shape found in the file.
        found: Vec<usize>,
    },
    /// The module and the checkpoint disagree on which tensors exist.
    #[error("weights in {path} do not match the module: {}", describe_key_mismatch(missing, unexpected))]
    KeyMismatch {
        /// The checkpoint (file or directory).
        path: PathBuf,
        /// Keys the module needs that no file holds.
        missing: Vec<String>,
        /// Keys in the files that no module parameter takes.
        unexpected: Vec<String>,
    },
    /// Applying a tensor to a module parameter failed for another reason.
    #[error("cannot load weights from {path}: {reason}")]
    Load {
        /// The checkpoint file.
        path: PathBuf,
        /// What went wrong, naming the key.
        reason: String,
    },
    /// A model directory lacks a component the caller needs.
    #[error("model directory {path} has no `{component}` component (model_index.json lists: {listed})")]
    MissingComponent {
        /// The model directory.
        path: PathBuf,
        /// The component asked for.
        component: String,
        /// The components the index does list.
        listed: String,
    },
    /// A component's class is not one Tenku implements.
    #[error("{component} class `{class}` in {path} is not supported; supported: {supported}")]
    UnsupportedClass {
        /// The component name.
        component: String,
        /// The class found.
        class: String,
        /// The file naming it.
        path: PathBuf,
        /// The classes that are supported.
        supported: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config {path}: {reason}")]
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
}

fn describe_key_mismatch(missing: &[String], unexpected: &[String]) -> String {
    const SHOWN: usize = 8;
    let list = |keys: &[String]| {
        let mut s = keys.iter().take(SHOWN).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        if keys.len() > SHOWN {
            s.push_str(&format!(" and {} more", keys.len() - SHOWN));
        }
        s
    };
    match (missing.is_empty(), unexpected.is_empty()) {
        (false, false) => format!("missing {}; unexpected {}", list(missing), list(unexpected)),
        (false, true) => format!("missing {}", list(missing)),
        (true, false) => format!("unexpected {}", list(unexpected)),
        (true, true) => "no mismatch".to_owned(),
    }
}

/// An error's message followed by its sources', joined by `: ` where a source's text is not
/// already part of the message: the one line a user sees.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
