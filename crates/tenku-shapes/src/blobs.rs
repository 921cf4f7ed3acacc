//! Pixel classification and connected components: the per-frame "blobs" the analyzer works on.

use ndarray::ArrayView3;

use crate::analyze::{MAX_COLOUR_RESIDUAL, MIN_COVERAGE, MIN_FRAME_AREA, SPECKLE_AREA};
use crate::attributes::Colour;

/// The palette as lines in RGB space from the background to each colour: a pixel belongs to a
/// colour when it is close to that line and at least [`MIN_COVERAGE`] of the way along it, which
/// also accepts a blurred edge pixel that is mostly object.
pub(crate) struct Palette {
    background: [f32; 3],
    /// Each colour with its direction from the background.
    lines: Vec<(Colour, [f32; 3])>,
    /// Pixels nearer than this to the background cannot reach [`MIN_COVERAGE`] on any line.
    background_radius_squared: f32,
}

impl Palette {
    /// The palette seen against `background`, leaving out colours indistinguishable from it.
    pub fn against(background: [f32; 3]) -> Self {
        let lines: Vec<(Colour, [f32; 3])> = Colour::ALL
            .into_iter()
            .map(|colour| (colour, sub(colour.unit_rgb(), background)))
            .filter(|(_, direction)| dot(*direction, *direction) > 0.1)
            .collect();
        let shortest =
            lines.iter().map(|(_, direction)| dot(*direction, *direction)).fold(f32::INFINITY, f32::min);
        Palette { background, lines, background_radius_squared: MIN_COVERAGE.powi(2) * shortest }
    }

    /// The colour that explains `pixel` best, if any explains it well enough.
    pub fn classify(&self, pixel: [f32; 3]) -> Option<Colour> {
        let offset = sub(pixel, self.background);
        // Coverage ≤ |offset| / |direction|, so pixels this close to the background match nothing.
        if dot(offset, offset) < self.background_radius_squared {
            return None;
        }
        let mut best: Option<(Colour, f32)> = None;
        for &(colour, direction) in &self.lines {
            let coverage = dot(offset, direction) / dot(direction, direction);
            if coverage.is_nan() || coverage < MIN_COVERAGE {
                continue;
            }
            let on_line = direction.map(|channel| channel * coverage.min(1.0));
            let residual = distance_squared(offset, on_line);
            if residual <= MAX_COLOUR_RESIDUAL.powi(2) && best.is_none_or(|(_, least)| residual < least) {
                best = Some((colour, residual));
            }
        }
        best.map(|(colour, _)| colour)
    }
}

/// One colour's pixels in one frame: the union of its connected components of at least
/// [`SPECKLE_AREA`] pixels.
#[derive(Clone, Debug)]
pub(crate) struct Blob {
    /// The frame index.
    pub frame: usize,
    /// `(row, column)` of every pixel.
    pub pixels: Vec<(usize, usize)>,
    /// Inclusive bounds.
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Blob {
    fn new(frame: usize, pixels: Vec<(usize, usize)>) -> Option<Self> {
        let top = pixels.iter().map(|pixel| pixel.0).min()?;
        let bottom = pixels.iter().map(|pixel| pixel.0).max()?;
        let left = pixels.iter().map(|pixel| pixel.1).min()?;
        let right = pixels.iter().map(|pixel| pixel.1).max()?;
        Some(Blob { frame, pixels, top, bottom, left, right })
    }

    pub fn area(&self) -> usize {
        self.pixels.len()
    }

    pub fn width(&self) -> usize {
        self.right - self.left + 1
    }

    pub fn height(&self) -> usize {
        self.bottom - self.top + 1
    }

    /// Mean pixel centre `(x, y)`.
    pub fn centroid(&self) -> (f32, f32) {
        let count = self.area() as f32;
        let (rows, columns) = self.pixels.iter().fold((0.0, 0.0), |(rows, columns), &(row, column)| {
            (rows + row as f32 + 0.5, columns + column as f32 + 0.5)
        });
        (columns / count, rows / count)
    }

    /// Whether any pixel lies on the outermost row or column of a `height × width` frame.
    pub fn touches_border(&self, height: usize, width: usize) -> bool {
        self.top == 0 || self.left == 0 || self.bottom + 1 >= height || self.right + 1 >= width
    }

    /// Pixels per row of the bounding box counted from each row's leftmost to its rightmost pixel,
    /// so that speckle holes inside the object do not count.
    pub fn row_spans(&self) -> Vec<usize> {
        let mut extents: Vec<Option<(usize, usize)>> = vec![None; self.height()];
        for &(row, column) in &self.pixels {
            let extent = &mut extents[row - self.top];
            *extent =
                Some(extent.map_or((column, column), |(low, high)| (low.min(column), high.max(column))));
        }
        extents.into_iter().map(|extent| extent.map_or(0, |(low, high)| high - low + 1)).collect()
    }

    /// The area inside the row spans (the pixel count with holes filled in).
    pub fn solid_area(&self) -> usize {
        self.row_spans().iter().sum()
    }

    /// Solid area over bounding-box area.
    pub fn fill_ratio(&self) -> f32 {
        self.solid_area() as f32 / (self.width() * self.height()) as f32
    }

    /// Mean row span in the top third of the bounding box over the same in the bottom third:
    /// about 0.2 for an apex-up triangle, about 1 for a circle or square.
    pub fn top_to_bottom_ratio(&self) -> f32 {
        let spans = self.row_spans();
        let third = (spans.len() / 3).max(1);
        let top: usize = spans[..third].iter().sum();
        let bottom: usize = spans[spans.len() - third..].iter().sum();
        top as f32 / bottom.max(1) as f32
    }
}

/// Classifies every pixel of `image` (`[height, width, 3]`) outside the `ignored` columns
/// `[left, right)` and returns, per colour present, the union of its 4-connected components of at
/// least [`SPECKLE_AREA`] pixels.
pub(crate) fn colour_blobs(
    frame: usize,
    image: ArrayView3<f32>,
    palette: &Palette,
    ignored: Option<(usize, usize)>,
) -> Vec<(Colour, Blob)> {
    let (height, width) = (image.shape()[0], image.shape()[1]);
    let mut labels: Vec<Option<Colour>> = (0..height * width)
        .map(|index| {
            let (row, column) = (index / width, index % width);
            if ignored.is_some_and(|(left, right)| (left..right).contains(&column)) {
                return None;
            }
            palette.classify([0, 1, 2].map(|channel| image[[row, column, channel]]))
        })
        .collect();
    absorb_stray_colours(&mut labels, width);
    let mut kept: Vec<(Colour, Vec<(usize, usize)>)> = Vec::new();
    let mut visited = vec![false; labels.len()];
    for seed in 0..labels.len() {
        let Some(colour) = labels[seed] else { continue };
        if visited[seed] {
            continue;
        }
        let component = flood_fill(seed, |label| label == Some(colour), &labels, &mut visited, width);
        if component.len() >= SPECKLE_AREA {
            let pixels = component.into_iter().map(|index| (index / width, index % width));
            match kept.iter_mut().find(|(kept_colour, _)| *kept_colour == colour) {
                Some((_, kept_pixels)) => kept_pixels.extend(pixels),
                None => kept.push((colour, pixels.collect())),
            }
        }
    }
    kept.into_iter().filter_map(|(colour, pixels)| Some((colour, Blob::new(frame, pixels)?))).collect()
}

/// Within each 4-connected region of coloured pixels whose most common colour holds at least
/// [`MIN_FRAME_AREA`] pixels (an object), a colour holding fewer is noise on that object: its pixels
/// take the most common colour. (Two objects that touch keep their own colours.)
fn absorb_stray_colours(labels: &mut [Option<Colour>], width: usize) {
    let mut visited = vec![false; labels.len()];
    for seed in 0..labels.len() {
        if labels[seed].is_none() || visited[seed] {
            continue;
        }
        let region = flood_fill(seed, |label| label.is_some(), labels, &mut visited, width);
        let mut counts: Vec<(Colour, usize)> = Vec::new();
        for colour in region.iter().filter_map(|&index| labels[index]) {
            match counts.iter_mut().find(|(counted, _)| *counted == colour) {
                Some((_, count)) => *count += 1,
                None => counts.push((colour, 1)),
            }
        }
        let Some(&(majority, majority_count)) = counts.iter().max_by_key(|(_, count)| *count) else {
            continue;
        };
        if majority_count < MIN_FRAME_AREA {
            continue;
        }
        let stray = |colour: Colour| {
            counts.iter().any(|&(counted, count)| counted == colour && count < MIN_FRAME_AREA)
        };
        for index in region {
            if labels[index].is_some_and(stray) {
                labels[index] = Some(majority);
            }
        }
    }
}

/// For each of one frame's `blobs` (in a `height × width` frame), whether a pixel of it is a
/// 4-neighbour of a pixel of another of them.
pub(crate) fn joined_blobs(blobs: &[&Blob], height: usize, width: usize) -> Vec<bool> {
    let mut owner: Vec<Option<usize>> = vec![None; height * width];
    for (index, blob) in blobs.iter().enumerate() {
        for &(row, column) in &blob.pixels {
            owner[row * width + column] = Some(index);
        }
    }
    (0..blobs.len())
        .map(|index| {
            blobs[index].pixels.iter().any(|&(row, column)| {
                neighbours(row * width + column, owner.len(), width)
                    .any(|neighbour| owner[neighbour].is_some_and(|other| other != index))
            })
        })
        .collect()
}

/// The 4-neighbours of pixel `index` in a row-major image of `len` pixels, `width` per row.
fn neighbours(index: usize, len: usize, width: usize) -> impl Iterator<Item = usize> {
    let (row, column) = (index / width, index % width);
    let height = len / width;
    [
        (row > 0).then(|| index - width),
        (row + 1 < height).then(|| index + width),
        (column > 0).then(|| index - 1),
        (column + 1 < width).then(|| index + 1),
    ]
    .into_iter()
    .flatten()
}

/// Indices of the 4-connected pixels around index `seed` whose labels satisfy `belongs`.
fn flood_fill(
    seed: usize,
    belongs: impl Fn(Option<Colour>) -> bool,
    labels: &[Option<Colour>],
    visited: &mut [bool],
    width: usize,
) -> Vec<usize> {
    let mut component = Vec::new();
    let mut stack = vec![seed];
    visited[seed] = true;
    while let Some(index) = stack.pop() {
        component.push(index);
        for neighbour in neighbours(index, labels.len(), width) {
            if !visited[neighbour] && belongs(labels[neighbour]) {
                visited[neighbour] = true;
                stack.push(neighbour);
            }
        }
    }
    component
}

pub(crate) fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn distance_squared(a: [f32; 3], b: [f32; 3]) -> f32 {
    let difference = sub(a, b);
    dot(difference, difference)
}

/// Squared RGB distance of `pixel` from the segment between `from` and `to`: from the nearest
/// mix of the two colours.
pub(crate) fn distance_squared_to_segment(pixel: [f32; 3], from: [f32; 3], to: [f32; 3]) -> f32 {
    let (direction, offset) = (sub(to, from), sub(pixel, from));
    let length_squared = dot(direction, direction);
    let along =
        if length_squared > 0.0 { (dot(offset, direction) / length_squared).clamp(0.0, 1.0) } else { 0.0 };
    distance_squared(offset, direction.map(|channel| channel * along))
}
