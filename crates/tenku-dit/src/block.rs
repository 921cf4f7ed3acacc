//! One transformer block (`WanTransformerBlock`) and its feed-forward network.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use tenku_core::gelu_tanh;
use tenku_patch::RopeTables;

use crate::attention::WanAttention;
use crate::config::WanTransformerConfig;

/// diffusers' `FeedForward(dim, inner_dim=ffn_dim, activation_fn="gelu-approximate")`:
/// `net.2(GELU_tanh(net.0.proj(x)))`.
///
/// The fields are named after the checkpoint keys with the dots that cannot be a Rust path
/// replaced by `_`; see [`WanTransformerConfig::load_options`].
#[derive(Module, Debug)]
pub struct FeedForward {
    /// `ffn.net.0.proj`: `D → ffn_dim`.
    pub net_0_proj: Linear,
    /// `ffn.net.2`: `ffn_dim → D`.
    pub net_2: Linear,
}

impl FeedForward {
    /// # Shapes
    /// - `x`: `[batch, tokens, D]`
    /// - output: `[batch, tokens, D]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.net_2.forward(gelu_tanh(self.net_0_proj.forward(x)))
    }
}

/// Self-attention with RoPE, cross-attention to the text, and a feed-forward network, each
/// residual; self-attention and feed-forward are modulated by the timestep (adaLN: shift, scale,
/// gate).
///
/// `norm1` and `norm3` are parameter-free LayerNorms and so are not fields.
#[derive(Module, Debug)]
pub struct WanTransformerBlock {
    /// Self-attention.
    pub attn1: WanAttention,
    /// Cross-attention to the text.
    pub attn2: WanAttention,
    /// Affine LayerNorm in front of cross-attention (`cross_attn_norm`; identity when `None`).
    pub norm2: Option<LayerNorm>,
    /// Feed-forward network.
    pub ffn: FeedForward,
    /// Learned modulation offsets `[1, 6, D]`, rows shift_msa, scale_msa, gate_msa, c_shift,
    /// c_scale, c_gate.
    pub scale_shift_table: Param<Tensor<3>>,
    /// Epsilon of `norm1` and `norm3`.
    pub eps: f64,
}

impl WanTransformerBlock {
    pub(crate) fn new(config: &WanTransformerConfig, device: &Device) -> Self {
        let d = config.inner_dim();
        Self {
            attn1: WanAttention::new(config, device),
            attn2: WanAttention::new(config, device),
            norm2: config
                .cross_attn_norm
                .then(|| LayerNormConfig::new(d).with_epsilon(config.eps).init(device)),
            ffn: FeedForward {
                net_0_proj: LinearConfig::new(d, config.ffn_dim).init(device),
                net_2: LinearConfig::new(config.ffn_dim, d).init(device),
            },
            // Like the reference's `randn(1, 6, D) / √D`.
            scale_shift_table: Param::from_tensor(Tensor::random(
                [1, 6, d],
                Distribution::Normal(0.0, 1.0 / (d as f64).sqrt()),
                device,
            )),
            eps: config.eps,
        }
    }

    /// # Shapes
    /// - `x`: `[batch, tokens, D]`
    /// - `context`: `[batch, context_tokens, D]` (projected text)
    /// - `modulation`: `[batch, groups, 6, D]`, `time_proj(SiLU(temb))`, where `groups`
    ///   divides `tokens` and row g modulates the g-th run of `tokens / groups` consecutive
    ///   tokens: 1 (one timestep per sample), the patch grid's frames (one per frame) or
    ///   `tokens` (one per token)
    /// - `rope`: tables for `tokens`
    /// - output: `[batch, tokens, D]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        context: Tensor<3>,
        modulation: Tensor<4>,
        rope: &RopeTables,
    ) -> Tensor<3> {
        let e = self.scale_shift_table.val().unsqueeze_dim::<4>(0) + modulation;
        let row = |i: usize| e.clone().narrow(2, i, 1);
        let (shift_msa, scale_msa, gate_msa) = (row(0), row(1), row(2));
        let (c_shift, c_scale, c_gate) = (row(3), row(4), row(5));

        // 1. Self-attention.
        let n = modulated(layer_norm_no_affine(x.clone(), self.eps), scale_msa, shift_msa);
        let x = x + gated(self.attn1.forward(n, None, Some(rope)), gate_msa);

        // 2. Cross-attention: no modulation, no gate.
        let n = match &self.norm2 {
            Some(norm) => norm.forward(x.clone()),
            None => x.clone(),
        };
        let x = x + self.attn2.forward(n, Some(context), None);

        // 3. Feed-forward.
        let n = modulated(layer_norm_no_affine(x.clone(), self.eps), c_scale, c_shift);
        x + gated(self.ffn.forward(n), c_gate)
    }
}

/// `x · (1 + scale) + shift`, each of the `groups` rows of `scale` and `shift` applying to its
/// run of `tokens / groups` consecutive tokens.
///
/// # Shapes
/// - `x`: `[batch, tokens, D]`
/// - `scale`, `shift`: `[batch, groups, 1, D]`
/// - output: `[batch, tokens, D]`
pub(crate) fn modulated(x: Tensor<3>, scale: Tensor<4>, shift: Tensor<4>) -> Tensor<3> {
    let dims = x.dims();
    (grouped(x, scale.dims()[1]) * (scale + 1.0) + shift).reshape(dims)
}

/// `x · gate`, grouped as in [`modulated`].
fn gated(x: Tensor<3>, gate: Tensor<4>) -> Tensor<3> {
    let dims = x.dims();
    (grouped(x, gate.dims()[1]) * gate).reshape(dims)
}

/// `[batch, tokens, D]` → `[batch, groups, tokens / groups, D]`.
///
/// # Panics
/// When `groups` does not divide `tokens`.
fn grouped(x: Tensor<3>, groups: usize) -> Tensor<4> {
    let [b, tokens, d] = x.dims();
    assert!(tokens.is_multiple_of(groups), "{groups} timestep groups do not divide {tokens} tokens");
    x.reshape([b, groups, tokens / groups, d])
}

/// LayerNorm over the last axis without gamma and beta (`elementwise_affine=False`): mean
/// subtracted, biased variance, `eps` inside the square root.
///
/// Burn's `LayerNorm` module always carries a gamma, so this calls the fused functional kernel
/// with a constant gamma of ones (multiplying by 1 is exact).
///
/// # Shapes
/// - `x`: `[..., D]`
/// - output: same as `x`
pub fn layer_norm_no_affine<const N: usize>(x: Tensor<N>, eps: f64) -> Tensor<N> {
    let d = x.dims()[N - 1];
    let ones = Tensor::ones([d], &x.device());
    burn::tensor::module::layer_norm(x, ones, None, eps)
}
