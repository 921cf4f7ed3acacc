//! Criterion bench of one training step's transformer work for the embedded shapes model on the
//! CPU: forward and backward of 16 samples (17×64×64 clips as 5×16×16×8 latents, 80 tokens
//! each) with Wan2.2-style timesteps — clean frames at timestep 0, the rest at the sample's
//! noise level — given per frame, as `tenku train` gives them, and the same values per token.
//! `cargo bench -p tenku-dit --bench train_step`.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use criterion::{Criterion, criterion_group, criterion_main};
use tenku_core::Timestep;
use tenku_dit::WanTransformer;

const SAMPLES: usize = 16;
const LATENT: [usize; 4] = [8, 5, 16, 16];

/// Per-frame timesteps of `SAMPLES` samples: sample i has `i % 3` clean latent frames.
fn per_frame_timesteps(device: &Device) -> Tensor<2> {
    let frames = LATENT[1];
    let values: Vec<f32> = (0..SAMPLES)
        .flat_map(|i| {
            let t = (i as f32 + 0.5) / SAMPLES as f32 * 1000.0;
            (0..frames).map(move |f| if f < i % 3 { 0.0 } else { t })
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [SAMPLES, frames]), device)
}

fn train_step(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/tenku-shapes/transformer");
    let model = WanTransformer::load(&dir, &device).expect("the embedded transformer loads");
    let [z, frames, h, w] = LATENT;
    let [_, ph, pw] = model.config().patch_size;
    let x = Tensor::<5>::random([SAMPLES, z, frames, h, w], Distribution::Normal(0.0, 1.0), &device);
    let target = Tensor::<5>::random([SAMPLES, z, frames, h, w], Distribution::Normal(0.0, 1.0), &device);
    let text_dim = model.config().text_dim;
    let text = Tensor::<3>::random([SAMPLES, 32, text_dim], Distribution::Normal(0.0, 0.5), &device);
    let per_frame = per_frame_timesteps(&device);
    let per_token = per_frame.clone().reshape([SAMPLES, frames, 1]).repeat_dim(2, (h / ph) * (w / pw));
    let cases = [
        ("per-frame timesteps", Timestep::PerFrame(per_frame)),
        ("per-token timesteps", Timestep::PerToken(per_token.reshape([SAMPLES as i64, -1]))),
    ];

    let mut group = c.benchmark_group("tenku-shapes denoiser train step (forward + backward, 16 samples)");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(20));
    for (name, timestep) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = model.forward(x.clone(), timestep.clone(), text.clone());
                let loss = (out - target.clone()).powi_scalar(2).mean();
                black_box(loss.backward());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
