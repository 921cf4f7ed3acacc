//! Video and image files for Tenku.
//!
//! A [`Video`] is `[frames, height, width, 3]` RGB `f32` in `[0, 1]` plus a frame rate (the
//! layout of diffusers' `output_type="np"`). [`write_video`] stores it, with generation
//! [`Metadata`], in the format named by the path's extension ([`VideoFormat::from_path`]):
//!
//! | format | path | fidelity | metadata |
//! |---|---|---|---|
//! | [MP4](VideoFormat::Mp4) (H.264) | `*.mp4` | lossy (mean abs error ≈ 0.01) | `udta` `©nam` = prompt, `desc` = JSON pairs |
//! | [GIF](VideoFormat::Gif) | `*.gif` | one 256-colour palette | comment extension, JSON pairs |
//! | [PNG frames](VideoFormat::PngFrames) | directory / no extension | 8-bit (±0.5/255) | `metadata.json` |
//! | [safetensors](VideoFormat::Safetensors) | `*.safetensors` | exact `f32` | `__metadata__` pairs |
//!
//! "JSON pairs" are the [`Metadata::to_pairs`] entries (`tenku:prompt`, `tenku:seed`, ...) plus
//! `fps`. Every write is atomic: output goes to a temporary sibling that is renamed into place
//! only when complete, so a failed or interrupted write leaves nothing at the target path (and an
//! existing file there untouched).
//!
//! [`read_video`] reads all four formats back (any H.264 MP4, any GIF, any directory of PNGs,
//! safetensors with `f32`/`f16`/`bf16`), [`read_image`] reads PNG/JPEG conditioning images, and
//! [`read_metadata`] reads only the metadata.
//!
//! ```no_run
//! use std::path::Path;
//! use ndarray::Array4;
//! use tenku_io::{Metadata, Video, read_video, write_video};
//!
//! # fn main() -> Result<(), tenku_io::Error> {
//! let frames = Array4::<f32>::from_elem((16, 320, 512, 3), 0.5);
//! let video = Video::new(frames, 16.0)?;
//! let meta = Metadata {
//!     prompt: Some("a red fox running through snow".into()),
//!     seed: Some(42),
//!     ..Metadata::default()
//! };
//! write_video(Path::new("fox.mp4"), &video, &meta)?;
//! write_video(Path::new("fox.safetensors"), &video, &meta)?; // exact copy
//! let back = read_video(Path::new("fox.mp4"))?;
//! assert_eq!(back.num_frames(), 16);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod atomic;
mod error;
mod format;
mod gif;
mod h264;
mod image;
mod metadata;
mod mp4;
mod png_frames;
mod raw;
mod video;

use std::path::Path;

pub use crate::error::Error;
pub use crate::format::VideoFormat;
pub use crate::image::read_image;
pub use crate::metadata::Metadata;
pub use crate::png_frames::{FORMAT_MARKER as PNG_FRAMES_MARKER, METADATA_FILE};
pub use crate::raw::{FPS_KEY, VIDEO_TENSOR};
pub use crate::video::{DEFAULT_FPS, Video};

/// Writes `video` with `meta` to `path` in the format chosen by [`VideoFormat::from_path`], and
/// returns that format.
///
/// - **MP4**: H.264 (OpenH264) in MP4. Odd widths/heights are padded by one replicated
///   row/column (the original size is recorded and [`read_video`] crops back). At most
///   3840×2160.
/// - **GIF**: loops forever; frame delay `round(100 / fps)` hundredths of a second, at least 2.
/// - **PNG frames**: a directory of `frame_00000.png`, ... (8-bit RGB) and `metadata.json`. An
///   existing directory is replaced only if it is empty or looks like a previous Tenku output
///   (`metadata.json` with the Tenku marker and only `frame_<n>.png` files besides).
/// - **safetensors**: tensor `video`, `f32`, `[frames, height, width, 3]`.
///
/// An existing file at `path` is replaced.
///
/// # Errors
/// [`Error::UnsupportedExtension`]; [`Error::InvalidVideo`] if `video` fails
/// [`Video::validate`]; [`Error::MissingParentDir`] if the directory does not exist;
/// [`Error::UnsupportedSize`]; [`Error::OutputExists`]; encoder and I/O errors. On error no
/// file is left at `path` (an existing one is left as it was) and no temporary files remain.
pub fn write_video(path: &Path, video: &Video, meta: &Metadata) -> Result<VideoFormat, Error> {
    let format = VideoFormat::from_path(path)?;
    write_video_as(path, video, meta, format)?;
    Ok(format)
}

/// Like [`write_video`], with the format given explicitly instead of taken from the path.
///
/// # Errors
/// As [`write_video`], except [`Error::UnsupportedExtension`].
pub fn write_video_as(path: &Path, video: &Video, meta: &Metadata, format: VideoFormat) -> Result<(), Error> {
    video.validate().map_err(|e| e.at(path))?;
    atomic::parent_dir(path)?;
    match format {
        VideoFormat::Mp4 => mp4::write(path, video, meta),
        VideoFormat::Gif => gif::write(path, video, meta),
        VideoFormat::PngFrames => png_frames::write(path, video, meta),
        VideoFormat::Safetensors => raw::write(path, video, meta),
    }
}

/// Reads a video written by [`write_video`] or another tool, choosing the format with
/// [`VideoFormat::from_path`].
///
/// - **MP4**: the first H.264 (`avc1`) track (any profile OpenH264 decodes, B-frames included),
///   converted to RGB with the matrix and range the stream declares (BT.601 below 720 lines and
///   BT.709 above if it declares none); fps from the Tenku metadata, else from the track timing.
/// - **GIF**: every frame composited onto the full canvas (transparent pixels become black);
///   fps from the Tenku comment, else `100 / delay` of the first frame (10 if the delay is 0).
/// - **PNG frames**: every `*.png` in the directory, sorted by file name, all the same size
///   (alpha dropped, grayscale expanded); fps from `metadata.json`, else [`DEFAULT_FPS`].
/// - **safetensors**: tensor `video` of shape `[frames, height, width, 3]`, dtype `f32`,
///   `f16` or `bf16`; fps from `__metadata__["fps"]`, else [`DEFAULT_FPS`].
///
/// # Errors
/// [`Error::UnsupportedExtension`], [`Error::Io`], and per format: [`Error::Malformed`],
/// [`Error::Mp4`], [`Error::H264`], [`Error::Image`], [`Error::Safetensors`],
/// [`Error::MissingTensor`], [`Error::TensorShape`], [`Error::TensorDtype`],
/// [`Error::InvalidMetadata`], [`Error::InvalidVideo`] (e.g. non-finite values). Bad input
/// files produce errors, not panics.
pub fn read_video(path: &Path) -> Result<Video, Error> {
    read_video_with_metadata(path).map(|(video, _)| video)
}

/// Like [`read_video`], also returning the stored [`Metadata`] (empty if the file has none).
///
/// # Errors
/// As [`read_video`].
pub fn read_video_with_metadata(path: &Path) -> Result<(Video, Metadata), Error> {
    match VideoFormat::from_path(path)? {
        VideoFormat::Mp4 => mp4::read(path),
        VideoFormat::Gif => gif::read(path),
        VideoFormat::PngFrames => png_frames::read(path),
        VideoFormat::Safetensors => raw::read(path),
    }
}

/// Reads only the [`Metadata`] of a video file (without decoding frames, except that MP4
/// samples are demuxed). Returns an empty [`Metadata`] for files that carry none.
///
/// # Errors
/// As [`read_video`], for the parts of the file that are read.
pub fn read_metadata(path: &Path) -> Result<Metadata, Error> {
    read_fps_and_metadata(path).map(|(_, meta)| meta)
}

/// The frame rate recorded in the file (if any) and its [`Metadata`], without decoding frames.
fn read_fps_and_metadata(path: &Path) -> Result<(Option<f32>, Metadata), Error> {
    match VideoFormat::from_path(path)? {
        VideoFormat::Mp4 => mp4::read_metadata(path),
        VideoFormat::Gif => gif::read_metadata(path),
        VideoFormat::PngFrames => {
            if !path.is_dir() {
                return Err(Error::malformed(
                    path,
                    "png frame directory",
                    "not a directory (expected a directory of .png frames)",
                ));
            }
            png_frames::read_manifest(path)
        }
        VideoFormat::Safetensors => raw::read_metadata(path),
    }
}
