//! Reading a clip back into the world's attributes.
//!
//! [`analyze`] accepts any clip `[frames, height, width, 3]` in [0, 1]: a rendered ground truth or a
//! generated clip with slightly-off colours, soft edges and speckles. It works in these steps:
//!
//! 1. **Background**: black or white, whichever has more pixels within [`BACKGROUND_DISTANCE`]
//!    (RGB Euclidean distance, channels in [0, 1]) of it.
//! 2. **Pillar**: present when, in at least half of the frames, at least [`PILLAR_BAND_SHARE`] of
//!    the pillar's central columns (its 16 columns less 2 on each side) have a mean colour within
//!    [`PILLAR_GRAY_DISTANCE`] of the pillar gray.
//! 3. **Pixels to colours**: a pixel belongs to palette colour `c` when, on the line from the
//!    background colour `b` (the mean of the background's pixels) to `c`, it lies at least
//!    [`MIN_COVERAGE`] of the way to `c` (so a blurred edge pixel counts when it is mostly object)
//!    and no more than [`MAX_COLOUR_RESIDUAL`] from the line; the best-fitting colour wins. When a
//!    pillar is detected its columns are ignored, since it hides whatever is behind it.
//! 4. **Objects**: in each 4-connected region of coloured pixels whose most common colour holds
//!    at least [`MIN_FRAME_AREA`] pixels, any other colour holding fewer is taken as noise on that
//!    object and relabelled to the common one. Then, per colour and frame, 4-connected components under
//!    [`SPECKLE_AREA`] pixels are dropped as speckles; the rest form the object's blob, which counts
//!    in that frame when it has at least [`MIN_FRAME_AREA`] pixels. A colour is an object when it counts in at least
//!    [`MIN_SEEN_FRAMES`] frames (or every frame of a shorter clip). The frames in which its blob
//!    touches another colour's are counted too: rendered objects never touch, so an object joined
//!    to another in every frame is most likely a patch of another colour on one object (it still
//!    counts as an object; the metrics report such over-counts apart).
//! 5. **Per object**, from its *clear* frames (blob not touching the frame's outermost pixels and,
//!    with a pillar, at least one column away from it, that column showing only background and
//!    pillar in the blob's rows — a soft edge blending a partly hidden object into the pillar
//!    does not):
//!    * shape: measured on the blob's *solid area* (each row counted from its leftmost to its
//!      rightmost pixel, so holes do not count). Per frame, a triangle when the top third of the box
//!      has under [`TRIANGLE_TOP_RATIO`] of the bottom third's solid area, else a square when the
//!      solid area fills at least [`SQUARE_FILL`] of the bounding box, else a circle when it fills at
//!      least [`CIRCLE_FILL`]; the shape is the strict majority of the frames' votes;
//!    * size: the nearest of 10/14/18 px to the median side length, where a frame's side is
//!      `sqrt(solid area / fill)` for the detected shape (fill 1 for a square, π/4 for a circle, 1/2
//!      for a triangle; robust to soft edges) or the bounding box's longer side without a shape;
//!    * motion: a least-squares line through the blob centroids over the clear frames (all counted
//!      frames when fewer than two are clear); still below [`STILL_SPEED`] px/frame, otherwise the
//!      dominant axis gives the direction and the nearest of 0.75/1.5/2.5 px/frame the speed;
//!    * jitter: the RMS distance (px) of the centroids from that line. Hard-edged rendering alone
//!      gives up to about 0.3 px, as centroids snap to whole pixels;
//!    * permanence (pillar clips only): the object is clear on one side of the pillar, then clear
//!      on the other side and never back; the shape and size measured before and after agree; and
//!      where it is when next clear is within [`PERMANENCE_TOLERANCE`] px (Euclidean) of where its
//!      motion before the pillar predicts: its trailing edge (the left column when moving right)
//!      extrapolated linearly from every frame before that edge reaches the pillar, and its centroid
//!      row extrapolated from the clear frames before the pillar.

use ndarray::{ArrayView4, Axis, s};
use serde::{Deserialize, Serialize};

use crate::attributes::{Background, Colour, Direction, Motion, PILLAR_GRAY, Shape, Size, Speed, unit_rgb};
use crate::blobs::{
    Blob, Palette, colour_blobs, distance_squared, distance_squared_to_segment, joined_blobs,
};
use crate::scene::WorldConfig;

/// Largest RGB distance from pure black or white for a pixel to count as that background.
pub const BACKGROUND_DISTANCE: f32 = 0.25;
/// Largest RGB distance of a column's mean colour from the pillar gray for it to count as pillar.
pub const PILLAR_GRAY_DISTANCE: f32 = 0.2;
/// Share of the pillar band's central columns that must be gray for a frame to show the pillar.
pub const PILLAR_BAND_SHARE: f32 = 0.8;
/// How far along the background-to-colour line a pixel must be to belong to the colour.
pub const MIN_COVERAGE: f32 = 0.5;
/// Largest RGB distance of a pixel from a background-to-colour line to belong to that colour.
pub const MAX_COLOUR_RESIDUAL: f32 = 0.25;
/// Connected components of a colour smaller than this (pixels) are speckles and ignored.
pub const SPECKLE_AREA: usize = 5;
/// Fewest pixels an object needs in a frame to count in that frame.
pub const MIN_FRAME_AREA: usize = 20;
/// Fewest frames an object must count in to be detected at all.
pub const MIN_SEEN_FRAMES: usize = 3;
/// A blob whose top third holds less than this share of its bottom third's pixels is a triangle.
pub const TRIANGLE_TOP_RATIO: f32 = 0.6;
/// Least fill of the bounding box for a square.
pub const SQUARE_FILL: f32 = 0.9;
/// Least fill of the bounding box for a circle (a disc fills π/4 ≈ 0.785).
pub const CIRCLE_FILL: f32 = 0.65;
/// Fitted speeds below this (px/frame) are "stays still".
pub const STILL_SPEED: f32 = 0.35;
/// How far (px) a reappearing object may be from where its pre-occlusion motion predicts.
pub const PERMANENCE_TOLERANCE: f32 = 4.0;

/// What [`analyze`] read from a clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The majority background.
    pub background: Background,
    /// Whether a gray pillar stands at the centre.
    pub pillar: bool,
    /// Detected objects, one per palette colour at most, in palette order.
    pub objects: Vec<DetectedObject>,
}

/// One detected object: a palette colour seen in enough frames.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectedObject {
    /// Its palette colour.
    pub colour: Colour,
    /// Majority shape over clear frames; `None` without clear frames or a majority.
    pub shape: Option<Shape>,
    /// Nearest size to the median side length over clear frames; `None` without clear frames.
    pub size: Option<Size>,
    /// Direction and speed class of the fitted velocity; `None` when fewer than two frames count.
    pub motion: Option<Motion>,
    /// Fitted centroid velocity `(dx, dy)` in px/frame.
    pub velocity: Option<(f32, f32)>,
    /// RMS distance (px) of the centroids from the fitted line; 0 when no line was fitted.
    pub jitter: f32,
    /// Pillar clips only: whether the object survives the occlusion unchanged and on course.
    pub permanent: Option<bool>,
    /// Frames in which it counts (at least [`MIN_FRAME_AREA`] pixels).
    pub frames_seen: usize,
    /// Of those, frames in which it is fully visible (clear of the frame border and the pillar).
    pub frames_clear: usize,
    /// Of those, frames in which its blob touches another colour's. The world keeps objects
    /// apart, so an object joined to another in every frame is a patch of another colour on that
    /// object rather than an object of its own ([`DetectedObject::is_patch`]).
    #[serde(default)]
    pub frames_joined: usize,
}

impl DetectedObject {
    /// Whether it touches another object in every frame it counts in.
    pub fn is_patch(&self) -> bool {
        self.frames_joined == self.frames_seen
    }
}

/// Reads background, pillar and objects from a clip `[frames, height, width, 3]` with values in
/// [0, 1] (see the [module docs](self) for the method and thresholds).
///
/// `config` describes the world the clip was made for; where the clip's own frame count or size
/// differ, the clip's win (the pillar is looked for at the centre of the clip's width). A clip
/// without 3 channels or without pixels yields a black background, no pillar and no objects.
pub fn analyze(frames: ArrayView4<f32>, config: &WorldConfig) -> Analysis {
    let (frame_count, height, width, channels) = frames.dim();
    let empty = Analysis { background: Background::Black, pillar: false, objects: Vec::new() };
    if channels != 3 || frame_count * height * width == 0 {
        return empty;
    }
    let geometry = WorldConfig { frames: frame_count, height, width, fps: config.fps };
    let (background, background_rgb) = detect_background(frames);
    let pillar = detect_pillar(frames, &geometry);
    let palette = Palette::against(background_rgb);
    let pillar_columns = pillar.then(|| geometry.pillar_columns());
    let pillar_view = pillar_columns.map(|columns| Pillar { columns, frames, background: background_rgb });
    let mut tracks: Vec<Track> = Vec::new();
    for (frame, image) in frames.axis_iter(Axis(0)).enumerate() {
        let mut counted = colour_blobs(frame, image, &palette, pillar_columns);
        counted.retain(|(_, blob)| blob.area() >= MIN_FRAME_AREA);
        let joined = joined_blobs(&counted.iter().map(|(_, blob)| blob).collect::<Vec<_>>(), height, width);
        for ((colour, blob), joined) in counted.into_iter().zip(joined) {
            let index = tracks.iter().position(|track| track.colour == colour).unwrap_or_else(|| {
                tracks.push(Track { colour, blobs: Vec::new(), frames_joined: 0 });
                tracks.len() - 1
            });
            tracks[index].blobs.push(blob);
            tracks[index].frames_joined += usize::from(joined);
        }
    }
    tracks.sort_by_key(|track| track.colour);
    let objects = tracks
        .into_iter()
        .filter(|track| track.blobs.len() >= MIN_SEEN_FRAMES.min(frame_count))
        .map(|track| describe_object(&track, &geometry, pillar_view))
        .collect();
    Analysis { background, pillar, objects }
}

/// Black or white by majority of near-black and near-white pixels, with the mean of those pixels.
fn detect_background(frames: ArrayView4<f32>) -> (Background, [f32; 3]) {
    let mut sums = [[0.0f64; 3]; 2];
    let mut counts = [0usize; 2];
    for pixel in frames.lanes(Axis(3)) {
        let rgb = [pixel[0], pixel[1], pixel[2]];
        for (index, background) in Background::ALL.into_iter().enumerate() {
            if distance_squared(rgb, unit_rgb(background.rgb())) <= BACKGROUND_DISTANCE.powi(2) {
                counts[index] += 1;
                for channel in 0..3 {
                    sums[index][channel] += f64::from(rgb[channel]);
                }
            }
        }
    }
    let index = usize::from(counts[1] > counts[0]);
    let background = Background::ALL[index];
    let mean = match counts[index] {
        0 => unit_rgb(background.rgb()),
        count => sums[index].map(|sum| (sum / count as f64) as f32),
    };
    (background, mean)
}

/// Whether the pillar's central columns are gray (by their mean colour) in at least half of the frames.
fn detect_pillar(frames: ArrayView4<f32>, geometry: &WorldConfig) -> bool {
    let (left, right) = geometry.pillar_columns();
    let (left, right) = if right - left > 4 { (left + 2, right - 2) } else { (left, right) };
    if left >= right {
        return false;
    }
    let gray = unit_rgb(PILLAR_GRAY);
    let frames_with_pillar = frames
        .axis_iter(Axis(0))
        .filter(|image| {
            let Some(column_means) = image.slice(s![.., left..right, ..]).mean_axis(Axis(0)) else {
                return false;
            };
            let gray_columns = column_means
                .outer_iter()
                .filter(|mean| {
                    distance_squared([mean[0], mean[1], mean[2]], gray) <= PILLAR_GRAY_DISTANCE.powi(2)
                })
                .count();
            gray_columns as f32 >= PILLAR_BAND_SHARE * (right - left) as f32
        })
        .count();
    2 * frames_with_pillar >= geometry.frames
}

/// A side of the pillar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// A clip's pillar, with what is needed to tell an object clear of it from one it partly hides.
#[derive(Clone, Copy)]
struct Pillar<'a> {
    /// Its columns `[left, right)`.
    columns: (usize, usize),
    /// The clip, `[frames, height, width, 3]`.
    frames: ArrayView4<'a, f32>,
    /// The clip's background colour.
    background: [f32; 3],
}

impl Pillar<'_> {
    /// The side of the pillar `blob` is clear on, if any: it keeps at least one column away from
    /// the pillar, and the column beside the pillar shows, in the blob's rows, nothing but
    /// background, pillar or a mix of the two (within [`MAX_COLOUR_RESIDUAL`]). Where a soft edge
    /// blends a partly hidden object into the pillar, that column mixes in the object's colour
    /// and belongs to neither, so the visible part would otherwise look like a whole object.
    fn clear_side(&self, blob: &Blob) -> Option<Side> {
        let (left, right) = self.columns;
        let (side, beside) = if blob.right + 2 <= left {
            (Side::Left, left - 1)
        } else if blob.left > right {
            (Side::Right, right)
        } else {
            return None;
        };
        let image = self.frames.index_axis(Axis(0), blob.frame);
        let gray = unit_rgb(PILLAR_GRAY);
        let unmixed = (blob.top..=blob.bottom).all(|row| {
            let pixel = [0, 1, 2].map(|channel| image[[row, beside, channel]]);
            distance_squared_to_segment(pixel, self.background, gray) <= MAX_COLOUR_RESIDUAL.powi(2)
        });
        unmixed.then_some(side)
    }
}

/// One colour's blobs over the frames it counts in.
struct Track {
    colour: Colour,
    blobs: Vec<Blob>,
    /// Frames in which its blob touches another colour's.
    frames_joined: usize,
}

fn describe_object(track: &Track, geometry: &WorldConfig, pillar: Option<Pillar>) -> DetectedObject {
    let seen = &track.blobs;
    let clear: Vec<&Blob> = seen
        .iter()
        .filter(|blob| !blob.touches_border(geometry.height, geometry.width))
        .filter(|blob| pillar.is_none_or(|pillar| pillar.clear_side(blob).is_some()))
        .collect();
    let fit_frames: Vec<&Blob> = if clear.len() >= 2 { clear.clone() } else { seen.iter().collect() };
    let fit = fit_centroids(&fit_frames);
    let permanent = pillar.map(|pillar| is_permanent(seen, &clear, &pillar, fit.map(|fit| fit.velocity)));
    let shape = majority_shape(&clear);
    DetectedObject {
        colour: track.colour,
        shape,
        size: median_size(&clear, shape),
        motion: fit.map(|fit| motion_class(fit.velocity)),
        velocity: fit.map(|fit| fit.velocity),
        jitter: fit.map_or(0.0, |fit| fit.jitter),
        permanent,
        frames_seen: seen.len(),
        frames_clear: clear.len(),
        frames_joined: track.frames_joined,
    }
}

/// The shape one blob looks like, if any.
fn blob_shape(blob: &Blob) -> Option<Shape> {
    if blob.width() < 3 || blob.height() < 3 {
        None
    } else if blob.top_to_bottom_ratio() < TRIANGLE_TOP_RATIO {
        Some(Shape::Triangle)
    } else if blob.fill_ratio() >= SQUARE_FILL {
        Some(Shape::Square)
    } else if blob.fill_ratio() >= CIRCLE_FILL {
        Some(Shape::Circle)
    } else {
        None
    }
}

/// The shape more than half of the blobs agree on.
fn majority_shape(blobs: &[&Blob]) -> Option<Shape> {
    Shape::ALL.into_iter().find(|shape| {
        let votes = blobs.iter().filter(|blob| blob_shape(blob) == Some(*shape)).count();
        2 * votes > blobs.len()
    })
}

/// The size class nearest to the median side length of the blobs.
///
/// With a known shape the side comes from the area (`side² × fill`, where a square fills 1, a disc
/// π/4 and a triangle 1/2 of its box), which is robust to soft edges that trim a triangle's corners;
/// otherwise it is the bounding box's longer side.
fn median_size(blobs: &[&Blob], shape: Option<Shape>) -> Option<Size> {
    let side = |blob: &Blob| match shape {
        Some(shape) => (blob.solid_area() as f32 / shape_fill(shape)).sqrt(),
        None => blob.width().max(blob.height()) as f32,
    };
    let mut sides: Vec<f32> = blobs.iter().map(|blob| side(blob)).collect();
    sides.sort_unstable_by(f32::total_cmp);
    let median = *sides.get(sides.len() / 2)?;
    Size::ALL.into_iter().min_by(|a, b| (a.pixels() - median).abs().total_cmp(&(b.pixels() - median).abs()))
}

/// The share of its bounding box a shape fills.
fn shape_fill(shape: Shape) -> f32 {
    match shape {
        Shape::Square => 1.0,
        Shape::Circle => std::f32::consts::FRAC_PI_4,
        Shape::Triangle => 0.5,
    }
}

/// Direction and speed class of a velocity in px/frame.
fn motion_class((dx, dy): (f32, f32)) -> Motion {
    let speed = dx.hypot(dy);
    if speed < STILL_SPEED {
        return Motion::Still;
    }
    let direction = match (dx.abs() >= dy.abs(), dx >= 0.0, dy >= 0.0) {
        (true, true, _) => Direction::Right,
        (true, false, _) => Direction::Left,
        (false, _, true) => Direction::Down,
        (false, _, false) => Direction::Up,
    };
    let class = Speed::ALL
        .into_iter()
        .min_by(|a, b| (a.pixels_per_frame() - speed).abs().total_cmp(&(b.pixels_per_frame() - speed).abs()))
        .unwrap_or(Speed::Default);
    Motion::Moves(direction, class)
}

/// A centroid track's least-squares line.
#[derive(Clone, Copy, Debug)]
struct TrackFit {
    velocity: (f32, f32),
    jitter: f32,
}

fn fit_centroids(blobs: &[&Blob]) -> Option<TrackFit> {
    let centroids: Vec<(f32, (f32, f32))> =
        blobs.iter().map(|blob| (blob.frame as f32, blob.centroid())).collect();
    let x = fit_line(&centroids.iter().map(|&(t, (x, _))| (t, x)).collect::<Vec<_>>())?;
    let y = fit_line(&centroids.iter().map(|&(t, (_, y))| (t, y)).collect::<Vec<_>>())?;
    let squared_residuals: f32 =
        centroids.iter().map(|&(t, (cx, cy))| (cx - x.at(t)).powi(2) + (cy - y.at(t)).powi(2)).sum();
    let jitter = (squared_residuals / centroids.len() as f32).sqrt();
    Some(TrackFit { velocity: (x.slope, y.slope), jitter })
}

/// `value = intercept + slope * t`.
#[derive(Clone, Copy, Debug)]
struct Line {
    intercept: f32,
    slope: f32,
}

impl Line {
    fn at(&self, t: f32) -> f32 {
        self.intercept + self.slope * t
    }
}

/// Least-squares line through `(t, value)` points; `None` with fewer than two distinct `t`.
fn fit_line(points: &[(f32, f32)]) -> Option<Line> {
    let count = points.len() as f32;
    let mean_t = points.iter().map(|point| point.0).sum::<f32>() / count;
    let mean_value = points.iter().map(|point| point.1).sum::<f32>() / count;
    let spread: f32 = points.iter().map(|point| (point.0 - mean_t).powi(2)).sum();
    if spread.is_nan() || spread <= 0.0 {
        return None;
    }
    let covariance: f32 = points.iter().map(|point| (point.0 - mean_t) * (point.1 - mean_value)).sum();
    let slope = covariance / spread;
    Some(Line { intercept: mean_value - slope * mean_t, slope })
}

/// Whether the object crosses the pillar once and comes out unchanged and on course.
fn is_permanent(seen: &[Blob], clear: &[&Blob], pillar: &Pillar, clip_velocity: Option<(f32, f32)>) -> bool {
    let sides: Vec<(Side, &Blob)> =
        clear.iter().filter_map(|blob| Some((pillar.clear_side(blob)?, *blob))).collect();
    let Some(&(entry, _)) = sides.first() else { return false };
    let Some(switch) = sides.iter().position(|(side, _)| *side != entry) else { return false };
    let (before, after) = sides.split_at(switch);
    if after.iter().any(|(side, _)| *side == entry) {
        return false;
    }
    let before: Vec<&Blob> = before.iter().map(|(_, blob)| *blob).collect();
    let after: Vec<&Blob> = after.iter().map(|(_, blob)| *blob).collect();
    let (shape_before, shape_after) = (majority_shape(&before), majority_shape(&after));
    let same_shape = shape_before.is_some() && shape_before == shape_after;
    let size_before = median_size(&before, shape_before);
    let same_size = size_before.is_some() && size_before == median_size(&after, shape_after);
    same_shape
        && same_size
        && reappears_on_course(seen, &before, after[0], entry, pillar.columns, clip_velocity)
}

/// Whether the object at `reappeared` is where its motion before the occlusion predicts, within
/// [`PERMANENCE_TOLERANCE`] px.
///
/// Horizontally, the trailing edge is tracked (the blob's left column when moving right, its right
/// column when moving left): it stays visible until it reaches the pillar, so it is fitted over every
/// frame before then. Vertically, the centroid is fitted over the clear frames before the pillar.
/// With a single frame to go on, the clip-wide velocity is used instead.
fn reappears_on_course(
    seen: &[Blob],
    before: &[&Blob],
    reappeared: &Blob,
    entry: Side,
    (pillar_left, pillar_right): (usize, usize),
    clip_velocity: Option<(f32, f32)>,
) -> bool {
    let trailing_edge = |blob: &Blob| match entry {
        Side::Left => blob.left as f32,
        Side::Right => blob.right as f32,
    };
    let trailing_edge_visible = |blob: &Blob| match entry {
        Side::Left => blob.left < pillar_left,
        Side::Right => blob.right >= pillar_right,
    };
    let first_frame = before[0].frame;
    let edge_track: Vec<(f32, f32)> = seen
        .iter()
        .filter(|blob| (first_frame..reappeared.frame).contains(&blob.frame) && trailing_edge_visible(blob))
        .map(|blob| (blob.frame as f32, trailing_edge(blob)))
        .collect();
    let height_track: Vec<(f32, f32)> =
        before.iter().map(|blob| (blob.frame as f32, blob.centroid().1)).collect();
    let last = before[before.len() - 1];
    let elapsed = (reappeared.frame - last.frame) as f32;
    let extrapolate = |track: &[(f32, f32)], value: f32, velocity: Option<f32>| match fit_line(track) {
        Some(line) => Some(line.at(reappeared.frame as f32)),
        None => velocity.map(|velocity| value + velocity * elapsed),
    };
    let (Some(edge), Some(height)) = (
        extrapolate(&edge_track, trailing_edge(last), clip_velocity.map(|velocity| velocity.0)),
        extrapolate(&height_track, last.centroid().1, clip_velocity.map(|velocity| velocity.1)),
    ) else {
        return false;
    };
    let miss = (edge - trailing_edge(reappeared)).hypot(height - reappeared.centroid().1);
    miss <= PERMANENCE_TOLERANCE
}
