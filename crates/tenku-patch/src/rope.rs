//! Wan's 3D rotary position embedding (`WanRotaryPosEmbed` in diffusers).
//!
//! The head dimension `d` is split into three bands, time / height / width, of widths
//! `d − 4⌊d/6⌋`, `2⌊d/6⌋`, `2⌊d/6⌋` (44/42/42 for d = 128). Each band is an ordinary 1-D RoPE
//! over its own axis of the patch grid. Rotation acts on interleaved pairs `(x[2i], x[2i+1])`
//! (complex style), not on halves.

use burn::tensor::{Device, Tensor, TensorData};

/// Cosine and sine tables of one patch grid, one row per token.
///
/// The reference stores each angle twice (`repeat_interleave(2)`, width `head_dim`); here each
/// pair's angle is stored once (width `head_dim / 2`), which is the same information: the
/// reference only ever reads `cos[2i]` and `sin[2i + 1]`.
#[derive(Clone, Debug)]
pub struct RopeTables {
    /// `cos(angle)` per token and pair, `[tokens, head_dim / 2]`, f32.
    pub cos: Tensor<2>,
    /// `sin(angle)` per token and pair, `[tokens, head_dim / 2]`, f32.
    pub sin: Tensor<2>,
}

impl RopeTables {
    /// Rotates each interleaved pair `(a, b) = (x[2i], x[2i+1])` of every head by its token's
    /// angle: `(a·cos − b·sin, a·sin + b·cos)`, in the operation order of diffusers'
    /// `apply_rotary_emb`.
    ///
    /// # Shapes
    /// - `x`: `[batch, heads, tokens, head_dim]`
    /// - output: same as `x`
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, heads, tokens, head_dim] = x.dims();
        let [table_tokens, pairs] = self.cos.dims();
        assert_eq!(table_tokens, tokens, "RoPE tables are for {table_tokens} tokens, input has {tokens}");
        assert_eq!(pairs * 2, head_dim, "RoPE tables are for head_dim {}, input has {head_dim}", pairs * 2);
        let x = x.reshape([b, heads, tokens, pairs, 2]);
        let a = x.clone().narrow(4, 0, 1);
        let bb = x.narrow(4, 1, 1);
        let cos = self.cos.clone().reshape([1, 1, tokens, pairs, 1]);
        let sin = self.sin.clone().reshape([1, 1, tokens, pairs, 1]);
        let even = a.clone() * cos.clone() - bb.clone() * sin.clone();
        let odd = a * sin + bb * cos;
        Tensor::cat(vec![even, odd], 4).reshape([b, heads, tokens, head_dim])
    }
}

/// The 3D rotary position embedding of Wan for heads of `head_dim` channels.
///
/// Angles are `p · θ^(−2j/m)` for position `p < max_seq_len` along an axis and pair `j` of a
/// band of width `m`; they and their cosines and sines are computed in f64 and then rounded to
/// f32, like the reference's `get_1d_rotary_pos_embed(freqs_dtype=float64)`.
#[derive(Clone, Debug)]
pub struct Rope3d {
    head_dim: usize,
    max_seq_len: usize,
    theta: f64,
    /// Band widths `[time, height, width]` in channels (each even).
    split: [usize; 3],
    /// Per band: `[max_seq_len, width / 2]` row-major cosines and sines.
    cos: [Vec<f32>; 3],
    sin: [Vec<f32>; 3],
}

impl Rope3d {
    /// Wan's embedding: `theta = 10000`; `max_seq_len` is the config's `rope_max_seq_len`.
    pub fn wan(head_dim: usize, max_seq_len: usize) -> Self {
        Self::new(head_dim, max_seq_len, 10_000.0)
    }

    /// An embedding for `head_dim` channels, positions `0..max_seq_len` along each axis and base
    /// `theta`.
    ///
    /// # Panics
    /// If `head_dim` is odd (every band must hold whole pairs).
    pub fn new(head_dim: usize, max_seq_len: usize, theta: f64) -> Self {
        let side = 2 * (head_dim / 6);
        assert!(head_dim.is_multiple_of(2), "RoPE head_dim must be even, got {head_dim}");
        let split = [head_dim - 2 * side, side, side];
        let band = |width: usize, f: fn(f64) -> f64| -> Vec<f32> {
            let omegas: Vec<f64> =
                (0..width / 2).map(|j| 1.0 / theta.powf((2 * j) as f64 / width as f64)).collect();
            (0..max_seq_len).flat_map(|p| omegas.iter().map(move |w| f(p as f64 * w) as f32)).collect()
        };
        Self {
            head_dim,
            max_seq_len,
            theta,
            split,
            cos: split.map(|m| band(m, f64::cos)),
            sin: split.map(|m| band(m, f64::sin)),
        }
    }

    /// Channels per head.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Positions per axis the tables cover.
    pub fn max_seq_len(&self) -> usize {
        self.max_seq_len
    }

    /// The base `theta`.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// Band widths in channels, `[time, height, width]`; they sum to `head_dim`.
    pub fn split(&self) -> [usize; 3] {
        self.split
    }

    /// The tables for every token of `grid`, in token order `(frame, row, column)`: token
    /// `(f, h, w)` gets `concat(time[f], height[h], width[w])`.
    ///
    /// # Panics
    /// If a grid side exceeds `max_seq_len` (the reference fails there too).
    ///
    /// # Shapes
    /// - output tables: `[grid.tokens(), head_dim / 2]`
    pub fn tables(&self, grid: super::PatchGrid, device: &Device) -> RopeTables {
        let sides = [grid.frames, grid.height, grid.width];
        assert!(
            sides.iter().all(|&s| s <= self.max_seq_len),
            "patch grid {sides:?} exceeds the RoPE table length {}",
            self.max_seq_len
        );
        let pairs = self.head_dim / 2;
        let gather = |bands: &[Vec<f32>; 3]| {
            let mut out = Vec::with_capacity(grid.tokens() * pairs);
            for f in 0..grid.frames {
                for h in 0..grid.height {
                    for w in 0..grid.width {
                        for (axis, position) in [f, h, w].into_iter().enumerate() {
                            let width = self.split[axis] / 2;
                            out.extend_from_slice(&bands[axis][position * width..(position + 1) * width]);
                        }
                    }
                }
            }
            Tensor::from_data(TensorData::new(out, [grid.tokens(), pairs]), device)
        };
        RopeTables { cos: gather(&self.cos), sin: gather(&self.sin) }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::PatchGrid;

    fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn split_follows_the_reference() {
        assert_eq!(Rope3d::wan(128, 4).split(), [44, 42, 42]);
        assert_eq!(Rope3d::wan(12, 4).split(), [4, 4, 4]);
        assert_eq!(Rope3d::wan(16, 4).split(), [8, 4, 4]);
        assert_eq!(Rope3d::wan(64, 4).split(), [24, 20, 20]);
    }

    /// Spot values against the formula: token (f, h, w) = (2, 1, 3) of a 12-channel head.
    #[test]
    fn table_values_follow_the_formula() {
        let device = Device::flex();
        let grid = PatchGrid { frames: 3, height: 2, width: 4 };
        let tables = Rope3d::wan(12, 8).tables(grid, &device);
        let cos = values(tables.cos);
        let sin = values(tables.sin);
        let token = grid.token(2, 1, 3);
        // Each band is 4 channels = 2 pairs with ω = 1, 10000^(−1/2).
        let omegas = [1.0f64, 1e-2];
        let expected: Vec<f64> =
            [2.0, 1.0, 3.0].into_iter().flat_map(|p| omegas.iter().map(move |w| p * w)).collect();
        for (i, angle) in expected.iter().enumerate() {
            assert_eq!(cos[token * 6 + i], angle.cos() as f32);
            assert_eq!(sin[token * 6 + i], angle.sin() as f32);
        }
    }

    /// At position (0, 0, 0) every angle is 0: the rotation is the identity.
    #[test]
    fn position_zero_is_the_identity() {
        let device = Device::flex();
        let grid = PatchGrid { frames: 1, height: 1, width: 1 };
        let tables = Rope3d::wan(16, 4).tables(grid, &device);
        let x = Tensor::<4>::random([2, 3, 1, 16], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(values(tables.apply(x.clone())), values(x));
    }

    /// Rotating q and k by the same angles preserves their dot product at every token, and the
    /// dot product of q at token i and k at token j depends only on the position difference.
    #[test]
    fn rotation_preserves_dot_products() {
        let device = Device::flex();
        let grid = PatchGrid { frames: 2, height: 3, width: 4 };
        let tables = Rope3d::wan(12, 8).tables(grid, &device);
        let q = Tensor::<4>::random([1, 2, grid.tokens(), 12], Distribution::Normal(0.0, 1.0), &device);
        let k = Tensor::<4>::random([1, 2, grid.tokens(), 12], Distribution::Normal(0.0, 1.0), &device);
        let before = values((q.clone() * k.clone()).sum_dim(3));
        let after = values((tables.apply(q.clone()) * tables.apply(k.clone())).sum_dim(3));
        for (b, a) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Norms are preserved too.
        let norm = values(q.clone().square().sum_dim(3));
        let rotated = values(tables.apply(q).square().sum_dim(3));
        for (b, a) in norm.iter().zip(&rotated) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    /// The same query and key vectors placed at (0,0,0)/(1,1,1) and at (1,1,2)/(2,2,3) (same
    /// offset) give the same score: RoPE encodes relative position.
    #[test]
    fn scores_depend_on_relative_position() {
        let device = Device::flex();
        let grid = PatchGrid { frames: 3, height: 3, width: 4 };
        let tables = Rope3d::wan(12, 8).tables(grid, &device);
        let q1 = Tensor::<1>::from_floats(
            [0.3, -1.2, 0.5, 0.8, -0.1, 2.0, 0.7, -0.4, 1.1, 0.2, -0.9, 0.6],
            &device,
        );
        let k1 = Tensor::<1>::from_floats(
            [1.0, 0.4, -0.3, 0.9, 0.5, -1.5, 0.2, 0.8, -0.6, 1.3, 0.1, -0.2],
            &device,
        );
        let place = |v: Tensor<1>, token: usize| {
            let mut rows = vec![Tensor::<1>::zeros([12], &device); grid.tokens()];
            rows[token] = v;
            tables.apply(Tensor::stack::<2>(rows, 0).reshape([1, 1, grid.tokens(), 12]))
        };
        let score = |qt: usize, kt: usize| -> f32 {
            (place(q1.clone(), qt) * place(k1.clone(), kt)).sum().into_scalar()
        };
        let a = score(grid.token(0, 0, 0), grid.token(1, 1, 1));
        let b = score(grid.token(1, 1, 2), grid.token(2, 2, 3));
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    #[test]
    #[should_panic(expected = "exceeds the RoPE table length")]
    fn grids_beyond_the_table_are_rejected() {
        Rope3d::wan(12, 4).tables(PatchGrid { frames: 5, height: 1, width: 1 }, &Device::flex());
    }
}
