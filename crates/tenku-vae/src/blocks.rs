//! The VAE's building blocks: RMS norms, the residual block, per-frame attention, the mid block,
//! resampling, and Wan2.2's parameter-free shortcuts.
//!
//! Each block mirrors the diffusers class named in its doc, with fields named after the
//! checkpoint keys.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::{AttentionModuleOptions, PadMode};
use burn::tensor::{Device, Tensor};

use crate::causal_conv::{CacheEntry, CausalConv3d, CausalConv3dConfig, FeatureCache, next_cache};

/// `F.normalize`'s lower bound on the norm.
const NORMALIZE_EPS: f64 = 1e-12;

/// `x / max(‖x‖₂ over dim 1, 1e-12)`, as `F.normalize(x, dim=1)` computes it.
fn normalize_channels<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(NORMALIZE_EPS);
    x / norm
}

/// RMS norm over the channels of a video (diffusers' `WanRMS_norm(dim, images=False)`):
/// `x / ‖x‖₂ · √C · gamma`, no bias.
#[derive(Module, Debug)]
pub struct RmsNorm3d {
    /// `[channels, 1, 1, 1]`.
    pub gamma: Param<Tensor<4>>,
}

impl RmsNorm3d {
    /// A norm with `gamma = 1`.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self { gamma: Initializer::Ones.init([channels, 1, 1, 1], device) }
    }

    /// Normalizes each `(frame, y, x)` position over channels.
    ///
    /// # Shapes
    /// - `x`, output: `[batch, channels, frames, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let scale = (self.gamma.dims()[0] as f64).sqrt();
        normalize_channels(x) * scale * self.gamma.val().unsqueeze::<5>()
    }
}

/// RMS norm over the channels of images (diffusers' `WanRMS_norm(dim)`, used in attention).
#[derive(Module, Debug)]
pub struct RmsNorm2d {
    /// `[channels, 1, 1]`.
    pub gamma: Param<Tensor<3>>,
}

impl RmsNorm2d {
    /// A norm with `gamma = 1`.
    pub fn new(channels: usize, device: &Device) -> Self {
        Self { gamma: Initializer::Ones.init([channels, 1, 1], device) }
    }

    /// Normalizes each pixel over channels.
    ///
    /// # Shapes
    /// - `x`, output: `[batch, channels, height, width]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let scale = (self.gamma.dims()[0] as f64).sqrt();
        normalize_channels(x) * scale * self.gamma.val().unsqueeze::<4>()
    }
}

/// Residual block (diffusers' `WanResidualBlock`): norm → SiLU → causal 3³ conv → norm → SiLU →
/// causal 3³ conv, plus the input (through a 1³ conv when the channels change).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    /// Norm before `conv1`.
    pub norm1: RmsNorm3d,
    /// `in → out`, 3³.
    pub conv1: CausalConv3d,
    /// Norm before `conv2`.
    pub norm2: RmsNorm3d,
    /// `out → out`, 3³.
    pub conv2: CausalConv3d,
    /// `in → out`, 1³, present when `in ≠ out`.
    pub conv_shortcut: Option<CausalConv3d>,
}

impl ResidualBlock {
    /// A randomly initialized block.
    pub fn new(in_dim: usize, out_dim: usize, device: &Device) -> Self {
        Self {
            norm1: RmsNorm3d::new(in_dim, device),
            conv1: CausalConv3dConfig::cubic([in_dim, out_dim], 3).init(device),
            norm2: RmsNorm3d::new(out_dim, device),
            conv2: CausalConv3dConfig::cubic([out_dim, out_dim], 3).init(device),
            conv_shortcut: (in_dim != out_dim)
                .then(|| CausalConv3dConfig::cubic([in_dim, out_dim], 1).init(device)),
        }
    }

    /// Runs one chunk, reading and updating two cache slots (`conv1`, `conv2`).
    ///
    /// # Shapes
    /// - `x`: `[batch, in, frames, height, width]`
    /// - output: `[batch, out, frames, height, width]`
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let h = match &self.conv_shortcut {
            Some(conv) => conv.forward(x.clone(), None),
            None => x.clone(),
        };
        let x = self.conv1.forward_cached(silu(self.norm1.forward(x)), cache);
        // Dropout is the identity at inference.
        let x = self.conv2.forward_cached(silu(self.norm2.forward(x)), cache);
        x + h
    }
}

/// Single-head self-attention within each frame (diffusers' `WanAttentionBlock`); no temporal
/// mixing, so it needs no cache.
#[derive(Module, Debug)]
pub struct AttentionBlock {
    /// Norm applied per frame.
    pub norm: RmsNorm2d,
    /// 1×1 conv `C → 3C` giving q, k, v.
    pub to_qkv: Conv2d,
    /// 1×1 conv `C → C`.
    pub proj: Conv2d,
}

impl AttentionBlock {
    /// A randomly initialized block.
    pub fn new(dim: usize, device: &Device) -> Self {
        Self {
            norm: RmsNorm2d::new(dim, device),
            to_qkv: Conv2dConfig::new([dim, 3 * dim], [1, 1]).init(device),
            proj: Conv2dConfig::new([dim, dim], [1, 1]).init(device),
        }
    }

    /// Attends over the pixels of each frame and adds the input.
    ///
    /// # Shapes
    /// - `x`, output: `[batch, channels, frames, height, width]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let [batch, channels, frames, height, width] = x.dims();
        let images = batch * frames;
        let tokens = height * width;
        let identity = x.clone();
        let x = fold_time(x);
        let qkv = self.to_qkv.forward(self.norm.forward(x));
        // [images, 3C, H, W] → [images, 1, HW, 3C]; q, k, v are channel thirds.
        let qkv = qkv.reshape([images, 3 * channels, tokens]).swap_dims(1, 2).unsqueeze_dim::<4>(1);
        let q = qkv.clone().narrow(3, 0, channels);
        let k = qkv.clone().narrow(3, channels, channels);
        let v = qkv.narrow(3, 2 * channels, channels);
        // The default scale is 1/√C, as in `F.scaled_dot_product_attention`.
        let x = attention(q, k, v, None, None, AttentionModuleOptions::default());
        let x = x.squeeze_dim::<3>(1).swap_dims(1, 2).reshape([images, channels, height, width]);
        let x = self.proj.forward(x);
        unfold_time(x, batch) + identity
    }
}

/// `[batch, C, frames, H, W]` → `[batch·frames, C, H, W]` (frames vary fastest).
pub(crate) fn fold_time(x: Tensor<5>) -> Tensor<4> {
    let [batch, channels, frames, height, width] = x.dims();
    x.swap_dims(1, 2).reshape([batch * frames, channels, height, width])
}

/// Inverse of [`fold_time`].
pub(crate) fn unfold_time(x: Tensor<4>, batch: usize) -> Tensor<5> {
    let [images, channels, height, width] = x.dims();
    x.reshape([batch, images / batch, channels, height, width]).swap_dims(1, 2)
}

/// Residual block, attention, residual block (diffusers' `WanMidBlock` with one layer).
#[derive(Module, Debug)]
pub struct MidBlock {
    /// Two residual blocks, `dim → dim`.
    pub resnets: Vec<ResidualBlock>,
    /// One attention block between them.
    pub attentions: Vec<AttentionBlock>,
}

impl MidBlock {
    /// A randomly initialized block.
    pub fn new(dim: usize, device: &Device) -> Self {
        Self {
            resnets: vec![ResidualBlock::new(dim, dim, device), ResidualBlock::new(dim, dim, device)],
            attentions: vec![AttentionBlock::new(dim, device)],
        }
    }

    /// Runs one chunk.
    ///
    /// # Shapes
    /// - `x`, output: `[batch, dim, frames, height, width]`
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let mut x = self.resnets[0].forward(x, cache);
        for (attention, resnet) in self.attentions.iter().zip(&self.resnets[1..]) {
            x = resnet.forward(attention.forward(x), cache);
        }
        x
    }
}

/// What a [`Resample`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResampleMode {
    /// Nearest ×2 in space, then a 3×3 conv.
    Upsample2d,
    /// A causal time conv doubling the frames (except the first), then as `Upsample2d`.
    Upsample3d,
    /// Zero-pad right/bottom, then a stride-2 3×3 conv.
    Downsample2d,
    /// As `Downsample2d`, then a stride-2 causal time conv (the first frame passes through).
    Downsample3d,
}

/// Spatial (and optionally temporal) resampling (diffusers' `WanResample`).
///
/// The checkpoint stores the spatial conv as `resample.1.*` (index 1 of an `nn.Sequential`
/// whose index 0 has no parameters); loading remaps it to the field `resample`.
#[derive(Module, Debug)]
pub struct Resample {
    /// The spatial 3×3 conv.
    pub resample: Conv2d,
    /// The causal time conv of the 3d modes: `(3, 1, 1)` kernel; `dim → 2·dim` for upsampling,
    /// `dim → dim` with stride 2 for downsampling.
    pub time_conv: Option<CausalConv3d>,
    /// The mode.
    #[module(skip)]
    pub mode: ResampleMode,
}

impl Resample {
    /// A randomly initialized resampler on `dim` channels; upsampling outputs `up_out` channels.
    pub fn new(dim: usize, mode: ResampleMode, up_out: usize, device: &Device) -> Self {
        let resample = match mode {
            ResampleMode::Upsample2d | ResampleMode::Upsample3d => Conv2dConfig::new([dim, up_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            ResampleMode::Downsample2d | ResampleMode::Downsample3d => {
                Conv2dConfig::new([dim, dim], [3, 3]).with_stride([2, 2]).init(device)
            }
        };
        let time_conv = match mode {
            ResampleMode::Upsample3d => Some(
                CausalConv3dConfig {
                    channels: [dim, 2 * dim],
                    kernel: [3, 1, 1],
                    stride: [1; 3],
                    padding: [1, 0, 0],
                }
                .init(device),
            ),
            ResampleMode::Downsample3d => Some(
                CausalConv3dConfig {
                    channels: [dim, dim],
                    kernel: [3, 1, 1],
                    stride: [2, 1, 1],
                    padding: [0; 3],
                }
                .init(device),
            ),
            _ => None,
        };
        Self { resample, time_conv, mode }
    }

    /// Runs one chunk; the 3d modes read and update one cache slot.
    ///
    /// # Shapes
    /// - `x`: `[batch, dim, frames, height, width]`
    /// - output, upsampling: `[batch, up_out, frames', 2·height, 2·width]` with `frames' = frames`
    ///   on the first chunk of `Upsample3d` (and for `Upsample2d`), `2·frames` after
    /// - output, downsampling: `[batch, dim, frames', height / 2, width / 2]`; `Downsample3d`
    ///   keeps the first chunk's frames and halves later chunks' (with one cached frame in front)
    pub fn forward(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let x = match self.mode {
            ResampleMode::Upsample3d => self.time_upsample(x, cache),
            _ => x,
        };
        let batch = x.dims()[0];
        let images = fold_time(x);
        let images = match self.mode {
            ResampleMode::Upsample2d | ResampleMode::Upsample3d => {
                self.resample.forward(upsample_nearest2x(images))
            }
            ResampleMode::Downsample2d | ResampleMode::Downsample3d => {
                // nn.ZeroPad2d((0, 1, 0, 1)): one column right, one row bottom.
                self.resample.forward(images.pad([(0, 1), (0, 1)], PadMode::Constant(0.0)))
            }
        };
        let x = unfold_time(images, batch);
        match self.mode {
            ResampleMode::Downsample3d => self.time_downsample(x, cache),
            _ => x,
        }
    }

    fn time_conv(&self) -> &CausalConv3d {
        self.time_conv.as_ref().expect("3d resample modes have a time conv")
    }

    /// The `upsample3d` time step: nothing on the first chunk, then a causal conv to `2·dim`
    /// channels whose halves become frames `2j` and `2j + 1`.
    fn time_upsample(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let slot = cache.next_slot();
        let Some(previous) = slot.take() else {
            *slot = Some(CacheEntry::Rep);
            return x;
        };
        let [batch, channels, frames, height, width] = x.dims();
        let next = match &previous {
            CacheEntry::Rep if frames < 2 => {
                Tensor::cat(vec![x.clone().zeros_like(), x.clone()], 2).narrow(2, frames + 1 - 2, 2)
            }
            entry => next_cache(&x, Some(entry)),
        };
        let y = self.time_conv().forward(x, previous.frames());
        *slot = Some(CacheEntry::Frames(next));
        // [b, 2c, t, h, w] → [b, 2, c, t, h, w] → [b, c, t, 2, h, w] → [b, c, 2t, h, w].
        y.reshape([batch, 2, channels, frames, height, width]).permute([0, 2, 3, 1, 4, 5]).reshape([
            batch,
            channels,
            2 * frames,
            height,
            width,
        ])
    }

    /// The `downsample3d` time step: the first chunk passes through (and is cached); later
    /// chunks get the cached last frame in front and a stride-2 time conv.
    fn time_downsample(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let slot = cache.next_slot();
        let frames = x.dims()[2];
        let last = x.clone().narrow(2, frames - 1, 1);
        match slot.replace(CacheEntry::Frames(last)) {
            None => {
                // The reference caches the whole first chunk but only ever reads its last frame.
                x
            }
            Some(previous) => {
                let old = previous.frames().expect("downsample slots hold frames").clone();
                let old_frames = old.dims()[2];
                let input = Tensor::cat(vec![old.narrow(2, old_frames - 1, 1), x], 2);
                self.time_conv().forward(input, None)
            }
        }
    }
}

/// Nearest-neighbour ×2 in height and width (`nearest-exact` at scale 2 duplicates pixels).
///
/// # Shapes
/// - `x`: `[n, c, h, w]`; output: `[n, c, 2h, 2w]`
fn upsample_nearest2x(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w])
}

/// Wan2.2's parameter-free down shortcut (diffusers' `AvgDown3D`): space-and-time to channels,
/// then the mean of each group of channels.
#[derive(Clone, Debug)]
pub struct AvgDown3d {
    out_channels: usize,
    factor_t: usize,
    factor_s: usize,
}

impl AvgDown3d {
    /// A shortcut folding `factor_t × factor_s²` blocks into `out_channels` channels.
    pub fn new(out_channels: usize, factor_t: usize, factor_s: usize) -> Self {
        Self { out_channels, factor_t, factor_s }
    }

    /// Applies the shortcut; time is zero-padded in front to a multiple of `factor_t`.
    ///
    /// # Shapes
    /// - `x`: `[b, in, t, h, w]`; output: `[b, out, ⌈t / ft⌉, h / fs, w / fs]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let (ft, fs) = (self.factor_t, self.factor_s);
        let pad_t = (ft - x.dims()[2] % ft) % ft;
        let x = if pad_t > 0 { x.pad([(pad_t, 0), (0, 0), (0, 0)], PadMode::Constant(0.0)) } else { x };
        let [b, c, t, h, w] = x.dims();
        let (t2, h2, w2) = (t / ft, h / fs, w / fs);
        let group = c * ft * fs * fs / self.out_channels;
        x.reshape([b * c, t2, ft, h2, fs, w2, fs])
            // → [b·c, ft, fs(h), fs(w), t', h', w']
            .permute([0, 2, 4, 6, 1, 3, 5])
            .reshape([b, self.out_channels, group, t2 * h2 * w2])
            .mean_dim(2)
            .reshape([b, self.out_channels, t2, h2, w2])
    }
}

/// Wan2.2's parameter-free up shortcut (diffusers' `DupUp3D`): channels to space-and-time by
/// duplication.
#[derive(Clone, Debug)]
pub struct DupUp3d {
    out_channels: usize,
    factor_t: usize,
    factor_s: usize,
    repeats: usize,
}

impl DupUp3d {
    /// A shortcut from `in_channels` to `out_channels` channels, `factor_t × factor_s²` larger.
    pub fn new(in_channels: usize, out_channels: usize, factor_t: usize, factor_s: usize) -> Self {
        let repeats = out_channels * factor_t * factor_s * factor_s / in_channels;
        Self { out_channels, factor_t, factor_s, repeats }
    }

    /// Applies the shortcut; on the first chunk the first `factor_t − 1` frames are dropped.
    ///
    /// # Shapes
    /// - `x`: `[b, in, t, h, w]`; output: `[b, out, t·ft (− ft + 1 on the first chunk), h·fs, w·fs]`
    pub fn forward(&self, x: Tensor<5>, first_chunk: bool) -> Tensor<5> {
        let (ft, fs) = (self.factor_t, self.factor_s);
        let [b, c, t, h, w] = x.dims();
        let x = x
            // repeat_interleave over channels
            .reshape([b, c, 1, t * h * w])
            .expand([b, c, self.repeats, t * h * w])
            .reshape([b * self.out_channels, ft, fs, fs, t, h, w])
            // → [b·out, t, ft, h, fs(h), w, fs(w)]
            .permute([0, 4, 1, 5, 2, 6, 3])
            .reshape([b, self.out_channels, t * ft, h * fs, w * fs]);
        if first_chunk && ft > 1 { x.narrow(2, ft - 1, t * ft - (ft - 1)) } else { x }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    #[test]
    fn nearest_upsample_duplicates_pixels() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]), &device);
        let y = upsample_nearest2x(x).into_data().try_into_vec::<f32>().expect("f32");
        #[rustfmt::skip]
        let want = [1.0, 1.0, 2.0, 2.0,  1.0, 1.0, 2.0, 2.0,  3.0, 3.0, 4.0, 4.0,  3.0, 3.0, 4.0, 4.0];
        assert_eq!(y, want);
    }

    /// Index formulas of wan.md §2.2 for AvgDown3D and DupUp3D, checked element by element.
    #[test]
    fn shortcuts_follow_the_index_formulas() {
        let device = Device::flex();
        let (c, t, h, w) = (4, 3, 4, 6);
        let values: Vec<f32> = (0..c * t * h * w).map(|i| i as f32).collect();
        let x = Tensor::<5>::from_data(TensorData::new(values.clone(), [1, c, t, h, w]), &device);
        let at = |ci: usize, ti: isize, hi: usize, wi: usize| -> f32 {
            if ti < 0 { 0.0 } else { values[((ci * t + ti as usize) * h + hi) * w + wi] }
        };

        // AvgDown3D(4 → 8, ft 2, fs 2): r = 8, g = 4; time padded in front by 1.
        let down = AvgDown3d::new(8, 2, 2).forward(x.clone());
        assert_eq!(down.dims(), [1, 8, 2, 2, 3]);
        let got = down.into_data().try_into_vec::<f32>().expect("f32");
        let (r, g) = (8, 4);
        for o in 0..8 {
            for (tt, hh, ww) in itertools(2, 2, 3) {
                let mut sum = 0.0;
                for e in o * g..(o + 1) * g {
                    let (ci, rest) = (e / r, e % r);
                    let (ti, hi, wi) = (rest / 4, (rest / 2) % 2, rest % 2);
                    sum += at(ci, (tt * 2 + ti) as isize - 1, hh * 2 + hi, ww * 2 + wi);
                }
                let want = sum / g as f32;
                let got = got[((o * 2 + tt) * 2 + hh) * 3 + ww];
                assert!((got - want).abs() < 1e-3, "avgdown o={o} t={tt}: {got} vs {want}");
            }
        }

        // DupUp3D(4 → 2, ft 2, fs 2): r = 8, rep = 4.
        let up = DupUp3d::new(4, 2, 2, 2).forward(x.clone(), false);
        assert_eq!(up.dims(), [1, 2, 6, 8, 12]);
        let got = up.into_data().try_into_vec::<f32>().expect("f32");
        for o in 0..2 {
            for (tt, hh, ww) in itertools(6, 8, 12) {
                let (ti, hi, wi) = (tt % 2, hh % 2, ww % 2);
                let src = (o * 8 + ti * 4 + hi * 2 + wi) / 4;
                let want = at(src, (tt / 2) as isize, hh / 2, ww / 2);
                assert_eq!(got[((o * 6 + tt) * 8 + hh) * 12 + ww], want);
            }
        }
        let first = DupUp3d::new(4, 2, 2, 2).forward(x, true);
        assert_eq!(first.dims(), [1, 2, 5, 8, 12]);
    }

    fn itertools(a: usize, b: usize, c: usize) -> impl Iterator<Item = (usize, usize, usize)> {
        (0..a).flat_map(move |i| (0..b).flat_map(move |j| (0..c).map(move |k| (i, j, k))))
    }
}
