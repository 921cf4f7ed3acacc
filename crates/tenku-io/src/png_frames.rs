//! PNG-frame directories: `frame_00000.png`, `frame_00001.png`, ... plus `metadata.json`.

use std::fs;
use std::path::{Path, PathBuf};

use image::{ExtendedColorType, ImageFormat};
use ndarray::{Array4, Axis};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::Error;
use crate::image::{decode, to_array};
use crate::metadata::Metadata;
use crate::video::{DEFAULT_FPS, Video};

/// The name of the JSON side file in a PNG-frame directory.
pub const METADATA_FILE: &str = "metadata.json";
/// The `format` marker in `metadata.json` that identifies a Tenku PNG-frame directory.
pub const FORMAT_MARKER: &str = "tenku-png-frames";

/// Contents of `metadata.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    fps: f32,
    frames: usize,
    width: usize,
    height: usize,
    #[serde(default)]
    metadata: Metadata,
}

/// `frame_00000.png`, with at least 5 digits and enough for `count` frames so names sort.
fn frame_name(index: usize, count: usize) -> String {
    let digits = count.saturating_sub(1).to_string().len().max(5);
    format!("frame_{index:0digits$}.png")
}

fn is_frame_name(name: &str) -> bool {
    name.strip_prefix("frame_")
        .and_then(|s| s.strip_suffix(".png"))
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

pub(crate) fn write(path: &Path, video: &Video, meta: &Metadata) -> Result<(), Error> {
    let (w, h) = (video.width(), video.height());
    let (Ok(w32), Ok(h32)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(Error::UnsupportedSize {
            path: path.to_path_buf(),
            width: w,
            height: h,
            reason: "png dimensions are limited to 2^32 - 1".to_owned(),
        });
    };
    let manifest = Manifest {
        format: FORMAT_MARKER.to_owned(),
        version: 1,
        fps: video.fps,
        frames: video.num_frames(),
        width: w,
        height: h,
        metadata: meta.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|source| Error::Json { path: path.join(METADATA_FILE), source })?;
    atomic::write_dir(path, previous_output_check, |tmp| {
        let n = video.num_frames();
        for i in 0..n {
            let name = frame_name(i, n);
            image::save_buffer_with_format(
                tmp.join(&name),
                &video.frame_rgb8(i),
                w32,
                h32,
                ExtendedColorType::Rgb8,
                ImageFormat::Png,
            )
            .map_err(|source| Error::Image { path: path.join(&name), source })?;
        }
        fs::write(tmp.join(METADATA_FILE), &json).map_err(|e| Error::io(&path.join(METADATA_FILE), e))
    })
}

/// Accepts an existing `path` for replacement only if it is an empty directory or looks like a
/// previous Tenku output: a `metadata.json` with the Tenku marker and otherwise only
/// `frame_<digits>.png` files.
fn previous_output_check(path: &Path) -> Result<(), String> {
    const NOT_OURS: &str = "it is a non-empty directory that is not a tenku png-frame output \
                            (expected only frame_<n>.png files and a tenku metadata.json)";
    if !path.is_dir() {
        return Err("it exists and is not a directory".to_owned());
    }
    let entries = fs::read_dir(path).map_err(|e| format!("cannot list it: {e}"))?;
    let mut saw_manifest = false;
    let mut any = false;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list it: {e}"))?;
        any = true;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file {
            return Err(NOT_OURS.to_owned());
        }
        if name == METADATA_FILE {
            saw_manifest = read_manifest_value(&entry.path())
                .ok()
                .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(|f| f == FORMAT_MARKER))
                .unwrap_or(false);
            if !saw_manifest {
                return Err(NOT_OURS.to_owned());
            }
        } else if !is_frame_name(&name) {
            return Err(NOT_OURS.to_owned());
        }
    }
    if any && !saw_manifest {
        return Err(NOT_OURS.to_owned());
    }
    Ok(())
}

fn read_manifest_value(file: &Path) -> Result<serde_json::Value, Error> {
    let bytes = fs::read(file).map_err(|e| Error::io(file, e))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: file.to_path_buf(), source })
}

/// Reads `fps` and `metadata` from `dir/metadata.json`, if present. Files written by other tools
/// are accepted as long as `fps` (if present) is a positive number and `metadata` (if present)
/// matches [`Metadata`].
pub(crate) fn read_manifest(dir: &Path) -> Result<(Option<f32>, Metadata), Error> {
    let file = dir.join(METADATA_FILE);
    if !file.is_file() {
        return Ok((None, Metadata::default()));
    }
    let value = read_manifest_value(&file)?;
    let fps = match value.get("fps") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(f) if f.is_finite() && f > 0.0 && f <= f64::from(f32::MAX) => Some(f as f32),
            _ => {
                return Err(Error::InvalidMetadata {
                    path: Some(file),
                    key: "fps".to_owned(),
                    value: v.to_string(),
                    expected: "a finite number > 0",
                });
            }
        },
    };
    let meta = match value.get("metadata") {
        None | Some(serde_json::Value::Null) => Metadata::default(),
        Some(v) => Metadata::deserialize(v).map_err(|source| Error::Json { path: file.clone(), source })?,
    };
    Ok((fps, meta))
}

/// The `.png` files of `dir` (any letter case), sorted by file name.
fn list_frames(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let is_png = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
        if is_png && p.is_file() {
            files.push(p);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Reads every `.png` in `dir` in name order; fps from `metadata.json` or [`DEFAULT_FPS`].
pub(crate) fn read(dir: &Path) -> Result<(Video, Metadata), Error> {
    if !dir.is_dir() {
        return Err(Error::malformed(
            dir,
            "png frame directory",
            "not a directory (expected a directory of .png frames)",
        ));
    }
    let files = list_frames(dir)?;
    if files.is_empty() {
        return Err(Error::malformed(dir, "png frame directory", "it contains no .png files"));
    }
    let (fps, meta) = read_manifest(dir)?;
    let mut frames: Option<Array4<f32>> = None;
    for (i, file) in files.iter().enumerate() {
        let frame = to_array(&decode(file)?);
        let frames = frames.get_or_insert_with(|| {
            let (h, w, _) = frame.dim();
            Array4::zeros((files.len(), h, w, 3))
        });
        let (_, h, w, _) = frames.dim();
        if frame.dim() != (h, w, 3) {
            return Err(Error::malformed(
                file,
                "png frame",
                format!(
                    "it is {}x{}, expected {w}x{h} like {}",
                    frame.dim().1,
                    frame.dim().0,
                    files[0].display()
                ),
            ));
        }
        frames.index_axis_mut(Axis(0), i).assign(&frame);
    }
    let frames = frames.expect("at least one frame was read");
    let video = Video::new(frames, fps.unwrap_or(DEFAULT_FPS)).map_err(|e| e.at(dir))?;
    Ok((video, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort() {
        assert_eq!(frame_name(3, 10), "frame_00003.png");
        assert_eq!(frame_name(3, 100_001), "frame_000003.png");
        assert!(is_frame_name("frame_00003.png"));
        assert!(!is_frame_name("frame_.png"));
        assert!(!is_frame_name("notes.txt"));
    }
}
