//! Noise schedules, samplers and guidance for diffusion and flow models. No model code: a
//! sampler sees only tensors, a [`Schedule`] and a [`ModelFn`] returning x0 estimates.
//!
//! Every sampler is written in data-prediction form for `x = α·x0 + σ·ε`, so the same code
//! serves flow-matching (α = 1 − σ), variance-exploding and variance-preserving models. Pick one
//! by name with [`SamplerKind`], or implement [`Sampler`] for your own type.
//!
//! ```
//! use std::ops::ControlFlow;
//! use burn::tensor::{Device, Tensor};
//! use tenku_core::{NoiseLevel, SeededNoise};
//! use tenku_sampler::{SamplerKind, sample, schedule};
//!
//! let device = Device::flex();
//! let schedule = schedule::flow_unipc(8, 3.0);
//! let mut sampler = "unipc".parse::<SamplerKind>().unwrap().build();
//! // A model that always predicts x0 = 0.25.
//! let mut model = |x: Tensor<5>, _: &NoiseLevel| x.zeros_like() + 0.25;
//! let x = Tensor::<5>::ones([1, 2, 1, 2, 2], &device);
//! let out = sample(&mut *sampler, &mut model, x, &schedule, &mut SeededNoise::new(0), &mut |_| ControlFlow::Continue(()))
//!     .unwrap();
//! let values = out.into_data().try_into_vec::<f32>().unwrap();
//! assert!(values.iter().all(|v| (v - 0.25).abs() < 1e-5));
//! ```
//!
//! [`Schedule`]: tenku_core::Schedule
//! [`ModelFn`]: tenku_core::ModelFn
//! [`Sampler`]: tenku_core::Sampler

mod coords;
mod ddim;
mod ddpm;
mod dpmpp_2m;
mod error;
mod euler;
mod guidance;
mod heun;
mod kind;
mod lcm;
mod sample;
pub mod schedule;
mod unipc;

pub use ddim::Ddim;
pub use ddpm::Ddpm;
pub use dpmpp_2m::DpmPp2M;
pub use error::Error;
pub use euler::Euler;
pub use guidance::{Branch, Cfg, CfgZeroStar, Guidance, GuidanceInterval, Guided, Rescaled};
pub use heun::Heun;
pub use kind::{CATALOG, SamplerInfo, SamplerKind};
pub use lcm::Lcm;
pub use sample::{Progress, sample};
pub use unipc::UniPc;
