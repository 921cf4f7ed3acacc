//! How much a model uses a given first frame at pure noise (σ = 1): each caption's ground truth
//! is placed twice (two object positions), and the model predicts the clean latents from the
//! same pure noise with each placement's first frame given. Where the first frame moves the
//! object, the true later latent frames change by the "truth" number; a model that takes the
//! object's position from the given frame changes its prediction by about as much, one that
//! ignores the frame by nothing. With `GIVEN` latent frames (1 by default), the model is given
//! the clip's first `1 + 4·(GIVEN − 1)` video frames (extension) and the frames after them are
//! compared.
//!
//! Run: `cargo run --release -p tenku-train --example context_use -- [MODEL_DIR] [CAPTIONS]
//! [GIVEN]` (`models/tenku-shapes`, 30 captions and 1 latent frame by default).

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::{Array4, s};
use tenku_core::{Denoiser, SeededNoise, VideoAutoencoder};
use tenku_pipeline::{GenerateRequest, frames_to_pixels, load_wan};
use tenku_shapes::{Scene, random_captions};
use tenku_train::eval::model_world;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model = PathBuf::from(args.next().unwrap_or_else(|| "models/tenku-shapes".into()));
    let captions: usize = args.next().map_or(Ok(30), |n| n.parse())?;
    let given: usize = args.next().map_or(Ok(1), |n| n.parse())?;
    let device = Device::default();
    let pipeline = load_wan(&model, &device)?;
    if given == 0 {
        return Err("GIVEN counts latent frames given to the model: at least 1".into());
    }
    let given_video_frames = 1 + pipeline.geometry.temporal_factor * (given - 1);
    let world = model_world(&pipeline);
    let (mut predicted, mut truth) = (0.0f64, 0.0f64);
    for (i, spec) in random_captions(captions, 0).into_iter().enumerate() {
        let seed = i as u64;
        let place =
            |offset: u64| Scene::place(spec.clone(), world, offset + seed).map(|scene| scene.render());
        let (a, b) = (place(1000)?, place(2000)?);
        let encode = |clip: &Array4<f32>| pipeline.vae.encode(frames_to_pixels(clip.view(), &device));
        let shape = encode(&a).shape();
        if given >= shape[2] {
            return Err(format!(
                "GIVEN {given} must leave latent frames to predict (the clip has {})",
                shape[2]
            )
            .into());
        }
        let noise = SeededNoise::new(seed).values(shape.num_elements());
        let noise = Tensor::<5>::from_data(TensorData::new(noise, shape), &device);
        let predict = |clip: &Array4<f32>| -> Result<Tensor<5>, tenku_pipeline::Error> {
            let request = GenerateRequest {
                first_frames: Some(clip.slice(s![..given_video_frames, .., .., ..]).to_owned()),
                ..pipeline.defaults.request(spec.caption())
            };
            let output = pipeline.predict(&request, &[(noise.clone(), 1.0)])?.remove(0);
            Ok(pipeline.denoiser.prediction().to_x0(output, noise.clone(), 0.0, 1.0))
        };
        let later = |t: Tensor<5>| {
            let frames = t.dims()[2];
            t.narrow(2, given, frames - given)
        };
        let change =
            |x: Tensor<5>, y: Tensor<5>| f64::from(later(x - y).powi_scalar(2).mean().into_scalar::<f32>());
        predicted += change(predict(&a)?, predict(&b)?);
        truth += change(encode(&a), encode(&b));
    }
    let n = captions.max(1) as f64;
    println!(
        "moving the objects of the {given} given latent frame(s) changes the later latent frames by {:.4} (mean square) \
         in the truth and by {:.4} in the prediction from pure noise: {:.1} %",
        truth / n,
        predicted / n,
        100.0 * predicted / truth.max(f64::MIN_POSITIVE)
    );
    Ok(())
}
