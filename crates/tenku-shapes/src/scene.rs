//! Scene descriptions: what a caption says ([`SceneSpec`]) and where things are ([`Scene`]).

use serde::{Deserialize, Serialize};

use crate::attributes::{Background, Colour, Motion, Shape, Size, Speed};
use crate::error::CaptionError;

/// Speed of the object behind a pillar, px/frame, whatever its spec's [`Speed`] says.
pub const PILLAR_SPEED: f32 = 2.5;

/// Width of the pillar in pixels.
pub const PILLAR_WIDTH: usize = 16;

/// What a caption says: the attributes, no positions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SceneSpec {
    /// One or two objects, in caption order.
    pub objects: Vec<ObjectSpec>,
    /// Whether a gray pillar stands at the centre, in front of the (single) object.
    pub pillar: bool,
    /// The background colour.
    pub background: Background,
}

/// One object of a caption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectSpec {
    /// Its colour, unique within the scene.
    pub colour: Colour,
    /// Its shape.
    pub shape: Shape,
    /// Its bounding-box side.
    pub size: Size,
    /// What it does.
    pub motion: Motion,
}

/// Frame geometry of the world.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldConfig {
    /// Frames per clip.
    pub frames: usize,
    /// Frame height in pixels.
    pub height: usize,
    /// Frame width in pixels.
    pub width: usize,
    /// Playback rate; only metadata, motion is defined per frame.
    pub fps: f32,
}

impl Default for WorldConfig {
    /// 17 frames of 64×64 at 8 fps.
    fn default() -> Self {
        WorldConfig { frames: 17, height: 64, width: 64, fps: 8.0 }
    }
}

impl WorldConfig {
    /// The pillar's columns `[left, right)`: [`PILLAR_WIDTH`] columns centred in the frame
    /// (`[24, 40)` for width 64), clipped to the frame.
    pub fn pillar_columns(&self) -> (usize, usize) {
        let left = (self.width / 2).saturating_sub(PILLAR_WIDTH / 2);
        (left, (left + PILLAR_WIDTH).min(self.width))
    }
}

/// A placed scene: spec + start centre of each object (x, y in pixels), everything the renderer needs.
///
/// Object `i` is centred at `starts[i] + f * velocity(i)` in frame `f`, where x counts columns to the
/// right and y rows downwards (pixel `(col, row)` spans `[col, col + 1) × [row, row + 1)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    /// What the caption says.
    pub spec: SceneSpec,
    /// Centre of each object in frame 0, `(x, y)` in pixels.
    pub starts: Vec<(f32, f32)>,
    /// Frame geometry.
    pub config: WorldConfig,
}

/// An axis-aligned rectangle `[left, right) × [top, bottom)` in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BoundingBox {
    pub left: f32,
    pub right: f32,
    pub top: f32,
    pub bottom: f32,
}

impl BoundingBox {
    /// The square box of side `size` centred at `centre`.
    pub fn around(centre: (f32, f32), size: f32) -> Self {
        let half = size / 2.0;
        BoundingBox {
            left: centre.0 - half,
            right: centre.0 + half,
            top: centre.1 - half,
            bottom: centre.1 + half,
        }
    }

    /// The larger of the horizontal and vertical gaps between two boxes (negative when they overlap).
    pub fn gap_to(&self, other: &BoundingBox) -> f32 {
        let horizontal = (other.left - self.right).max(self.left - other.right);
        let vertical = (other.top - self.bottom).max(self.top - other.bottom);
        horizontal.max(vertical)
    }
}

impl SceneSpec {
    /// Checks the world's rules: 1 or 2 objects with distinct colours, no white object on a white
    /// background, and a pillar only with one object moving left or right with no speed word.
    pub fn validate(&self) -> Result<(), CaptionError> {
        let count = self.objects.len();
        if !(1..=2).contains(&count) {
            return Err(CaptionError::ObjectCount { count });
        }
        for (index, object) in self.objects.iter().enumerate() {
            if self.objects[..index].iter().any(|earlier| earlier.colour == object.colour) {
                return Err(CaptionError::SharedColour { colour: object.colour });
            }
            if object.colour == Colour::White && self.background == Background::White {
                return Err(CaptionError::WhiteOnWhite);
            }
        }
        if self.pillar {
            if count != 1 {
                return Err(CaptionError::PillarObjectCount { count });
            }
            let motion = self.objects[0].motion;
            let crosses =
                matches!(motion, Motion::Moves(direction, Speed::Default) if direction.is_horizontal());
            if !crosses {
                return Err(CaptionError::PillarMotion { motion: crate::caption::motion_words(motion) });
            }
        }
        Ok(())
    }
}

impl Scene {
    /// Velocity `(dx, dy)` of object `object` in px/frame; [`PILLAR_SPEED`] in a pillar scene.
    ///
    /// # Panics
    /// If `object` is not an index into `spec.objects`.
    pub fn velocity(&self, object: usize) -> (f32, f32) {
        velocity(&self.spec, object)
    }

    /// Centre of object `object` at frame `frame`, `(x, y)` in pixels.
    ///
    /// # Panics
    /// If `object` is not an index into `spec.objects` or `starts`.
    pub fn centre(&self, object: usize, frame: usize) -> (f32, f32) {
        let (dx, dy) = self.velocity(object);
        let (x, y) = self.starts[object];
        let t = frame as f32;
        (x + dx * t, y + dy * t)
    }

    /// Bounding box of object `object` at frame `frame`.
    pub(crate) fn bounding_box(&self, object: usize, frame: usize) -> BoundingBox {
        BoundingBox::around(self.centre(object, frame), self.spec.objects[object].size.pixels())
    }
}

/// Velocity of object `object` of `spec` in px/frame.
pub(crate) fn velocity(spec: &SceneSpec, object: usize) -> (f32, f32) {
    match spec.objects[object].motion {
        Motion::Still => (0.0, 0.0),
        Motion::Moves(direction, speed) => {
            let pixels = if spec.pillar { PILLAR_SPEED } else { speed.pixels_per_frame() };
            let (ux, uy) = direction.unit();
            (ux * pixels, uy * pixels)
        }
    }
}
