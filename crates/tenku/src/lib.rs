//! Tenku (天空): text-to-video diffusion in Rust, on Burn.
//!
//! This facade re-exports the workspace's crates and picks a backend. The same model value runs
//! on any backend compiled in: the Cargo features `cpu` (Burn's flex backend, the default),
//! `wgpu` and `cuda` decide which exist, and [`Backend`] picks one at run time.
//!
//! ```
//! use tenku::{Backend, device};
//! let device = device("cpu".parse::<Backend>().unwrap()).unwrap();
//! # let _ = device;
//! ```

use std::fmt;
use std::str::FromStr;

pub use burn::tensor::Device;
pub use tenku_core as core;
pub use tenku_io as io;
pub use tenku_pipeline as pipeline;
pub use tenku_sampler as sampler;
pub use tenku_shapes as shapes;
pub use tenku_train as train;

/// A compute backend, as named by `--device`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Burn's flex CPU backend (feature `cpu`).
    Cpu,
    /// WebGPU through wgpu: Vulkan, Metal or DX12 (feature `wgpu`).
    Wgpu,
    /// NVIDIA CUDA (feature `cuda`).
    Cuda,
}

impl Backend {
    /// Every backend, in `--device` order.
    pub const ALL: [Backend; 3] = [Backend::Cpu, Backend::Wgpu, Backend::Cuda];

    /// The `--device` name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Cpu => cfg!(feature = "cpu"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownBackend { name: name.to_owned() })
    }
}

/// Errors of the facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `--device` named no backend.
    #[error("unknown device `{name}`; expected cpu, wgpu or cuda")]
    UnknownBackend {
        /// The name given.
        name: String,
    },
    /// The backend exists but this build left it out.
    #[error("device `{backend}` is not compiled into this build; rebuild with `--features {backend}`")]
    NotCompiled {
        /// The backend asked for.
        backend: Backend,
    },
}

/// The default device of `backend`, or an error naming the Cargo feature that adds it.
pub fn device(backend: Backend) -> Result<Device, Error> {
    match backend {
        #[cfg(feature = "cpu")]
        Backend::Cpu => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Ok(Device::cuda(0usize)),
        #[allow(unreachable_patterns)]
        other => Err(Error::NotCompiled { backend: other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for backend in Backend::ALL {
            assert_eq!(backend.name().parse::<Backend>().unwrap(), backend);
        }
        assert!("tpu".parse::<Backend>().unwrap_err().to_string().contains("`tpu`"));
    }

    #[test]
    fn a_backend_left_out_names_its_feature() {
        for backend in Backend::ALL.into_iter().filter(|b| !b.is_compiled()) {
            let message = device(backend).unwrap_err().to_string();
            assert!(message.contains(&format!("--features {backend}")), "{message}");
        }
        assert!(device(Backend::Cpu).is_ok());
    }
}
