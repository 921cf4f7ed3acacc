//! Scoring an [`Analysis`] against its caption, and accumulating scores over a prompt set.
//!
//! Detected objects are matched to the caption's objects by colour (colours are unique in a clip).
//! The metrics, each an accuracy over the clips or objects it is measured on:
//!
//! * **colour**: per caption object, an object of its colour was detected.
//! * **shape** / **size**: per caption object, the matched object's shape / size class is the
//!   caption's (wrong when the object was not found or the attribute could not be measured).
//! * **direction**: per caption object, the detected motion class is the caption's, where "stays
//!   still" is a class of its own: a still object must be detected still, a moving one must be
//!   detected moving in the caption's direction (speed ignored).
//! * **speed**: per caption object that moves, outside pillar clips, the detected speed class
//!   (0.75 / 1.5 / 2.5 px/frame) is the caption's, i.e. the object was detected moving with that
//!   speed. Pillar objects are left out: their caption says no speed word but they move at 2.5.
//! * **count**: per clip, the number of detected objects equals the caption's. Over-counts are
//!   also tallied on their own, with those whose extra objects are all patches (objects of a
//!   colour the caption does not name, joined to another object in every frame they count in;
//!   see [`DetectedObject::frames_joined`](crate::DetectedObject::frames_joined)).
//! * **background**: per clip, the detected background is the caption's.
//! * **pillar**: per clip, a pillar was detected exactly when the caption has one.
//! * **permanence**: per pillar clip (N/A when there are none), the object was found and judged
//!   permanent by the analyzer (seen clear on both sides, same shape and size, on course).
//! * **jitter**: mean over matched objects with a fitted motion of their RMS centroid residual (px);
//!   lower is better, and hard-edged ground truth sits at about 0.1-0.3 px.
//!
//! Shape and size are also tallied as [`Confusion`]s, caption class against detected class, to
//! show which classes are read as which.

use std::fmt::Write as _;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

use crate::analyze::Analysis;
use crate::attributes::{Colour, Motion, Shape, Size};
use crate::scene::SceneSpec;

/// How one clip's analysis compares with its caption.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipScore {
    /// The caption scored against.
    pub caption: String,
    /// Objects the caption names.
    pub expected_objects: usize,
    /// Objects the analyzer found.
    pub detected_objects: usize,
    /// `detected_objects == expected_objects`.
    pub count_correct: bool,
    /// Detected objects of a colour the caption does not name that touch another object in every
    /// frame they count in: patches of another colour on one object.
    #[serde(default)]
    pub extra_patches: usize,
    /// The background matches.
    pub background_correct: bool,
    /// Pillar presence matches.
    pub pillar_correct: bool,
    /// One score per caption object, in caption order.
    pub objects: Vec<ObjectScore>,
}

/// How one caption object fared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectScore {
    /// The caption object's colour.
    pub colour: Colour,
    /// The caption object's shape.
    pub shape: Shape,
    /// The caption object's size.
    pub size: Size,
    /// An object of this colour was detected.
    pub found: bool,
    /// The matched object's shape, when it was found and its shape could be read.
    pub detected_shape: Option<Shape>,
    /// The matched object's size, when it was found and its size could be read.
    pub detected_size: Option<Size>,
    /// The detected shape matches.
    pub shape_correct: bool,
    /// The detected size matches.
    pub size_correct: bool,
    /// The detected motion class (still, or the direction) matches.
    pub direction_correct: bool,
    /// Moving objects outside pillar clips: the detected speed class matches.
    pub speed_correct: Option<bool>,
    /// Pillar clips: the object was found and is permanent.
    pub permanent: Option<bool>,
    /// The matched object's jitter (px), when one was found with a fitted motion.
    pub jitter: Option<f32>,
}

/// Compares `analysis` with what `spec` says (see the [module docs](self) for the definitions).
pub fn score(spec: &SceneSpec, analysis: &Analysis) -> ClipScore {
    let objects = spec
        .objects
        .iter()
        .map(|expected| {
            let detected = analysis.objects.iter().find(|object| object.colour == expected.colour);
            let detected_motion = detected.and_then(|object| object.motion);
            let direction_correct = match (expected.motion, detected_motion) {
                (Motion::Still, Some(Motion::Still)) => true,
                (Motion::Moves(want, _), Some(Motion::Moves(got, _))) => want == got,
                _ => false,
            };
            let speed_correct = match expected.motion {
                Motion::Moves(_, want) if !spec.pillar => {
                    Some(matches!(detected_motion, Some(Motion::Moves(_, got)) if got == want))
                }
                _ => None,
            };
            let detected_shape = detected.and_then(|object| object.shape);
            let detected_size = detected.and_then(|object| object.size);
            ObjectScore {
                colour: expected.colour,
                shape: expected.shape,
                size: expected.size,
                found: detected.is_some(),
                detected_shape,
                detected_size,
                shape_correct: detected_shape == Some(expected.shape),
                size_correct: detected_size == Some(expected.size),
                direction_correct,
                speed_correct,
                permanent: spec.pillar.then(|| detected.is_some_and(|object| object.permanent == Some(true))),
                jitter: detected.filter(|object| object.motion.is_some()).map(|object| object.jitter),
            }
        })
        .collect();
    ClipScore {
        caption: spec.caption(),
        expected_objects: spec.objects.len(),
        detected_objects: analysis.objects.len(),
        count_correct: spec.objects.len() == analysis.objects.len(),
        extra_patches: analysis
            .objects
            .iter()
            .filter(|object| {
                object.is_patch() && spec.objects.iter().all(|named| named.colour != object.colour)
            })
            .count(),
        background_correct: spec.background == analysis.background,
        pillar_correct: spec.pillar == analysis.pillar,
        objects,
    }
}

/// Correct answers out of the cases measured. Serializes as `{correct, total, accuracy}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Tally {
    /// Cases judged correct.
    pub correct: usize,
    /// Cases measured.
    pub total: usize,
}

impl Tally {
    /// Counts one case.
    pub fn record(&mut self, correct: bool) {
        self.correct += usize::from(correct);
        self.total += 1;
    }

    /// `correct / total`, or `None` (N/A) when nothing was measured.
    pub fn accuracy(&self) -> Option<f32> {
        (self.total > 0).then(|| self.correct as f32 / self.total as f32)
    }

    /// The accuracy as a percentage with one decimal (`"97.5 %"`), or `"n/a"`.
    pub fn percent(&self) -> String {
        self.accuracy().map_or_else(|| "n/a".to_owned(), |accuracy| format!("{:.1} %", accuracy * 100.0))
    }
}

impl Serialize for Tally {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Tally", 3)?;
        state.serialize_field("correct", &self.correct)?;
        state.serialize_field("total", &self.total)?;
        state.serialize_field("accuracy", &self.accuracy())?;
        state.end()
    }
}

/// A running mean of jitter over objects. Serializes as `{sum, objects, mean}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct JitterMean {
    /// Sum of per-object jitter, px.
    pub sum: f64,
    /// Objects summed.
    pub objects: usize,
}

impl JitterMean {
    /// The mean jitter in px, or `None` when no object was measured.
    pub fn mean(&self) -> Option<f32> {
        (self.objects > 0).then(|| (self.sum / self.objects as f64) as f32)
    }
}

impl Serialize for JitterMean {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("JitterMean", 3)?;
        state.serialize_field("sum", &self.sum)?;
        state.serialize_field("objects", &self.objects)?;
        state.serialize_field("mean", &self.mean())?;
        state.end()
    }
}

/// How often each caption class of a three-class attribute (shape or size) was read as each
/// class, or not read at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// `counts[caption][detected]`, classes in the attribute's `ALL` order; the last column
    /// ([`Confusion::NOT_READ`]) counts objects not found or whose attribute could not be read.
    pub counts: [[usize; 4]; 3],
}

impl Confusion {
    /// The column of objects whose attribute was not read.
    pub const NOT_READ: usize = 3;

    /// Counts one object of caption class `caption` read as `detected` (`None`: not read).
    pub fn record(&mut self, caption: usize, detected: Option<usize>) {
        self.counts[caption][detected.unwrap_or(Self::NOT_READ)] += 1;
    }

    /// Rows `caption class | read as each class | not read | accuracy`, titled `title`.
    pub fn table(&self, title: &str, classes: [&str; 3]) -> String {
        let mut table = format!("{title:<12}");
        for class in classes.iter().chain(&["none"]) {
            let _ = write!(table, " {class:>8}");
        }
        table.push_str("  accuracy\n");
        for (index, (class, row)) in classes.iter().zip(&self.counts).enumerate() {
            let _ = write!(table, "{class:<12}");
            for count in row {
                let _ = write!(table, " {count:>8}");
            }
            let tally = Tally { correct: row[index], total: row.iter().sum() };
            let _ = writeln!(table, "  {:>8}", tally.percent());
        }
        table
    }
}

/// [`ClipScore`]s accumulated over a prompt set (see the [module docs](self) for the definitions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Clips added.
    pub clips: usize,
    /// Per caption object: its colour was detected.
    pub colour: Tally,
    /// Per caption object: shape matches.
    pub shape: Tally,
    /// Per caption object: size matches.
    pub size: Tally,
    /// Per caption object: still/direction class matches.
    pub direction: Tally,
    /// Per moving caption object outside pillar clips: speed class matches.
    pub speed: Tally,
    /// Per clip: object count matches.
    pub count: Tally,
    /// Clips in which more objects were detected than the caption names.
    #[serde(default)]
    pub count_over: usize,
    /// Of the `count_over` clips, those that count right once their patches
    /// ([`ClipScore::extra_patches`]) are left out.
    #[serde(default)]
    pub count_over_patches: usize,
    /// Clips in which fewer objects were detected than the caption names.
    #[serde(default)]
    pub count_under: usize,
    /// Per clip: background matches.
    pub background: Tally,
    /// Per clip: pillar presence matches.
    pub pillar: Tally,
    /// Per pillar clip: the object is permanent.
    pub permanence: Tally,
    /// Mean jitter (px) over matched objects with a fitted motion.
    pub jitter: JitterMean,
    /// Per caption object: its shape against the detected one (classes in [`Shape::ALL`] order).
    #[serde(default)]
    pub shape_confusion: Confusion,
    /// Per caption object: its size against the detected one (classes in [`Size::ALL`] order).
    #[serde(default)]
    pub size_confusion: Confusion,
    /// Per caption object of each size (in [`Size::ALL`] order): shape matches. Corners are
    /// the first detail a blurred object loses, and a small one loses them first.
    #[serde(default)]
    pub shape_by_size: [Tally; 3],
}

impl Metrics {
    /// Adds one clip's score.
    pub fn add(&mut self, score: &ClipScore) {
        self.clips += 1;
        self.count.record(score.count_correct);
        self.count_over += usize::from(score.detected_objects > score.expected_objects);
        self.count_under += usize::from(score.detected_objects < score.expected_objects);
        self.count_over_patches += usize::from(
            score.detected_objects > score.expected_objects
                && score.detected_objects - score.extra_patches == score.expected_objects,
        );
        self.background.record(score.background_correct);
        self.pillar.record(score.pillar_correct);
        for object in &score.objects {
            self.colour.record(object.found);
            self.shape.record(object.shape_correct);
            self.size.record(object.size_correct);
            // Both enums are declared in their `ALL` order, so a class's discriminant is its index.
            self.shape_confusion
                .record(object.shape as usize, object.detected_shape.map(|shape| shape as usize));
            self.size_confusion.record(object.size as usize, object.detected_size.map(|size| size as usize));
            self.shape_by_size[object.size as usize].record(object.shape_correct);
            self.direction.record(object.direction_correct);
            if let Some(correct) = object.speed_correct {
                self.speed.record(correct);
            }
            if let Some(permanent) = object.permanent {
                self.permanence.record(permanent);
            }
            if let Some(jitter) = object.jitter {
                self.jitter.sum += f64::from(jitter);
                self.jitter.objects += 1;
            }
        }
    }

    /// The accuracies by name, in table order.
    pub fn tallies(&self) -> [(&'static str, &Tally, &'static str); 9] {
        [
            ("colour", &self.colour, "objects"),
            ("shape", &self.shape, "objects"),
            ("size", &self.size, "objects"),
            ("direction", &self.direction, "objects"),
            ("speed", &self.speed, "objects"),
            ("count", &self.count, "clips"),
            ("background", &self.background, "clips"),
            ("pillar", &self.pillar, "clips"),
            ("permanence", &self.permanence, "clips"),
        ]
    }

    /// A readable, aligned text table of the accuracies (percent) and mean jitter, followed by
    /// the shape and size confusions and the shape accuracy for each size.
    pub fn table(&self) -> String {
        let mut table = format!("{:<12} {:>9}  measured on ({} clips)\n", "metric", "value", self.clips);
        for (name, tally, unit) in self.tallies() {
            let _ = writeln!(table, "{name:<12} {:>9}  {} {unit}", tally.percent(), tally.total);
        }
        let miscounts = [
            ("count over", self.count_over, "clips with more objects than the caption"),
            (
                "  patches",
                self.count_over_patches,
                "of them, right without the patches of other colours on an object",
            ),
            ("count under", self.count_under, "clips with fewer objects than the caption"),
        ];
        for (name, clips, meaning) in miscounts {
            let _ = writeln!(table, "{name:<12} {clips:>9}  {meaning}");
        }
        let jitter = self.jitter.mean().map_or_else(|| "n/a".to_owned(), |mean| format!("{mean:.3}"));
        let _ = writeln!(table, "{:<12} {jitter:>9}  {} objects", "jitter (px)", self.jitter.objects);
        let _ = write!(table, "\n{}", self.shape_confusion.table("shape", Shape::ALL.map(Shape::word)));
        let sizes = Size::ALL.map(|size| size.word().unwrap_or("default"));
        let _ = write!(table, "\n{}", self.size_confusion.table("size", sizes));
        let _ = writeln!(table, "\nshape of objects asked for at each size");
        for (size, tally) in sizes.iter().zip(&self.shape_by_size) {
            let _ = writeln!(table, "{size:<12} {:>9}  {} objects", tally.percent(), tally.total);
        }
        table
    }
}
