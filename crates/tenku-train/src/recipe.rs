//! What to train: the world, the three model configs and the optimization settings of each stage.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tenku_dit::WanTransformerConfig;
use tenku_shapes::WorldConfig;
use tenku_text::Umt5Config;
use tenku_vae::WanVaeConfig;

use crate::data::Window;
use crate::error::{Error, Result};

/// How the decoder stage regenerates latents ([`Recipe::decoder_regeneration`]): each clip,
/// with probability `share`, is noised to a strength drawn uniformly from `strength` and sampled
/// back by the warm start's model with its caption, its default sampler and guidance, in
/// `steps` steps of the full schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regeneration {
    /// Share of the stage's clips regenerated, in [0, 1].
    pub share: f32,
    /// `[low, high]`, within (0, 1]: how far into the schedule the regeneration starts.
    pub strength: [f64; 2],
    /// Sampler steps of the whole schedule, of which a regeneration runs the last `strength`.
    pub steps: usize,
}

impl Regeneration {
    /// What is wrong with it, if anything.
    fn problem(&self) -> Option<String> {
        let [low, high] = self.strength;
        if !(0.0..=1.0).contains(&self.share) {
            Some(format!("decoder_regeneration.share {} must be in [0, 1]", self.share))
        } else if !(low > 0.0 && low <= high && high <= 1.0) {
            Some(format!(
                "decoder_regeneration.strength {:?} must be [low, high] with 0 < low ≤ high ≤ 1",
                self.strength
            ))
        } else if self.steps == 0 {
            Some("decoder_regeneration.steps must be positive".into())
        } else {
            None
        }
    }
}

/// How the denoiser stage also scores its predictions in pixels
/// ([`Recipe::denoiser_decoded_loss`]): the clean latents a sample's predicted velocity implies
/// (`x₀ = x_t − σ·v` on its noisy frames) are decoded by the frozen VAE and charged the VAE
/// stage's reconstruction loss against the true clip, object weights, edge and hue terms
/// included. The step's samples are split into `samples` consecutive groups, and each decodes
/// its first sample noised no more than `max_sigma`, if it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodedLoss {
    /// Factor on the mean reconstruction loss of the decoded samples.
    pub weight: f32,
    /// The highest noise level σ of a decoded sample, in (0, 1]: at high noise the sample does
    /// not yet show where its objects are, and the prediction is rightly a blur.
    pub max_sigma: f32,
    /// Samples decoded per step at most (each costs a decoder pass and its backward).
    pub samples: usize,
}

impl DecodedLoss {
    /// What is wrong with it in a step of `samples_per_step` samples, if anything.
    fn problem(&self, samples_per_step: usize) -> Option<String> {
        if !(self.weight.is_finite() && self.weight > 0.0) {
            Some(format!("denoiser_decoded_loss.weight {} must be a positive number", self.weight))
        } else if !(self.max_sigma > 0.0 && self.max_sigma <= 1.0) {
            Some(format!(
                "denoiser_decoded_loss.max_sigma {} must be a noise level in (0, 1]",
                self.max_sigma
            ))
        } else if !(1..=samples_per_step).contains(&self.samples) {
            Some(format!(
                "denoiser_decoded_loss.samples {} must be between 1 and a step's {samples_per_step} samples",
                self.samples
            ))
        } else {
            None
        }
    }
}

/// Everything that determines a training run: with the same recipe (seed included), a run
/// produces the same model, interrupted or not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    /// Seeds parameter initialization, clip sampling, noise and conditioning masks.
    pub seed: u64,
    /// The clips the model is trained on (and generates by default).
    pub world: WorldConfig,
    /// The causal video VAE (`latents_mean` / `latents_std` are measured after its stage).
    pub vae: WanVaeConfig,
    /// The umT5 text encoder (`vocab_size` must cover the word-level vocabulary).
    pub text_encoder: Umt5Config,
    /// The denoiser.
    pub transformer: WanTransformerConfig,
    /// Prompt tokens the text encoder sees (the tokenizer's `model_max_length`).
    pub max_sequence_length: usize,
    /// Flow shift of training noise levels and of the exported scheduler.
    pub shift: f64,
    /// Autoencoder stage: weighted reconstruction plus `kl_weight` × ½·μ².
    pub vae_stage: StageConfig,
    /// Weight of the latent penalty (½·μ², the mean part of the KL term) of the VAE loss.
    pub kl_weight: f32,
    /// Reconstruction weight of object and pillar pixels relative to background pixels.
    pub vae_object_weight: f32,
    /// Pixels around each object and the pillar that share `vae_object_weight`, in every
    /// direction within a frame. At 0 only the object's own pixels are weighted, so a decoder
    /// that is unsure where an edge lies loses less by drawing the object too large than too
    /// small; a margin weighs both mistakes alike (docs/shapes.md). Absent in older recipes: 0.
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub vae_object_margin: usize,
    /// Weight of a hue term in the VAE and decoder losses: the mean squared distance of each
    /// decoded object pixel from the line through the background and the pixel's true colour,
    /// which a soft edge stays on and a patch of another colour does not (docs/shapes.md).
    /// Absent in older recipes: 0, no hue term.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vae_hue_weight: f32,
    /// Weight of an edge term in the VAE and decoder losses: the L1 distance between the
    /// pixel-to-pixel steps of the decoded and the true frames, under the reconstruction's
    /// object weights, which a soft edge pays for where the pixel loss prefers it to a sharp one
    /// in the wrong place (docs/shapes.md). Absent in older recipes: 0, no edge term.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vae_edge_weight: f32,
    /// Factor on the initial weights of the two 1³ convs around the latent (`quant_conv`,
    /// `post_quant_conv`). The decoder trains unstably while its input is small next to the
    /// biases and normalized residual branches behind it; with a gain of 30 the VAE learns
    /// object colours at learning rates where it does not at 1 (docs/shapes.md). Applies to
    /// `post_quant_conv` too unless `vae_decoder_gain` is set. Absent in older recipes: 1.
    #[serde(default = "one")]
    pub vae_latent_gain: f32,
    /// Factor on the initial weights of `post_quant_conv` alone, overriding `vae_latent_gain`
    /// on the decoder's side. Measured with an encoder-side gain of 30: a decoder-side gain of
    /// 1 brings the gray blobs back, 10 keeps fewer colours than 30, 100 about as many
    /// (docs/shapes.md). Absent (as in older recipes): `vae_latent_gain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vae_decoder_gain: Option<f32>,
    /// Clips encoded after the VAE stage to measure the latent mean and standard deviation.
    pub stats_clips: usize,
    /// Text encoder + transformer stage: flow matching with conditioning masks. With a
    /// `warm_start`, 0 steps keep its text encoder and transformer as they are.
    pub denoiser_stage: StageConfig,
    /// Noise levels (and tasks) drawn per encoded clip in the denoiser stage: each step trains
    /// on `denoiser_stage.batch × noise_draws` samples while encoding only `batch` clips.
    pub noise_draws: usize,
    /// Steps whose clips the denoiser stage keeps to draw each step's samples from. 0 (absent
    /// in older recipes): a step trains on its own clips, each at `noise_draws` noise levels.
    /// Above 0, each of the step's `batch × noise_draws` samples is a clip drawn at random
    /// from the clips of the last `denoiser_pool_steps` steps (this one included): every clip
    /// is still used about `noise_draws` times, but a step's samples come from about as many
    /// different clips as there are samples, not `batch`.
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub denoiser_pool_steps: usize,
    /// A model directory (diffusers layout) to continue from: its VAE is kept (the VAE stage
    /// is skipped) and its text encoder and transformer start the denoiser stage instead of
    /// fresh weights (unless `fresh_denoiser`), to train a model further under a new schedule
    /// and seed. The components it gives must have the recipe's configs. Absent: everything
    /// trains from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<PathBuf>,
    /// With a `warm_start`: its VAE is kept but the denoiser stage starts from fresh weights
    /// of the recipe's own text encoder and transformer configs, which may then differ from
    /// the warm start's (a denoiser of another patch size or width on a trained VAE). Absent
    /// in older recipes: false, the warm start's denoiser is continued.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fresh_denoiser: bool,
    /// With a `warm_start`: a stage before the denoiser's that fine-tunes the warm start's VAE
    /// decoder alone, on the latent means of its frozen encoder (same loss as the VAE stage,
    /// without the latent penalty). The latent space stays as it was, and with it the latent
    /// statistics and the denoiser trained on them; only what the decoder draws changes.
    /// Absent: the warm start's VAE is kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_stage: Option<StageConfig>,
    /// Standard deviation of Gaussian noise added to the normalized latents the decoder stage
    /// decodes (`σ·latents_std` per raw channel), drawn anew every step: a decoder trained on
    /// latents a little off the encoder's learns to draw clean objects from the inexact latents
    /// a denoiser produces (docs/shapes.md); above 0 it needs a `decoder_stage`. Absent in older
    /// recipes: 0, the exact latents.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub decoder_latent_noise: f32,
    /// With a `decoder_stage`: a share of its clips is decoded not from the encoder's latents
    /// but from latents the warm start's own model regenerates from them (video → video), so the
    /// decoder learns to draw the true clip from what the denoiser makes of it (docs/shapes.md).
    /// Absent (as in older recipes): the encoder's latents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder_regeneration: Option<Regeneration>,
    /// Flow-matching weight of latents that cover an object or the pillar relative to the
    /// background's (a few percent of a clip, as in the VAE stage). Absent in older recipes: 1.
    #[serde(default = "one", skip_serializing_if = "is_unit")]
    pub denoiser_object_weight: f32,
    /// The highest noise level σ at which `denoiser_object_weight` applies; samples noised
    /// more weigh every latent alike. At high noise a sample does not show where its objects
    /// are, and a weight that depends on where they truly are pulls the prediction toward
    /// objects everywhere; at low noise it only stresses their outline (docs/shapes.md).
    /// Absent (as in older recipes): every level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denoiser_object_max_sigma: Option<f32>,
    /// Adds a pixel loss on decoded predictions to the flow-matching loss at low noise, where
    /// a sample shows where its objects are and the prediction decides their outlines: the
    /// latent loss barely tells a rounded corner from a sharp one, the decoded picture does
    /// (docs/shapes.md). Absent (as in older recipes): the flow-matching loss alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denoiser_decoded_loss: Option<DecodedLoss>,
    /// Factor on the transformer's initial self-attention logits: the gammas of every block's
    /// query and key RMSNorms start at its square root instead of 1, so attention starts
    /// sharper and RoPE's relative positions weigh more in it (docs/shapes.md). The saved
    /// weights are ordinary Wan weights. Absent in older recipes: 1.
    #[serde(default = "one", skip_serializing_if = "is_unit")]
    pub denoiser_attention_gain: f32,
    /// Probability that a training caption is replaced by the empty prompt (for guidance).
    pub caption_dropout: f32,
    /// How often each task is drawn: text→video, image→video (first latent frame clean),
    /// extension (first k latent frames clean); normalized when drawn.
    pub task_weights: [f32; 3],
    /// Seconds between checkpoints (0: after every step).
    pub checkpoint_every_secs: u64,
    /// The classifier-free guidance scale the trained model's directory records as its default
    /// (`_tenku_defaults.guidance`), chosen by evaluating the model. Absent: none recorded, so
    /// generation uses Wan's 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<f64>,
}

/// Optimization settings of one stage (AdamW, linear warmup then cosine decay to 10 %).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageConfig {
    /// Optimizer steps.
    pub steps: usize,
    /// Clips per step.
    pub batch: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Steps of linear warmup.
    pub warmup: usize,
    /// Frames per training clip (a window of the world's clips; `1 + 4k`).
    pub frames: usize,
    /// Square crop side in pixels (random position), or `None` for whole frames.
    pub crop: Option<usize>,
    /// Gradient norm clip.
    pub grad_clip: f32,
    /// Share of crops placed over an object (its centre in the window's middle frame falls
    /// inside the crop) instead of anywhere; objects cover a few percent of a frame, so
    /// anywhere-crops are mostly background. Absent in older recipes: 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub object_crops: f32,
    /// Decay of an exponential moving average of the weights, which the stage then hands on
    /// (exported, or to the next stage) instead of its last weights. After `t` steps the average
    /// moves with `min(decay, (1 + t) / (10 + t))`, so it soon forgets the starting weights.
    /// `None` (older recipes): the last weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
}

impl StageConfig {
    /// The part of each clip this stage trains on.
    pub fn window(&self) -> Window {
        Window { frames: self.frames, crop: self.crop, object_crops: self.object_crops }
    }

    /// The weight of the previous average in the moving average's update after `steps`
    /// optimizer steps (see [`StageConfig::ema_decay`]); `None` without an average.
    pub fn ema_decay_at(&self, steps: usize) -> Option<f64> {
        let early = (1 + steps) as f64 / (10 + steps) as f64;
        self.ema_decay.map(|decay| decay.min(early))
    }

    /// The learning rate at `step`: linear warmup to the peak, then a cosine to 10 % of it.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let peak = self.learning_rate;
        if step < self.warmup {
            return peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.steps.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}

impl Recipe {
    /// The first of the runs behind the shipped default model (`models/tenku-shapes`): every
    /// component from scratch, sized to train in about 1 h 55 min on two CPU cores. The shipped
    /// model continues its result with the other recipes of [`Recipe::BUILT_IN`], in order.
    pub fn shapes_default() -> Self {
        let words = tenku_shapes::vocabulary().len() + tenku_text::SPECIAL_TOKENS.len();
        Self {
            seed: 2026,
            world: WorldConfig::default(),
            vae: vae_config(8, 8),
            text_encoder: text_config(words, 64, 2),
            transformer: transformer_config(8, 64, 256, 8, 4),
            max_sequence_length: 32,
            shift: 2.0,
            vae_stage: StageConfig {
                steps: 3600,
                batch: 4,
                learning_rate: 1e-3,
                warmup: 100,
                frames: 17,
                crop: Some(16),
                grad_clip: 1.0,
                object_crops: 0.75,
                ema_decay: None,
            },
            kl_weight: 1e-4,
            vae_object_weight: 10.0,
            vae_object_margin: 0,
            vae_hue_weight: 0.0,
            vae_edge_weight: 0.0,
            vae_latent_gain: 30.0,
            vae_decoder_gain: None,
            stats_clips: 64,
            denoiser_stage: StageConfig {
                steps: 3800,
                batch: 2,
                learning_rate: 6e-4,
                warmup: 100,
                frames: 17,
                crop: None,
                grad_clip: 1.0,
                object_crops: 0.0,
                ema_decay: None,
            },
            noise_draws: 8,
            denoiser_pool_steps: 32,
            warm_start: None,
            fresh_denoiser: false,
            decoder_stage: None,
            decoder_latent_noise: 0.0,
            decoder_regeneration: None,
            denoiser_object_weight: 1.0,
            denoiser_object_max_sigma: None,
            denoiser_decoded_loss: None,
            denoiser_attention_gain: 1.0,
            caption_dropout: 0.1,
            task_weights: [0.6, 0.2, 0.2],
            checkpoint_every_secs: 180,
            guidance: None,
        }
    }

    /// The second run behind the shipped default model: [`Recipe::shapes_default`]'s model in
    /// `base` trained further — its VAE kept, 2400 more denoiser steps at AdamW 3e-4 on new
    /// clips (seed 2027). About 1 h on two CPU cores.
    pub fn shapes_continued(base: PathBuf) -> Self {
        let first = Self::shapes_default();
        Self {
            seed: first.seed + 1,
            denoiser_stage: StageConfig { steps: 2400, learning_rate: 3e-4, ..first.denoiser_stage.clone() },
            warm_start: Some(base),
            ..first
        }
    }

    /// The third run behind the shipped default model: [`Recipe::shapes_continued`]'s model in
    /// `base` trained 3000 more denoiser steps (AdamW 3e-4, new clips from seed 2028), handing
    /// on a moving average of its weights (`ema_decay` 0.998). About 75 min on two CPU cores.
    pub fn shapes_averaged(base: PathBuf) -> Self {
        let second = Self::shapes_continued(base);
        Self {
            seed: second.seed + 1,
            denoiser_stage: StageConfig {
                steps: 3000,
                ema_decay: Some(0.998),
                ..second.denoiser_stage.clone()
            },
            ..second
        }
    }

    /// The fourth run behind the shipped default model: [`Recipe::shapes_averaged`]'s model in
    /// `base` trained 3600 more denoiser steps under the same schedule and averaging, on new
    /// clips (seed 2029), recording guidance 3 as the model's default (it scores better than 5
    /// there; docs/shapes.md). About 90 min on two CPU cores.
    pub fn shapes_refined(base: PathBuf) -> Self {
        let third = Self::shapes_averaged(base);
        Self {
            seed: third.seed + 1,
            denoiser_stage: StageConfig { steps: 3600, ..third.denoiser_stage.clone() },
            guidance: Some(3.0),
            ..third
        }
    }

    /// The fifth run behind the shipped default model: [`Recipe::shapes_refined`]'s model in
    /// `base` trained 3600 more denoiser steps under the same schedule and averaging, on new
    /// clips (seed 2030). About 90 min on two CPU cores.
    pub fn shapes_polished(base: PathBuf) -> Self {
        let fourth = Self::shapes_refined(base);
        Self { seed: fourth.seed + 1, ..fourth }
    }

    /// The sixth run behind the shipped default model, the first on a GPU:
    /// [`Recipe::shapes_polished`]'s model in `base` trained 2300 more denoiser steps of 8
    /// clips each (four times the samples per step of the runs before), on new clips (seed
    /// 2031), with a checkpoint every minute. 8 minutes on an H200 through wgpu (`tenku train
    /// --device wgpu`); an estimated 3 hours on two CPU cores.
    pub fn shapes_batched(base: PathBuf) -> Self {
        let fifth = Self::shapes_polished(base);
        Self {
            seed: fifth.seed + 1,
            denoiser_stage: StageConfig { steps: 2300, batch: 8, ..fifth.denoiser_stage.clone() },
            checkpoint_every_secs: 60,
            ..fifth
        }
    }

    /// The seventh run behind the shipped default model: [`Recipe::shapes_batched`]'s model in
    /// `base` trained 1150 more steps of 8 clips, on new clips (seed 2032). 4 minutes on an
    /// H200; an estimated 90 minutes on two CPU cores.
    pub fn shapes_settled(base: PathBuf) -> Self {
        let sixth = Self::shapes_batched(base);
        Self {
            seed: sixth.seed + 1,
            denoiser_stage: StageConfig { steps: 1150, ..sixth.denoiser_stage.clone() },
            ..sixth
        }
    }

    /// The eighth run behind the shipped default model: [`Recipe::shapes_settled`]'s
    /// model in `base` with its VAE decoder fine-tuned alone for 1800 steps of four 32×32 crops
    /// (AdamW 3e-4, 50 warmup steps, three crops in four over an object, moving average 0.998;
    /// seed 2033) on its frozen encoder's latents; the text encoder and transformer are kept
    /// (`decoder_stage`). About 35 minutes on two CPU cores.
    pub fn shapes_decoder(base: PathBuf) -> Self {
        let seventh = Self::shapes_settled(base);
        let decoder_stage = StageConfig {
            steps: 1800,
            batch: 4,
            learning_rate: 3e-4,
            warmup: 50,
            crop: Some(32),
            object_crops: 0.75,
            ema_decay: Some(0.998),
            ..seventh.vae_stage.clone()
        };
        Self {
            seed: seventh.seed + 1,
            decoder_stage: Some(decoder_stage),
            denoiser_stage: StageConfig { steps: 0, ..seventh.denoiser_stage.clone() },
            ..seventh
        }
    }

    /// The ninth run behind the shipped default model: [`Recipe::shapes_decoder`]'s
    /// model in `base` with its VAE decoder fine-tuned 500 more steps on whole frames (two
    /// whole 17-frame clips per step, AdamW 2e-4, 20 warmup steps, moving average 0.998; seed
    /// 2034). About 17 minutes on two CPU cores.
    pub fn shapes_decoder_whole(base: PathBuf) -> Self {
        let eighth = Self::shapes_decoder(base);
        let decoder_stage = StageConfig {
            steps: 500,
            batch: 2,
            learning_rate: 2e-4,
            warmup: 20,
            crop: None,
            object_crops: 0.0,
            ema_decay: Some(0.998),
            ..eighth.vae_stage.clone()
        };
        Self { seed: eighth.seed + 1, decoder_stage: Some(decoder_stage), ..eighth }
    }

    /// The tenth run behind the shipped default model: [`Recipe::shapes_decoder_whole`]'s model
    /// in `base` with its VAE decoder fine-tuned 1500 more steps on whole clips, under the same
    /// schedule (seed 2035), with a checkpoint every 3 minutes. About 55 minutes on two CPU
    /// cores.
    pub fn shapes_decoder_longer(base: PathBuf) -> Self {
        let ninth = Self::shapes_decoder_whole(base);
        let decoder_stage = ninth.decoder_stage.clone().map(|stage| StageConfig { steps: 1500, ..stage });
        Self { seed: ninth.seed + 1, decoder_stage, checkpoint_every_secs: 180, ..ninth }
    }

    /// The eleventh run behind the shipped default model, the third on a GPU:
    /// [`Recipe::shapes_decoder_longer`]'s model in `base` with its denoiser trained again — its
    /// VAE kept, 2400 more steps of 8 clips under [`Recipe::shapes_batched`]'s schedule and
    /// averaging, on new clips (seed 2037; 2036 drew the clips of a CPU experiment, see
    /// docs/shapes.md), with a checkpoint every minute. 8 min 40 s on an H200 through wgpu; an
    /// estimated 3 hours on two CPU cores.
    pub fn shapes_batched_again(base: PathBuf) -> Self {
        let tenth = Self::shapes_decoder_longer(base);
        Self {
            seed: tenth.seed + 2,
            decoder_stage: None,
            denoiser_stage: StageConfig { steps: 2400, ..tenth.denoiser_stage.clone() },
            checkpoint_every_secs: 60,
            ..tenth
        }
    }

    /// The twelfth run behind the shipped default model: [`Recipe::shapes_batched_again`]'s
    /// model in `base` with its VAE decoder fine-tuned 1500 more steps on whole clips under
    /// [`Recipe::shapes_decoder_longer`]'s schedule, its object weight now reaching 2 pixels
    /// around each object (`vae_object_margin`), so that drawing an object too large costs as
    /// much as drawing it too small (seed 2039; 2038 drew the clips of a GPU experiment); the
    /// text encoder and transformer are kept. 58 minutes on two CPU cores.
    pub fn shapes_decoder_margin(base: PathBuf) -> Self {
        let eleventh = Self::shapes_batched_again(base.clone());
        let tenth = Self::shapes_decoder_longer(base);
        Self {
            seed: eleventh.seed + 2,
            vae_object_margin: 2,
            decoder_stage: tenth.decoder_stage,
            denoiser_stage: StageConfig { steps: 0, ..eleventh.denoiser_stage.clone() },
            checkpoint_every_secs: tenth.checkpoint_every_secs,
            ..eleventh
        }
    }

    /// The thirteenth run behind the shipped default model, the fourth on a GPU:
    /// [`Recipe::shapes_decoder_margin`]'s model in `base` with its denoiser trained again — its
    /// VAE kept, 2400 more steps of 8 clips under [`Recipe::shapes_batched_again`]'s schedule, on
    /// new clips (seed 2040; 2041 drew the clips of a CPU experiment, see docs/shapes.md), with a
    /// checkpoint every minute. 8 min 35 s on an H200 through wgpu; an estimated 3 hours on two
    /// CPU cores.
    pub fn shapes_batched_third(base: PathBuf) -> Self {
        let twelfth = Self::shapes_decoder_margin(base.clone());
        let eleventh = Self::shapes_batched_again(base);
        Self {
            seed: twelfth.seed + 1,
            decoder_stage: None,
            denoiser_stage: eleventh.denoiser_stage,
            checkpoint_every_secs: eleventh.checkpoint_every_secs,
            ..twelfth
        }
    }

    /// The fourteenth run behind the shipped default model: [`Recipe::shapes_batched_third`]'s
    /// model in `base` with its denoiser trained again on the CPU — its VAE kept, 9000 more steps
    /// of 2 clips (a quarter of the GPU runs' samples per step) under [`Recipe::shapes_polished`]'s
    /// learning rate, warmup and averaging, on new clips (seed 2044; 2041 to 2043 drew the clips
    /// of experiments, see docs/shapes.md), with a checkpoint every 3 minutes. 79 minutes on two
    /// CPU cores (release build).
    pub fn shapes_small_batches(base: PathBuf) -> Self {
        let thirteenth = Self::shapes_batched_third(base.clone());
        let fifth = Self::shapes_polished(base);
        Self {
            seed: thirteenth.seed + 4,
            denoiser_stage: StageConfig { steps: 9000, ..fifth.denoiser_stage },
            checkpoint_every_secs: fifth.checkpoint_every_secs,
            ..thirteenth
        }
    }

    /// The fifteenth run behind the shipped default model: [`Recipe::shapes_small_batches`]'s
    /// model in `base` trained 5000 more denoiser steps of 2 clips under the same schedule at a
    /// lower peak rate (AdamW 2e-4), on new clips (seed 2045). 52 minutes on two CPU cores
    /// (release build).
    pub fn shapes_small_batches_again(base: PathBuf) -> Self {
        let fourteenth = Self::shapes_small_batches(base);
        Self {
            seed: fourteenth.seed + 1,
            denoiser_stage: StageConfig {
                steps: 5000,
                learning_rate: 2e-4,
                ..fourteenth.denoiser_stage.clone()
            },
            ..fourteenth
        }
    }

    /// The sixteenth run behind the shipped default model:
    /// [`Recipe::shapes_small_batches_again`]'s model in `base` with its VAE decoder fine-tuned
    /// 600 steps of two whole clips under [`Recipe::shapes_decoder_margin`]'s schedule, with a hue
    /// term of weight 4 added to the loss (`vae_hue_weight`), on new clips (seed 2047; 2046 drew
    /// those of [`Recipe::shapes_small_batches_third`], which ran at the same time); text encoder
    /// and transformer kept. 16 minutes on two CPU cores (release build).
    pub fn shapes_decoder_hue(base: PathBuf) -> Self {
        let fifteenth = Self::shapes_small_batches_again(base.clone());
        let twelfth = Self::shapes_decoder_margin(base);
        Self {
            seed: fifteenth.seed + 2,
            vae_hue_weight: 4.0,
            decoder_stage: twelfth.decoder_stage.map(|stage| StageConfig { steps: 600, ..stage }),
            denoiser_stage: StageConfig { steps: 0, ..fifteenth.denoiser_stage.clone() },
            ..fifteenth
        }
    }

    /// The seventeenth run behind the shipped default model: [`Recipe::shapes_decoder_hue`]'s
    /// model in `base` trained 8000 more denoiser steps of 2 clips under
    /// [`Recipe::shapes_small_batches_again`]'s schedule (AdamW 2e-4), on new clips (seed 2046),
    /// the VAE kept. It ran from the fifteen-run model, whose VAE differs only in the decoder,
    /// which the denoiser stage never reads. 2 h 2 min on two CPU cores shared with builds and
    /// evaluations (release build; about 85 minutes alone).
    pub fn shapes_small_batches_third(base: PathBuf) -> Self {
        let fifteenth = Self::shapes_small_batches_again(base);
        Self {
            seed: fifteenth.seed + 1,
            denoiser_stage: StageConfig { steps: 8000, ..fifteenth.denoiser_stage.clone() },
            ..fifteenth
        }
    }

    /// The eighteenth run behind the shipped default model:
    /// [`Recipe::shapes_small_batches_third`]'s model in `base` with its VAE decoder fine-tuned
    /// 900 more steps under [`Recipe::shapes_decoder_hue`]'s schedule with the hue term's weight
    /// doubled to 8, on new clips (seed 2049; 2048 drew those of
    /// [`Recipe::shapes_small_batches_fourth`]); text encoder and transformer kept. 25 minutes
    /// on two CPU cores (release build), part of it shared with another run.
    pub fn shapes_decoder_hue_again(base: PathBuf) -> Self {
        let sixteenth = Self::shapes_decoder_hue(base);
        Self {
            seed: sixteenth.seed + 2,
            vae_hue_weight: 8.0,
            decoder_stage: sixteenth.decoder_stage.map(|stage| StageConfig { steps: 900, ..stage }),
            ..sixteenth
        }
    }

    /// The nineteenth run behind the shipped default model:
    /// [`Recipe::shapes_decoder_hue_again`]'s model in `base` with its VAE decoder fine-tuned 600
    /// more steps under the same schedule and loss on latents with Gaussian noise of 0.3 latent
    /// standard deviations added (`decoder_latent_noise`), on new clips (seed 2050); text encoder
    /// and transformer kept. 14 minutes on two CPU cores (release build).
    pub fn shapes_decoder_noise(base: PathBuf) -> Self {
        let eighteenth = Self::shapes_decoder_hue_again(base);
        Self {
            seed: eighteenth.seed + 1,
            decoder_latent_noise: 0.3,
            decoder_stage: eighteenth.decoder_stage.map(|stage| StageConfig { steps: 600, ..stage }),
            ..eighteenth
        }
    }

    /// The twentieth run behind the shipped default model:
    /// [`Recipe::shapes_decoder_noise`]'s model in `base` trained 5000 more denoiser steps of 2
    /// clips under [`Recipe::shapes_small_batches_third`]'s schedule (AdamW 2e-4), on new clips
    /// (seed 2048), the VAE kept. It ran from the seventeen-run model, whose VAE differs only in
    /// the decoder, which the denoiser stage never reads. 53 minutes on two CPU cores (release
    /// build).
    pub fn shapes_small_batches_fourth(base: PathBuf) -> Self {
        let seventeenth = Self::shapes_small_batches_third(base);
        Self {
            seed: seventeenth.seed + 2,
            denoiser_stage: StageConfig { steps: 5000, ..seventeenth.denoiser_stage.clone() },
            ..seventeenth
        }
    }

    /// The twenty-first run behind the shipped default model:
    /// [`Recipe::shapes_small_batches_fourth`]'s model in `base` with its VAE decoder fine-tuned
    /// 600 more steps under [`Recipe::shapes_decoder_noise`]'s schedule and loss, without latent
    /// noise, on clips three in four of which the model itself first regenerates from their
    /// latents (`decoder_regeneration`: strength 0.2 to 0.7 of 20 steps), on new clips (seed
    /// 2053); text encoder and transformer kept. 20 minutes on two CPU cores (release build,
    /// part of it sharing the cores with a build).
    pub fn shapes_decoder_regenerated(base: PathBuf) -> Self {
        let nineteenth = Self::shapes_decoder_noise(base);
        Self {
            seed: nineteenth.seed + 3,
            decoder_latent_noise: 0.0,
            decoder_regeneration: Some(Regeneration { share: 0.75, strength: [0.2, 0.7], steps: 20 }),
            ..nineteenth
        }
    }

    /// The twenty-second and last run behind the shipped default model:
    /// [`Recipe::shapes_decoder_regenerated`]'s model in `base` with its VAE decoder fine-tuned
    /// 900 more steps under the same schedule and loss, every clip regenerated first, on new
    /// clips (seed 2054); text encoder and transformer kept. 37 minutes on two CPU cores
    /// (release build, sharing the cores with a build).
    pub fn shapes_decoder_regenerated_again(base: PathBuf) -> Self {
        let twenty_first = Self::shapes_decoder_regenerated(base);
        Self {
            seed: twenty_first.seed + 1,
            decoder_stage: twenty_first.decoder_stage.map(|stage| StageConfig { steps: 900, ..stage }),
            decoder_regeneration: twenty_first
                .decoder_regeneration
                .map(|regeneration| Regeneration { share: 1.0, ..regeneration }),
            ..twenty_first
        }
    }

    /// The names of the built-in recipes, in the order of the shipped model's runs:
    /// [`Recipe::shapes_default`], [`Recipe::shapes_continued`], [`Recipe::shapes_averaged`],
    /// [`Recipe::shapes_refined`], [`Recipe::shapes_polished`], [`Recipe::shapes_batched`],
    /// [`Recipe::shapes_settled`], [`Recipe::shapes_decoder`], [`Recipe::shapes_decoder_whole`],
    /// [`Recipe::shapes_decoder_longer`], [`Recipe::shapes_batched_again`],
    /// [`Recipe::shapes_decoder_margin`], [`Recipe::shapes_batched_third`],
    /// [`Recipe::shapes_small_batches`], [`Recipe::shapes_small_batches_again`],
    /// [`Recipe::shapes_decoder_hue`], [`Recipe::shapes_small_batches_third`],
    /// [`Recipe::shapes_decoder_hue_again`], [`Recipe::shapes_decoder_noise`],
    /// [`Recipe::shapes_small_batches_fourth`], [`Recipe::shapes_decoder_regenerated`],
    /// [`Recipe::shapes_decoder_regenerated_again`].
    pub const BUILT_IN: [&str; 22] = [
        "shapes-default",
        "shapes-continued",
        "shapes-averaged",
        "shapes-refined",
        "shapes-polished",
        "shapes-batched",
        "shapes-settled",
        "shapes-decoder",
        "shapes-decoder-whole",
        "shapes-decoder-longer",
        "shapes-batched-again",
        "shapes-decoder-margin",
        "shapes-batched-third",
        "shapes-small-batches",
        "shapes-small-batches-again",
        "shapes-decoder-hue",
        "shapes-small-batches-third",
        "shapes-decoder-hue-again",
        "shapes-decoder-noise",
        "shapes-small-batches-fourth",
        "shapes-decoder-regenerated",
        "shapes-decoder-regenerated-again",
    ];

    /// The built-in recipe `name` (one of [`Recipe::BUILT_IN`]); the runs after the first
    /// continue the model directory `warm_start`, which they need. `None` for another name.
    pub fn built_in(name: &str, warm_start: Option<PathBuf>) -> Option<Result<Self>> {
        let continued = |recipe: fn(PathBuf) -> Self| {
            warm_start.clone().map(recipe).ok_or_else(|| Error::InvalidRecipe {
                path: name.into(),
                reason: "this run continues a trained model: it needs a warm start".into(),
            })
        };
        match name {
            "shapes-default" => Some(Ok(Self { warm_start: warm_start.clone(), ..Self::shapes_default() })),
            "shapes-continued" => Some(continued(Self::shapes_continued)),
            "shapes-averaged" => Some(continued(Self::shapes_averaged)),
            "shapes-refined" => Some(continued(Self::shapes_refined)),
            "shapes-polished" => Some(continued(Self::shapes_polished)),
            "shapes-batched" => Some(continued(Self::shapes_batched)),
            "shapes-settled" => Some(continued(Self::shapes_settled)),
            "shapes-decoder" => Some(continued(Self::shapes_decoder)),
            "shapes-decoder-whole" => Some(continued(Self::shapes_decoder_whole)),
            "shapes-decoder-longer" => Some(continued(Self::shapes_decoder_longer)),
            "shapes-batched-again" => Some(continued(Self::shapes_batched_again)),
            "shapes-decoder-margin" => Some(continued(Self::shapes_decoder_margin)),
            "shapes-batched-third" => Some(continued(Self::shapes_batched_third)),
            "shapes-small-batches" => Some(continued(Self::shapes_small_batches)),
            "shapes-small-batches-again" => Some(continued(Self::shapes_small_batches_again)),
            "shapes-decoder-hue" => Some(continued(Self::shapes_decoder_hue)),
            "shapes-small-batches-third" => Some(continued(Self::shapes_small_batches_third)),
            "shapes-decoder-hue-again" => Some(continued(Self::shapes_decoder_hue_again)),
            "shapes-decoder-noise" => Some(continued(Self::shapes_decoder_noise)),
            "shapes-small-batches-fourth" => Some(continued(Self::shapes_small_batches_fourth)),
            "shapes-decoder-regenerated" => Some(continued(Self::shapes_decoder_regenerated)),
            "shapes-decoder-regenerated-again" => Some(continued(Self::shapes_decoder_regenerated_again)),
            _ => None,
        }
    }

    /// The latent gains on the encoder's and the decoder's side: `vae_latent_gain`, and
    /// `vae_decoder_gain` or, when absent, `vae_latent_gain` again.
    pub fn latent_gains(&self) -> (f32, f32) {
        (self.vae_latent_gain, self.vae_decoder_gain.unwrap_or(self.vae_latent_gain))
    }

    /// A recipe small enough for tests: a few steps of each stage on 5-frame 32×32 clips.
    pub fn tiny() -> Self {
        let words = tenku_shapes::vocabulary().len() + tenku_text::SPECIAL_TOKENS.len();
        let stage = |steps| StageConfig {
            steps,
            batch: 2,
            learning_rate: 1e-3,
            warmup: 1,
            frames: 5,
            crop: None,
            grad_clip: 1.0,
            object_crops: 0.0,
            ema_decay: None,
        };
        Self {
            seed: 7,
            world: WorldConfig { frames: 5, height: 32, width: 32, ..WorldConfig::default() },
            vae: vae_config(4, 4),
            text_encoder: text_config(words, 16, 1),
            transformer: transformer_config(4, 16, 32, 2, 1),
            max_sequence_length: 16,
            shift: 2.0,
            vae_stage: stage(3),
            kl_weight: 1e-4,
            vae_object_weight: 10.0,
            vae_object_margin: 0,
            vae_hue_weight: 0.0,
            vae_edge_weight: 0.0,
            vae_latent_gain: 30.0,
            vae_decoder_gain: None,
            stats_clips: 2,
            denoiser_stage: stage(3),
            noise_draws: 2,
            denoiser_pool_steps: 2,
            warm_start: None,
            fresh_denoiser: false,
            decoder_stage: None,
            decoder_latent_noise: 0.0,
            decoder_regeneration: None,
            denoiser_object_weight: 2.0,
            denoiser_object_max_sigma: None,
            denoiser_decoded_loss: None,
            denoiser_attention_gain: 2.0,
            caption_dropout: 0.5,
            task_weights: [1.0, 1.0, 1.0],
            checkpoint_every_secs: 0,
            guidance: Some(4.0),
        }
    }

    /// Reads a recipe from JSON, naming the file on error.
    pub fn from_file(path: &Path) -> Result<Self> {
        let recipe: Recipe = tenku_core::read_json(path)?;
        recipe.validate().map_err(|reason| Error::InvalidRecipe { path: path.to_owned(), reason })?;
        Ok(recipe)
    }

    /// Checks that the parts fit together; the message says what does not.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.vae.validate()?;
        self.text_encoder.validate()?;
        self.transformer.validate().map_err(|e| e.to_string())?;
        let words = tenku_shapes::vocabulary().len() + tenku_text::SPECIAL_TOKENS.len();
        if self.text_encoder.vocab_size < words {
            return Err(format!(
                "text_encoder.vocab_size {} is smaller than the vocabulary ({words} tokens)",
                self.text_encoder.vocab_size
            ));
        }
        if self.transformer.text_dim != self.text_encoder.d_model {
            return Err(format!(
                "transformer.text_dim {} differs from text_encoder.d_model {}",
                self.transformer.text_dim, self.text_encoder.d_model
            ));
        }
        if self.transformer.in_channels != self.vae.z_dim {
            return Err(format!(
                "transformer.in_channels {} differs from vae.z_dim {}",
                self.transformer.in_channels, self.vae.z_dim
            ));
        }
        let temporal = self.vae.temporal_factor();
        let spatial = self.vae.spatial_factor() * self.transformer.patch_size[1];
        let world = &self.world;
        let decoder = self.decoder_stage.as_ref().map(|stage| ("decoder_stage", stage));
        if decoder.is_some() && self.warm_start.is_none() {
            return Err("decoder_stage fine-tunes a warm start's decoder: it needs warm_start".into());
        }
        if self.fresh_denoiser && self.warm_start.is_none() {
            return Err("fresh_denoiser keeps a warm start's VAE: it needs warm_start".into());
        }
        if self.decoder_latent_noise != 0.0 && decoder.is_none() {
            return Err("decoder_latent_noise acts in the decoder stage: it needs decoder_stage".into());
        }
        if let Some(regeneration) = &self.decoder_regeneration {
            if decoder.is_none() {
                return Err("decoder_regeneration acts in the decoder stage: it needs decoder_stage".into());
            }
            if let Some(problem) = regeneration.problem() {
                return Err(problem);
            }
            if let Some(stage) = &self.decoder_stage
                && (stage.crop.is_some() || stage.frames != world.frames)
            {
                return Err("decoder_regeneration regenerates whole clips: decoder_stage needs no crop and \
                     the world's frames"
                    .into());
            }
        }
        let trained = [("vae_stage", &self.vae_stage)].into_iter().chain(decoder);
        let windowed: Vec<_> = trained.clone().map(|(name, stage)| (name, stage.frames)).collect();
        for (name, frames) in [("world", world.frames)].into_iter().chain(windowed.iter().copied()) {
            if frames == 0 || (frames - 1) % temporal != 0 {
                return Err(format!("{name} frames {frames}: expected 1 + {temporal}k"));
            }
        }
        if let Some((name, frames)) = windowed.iter().find(|(_, frames)| *frames > world.frames) {
            return Err(format!("{name}.frames {frames} must be at most world.frames {}", world.frames));
        }
        if self.denoiser_stage.frames != world.frames {
            return Err(format!(
                "denoiser_stage.frames {} must equal world.frames {}",
                self.denoiser_stage.frames, world.frames
            ));
        }
        if !world.height.is_multiple_of(spatial) || !world.width.is_multiple_of(spatial) {
            return Err(format!("world {}x{} must be multiples of {spatial}", world.height, world.width));
        }
        // A warm start's denoiser may stay as it is (a run that only fine-tunes the decoder).
        let kept_denoiser =
            self.warm_start.is_some() && !self.fresh_denoiser && self.denoiser_stage.steps == 0;
        let denoiser = Some(("denoiser_stage", &self.denoiser_stage)).filter(|_| !kept_denoiser);
        for (name, stage) in trained.chain(denoiser) {
            if stage.steps == 0
                || stage.batch == 0
                || stage.learning_rate.is_nan()
                || stage.learning_rate <= 0.0
                || self.noise_draws == 0
            {
                return Err(format!("{name}: steps, batch, learning_rate and noise_draws must be positive"));
            }
            if !(0.0..=1.0).contains(&stage.object_crops) {
                return Err(format!("{name}: object_crops {} must be in [0, 1]", stage.object_crops));
            }
            if let Some(decay) = stage.ema_decay.filter(|d| !(*d > 0.0 && *d < 1.0)) {
                return Err(format!("{name}: ema_decay {decay} must be in (0, 1)"));
            }
        }
        if self.task_weights.iter().any(|w| w.is_nan() || *w < 0.0)
            || self.task_weights.iter().sum::<f32>() <= 0.0
        {
            return Err(format!("task_weights {:?} must be non-negative, not all zero", self.task_weights));
        }
        let factors = [
            ("denoiser_object_weight", self.denoiser_object_weight),
            ("denoiser_attention_gain", self.denoiser_attention_gain),
            ("vae_latent_gain", self.vae_latent_gain),
        ];
        if let Some((name, value)) = factors.into_iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("{name} {value} must be a positive number"));
        }
        let weights = [
            ("vae_hue_weight", self.vae_hue_weight),
            ("vae_edge_weight", self.vae_edge_weight),
            ("decoder_latent_noise", self.decoder_latent_noise),
        ];
        if let Some((name, value)) = weights.into_iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            return Err(format!("{name} {value} must be a non-negative number"));
        }
        if 2 * self.vae_object_margin >= world.height.min(world.width) {
            return Err(format!(
                "vae_object_margin {} must be less than half the world's {}x{} frame",
                self.vae_object_margin, world.height, world.width
            ));
        }
        if let Some(sigma) = self.denoiser_object_max_sigma.filter(|s| !(*s > 0.0 && *s <= 1.0)) {
            return Err(format!("denoiser_object_max_sigma {sigma} must be a noise level in (0, 1]"));
        }
        let samples_per_step = self.denoiser_stage.batch * self.noise_draws;
        if let Some(problem) = self.denoiser_decoded_loss.as_ref().and_then(|d| d.problem(samples_per_step)) {
            return Err(problem);
        }
        if let Some(gain) = self.vae_decoder_gain.filter(|g| !(g.is_finite() && *g > 0.0)) {
            return Err(format!("vae_decoder_gain {gain} must be a positive number"));
        }
        if let Some(guidance) = self.guidance.filter(|g| !(g.is_finite() && *g >= 0.0)) {
            return Err(format!("guidance {guidance} must be a non-negative number"));
        }
        if self.max_sequence_length < 2 {
            return Err("max_sequence_length must be at least 2 (one word and </s>)".into());
        }
        Ok(())
    }
}

/// Whether a share or weight is zero, the value older recipes lack (and are written without).
fn is_zero(value: &f32) -> bool {
    *value == 0.0
}

/// Whether a count is zero, the value older recipes lack (and are written without).
fn is_zero_count(count: &usize) -> bool {
    *count == 0
}

/// Whether a flag is off, the value older recipes lack (and are written without).
fn is_false(flag: &bool) -> bool {
    !flag
}

/// Whether a weight is 1, the value older recipes lack (and are written without).
fn is_unit(weight: &f32) -> bool {
    *weight == 1.0
}

/// The gain or weight older recipes lack (`vae_latent_gain`, `denoiser_object_weight`,
/// `denoiser_attention_gain`): 1.
fn one() -> f32 {
    1.0
}

/// A Wan2.1-layout VAE with ×4 spatial and ×4 temporal compression (two down stages).
fn vae_config(base_dim: usize, z_dim: usize) -> WanVaeConfig {
    WanVaeConfig {
        base_dim,
        decoder_base_dim: None,
        z_dim,
        dim_mult: vec![1, 2, 4],
        num_res_blocks: 1,
        attn_scales: vec![],
        temperal_downsample: vec![true, true],
        dropout: 0.0,
        latents_mean: vec![0.0; z_dim],
        latents_std: vec![1.0; z_dim],
        is_residual: false,
        in_channels: 3,
        out_channels: 3,
        patch_size: None,
        scale_factor_temporal: Some(4),
        scale_factor_spatial: Some(4),
    }
}

/// A umT5 encoder (gated GELU, relative position buckets) of width `d_model`.
fn text_config(vocab_size: usize, d_model: usize, num_layers: usize) -> Umt5Config {
    Umt5Config {
        vocab_size,
        d_model,
        d_kv: d_model / 4,
        d_ff: 2 * d_model,
        num_layers,
        num_heads: 4,
        relative_attention_num_buckets: 16,
        relative_attention_max_distance: 32,
        feed_forward_proj: "gated-gelu".into(),
        layer_norm_epsilon: 1e-6,
    }
}

/// A Wan transformer of width `width` over `in_channels` latents and text of width `text_dim`;
/// 4×4 latent patches, so each token covers 16×16 pixels as in Wan (8× VAE, 2×2 patches).
fn transformer_config(
    in_channels: usize,
    text_dim: usize,
    width: usize,
    heads: usize,
    num_layers: usize,
) -> WanTransformerConfig {
    WanTransformerConfig {
        patch_size: [1, 4, 4],
        num_attention_heads: heads,
        attention_head_dim: width / heads,
        in_channels,
        out_channels: Some(in_channels),
        text_dim,
        freq_dim: 64,
        ffn_dim: 3 * width,
        num_layers,
        cross_attn_norm: true,
        qk_norm: Some("rms_norm_across_heads".into()),
        eps: 1e-6,
        image_dim: None,
        added_kv_proj_dim: None,
        rope_max_seq_len: 64,
        pos_embed_seq_len: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_recipes_are_valid() {
        Recipe::shapes_default().validate().unwrap();
        Recipe::shapes_continued("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_averaged("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_refined("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_polished("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_batched("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_settled("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_whole("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_longer("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_batched_again("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_margin("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_batched_third("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_small_batches("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_small_batches_again("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_hue("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_small_batches_third("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_hue_again("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_noise("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_small_batches_fourth("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_regenerated("models/tenku-shapes".into()).validate().unwrap();
        Recipe::shapes_decoder_regenerated_again("models/tenku-shapes".into()).validate().unwrap();
        Recipe::tiny().validate().unwrap();
    }

    #[test]
    fn built_in_recipes_are_found_by_name_and_the_later_runs_need_a_warm_start() {
        let base = PathBuf::from("models/tenku-shapes");
        let runs = [
            Recipe::shapes_default(),
            Recipe::shapes_continued(base.clone()),
            Recipe::shapes_averaged(base.clone()),
            Recipe::shapes_refined(base.clone()),
            Recipe::shapes_polished(base.clone()),
            Recipe::shapes_batched(base.clone()),
            Recipe::shapes_settled(base.clone()),
            Recipe::shapes_decoder(base.clone()),
            Recipe::shapes_decoder_whole(base.clone()),
            Recipe::shapes_decoder_longer(base.clone()),
            Recipe::shapes_batched_again(base.clone()),
            Recipe::shapes_decoder_margin(base.clone()),
            Recipe::shapes_batched_third(base.clone()),
            Recipe::shapes_small_batches(base.clone()),
            Recipe::shapes_small_batches_again(base.clone()),
            Recipe::shapes_decoder_hue(base.clone()),
            Recipe::shapes_small_batches_third(base.clone()),
            Recipe::shapes_decoder_hue_again(base.clone()),
            Recipe::shapes_decoder_noise(base.clone()),
            Recipe::shapes_small_batches_fourth(base.clone()),
            Recipe::shapes_decoder_regenerated(base.clone()),
            Recipe::shapes_decoder_regenerated_again(base.clone()),
        ];
        assert_eq!(Recipe::BUILT_IN.len(), runs.len());
        for (name, recipe) in Recipe::BUILT_IN.into_iter().zip(&runs) {
            let found = Recipe::built_in(name, recipe.warm_start.clone()).expect("a built-in name");
            assert_eq!(&found.unwrap(), recipe, "{name}");
        }
        let error = Recipe::built_in("shapes-averaged", None).expect("a built-in name").unwrap_err();
        assert!(error.to_string().contains("shapes-averaged"), "{error}");
        assert!(Recipe::built_in("shapes", None).is_none());
        let seeds: std::collections::BTreeSet<u64> = runs.iter().map(|run| run.seed).collect();
        assert_eq!(seeds.len(), runs.len(), "each run draws new clips");
    }

    #[test]
    fn learning_rate_warms_up_then_decays_to_a_tenth() {
        let stage = Recipe::shapes_default().denoiser_stage;
        assert!(stage.learning_rate_at(0) < stage.learning_rate_at(stage.warmup - 1));
        assert!((stage.learning_rate_at(stage.warmup) - stage.learning_rate).abs() < 1e-12);
        let last = stage.learning_rate_at(stage.steps);
        assert!((last - 0.1 * stage.learning_rate).abs() < 1e-12, "{last}");
    }

    #[test]
    fn mismatched_parts_are_rejected() {
        let mut recipe = Recipe::tiny();
        recipe.transformer.text_dim += 1;
        assert!(recipe.validate().unwrap_err().contains("text_dim"));
    }

    #[test]
    fn recipes_without_a_latent_gain_read_as_gain_one() {
        let mut json = serde_json::to_value(Recipe::tiny()).unwrap();
        json.as_object_mut().unwrap().remove("vae_latent_gain");
        let recipe: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(recipe.vae_latent_gain, 1.0);
    }

    #[test]
    fn a_decoder_gain_is_optional_and_must_be_positive() {
        let json = serde_json::to_value(Recipe::tiny()).unwrap();
        assert!(json.get("vae_decoder_gain").is_none(), "absent gains are not written");
        let mut recipe: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(recipe.vae_decoder_gain, None);
        assert_eq!(recipe.latent_gains(), (30.0, 30.0), "absent: the decoder takes vae_latent_gain");
        recipe.vae_decoder_gain = Some(1.0);
        assert_eq!(recipe.latent_gains(), (30.0, 1.0));
        let round_trip: Recipe = serde_json::from_value(serde_json::to_value(&recipe).unwrap()).unwrap();
        assert_eq!(round_trip, recipe);
        recipe.vae_decoder_gain = Some(-1.0);
        assert!(recipe.validate().unwrap_err().contains("vae_decoder_gain -1"));
    }

    #[test]
    fn a_recorded_guidance_must_be_a_non_negative_number() {
        Recipe { guidance: Some(0.0), ..Recipe::tiny() }.validate().unwrap();
        for bad in [-1.0, f64::NAN] {
            let error = Recipe { guidance: Some(bad), ..Recipe::tiny() }.validate().unwrap_err();
            assert!(error.contains(&format!("guidance {bad}")), "{error}");
        }
    }

    #[test]
    fn object_crops_are_optional_and_a_share() {
        let mut json = serde_json::to_value(Recipe::shapes_default()).unwrap();
        assert!(json["denoiser_stage"].get("object_crops").is_none(), "a zero share is not written");
        json["vae_stage"].as_object_mut().unwrap().remove("object_crops");
        let mut recipe: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(recipe.vae_stage.object_crops, 0.0, "absent reads as zero");
        recipe.vae_stage.object_crops = 1.5;
        assert!(recipe.validate().unwrap_err().contains("object_crops 1.5"));
    }

    #[test]
    fn unit_factors_are_optional_and_must_be_positive() {
        for name in ["denoiser_object_weight", "denoiser_attention_gain"] {
            let mut json = serde_json::to_value(Recipe::shapes_default()).unwrap();
            assert!(json.get(name).is_none(), "{name}: a unit factor is not written");
            let recipe: Recipe = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(&recipe).unwrap(), json, "{name}: absent reads as 1");
            json[name] = serde_json::json!(0.0);
            let recipe: Recipe = serde_json::from_value(json).unwrap();
            assert!(recipe.validate().unwrap_err().contains(&format!("{name} 0")), "{name}");
        }
    }

    #[test]
    fn an_object_margin_hue_and_edge_terms_and_latent_noise_are_optional() {
        let json = serde_json::to_value(Recipe::shapes_default()).unwrap();
        assert!(json.get("vae_object_margin").is_none(), "no margin is not written");
        assert!(json.get("vae_hue_weight").is_none(), "no hue term is not written");
        assert!(json.get("vae_edge_weight").is_none(), "no edge term is not written");
        assert!(json.get("decoder_latent_noise").is_none(), "no latent noise is not written");
        let margin =
            serde_json::to_value(Recipe::shapes_decoder_margin("models/tenku-shapes".into())).unwrap();
        assert_eq!(margin["vae_object_margin"], 2);
        let read: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(
            (read.vae_object_margin, read.vae_hue_weight, read.vae_edge_weight, read.decoder_latent_noise),
            (0, 0.0, 0.0, 0.0),
            "absent: no margin, no hue or edge term, no latent noise"
        );
        let hue = Recipe { vae_hue_weight: -1.0, ..Recipe::tiny() };
        assert!(hue.validate().unwrap_err().contains("vae_hue_weight -1"));
        let edge = Recipe { vae_edge_weight: -2.0, ..Recipe::tiny() };
        assert!(edge.validate().unwrap_err().contains("vae_edge_weight -2"));
        let noise = Recipe { decoder_latent_noise: 0.3, ..Recipe::tiny() };
        assert!(noise.validate().unwrap_err().contains("decoder_latent_noise acts in the decoder stage"));
        let with_stage = with_a_decoder_stage(noise);
        with_stage.validate().unwrap();
        let not_a_number = Recipe { decoder_latent_noise: f32::NAN, ..with_stage };
        assert!(not_a_number.validate().unwrap_err().contains("decoder_latent_noise NaN"));
        let wide = Recipe { vae_object_margin: 16, ..Recipe::tiny() };
        assert!(wide.validate().unwrap_err().contains("vae_object_margin 16"));
        Recipe { vae_object_margin: 15, ..Recipe::tiny() }.validate().unwrap();
    }

    /// `recipe` warm-started from the shipped model, with a decoder stage of its VAE stage's
    /// settings.
    fn with_a_decoder_stage(recipe: Recipe) -> Recipe {
        Recipe {
            decoder_stage: Some(recipe.vae_stage.clone()),
            warm_start: Some("models/tenku-shapes".into()),
            ..recipe
        }
    }

    #[test]
    fn a_decoded_loss_is_optional_round_trips_and_needs_sane_values() {
        let tiny = Recipe::tiny();
        let json = serde_json::to_value(&tiny).unwrap();
        assert!(json.get("denoiser_decoded_loss").is_none(), "no decoded loss is not written");
        assert_eq!(serde_json::from_value::<Recipe>(json).unwrap().denoiser_decoded_loss, None);
        let settings = DecodedLoss { weight: 0.5, max_sigma: 0.6, samples: 2 };
        let decoding = Recipe { denoiser_decoded_loss: Some(settings.clone()), ..tiny.clone() };
        decoding.validate().unwrap();
        let read: Recipe = serde_json::from_value(serde_json::to_value(&decoding).unwrap()).unwrap();
        assert_eq!(read, decoding);
        let problem = |settings: DecodedLoss| {
            Recipe { denoiser_decoded_loss: Some(settings), ..tiny.clone() }.validate().unwrap_err()
        };
        assert!(problem(DecodedLoss { weight: 0.0, ..settings.clone() }).contains("weight 0 must be"));
        assert!(problem(DecodedLoss { max_sigma: 1.5, ..settings.clone() }).contains("max_sigma 1.5"));
        let per_step = tiny.denoiser_stage.batch * tiny.noise_draws;
        let too_many = problem(DecodedLoss { samples: per_step + 1, ..settings.clone() });
        assert!(too_many.contains(&format!("a step's {per_step} samples")), "{too_many}");
        assert!(problem(DecodedLoss { samples: 0, ..settings }).contains("samples 0"));
    }

    #[test]
    fn a_regeneration_is_optional_round_trips_and_needs_a_decoder_stage_and_sane_values() {
        let tiny = Recipe::tiny();
        let json = serde_json::to_value(&tiny).unwrap();
        assert!(json.get("decoder_regeneration").is_none(), "no regeneration is not written");
        let regeneration = Regeneration { share: 0.75, strength: [0.2, 0.7], steps: 20 };
        let alone = Recipe { decoder_regeneration: Some(regeneration.clone()), ..tiny.clone() };
        assert!(alone.validate().unwrap_err().contains("decoder_regeneration acts in the decoder stage"));
        let with_stage = with_a_decoder_stage(alone);
        with_stage.validate().unwrap();
        let read: Recipe = serde_json::from_value(serde_json::to_value(&with_stage).unwrap()).unwrap();
        assert_eq!(read, with_stage);
        let with = |regeneration: Regeneration| {
            Recipe { decoder_regeneration: Some(regeneration), ..with_stage.clone() }.validate().unwrap_err()
        };
        assert!(with(Regeneration { share: 1.5, ..regeneration.clone() }).contains("share 1.5"));
        for strength in [[0.0, 0.5], [0.6, 0.5], [0.5, 1.2], [f64::NAN, 0.5]] {
            let error = with(Regeneration { strength, ..regeneration.clone() });
            assert!(error.contains("decoder_regeneration.strength"), "{strength:?}: {error}");
        }
        assert!(with(Regeneration { steps: 0, ..regeneration }).contains("steps must be positive"));
        let cropped = StageConfig { crop: Some(16), ..tiny.vae_stage.clone() };
        let error = Recipe { decoder_stage: Some(cropped), ..with_stage }.validate().unwrap_err();
        assert!(error.contains("regenerates whole clips"), "{error}");
    }

    #[test]
    fn an_object_noise_limit_is_optional_and_a_noise_level() {
        let json = serde_json::to_value(Recipe::shapes_default()).unwrap();
        assert!(json.get("denoiser_object_max_sigma").is_none(), "no limit is not written");
        let read: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(read.denoiser_object_max_sigma, None, "absent: every level");
        for sigma in [0.0, -0.5, 1.5, f32::NAN] {
            let recipe = Recipe { denoiser_object_max_sigma: Some(sigma), ..Recipe::tiny() };
            assert!(recipe.validate().unwrap_err().contains("denoiser_object_max_sigma"), "{sigma}");
        }
        Recipe { denoiser_object_max_sigma: Some(0.5), ..Recipe::tiny() }.validate().unwrap();
    }

    #[test]
    fn a_clip_pool_is_optional() {
        let mut json = serde_json::to_value(Recipe::tiny()).unwrap();
        assert_eq!(json["denoiser_pool_steps"], 2);
        json.as_object_mut().unwrap().remove("denoiser_pool_steps");
        let recipe: Recipe = serde_json::from_value(json).unwrap();
        assert_eq!(recipe.denoiser_pool_steps, 0, "absent: no pool");
        let written = serde_json::to_value(&recipe).unwrap();
        assert!(written.get("denoiser_pool_steps").is_none(), "no pool is not written");
    }

    #[test]
    fn a_warm_start_is_optional_and_round_trips() {
        let json = serde_json::to_value(Recipe::tiny()).unwrap();
        assert!(json.get("warm_start").is_none(), "no warm start is not written");
        let recipe = Recipe { warm_start: Some("models/tenku-shapes".into()), ..Recipe::tiny() };
        let read: Recipe = serde_json::from_value(serde_json::to_value(&recipe).unwrap()).unwrap();
        assert_eq!(read, recipe);
    }

    #[test]
    fn a_decoder_stage_is_optional_round_trips_and_is_checked() {
        let json = serde_json::to_value(Recipe::tiny()).unwrap();
        assert!(json.get("decoder_stage").is_none(), "no decoder stage is not written");
        let tiny = Recipe::tiny();
        let warm = Recipe { warm_start: Some("models/tenku-shapes".into()), ..tiny.clone() };
        let recipe = Recipe { decoder_stage: Some(tiny.vae_stage.clone()), ..warm.clone() };
        let read: Recipe = serde_json::from_value(serde_json::to_value(&recipe).unwrap()).unwrap();
        assert_eq!(read, recipe);
        recipe.validate().unwrap();

        let too_long = StageConfig { frames: tiny.world.frames + 4, ..tiny.vae_stage.clone() };
        let long_window = Recipe { decoder_stage: Some(too_long), ..warm.clone() };
        let error = long_window.validate().unwrap_err();
        assert!(error.contains(&format!("decoder_stage.frames {}", tiny.world.frames + 4)), "{error}");
        let no_steps = StageConfig { steps: 0, ..tiny.vae_stage.clone() };
        let idle = Recipe { decoder_stage: Some(no_steps), ..warm.clone() };
        assert!(idle.validate().unwrap_err().contains("decoder_stage"));
    }

    #[test]
    fn only_a_warm_start_may_keep_its_denoiser_untrained() {
        let tiny = Recipe::tiny();
        let no_steps = StageConfig { steps: 0, ..tiny.denoiser_stage.clone() };
        let fresh = Recipe { denoiser_stage: no_steps, ..tiny };
        assert!(fresh.validate().unwrap_err().contains("denoiser_stage"));
        let warm = Recipe { warm_start: Some("models/tenku-shapes".into()), ..fresh };
        warm.validate().unwrap();
        let restarted = Recipe { fresh_denoiser: true, ..warm };
        assert!(restarted.validate().unwrap_err().contains("denoiser_stage"), "a fresh denoiser trains");
    }

    #[test]
    fn a_fresh_denoiser_is_optional_round_trips_and_needs_a_warm_start() {
        let json = serde_json::to_value(Recipe::tiny()).unwrap();
        assert!(json.get("fresh_denoiser").is_none(), "a continued denoiser is not written");
        let alone = Recipe { fresh_denoiser: true, ..Recipe::tiny() };
        assert!(alone.validate().unwrap_err().contains("fresh_denoiser"));
        let recipe = Recipe { warm_start: Some("models/tenku-shapes".into()), ..alone };
        recipe.validate().unwrap();
        let read: Recipe = serde_json::from_value(serde_json::to_value(&recipe).unwrap()).unwrap();
        assert_eq!(read, recipe);
    }

    #[test]
    fn the_recipes_in_docs_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/recipes");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "json") {
                Recipe::from_file(&path).unwrap_or_else(|error| panic!("{error}"));
                read += 1;
            }
        }
        assert!(read > 0, "no recipe in {}", dir.display());
        let fine = Recipe::from_file(&dir.join("shapes-fine-tokens.json")).unwrap();
        assert!(fine.fresh_denoiser);
        assert_eq!(fine.transformer.patch_size, [1, 2, 2]);
    }

    #[test]
    fn a_non_positive_latent_gain_is_rejected() {
        let mut recipe = Recipe::tiny();
        recipe.vae_latent_gain = 0.0;
        assert!(recipe.validate().unwrap_err().contains("vae_latent_gain"));
    }
}
