//! One forward of the real Wan2.1 T2V 1.3B transformer, random weights (no download), at a
//! 17×256×256 clip (latents 16×5×32×32, 1280 tokens) with 512 text tokens, on the CPU.
//!
//! Prints one JSON line: seconds for the forward, peak resident memory, the shapes. Run it
//! through `cargo xtask real-size`, which also times diffusers on the same machine.

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use tenku_core::Timestep;
use tenku_dit::WanTransformerConfig;

/// Peak resident set size of this process in MiB (Linux `VmHWM`), if known.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let device = Device::flex();
    let config = WanTransformerConfig::wan2_1_t2v_1_3b();
    let start = Instant::now();
    let model = config.init(&device);
    let init_seconds = start.elapsed().as_secs_f64();

    let (frames, height, width) = (17, 256, 256);
    let latents = [1, config.in_channels, 1 + (frames - 1) / 4, height / 8, width / 8];
    let x = Tensor::<5>::random(latents, Distribution::Normal(0.0, 1.0), &device);
    let text = Tensor::<3>::random([1, 512, config.text_dim], Distribution::Normal(0.0, 0.1), &device);
    let t = Tensor::<1>::full([1], 999.0, &device);

    let start = Instant::now();
    let out = model.forward(x, Timestep::PerSample(t), text);
    let sum: f32 = out.sum().into_scalar();
    let seconds = start.elapsed().as_secs_f64();
    assert!(sum.is_finite(), "the forward produced non-finite values");
    println!(
        "{{\"impl\": \"tenku\", \"forward_seconds\": {seconds:.3}, \"init_seconds\": {init_seconds:.3}, \
         \"peak_rss_mib\": {:.0}, \"latents\": {latents:?}, \"text_tokens\": 512}}",
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
