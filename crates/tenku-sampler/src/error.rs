//! The error type of `tenku-sampler`.

/// What can go wrong choosing or running a sampler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sampler name is not a built-in one.
    #[error("unknown sampler `{name}`; known: {known}")]
    UnknownSampler {
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// A sampler option (`name:key=value`) is unknown or out of range.
    #[error("invalid option `{option}` for sampler `{sampler}`: expected {expected}")]
    InvalidOption {
        /// The sampler.
        sampler: String,
        /// The option as given.
        option: String,
        /// What is accepted.
        expected: String,
    },
    /// The observer stopped sampling.
    #[error("sampling cancelled before step {step}")]
    Cancelled {
        /// The step that did not run.
        step: usize,
    },
}
