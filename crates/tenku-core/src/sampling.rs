//! The seams of sampling: noise levels, schedules, the x0 model function, samplers and noise.
//!
//! Every noising process is written as `x = α·x0 + σ·ε` with `ε ~ N(0, I)`. A sampler sees the
//! model only through [`ModelFn`], which returns the clean-sample estimate `x0`; so one sampler
//! serves flow (`α = 1 − σ`), variance-exploding (`α = 1`) and variance-preserving models alike.

use burn::tensor::{Device, Tensor};

/// The family of a noising process; decides the coordinates ODE samplers integrate in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoiseFamily {
    /// Flow matching / rectified flow: `α = 1 − σ`.
    Flow,
    /// Variance exploding (EDM, k-diffusion): `α = 1`.
    VarianceExploding,
    /// Variance preserving (DDPM): `α² + σ² = 1`.
    VariancePreserving,
}

/// One point of a schedule: the coefficients of `x = α·x0 + σ·ε` and what the model is told.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseLevel {
    /// Index of this level in its schedule (0 = the noisiest).
    pub index: usize,
    /// Signal coefficient α.
    pub alpha: f64,
    /// Noise coefficient σ (0 at the clean end).
    pub sigma: f64,
    /// The timestep the network is given at this level, on its training scale (Wan: 0..1000,
    /// truncated to integers by UniPC's rule).
    pub timestep: f64,
}

impl NoiseLevel {
    /// Half log signal-to-noise ratio `λ = ln(α/σ)`; `+∞` at σ = 0.
    pub fn lambda(&self) -> f64 {
        self.alpha.ln() - self.sigma.ln()
    }

    /// The variance-exploding noise level `σ/α` of the same point (k-diffusion's σ).
    pub fn ve_sigma(&self) -> f64 {
        self.sigma / self.alpha
    }
}

/// The noise levels a sampler walks through, from the noisiest to the last (usually σ = 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// The process family.
    pub family: NoiseFamily,
    /// `steps() + 1` levels; step `i` moves from `levels[i]` to `levels[i + 1]`.
    pub levels: Vec<NoiseLevel>,
}

impl Schedule {
    /// Number of sampler steps (one fewer than the levels).
    pub fn steps(&self) -> usize {
        self.levels.len().saturating_sub(1)
    }

    /// The σ of every level.
    pub fn sigmas(&self) -> Vec<f64> {
        self.levels.iter().map(|l| l.sigma).collect()
    }

    /// The model timestep of every level.
    pub fn timesteps(&self) -> Vec<f64> {
        self.levels.iter().map(|l| l.timestep).collect()
    }

    /// The two levels step `i` moves between.
    pub fn step_levels(&self, i: usize) -> (&NoiseLevel, &NoiseLevel) {
        (&self.levels[i], &self.levels[i + 1])
    }

    /// The level a sampler starts from, whose noise the initial latents must carry.
    pub fn first(&self) -> &NoiseLevel {
        &self.levels[0]
    }

    /// The schedule's last `⌊strength·steps⌋` steps (at least one), renumbered from 0: where
    /// video → video starts (diffusers' `get_timesteps` with `strength`). `strength` ≥ 1 keeps
    /// them all.
    pub fn last_steps(&self, strength: f64) -> Schedule {
        let steps = self.steps();
        let kept = ((steps as f64 * strength).floor() as usize).clamp(1, steps.max(1));
        let levels = self.levels[steps - kept.min(steps)..]
            .iter()
            .enumerate()
            .map(|(index, level)| NoiseLevel { index, ..*level })
            .collect();
        Schedule { family: self.family, levels }
    }

    /// The factor that turns standard-normal noise into the initial latents at [`first`]:
    /// 1 for flow and variance-preserving schedules (diffusers' convention), σ_max for variance
    /// exploding ones (k-diffusion's).
    ///
    /// [`first`]: Schedule::first
    pub fn init_noise_scale(&self) -> f64 {
        match self.family {
            NoiseFamily::Flow | NoiseFamily::VariancePreserving => 1.0,
            NoiseFamily::VarianceExploding => self.first().sigma,
        }
    }
}

/// One evaluation of a (possibly guided) model, returning the clean-sample estimate x0.
///
/// This is EDM's `D(x; σ)`: the sampler calls it, the pipeline implements it on top of a
/// [`Denoiser`](crate::Denoiser) and guidance.
pub trait ModelFn {
    /// The estimate of x0 given `x` at noise level `level`.
    ///
    /// # Shapes
    /// - `x` and output: `[batch, channels, frames, height, width]`
    fn x0(&mut self, x: Tensor<5>, level: &NoiseLevel) -> Tensor<5>;
}

impl<F: FnMut(Tensor<5>, &NoiseLevel) -> Tensor<5>> ModelFn for F {
    fn x0(&mut self, x: Tensor<5>, level: &NoiseLevel) -> Tensor<5> {
        self(x, level)
    }
}

/// Standard-normal noise for initial latents and stochastic samplers.
pub trait NoiseSource {
    /// A tensor of independent N(0, 1) values on `device`.
    fn sample(&mut self, shape: [usize; 5], device: &Device) -> Tensor<5>;
}

/// A sampler: moves latents down a [`Schedule`] one step at a time.
///
/// The step index is explicit, so there is no hidden position; [`Sampler::reset`] clears the
/// history multistep methods keep. Implement it for your own type to plug a new solver into
/// every pipeline.
pub trait Sampler {
    /// A short name, as accepted by the CLI's `--sampler` (for built-in samplers).
    fn name(&self) -> &str;

    /// Forgets any history from a previous run; call before step 0. Stateless samplers keep
    /// the default, which does nothing.
    fn reset(&mut self) {}

    /// Moves `x` from `schedule.levels[i]` to `schedule.levels[i + 1]`.
    ///
    /// May call `model` several times (Heun) or keep history (multistep methods); stochastic
    /// samplers draw from `noise`.
    fn step(
        &mut self,
        model: &mut dyn ModelFn,
        x: Tensor<5>,
        schedule: &Schedule,
        i: usize,
        noise: &mut dyn NoiseSource,
    ) -> Tensor<5>;
}
