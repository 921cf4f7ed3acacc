//! A regression check of the shipped default model (`models/tenku-shapes`): a handful of fixed
//! prompts, generated and analyzed. The floors sit well below what the model reaches (see
//! docs/shapes.md) and far above what a broken loader, sampler or VAE gives (0–20 %).

use std::path::Path;

use burn::tensor::Device;
use tenku_shapes::SceneSpec;
use tenku_train::eval::{EvalOptions, evaluate};

const PROMPTS: [&str; 6] = [
    "a red circle moves left",
    "a blue square moves right",
    "a big yellow triangle stays still",
    "a small green circle moves up and a magenta square moves down",
    "a cyan square moves right behind a gray pillar",
    "a orange circle moves left on a white background",
];

#[test]
fn the_shipped_model_draws_what_fixed_prompts_say() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tenku-shapes");
    let pipeline = tenku_pipeline::load_wan(&model, &Device::flex()).expect("the shipped model loads");
    let captions: Vec<SceneSpec> = PROMPTS.iter().map(|p| p.parse().expect("a grammar caption")).collect();
    let report = evaluate(&pipeline, &captions, &EvalOptions::default(), &mut |_, _, _| {}).unwrap();
    let metrics = &report.metrics;
    eprintln!("{}", metrics.table());
    for (name, tally, floor) in [
        ("colour", &metrics.colour, 0.7),
        ("direction", &metrics.direction, 0.5),
        ("count", &metrics.count, 0.5),
        ("background", &metrics.background, 0.8),
    ] {
        let accuracy = tally.accuracy().expect("measured");
        assert!(accuracy >= floor, "{name} accuracy {accuracy} below {floor}:\n{}", metrics.table());
    }
}
