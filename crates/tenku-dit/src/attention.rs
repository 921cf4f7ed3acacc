//! Wan's attention (`WanAttention` with `WanAttnProcessor`), for self- and cross-attention.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor};
use tenku_patch::RopeTables;

use crate::config::WanTransformerConfig;

/// Multi-head attention with q/k RMSNorm across all heads.
///
/// `q = norm_q(to_q(x))`, `k = norm_k(to_k(context))`, `v = to_v(context)` (context = `x` in
/// self-attention); the norms run over the full width `D` before the heads are split. RoPE, when
/// given, rotates q and k per head; then softmax attention with scale `1/√head_dim`, no mask,
/// and `to_out.0`.
#[derive(Module, Debug)]
pub struct WanAttention {
    /// Query projection `D → D`.
    pub to_q: Linear,
    /// Key projection `D → D`.
    pub to_k: Linear,
    /// Value projection `D → D`.
    pub to_v: Linear,
    /// Output projection, one element: checkpoint key `to_out.0` (index 1 of the reference's
    /// `ModuleList` is a parameter-free dropout).
    pub to_out: Vec<Linear>,
    /// RMSNorm of the queries over `D`.
    pub norm_q: RmsNorm,
    /// RMSNorm of the keys over `D`.
    pub norm_k: RmsNorm,
    /// Attention heads.
    pub heads: usize,
}

impl WanAttention {
    pub(crate) fn new(config: &WanTransformerConfig, device: &Device) -> Self {
        let d = config.inner_dim();
        let linear = || LinearConfig::new(d, d).init(device);
        let norm = || RmsNormConfig::new(d).with_epsilon(config.eps).init(device);
        Self {
            to_q: linear(),
            to_k: linear(),
            to_v: linear(),
            to_out: vec![linear()],
            norm_q: norm(),
            norm_k: norm(),
            heads: config.num_attention_heads,
        }
    }

    /// Attends from `x` to `context` (self-attention when `context` is `None`), rotating q and k
    /// with `rope` when given.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, D]`
    /// - `context`: `[batch, context_tokens, D]`
    /// - `rope`: tables for `tokens` (self-attention only)
    /// - output: `[batch, tokens, D]`
    pub fn forward(&self, x: Tensor<3>, context: Option<Tensor<3>>, rope: Option<&RopeTables>) -> Tensor<3> {
        let context = context.unwrap_or_else(|| x.clone());
        let q = self.split_heads(self.norm_q.forward(self.to_q.forward(x)));
        let k = self.split_heads(self.norm_k.forward(self.to_k.forward(context.clone())));
        let v = self.split_heads(self.to_v.forward(context));
        let (q, k) = match rope {
            Some(rope) => (rope.apply(q), rope.apply(k)),
            None => (q, k),
        };
        // Default scale 1/√head_dim, as torch's SDPA; no mask: padded text rows are attended
        // like the reference does.
        let out = attention(q, k, v, None, None, AttentionModuleOptions::default());
        let [b, heads, tokens, head_dim] = out.dims();
        let out = out.swap_dims(1, 2).reshape([b, tokens, heads * head_dim]);
        self.to_out[0].forward(out)
    }

    /// `[b, n, D]` → `[b, heads, n, D / heads]`; channel `c` goes to head `c / head_dim`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, n, d] = x.dims();
        x.reshape([b, n, self.heads, d / self.heads]).swap_dims(1, 2)
    }
}
