//! Placement and rendering of the shapes world, checked from the public API only.

use ndarray::{Array4, s};
use tenku_shapes::{Background, PlaceError, Scene, SceneSpec, Size, WorldConfig, random_captions};

const PILLAR_LEFT: f32 = 24.0;
const PILLAR_RIGHT: f32 = 40.0;

/// `(left, right, top, bottom)` of object `index` at `frame`.
fn bounds(scene: &Scene, index: usize, frame: usize) -> (f32, f32, f32, f32) {
    let (x, y) = scene.centre(index, frame);
    let half = scene.spec.objects[index].size.pixels() / 2.0;
    (x - half, x + half, y - half, y + half)
}

fn pixel(clip: &Array4<f32>, frame: usize, row: usize, column: usize) -> [u8; 3] {
    let values = clip.slice(s![frame, row, column, ..]);
    [0, 1, 2].map(|channel| (values[channel] * 255.0).round() as u8)
}

/// Pixels of `rgb` in frame `frame`, as `(row, column)`.
fn pixels_of(clip: &Array4<f32>, frame: usize, rgb: [u8; 3]) -> Vec<(usize, usize)> {
    let (height, width) = (clip.shape()[1], clip.shape()[2]);
    (0..height)
        .flat_map(|row| (0..width).map(move |column| (row, column)))
        .filter(|&(row, column)| pixel(clip, frame, row, column) == rgb)
        .collect()
}

#[test]
fn placements_keep_objects_inside_apart_and_crossing_the_pillar() {
    let config = WorldConfig::default();
    for (seed, spec) in random_captions(2000, 5).into_iter().enumerate() {
        let caption = spec.caption();
        let scene = Scene::place(spec, config, seed as u64).unwrap_or_else(|error| panic!("{error}"));
        let count = scene.spec.objects.len();
        for frame in 0..config.frames {
            for index in 0..count {
                let (left, right, top, bottom) = bounds(&scene, index, frame);
                assert!(
                    left >= 0.0 && right <= 64.0 && top >= 0.0 && bottom <= 64.0,
                    "{caption} leaves the frame"
                );
            }
            if count == 2 {
                let (a, b) = (bounds(&scene, 0, frame), bounds(&scene, 1, frame));
                let gap = (b.0 - a.1).max(a.0 - b.1).max((b.2 - a.3).max(a.2 - b.3));
                assert!(gap >= 1.0, "{caption}: objects {gap} px apart at frame {frame}");
            }
        }
        if scene.spec.pillar {
            let last = config.frames - 1;
            let (first, end) = (bounds(&scene, 0, 0), bounds(&scene, 0, last));
            let left_then_right = first.1 <= PILLAR_LEFT - 1.0 && end.0 >= PILLAR_RIGHT + 1.0;
            let right_then_left = first.0 >= PILLAR_RIGHT + 1.0 && end.1 <= PILLAR_LEFT - 1.0;
            assert!(left_then_right || right_then_left, "{caption}: does not cross the pillar in full view");
            let hidden = (0..=last).any(|frame| {
                let (left, right, _, _) = bounds(&scene, 0, frame);
                left >= PILLAR_LEFT && right <= PILLAR_RIGHT
            });
            assert!(hidden || scene.spec.objects[0].size == Size::Big, "{caption}: never hidden");
            // The same, on the pixels.
            let clip = scene.render();
            let colour = scene.spec.objects[0].colour.rgb();
            let near_pillar =
                |frame| pixels_of(&clip, frame, colour).iter().any(|&(_, col)| (23..=40).contains(&col));
            assert!(!near_pillar(0) && !near_pillar(last), "{caption}: touches the pillar at the ends");
            let area = scene.spec.objects[0].size.pixels().powi(2);
            assert!(
                !pixels_of(&clip, 0, colour).is_empty()
                    && (pixels_of(&clip, 0, colour).len() as f32) < area + 1.0
            );
            let hidden_pixels = (0..=last).any(|frame| pixels_of(&clip, frame, colour).is_empty());
            assert!(hidden_pixels || scene.spec.objects[0].size == Size::Big, "{caption}: never hidden");
        }
    }
}

#[test]
fn render_draws_objects_background_and_pillar() {
    for (seed, spec) in random_captions(300, 9).into_iter().enumerate() {
        let scene = Scene::place(spec, WorldConfig::default(), seed as u64).unwrap();
        let clip = scene.render();
        assert_eq!(clip.shape(), &[17, 64, 64, 3]);
        assert!(clip.iter().all(|value| (0.0..=1.0).contains(value)));
        for frame in [0, 8, 16] {
            assert_eq!(pixel(&clip, frame, 0, 0), scene.spec.background.rgb());
            assert_eq!(pixel(&clip, frame, 63, 63), scene.spec.background.rgb());
            for (index, object) in scene.spec.objects.iter().enumerate() {
                let (x, y) = scene.centre(index, frame);
                let (column, row) = (x as usize, y as usize);
                let behind_pillar = scene.spec.pillar && (24..40).contains(&column);
                let expected = if behind_pillar { [128, 128, 128] } else { object.colour.rgb() };
                assert_eq!(pixel(&clip, frame, row, column), expected, "{} frame {frame}", scene.spec);
            }
        }
        if scene.spec.pillar {
            for frame in 0..17 {
                for row in 0..64 {
                    assert_eq!(pixel(&clip, frame, row, 32), [128, 128, 128]);
                }
            }
        }
    }
}

#[test]
fn shapes_cover_the_expected_areas() {
    let cases = [
        ("a small red circle stays still", std::f32::consts::PI * 25.0, 4.0),
        ("a big red circle stays still", std::f32::consts::PI * 81.0, 6.0),
        ("a red square stays still", 196.0, 0.0),
        ("a small red square stays still", 100.0, 0.0),
        ("a red triangle stays still", 98.0, 10.0),
        ("a big red triangle stays still", 162.0, 12.0),
    ];
    for (caption, area, tolerance) in cases {
        for seed in 0..10 {
            let scene = Scene::place(caption.parse().unwrap(), WorldConfig::default(), seed).unwrap();
            let covered = pixels_of(&scene.render(), 0, [255, 0, 0]).len() as f32;
            assert!((covered - area).abs() <= tolerance, "{caption}: {covered} px, expected ≈{area}");
        }
    }
}

#[test]
fn triangles_point_up() {
    let scene =
        Scene::place("a big red triangle stays still".parse().unwrap(), WorldConfig::default(), 3).unwrap();
    let pixels = pixels_of(&scene.render(), 0, [255, 0, 0]);
    let top = pixels.iter().map(|p| p.0).min().unwrap();
    let bottom = pixels.iter().map(|p| p.0).max().unwrap();
    let width = |row| pixels.iter().filter(|p| p.0 == row).count();
    assert!(width(top) <= 2 && width(bottom) >= 16, "{} .. {}", width(top), width(bottom));
}

#[test]
fn rendering_is_deterministic_per_seed() {
    for spec in random_captions(50, 21) {
        let config = WorldConfig::default();
        let first = Scene::place(spec.clone(), config, 4).unwrap();
        let again = Scene::place(spec.clone(), config, 4).unwrap();
        let other = Scene::place(spec, config, 5).unwrap();
        assert_eq!(first, again);
        assert_eq!(first.render(), again.render());
        assert_ne!(first.starts, other.starts);
    }
}

#[test]
fn white_background_and_other_sizes_render() {
    let spec: SceneSpec = "a cyan square moves down slowly on a white background".parse().unwrap();
    assert_eq!(spec.background, Background::White);
    let config = WorldConfig { frames: 9, height: 48, width: 80, fps: 4.0 };
    let scene = Scene::place(spec, config, 0).unwrap();
    let clip = scene.render();
    assert_eq!(clip.shape(), &[9, 48, 80, 3]);
    assert_eq!(pixel(&clip, 0, 0, 0), [255, 255, 255]);
    assert_eq!(pixels_of(&clip, 8, [0, 220, 220]).len(), 196);
}

#[test]
fn placement_reports_impossible_worlds() {
    let fast_big: SceneSpec = "a big red square moves right quickly".parse().unwrap();
    let small = WorldConfig { frames: 17, height: 32, width: 32, fps: 8.0 };
    let error = Scene::place(fast_big.clone(), small, 0).unwrap_err();
    assert!(matches!(error, PlaceError::NoRoom { .. }), "{error}");
    assert!(error.to_string().contains("a big red square moves right quickly"), "{error}");
    let empty = WorldConfig { frames: 0, ..WorldConfig::default() };
    assert!(matches!(Scene::place(fast_big.clone(), empty, 0), Err(PlaceError::EmptyWorld { .. })));
    let mut two_reds = fast_big.clone();
    two_reds.objects.push(fast_big.objects[0]);
    assert!(matches!(Scene::place(two_reds, WorldConfig::default(), 0), Err(PlaceError::InvalidSpec(_))));
}
