//! The shipped model draws the same clip on every GPU backend compiled in as on the CPU.
//!
//! Needs a GPU, so it is ignored by default and compiled only with a GPU feature:
//! `cargo test -p tenku --features wgpu --test backends -- --ignored`. On an NVIDIA H100
//! through Vulkan, wgpu's frames differed from the CPU's by at most 5e-5 (of 1), and two wgpu
//! runs were identical.
#![cfg(any(feature = "wgpu", feature = "cuda"))]

use std::path::PathBuf;

use ndarray::Array4;
use tenku::pipeline::load_wan;
use tenku::{Backend, device};

/// Largest difference allowed between two backends' frames in [0, 1]: different kernels sum in
/// different orders, so a few 1e-5 are float noise; a wrong kernel moves whole objects.
const TOLERANCE: f32 = 1e-4;

fn generate(backend: Backend, prompt: &str) -> Array4<f32> {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tenku-shapes");
    let pipeline = load_wan(&model, &device(backend).unwrap()).unwrap();
    pipeline.generate(&pipeline.defaults.request(prompt), &mut |_| {}).unwrap()
}

#[test]
#[ignore = "needs a GPU: run with --ignored on a machine that has one"]
fn gpu_backends_match_the_cpu() {
    let prompt = "a big blue square moves up and a small yellow triangle stays still on a white background";
    let cpu = generate(Backend::Cpu, prompt);
    for backend in [Backend::Wgpu, Backend::Cuda].into_iter().filter(|b| b.is_compiled()) {
        let gpu = generate(backend, prompt);
        assert_eq!(gpu.dim(), cpu.dim(), "{backend}: frame shape");
        let worst = gpu.iter().zip(cpu.iter()).map(|(g, c)| (g - c).abs()).fold(0f32, f32::max);
        assert!(worst <= TOLERANCE, "{backend}: frames differ from the CPU's by up to {worst}");
        eprintln!("{backend}: largest difference from the CPU {worst:e}");
    }
}
