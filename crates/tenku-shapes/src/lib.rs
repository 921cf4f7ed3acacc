//! A tiny synthetic world for text-to-video experiments: one or two coloured shapes moving on a
//! black or white background, optionally behind a gray pillar.
//!
//! * [`SceneSpec`] is what a caption says; [`SceneSpec::caption`] and [`SceneSpec::parse`] convert
//!   between the two following an exact grammar (see the [`caption`] module), and
//!   [`SceneSpec::random`] / [`random_captions`] draw valid specs.
//! * [`Scene::place`] puts a spec's objects into a [`WorldConfig`] (deterministically from a seed) and
//!   [`Scene::render`] draws the clip as `[frames, height, width, 3]` values in [0, 1].
//! * [`analyze()`] reads any clip back into attributes, and [`score`] / [`Metrics`] compare them with
//!   the caption.
//!
//! ```
//! use tenku_shapes::{Scene, SceneSpec, WorldConfig};
//! let spec: SceneSpec = "a small blue square moves up quickly on a white background".parse().unwrap();
//! let scene = Scene::place(spec, WorldConfig::default(), 42).unwrap();
//! let clip = scene.render();
//! assert_eq!(clip.shape(), &[17, 64, 64, 3]);
//! ```

pub mod analyze;
mod attributes;
mod blobs;
pub mod caption;
mod error;
pub mod metrics;
mod place;
mod random;
mod render;
mod scene;

pub use analyze::{Analysis, DetectedObject, analyze};
pub use attributes::{Background, Colour, Direction, Motion, PILLAR_GRAY, Shape, Size, Speed};
pub use caption::vocabulary;
pub use error::{CaptionError, PlaceError};
pub use metrics::{ClipScore, JitterMean, Metrics, ObjectScore, Tally, score};
pub use place::{MAX_PLACEMENT_ATTEMPTS, MIN_GAP};
pub use random::random_captions;
pub use scene::{ObjectSpec, PILLAR_SPEED, PILLAR_WIDTH, Scene, SceneSpec, WorldConfig};
