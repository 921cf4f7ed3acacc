//! Reading still images (conditioning inputs).

use std::path::Path;

use image::{DynamicImage, ImageReader};
use ndarray::Array3;

use crate::error::Error;

/// Reads a PNG or JPEG image (GIF also works: its first frame) as `[height, width, 3]` RGB `f32`
/// in `[0, 1]`.
///
/// Grayscale is expanded to RGB; an alpha channel is dropped (not composited onto a background).
/// 16-bit PNGs keep their precision. The format is detected from the file's content, falling
/// back to its extension.
///
/// # Errors
/// [`Error::Io`] if the file cannot be opened, [`Error::Image`] if it is not a decodable image.
pub fn read_image(path: &Path) -> Result<Array3<f32>, Error> {
    let img = decode(path)?;
    Ok(to_array(&img))
}

/// Decodes the image at `path`.
pub(crate) fn decode(path: &Path) -> Result<DynamicImage, Error> {
    let reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    reader.decode().map_err(|source| Error::Image { path: path.to_path_buf(), source })
}

/// `[height, width, 3]` RGB `f32` in `[0, 1]`.
pub(crate) fn to_array(img: &DynamicImage) -> Array3<f32> {
    let rgb = img.to_rgb32f();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    Array3::from_shape_vec((h, w, 3), rgb.into_raw())
        .expect("an RgbImage buffer holds exactly height * width * 3 values")
}
