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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Frames, at most the world's.
    pub frames: usize,
    /// Square crop side in pixels, or `None` for whole frames.
    pub crop: Option<usize>,
}

impl Window {
    /// Whole clips of `world`.
    pub fn whole(world: &WorldConfig) -> Self {
        Self { frames: world.frames, crop: None }
    }
}

/// Renders `batch` random clips for `step` of `stream`, each cut to `window` at a random
/// position in time and space.
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
        let top = rng.random_range(0..=world.height - h);
        let left = rng.random_range(0..=world.width - w);
        // [F, H, W, 3] → [3, F, H, W], mapped from [0, 1] to [-1, 1].
        let window = clip.slice(ndarray::s![start..start + frames, top..top + h, left..left + w, ..]);
        values.extend(window.permuted_axes([3, 0, 1, 2]).iter().map(|v| v * 2.0 - 1.0));
    }
    let pixels = Tensor::from_data(TensorData::new(values, [batch, 3, frames, h, w]), device);
    Ok(ClipBatch { captions, pixels })
}
