//! Euler's method on the probability-flow ODE.

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

use crate::coords::ode_point;

/// First-order Euler: `y ← y + (s' − s)·(y − x0)/s` in the schedule's ODE coordinates.
///
/// On a flow schedule this is exactly diffusers' `FlowMatchEulerDiscreteScheduler` step,
/// `x ← x + (σ' − σ)·v`.
#[derive(Clone, Debug, Default)]
pub struct Euler;

impl Sampler for Euler {
    fn name(&self) -> &str {
        "euler"
    }

    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: Tensor<5>,
        schedule: &Schedule,
        i: usize,
        _noise: &mut dyn NoiseSource,
    ) -> Tensor<5> {
        let x0 = model.x0(x.clone(), &schedule.levels[i]);
        euler_update(schedule, i, x, x0)
    }
}

/// One Euler update from level `i` to `i + 1` given the x0 estimate at level `i`.
pub(crate) fn euler_update(schedule: &Schedule, i: usize, x: Tensor<5>, x0: Tensor<5>) -> Tensor<5> {
    let (from, to) = schedule.step_levels(i);
    let ((a0, s0), (a1, s1)) = (ode_point(schedule.family, from), ode_point(schedule.family, to));
    if s1 == 0.0 {
        return x0 * to.alpha;
    }
    let y = x / a0;
    let derivative = (y.clone() - x0) / s0;
    (y + derivative * (s1 - s0)) * a1
}
