//! Samplers on Gaussian data, where the exact x0 estimate and the exact probability-flow
//! solution are known in closed form (see docs/samplers.md).
//!
//! Data: x0 ~ N(μ, s²·I) with a different μ and s per dimension. At a level (α, σ):
//! - the exact x0 estimate is `μ + α·s²/(α²s² + σ²)·(x − α·μ)`;
//! - the probability-flow ODE keeps `z = (x − α·μ)/√(α²s² + σ²)` constant.
//!
//! The last step of every sampler returns the x0 estimate at the last non-zero level, so the
//! reference is the exact ODE solution carried to that level, then the exact estimate there.

use std::ops::ControlFlow;

use burn::tensor::{Device, Tensor, TensorData};
use tenku_core::{NoiseLevel, NoiseSource, Sampler, Schedule, SeededNoise};
use tenku_sampler::{SamplerKind, sample, schedule};

const DIMS: [usize; 5] = [1, 3, 1, 1, 4];

struct Gaussian {
    mu: Vec<f32>,
    s: Vec<f32>,
}

impl Gaussian {
    fn new() -> Self {
        let n: usize = DIMS.iter().product();
        Self {
            mu: (0..n).map(|i| 0.8 * ((i as f32) * 0.7).sin() - 0.1).collect(),
            s: (0..n).map(|i| 0.3 + 0.15 * (i % 5) as f32).collect(),
        }
    }

    fn broadcast(values: &[f32], batch: usize, device: &Device) -> Tensor<5> {
        let [_, c, f, h, w] = DIMS;
        Tensor::<5>::from_data(TensorData::new(values.to_vec(), DIMS), device)
            .repeat_dim(0, batch)
            .reshape([batch, c, f, h, w])
    }

    /// The exact x0 estimate, element by element on the host.
    fn x0_host(&self, x: &[f32], level: &NoiseLevel) -> Vec<f32> {
        let (a, sig) = (level.alpha, level.sigma);
        let n = self.mu.len();
        x.iter()
            .enumerate()
            .map(|(i, &x)| {
                let (mu, s2) = (f64::from(self.mu[i % n]), f64::from(self.s[i % n]).powi(2));
                (mu + a * s2 / (a * a * s2 + sig * sig) * (f64::from(x) - a * mu)) as f32
            })
            .collect()
    }

    /// The exact x0 estimate as a model function.
    fn model(&self, device: &Device) -> impl FnMut(Tensor<5>, &NoiseLevel) -> Tensor<5> + use<> {
        let mu = Self::broadcast(&self.mu, 1, device);
        let s2 = Self::broadcast(&self.s, 1, device).powi_scalar(2);
        move |x: Tensor<5>, level: &NoiseLevel| {
            let (a, sig) = (level.alpha, level.sigma);
            let gain = s2.clone() * a / (s2.clone() * (a * a) + sig * sig);
            mu.clone() + (x - mu.clone() * a) * gain
        }
    }

    /// The exact answer for a start `x_t` at `schedule`'s first level (see the module docs).
    fn reference(&self, x_t: &[f32], schedule: &Schedule) -> Vec<f32> {
        let (first, last) = (schedule.first(), &schedule.levels[schedule.steps() - 1]);
        let n = self.mu.len();
        let std = |l: &NoiseLevel, s2: f64| (l.alpha * l.alpha * s2 + l.sigma * l.sigma).sqrt();
        let carried: Vec<f32> = x_t
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let (mu, s2) = (f64::from(self.mu[i % n]), f64::from(self.s[i % n]).powi(2));
                let z = (f64::from(x) - first.alpha * mu) / std(first, s2);
                (last.alpha * mu + std(last, s2) * z) as f32
            })
            .collect();
        self.x0_host(&carried, last)
    }
}

fn device() -> Device {
    Device::flex()
}

fn values(x: Tensor<5>) -> Vec<f32> {
    x.into_data().try_into_vec::<f32>().unwrap()
}

fn run(
    sampler: &mut dyn Sampler,
    schedule: &Schedule,
    x: Tensor<5>,
    seed: u64,
    data: &Gaussian,
) -> Tensor<5> {
    let mut model = data.model(&x.device());
    let mut noise = SeededNoise::new(seed);
    sample(sampler, &mut model, x, schedule, &mut noise, &mut |_| ControlFlow::Continue(())).unwrap()
}

/// Max abs error against the exact solution at each step count.
fn errors(kind: SamplerKind, make_schedule: &dyn Fn(usize) -> Schedule, counts: &[usize]) -> Vec<f64> {
    let data = Gaussian::new();
    let device = device();
    counts
        .iter()
        .map(|&n| {
            let schedule = make_schedule(n);
            let x_t = SeededNoise::new(7).sample(DIMS, &device) * schedule.init_noise_scale();
            let exact = data.reference(&values(x_t.clone()), &schedule);
            let got = values(run(&mut *kind.build(), &schedule, x_t, 0, &data));
            got.iter().zip(&exact).map(|(g, e)| f64::from((g - e).abs())).fold(0.0, f64::max)
        })
        .collect()
}

/// Least-squares slope of −log(error) against log(steps): the empirical order.
fn fitted_order(counts: &[usize], errors: &[f64]) -> f64 {
    let xs: Vec<f64> = counts.iter().map(|&n| (n as f64).ln()).collect();
    let ys: Vec<f64> = errors.iter().map(|e| -e.ln()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / xs.len() as f64, ys.iter().sum::<f64>() / ys.len() as f64);
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    num / den
}

/// A flow schedule from σ = 0.98 to 0.02 (evenly spaced before the shift), then 0.
///
/// Orders of convergence hold as the largest step in λ = ln(α/σ) shrinks. Starting at
/// σ = 0.999999 (α ≈ 0) makes the first step's λ-gap ~14 whatever the step count, which caps
/// every method at second order; real pipelines start there, but the order test must not.
fn flow(n: usize, shift: f64) -> Schedule {
    let sigmas: Vec<f64> = (0..n)
        .map(|i| schedule::shift_sigma(0.98 + (0.02 - 0.98) * i as f64 / (n - 1) as f64, shift))
        .collect();
    schedule::flow_sigmas(&sigmas)
}

/// Builds a schedule of a given step count.
type MakeSchedule = Box<dyn Fn(usize) -> Schedule>;

fn schedules() -> Vec<(&'static str, MakeSchedule)> {
    vec![
        ("flow shift 1", Box::new(|n| flow(n, 1.0))),
        ("flow shift 3", Box::new(|n| flow(n, 3.0))),
        ("karras VE", Box::new(|n| schedule::karras(n, 0.002, 80.0, 7.0))),
    ]
}

fn assert_order(name: &str, range: std::ops::RangeInclusive<f64>, counts: &[usize]) {
    let kind: SamplerKind = name.parse().unwrap();
    for (label, make) in schedules() {
        let errs = errors(kind, &*make, counts);
        let order = fitted_order(counts, &errs);
        println!("{name} on {label}: errors {errs:?} → order {order:.2}");
        assert!(
            range.contains(&order),
            "{name} on {label}: order {order:.2} not in {range:?} (errors {errs:?})"
        );
        assert!(errs.windows(2).all(|w| w[1] < w[0]), "{name} on {label}: error does not fall ({errs:?})");
    }
}

const COUNTS: [usize; 4] = [16, 32, 64, 128];

#[test]
fn euler_is_first_order() {
    assert_order("euler", 0.85..=1.3, &COUNTS);
}

#[test]
fn deterministic_ddim_is_first_order() {
    assert_order("ddim", 0.85..=1.3, &COUNTS);
}

#[test]
fn heun_is_second_order() {
    assert_order("heun", 1.8..=2.6, &COUNTS);
}

#[test]
fn dpmpp_2m_is_second_order() {
    assert_order("dpmpp_2m", 1.8..=2.6, &COUNTS);
}

#[test]
fn unipc_1_with_corrector_is_at_least_second_order() {
    assert_order("unipc:order=1", 1.7..=3.2, &COUNTS);
}

#[test]
fn unipc_2_is_at_least_second_order() {
    assert_order("unipc", 2.0..=4.0, &COUNTS);
}

#[test]
fn unipc_2_without_corrector_is_second_order() {
    assert_order("unipc:corrector=false", 1.8..=2.6, &COUNTS);
}

#[test]
fn unipc_3_is_at_least_third_order() {
    assert_order("unipc:order=3", 2.7..=4.5, &COUNTS);
}

/// Stochastic samplers must reproduce the data distribution: over many samples the mean → μ
/// and the variance → s², per dimension.
fn assert_distribution(name: &str, make_schedule: &dyn Fn() -> Schedule, var_tolerance: f64) {
    const BATCH: usize = 4096;
    let data = Gaussian::new();
    let device = device();
    let schedule = make_schedule();
    let [_, c, f, h, w] = DIMS;
    let x_t = SeededNoise::new(11).sample([BATCH, c, f, h, w], &device) * schedule.init_noise_scale();
    let out = run(&mut *name.parse::<SamplerKind>().unwrap().build(), &schedule, x_t, 3, &data);
    let out = out.reshape([BATCH, c * f * h * w]);
    let mean = out.clone().mean_dim(0);
    let var = (out - mean.clone()).powi_scalar(2).sum_dim(0) / (BATCH - 1) as f64;
    let (mean, var) =
        (values(mean.reshape([1, 1, 1, 1, c * f * h * w])), values(var.reshape([1, 1, 1, 1, c * f * h * w])));
    // The last step returns the exact estimate E[x0 | x] at the last non-zero level (α, σ), which
    // shrinks the spread: if x there has the true marginal, the output's variance is
    // s²·α²s²/(α²s² + σ²).
    let last = &schedule.levels[schedule.steps() - 1];
    for i in 0..mean.len() {
        let (mu, s) = (data.mu[i], data.s[i]);
        let s2 = f64::from(s * s);
        let shrink = last.alpha.powi(2) * s2 / (last.alpha.powi(2) * s2 + last.sigma.powi(2));
        // 5 standard errors of the sample mean.
        let mean_tolerance = 5.0 * s / (BATCH as f32).sqrt();
        assert!((mean[i] - mu).abs() < mean_tolerance, "{name}: mean[{i}] = {} vs μ = {mu}", mean[i]);
        let ratio = f64::from(var[i]) / (s2 * shrink);
        assert!((ratio - 1.0).abs() < var_tolerance, "{name}: var[{i}] / target = {ratio:.3}");
    }
}

// The variance tolerance is 5 standard errors of a sample variance (5·√(2/4096) ≈ 0.11) plus a
// little of the samplers' own discretization bias: ancestral steps use the posterior *mean* of
// x0 and so lose variance on coarse grids (0.84 of the target at 100 shifted steps), which is
// why these runs take 400 steps.
#[test]
fn euler_ancestral_reproduces_the_data_distribution() {
    assert_distribution("euler_ancestral", &|| schedule::flow_unipc(400, 1.0), 0.13);
}

#[test]
fn ddpm_reproduces_the_data_distribution() {
    assert_distribution("ddpm", &|| schedule::karras(400, 0.002, 80.0, 7.0), 0.13);
}

#[test]
fn stochastic_ddim_reproduces_the_data_distribution() {
    assert_distribution("ddim:eta=0.5", &|| schedule::flow_unipc(100, 1.0), 0.13);
}

/// LCM is meant for consistency models, whose x0 is a sample, not a posterior mean; so it is
/// checked for what it does: re-noise the estimate to the next level, and end on it exactly.
#[test]
fn lcm_renoises_the_estimate_to_the_next_level_and_ends_on_it() {
    const BATCH: usize = 4096;
    let device = device();
    let schedule = schedule::flow_unipc(4, 3.0);
    let mut model = |x: Tensor<5>, _: &NoiseLevel| x.zeros_like() + 0.25;
    let mut noise = SeededNoise::new(5);
    let mut lcm = SamplerKind::Lcm.build();
    let x = Tensor::<5>::zeros([BATCH, 1, 1, 1, 1], &device);
    let out = values(lcm.step(&mut model, x.clone(), &schedule, 1, &mut noise));
    let next = &schedule.levels[2];
    let mean = out.iter().sum::<f32>() / BATCH as f32;
    let var = out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / (BATCH - 1) as f32;
    assert!((f64::from(mean) - next.alpha * 0.25).abs() < 5.0 * next.sigma / 64.0, "mean {mean}");
    assert!(
        (f64::from(var) / next.sigma.powi(2) - 1.0).abs() < 0.11,
        "var {var} vs σ'² {}",
        next.sigma.powi(2)
    );
    let last = values(lcm.step(&mut model, x, &schedule, 3, &mut noise));
    assert!(last.iter().all(|&v| v == 0.25));
}

#[test]
fn a_deterministic_sampler_also_reproduces_the_distribution() {
    assert_distribution("unipc", &|| schedule::flow_unipc(20, 3.0), 0.13);
}
