//! The sampling loop, kept short and visible.

use std::ops::ControlFlow;

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseLevel, NoiseSource, Sampler, Schedule};

use crate::Error;

/// What the observer of [`sample`] sees after each step.
#[derive(Debug)]
pub struct Progress<'a> {
    /// Steps done so far (1 after the first).
    pub done: usize,
    /// Steps in the schedule.
    pub total: usize,
    /// The level just reached.
    pub level: &'a NoiseLevel,
    /// The latents at that level (for previews).
    pub latents: &'a Tensor<5>,
}

/// Runs `sampler` over every step of `schedule` from the initial latents `x`.
///
/// `observe` is called after each step; returning [`ControlFlow::Break`] cancels the run with
/// [`Error::Cancelled`].
pub fn sample(
    sampler: &mut dyn Sampler,
    model: &mut dyn ModelFn,
    x: Tensor<5>,
    schedule: &Schedule,
    noise: &mut dyn NoiseSource,
    observe: &mut dyn FnMut(Progress<'_>) -> ControlFlow<()>,
) -> Result<Tensor<5>, Error> {
    sampler.reset();
    let total = schedule.steps();
    let mut x = x;
    for i in 0..total {
        x = sampler.step(model, x, schedule, i, noise);
        let progress = Progress { done: i + 1, total, level: &schedule.levels[i + 1], latents: &x };
        if observe(progress).is_break() && i + 1 < total {
            return Err(Error::Cancelled { step: i + 1 });
        }
    }
    Ok(x)
}
