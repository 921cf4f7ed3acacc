//! Typed errors for captions and placement.

use crate::attributes::Colour;

/// Why a caption (or a [`SceneSpec`](crate::SceneSpec)) is not part of the world.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaptionError {
    /// A word that the grammar does not allow at this point.
    #[error("unexpected word {found:?} (word {position} of the caption); expected {expected}")]
    UnexpectedWord {
        /// The offending word.
        found: String,
        /// Its 1-based position among the caption's words.
        position: usize,
        /// What the grammar allows here.
        expected: String,
    },
    /// The caption stopped before the grammar was satisfied.
    #[error("the caption ends too early; expected {expected}")]
    UnexpectedEnd {
        /// What the grammar wanted next.
        expected: String,
    },
    /// A scene holds one or two objects.
    #[error("a scene holds 1 or 2 objects, not {count}")]
    ObjectCount {
        /// How many objects the spec has.
        count: usize,
    },
    /// Two objects in one scene share a colour.
    #[error("two objects are both {}; objects in one scene need different colours", colour.word())]
    SharedColour {
        /// The repeated colour.
        colour: Colour,
    },
    /// A white object on a white background would be invisible.
    #[error("a white object cannot be on a white background")]
    WhiteOnWhite,
    /// The pillar scene holds exactly one object.
    #[error("\"behind a gray pillar\" needs exactly one object, not {count}")]
    PillarObjectCount {
        /// How many objects the spec has.
        count: usize,
    },
    /// The object behind a pillar must move left or right without a speed word.
    #[error(
        "the object behind a gray pillar must \"move left\" or \"move right\" with no speed word, but it {motion}"
    )]
    PillarMotion {
        /// The caption words of the offending motion.
        motion: String,
    },
}

/// Why a scene could not be placed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlaceError {
    /// The spec breaks a rule of the world.
    #[error("invalid scene: {0}")]
    InvalidSpec(#[from] CaptionError),
    /// The world has no frames or no pixels.
    #[error("the world needs at least one frame and one pixel, got {frames} frames of {width}x{height}")]
    EmptyWorld {
        /// Frames per clip.
        frames: usize,
        /// Frame height in pixels.
        height: usize,
        /// Frame width in pixels.
        width: usize,
    },
    /// No start positions satisfying every placement rule were found.
    #[error(
        "could not place \"{caption}\" in {frames} frames of {width}x{height} after {attempts} attempts; \
         the frame is too small or the clip too long for these objects"
    )]
    NoRoom {
        /// The scene's caption.
        caption: String,
        /// How many random placements were tried.
        attempts: usize,
        /// Frames per clip.
        frames: usize,
        /// Frame height in pixels.
        height: usize,
        /// Frame width in pixels.
        width: usize,
    },
}
