//! The encoder (diffusers' `WanEncoder3d`): pixels (patchified for Wan2.2) to the posterior's
//! `2·z_dim` channels, one chunk of frames at a time.

use burn::module::Module;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

use crate::blocks::{AttentionBlock, AvgDown3d, MidBlock, Resample, ResampleMode, ResidualBlock, RmsNorm3d};
use crate::causal_conv::{CausalConv3d, CausalConv3dConfig, FeatureCache};
use crate::config::WanVaeConfig;

/// One entry of `encoder.down_blocks`.
///
/// Wan2.1 (non-residual) stores a flat list mixing residual blocks, attention blocks and
/// resamplers; Wan2.2 (residual) stores one [`ResidualDownBlock`] per stage. Burn puts the
/// variant name into the parameter path (`down_blocks.3.Residual.conv1.weight`), so loading
/// remaps each index to its variant (see [`WanEncoder::variant_remaps`]).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DownLayer {
    /// A residual block.
    Residual(ResidualBlock),
    /// Per-frame attention (only where `attn_scales` asks for it).
    Attention(AttentionBlock),
    /// A downsampler.
    Resample(Resample),
    /// A Wan2.2 residual down block.
    ResidualDown(ResidualDownBlock),
}

impl DownLayer {
    fn variant(&self) -> &'static str {
        match self {
            DownLayer::Residual(_) => "Residual",
            DownLayer::Attention(_) => "Attention",
            DownLayer::Resample(_) => "Resample",
            DownLayer::ResidualDown(_) => "ResidualDown",
        }
    }

    fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        match self {
            DownLayer::Residual(block) => block.forward(x, cache),
            DownLayer::Attention(block) => block.forward(x),
            DownLayer::Resample(block) => block.forward(x, cache),
            DownLayer::ResidualDown(block) => block.forward(x, cache),
        }
    }
}

/// Wan2.2's down stage (diffusers' `WanResidualDownBlock`): residual blocks and an optional
/// downsampler, plus the parameter-free [`AvgDown3d`] shortcut of the stage input.
#[derive(Module, Debug)]
pub struct ResidualDownBlock {
    /// `num_res_blocks` residual blocks, the first `in → out`.
    pub resnets: Vec<ResidualBlock>,
    /// The stage's downsampler (absent on the last stage).
    pub downsampler: Option<Resample>,
    /// The shortcut.
    #[module(skip)]
    pub avg_shortcut: AvgDown3d,
}

impl ResidualDownBlock {
    /// Runs one chunk.
    ///
    /// # Shapes
    /// - `x`: `[batch, in, frames, h, w]`; output: `[batch, out, frames', h', w']` as the downsampler
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let shortcut = self.avg_shortcut.forward(x.clone());
        let mut x = x;
        for resnet in &self.resnets {
            x = resnet.forward(x, cache);
        }
        if let Some(downsampler) = &self.downsampler {
            x = downsampler.forward(x, cache);
        }
        x + shortcut
    }
}

/// The video encoder.
#[derive(Module, Debug)]
pub struct WanEncoder {
    /// `in_channels → base_dim`, 3³.
    pub conv_in: CausalConv3d,
    /// The down path (see [`DownLayer`]).
    pub down_blocks: Vec<DownLayer>,
    /// Residual, attention, residual at the deepest width.
    pub mid_block: MidBlock,
    /// Head norm.
    pub norm_out: RmsNorm3d,
    /// Head conv to `2·z_dim` channels, 3³.
    pub conv_out: CausalConv3d,
}

impl WanEncoder {
    /// A randomly initialized encoder for `config`.
    pub fn new(config: &WanVaeConfig, device: &Device) -> Self {
        let dims = config.encoder_dims();
        let stages = config.dim_mult.len();
        let mut down_blocks = Vec::new();
        let mut scale = 1.0f64;
        for i in 0..stages {
            let (mut in_dim, out_dim) = (dims[i], dims[i + 1]);
            let last = i + 1 == stages;
            let temporal = !last && config.temperal_downsample[i];
            if config.is_residual {
                let resnets = (0..config.num_res_blocks)
                    .map(|j| ResidualBlock::new(if j == 0 { in_dim } else { out_dim }, out_dim, device))
                    .collect();
                let mode = if temporal { ResampleMode::Downsample3d } else { ResampleMode::Downsample2d };
                let downsampler = (!last).then(|| Resample::new(out_dim, mode, out_dim / 2, device));
                let avg_shortcut =
                    AvgDown3d::new(out_dim, if temporal { 2 } else { 1 }, if last { 1 } else { 2 });
                down_blocks.push(DownLayer::ResidualDown(ResidualDownBlock {
                    resnets,
                    downsampler,
                    avg_shortcut,
                }));
            } else {
                for _ in 0..config.num_res_blocks {
                    down_blocks.push(DownLayer::Residual(ResidualBlock::new(in_dim, out_dim, device)));
                    if config.attn_scales.contains(&scale) {
                        down_blocks.push(DownLayer::Attention(AttentionBlock::new(out_dim, device)));
                    }
                    in_dim = out_dim;
                }
                if !last {
                    let mode = if temporal { ResampleMode::Downsample3d } else { ResampleMode::Downsample2d };
                    down_blocks.push(DownLayer::Resample(Resample::new(out_dim, mode, out_dim / 2, device)));
                    scale /= 2.0;
                }
            }
        }
        let top = dims[stages];
        Self {
            conv_in: CausalConv3dConfig::cubic([config.in_channels, dims[0]], 3).init(device),
            down_blocks,
            mid_block: MidBlock::new(top, device),
            norm_out: RmsNorm3d::new(top, device),
            conv_out: CausalConv3dConfig::cubic([top, 2 * config.z_dim], 3).init(device),
        }
    }

    /// Encodes one chunk of frames, reading and updating the cache.
    ///
    /// # Shapes
    /// - `x`: `[batch, in_channels, frames, height, width]` (1 frame first, then 4 per chunk)
    /// - output: `[batch, 2·z_dim, latent_frames, height / s, width / s]`
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let mut x = self.conv_in.forward_cached(x, cache);
        for layer in &self.down_blocks {
            x = layer.forward(x, cache);
        }
        let x = self.mid_block.forward(x, cache);
        self.conv_out.forward_cached(silu(self.norm_out.forward(x)), cache)
    }

    /// Key rewrites putting each `down_blocks.{i}` checkpoint key under its enum variant, as
    /// `(pattern, replacement)` with anchored patterns.
    pub fn variant_remaps(&self, prefix: &str) -> Vec<(String, String)> {
        self.down_blocks
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let from = format!("{prefix}.down_blocks.{i}.");
                (format!("^{}(.+)$", regex_escape(&from)), format!("{from}{}.$1", layer.variant()))
            })
            .collect()
    }

    /// The variant segments [`WanEncoder::variant_remaps`] inserts, to strip them from paths in
    /// error messages.
    pub(crate) fn variant_names() -> [&'static str; 4] {
        ["Residual", "Attention", "Resample", "ResidualDown"]
    }
}

/// Escapes the regex metacharacters in a key prefix (only `.` occurs in these keys).
pub(crate) fn regex_escape(s: &str) -> String {
    s.replace('.', r"\.")
}
