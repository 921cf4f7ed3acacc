//! Text → video with a Wan2.1 model directory in the diffusers layout.
//!
//! Run: `cargo run --release -p tenku --example text_to_video -- DIR "a cat walks on the grass" out.gif`
//! (`DIR` may be `crates/tenku-testing/fixtures/wan/tiny_a/pipeline`, a tiny random-weight
//! pipeline: fast, and its output is noise-like by design).

use std::path::PathBuf;

use tenku::io::{Metadata, Video, write_video};
use tenku::pipeline::{DEFAULT_FPS, GenerateRequest, load_wan};
use tenku::{Backend, device};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: text_to_video MODEL_DIR PROMPT OUTPUT";
    let model = PathBuf::from(args.next().ok_or(usage)?);
    let prompt = args.next().ok_or(usage)?;
    let output = PathBuf::from(args.next().ok_or(usage)?);

    let device = device(Backend::Cpu)?;
    let pipeline = load_wan(&model, &device)?;
    let request = GenerateRequest {
        prompt: prompt.clone(),
        negative_prompt: String::new(),
        frames: 9,
        height: 32,
        width: 32,
        steps: 4,
        guidance: pipeline.defaults.guidance, // the model's default (Wan: 5)
        guidance_interval: pipeline.defaults.guidance_interval, // the model's (None: every level)
        sampler: None,                        // the model's scheduler; try Some("dpmpp_2m".parse()?)
        shift: None,
        seed: 42,
        noise: None,
        max_sequence_length: 32,
        first_frames: None,
    };
    let frames = pipeline.generate(&request, &mut |event| eprintln!("{event:?}"))?;
    let video = Video::new(frames, DEFAULT_FPS)?;
    let metadata = Metadata { prompt: Some(prompt), seed: Some(request.seed), ..Metadata::default() };
    write_video(&output, &video, &metadata)?;
    println!("wrote {}", output.display());
    Ok(())
}
