//! The deterministic, hard-edged renderer.

use ndarray::{Array4, ArrayViewMut3, Axis, s};

use crate::attributes::{PILLAR_GRAY, Shape, unit_rgb};
use crate::scene::{BoundingBox, Scene};

impl Scene {
    /// Renders RGB frames `[frames, height, width, 3]` with values in [0, 1] (rgb / 255).
    ///
    /// Pixel `(col, row)` takes an object's colour when its centre `(col + 0.5, row + 0.5)` lies inside
    /// the shape (no anti-aliasing); the pillar is drawn over the objects.
    pub fn render(&self) -> Array4<f32> {
        let config = self.config;
        let mut clip = Array4::zeros((config.frames, config.height, config.width, 3));
        let background = unit_rgb(self.spec.background.rgb());
        for (frame, mut image) in clip.axis_iter_mut(Axis(0)).enumerate() {
            fill_columns(&mut image, 0, config.width, background);
            for (index, object) in self.spec.objects.iter().enumerate().take(self.starts.len()) {
                let bounds = self.bounding_box(index, frame);
                draw_shape(&mut image, object.shape, bounds, object.colour.unit_rgb());
            }
            if self.spec.pillar {
                let (left, right) = config.pillar_columns();
                fill_columns(&mut image, left, right, unit_rgb(PILLAR_GRAY));
            }
        }
        clip
    }
}

/// Whether the point `(x, y)` lies inside `shape` drawn in the square `bounds`.
pub(crate) fn shape_contains(shape: Shape, bounds: BoundingBox, (x, y): (f32, f32)) -> bool {
    let inside_box = bounds.left <= x && x < bounds.right && bounds.top <= y && y < bounds.bottom;
    if !inside_box {
        return false;
    }
    let centre_x = (bounds.left + bounds.right) / 2.0;
    match shape {
        Shape::Square => true,
        Shape::Circle => {
            let radius = (bounds.right - bounds.left) / 2.0;
            let centre_y = (bounds.top + bounds.bottom) / 2.0;
            (x - centre_x).powi(2) + (y - centre_y).powi(2) < radius * radius
        }
        // The half-width grows from 0 at the apex to size / 2 at the base, over a height of size.
        Shape::Triangle => (x - centre_x).abs() < (y - bounds.top) / 2.0,
    }
}

fn draw_shape(image: &mut ArrayViewMut3<f32>, shape: Shape, bounds: BoundingBox, colour: [f32; 3]) {
    let (height, width) = (image.shape()[0], image.shape()[1]);
    let span = |low: f32, high: f32, extent: usize| {
        (low.floor().max(0.0) as usize, (high.ceil().max(0.0) as usize).min(extent))
    };
    let (columns, rows) = (span(bounds.left, bounds.right, width), span(bounds.top, bounds.bottom, height));
    for row in rows.0..rows.1 {
        for column in columns.0..columns.1 {
            if shape_contains(shape, bounds, (column as f32 + 0.5, row as f32 + 0.5)) {
                image.slice_mut(s![row, column, ..]).assign(&ndarray::arr1(&colour));
            }
        }
    }
}

fn fill_columns(image: &mut ArrayViewMut3<f32>, left: usize, right: usize, colour: [f32; 3]) {
    for (channel, value) in colour.into_iter().enumerate() {
        image.slice_mut(s![.., left..right, channel]).fill(value);
    }
}
