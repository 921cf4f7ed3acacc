//! Animated GIF.
//!
//! All frames share one 256-colour global palette, trained with NeuQuant on pixels from the whole
//! clip; pixels map to their nearest palette entry without dithering. Delays are stored in hundredths of a second:
//! `delay = round(100 / fps)`, clamped to `2..=65535` (browsers replace 0 and 1 by 10, so faster
//! clips play at 50 fps). The clip loops forever. A comment extension holds a JSON object (ASCII
//! only) with the [`Metadata::to_pairs`] entries and the exact `fps`, so Tenku reads back the
//! frame rate it was given rather than the rounded delay.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use color_quant::NeuQuant;
use image::AnimationDecoder;
use image::codecs::gif::GifDecoder;
use ndarray::Array4;

use crate::atomic;
use crate::error::Error;
use crate::metadata::{Metadata, parse_fps, to_ascii_json};
use crate::video::Video;

/// Palette training uses at least this many pixels (small clips are repeated)...
const TRAIN_MIN: usize = 200_000;
/// ... and at most about this many (large clips are subsampled).
const TRAIN_MAX: usize = 1_000_000;
/// Frame rate assumed for a GIF whose first frame has delay 0 (what browsers play).
const ZERO_DELAY_FPS: f32 = 10.0;
const COMMENT_LABEL: u8 = 0xFE;

/// The GIF frame delay, in hundredths of a second, for `fps`.
pub(crate) fn delay_centis(fps: f32) -> u16 {
    (100.0 / fps).round().clamp(2.0, 65535.0) as u16
}

pub(crate) fn write(path: &Path, video: &Video, meta: &Metadata) -> Result<(), Error> {
    let (w, h) = (video.width(), video.height());
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(Error::UnsupportedSize {
            path: path.to_path_buf(),
            width: w,
            height: h,
            reason: "gif dimensions are limited to 65535".to_owned(),
        });
    };
    let mut pairs = meta.to_pairs();
    pairs.insert("fps".to_owned(), video.fps.to_string());
    let comment = to_ascii_json(&serde_json::json!(pairs));
    let delay = delay_centis(video.fps);
    let gif_err = |source| Error::GifEncode { path: path.to_path_buf(), source };

    let frames: Vec<Vec<u8>> = (0..video.num_frames()).map(|i| video.frame_rgb8(i)).collect();
    let quant = train_palette(&frames);
    let palette = quant.color_map_rgb();

    atomic::write_file(path, |out| {
        let mut encoder = gif::Encoder::new(out, w16, h16, &palette).map_err(gif_err)?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(gif_err)?;
        encoder
            .write_raw_extension(gif::AnyExtension(COMMENT_LABEL), &[comment.as_bytes()])
            .map_err(gif_err)?;
        for rgb in &frames {
            let indices: Vec<u8> = rgb
                .chunks_exact(3)
                // The palette has 256 entries, so every index fits in a byte.
                .map(|p| quant.index_of(&[p[0], p[1], p[2], 255]) as u8)
                .collect();
            let frame = gif::Frame {
                width: w16,
                height: h16,
                delay,
                buffer: indices.into(),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).map_err(gif_err)?;
        }
        encoder.into_inner().map_err(gif_err)?;
        Ok(())
    })
}

/// Trains one 256-colour NeuQuant palette on pixels from all frames (a global palette avoids
/// colour flicker between frames). Large clips are subsampled to about [`TRAIN_MAX`] pixels;
/// small ones are repeated up to [`TRAIN_MIN`] so the network sees enough samples to converge.
fn train_palette(frames: &[Vec<u8>]) -> NeuQuant {
    let total: usize = frames.iter().map(|f| f.len() / 3).sum();
    let stride = total.div_ceil(TRAIN_MAX).max(1);
    let mut sample = Vec::with_capacity(4 * total.div_ceil(stride));
    for (k, p) in frames.iter().flat_map(|f| f.chunks_exact(3)).enumerate() {
        if k % stride == 0 {
            sample.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
    }
    let n = (sample.len() / 4).max(1);
    if n < TRAIN_MIN {
        sample = sample.repeat(TRAIN_MIN.div_ceil(n));
    }
    NeuQuant::new(1, 256, &sample)
}

/// Reads all frames composited to full RGB frames (transparent pixels become black).
pub(crate) fn read(path: &Path) -> Result<(Video, Metadata), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let image_err = |source| Error::Image { path: path.to_path_buf(), source };
    let decoder = GifDecoder::new(Cursor::new(&bytes)).map_err(image_err)?;
    let mut rgb: Vec<f32> = Vec::new();
    let mut size = None;
    let mut first_delay_ms = None;
    let mut count = 0usize;
    for frame in decoder.into_frames() {
        let frame = frame.map_err(image_err)?;
        if first_delay_ms.is_none() {
            let (num, den) = frame.delay().numer_denom_ms();
            first_delay_ms = Some(f64::from(num) / f64::from(den.max(1)));
        }
        let buf = frame.into_buffer();
        let dims = buf.dimensions();
        if *size.get_or_insert(dims) != dims {
            return Err(Error::malformed(
                path,
                "gif",
                format!("frame {count} is {}x{}, expected the canvas size", dims.0, dims.1),
            ));
        }
        rgb.extend(buf.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2]]).map(|b| f32::from(b) / 255.0));
        count += 1;
    }
    let Some((w, h)) = size else {
        return Err(Error::malformed(path, "gif", "it has no frames"));
    };
    let frames = Array4::from_shape_vec((count, h as usize, w as usize, 3), rgb)
        .map_err(|e| Error::malformed(path, "gif", e.to_string()))?;

    let (fps, meta) = parse_comment(&bytes).map_err(|e| e.at(path))?;
    let fps = fps.unwrap_or_else(|| match first_delay_ms {
        Some(ms) if ms > 0.0 => (1000.0 / ms) as f32,
        _ => ZERO_DELAY_FPS,
    });
    let video = Video::new(frames, fps).map_err(|e| e.at(path))?;
    Ok((video, meta))
}

/// The `fps` and metadata recorded in the file's first JSON comment, if any.
pub(crate) fn read_metadata(path: &Path) -> Result<(Option<f32>, Metadata), Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !bytes.starts_with(b"GIF87a") && !bytes.starts_with(b"GIF89a") {
        return Err(Error::malformed(path, "gif", "missing the GIF87a/GIF89a signature"));
    }
    parse_comment(&bytes).map_err(|e| e.at(path))
}

fn parse_comment(bytes: &[u8]) -> Result<(Option<f32>, Metadata), Error> {
    for comment in comments(bytes) {
        let Ok(pairs) = serde_json::from_slice::<BTreeMap<String, String>>(&comment) else {
            continue;
        };
        let fps = pairs.get("fps").map(|v| parse_fps(v)).transpose()?;
        return Ok((fps, Metadata::from_pairs(&pairs)?));
    }
    Ok((None, Metadata::default()))
}

/// The payloads of all comment extensions, found by walking the GIF block structure. Stops
/// quietly at the trailer, at anything unexpected, or at truncation.
fn comments(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(&packed) = bytes.get(10) else {
        return out;
    };
    let mut pos = 13;
    if packed & 0x80 != 0 {
        pos += 3 << ((packed & 7) + 1);
    }
    // Reads sub-blocks from `pos`; returns the data and the position after the terminator.
    let sub_blocks = |mut pos: usize| -> Option<(Vec<u8>, usize)> {
        let mut data = Vec::new();
        loop {
            let n = *bytes.get(pos)? as usize;
            pos += 1;
            if n == 0 {
                return Some((data, pos));
            }
            data.extend_from_slice(bytes.get(pos..pos + n)?);
            pos += n;
        }
    };
    loop {
        match bytes.get(pos) {
            Some(0x21) => {
                let Some(&label) = bytes.get(pos + 1) else {
                    break;
                };
                let Some((data, next)) = sub_blocks(pos + 2) else {
                    break;
                };
                if label == COMMENT_LABEL {
                    out.push(data);
                }
                pos = next;
            }
            Some(0x2C) => {
                let Some(&packed) = bytes.get(pos + 9) else {
                    break;
                };
                pos += 10;
                if packed & 0x80 != 0 {
                    pos += 3 << ((packed & 7) + 1);
                }
                pos += 1; // LZW minimum code size
                let Some((_, next)) = sub_blocks(pos) else {
                    break;
                };
                pos = next;
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays() {
        assert_eq!(delay_centis(10.0), 10);
        assert_eq!(delay_centis(16.0), 6);
        assert_eq!(delay_centis(24.0), 4);
        assert_eq!(delay_centis(100.0), 2);
        assert_eq!(delay_centis(0.001), 65535);
    }

    #[test]
    fn comment_walk_tolerates_garbage() {
        assert!(comments(b"GIF89a").is_empty());
        assert!(comments(&[0xff; 40]).is_empty());
    }
}
