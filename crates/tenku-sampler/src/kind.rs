//! Built-in samplers by name: `euler`, `unipc:order=3`, `ddim:eta=0.5`, ...

use std::fmt;
use std::str::FromStr;

use tenku_core::Sampler;

use crate::{Ddim, Ddpm, DpmPp2M, Error, Euler, Heun, Lcm, UniPc};

/// A built-in sampler and its options; parses from and prints as `name[:key=value,...]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SamplerKind {
    /// [`Euler`].
    Euler,
    /// [`Heun`].
    Heun,
    /// [`DpmPp2M`].
    DpmPp2M,
    /// [`UniPc`] with its order and corrector switch.
    UniPc {
        /// 1, 2 or 3.
        order: usize,
        /// Whether the UniC corrector runs.
        corrector: bool,
    },
    /// [`Ddim`] with η.
    Ddim {
        /// Noise, ≥ 0 (0 = deterministic).
        eta: f64,
    },
    /// [`Ddim::euler_ancestral`] with η.
    EulerAncestral {
        /// Noise, ≥ 0 (1 = full ancestral noise).
        eta: f64,
    },
    /// [`Ddpm`].
    Ddpm,
    /// [`Lcm`].
    Lcm,
}

/// One line of the sampler catalogue.
#[derive(Clone, Copy, Debug)]
pub struct SamplerInfo {
    /// The name `--sampler` accepts.
    pub name: &'static str,
    /// Options, as `key=default` pairs.
    pub options: &'static str,
    /// Whether it draws fresh noise while sampling.
    pub stochastic: bool,
    /// One line on what it is.
    pub summary: &'static str,
}

/// Every built-in sampler, in the order `tenku samplers` lists them.
pub const CATALOG: [SamplerInfo; 8] = [
    SamplerInfo {
        name: "unipc",
        options: "order=2,corrector=true",
        stochastic: false,
        summary: "UniPC bh2 predictor-corrector multistep (Wan's default scheduler)",
    },
    SamplerInfo {
        name: "euler",
        options: "",
        stochastic: false,
        summary: "Euler on the probability-flow ODE (FlowMatchEulerDiscrete for flow models)",
    },
    SamplerInfo {
        name: "heun",
        options: "",
        stochastic: false,
        summary: "Heun's 2nd-order method, 2 model calls per step (EDM)",
    },
    SamplerInfo {
        name: "dpmpp_2m",
        options: "",
        stochastic: false,
        summary: "DPM-Solver++(2M), 2nd-order multistep in data prediction",
    },
    SamplerInfo {
        name: "ddim",
        options: "eta=0",
        stochastic: false,
        summary: "DDIM; stochastic when eta > 0",
    },
    SamplerInfo {
        name: "euler_ancestral",
        options: "eta=1",
        stochastic: true,
        summary: "Euler ancestral (k-diffusion), the same update as DDIM with eta",
    },
    SamplerInfo {
        name: "ddpm",
        options: "",
        stochastic: true,
        summary: "DDPM ancestral sampling from the forward-process posterior",
    },
    SamplerInfo {
        name: "lcm",
        options: "",
        stochastic: true,
        summary: "consistency-style: predict x0, re-noise to the next level",
    },
];

impl SamplerKind {
    /// Builds a fresh sampler.
    pub fn build(&self) -> Box<dyn Sampler> {
        match *self {
            SamplerKind::Euler => Box::new(Euler),
            SamplerKind::Heun => Box::new(Heun),
            SamplerKind::DpmPp2M => Box::new(DpmPp2M::new()),
            SamplerKind::UniPc { order, corrector } => Box::new(UniPc::new(order, corrector)),
            SamplerKind::Ddim { eta } => Box::new(Ddim::new(eta)),
            SamplerKind::EulerAncestral { eta } => Box::new(Ddim::euler_ancestral(eta)),
            SamplerKind::Ddpm => Box::new(Ddpm),
            SamplerKind::Lcm => Box::new(Lcm),
        }
    }

    /// The base name, without options.
    pub fn name(&self) -> &'static str {
        match self {
            SamplerKind::Euler => "euler",
            SamplerKind::Heun => "heun",
            SamplerKind::DpmPp2M => "dpmpp_2m",
            SamplerKind::UniPc { .. } => "unipc",
            SamplerKind::Ddim { .. } => "ddim",
            SamplerKind::EulerAncestral { .. } => "euler_ancestral",
            SamplerKind::Ddpm => "ddpm",
            SamplerKind::Lcm => "lcm",
        }
    }

    /// Whether the sampler draws fresh noise while sampling.
    pub fn is_stochastic(&self) -> bool {
        match *self {
            SamplerKind::Ddim { eta } | SamplerKind::EulerAncestral { eta } => eta > 0.0,
            SamplerKind::Ddpm | SamplerKind::Lcm => true,
            _ => false,
        }
    }
}

impl fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplerKind::UniPc { order, corrector } => write!(f, "unipc:order={order},corrector={corrector}"),
            SamplerKind::Ddim { eta } | SamplerKind::EulerAncestral { eta } => {
                write!(f, "{}:eta={eta}", self.name())
            }
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for SamplerKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let (name, options) = text.split_once(':').unwrap_or((text, ""));
        let name = name.trim().to_ascii_lowercase().replace('-', "_");
        let mut kind = match name.as_str() {
            "euler" => SamplerKind::Euler,
            "heun" => SamplerKind::Heun,
            "dpmpp_2m" | "dpm++2m" | "dpmpp2m" => SamplerKind::DpmPp2M,
            "unipc" => SamplerKind::UniPc { order: 2, corrector: true },
            "ddim" => SamplerKind::Ddim { eta: 0.0 },
            "euler_ancestral" | "euler_a" => SamplerKind::EulerAncestral { eta: 1.0 },
            "ddpm" => SamplerKind::Ddpm,
            "lcm" => SamplerKind::Lcm,
            _ => {
                return Err(Error::UnknownSampler {
                    name: text.to_owned(),
                    known: CATALOG.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
                });
            }
        };
        for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let invalid = |expected: &str| Error::InvalidOption {
                sampler: name.clone(),
                option: option.to_owned(),
                expected: expected.to_owned(),
            };
            let (key, value) = option.split_once('=').ok_or_else(|| invalid("key=value"))?;
            match (&mut kind, key.trim()) {
                (SamplerKind::UniPc { order, .. }, "order") => {
                    *order = value
                        .parse()
                        .ok()
                        .filter(|o| (1..=3).contains(o))
                        .ok_or_else(|| invalid("order=1, 2 or 3"))?;
                }
                (SamplerKind::UniPc { corrector, .. }, "corrector") => {
                    *corrector = value.parse().map_err(|_| invalid("corrector=true or false"))?;
                }
                (SamplerKind::Ddim { eta } | SamplerKind::EulerAncestral { eta }, "eta") => {
                    *eta = value
                        .parse()
                        .ok()
                        .filter(|e: &f64| e.is_finite() && *e >= 0.0)
                        .ok_or_else(|| invalid("eta ≥ 0"))?;
                }
                _ => {
                    let accepted = CATALOG.iter().find(|s| s.name == kind.name()).map_or("", |s| s.options);
                    return Err(invalid(if accepted.is_empty() { "no options" } else { accepted }));
                }
            }
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_name_parses_builds_and_round_trips() {
        for info in CATALOG {
            let kind: SamplerKind = info.name.parse().unwrap();
            assert_eq!(kind.build().name(), info.name);
            assert_eq!(kind.to_string().parse::<SamplerKind>().unwrap(), kind);
            assert_eq!(kind.is_stochastic(), info.stochastic, "{}", info.name);
        }
    }

    #[test]
    fn options_parse_and_bad_ones_name_the_problem() {
        assert_eq!(
            "unipc:order=3".parse::<SamplerKind>().unwrap(),
            SamplerKind::UniPc { order: 3, corrector: true }
        );
        assert_eq!("ddim:eta=0.5".parse::<SamplerKind>().unwrap(), SamplerKind::Ddim { eta: 0.5 });
        let err = "unipc:order=4".parse::<SamplerKind>().unwrap_err().to_string();
        assert!(err.contains("order=4") && err.contains("1, 2 or 3"), "{err}");
        let err = "euler:eta=1".parse::<SamplerKind>().unwrap_err().to_string();
        assert!(err.contains("no options"), "{err}");
        let err = "eulr".parse::<SamplerKind>().unwrap_err().to_string();
        assert!(err.contains("`eulr`") && err.contains("unipc"), "{err}");
    }
}
