//! The crate's error type.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can go wrong reading or writing Tenku video and image files.
///
/// Messages are lowercase, name the file (and tensor key or metadata key where one is involved)
/// and say what was expected. Underlying library errors are chained as [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error while reading or writing `path`.
    #[error("i/o error on {}", .path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The directory a file should be written into does not exist.
    #[error(
        "cannot write {}: directory {} does not exist",
        .path.display(),
        .parent.display()
    )]
    MissingParentDir {
        /// The output path that was asked for.
        path: PathBuf,
        /// Its (missing) parent directory.
        parent: PathBuf,
    },

    /// The path's extension does not name a supported video format.
    #[error(
        "unsupported extension `.{extension}` in {}: expected .mp4, .gif, .safetensors, \
         or no extension (or an existing directory) for png frames",
        .path.display()
    )]
    UnsupportedExtension {
        /// The offending path.
        path: PathBuf,
        /// Its extension, without the dot.
        extension: String,
    },

    /// The video is not valid (shape, frame count, fps, or non-finite values).
    #[error("invalid video{}: {reason}", in_path(.path.as_deref()))]
    InvalidVideo {
        /// The file being written or read, if any.
        path: Option<PathBuf>,
        /// What was wrong, and what was expected.
        reason: String,
    },

    /// The video's width/height cannot be stored in this format.
    #[error(
        "cannot store a {width}x{height} video in {}: {reason}",
        .path.display()
    )]
    UnsupportedSize {
        /// The output file.
        path: PathBuf,
        /// Video width in pixels.
        width: usize,
        /// Video height in pixels.
        height: usize,
        /// The format's limit.
        reason: String,
    },

    /// The output exists and is not something this crate will replace.
    #[error("refusing to overwrite {}: {reason}", .path.display())]
    OutputExists {
        /// The existing output path.
        path: PathBuf,
        /// Why it was not replaced.
        reason: String,
    },

    /// A file's content is malformed or not what was expected (detected by this crate).
    #[error("malformed {what} {}: {reason}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The kind of file ("mp4", "gif", "png frame directory", ...).
        what: &'static str,
        /// What was wrong, and what was expected.
        reason: String,
    },

    /// A metadata entry had a value that could not be parsed.
    #[error(
        "invalid metadata{}: key `{key}` has value {value:?}, expected {expected}",
        in_path(.path.as_deref())
    )]
    InvalidMetadata {
        /// The file the metadata came from, if any.
        path: Option<PathBuf>,
        /// The metadata key.
        key: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },

    /// An image could not be decoded or encoded.
    #[error("image error in {}", .path.display())]
    Image {
        /// The image file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: image::ImageError,
    },

    /// The GIF encoder failed.
    #[error("gif encoding failed for {}", .path.display())]
    GifEncode {
        /// The output file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: gif::EncodingError,
    },

    /// The H.264 encoder or decoder (OpenH264) failed.
    #[error("h.264 {action} failed for {}", .path.display())]
    H264 {
        /// The file being written or read.
        path: PathBuf,
        /// `"encoding"` or `"decoding"`.
        action: &'static str,
        /// The underlying error (boxed: it carries a backtrace).
        #[source]
        source: Box<openh264::Error>,
    },

    /// The MP4 muxer or demuxer failed.
    #[error("mp4 container error in {}", .path.display())]
    Mp4 {
        /// The file being written or read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: mp4::Error,
    },

    /// A safetensors file could not be parsed or serialized.
    #[error("safetensors error in {}", .path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: safetensors::SafeTensorError,
    },

    /// A safetensors file lacks the expected tensor.
    #[error(
        "{} has no tensor `{key}` (found: {})",
        .path.display(),
        list(.found)
    )]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name that was looked for.
        key: String,
        /// The tensor names that are present.
        found: Vec<String>,
    },

    /// A tensor has the wrong shape.
    #[error(
        "tensor `{key}` in {} has shape {found:?}, expected {expected}",
        .path.display()
    )]
    TensorShape {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The shape found.
        found: Vec<usize>,
        /// The shape that was expected.
        expected: &'static str,
    },

    /// A tensor has an unsupported dtype.
    #[error(
        "tensor `{key}` in {} has dtype {found}, expected {expected}",
        .path.display()
    )]
    TensorDtype {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// The dtype found.
        found: String,
        /// The dtypes accepted.
        expected: &'static str,
    },

    /// JSON (metadata) could not be parsed or written.
    #[error("invalid json in {}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn malformed(path: &Path, what: &'static str, reason: impl Into<String>) -> Self {
        Error::Malformed { path: path.to_path_buf(), what, reason: reason.into() }
    }

    /// Attaches `path` to an error that was raised without one (video validation, metadata
    /// parsing); other errors are returned unchanged.
    pub(crate) fn at(self, path: &Path) -> Self {
        match self {
            Error::InvalidVideo { path: None, reason } => {
                Error::InvalidVideo { path: Some(path.to_path_buf()), reason }
            }
            Error::InvalidMetadata { path: None, key, value, expected } => {
                Error::InvalidMetadata { path: Some(path.to_path_buf()), key, value, expected }
            }
            other => other,
        }
    }
}

/// `" in <path>"`, or nothing.
fn in_path(path: Option<&Path>) -> InPath<'_> {
    InPath(path)
}

struct InPath<'a>(Option<&'a Path>);

impl fmt::Display for InPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, " in {}", p.display()),
            None => Ok(()),
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "no tensors".to_owned()
    } else {
        items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
    }
}
