//! DPM-Solver++(2M): the second-order multistep solver in data-prediction form.

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

use crate::coords::lambda;

/// DPM-Solver++(2M) with the midpoint rule (Lu et al. 2022; diffusers'
/// `DPMSolverMultistepScheduler`, `algorithm_type="dpmsolver++"`, `solver_order=2`).
///
/// The first step and the last step (to σ = 0) are first order, as diffusers does with
/// `lower_order_final` and a zero final sigma.
#[derive(Clone, Debug, Default)]
pub struct DpmPp2M {
    previous: Option<(Tensor<5>, f64)>,
}

impl DpmPp2M {
    /// A solver with empty history.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Sampler for DpmPp2M {
    fn name(&self) -> &str {
        "dpmpp_2m"
    }

    fn reset(&mut self) {
        self.previous = None;
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
        let (lambda_from, lambda_to) = (lambda(from), lambda(to));
        let h = lambda_to - lambda_from;
        // α'·(1 − e^{−h}); at σ' = 0, h = ∞ and this is α'.
        let data_weight = -to.alpha * (-h).exp_m1();
        let mut estimate = x0.clone();
        if let Some((previous_x0, previous_lambda)) = self.previous.take()
            && to.sigma > 0.0
        {
            let r = (lambda_from - previous_lambda) / h;
            estimate = estimate + (x0.clone() - previous_x0) * (0.5 / r);
        }
        self.previous = Some((x0, lambda_from));
        x * (to.sigma / from.sigma) + estimate * data_weight
    }
}
