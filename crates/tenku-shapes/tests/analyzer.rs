//! The analyzer and metrics against rendered ground truth, degraded clips and deliberate mistakes.

use ndarray::{Array4, Axis, Slice, s};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tenku_shapes::{
    Background, Colour, Direction, Metrics, Motion, Scene, SceneSpec, Shape, Size, Speed, WorldConfig,
    analyze, random_captions, score,
};

fn placed(specs: Vec<SceneSpec>) -> Vec<Scene> {
    specs
        .into_iter()
        .enumerate()
        .map(|(seed, spec)| Scene::place(spec, WorldConfig::default(), seed as u64).unwrap())
        .collect()
}

/// Scores every scene's (possibly degraded) render, reporting the clips that missed anything.
fn evaluate(scenes: &[Scene], degrade: impl Fn(Array4<f32>, u64) -> Array4<f32>) -> (Metrics, Vec<String>) {
    let mut metrics = Metrics::default();
    let mut misses = Vec::new();
    for (index, scene) in scenes.iter().enumerate() {
        let clip = degrade(scene.render(), index as u64);
        let analysis = analyze(clip.view(), &scene.config);
        let clip_score = score(&scene.spec, &analysis);
        let objects_right = clip_score.objects.iter().all(|object| {
            object.found
                && object.shape_correct
                && object.size_correct
                && object.direction_correct
                && object.speed_correct != Some(false)
                && object.permanent != Some(false)
        });
        if !(objects_right
            && clip_score.count_correct
            && clip_score.background_correct
            && clip_score.pillar_correct)
        {
            misses.push(format!("{} (seed {index}): {analysis:?}", scene.spec));
        }
        metrics.add(&clip_score);
    }
    (metrics, misses)
}

/// Separable [1, 2, 1] / 4 blur of every frame (edges clamped): a one-pixel blur.
fn blur(clip: Array4<f32>) -> Array4<f32> {
    let blur_axis = |clip: Array4<f32>, axis: usize| {
        let length = clip.shape()[axis];
        let mut blurred = clip.clone() * 0.5;
        for (target, source) in [(1..length, 0..length - 1), (0..length - 1, 1..length)] {
            let source = clip.slice_axis(Axis(axis), Slice::from(source));
            blurred.slice_axis_mut(Axis(axis), Slice::from(target)).scaled_add(0.25, &source);
        }
        for edge in [0, length - 1] {
            let edge = Slice::from(edge..edge + 1);
            blurred.slice_axis_mut(Axis(axis), edge).scaled_add(0.25, &clip.slice_axis(Axis(axis), edge));
        }
        blurred
    };
    blur_axis(blur_axis(clip, 1), 2)
}

/// Adds seeded, approximately Gaussian noise of standard deviation `sigma` and clamps to [0, 1].
///
/// Each sample is the Irwin–Hall sum of four 16-bit uniforms from one `u64` (variance 1/3 before
/// scaling): cheap, and close enough to normal for a robustness test.
fn add_noise(mut clip: Array4<f32>, sigma: f32, seed: u64) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = sigma * 3f32.sqrt() / 65535.0;
    for value in clip.iter_mut() {
        let bits: u64 = rng.random();
        let sum: u64 = (0..4).map(|quarter| (bits >> (16 * quarter)) & 0xffff).sum();
        let centred = sum as f32 - 2.0 * 65535.0;
        *value = (*value + scale * centred).clamp(0.0, 1.0);
    }
    clip
}

#[test]
fn ground_truth_scores_perfectly() {
    let scenes = placed(random_captions(320, 2024));
    let (metrics, misses) = evaluate(&scenes, |clip, _| clip);
    let table = metrics.table();
    assert!(misses.is_empty(), "{table}\n{}", misses.join("\n"));
    for (name, tally, _) in metrics.tallies() {
        assert!(tally.total > 0, "{name} was never measured\n{table}");
        assert_eq!(tally.accuracy(), Some(1.0), "{name}\n{table}");
    }
    let jitter = metrics.jitter.mean().unwrap();
    assert!(jitter < 0.2, "mean jitter {jitter}\n{table}");
    assert_eq!(metrics.jitter.objects, metrics.colour.total);
}

#[test]
fn ground_truth_scores_perfectly_in_other_frame_sizes() {
    let config = WorldConfig { frames: 21, height: 96, width: 72, fps: 4.0 };
    let mut metrics = Metrics::default();
    for (seed, spec) in random_captions(80, 31).into_iter().enumerate() {
        let scene = Scene::place(spec, config, seed as u64).unwrap();
        metrics.add(&score(&scene.spec, &analyze(scene.render().view(), &config)));
    }
    for (name, tally, _) in metrics.tallies() {
        assert_eq!(tally.accuracy(), Some(1.0), "{name}\n{}", metrics.table());
    }
}

#[test]
fn ground_truth_jitter_stays_below_rasterisation_error() {
    for scene in placed(random_captions(60, 77)) {
        let analysis = analyze(scene.render().view(), &scene.config);
        for object in &analysis.objects {
            assert!(object.jitter < 0.35, "{}: {object:?}", scene.spec);
            if object.motion == Some(Motion::Still) {
                assert!(object.jitter < 1e-4, "{}: {object:?}", scene.spec);
            }
        }
    }
}

#[test]
fn blurred_noisy_clips_still_score_at_least_95_percent() {
    let scenes = placed(random_captions(160, 99));
    let (metrics, misses) = evaluate(&scenes, |clip, seed| add_noise(blur(clip), 0.05, seed));
    let table = metrics.table();
    println!("{table}\n{}", misses.join("\n"));
    for (name, tally, _) in metrics.tallies() {
        let accuracy = tally.accuracy().unwrap();
        assert!(accuracy >= 0.95, "{name}: {accuracy}\n{table}\n{}", misses.join("\n"));
    }
    assert!(metrics.jitter.mean().unwrap() < 0.5, "{table}");
}

/// Three [1, 2, 1] blurs (a Gaussian of σ ≈ 1.2 px) leave a square's corners rounded but its
/// sides where they were: the analyzer must still read shapes and sizes (a decoder that draws
/// objects round or large is measured as such, not excused by soft edges).
#[test]
fn softly_blurred_clips_keep_their_shapes_and_sizes() {
    let scenes = placed(random_captions(160, 5));
    let (metrics, misses) = evaluate(&scenes, |clip, _| blur(blur(blur(clip))));
    let table = metrics.table();
    for (name, tally) in [("shape", metrics.shape), ("size", metrics.size)] {
        assert_eq!(tally.accuracy(), Some(1.0), "{name}\n{table}\n{}", misses.join("\n"));
    }
}

/// The metrics index confusions by discriminant, which must be the class's place in `ALL`.
#[test]
fn confusion_columns_follow_the_all_order() {
    assert!(Shape::ALL.iter().enumerate().all(|(index, shape)| *shape as usize == index));
    assert!(Size::ALL.iter().enumerate().all(|(index, size)| *size as usize == index));
}

#[test]
fn empty_and_malformed_clips_have_no_objects() {
    let config = WorldConfig::default();
    let black = Array4::<f32>::zeros((17, 64, 64, 3));
    let analysis = analyze(black.view(), &config);
    assert_eq!((analysis.background, analysis.pillar, analysis.objects.len()), (Background::Black, false, 0));
    let white = Array4::<f32>::ones((17, 64, 64, 3));
    assert_eq!(analyze(white.view(), &config).background, Background::White);
    let speckled = add_noise(Array4::<f32>::zeros((17, 64, 64, 3)), 0.3, 1);
    assert!(analyze(speckled.view(), &config).objects.is_empty());
    let four_channels = Array4::<f32>::zeros((17, 64, 64, 4));
    assert!(analyze(four_channels.view(), &config).objects.is_empty());
    let nothing = Array4::<f32>::zeros((0, 64, 64, 3));
    assert!(analyze(nothing.view(), &config).objects.is_empty());
}

#[test]
fn wrong_captions_score_wrong() {
    let scene = Scene::place(
        "a small blue square moves up quickly and a big yellow triangle stays still".parse().unwrap(),
        WorldConfig::default(),
        3,
    )
    .unwrap();
    let analysis = analyze(scene.render().view(), &scene.config);
    let right = score(&scene.spec, &analysis);
    assert!(right.objects.iter().all(|object| object.found && object.shape_correct && object.size_correct));

    let mut wrong = scene.spec.clone();
    wrong.objects[0].shape = Shape::Circle;
    wrong.objects[0].size = Size::Big;
    wrong.objects[0].motion = Motion::Moves(Direction::Up, Speed::Slow);
    wrong.objects[1].colour = Colour::Red;
    wrong.objects[1].motion = Motion::Moves(Direction::Left, Speed::Default);
    wrong.background = Background::White;
    let clip_score = score(&wrong, &analysis);
    let (blue, red) = (&clip_score.objects[0], &clip_score.objects[1]);
    assert!(blue.found && !blue.shape_correct && !blue.size_correct);
    assert!(blue.direction_correct && blue.speed_correct == Some(false));
    assert!(!red.found && !red.shape_correct && !red.direction_correct);
    assert!(clip_score.count_correct && !clip_score.background_correct);

    assert_eq!((blue.shape, blue.detected_shape), (Shape::Circle, Some(Shape::Square)));
    assert_eq!((blue.size, blue.detected_size), (Size::Big, Some(Size::Small)));
    assert_eq!((red.detected_shape, red.detected_size), (None, None));

    let mut metrics = Metrics::default();
    metrics.add(&clip_score);
    // Rows: the caption's class; columns: the detected one, then "not read" (classes in ALL order).
    assert_eq!(metrics.shape_confusion.counts, [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]);
    assert_eq!(metrics.size_confusion.counts, [[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]]);
    // Both caption objects are big (Size::ALL: small, default, big), and neither shape was read right.
    assert_eq!(metrics.shape_by_size.map(|tally| (tally.correct, tally.total)), [(0, 0), (0, 0), (0, 2)]);
    let mut with_the_right_caption = metrics.clone();
    with_the_right_caption.add(&right);
    let by_size = with_the_right_caption.shape_by_size.map(|tally| (tally.correct, tally.total));
    assert_eq!(by_size, [(1, 1), (0, 0), (1, 3)], "the small square and the big triangle read right");
    assert_eq!(metrics.colour.accuracy(), Some(0.5));
    assert_eq!(metrics.permanence.accuracy(), None);
    let table = metrics.table();
    assert!(table.contains("colour") && table.contains("50.0 %") && table.contains("n/a"), "{table}");
    assert_eq!((metrics.count_over, metrics.count_under), (0, 0));
    let mut one_object = wrong.clone();
    one_object.objects.truncate(1);
    let mut three_objects = wrong.clone();
    three_objects.objects.push(wrong.objects[1]);
    metrics.add(&score(&one_object, &analysis));
    metrics.add(&score(&three_objects, &analysis));
    assert_eq!((metrics.count_over, metrics.count_under), (1, 1));
    let table_now = metrics.table();
    for row in ["count over           1  clips with more", "count under          1  clips with fewer"] {
        assert!(table_now.contains(row), "{row:?} in\n{table_now}");
    }
    for row in ["small              n/a  0 objects", "big              0.0 %  2 objects"] {
        assert!(table.contains(row), "{row:?} in\n{table}");
    }
    let square_row = table.lines().find(|line| line.starts_with("square")).expect("a square row");
    assert_eq!(square_row.split_whitespace().collect::<Vec<_>>(), ["square", "0", "0", "0", "0", "n/a"]);
    assert!(table.contains("circle") && table.contains("big") && table.contains("none"), "{table}");
    let json = serde_json::to_value(&metrics).unwrap();
    assert_eq!(json["colour"]["accuracy"], serde_json::json!(0.5));
    assert_eq!(json["permanence"]["accuracy"], serde_json::Value::Null);
}

/// Pillar scenes doctored after rendering: an object that changes behind the pillar, or comes out
/// off course, or never comes out, is not permanent.
#[test]
fn broken_occlusions_are_not_permanent() {
    let spec: SceneSpec = "a red square moves right behind a gray pillar".parse().unwrap();
    let scene = Scene::place(spec, WorldConfig::default(), 8).unwrap();
    let clip = scene.render();
    let permanent = |clip: &Array4<f32>| -> Option<bool> {
        let analysis = analyze(clip.view(), &scene.config);
        analysis
            .objects
            .iter()
            .find(|object| object.colour == Colour::Red)
            .and_then(|object| object.permanent)
    };
    assert_eq!(permanent(&clip), Some(true));

    // Right of the pillar the square turns into a circle of the same size.
    let mut changed = clip.clone();
    let circle = Scene { spec: "a red circle stays still".parse().unwrap(), ..scene.clone() };
    for frame in 0..17 {
        let (x, y) = scene.centre(0, frame);
        if x - 7.0 > 40.0 {
            let still = Scene { starts: vec![(x, y)], ..circle.clone() };
            let drawn = still.render();
            let mut target = changed.slice_mut(s![frame, .., 40.., ..]);
            target.assign(&drawn.slice(s![0, .., 40.., ..]));
        }
    }
    assert_eq!(permanent(&changed), Some(false));

    // Right of the pillar the clip runs 3 frames late: it reappears 7.5 px behind schedule.
    let mut late = clip.clone();
    for frame in 3..17 {
        let earlier = clip.slice(s![frame - 3, .., 40.., ..]).to_owned();
        late.slice_mut(s![frame, .., 40.., ..]).assign(&earlier);
    }
    assert_eq!(permanent(&late), Some(false));

    // Right of the pillar everything moves 8 rows vertically: off course.
    let shift = if scene.starts[0].1 < 32.0 { 8 } else { -8isize };
    let mut jumped = clip.clone();
    jumped.slice_mut(s![.., .., 40.., ..]).fill(0.0);
    for row in 0..64isize {
        let source = clip.slice(s![.., row, 40.., ..]);
        if (0..64).contains(&(row + shift)) {
            jumped.slice_mut(s![.., row + shift, 40.., ..]).assign(&source);
        }
    }
    assert_eq!(permanent(&jumped), Some(false));

    // Never comes out.
    let mut vanished = clip.clone();
    vanished.slice_mut(s![.., .., 40.., ..]).fill(0.0);
    assert_eq!(permanent(&vanished), Some(false));
}

/// A soft edge where a partly hidden object meets the pillar (the column beside the pillar a mix
/// of object and pillar, matching neither) leaves the visible part one column away from the
/// pillar; it must still count as hidden, not as a whole object clear of the pillar.
#[test]
fn a_soft_edge_against_the_pillar_does_not_make_a_partly_hidden_object_clear() {
    let spec: SceneSpec = "a red square moves left behind a gray pillar".parse().unwrap();
    let scene = Scene::place(spec, WorldConfig::default(), 3).unwrap();
    let clip = scene.render();
    let (left, right) = scene.config.pillar_columns();
    let red = [1.0, 0.0, 0.0];
    let mut softened = clip.clone();
    let mut blended = 0;
    for frame in 0..scene.config.frames {
        for row in 0..scene.config.height {
            for column in [left - 1, right] {
                let pixel = softened.slice(s![frame, row, column, ..]).to_vec();
                if pixel == red {
                    softened
                        .slice_mut(s![frame, row, column, ..])
                        .assign(&ndarray::arr1(&[0.75, 0.25, 0.25]));
                    blended += 1;
                }
            }
        }
    }
    assert!(blended > 0, "the square passes the pillar's edges");
    let red_object = |clip: &Array4<f32>| {
        let analysis = analyze(clip.view(), &scene.config);
        analysis.objects.into_iter().find(|object| object.colour == Colour::Red).expect("the red square")
    };
    let (truth, soft) = (red_object(&clip), red_object(&softened));
    assert_eq!(soft.frames_clear, truth.frames_clear, "{soft:?} against {truth:?}");
    assert_eq!((soft.shape, soft.permanent), (Some(Shape::Square), Some(true)), "{soft:?}");
}

/// An object drawn in two colours, one of them named by no caption object, counts as two objects
/// and the second is reported as a patch joined to the first; a second object drawn apart is not.
#[test]
fn a_patch_of_another_colour_on_an_object_is_told_apart_from_an_object_of_its_own() {
    let spec: SceneSpec = "a big yellow square moves right and a blue circle stays still".parse().unwrap();
    let scene = Scene::place(spec, WorldConfig::default(), 5).unwrap();
    let clip = scene.render();
    let truth = analyze(clip.view(), &scene.config);
    assert!(truth.objects.iter().all(|object| object.frames_joined == 0), "{truth:?}");

    let (yellow, orange) = (Colour::Yellow.unit_rgb(), Colour::Orange.unit_rgb());
    let mut two_tone = clip.clone();
    for frame in 0..scene.config.frames {
        let columns: Vec<usize> = (0..scene.config.width)
            .filter(|&column| {
                (0..scene.config.height).any(|row| clip.slice(s![frame, row, column, ..]).to_vec() == yellow)
            })
            .collect();
        let right = *columns.last().expect("the square is in every frame");
        for row in 0..scene.config.height {
            for column in right - 2..=right {
                if clip.slice(s![frame, row, column, ..]).to_vec() == yellow {
                    two_tone.slice_mut(s![frame, row, column, ..]).assign(&ndarray::arr1(&orange));
                }
            }
        }
    }
    let analysis = analyze(two_tone.view(), &scene.config);
    let patch =
        analysis.objects.iter().find(|object| object.colour == Colour::Orange).expect("an orange patch");
    assert!(patch.is_patch() && patch.frames_seen == scene.config.frames, "{patch:?}");
    let patched = score(&scene.spec, &analysis);
    assert_eq!((patched.detected_objects, patched.extra_patches), (3, 1));

    let mut named = scene.spec.clone();
    named.objects[1].colour = Colour::Orange;
    assert_eq!(score(&named, &analysis).extra_patches, 0, "a named colour is not an extra object");
    let mut alone = scene.spec.clone();
    alone.objects.truncate(1);
    let mut metrics = Metrics::default();
    metrics.add(&patched);
    metrics.add(&score(&alone, &truth));
    assert_eq!((metrics.count_over, metrics.count_over_patches), (2, 1), "{}", metrics.table());
    assert!(metrics.table().contains("  patches            1  of them"), "{}", metrics.table());
}
