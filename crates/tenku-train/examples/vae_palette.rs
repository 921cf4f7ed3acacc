//! Prints how a VAE reproduces each palette colour: a flat 17×64×64 clip of the colour, and a
//! 24-pixel square of it on black, encoded and decoded; the RGB shown is the mean of the centre
//! 8×8 pixels over frames 8–16 (later latent frames, clear of the first frame's special case).
//! A VAE that keeps only one hue axis shows it at once (green decoded near black, say).
//!
//! Run: `cargo run --release -p tenku-train --example vae_palette -- MODEL_DIR/vae`

use std::path::PathBuf;

use burn::tensor::Device;
use ndarray::{Array4, s};
use tenku_core::VideoAutoencoder;
use tenku_pipeline::{frames_to_pixels, pixels_to_frames};
use tenku_shapes::Colour;
use tenku_vae::WanVae;

const FRAMES: usize = 17;
const SIDE: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: vae_palette VAE_DIR")?);
    let device = Device::default();
    let vae = WanVae::load(&dir, &device)?;
    println!("{:8} {:>15} {:>15} {:>15}", "colour", "given", "flat", "square");
    for colour in Colour::ALL {
        let rgb = colour.rgb().map(|v| f32::from(v) / 255.0);
        let flat = clip(rgb, 0..SIDE);
        let square = clip(rgb, 20..44);
        let [flat, square] = [flat, square].map(|clip| show(reproduce(&vae, &clip, &device)));
        println!("{:8} {:>15} {flat:>15} {square:>15}", colour.word(), show(rgb));
    }
    Ok(())
}

/// A black clip with `rgb` on the square `span × span` (the whole frame for `0..SIDE`).
fn clip(rgb: [f32; 3], span: std::ops::Range<usize>) -> Array4<f32> {
    let mut frames = Array4::zeros((FRAMES, SIDE, SIDE, 3));
    for (channel, value) in rgb.into_iter().enumerate() {
        frames.slice_mut(s![.., span.clone(), span.clone(), channel]).fill(value);
    }
    frames
}

/// The mean RGB of the reconstruction's centre over the later frames.
fn reproduce(vae: &WanVae, frames: &Array4<f32>, device: &Device) -> [f32; 3] {
    let decoded = pixels_to_frames(vae.decode(vae.encode(frames_to_pixels(frames.view(), device))));
    let centre = decoded.slice(s![8.., 28..36, 28..36, ..]);
    let n = centre.len() as f32 / 3.0;
    std::array::from_fn(|c| centre.slice(s![.., .., .., c]).sum() / n)
}

/// An RGB triple in [0, 1] as 0–255 integers, aligned for the table.
fn show(rgb: [f32; 3]) -> String {
    let [r, g, b] = rgb.map(|v| (v * 255.0).round() as i32);
    format!("{r:>3},{g:>3},{b:>3}")
}
