//! The model's scheduler config: which timestep rule, which shift, which default sampler.

use std::path::Path;

use serde::Deserialize;
use tenku_core::{Error as CoreError, Schedule};
use tenku_sampler::{SamplerKind, schedule};

/// diffusers scheduler classes Tenku reproduces.
pub const SUPPORTED_SCHEDULERS: [&str; 2] = ["UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"];

/// How a flow model's timesteps are laid out (the two diffusers rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestepRule {
    /// `UniPCMultistepScheduler` with flow sigmas: σ₀ = 0.999999, integer timesteps.
    UniPc,
    /// `FlowMatchEulerDiscreteScheduler`: σ₀ = 1, shifted twice, fractional timesteps.
    FlowMatchEuler,
}

/// What a pipeline takes from `scheduler/scheduler_config.json`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchedulerSpec {
    /// The flow shift.
    pub shift: f64,
    /// The sampler the model was configured with.
    pub default_sampler: SamplerKind,
}

#[derive(Deserialize)]
struct SchedulerJson {
    #[serde(rename = "_class_name")]
    class_name: String,
    #[serde(default)]
    flow_shift: Option<f64>,
    #[serde(default)]
    shift: Option<f64>,
    #[serde(default)]
    solver_order: Option<usize>,
    #[serde(default)]
    use_flow_sigmas: Option<bool>,
    #[serde(default)]
    prediction_type: Option<String>,
    #[serde(default)]
    use_dynamic_shifting: Option<bool>,
}

impl SchedulerSpec {
    /// Reads a `scheduler_config.json`, failing on classes or settings Tenku does not reproduce.
    pub fn from_file(path: &Path) -> Result<Self, CoreError> {
        let json: SchedulerJson = tenku_core::read_json(path)?;
        let invalid = |reason: String| CoreError::InvalidConfig { path: path.to_owned(), reason };
        if json.use_dynamic_shifting == Some(true) {
            return Err(invalid("use_dynamic_shifting = true is not supported".into()));
        }
        match json.class_name.as_str() {
            "UniPCMultistepScheduler" => {
                if json.use_flow_sigmas != Some(true)
                    || json.prediction_type.as_deref() != Some("flow_prediction")
                {
                    return Err(invalid(
                        "UniPC is supported with use_flow_sigmas = true and prediction_type = \"flow_prediction\"".into(),
                    ));
                }
                let order = json.solver_order.unwrap_or(2);
                if !(1..=3).contains(&order) {
                    return Err(invalid(format!("solver_order {order}; expected 1, 2 or 3")));
                }
                Ok(Self {
                    shift: json.flow_shift.unwrap_or(1.0),
                    default_sampler: SamplerKind::UniPc { order, corrector: true },
                })
            }
            "FlowMatchEulerDiscreteScheduler" => {
                Ok(Self { shift: json.shift.unwrap_or(1.0), default_sampler: SamplerKind::Euler })
            }
            other => Err(CoreError::UnsupportedClass {
                component: "scheduler".into(),
                class: other.to_owned(),
                path: path.to_owned(),
                supported: SUPPORTED_SCHEDULERS.join(", "),
            }),
        }
    }
}

/// The timestep rule a sampler runs on: `euler` keeps diffusers' FlowMatchEuler rule (so it
/// reproduces `FlowMatchEulerDiscreteScheduler`), every other sampler the UniPC rule, whose
/// σ₀ < 1 keeps the log-SNR samplers finite.
pub fn rule_for(sampler: &SamplerKind) -> TimestepRule {
    match sampler {
        SamplerKind::Euler => TimestepRule::FlowMatchEuler,
        _ => TimestepRule::UniPc,
    }
}

/// The flow schedule of `steps` steps for `sampler` at `shift`.
pub fn flow_schedule(sampler: &SamplerKind, steps: usize, shift: f64) -> Schedule {
    match rule_for(sampler) {
        TimestepRule::UniPc => schedule::flow_unipc(steps, shift),
        TimestepRule::FlowMatchEuler => schedule::flow_match_euler(steps, shift),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<SchedulerSpec, CoreError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scheduler_config.json");
        std::fs::write(&path, json).unwrap();
        SchedulerSpec::from_file(&path)
    }

    #[test]
    fn reads_wan_unipc_and_flow_match_euler_configs() {
        let unipc = spec(
            r#"{"_class_name": "UniPCMultistepScheduler", "flow_shift": 3.0, "solver_order": 2,
            "use_flow_sigmas": true, "prediction_type": "flow_prediction"}"#,
        )
        .unwrap();
        assert_eq!(
            unipc,
            SchedulerSpec { shift: 3.0, default_sampler: SamplerKind::UniPc { order: 2, corrector: true } }
        );
        let euler = spec(r#"{"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 5.0}"#).unwrap();
        assert_eq!(euler.default_sampler, SamplerKind::Euler);
        assert_eq!(euler.shift, 5.0);
    }

    #[test]
    fn unsupported_schedulers_are_named() {
        let err = spec(r#"{"_class_name": "LMSDiscreteScheduler"}"#).unwrap_err().to_string();
        assert!(err.contains("LMSDiscreteScheduler") && err.contains("UniPCMultistepScheduler"), "{err}");
        let err =
            spec(r#"{"_class_name": "UniPCMultistepScheduler", "prediction_type": "epsilon"}"#).unwrap_err();
        assert!(err.to_string().contains("flow_prediction"), "{err}");
    }
}
