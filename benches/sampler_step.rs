//! Per-step overhead of the samplers on the Wan 480p latent (1×16×21×60×104), with a model
//! function that returns a precomputed x0 so only the sampler's own tensor work is timed.
//!
//! Run: `cargo bench -p tenku-sampler --bench sampler_step`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use tenku_core::{NoiseLevel, NoiseSource, SeededNoise};
use tenku_sampler::{SamplerKind, schedule};

const WAN_480P_LATENT: [usize; 5] = [1, 16, 21, 60, 104];

fn sampler_step(c: &mut Criterion) {
    let device = Device::flex();
    let schedule = schedule::flow_unipc(50, 3.0);
    let x = SeededNoise::new(0).sample(WAN_480P_LATENT, &device);
    let x0 = SeededNoise::new(1).sample(WAN_480P_LATENT, &device);
    let mut group = c.benchmark_group("sampler_step/flex/f32/b1_c16_f21_h60_w104");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for name in ["euler", "heun", "dpmpp_2m", "unipc", "unipc:order=3", "ddim:eta=1", "ddpm"] {
        let kind: SamplerKind = name.parse().expect("built-in sampler");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut sampler = kind.build();
                let mut model = |_: Tensor<5>, _: &NoiseLevel| x0.clone();
                let mut noise = SeededNoise::new(2);
                // Warm the history of multistep samplers so every timed step is a full one.
                let mut latents = x.clone();
                for i in 0..3 {
                    latents = sampler.step(&mut model, latents, &schedule, i, &mut noise);
                }
                let start = Instant::now();
                for i in 0..iters {
                    let step = 3 + (i as usize % 40);
                    latents = sampler.step(&mut model, latents, &schedule, step, &mut noise);
                }
                black_box(latents.into_data());
                start.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, sampler_step);
criterion_main!(benches);
