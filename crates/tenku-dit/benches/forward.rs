//! Criterion bench of one Wan2.1 T2V 1.3B transformer forward (random weights) at 17×256×256
//! on the CPU: `cargo bench -p tenku-dit --bench forward`. Expect ~1 minute per sample on 2 cores.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use tenku_core::Timestep;
use tenku_dit::WanTransformerConfig;

fn forward(c: &mut Criterion) {
    let device = Device::flex();
    let config = WanTransformerConfig::wan2_1_t2v_1_3b();
    let model = config.init(&device);
    let x = Tensor::<5>::random([1, 16, 5, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let text = Tensor::<3>::random([1, 512, config.text_dim], Distribution::Normal(0.0, 0.1), &device);
    let mut group = c.benchmark_group("wan_1_3b_forward/flex/f32/f17_h256_w256");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(60));
    group.bench_function("forward", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let t = Tensor::<1>::full([1], 999.0, &device);
                let out = model.forward(x.clone(), Timestep::PerSample(t), text.clone());
                black_box(out.into_data());
            }
            start.elapsed()
        });
    });
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
