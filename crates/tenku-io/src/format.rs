//! Choosing a file format from a path.

use std::fmt;
use std::path::Path;

use crate::error::Error;

/// The video file formats this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VideoFormat {
    /// H.264 in an MP4 container (`.mp4`). Lossy.
    Mp4,
    /// Animated GIF (`.gif`), looping forever. Lossy (256-colour palette per frame).
    Gif,
    /// A directory of `frame_00000.png`, ... plus `metadata.json`. 8-bit.
    PngFrames,
    /// A safetensors file (`.safetensors`) holding the raw `f32` tensor `video`. Exact.
    Safetensors,
}

impl VideoFormat {
    /// Picks the format for `path`:
    ///
    /// - an existing directory, or a path without an extension → [`VideoFormat::PngFrames`];
    /// - `.mp4`, `.gif`, `.safetensors` (any letter case) → that format;
    /// - any other extension → [`Error::UnsupportedExtension`].
    ///
    /// # Errors
    /// [`Error::UnsupportedExtension`] naming the extension and the accepted ones.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        if path.is_dir() {
            return Ok(VideoFormat::PngFrames);
        }
        let Some(ext) = path.extension() else {
            return Ok(VideoFormat::PngFrames);
        };
        let ext = ext.to_string_lossy();
        match ext.to_ascii_lowercase().as_str() {
            "mp4" => Ok(VideoFormat::Mp4),
            "gif" => Ok(VideoFormat::Gif),
            "safetensors" => Ok(VideoFormat::Safetensors),
            _ => Err(Error::UnsupportedExtension { path: path.to_path_buf(), extension: ext.into_owned() }),
        }
    }

    /// The file extension (without dot) this format is written with; `None` for PNG frames,
    /// which are a directory.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            VideoFormat::Mp4 => Some("mp4"),
            VideoFormat::Gif => Some("gif"),
            VideoFormat::PngFrames => None,
            VideoFormat::Safetensors => Some("safetensors"),
        }
    }

    /// Whether decoding returns exactly the frames that were written (only safetensors).
    pub fn is_lossless(self) -> bool {
        matches!(self, VideoFormat::Safetensors)
    }
}

impl fmt::Display for VideoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Gif => "gif",
            VideoFormat::PngFrames => "png frames",
            VideoFormat::Safetensors => "safetensors",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension() {
        let f = |p: &str| VideoFormat::from_path(Path::new(p));
        assert_eq!(f("a/b.mp4").unwrap(), VideoFormat::Mp4);
        assert_eq!(f("b.MP4").unwrap(), VideoFormat::Mp4);
        assert_eq!(f("b.gif").unwrap(), VideoFormat::Gif);
        assert_eq!(f("b.safetensors").unwrap(), VideoFormat::Safetensors);
        assert_eq!(f("frames").unwrap(), VideoFormat::PngFrames);
        assert_eq!(f("out/frames/").unwrap(), VideoFormat::PngFrames);
        let err = f("clip.avi").unwrap_err();
        assert!(matches!(err, Error::UnsupportedExtension { ref extension, .. } if extension == "avi"));
        let msg = err.to_string();
        assert!(msg.contains("clip.avi") && msg.contains(".mp4"), "{msg}");
    }

    #[test]
    fn existing_dir_with_extension_is_frames() {
        let dir = tempfile::Builder::new().suffix(".mp4").tempdir().unwrap();
        assert_eq!(VideoFormat::from_path(dir.path()).unwrap(), VideoFormat::PngFrames);
    }
}
