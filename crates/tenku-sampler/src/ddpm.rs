//! DDPM ancestral sampling from the Gaussian posterior.

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

/// DDPM ancestral sampling (Ho et al. 2020): draw `x'` from the posterior `q(x' | x, x0)` of the
/// forward process between the two levels, with the "fixed small" variance.
///
/// With `α_{t|s} = α/α'` and `σ²_{t|s} = σ² − α²_{t|s}·σ'²`, the posterior has mean
/// `(α_{t|s}·σ'²/σ²)·x + (α'·σ²_{t|s}/σ²)·x0` and variance `σ²_{t|s}·σ'²/σ²`.
#[derive(Clone, Debug, Default)]
pub struct Ddpm;

impl Sampler for Ddpm {
    fn name(&self) -> &str {
        "ddpm"
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
        let x0 = model.x0(x.clone(), from);
        if to.sigma == 0.0 {
            return x0 * to.alpha;
        }
        let alpha_ts = from.alpha / to.alpha;
        let var_ts = (from.sigma.powi(2) - (alpha_ts * to.sigma).powi(2)).max(0.0);
        let s2 = from.sigma.powi(2);
        let mean = x.clone() * (alpha_ts * to.sigma.powi(2) / s2) + x0 * (to.alpha * var_ts / s2);
        let std = (var_ts * to.sigma.powi(2) / s2).sqrt();
        mean + noise.sample(x.dims(), &x.device()) * std
    }
}
