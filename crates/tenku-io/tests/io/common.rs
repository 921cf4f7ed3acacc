//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array4;
use tenku_io::{Metadata, Video};

/// A synthetic clip: horizontal/vertical gradients, a slowly varying blue channel and a bright
/// square that moves 4 px right and 2 px down per frame.
pub fn clip(frames: usize, height: usize, width: usize, fps: f32) -> Video {
    let mut a = Array4::<f32>::zeros((frames, height, width, 3));
    for f in 0..frames {
        let (sx, sy) = (4 + 4 * f, 4 + 2 * f);
        for y in 0..height {
            for x in 0..width {
                let mut px = [
                    x as f32 / (width - 1).max(1) as f32,
                    y as f32 / (height - 1).max(1) as f32,
                    0.25 + 0.5 * (f as f32 / frames.max(2) as f32),
                ];
                if (sx..sx + 10).contains(&x) && (sy..sy + 10).contains(&y) {
                    px = [1.0, 0.9, 0.1];
                }
                for c in 0..3 {
                    a[[f, y, x, c]] = px[c];
                }
            }
        }
    }
    Video::new(a, fps).unwrap()
}

pub fn metadata() -> Metadata {
    Metadata {
        prompt: Some("a fox in snow, 雪の狐".into()),
        negative_prompt: Some("blurry".into()),
        seed: Some(1234567890123),
        sampler: Some("unipc".into()),
        steps: Some(25),
        extra: BTreeMap::from([
            ("model".to_owned(), "wan2.1-1.3b".to_owned()),
            ("cfg".to_owned(), "5.0".to_owned()),
        ]),
    }
}

/// `(mean, max)` absolute difference; panics if shapes differ.
pub fn errors(a: &Video, b: &Video) -> (f32, f32) {
    assert_eq!(a.frames.shape(), b.frames.shape(), "shape mismatch");
    let diffs: Vec<f32> = a.frames.iter().zip(b.frames.iter()).map(|(x, y)| (x - y).abs()).collect();
    let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
    let max = diffs.iter().copied().fold(0.0, f32::max);
    (mean, max)
}

/// Names of all entries in `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
