//! Training clips: random captions of the shapes world, rendered on the fly from `(seed, step)`,
//! so a resumed run sees exactly the clips an uninterrupted one would.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tenku_shapes::{Scene, SceneSpec, WorldConfig};

use crate::error::{Error, Result};

/// A batch of clips and their captions.
#[derive(Debug)]
pub struct ClipBatch {
    /// One caption per clip.
    pub captions: Vec<String>,
    /// Pixels `[batch, 3, frames, height, width]` in [-1, 1].
    pub pixels: Tensor<5>,
}

/// A ChaCha8 generator private to `(seed, stream, step, index)`: the four words are its key.
pub fn rng_for(seed: u64, stream: u64, step: usize, index: usize) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key.chunks_exact_mut(8).zip([seed, stream, step as u64, index as u64]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// Stream ids of the random choices a run makes, kept apart so that changing one kind of
/// choice does not shift the others.
pub mod streams {
    /// Which scenes are drawn.
    pub const SCENES: u64 = 1;
    /// Flow-matching noise, noise levels, tasks and caption dropout.
    pub const DENOISER: u64 = 3;
    /// Clips used for the latent statistics.
    pub const STATS: u64 = 4;
    /// Which pooled clips a denoiser step draws (`Recipe::denoiser_pool_steps`).
    pub const POOL: u64 = 5;
    /// Which scenes the decoder stage draws (`Recipe::decoder_stage`).
    pub const DECODER_SCENES: u64 = 6;
    /// The latent noise of the decoder stage (`Recipe::decoder_latent_noise`).
    pub const DECODER_NOISE: u64 = 7;
    /// Which of the decoder stage's clips are regenerated, how (`Recipe::decoder_regeneration`).
    pub const DECODER_REGENERATION: u64 = 8;
}

/// Captions drawn before giving up on a world too small for them.
const SCENE_ATTEMPTS: usize = 100;

/// A random placed scene. A caption the world cannot place (a pillar crossing in a clip too
/// short or narrow for it) is redrawn, so small worlds train on the captions they can show.
fn random_scene(rng: &mut ChaCha8Rng, world: &WorldConfig) -> Result<Scene> {
    let mut last_error = None;
    for _ in 0..SCENE_ATTEMPTS {
        let spec = SceneSpec::random(rng);
        match Scene::place(spec, *world, rng.random()) {
            Ok(scene) => return Ok(scene),
            Err(error) => last_error = Some(error.to_string()),
        }
    }
    Err(Error::World(last_error.unwrap_or_default()))
}

/// The part of each rendered clip a batch keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Frames, at most the world's.
    pub frames: usize,
    /// Square crop side in pixels, or `None` for whole frames.
    pub crop: Option<usize>,
    /// Share of crops placed over an object (its centre in the window's middle frame falls inside
    /// the crop) rather than anywhere.
    pub object_crops: f32,
}

impl Window {
    /// Whole clips of `world`.
    pub fn whole(world: &WorldConfig) -> Self {
        Self { frames: world.frames, crop: None, object_crops: 0.0 }
    }
}

/// The top-left corner of an `h`×`w` crop that holds the centre of a random object of `scene`
/// in `frame`, at a random place inside the crop (clamped to the frame).
fn crop_over_object(
    scene: &Scene,
    frame: usize,
    (h, w): (usize, usize),
    rng: &mut ChaCha8Rng,
) -> (usize, usize) {
    let object = rng.random_range(0..scene.spec.objects.len());
    let (x, y) = scene.centre(object, frame);
    let mut corner = |centre: f32, side: usize, limit: usize| {
        let offset = rng.random_range(0..side) as f32;
        (centre.floor() - offset).clamp(0.0, (limit - side) as f32) as usize
    };
    let top = corner(y, h, scene.config.height);
    (top, corner(x, w, scene.config.width))
}

/// Renders `batch` random clips for `step` of `stream`, each cut to `window` at a random
/// position in time and space (over an object for a `window.object_crops` share of crops).
pub fn clip_batch(
    (seed, stream, step): (u64, u64, usize),
    batch: usize,
    world: &WorldConfig,
    window: Window,
    device: &Device,
) -> Result<ClipBatch> {
    let frames = window.frames;
    let (h, w) =
        window.crop.map_or((world.height, world.width), |c| (c.min(world.height), c.min(world.width)));
    let mut captions = Vec::with_capacity(batch);
    let mut values = Vec::with_capacity(batch * 3 * frames * h * w);
    for index in 0..batch {
        let mut rng = rng_for(seed, stream, step, index);
        let scene = random_scene(&mut rng, world)?;
        captions.push(scene.spec.caption());
        let clip = scene.render();
        let start = rng.random_range(0..=world.frames - frames);
        // No draw for the share when it is zero, so older recipes see the clips they did.
        let over_object = window.object_crops > 0.0 && rng.random::<f32>() < window.object_crops;
        let (top, left) = if over_object {
            crop_over_object(&scene, start + frames / 2, (h, w), &mut rng)
        } else {
            (rng.random_range(0..=world.height - h), rng.random_range(0..=world.width - w))
        };
        // [F, H, W, 3] → [3, F, H, W], mapped from [0, 1] to [-1, 1].
        let window = clip.slice(ndarray::s![start..start + frames, top..top + h, left..left + w, ..]);
        values.extend(window.permuted_axes([3, 0, 1, 2]).iter().map(|v| v * 2.0 - 1.0));
    }
    let pixels = Tensor::from_data(TensorData::new(values, [batch, 3, frames, h, w]), device);
    Ok(ClipBatch { captions, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels of each clip in `batch` that differ from the clip's background.
    fn object_pixels(batch: &ClipBatch) -> Vec<usize> {
        let [clips, channels, frames, h, w] = batch.pixels.dims();
        let values = batch.pixels.to_data().try_into_vec::<f32>().expect("f32 pixels");
        let per_clip = channels * frames * h * w;
        (0..clips)
            .map(|clip| {
                let background = if batch.captions[clip].ends_with("white background") { 1.0 } else { -1.0 };
                let values = &values[clip * per_clip..(clip + 1) * per_clip];
                (0..frames * h * w)
                    .filter(|&p| (0..channels).any(|c| values[c * frames * h * w + p] != background))
                    .count()
            })
            .collect()
    }

    #[test]
    fn object_crops_hold_an_object_where_anywhere_crops_often_do_not() {
        let world = WorldConfig::default();
        let window = |object_crops| Window { frames: 5, crop: Some(16), object_crops };
        let batch = |object_crops| {
            clip_batch((3, streams::SCENES, 0), 24, &world, window(object_crops), &Device::flex()).unwrap()
        };
        let (anywhere, over_objects) = (object_pixels(&batch(0.0)), object_pixels(&batch(1.0)));
        assert!(over_objects.iter().all(|&n| n > 0), "a crop over an object shows none: {over_objects:?}");
        assert!(anywhere.iter().filter(|&&n| n == 0).count() > 4, "anywhere-crops: {anywhere:?}");
        let total = |counts: &[usize]| counts.iter().sum::<usize>();
        assert!(total(&over_objects) > 2 * total(&anywhere), "{over_objects:?} vs {anywhere:?}");
    }
}
