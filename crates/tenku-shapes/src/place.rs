//! Seeded placement of a spec's objects by rejection sampling.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::PlaceError;
use crate::scene::{BoundingBox, Scene, SceneSpec, WorldConfig, velocity};

/// How many random placements [`Scene::place`] tries before giving up.
pub const MAX_PLACEMENT_ATTEMPTS: usize = 10_000;

/// Minimum gap in pixels between an object's bounding box and the frame edge, between two objects'
/// bounding boxes, and between a "fully visible" object and the pillar.
pub const MIN_GAP: f32 = 1.0;

impl Scene {
    /// Places the spec's objects by seeded rejection sampling (`ChaCha8Rng::seed_from_u64(seed)`).
    ///
    /// Rules, at every frame: each bounding box stays inside the frame with a [`MIN_GAP`] margin, and
    /// two boxes are at least [`MIN_GAP`] apart. With a pillar, the object is fully visible and at
    /// least [`MIN_GAP`] from the pillar on one side in the first frame and on the other side in the
    /// last frame, and (unless it is wider than the pillar) entirely behind it in some frame.
    ///
    /// Errors if the spec is invalid, the world is empty, or no placement was found after
    /// [`MAX_PLACEMENT_ATTEMPTS`] tries (e.g. the frame is too small for the objects' paths).
    pub fn place(spec: SceneSpec, config: WorldConfig, seed: u64) -> Result<Scene, PlaceError> {
        spec.validate()?;
        if config.frames == 0 || config.width == 0 || config.height == 0 {
            return Err(PlaceError::EmptyWorld {
                frames: config.frames,
                height: config.height,
                width: config.width,
            });
        }
        let ranges: Option<Vec<_>> =
            (0..spec.objects.len()).map(|index| start_ranges(&spec, index, &config)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut scene = Scene { starts: Vec::new(), spec, config };
        let mut attempts = 0;
        if let Some(ranges) = ranges {
            while attempts < MAX_PLACEMENT_ATTEMPTS {
                attempts += 1;
                scene.starts =
                    ranges.iter().map(|&(x, y)| (sample(&mut rng, x), sample(&mut rng, y))).collect();
                if placement_rules_hold(&scene) {
                    return Ok(scene);
                }
            }
        }
        Err(PlaceError::NoRoom {
            caption: scene.spec.caption(),
            attempts,
            frames: config.frames,
            height: config.height,
            width: config.width,
        })
    }
}

/// The ranges of start centres `(x, y)` that keep object `index`'s whole path inside the frame,
/// or `None` if there are none.
fn start_ranges(spec: &SceneSpec, index: usize, config: &WorldConfig) -> Option<((f32, f32), (f32, f32))> {
    let size = spec.objects[index].size.pixels();
    let (dx, dy) = velocity(spec, index);
    let last = config.frames.saturating_sub(1) as f32;
    let axis = |extent: usize, displacement: f32| {
        let low = MIN_GAP + size / 2.0 - displacement.min(0.0);
        let high = extent as f32 - MIN_GAP - size / 2.0 - displacement.max(0.0);
        (low <= high).then_some((low, high))
    };
    Some((axis(config.width, dx * last)?, axis(config.height, dy * last)?))
}

fn sample(rng: &mut impl Rng, (low, high): (f32, f32)) -> f32 {
    low + (high - low) * rng.random::<f32>()
}

/// Whether the placed scene keeps objects apart and, with a pillar, crosses it as required.
pub(crate) fn placement_rules_hold(scene: &Scene) -> bool {
    let frames = scene.config.frames;
    let count = scene.spec.objects.len();
    for first in 0..count {
        for second in first + 1..count {
            let apart = (0..frames).all(|frame| {
                scene.bounding_box(first, frame).gap_to(&scene.bounding_box(second, frame)) >= MIN_GAP
            });
            if !apart {
                return false;
            }
        }
    }
    !scene.spec.pillar || crosses_pillar(scene)
}

/// The pillar rules for the scene's single object.
fn crosses_pillar(scene: &Scene) -> bool {
    let (left, right) = scene.config.pillar_columns();
    let (left, right) = (left as f32, right as f32);
    let side = |bounds: BoundingBox| {
        if bounds.right <= left - MIN_GAP {
            Some(false)
        } else if bounds.left >= right + MIN_GAP {
            Some(true)
        } else {
            None
        }
    };
    let last = scene.config.frames - 1;
    let (start_side, end_side) = (side(scene.bounding_box(0, 0)), side(scene.bounding_box(0, last)));
    let crosses = matches!((start_side, end_side), (Some(start), Some(end)) if start != end);
    let wider_than_pillar = scene.spec.objects[0].size.pixels() > right - left;
    let hidden_once = (0..=last).any(|frame| {
        let bounds = scene.bounding_box(0, frame);
        bounds.left >= left && bounds.right <= right
    });
    crosses && (wider_than_pillar || hidden_once)
}
