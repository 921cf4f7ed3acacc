//! Cutting latent videos into spacetime patches and putting them back.

use burn::tensor::Tensor;

/// The size of a latent video measured in patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PatchGrid {
    /// Patches along time (latent frames / patch frames).
    pub frames: usize,
    /// Patches along height.
    pub height: usize,
    /// Patches along width.
    pub width: usize,
}

impl PatchGrid {
    /// Number of tokens, `frames · height · width`.
    pub fn tokens(&self) -> usize {
        self.frames * self.height * self.width
    }

    /// The token index of the patch at `(frame, row, column)`: row-major, as diffusers flattens
    /// the output of its patch embedding.
    pub fn token(&self, frame: usize, row: usize, column: usize) -> usize {
        (frame * self.height + row) * self.width + column
    }
}

/// Cuts `[batch, channels, frames, height, width]` latents into non-overlapping patches of
/// `patch = [pt, ph, pw]` latent voxels and puts them back.
///
/// Two feature orders exist, because diffusers' Wan uses both:
/// - **channels last**, `(pt, ph, pw, c)` with the channel fastest: what `proj_out` produces and
///   `WanTransformer3DModel.forward` unpatchifies ([`Patchifier::patchify`],
///   [`Patchifier::unpatchify`]);
/// - **channels first**, `(c, pt, ph, pw)`: the flattening order of a `Conv3d` weight
///   `[out, c, pt, ph, pw]`, so a kernel = stride convolution (`patch_embedding`) is a matrix
///   product with the flattened weight ([`Patchifier::patchify_channels_first`],
///   [`Patchifier::unpatchify_channels_first`]).
///
/// Tokens are ordered row-major over the grid, `(frame, row, column)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Patchifier {
    /// Patch size `[frames, height, width]` in latent voxels.
    pub patch: [usize; 3],
}

impl Patchifier {
    /// A patchifier for patches of `patch = [frames, height, width]` latent voxels.
    ///
    /// # Panics
    /// If a patch side is zero.
    pub fn new(patch: [usize; 3]) -> Self {
        assert!(patch.iter().all(|&p| p > 0), "patch sizes must be positive, got {patch:?}");
        Self { patch }
    }

    /// Latent voxels per patch, `pt · ph · pw`.
    pub fn volume(&self) -> usize {
        self.patch.iter().product()
    }

    /// The patch grid of latents with dims `[batch, channels, frames, height, width]`.
    ///
    /// # Panics
    /// If frames, height or width is not a multiple of the patch size (diffusers would silently
    /// drop the remainder; callers check their inputs first).
    pub fn grid(&self, dims: [usize; 5]) -> PatchGrid {
        let [_, _, frames, height, width] = dims;
        let [pt, ph, pw] = self.patch;
        assert!(
            frames.is_multiple_of(pt) && height.is_multiple_of(ph) && width.is_multiple_of(pw),
            "latent size (frames {frames}, height {height}, width {width}) is not a multiple of the patch size {:?}",
            self.patch
        );
        PatchGrid { frames: frames / pt, height: height / ph, width: width / pw }
    }

    /// Latents to tokens with features `(pt, ph, pw, c)`, channel fastest: the inverse of
    /// [`Patchifier::unpatchify`].
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, frames, height, width]`
    /// - output: `[batch, tokens, pt·ph·pw·channels]`
    pub fn patchify(&self, x: Tensor<5>) -> Tensor<3> {
        let [b, c, ..] = x.dims();
        let grid = self.grid(x.dims());
        let [pt, ph, pw] = self.patch;
        self.split(x, grid)
            // [b, c, F, pt, H, ph, W, pw] → [b, F, H, W, pt, ph, pw, c]
            .permute([0, 2, 4, 6, 3, 5, 7, 1])
            .reshape([b, grid.tokens(), pt * ph * pw * c])
    }

    /// Tokens with features `(pt, ph, pw, c)` back to latents, exactly as diffusers'
    /// `WanTransformer3DModel.forward` unpatchifies the output of `proj_out`: reshape to
    /// `[b, F', H', W', pt, ph, pw, c]`, permute to `[b, c, F', pt, H', ph, W', pw]`, merge.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, grid.tokens(), pt·ph·pw·channels]`
    /// - output: `[batch, channels, grid.frames·pt, grid.height·ph, grid.width·pw]`
    pub fn unpatchify(&self, tokens: Tensor<3>, grid: PatchGrid) -> Tensor<5> {
        let [b, c] = self.check_tokens(&tokens, grid);
        let [pt, ph, pw] = self.patch;
        tokens
            .reshape([b, grid.frames, grid.height, grid.width, pt, ph, pw, c])
            .permute([0, 7, 1, 4, 2, 5, 3, 6])
            .reshape([b, c, grid.frames * pt, grid.height * ph, grid.width * pw])
    }

    /// Latents to tokens with features `(c, pt, ph, pw)`: the order in which a `Conv3d` weight
    /// `[out, c, pt, ph, pw]` flattens, so that `patchify_channels_first(x) · Wᵀ + b` equals a
    /// kernel = stride convolution followed by diffusers' `flatten(2).transpose(1, 2)`.
    ///
    /// # Shapes
    /// - `x`: `[batch, channels, frames, height, width]`
    /// - output: `[batch, tokens, channels·pt·ph·pw]`
    pub fn patchify_channels_first(&self, x: Tensor<5>) -> Tensor<3> {
        let [b, c, ..] = x.dims();
        let grid = self.grid(x.dims());
        let [pt, ph, pw] = self.patch;
        self.split(x, grid)
            // [b, c, F, pt, H, ph, W, pw] → [b, F, H, W, c, pt, ph, pw]
            .permute([0, 2, 4, 6, 1, 3, 5, 7])
            .reshape([b, grid.tokens(), c * pt * ph * pw])
    }

    /// The inverse of [`Patchifier::patchify_channels_first`].
    ///
    /// # Shapes
    /// - `tokens`: `[batch, grid.tokens(), channels·pt·ph·pw]`
    /// - output: `[batch, channels, grid.frames·pt, grid.height·ph, grid.width·pw]`
    pub fn unpatchify_channels_first(&self, tokens: Tensor<3>, grid: PatchGrid) -> Tensor<5> {
        let [b, c] = self.check_tokens(&tokens, grid);
        let [pt, ph, pw] = self.patch;
        tokens
            .reshape([b, grid.frames, grid.height, grid.width, c, pt, ph, pw])
            // [b, F, H, W, c, pt, ph, pw] → [b, c, F, pt, H, ph, W, pw]
            .permute([0, 4, 1, 5, 2, 6, 3, 7])
            .reshape([b, c, grid.frames * pt, grid.height * ph, grid.width * pw])
    }

    /// `[b, c, f, h, w]` → `[b, c, F', pt, H', ph, W', pw]`.
    fn split(&self, x: Tensor<5>, grid: PatchGrid) -> Tensor<8> {
        let [b, c, ..] = x.dims();
        let [pt, ph, pw] = self.patch;
        x.reshape([b, c, grid.frames, pt, grid.height, ph, grid.width, pw])
    }

    /// Checks a token tensor against `grid` and returns `[batch, channels]`.
    fn check_tokens(&self, tokens: &Tensor<3>, grid: PatchGrid) -> [usize; 2] {
        let [b, n, features] = tokens.dims();
        assert_eq!(n, grid.tokens(), "token count does not match the patch grid {grid:?}");
        assert!(
            features.is_multiple_of(self.volume()),
            "{features} features per token is not a multiple of the patch volume {}",
            self.volume()
        );
        [b, features / self.volume()]
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    fn iota(dims: [usize; 5], device: &Device) -> Tensor<5> {
        let n: usize = dims.iter().product();
        Tensor::from_data(TensorData::new((0..n).map(|i| i as f32).collect::<Vec<_>>(), dims), device)
    }

    fn values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    /// patchify ∘ unpatchify and unpatchify ∘ patchify are the identity, for every patch size
    /// and both feature orders.
    #[test]
    fn patchify_then_unpatchify_is_identity() {
        let device = Device::flex();
        for patch in [[1, 2, 2], [1, 1, 1], [2, 2, 2], [2, 1, 3], [3, 2, 1]] {
            let p = Patchifier::new(patch);
            let dims = [2, 3, 2 * patch[0], 2 * patch[1], 3 * patch[2]];
            let x = iota(dims, &device);
            let grid = p.grid(dims);
            assert_eq!(grid, PatchGrid { frames: 2, height: 2, width: 3 });

            let tokens = p.patchify(x.clone());
            assert_eq!(tokens.dims(), [2, 12, 3 * p.volume()]);
            assert_eq!(values(p.unpatchify(tokens.clone(), grid)), values(x.clone()), "{patch:?}");
            assert_eq!(values(p.patchify(p.unpatchify(tokens.clone(), grid))), values(tokens));

            let tokens = p.patchify_channels_first(x.clone());
            assert_eq!(values(p.unpatchify_channels_first(tokens.clone(), grid)), values(x), "{patch:?}");
            assert_eq!(
                values(p.patchify_channels_first(p.unpatchify_channels_first(tokens.clone(), grid))),
                values(tokens)
            );
        }
    }

    /// The feature layouts, element by element, against wan.md §1.2: channel last gives
    /// feature ((pt·ph + ih)·pw + iw)·c + ch; channel first gives ((ch·pt + it)·ph + ih)·pw + iw.
    #[test]
    fn feature_orders_match_the_reference_layout() {
        let device = Device::flex();
        let p = Patchifier::new([2, 2, 3]);
        let dims = [1, 2, 4, 4, 6];
        let [_, c, f, h, w] = dims;
        let x = values(iota(dims, &device));
        let grid = p.grid(dims);
        let last = values(p.patchify(iota(dims, &device)));
        let first = values(p.patchify_channels_first(iota(dims, &device)));
        let features = c * p.volume();
        for ch in 0..c {
            for z in 0..f {
                for y in 0..h {
                    for xx in 0..w {
                        let value = x[((ch * f + z) * h + y) * w + xx];
                        let token = grid.token(z / 2, y / 2, xx / 3);
                        let (it, ih, iw) = (z % 2, y % 2, xx % 3);
                        let within = (it * 2 + ih) * 3 + iw;
                        assert_eq!(last[token * features + within * c + ch], value);
                        assert_eq!(first[token * features + ch * p.volume() + within], value);
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "not a multiple of the patch size")]
    fn indivisible_latents_are_rejected() {
        Patchifier::new([1, 2, 2]).grid([1, 4, 3, 5, 4]);
    }
}
