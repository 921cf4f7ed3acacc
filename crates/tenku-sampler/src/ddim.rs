//! DDIM with stochasticity η, which is also Euler ancestral.

use burn::tensor::Tensor;
use tenku_core::{ModelFn, NoiseSource, Sampler, Schedule};

/// DDIM (Song et al. 2021) with noise η ≥ 0: η = 0 is deterministic, η = 1 re-injects as much
/// noise as the DDPM posterior.
///
/// `x' = α'·x0 + √(σ'² − c²)·ε̂ + c·z` with `ε̂ = (x − α·x0)/σ` and
/// `c = η·(σ'/σ)·√(σ² − α²σ'²/α'²)`. In variance-exploding coordinates this is, term for term,
/// k-diffusion's Euler ancestral step (`σ_up = c/α'`, `σ_down = √(σ'² − c²)/α'`), so the same
/// type serves both names; see [`Ddim::euler_ancestral`].
#[derive(Clone, Debug)]
pub struct Ddim {
    eta: f64,
    name: &'static str,
}

impl Ddim {
    /// DDIM with noise `eta` (0 = deterministic).
    ///
    /// # Panics
    /// If `eta` is negative or not finite.
    pub fn new(eta: f64) -> Self {
        assert!(eta.is_finite() && eta >= 0.0, "DDIM eta must be finite and ≥ 0, got {eta}");
        Self { eta, name: "ddim" }
    }

    /// k-diffusion's Euler ancestral with noise `eta` (1 = full ancestral noise).
    pub fn euler_ancestral(eta: f64) -> Self {
        Self { name: "euler_ancestral", ..Self::new(eta) }
    }

    /// The η in use.
    pub fn eta(&self) -> f64 {
        self.eta
    }
}

impl Sampler for Ddim {
    fn name(&self) -> &str {
        self.name
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
        let eps = (x.clone() - x0.clone() * from.alpha) / from.sigma;
        let ratio = from.alpha * to.sigma / to.alpha;
        let c = self.eta * (to.sigma / from.sigma) * (from.sigma.powi(2) - ratio.powi(2)).max(0.0).sqrt();
        let c = c.min(to.sigma);
        let mut out = x0 * to.alpha + eps * (to.sigma.powi(2) - c.powi(2)).max(0.0).sqrt();
        if c > 0.0 {
            out = out + noise.sample(x.dims(), &x.device()) * c;
        }
        out
    }
}
