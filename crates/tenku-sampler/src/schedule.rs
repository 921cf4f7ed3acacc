//! Noise schedules: which noise levels a sampler visits.
//!
//! The flow rules reproduce diffusers exactly (in float64, cast where diffusers casts), since a
//! model's output depends on the timesteps it is given.

use tenku_core::{NoiseFamily, NoiseLevel, Schedule};

/// Training timesteps of the Wan and SD3 family (`num_train_timesteps`).
pub const TRAIN_TIMESTEPS: usize = 1000;

/// Shifts a flow sigma toward the noisy end: `shift·σ / (1 + (shift − 1)·σ)` (SD3's "shift").
pub fn shift_sigma(sigma: f64, shift: f64) -> f64 {
    shift * sigma / (1.0 + (shift - 1.0) * sigma)
}

/// Builds a flow schedule (α = 1 − σ) from sigmas and model timesteps, appending σ = 0.
fn flow_schedule(sigmas: impl IntoIterator<Item = (f64, f64)>) -> Schedule {
    let mut levels: Vec<NoiseLevel> = sigmas
        .into_iter()
        .enumerate()
        .map(|(index, (sigma, timestep))| NoiseLevel { index, alpha: 1.0 - sigma, sigma, timestep })
        .collect();
    levels.push(NoiseLevel { index: levels.len(), alpha: 1.0, sigma: 0.0, timestep: 0.0 });
    Schedule { family: NoiseFamily::Flow, levels }
}

/// diffusers' `FlowMatchEulerDiscreteScheduler` timesteps for `steps` steps with `shift`.
///
/// The training table is shifted once at construction; `set_timesteps` spaces `steps` points
/// linearly between its ends and shifts them *again*. Sigmas are rounded to f32 as diffusers
/// stores them, and the model gets `σ·1000` (not truncated).
pub fn flow_match_euler(steps: usize, shift: f64) -> Schedule {
    let train = TRAIN_TIMESTEPS as f64;
    // The construction-time table is computed in f32 arithmetic; its ends bound the spacing.
    let shift_f32 = |s: f32| shift as f32 * s / (1.0 + (shift as f32 - 1.0) * s);
    let sigma_max = f64::from(shift_f32(1.0));
    let sigma_min = f64::from(shift_f32(1.0 / train as f32));
    let (t_max, t_min) = (sigma_max * train, sigma_min * train);
    flow_schedule((0..steps).map(|i| {
        let t = if steps == 1 { t_max } else { t_max + (t_min - t_max) * i as f64 / (steps - 1) as f64 };
        let sigma = f64::from(shift_sigma(t / train, shift) as f32);
        (sigma, f64::from((sigma * train) as f32))
    }))
}

/// diffusers' `UniPCMultistepScheduler` flow-sigma timesteps (`use_flow_sigmas`, Wan's config).
///
/// σ_i = shift(1 + i·(1/1000 − 1)/steps), the first nudged to 0.999999 so that α > 0, and the
/// model gets `trunc(σ·1000)` as an integer, exactly as the reference truncates.
pub fn flow_unipc(steps: usize, shift: f64) -> Schedule {
    let train = TRAIN_TIMESTEPS as f64;
    flow_schedule((0..steps).map(|i| {
        let raw = 1.0 + i as f64 * ((1.0 / train - 1.0) / steps as f64);
        let mut sigma = shift_sigma(raw, shift);
        if (sigma - 1.0).abs() < 1e-6 {
            sigma -= 1e-6;
        }
        let timestep = (sigma * train).trunc();
        (f64::from(sigma as f32), timestep)
    }))
}

/// A flow schedule from user-given sigmas (high to low, each in (0, 1]); σ = 0 is appended.
/// The model gets `σ·1000`.
pub fn flow_sigmas(sigmas: &[f64]) -> Schedule {
    flow_schedule(sigmas.iter().map(|&s| (s, s * TRAIN_TIMESTEPS as f64)))
}

/// Karras et al. (2022) variance-exploding schedule: σ spaced evenly in σ^(1/ρ) from
/// `sigma_max` to `sigma_min`, then 0. The model gets σ as its timestep.
pub fn karras(steps: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Schedule {
    let (lo, hi) = (sigma_min.powf(1.0 / rho), sigma_max.powf(1.0 / rho));
    let mut levels: Vec<NoiseLevel> = (0..steps)
        .map(|i| {
            let ramp = if steps == 1 { 0.0 } else { i as f64 / (steps - 1) as f64 };
            let sigma = (hi + ramp * (lo - hi)).powf(rho);
            NoiseLevel { index: i, alpha: 1.0, sigma, timestep: sigma }
        })
        .collect();
    levels.push(NoiseLevel { index: steps, alpha: 1.0, sigma: 0.0, timestep: 0.0 });
    Schedule { family: NoiseFamily::VarianceExploding, levels }
}

/// How a variance-preserving model's training betas are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Betas {
    /// β linear from `start` to `end` (DDPM).
    Linear {
        /// First β.
        start: f64,
        /// Last β.
        end: f64,
    },
    /// √β linear from √start to √end (Stable Diffusion's "scaled_linear").
    ScaledLinear {
        /// First β.
        start: f64,
        /// Last β.
        end: f64,
    },
}

impl Betas {
    /// The cumulative products ᾱ_t for `t = 0..train_steps`, as diffusers computes them: betas
    /// and `1 − β` in f32, the running product accumulated in f64 (PyTorch's CPU `cumprod`) and
    /// each entry rounded to f32.
    pub fn alphas_cumprod(&self, train_steps: usize) -> Vec<f64> {
        let at = |start: f64, end: f64, i: usize| {
            let ramp = if train_steps == 1 { 0.0 } else { i as f32 / (train_steps - 1) as f32 };
            start as f32 + ramp * (end as f32 - start as f32)
        };
        let mut product = 1.0f64;
        (0..train_steps)
            .map(|i| {
                let beta = match *self {
                    Betas::Linear { start, end } => at(start, end, i),
                    Betas::ScaledLinear { start, end } => at(start.sqrt(), end.sqrt(), i).powi(2),
                };
                product *= f64::from(1.0 - beta);
                f64::from(product as f32)
            })
            .collect()
    }
}

/// How inference timesteps are picked from the training range (diffusers' `timestep_spacing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spacing {
    /// `round(linspace(0, T − 1, steps))`, reversed (numpy rounding: halves to even).
    Linspace,
    /// `(0..steps)·(T / steps)`, reversed, plus an offset (DDIM's and SD's "leading").
    Leading {
        /// diffusers' `steps_offset`.
        offset: usize,
    },
    /// `round(T, T − T/steps, …) − 1` ("trailing", zero-terminal-SNR friendly).
    Trailing,
}

/// A variance-preserving (DDPM) schedule: α = √ᾱ_t, σ = √(1 − ᾱ_t), ending clean (σ = 0).
/// The model gets the integer training step `t`.
pub fn variance_preserving(steps: usize, betas: Betas, spacing: Spacing) -> Schedule {
    let last = (TRAIN_TIMESTEPS - 1) as f64;
    let timesteps: Vec<usize> = (0..steps)
        .map(|i| {
            let k = steps - 1 - i; // descending
            let t = match spacing {
                Spacing::Linspace if steps == 1 => last,
                Spacing::Linspace => (k as f64 * last / (steps - 1) as f64).round_ties_even(),
                Spacing::Leading { offset } => (k * (TRAIN_TIMESTEPS / steps) + offset) as f64,
                Spacing::Trailing => {
                    (TRAIN_TIMESTEPS as f64 - i as f64 * TRAIN_TIMESTEPS as f64 / steps as f64)
                        .round_ties_even()
                        - 1.0
                }
            };
            (t as usize).min(TRAIN_TIMESTEPS - 1)
        })
        .collect();
    variance_preserving_at(&timesteps, betas, None)
}

/// A variance-preserving schedule at given training timesteps (high to low).
///
/// The last level is clean (σ = 0) unless `final_alpha_cumprod` is given: DDIM with
/// `set_alpha_to_one = false` ends at ᾱ₀ instead.
pub fn variance_preserving_at(
    timesteps: &[usize],
    betas: Betas,
    final_alpha_cumprod: Option<f64>,
) -> Schedule {
    let table = betas.alphas_cumprod(TRAIN_TIMESTEPS);
    let level = |index: usize, abar: f64, timestep: f64| NoiseLevel {
        index,
        alpha: abar.sqrt(),
        sigma: (1.0 - abar).max(0.0).sqrt(),
        timestep,
    };
    let mut levels: Vec<NoiseLevel> =
        timesteps.iter().enumerate().map(|(index, &t)| level(index, table[t], t as f64)).collect();
    levels.push(level(timesteps.len(), final_alpha_cumprod.unwrap_or(1.0), 0.0));
    Schedule { family: NoiseFamily::VariancePreserving, levels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unipc_timesteps_match_the_wan_reference_vector() {
        // From diffusers' UniPC with flow sigmas, 50 steps, shift 3 (see reference/wan.md §4.1).
        let expected = [
            999, 993, 986, 979, 971, 964, 956, 948, 940, 931, 923, 914, 904, 895, 885, 875, 864, 853, 842,
            830, 818, 805, 792, 779, 765, 750, 735, 719, 702, 685, 667, 648, 628, 607, 586, 563, 539, 514,
            487, 459, 429, 398, 365, 329, 292, 251, 208, 162, 113, 60,
        ];
        let schedule = flow_unipc(50, 3.0);
        let timesteps: Vec<i64> = schedule.levels[..50].iter().map(|l| l.timestep as i64).collect();
        assert_eq!(timesteps, expected);
        assert_eq!(schedule.levels[0].sigma, f64::from(0.999999f32));
        assert_eq!(schedule.levels[50].sigma, 0.0);
    }

    #[test]
    fn the_last_steps_of_a_schedule_start_where_video_to_video_does() {
        // diffusers' get_timesteps: ⌊steps·strength⌋ steps are kept, from index steps − kept.
        let full = flow_unipc(20, 2.0);
        let half = full.last_steps(0.5);
        assert_eq!(half.steps(), 10);
        assert_eq!(half.sigmas(), full.sigmas()[10..]);
        assert_eq!(half.levels.iter().map(|l| l.index).collect::<Vec<_>>(), (0..=10).collect::<Vec<_>>());
        assert_eq!(full.last_steps(0.33).steps(), 6, "rounded down");
        assert_eq!(full.last_steps(0.01).steps(), 1, "at least one step");
        assert_eq!(full.last_steps(1.0), full);
    }

    #[test]
    fn unipc_shift_5_starts_and_ends_as_the_reference() {
        let t: Vec<i64> = flow_unipc(50, 5.0).timesteps().iter().map(|&t| t as i64).collect();
        assert_eq!(&t[..5], &[999, 995, 991, 987, 982]);
        assert_eq!(&t[46..50], &[305, 244, 175, 96]);
    }

    #[test]
    fn schedules_fall_monotonically_to_zero() {
        for schedule in [
            flow_unipc(7, 3.0),
            flow_match_euler(7, 5.0),
            karras(7, 0.002, 80.0, 7.0),
            variance_preserving(
                7,
                Betas::ScaledLinear { start: 0.00085, end: 0.012 },
                Spacing::Leading { offset: 1 },
            ),
            variance_preserving(7, Betas::Linear { start: 1e-4, end: 0.02 }, Spacing::Trailing),
        ] {
            let sigmas = schedule.sigmas();
            assert_eq!(sigmas.len(), 8);
            assert!(sigmas.windows(2).all(|w| w[0] > w[1]), "{sigmas:?}");
            assert_eq!(*sigmas.last().unwrap(), 0.0);
            assert!(schedule.levels.iter().enumerate().all(|(i, l)| l.index == i));
        }
    }

    #[test]
    fn flow_match_euler_starts_at_one_and_is_shifted_twice() {
        let s = flow_match_euler(4, 3.0);
        assert_eq!(s.levels[0].sigma, 1.0);
        assert_eq!(s.levels[0].timestep, 1000.0);
        // The last inference sigma is the doubly shifted 1/1000.
        let once = f64::from(shift_sigma(0.001, 3.0) as f32);
        let twice = f64::from(shift_sigma(once, 3.0) as f32);
        assert!((s.levels[3].sigma - twice).abs() < 1e-7, "{} vs {twice}", s.levels[3].sigma);
    }

    #[test]
    fn karras_hits_both_ends() {
        let s = karras(10, 0.002, 80.0, 7.0);
        assert!((s.levels[0].sigma - 80.0).abs() < 1e-9);
        assert!((s.levels[9].sigma - 0.002).abs() < 1e-12);
    }
}
