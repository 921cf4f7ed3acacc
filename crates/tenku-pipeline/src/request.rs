//! What a user asks for, and the checks that run before any work.

use std::path::PathBuf;

use tenku_sampler::SamplerKind;

use crate::Error;

/// The sizes a model family accepts: how pixels map to latents and latents to tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Latent channels.
    pub latent_channels: usize,
    /// Video frames per latent frame after the first (frames = 1 + k·factor).
    pub temporal_factor: usize,
    /// Pixels per latent pixel.
    pub spatial_factor: usize,
    /// The denoiser's patch size in latent pixels along height and width.
    pub patch: (usize, usize),
}

impl Geometry {
    /// Wan2.1: 16 latent channels, 4× time and 8× space compression, 2×2 patches.
    pub const WAN_2_1: Geometry =
        Geometry { latent_channels: 16, temporal_factor: 4, spatial_factor: 8, patch: (2, 2) };

    /// Latent shape `[1, channels, latent_frames, height/s, width/s]` for a valid request.
    pub fn latent_shape(&self, frames: usize, height: usize, width: usize) -> [usize; 5] {
        let s = self.spatial_factor;
        [1, self.latent_channels, 1 + (frames - 1) / self.temporal_factor, height / s, width / s]
    }
}

/// What a model generates when a request does not say: Wan's 81 frames of 480×832 at 16 fps
/// with 512 prompt tokens and guidance [`DEFAULT_GUIDANCE`], unless the model directory records
/// its own.
///
/// A directory records them in `model_index.json` under `_tenku_defaults` (`frames`, `height`,
/// `width`, `fps`, `guidance`; diffusers ignores keys that start with `_`) and in
/// `tokenizer/tokenizer_config.json` (`model_max_length`).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct GenerationDefaults {
    /// Video frames.
    pub frames: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// Frames per second of written videos.
    pub fps: f32,
    /// Prompt tokens the text encoder sees.
    pub max_sequence_length: usize,
    /// Classifier-free guidance scale.
    pub guidance: f64,
    /// The noise levels at which guidance acts ([`GenerateRequest::guidance_interval`]).
    pub guidance_interval: Option<[f64; 2]>,
}

impl Default for GenerationDefaults {
    fn default() -> Self {
        Self {
            frames: 81,
            height: 480,
            width: 832,
            fps: 16.0,
            max_sequence_length: 512,
            guidance: DEFAULT_GUIDANCE,
            guidance_interval: None,
        }
    }
}

/// Sampler steps of a request that does not say (`tenku generate`'s `--steps`).
pub const DEFAULT_STEPS: usize = 20;

/// Classifier-free guidance scale of a request that does not say (`--guidance`), for a model
/// that records none of its own ([`GenerationDefaults::guidance`]): Wan's.
pub const DEFAULT_GUIDANCE: f64 = 5.0;

impl GenerationDefaults {
    /// A text→video request for `prompt` at these sizes: [`DEFAULT_STEPS`] steps, this
    /// guidance, the model's sampler and shift, seed 0, no negative prompt. Change
    /// fields with struct update syntax: `GenerateRequest { seed: 7, ..defaults.request(p) }`.
    pub fn request(&self, prompt: impl Into<String>) -> GenerateRequest {
        GenerateRequest {
            prompt: prompt.into(),
            negative_prompt: String::new(),
            frames: self.frames,
            height: self.height,
            width: self.width,
            steps: DEFAULT_STEPS,
            guidance: self.guidance,
            guidance_interval: self.guidance_interval,
            sampler: None,
            shift: None,
            seed: 0,
            noise: None,
            max_sequence_length: self.max_sequence_length,
            first_frames: None,
        }
    }

    /// What is wrong with these values as a model directory records them under
    /// `_tenku_defaults`, if anything, naming the key: the request they make must pass
    /// [`GenerateRequest::validate`] against `geometry`, and the frame rate must be positive.
    pub(crate) fn problem(&self, geometry: &Geometry) -> Option<String> {
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return Some(format!("_tenku_defaults.fps {}: expected a positive number", self.fps));
        }
        match self.request("the model's defaults").validate(geometry) {
            Ok(()) => None,
            Err(Error::InvalidRequest { flag, value, expected }) => {
                let key = flag.trim_start_matches("--").replace('-', "_");
                Some(format!("_tenku_defaults.{key} {value}: expected {expected}"))
            }
            Err(other) => Some(other.to_string()),
        }
    }
}

/// A text-to-video request, as the CLI's flags give it.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    /// What to show.
    pub prompt: String,
    /// What to steer away from (the unconditional branch of guidance).
    pub negative_prompt: String,
    /// Video frames, `1 + k·temporal_factor`.
    pub frames: usize,
    /// Height in pixels, a multiple of `spatial_factor × patch`.
    pub height: usize,
    /// Width in pixels, a multiple of `spatial_factor × patch`.
    pub width: usize,
    /// Sampler steps, ≥ 1.
    pub steps: usize,
    /// Classifier-free guidance scale, ≥ 0; ≤ 1 disables the unconditional pass.
    pub guidance: f64,
    /// The noise levels `[low, high]` (σ, 0 ≤ low ≤ high, high may be infinite) at which guidance
    /// acts; elsewhere the conditional prediction is used alone, without the unconditional pass.
    /// `None`: every level.
    pub guidance_interval: Option<[f64; 2]>,
    /// The sampler; `None` takes the one the model's scheduler config names.
    pub sampler: Option<SamplerKind>,
    /// Flow shift; `None` takes the model's scheduler config.
    pub shift: Option<f64>,
    /// Seed of the initial noise and of stochastic samplers.
    pub seed: u64,
    /// Initial latents from a safetensors file instead of the seed.
    pub noise: Option<PathBuf>,
    /// Prompt tokens the text encoder sees (padded or truncated).
    pub max_sequence_length: usize,
    /// Frames the video must start with, `[k, height, width, 3]` in [0, 1] with `k = 1 + j·t`
    /// (`t` the temporal factor): one image animates it (image→video), the end of a clip
    /// continues it (extension). Their latents stay clean while the rest is denoised, with
    /// per-token timesteps as in Wan2.2 TI2V; the model must have been trained for it.
    pub first_frames: Option<ndarray::Array4<f32>>,
}

/// The nearest values below and above `value` that `valid` accepts, for error messages.
fn nearest(value: usize, valid: impl Fn(usize) -> bool, floor: usize) -> String {
    let below = (floor..=value).rev().find(|&v| valid(v));
    let above = (value.max(floor)..).find(|&v| valid(v));
    match (below, above) {
        (Some(b), Some(a)) if b != a => format!("nearest valid: {b} or {a}"),
        (_, Some(a)) => format!("nearest valid: {a}"),
        (Some(b), None) => format!("nearest valid: {b}"),
        (None, None) => String::new(),
    }
}

impl GenerateRequest {
    /// Whether classifier-free guidance is on: a scale above 1. Otherwise the unconditional
    /// pass is skipped and [`GenerateRequest::guidance_interval`] has no effect.
    pub fn guided(&self) -> bool {
        self.guidance > 1.0
    }

    /// Checks every field against `geometry`, failing on the first invalid one with the flag's
    /// name and the nearest valid values.
    pub fn validate(&self, geometry: &Geometry) -> Result<(), Error> {
        if self.prompt.trim().is_empty() {
            return Err(Error::InvalidRequest {
                flag: "--prompt",
                value: format!("{:?}", self.prompt),
                expected: "a non-empty prompt".into(),
            });
        }
        let k = geometry.temporal_factor;
        let frames_ok = |f: usize| f >= 1 && (f - 1).is_multiple_of(k);
        if !frames_ok(self.frames) {
            return Err(Error::InvalidRequest {
                flag: "--frames",
                value: self.frames.to_string(),
                expected: format!("a count of the form {k}k+1; {}", nearest(self.frames, frames_ok, 1)),
            });
        }
        let (ph, pw) = geometry.patch;
        for (flag, value, multiple) in [
            ("--height", self.height, geometry.spatial_factor * ph),
            ("--width", self.width, geometry.spatial_factor * pw),
        ] {
            let ok = |v: usize| v > 0 && v.is_multiple_of(multiple);
            if !ok(value) {
                return Err(Error::InvalidRequest {
                    flag,
                    value: value.to_string(),
                    expected: format!("a positive multiple of {multiple}; {}", nearest(value, ok, 1)),
                });
            }
        }
        if self.steps == 0 {
            return Err(Error::InvalidRequest {
                flag: "--steps",
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        if !(self.guidance.is_finite() && self.guidance >= 0.0) {
            return Err(Error::InvalidRequest {
                flag: "--guidance",
                value: self.guidance.to_string(),
                expected: "a finite scale ≥ 0".into(),
            });
        }
        if let Some([low, high]) = self.guidance_interval
            && !(low.is_finite() && !high.is_nan() && 0.0 <= low && low <= high)
        {
            return Err(Error::InvalidRequest {
                flag: "--guidance-interval",
                value: format!("{low},{high}"),
                expected: "noise levels LOW,HIGH with 0 ≤ LOW ≤ HIGH".into(),
            });
        }
        if let Some(first) = &self.first_frames {
            let (count, height, width, channels) = first.dim();
            let expected = if !frames_ok(count) || count >= self.frames {
                Some(format!("1 + {k}j frames, fewer than --frames {}", self.frames))
            } else if (height, width, channels) != (self.height, self.width, 3) {
                Some(format!("RGB frames of {}x{} (--width x --height)", self.width, self.height))
            } else {
                None
            };
            if let Some(expected) = expected {
                return Err(Error::InvalidRequest {
                    flag: "first_frames",
                    value: format!("({count} frames, {width}x{height}x{channels})"),
                    expected,
                });
            }
        }
        if let Some(shift) = self.shift
            && !(shift.is_finite() && shift > 0.0)
        {
            return Err(Error::InvalidRequest {
                flag: "--shift",
                value: shift.to_string(),
                expected: "a finite shift > 0".into(),
            });
        }
        if self.max_sequence_length == 0 {
            return Err(Error::InvalidRequest {
                flag: "--max-sequence-length",
                value: "0".into(),
                expected: "at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> GenerateRequest {
        GenerateRequest {
            prompt: "a red circle moves left".into(),
            negative_prompt: String::new(),
            frames: 17,
            height: 64,
            width: 96,
            steps: 20,
            guidance: 5.0,
            guidance_interval: None,
            sampler: Some(SamplerKind::Euler),
            shift: None,
            seed: 0,
            noise: None,
            max_sequence_length: 512,
            first_frames: None,
        }
    }

    fn message(r: GenerateRequest) -> String {
        r.validate(&Geometry::WAN_2_1).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_request_passes_and_gives_the_wan_latent_shape() {
        request().validate(&Geometry::WAN_2_1).unwrap();
        assert_eq!(Geometry::WAN_2_1.latent_shape(81, 480, 832), [1, 16, 21, 60, 104]);
    }

    #[test]
    fn the_defaults_request_takes_their_sizes_and_is_valid() {
        let defaults = GenerationDefaults::default();
        let r = defaults.request("a red circle moves left");
        assert_eq!((r.frames, r.height, r.width), (81, 480, 832));
        assert_eq!(r.max_sequence_length, 512);
        assert_eq!(
            (r.steps, r.guidance, r.prompt.as_str()),
            (DEFAULT_STEPS, DEFAULT_GUIDANCE, "a red circle moves left")
        );
        r.validate(&Geometry::WAN_2_1).unwrap();
    }

    #[test]
    fn invalid_values_name_the_flag_and_the_nearest_valid_values() {
        let m = message(GenerateRequest { frames: 80, ..request() });
        assert!(m.contains("--frames 80") && m.contains("77 or 81"), "{m}");
        let m = message(GenerateRequest { height: 70, ..request() });
        assert!(m.contains("--height 70") && m.contains("64 or 80"), "{m}");
        let m = message(GenerateRequest { width: 5, ..request() });
        assert!(m.contains("--width 5") && m.contains("nearest valid: 16"), "{m}");
        let m = message(GenerateRequest { steps: 0, ..request() });
        assert!(m.contains("--steps"), "{m}");
        let m = message(GenerateRequest { guidance: -1.0, ..request() });
        assert!(m.contains("--guidance -1"), "{m}");
        for interval in [[0.5, 0.2], [-0.1, 0.5], [0.0, f64::NAN]] {
            let m = message(GenerateRequest { guidance_interval: Some(interval), ..request() });
            assert!(m.contains("--guidance-interval") && m.contains("0 ≤ LOW ≤ HIGH"), "{m}");
        }
        let m = message(GenerateRequest { prompt: "  ".into(), ..request() });
        assert!(m.contains("--prompt"), "{m}");
        let m = message(GenerateRequest { shift: Some(0.0), ..request() });
        assert!(m.contains("--shift 0"), "{m}");
        let m = message(GenerateRequest { frames: 0, ..request() });
        assert!(m.contains("nearest valid: 1"), "{m}");
    }
}
