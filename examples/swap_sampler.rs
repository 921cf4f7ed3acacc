//! Swapping samplers is changing one value: the same model function and noise run through
//! built-in samplers chosen by name and through a sampler defined right here.
//!
//! The "model" is the exact x0 estimate for Gaussian data, so every deterministic sampler should
//! land near the same answer; the printout shows how close each gets in 12 steps.
//!
//! Run: `cargo run --release -p tenku --example swap_sampler`

use std::ops::ControlFlow;

use tenku::Device;
use tenku::core::{ModelFn, NoiseLevel, NoiseSource, Sampler, Schedule, SeededNoise};
use tenku::sampler::{SamplerKind, sample, schedule};

/// A sampler of our own: the explicit midpoint method in (x, σ), two model calls per step.
struct Midpoint;

impl Sampler for Midpoint {
    fn name(&self) -> &str {
        "midpoint"
    }

    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: burn::tensor::Tensor<5>,
        schedule: &Schedule,
        i: usize,
        _noise: &mut dyn NoiseSource,
    ) -> burn::tensor::Tensor<5> {
        let (from, to) = (schedule.levels[i], schedule.levels[i + 1]);
        let x0 = model.x0(x.clone(), &from);
        if to.sigma == 0.0 {
            return x0;
        }
        // Half an Euler step on dx/dσ = (x − x0)/σ, then the full step with the midpoint slope.
        let mid_sigma = 0.5 * (from.sigma + to.sigma);
        let mid =
            NoiseLevel { sigma: mid_sigma, alpha: 1.0 - mid_sigma, timestep: mid_sigma * 1000.0, ..from };
        let x_mid = x.clone() + (x.clone() - x0) * ((mid_sigma - from.sigma) / from.sigma);
        let x0_mid = model.x0(x_mid.clone(), &mid);
        x + (x_mid - x0_mid) * ((to.sigma - from.sigma) / mid_sigma)
    }
}

fn main() {
    let device = Device::flex();
    let (mu, s) = (0.7f64, 0.4f64);
    // E[x0 | x] for x0 ~ N(μ, s²): what a perfect network would return.
    let mut model = |x: burn::tensor::Tensor<5>, l: &NoiseLevel| {
        let gain = l.alpha * s * s / (l.alpha * l.alpha * s * s + l.sigma * l.sigma);
        (x - l.alpha * mu) * gain + mu
    };
    let schedule = schedule::flow_unipc(12, 3.0);
    let x_t = SeededNoise::new(0).sample([1, 1, 1, 1, 4], &device);
    let mut samplers: Vec<Box<dyn Sampler>> = ["euler", "heun", "dpmpp_2m", "unipc", "unipc:order=3"]
        .iter()
        .map(|n| n.parse::<SamplerKind>().unwrap().build())
        .collect();
    samplers.push(Box::new(Midpoint));
    for mut sampler in samplers {
        let out =
            sample(&mut *sampler, &mut model, x_t.clone(), &schedule, &mut SeededNoise::new(1), &mut |_| {
                ControlFlow::Continue(())
            })
            .expect("no observer cancels");
        let values = out.into_data().try_into_vec::<f32>().unwrap();
        println!("{:>14}: {values:.4?}", sampler.name());
    }
}
