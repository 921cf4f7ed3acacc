//! Consistency-style sampling: jump to x0, then re-noise.

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

/// LCM-style multistep consistency sampling (Luo et al. 2023): each step takes the model's x0
/// estimate and re-noises it to the next level with fresh noise, `x' = α'·x0 + σ'·z`. Meant for
/// distilled few-step models; with 1 step it is a single-step generator.
#[derive(Clone, Debug, Default)]
pub struct Lcm;

impl Sampler for Lcm {
    fn name(&self) -> &str {
        "lcm"
    }

    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: Tensor<5>,
        schedule: &Schedule,
        i: usize,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<5> {
        let (from, to) = schedule.step_levels(i);
        let dims = x.dims();
        let device = x.device();
        let x0 = model.x0(x, from) * to.alpha;
        if to.sigma == 0.0 {
            return x0;
        }
        x0 + noise.sample(dims, &device) * to.sigma
    }
}
