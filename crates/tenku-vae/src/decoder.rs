//! The decoder (diffusers' `WanDecoder3d`): latents to pixels (patchified for Wan2.2), one latent
//! frame at a time.

use burn::module::Module;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

use crate::blocks::{DupUp3d, MidBlock, Resample, ResampleMode, ResidualBlock, RmsNorm3d};
use crate::causal_conv::{CausalConv3d, CausalConv3dConfig, FeatureCache};
use crate::config::WanVaeConfig;

/// One decoder stage: diffusers' `WanUpBlock` (Wan2.1: the upsampler under `upsamplers.0`, no
/// shortcut) or `WanResidualUpBlock` (Wan2.2: `upsampler`, plus a [`DupUp3d`] shortcut of the
/// stage input).
#[derive(Module, Debug)]
pub struct UpBlock {
    /// `num_res_blocks + 1` residual blocks, the first `in → out`.
    pub resnets: Vec<ResidualBlock>,
    /// Wan2.1's upsampler (zero or one).
    pub upsamplers: Vec<Resample>,
    /// Wan2.2's upsampler.
    pub upsampler: Option<Resample>,
    /// Wan2.2's shortcut.
    #[module(skip)]
    pub avg_shortcut: Option<DupUp3d>,
}

impl UpBlock {
    /// Runs one chunk; `first_chunk` marks latent frame 0 (for the shortcut's frame drop).
    ///
    /// # Shapes
    /// - `x`: `[batch, in, frames, h, w]`
    /// - output: `[batch, out', frames', 2h, 2w]` with an upsampler (`frames' = 2·frames` after
    ///   the first chunk for temporal upsampling), else `[batch, out, frames, h, w]`
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache, first_chunk: bool) -> Tensor<5> {
        let shortcut = self.avg_shortcut.as_ref().map(|s| s.forward(x.clone(), first_chunk));
        let mut x = x;
        for resnet in &self.resnets {
            x = resnet.forward(x, cache);
        }
        for upsampler in self.upsamplers.iter().chain(&self.upsampler) {
            x = upsampler.forward(x, cache);
        }
        match shortcut {
            Some(shortcut) => x + shortcut,
            None => x,
        }
    }
}

/// The video decoder.
#[derive(Module, Debug)]
pub struct WanDecoder {
    /// `z_dim → dims[0]`, 3³.
    pub conv_in: CausalConv3d,
    /// Residual, attention, residual at the deepest width.
    pub mid_block: MidBlock,
    /// The up path, one stage per `dim_mult` entry.
    pub up_blocks: Vec<UpBlock>,
    /// Head norm.
    pub norm_out: RmsNorm3d,
    /// Head conv to `out_channels`, 3³.
    pub conv_out: CausalConv3d,
}

impl WanDecoder {
    /// A randomly initialized decoder for `config`.
    pub fn new(config: &WanVaeConfig, device: &Device) -> Self {
        let dims = config.decoder_dims();
        let stages = config.dim_mult.len();
        let temperal_upsample = config.temperal_upsample();
        let mut up_blocks = Vec::with_capacity(stages);
        for i in 0..stages {
            let (mut in_dim, out_dim) = (dims[i], dims[i + 1]);
            if i > 0 && !config.is_residual {
                // Each Wan2.1 upsampler halves the channels.
                in_dim /= 2;
            }
            let up = i + 1 != stages;
            let temporal = up && temperal_upsample[i];
            let mode = if temporal { ResampleMode::Upsample3d } else { ResampleMode::Upsample2d };
            let resnets = (0..=config.num_res_blocks)
                .map(|j| ResidualBlock::new(if j == 0 { in_dim } else { out_dim }, out_dim, device))
                .collect();
            let block = if config.is_residual {
                UpBlock {
                    resnets,
                    upsamplers: Vec::new(),
                    upsampler: up.then(|| Resample::new(out_dim, mode, out_dim, device)),
                    avg_shortcut: up.then(|| DupUp3d::new(in_dim, out_dim, if temporal { 2 } else { 1 }, 2)),
                }
            } else {
                UpBlock {
                    resnets,
                    upsamplers: up
                        .then(|| Resample::new(out_dim, mode, out_dim / 2, device))
                        .into_iter()
                        .collect(),
                    upsampler: None,
                    avg_shortcut: None,
                }
            };
            up_blocks.push(block);
        }
        let last = dims[stages];
        Self {
            conv_in: CausalConv3dConfig::cubic([config.z_dim, dims[0]], 3).init(device),
            mid_block: MidBlock::new(dims[0], device),
            up_blocks,
            norm_out: RmsNorm3d::new(last, device),
            conv_out: CausalConv3dConfig::cubic([last, config.out_channels], 3).init(device),
        }
    }

    /// Decodes one latent frame, reading and updating the cache; `first_chunk` marks frame 0.
    ///
    /// # Shapes
    /// - `x`: `[batch, z_dim, 1, h, w]` (after `post_quant_conv`)
    /// - output: `[batch, out_channels, 1 or temporal_factor, h·s, w·s]`
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache, first_chunk: bool) -> Tensor<5> {
        let x = self.conv_in.forward_cached(x, cache);
        let mut x = self.mid_block.forward(x, cache);
        for block in &self.up_blocks {
            x = block.forward(x, cache, first_chunk);
        }
        self.conv_out.forward_cached(silu(self.norm_out.forward(x)), cache)
    }
}
