//! Parity with diffusers' schedulers: timesteps, sigmas and whole sample trajectories for a
//! fixed synthetic model, from fixtures written by `scripts/make_sampler_fixtures.py`.
//!
//! Tolerance: every sample of every step within 4e-6·max(1, |value|) of diffusers'. Both sides
//! compute in f32 tensors; Tenku's coefficients are f64, diffusers' f32, which accounts for the
//! remaining difference.

use std::ops::ControlFlow;
use std::path::Path;

use burn::tensor::{Device, Tensor};
use tenku_core::{NoiseLevel, Prediction, Schedule, SeededNoise, WeightStore};
use tenku_sampler::schedule::{self, Betas};
use tenku_sampler::{SamplerKind, sample};

const RELATIVE_TOLERANCE: f32 = 4e-6;

fn fixture(name: &str) -> WeightStore {
    WeightStore::open(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

fn host(store: &WeightStore, key: &str) -> Vec<f32> {
    store.read_f32(key).unwrap().0
}

fn assert_close(label: &str, got: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(got.len(), want.len(), "{label}: length");
    let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs() / w.abs().max(1.0)).fold(0.0f32, f32::max);
    assert!(worst <= tolerance, "{label}: worst scaled difference {worst:e} > {tolerance:e}");
}

/// Runs `kind` on `schedule` with the fixture's synthetic model and compares every step.
fn assert_trajectory(
    store: &WeightStore,
    case: &str,
    kind: SamplerKind,
    schedule: &Schedule,
    prediction: Prediction,
    model_output: impl Fn(Tensor<5>, &NoiseLevel, &Tensor<5>) -> Tensor<5>,
) {
    let device = Device::flex();
    let c = store.tensor::<5>(&format!("{case}.c"), &device).unwrap();
    let x_init = store.tensor::<5>(&format!("{case}.x_init"), &device).unwrap();
    let expected = host(store, &format!("{case}.samples"));
    let step_len = expected.len() / (schedule.steps() + 1);
    let mut model = |x: Tensor<5>, level: &NoiseLevel| {
        let raw = model_output(x.clone(), level, &c);
        prediction.to_x0(raw, x, level.alpha, level.sigma)
    };
    let mut step = 0;
    let mut sampler = kind.build();
    let mut check = |progress: tenku_sampler::Progress<'_>| {
        step = progress.done;
        let got = progress.latents.clone().into_data().try_into_vec::<f32>().unwrap();
        let want = &expected[step * step_len..(step + 1) * step_len];
        assert_close(&format!("{case} step {step}"), &got, want, RELATIVE_TOLERANCE);
        ControlFlow::Continue(())
    };
    sample(&mut *sampler, &mut model, x_init, schedule, &mut SeededNoise::new(0), &mut check).unwrap();
    assert_eq!(step, schedule.steps());
}

/// `v = 0.3·x + σ·cos(x) + c`, with σ the current level's f32 sigma.
fn flow_velocity(x: Tensor<5>, level: &NoiseLevel, c: &Tensor<5>) -> Tensor<5> {
    x.clone() * 0.3 + x.cos() * level.sigma + c.clone()
}

/// `ε = 0.3·x + cos(x)·t/1000 + c`.
fn vp_epsilon(x: Tensor<5>, level: &NoiseLevel, c: &Tensor<5>) -> Tensor<5> {
    x.clone() * 0.3 + x.cos() * (level.timestep / 1000.0) + c.clone()
}

fn assert_schedule(store: &WeightStore, case: &str, schedule: &Schedule) {
    let steps = schedule.steps();
    let timesteps: Vec<f32> = schedule.timesteps()[..steps].iter().map(|&t| t as f32).collect();
    assert_eq!(timesteps, host(store, &format!("{case}.timesteps")), "{case}: timesteps");
    if store.info(&format!("{case}.sigmas")).is_some() {
        let sigmas: Vec<f32> = schedule.sigmas().iter().map(|&s| s as f32).collect();
        assert_eq!(sigmas, host(store, &format!("{case}.sigmas")), "{case}: sigmas");
    }
}

#[test]
fn unipc_flow_schedules_match_exactly() {
    let store = fixture("diffusers_flow_schedulers.safetensors");
    for (case, steps, shift) in
        [("unipc_s3_n10", 10, 3.0), ("unipc_s5_n7", 7, 5.0), ("unipc_s3_n50", 50, 3.0)]
    {
        assert_schedule(&store, case, &schedule::flow_unipc(steps, shift));
    }
}

#[test]
fn flow_match_euler_schedules_match_exactly() {
    let store = fixture("diffusers_flow_schedulers.safetensors");
    for (case, steps, shift) in
        [("euler_s3_n10", 10, 3.0), ("euler_s5_n7", 7, 5.0), ("euler_s3_n50", 50, 3.0)]
    {
        assert_schedule(&store, case, &schedule::flow_match_euler(steps, shift));
    }
}

#[test]
fn unipc_trajectories_match_diffusers() {
    let store = fixture("diffusers_flow_schedulers.safetensors");
    for (case, steps, shift, order) in [
        ("unipc_s3_n10", 10, 3.0, 2),
        ("unipc_s5_n7", 7, 5.0, 2),
        ("unipc_o3_s3_n8", 8, 3.0, 3),
        ("unipc_o1_s3_n6", 6, 3.0, 1),
    ] {
        let kind = SamplerKind::UniPc { order, corrector: true };
        assert_trajectory(
            &store,
            case,
            kind,
            &schedule::flow_unipc(steps, shift),
            Prediction::Velocity,
            flow_velocity,
        );
    }
}

#[test]
fn flow_match_euler_trajectories_match_diffusers() {
    let store = fixture("diffusers_flow_schedulers.safetensors");
    for (case, steps, shift) in [("euler_s3_n10", 10, 3.0), ("euler_s5_n7", 7, 5.0)] {
        let schedule = schedule::flow_match_euler(steps, shift);
        assert_trajectory(&store, case, SamplerKind::Euler, &schedule, Prediction::Velocity, flow_velocity);
    }
}

const SD_BETAS: Betas = Betas::ScaledLinear { start: 0.00085, end: 0.012 };

#[test]
fn the_alphas_cumprod_table_matches_diffusers() {
    let store = fixture("diffusers_vp_schedulers.safetensors");
    let table: Vec<f32> = SD_BETAS.alphas_cumprod(1000).iter().map(|&a| a as f32).collect();
    // Within 2 f32 ulps: PyTorch's vectorized cumprod groups its products differently.
    assert_close("alphas_cumprod", &table, &host(&store, "ddim_n10.alphas_cumprod"), 2.4e-7);
}

#[test]
fn ddim_leading_timesteps_and_trajectory_match_diffusers() {
    let store = fixture("diffusers_vp_schedulers.safetensors");
    let leading = schedule::variance_preserving(10, SD_BETAS, schedule::Spacing::Leading { offset: 1 });
    let timesteps: Vec<usize> = leading.timesteps()[..10].iter().map(|&t| t as usize).collect();
    // set_alpha_to_one = false: the last step lands on ᾱ₀, not on clean data.
    let final_alpha = SD_BETAS.alphas_cumprod(1000)[0];
    let schedule = schedule::variance_preserving_at(&timesteps, SD_BETAS, Some(final_alpha));
    assert_schedule(&store, "ddim_n10", &schedule);
    assert_trajectory(
        &store,
        "ddim_n10",
        SamplerKind::Ddim { eta: 0.0 },
        &schedule,
        Prediction::Epsilon,
        vp_epsilon,
    );
}

#[test]
fn dpmpp_2m_trajectory_matches_diffusers() {
    let store = fixture("diffusers_vp_schedulers.safetensors");
    let timesteps: Vec<usize> = host(&store, "dpmpp2m_n10.timesteps").iter().map(|&t| t as usize).collect();
    let schedule = schedule::variance_preserving_at(&timesteps, SD_BETAS, None);
    assert_trajectory(
        &store,
        "dpmpp2m_n10",
        SamplerKind::DpmPp2M,
        &schedule,
        Prediction::Epsilon,
        vp_epsilon,
    );
}
