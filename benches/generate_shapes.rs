//! Generating one 17-frame 64×64 clip with the embedded default model: 20 UniPC steps with
//! the model's guidance (40 transformer passes, the CLI's defaults), then the VAE decode.
//!
//! `cargo bench -p tenku-train --bench generate_shapes`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::path::Path;

use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use tenku_pipeline::load_wan;

fn generate_clip(c: &mut Criterion) {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tenku-shapes");
    let pipeline = load_wan(&model, &Device::flex()).expect("the default model loads");
    let request = pipeline.defaults.request("a red circle moves left and a small blue square stays still");
    let mut group = c.benchmark_group("tenku-shapes");
    group.sample_size(10);
    group.bench_function("generate 17x64x64, 20 steps, cfg", |b| {
        b.iter(|| pipeline.generate(&request, &mut |_| {}).expect("generates"))
    });
    group.finish();
}

criterion_group!(benches, generate_clip);
criterion_main!(benches);
