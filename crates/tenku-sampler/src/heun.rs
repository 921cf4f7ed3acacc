//! Heun's second-order method (EDM's deterministic sampler).

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

use crate::coords::ode_point;
use crate::euler::euler_update;

/// Heun: an Euler predictor, then the average of the slopes at both ends. Two model calls per
/// step, except the last step to σ = 0, which is a plain Euler step (as in EDM).
#[derive(Clone, Debug, Default)]
pub struct Heun;

impl Sampler for Heun {
    fn name(&self) -> &str {
        "heun"
    }

    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: Tensor<5>,
        schedule: &Schedule,
        i: usize,
        _noise: &mut dyn NoiseSource,
    ) -> Tensor<5> {
        let (from, to) = schedule.step_levels(i);
        let x0 = model.x0(x.clone(), from);
        let predicted = euler_update(schedule, i, x.clone(), x0.clone());
        if to.sigma == 0.0 {
            return predicted;
        }
        let ((a0, s0), (a1, s1)) = (ode_point(schedule.family, from), ode_point(schedule.family, to));
        let x0_next = model.x0(predicted.clone(), to);
        let y = x / a0;
        let slope = (y.clone() - x0) / s0;
        let slope_next = (predicted / a1 - x0_next) / s1;
        (y + (slope + slope_next) * ((s1 - s0) / 2.0)) * a1
    }
}
