//! The causal 3D convolution (`WanCausalConv3d`) and the feature cache that carries its temporal
//! context from one chunk of frames to the next.

use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::module::conv3d;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Device, Tensor};

/// Frames of history a kernel-3 causal conv keeps between chunks (diffusers' `CACHE_T`).
pub(crate) const CACHE_FRAMES: usize = 2;

/// Configuration of a [`CausalConv3d`].
#[derive(Clone, Debug)]
pub struct CausalConv3dConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// `[time, height, width]` kernel size.
    pub kernel: [usize; 3],
    /// `[time, height, width]` stride.
    pub stride: [usize; 3],
    /// `[time, height, width]` padding as PyTorch's `Conv3d` would take it; time padding is
    /// applied as `2·p` frames in front only.
    pub padding: [usize; 3],
}

impl CausalConv3dConfig {
    /// A stride-1 conv with a cubic kernel `k` and padding `k / 2` (the VAE's 3³ and 1³ convs).
    pub fn cubic(channels: [usize; 2], kernel: usize) -> Self {
        Self { channels, kernel: [kernel; 3], stride: [1; 3], padding: [kernel / 2; 3] }
    }

    /// Builds the conv with PyTorch's default initialization, uniform in ±1/√fan_in. Parameters
    /// are lazy: loading a checkpoint replaces them without materializing the random values.
    pub fn init(&self, device: &Device) -> CausalConv3d {
        let [cin, cout] = self.channels;
        let [kt, kh, kw] = self.kernel;
        let bound = 1.0 / ((cin * kt * kh * kw) as f64).sqrt();
        let init = Initializer::Uniform { min: -bound, max: bound };
        CausalConv3d {
            weight: init.init([cout, cin, kt, kh, kw], device),
            bias: init.init([cout], device),
            stride: self.stride,
            padding: self.padding,
        }
    }
}

/// A Conv3d that is causal in time: it zero-pads `2·p_t` frames in front and none behind, or,
/// given cached frames from the previous chunk, uses those in place of the leading zeros.
///
/// Parameters are named like PyTorch's (`weight [out, in, kt, kh, kw]`, `bias [out]`) so the
/// checkpoint loads without remapping.
#[derive(Module, Debug)]
pub struct CausalConv3d {
    /// `[out, in, kt, kh, kw]`.
    pub weight: Param<Tensor<5>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
    /// `[time, height, width]` stride.
    pub stride: [usize; 3],
    /// `[time, height, width]` padding (time applied causally as `2·p_t` in front).
    pub padding: [usize; 3],
}

impl CausalConv3d {
    /// Frames of zero padding in front when no cache is given.
    fn front_pad(&self) -> usize {
        2 * self.padding[0]
    }

    /// Convolves `x`, prepending `cache` (frames from the previous chunk) when this conv pads in
    /// time; the remaining front padding is zeros.
    ///
    /// # Shapes
    /// - `x`: `[batch, in, frames, height, width]`
    /// - `cache`: `[batch, in, c ≤ 2·p_t, height, width]`
    /// - output: `[batch, out, frames', height', width']` as a PyTorch Conv3d with time padding
    ///   `(2·p_t, 0)`
    pub fn forward(&self, x: Tensor<5>, cache: Option<&Tensor<5>>) -> Tensor<5> {
        let mut x = x;
        let mut pad = self.front_pad();
        if let Some(cache) = cache
            && pad > 0
        {
            let cached = cache.dims()[2];
            debug_assert!(cached <= pad, "cache of {cached} frames exceeds the causal padding {pad}");
            x = Tensor::cat(vec![cache.clone(), x], 2);
            pad -= cached.min(pad);
        }
        if pad > 0 {
            // Burn's conv3d pads symmetrically, so the causal front padding is explicit.
            x = x.pad([(pad, 0), (0, 0), (0, 0)], PadMode::Constant(0.0));
        }
        let [_, ph, pw] = self.padding;
        conv3d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new(self.stride, [0, ph, pw], [1, 1, 1], 1),
        )
    }

    /// Runs the conv on one chunk with the reference's cache rule (diffusers' pattern around
    /// every `WanCausalConv3d` call with `feat_cache`): the slot's frames are prepended, and the
    /// slot then holds the last two input frames — with the previous slot's last frame in front
    /// when the chunk has a single frame.
    ///
    /// # Shapes
    /// - as [`CausalConv3d::forward`]
    pub fn forward_cached(&self, x: Tensor<5>, cache: &mut FeatureCache) -> Tensor<5> {
        let slot = cache.next_slot();
        let next = next_cache(&x, slot.as_ref());
        let out = self.forward(x, slot.as_ref().and_then(CacheEntry::frames));
        *slot = Some(CacheEntry::Frames(next));
        out
    }
}

/// The frames a kernel-3 conv keeps for the next chunk: the last two of `x`, or, when `x` has one
/// frame and a cache exists, the cache's last frame followed by it.
pub(crate) fn next_cache(x: &Tensor<5>, previous: Option<&CacheEntry>) -> Tensor<5> {
    let frames = x.dims()[2];
    let keep = frames.min(CACHE_FRAMES);
    let tail = x.clone().narrow(2, frames - keep, keep);
    match previous.and_then(CacheEntry::frames) {
        Some(old) if keep < CACHE_FRAMES => {
            let last = old.dims()[2] - 1;
            Tensor::cat(vec![old.clone().narrow(2, last, 1), tail], 2)
        }
        _ => tail,
    }
}

/// What one cache slot holds between chunks.
#[derive(Clone, Debug)]
// A cache holds a few dozen entries; boxing the tensor handle would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum CacheEntry {
    /// Frames of a conv's input to prepend to the next chunk.
    Frames(Tensor<5>),
    /// An `upsample3d` time conv that has seen the first chunk (diffusers' `"Rep"` marker): the
    /// next chunk runs the time conv with zero history.
    Rep,
}

impl CacheEntry {
    /// The cached frames, if any.
    pub fn frames(&self) -> Option<&Tensor<5>> {
        match self {
            CacheEntry::Frames(frames) => Some(frames),
            CacheEntry::Rep => None,
        }
    }
}

/// The causal feature cache of one encode or decode pass: one slot per causal time conv, visited
/// in the same order on every chunk (diffusers' `feat_cache` list with its `feat_idx` counter).
#[derive(Debug, Default)]
pub struct FeatureCache {
    slots: Vec<Option<CacheEntry>>,
    index: usize,
}

impl FeatureCache {
    /// An empty cache, for the first chunk of a clip.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rewinds to the first slot; call before each chunk.
    pub fn start_chunk(&mut self) {
        self.index = 0;
    }

    /// The next slot in visiting order (created empty on the first chunk).
    pub fn next_slot(&mut self) -> &mut Option<CacheEntry> {
        if self.index == self.slots.len() {
            self.slots.push(None);
        }
        self.index += 1;
        &mut self.slots[self.index - 1]
    }

    /// Number of slots visited so far.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no slot has been visited.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;

    fn max_diff(a: Tensor<5>, b: Tensor<5>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    /// Feeding a sequence chunk by chunk through the cache equals one causal conv over it.
    #[test]
    fn cached_chunks_equal_one_causal_conv() {
        let device = Device::flex();
        let conv = CausalConv3dConfig::cubic([3, 4], 3).init(&device);
        let x = Tensor::<5>::random([1, 3, 7, 5, 6], Distribution::Normal(0.0, 1.0), &device);
        let whole = conv.forward(x.clone(), None);
        let mut cache = FeatureCache::new();
        let mut outs = Vec::new();
        for (start, len) in [(0, 1), (1, 1), (2, 4), (6, 1)] {
            cache.start_chunk();
            outs.push(conv.forward_cached(x.clone().narrow(2, start, len), &mut cache));
        }
        assert_eq!(cache.len(), 1);
        let chunked = Tensor::cat(outs, 2);
        assert_eq!(chunked.dims(), [1, 4, 7, 5, 6]);
        assert!(max_diff(whole, chunked) < 1e-5);
    }

    /// Frame t of the output depends only on input frames ≤ t.
    #[test]
    fn output_is_causal() {
        let device = Device::flex();
        let conv = CausalConv3dConfig::cubic([2, 2], 3).init(&device);
        let x = Tensor::<5>::random([1, 2, 4, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let short = conv.forward(x.clone().narrow(2, 0, 2), None);
        let long = conv.forward(x, None).narrow(2, 0, 2);
        assert_eq!(max_diff(short, long), 0.0);
    }
}
