//! Composes Tenku's parts into generation pipelines: request checks, initial latents, and
//! text→video, with image→video and extension through clean first frames
//! ([`GenerateRequest::first_frames`]) and video→video from a partly noised clip
//! ([`TextToVideo::generate_from_video`]).
//!
//! ```
//! use tenku_pipeline::{GenerateRequest, Geometry};
//! let request = GenerateRequest {
//!     prompt: "a red circle moves left".into(),
//!     negative_prompt: String::new(),
//!     frames: 80, height: 64, width: 64, steps: 20, guidance: 5.0, guidance_interval: None,
//!     sampler: Some("unipc".parse().unwrap()), shift: None, seed: 0, noise: None,
//!     max_sequence_length: 512, first_frames: None,
//! };
//! let error = request.validate(&Geometry::WAN_2_1).unwrap_err();
//! assert!(error.to_string().contains("nearest valid: 77 or 81"));
//! ```

mod error;
mod noise;
mod request;
pub mod scheduler;
mod text_to_video;
pub mod wan;

pub use error::Error;
pub use noise::{NOISE_KEY, latents_from_file, seeded_latents};
pub use request::{DEFAULT_GUIDANCE, DEFAULT_STEPS, GenerateRequest, GenerationDefaults, Geometry};
pub use scheduler::SchedulerSpec;
pub use text_to_video::{DEFAULT_FPS, Event, TextToVideo, frames_to_pixels, pixels_to_frames};
pub use wan::{WanTextToVideo, load_wan};
