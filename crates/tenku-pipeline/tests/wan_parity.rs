//! Whole Wan2.1 text-to-video runs against diffusers' `WanPipeline(..., latents=noise,
//! output_type="np")` on tiny random-weight pipelines, loaded through the real loader.
//!
//! Tolerance: 2e-5 max abs on frames in [0, 1], well inside the 1e-3 the parity goal allows; the
//! reached error (≈ 3e-6) is printed. diffusers itself moves by ~3e-6 with how weights sit in memory.

use tenku_pipeline::{GenerateRequest, load_wan};
use tenku_testing::{reference, reference_metadata, tensor, wan_case, wan_cases, write_reference_tensor};

const FRAME_TOLERANCE: f32 = 2e-5;

fn request(case: &str, noise: std::path::PathBuf) -> GenerateRequest {
    let meta = reference_metadata(case);
    let number = |key: &str| meta[key].parse::<f64>().unwrap_or_else(|_| panic!("metadata `{key}`"));
    GenerateRequest {
        prompt: meta["prompt"].clone(),
        negative_prompt: meta["negative_prompt"].clone(),
        frames: number("num_frames") as usize,
        height: number("height") as usize,
        width: number("width") as usize,
        steps: number("num_inference_steps") as usize,
        guidance: number("guidance_scale"),
        guidance_interval: None,
        sampler: None,
        shift: None,
        seed: 0,
        noise: Some(noise),
        max_sequence_length: number("max_sequence_length") as usize,
        first_frames: None,
    }
}

#[test]
fn frames_match_diffusers_for_every_tiny_pipeline() {
    let cases = wan_cases();
    assert!(!cases.is_empty(), "no Wan fixtures found");
    let device = tenku_testing::device();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let noise = dir.path().join("noise.safetensors");
        write_reference_tensor(&case, "pipeline.noise", "latents", &noise);
        let pipeline = load_wan(&wan_case(&case).join("pipeline"), &device).unwrap();
        let frames = pipeline.generate(&request(&case, noise), &mut |_| {}).unwrap();
        let (f, h, w, c) = frames.dim();
        let got = burn::tensor::Tensor::<4>::from_data(
            burn::tensor::TensorData::new(frames.into_raw_vec_and_offset().0, [f, h, w, c]),
            &device,
        );
        let want = tensor::<4>(&reference(&case), "pipeline.frames");
        tenku_testing::assert_close(&format!("{case} frames"), got, want, FRAME_TOLERANCE);
    }
}
