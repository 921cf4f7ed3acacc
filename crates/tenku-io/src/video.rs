//! The in-memory video clip.

use ndarray::{Array4, ArrayView3, Axis};

use crate::error::Error;

/// Frame rate assumed when a file does not record one (PNG-frame directories without
/// `metadata.json`, safetensors files without an `fps` entry).
pub const DEFAULT_FPS: f32 = 16.0;

/// A video clip: RGB frames as `f32`, laid out `[frames, height, width, 3]`.
///
/// This is the layout of diffusers' `output_type="np"`. Values are nominally in `[0, 1]`;
/// writers clamp to that range before quantizing, and [`Video::new`] only requires them to be
/// finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    /// Pixel data, `[frames, height, width, 3]`, RGB, nominally in `[0, 1]`.
    pub frames: Array4<f32>,
    /// Frames per second; finite and `> 0`.
    pub fps: f32,
}

impl Video {
    /// Builds a video, checking it with [`Video::validate`].
    ///
    /// # Errors
    /// [`Error::InvalidVideo`] if the last axis is not 3, there are no frames, a spatial
    /// dimension is 0, `fps` is not finite and positive, or a value is not finite.
    pub fn new(frames: Array4<f32>, fps: f32) -> Result<Self, Error> {
        let video = Video { frames, fps };
        video.validate()?;
        Ok(video)
    }

    /// Checks the invariants [`Video::new`] enforces (the fields are public, so a `Video` can be
    /// built without them); every writer calls this first.
    ///
    /// # Errors
    /// [`Error::InvalidVideo`] describing the first problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Error::InvalidVideo { path: None, reason };
        let shape = self.frames.shape();
        if shape[3] != 3 {
            return Err(invalid(format!(
                "frames have shape {shape:?}, expected [frames, height, width, 3] (rgb)"
            )));
        }
        if shape[0] == 0 {
            return Err(invalid("no frames, expected at least one".to_owned()));
        }
        if shape[1] == 0 || shape[2] == 0 {
            return Err(invalid(format!(
                "frames are {}x{} pixels, expected a non-zero width and height",
                shape[2], shape[1]
            )));
        }
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return Err(invalid(format!("fps is {}, expected a finite number > 0", self.fps)));
        }
        if let Some((index, value)) =
            self.frames.indexed_iter().find(|(_, v)| !v.is_finite()).map(|(i, v)| (i, *v))
        {
            return Err(invalid(format!(
                "value {value} at [frame {}, y {}, x {}, channel {}], expected finite values",
                index.0, index.1, index.2, index.3
            )));
        }
        Ok(())
    }

    /// Number of frames.
    pub fn num_frames(&self) -> usize {
        self.frames.shape()[0]
    }

    /// Frame height in pixels.
    pub fn height(&self) -> usize {
        self.frames.shape()[1]
    }

    /// Frame width in pixels.
    pub fn width(&self) -> usize {
        self.frames.shape()[2]
    }

    /// Duration in seconds (`num_frames / fps`).
    pub fn duration_secs(&self) -> f64 {
        self.num_frames() as f64 / f64::from(self.fps)
    }

    /// A view of frame `i`, `[height, width, 3]`.
    ///
    /// # Panics
    /// If `i >= self.num_frames()`.
    pub fn frame(&self, i: usize) -> ArrayView3<'_, f32> {
        self.frames.index_axis(Axis(0), i)
    }

    /// Frame `i` as packed 8-bit RGB (`height * width * 3` bytes, row-major), each value
    /// converted as `(v.clamp(0, 1) * 255).round()`. Non-finite values map to 0.
    ///
    /// # Panics
    /// If `i >= self.num_frames()`.
    pub fn frame_rgb8(&self, i: usize) -> Vec<u8> {
        self.frame(i).iter().map(|&v| to_u8(v)).collect()
    }

    /// Builds a video from packed 8-bit RGB frames (each `height * width * 3` bytes).
    ///
    /// # Errors
    /// [`Error::InvalidVideo`] if a frame has the wrong length or the result is invalid.
    pub fn from_rgb8_frames(
        frames: &[Vec<u8>],
        width: usize,
        height: usize,
        fps: f32,
    ) -> Result<Self, Error> {
        let frame_len = width * height * 3;
        let mut data = Vec::with_capacity(frames.len() * frame_len);
        for (i, frame) in frames.iter().enumerate() {
            if frame.len() != frame_len {
                return Err(Error::InvalidVideo {
                    path: None,
                    reason: format!(
                        "frame {i} has {} bytes, expected {width}x{height}x3 = {frame_len}",
                        frame.len()
                    ),
                });
            }
            data.extend(frame.iter().map(|&b| f32::from(b) / 255.0));
        }
        let array = Array4::from_shape_vec((frames.len(), height, width, 3), data)
            .map_err(|e| Error::InvalidVideo { path: None, reason: e.to_string() })?;
        Video::new(array, fps)
    }
}

/// `(v.clamp(0, 1) * 255).round()` as a byte; NaN maps to 0.
pub(crate) fn to_u8(v: f32) -> u8 {
    if v.is_nan() {
        return 0;
    }
    // The clamp keeps the product in [0, 255], so the cast is exact.
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = Array4::<f32>::zeros((2, 4, 6, 3));
        let v = Video::new(ok.clone(), 8.0).unwrap();
        assert_eq!((v.num_frames(), v.height(), v.width()), (2, 4, 6));
        assert!(Video::new(Array4::zeros((2, 4, 6, 4)), 8.0).is_err());
        assert!(Video::new(Array4::zeros((0, 4, 6, 3)), 8.0).is_err());
        assert!(Video::new(Array4::zeros((1, 0, 6, 3)), 8.0).is_err());
        assert!(Video::new(ok.clone(), 0.0).is_err());
        assert!(Video::new(ok.clone(), f32::NAN).is_err());
        let mut bad = ok;
        bad[[1, 2, 3, 0]] = f32::INFINITY;
        let err = Video::new(bad, 8.0).unwrap_err().to_string();
        assert!(err.contains("frame 1, y 2, x 3"), "{err}");
    }

    #[test]
    fn rgb8_rounding() {
        let mut a = Array4::<f32>::zeros((1, 1, 2, 3));
        a[[0, 0, 0, 0]] = -0.5;
        a[[0, 0, 0, 1]] = 1.5;
        a[[0, 0, 0, 2]] = 0.5;
        a[[0, 0, 1, 0]] = 1.0 / 255.0 * 0.49;
        a[[0, 0, 1, 1]] = 1.0 / 255.0 * 0.51;
        a[[0, 0, 1, 2]] = 1.0;
        let v = Video::new(a, 1.0).unwrap();
        assert_eq!(v.frame_rgb8(0), vec![0, 255, 128, 0, 1, 255]);
    }
}
