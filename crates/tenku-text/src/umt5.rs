//! The umT5 encoder (`transformers.UMT5EncoderModel`), a T5 v1.1 encoder with a relative
//! position bias in every layer.
//!
//! Reference: `transformers/models/umt5/modeling_umt5.py` (transformers 5.24). What sets the T5
//! family apart, and what this port keeps:
//! - RMS layer norm without mean subtraction or bias, the mean of squares taken in f32;
//! - no `1/√d` scaling of the attention logits and no `√d` scaling of the embeddings;
//! - a learned relative position bias per layer (T5 has one in layer 0 only), added to the
//!   logits together with the additive key mask `(1 − m)·f32::MIN`;
//! - a gated feed-forward block, `wo(act(wi_0·x) ⊙ wi_1·x)`, with `gelu_new` (the tanh
//!   approximation, `tenku_core::gelu_tanh`) for `gated-gelu`.
//!
//! Module fields are named after the checkpoint keys, so loading is the identity map except for
//! the two capitalized names, which a Rust field path does not allow by convention (see
//! [`KEY_REMAPS`]).

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, relu, silu};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};
use tenku_core::{LoadOptions, WeightStore, gelu_tanh};

use crate::config::{Activation, Umt5Config};
use crate::error::{Error, Result};

/// Checkpoint key rewrites, `(pattern, replacement)`: PyTorch attribute names that are not
/// snake case become snake-case fields. Both are anchored, so their order does not matter.
///
/// | checkpoint key | module path |
/// |---|---|
/// | `encoder.block.{i}.layer.0.SelfAttention.*` | `encoder.block.{i}.layer.0.self_attention.*` |
/// | `encoder.block.{i}.layer.1.DenseReluDense.*` | `encoder.block.{i}.layer.1.dense_relu_dense.*` |
pub const KEY_REMAPS: [(&str, &str); 2] = [
    (
        r"^encoder\.block\.(\d+)\.layer\.0\.SelfAttention\.(.+)$",
        "encoder.block.${1}.layer.0.self_attention.${2}",
    ),
    (
        r"^encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.(.+)$",
        "encoder.block.${1}.layer.1.dense_relu_dense.${2}",
    ),
];

/// The token embedding as `UMT5EncoderModel` stores it; `encoder.embed_tokens.weight` is tied
/// to it (the same tensor), and `save_pretrained` writes only this one.
pub const SHARED_KEY: &str = "shared.weight";
/// The tied copy of [`SHARED_KEY`]; used when it is the only one in the file, ignored otherwise.
pub const TIED_EMBED_KEY: &str = "encoder.embed_tokens.weight";

/// The relative position bucket of `relative_position = key_pos − query_pos` for a bidirectional
/// (encoder) T5 attention, exactly as `UMT5Attention._relative_position_bucket` computes it.
///
/// Half of the buckets are for keys after the query; within each half, distances below a quarter
/// of `num_buckets` get their own bucket and larger ones share logarithmically wider buckets up to
/// `max_distance`. The logarithm is taken in f32 and truncated, like the reference (this decides
/// distances on bucket edges, e.g. 16 → 10 for 32 buckets).
pub fn relative_position_bucket(relative_position: i64, num_buckets: usize, max_distance: usize) -> usize {
    let half = num_buckets / 2;
    let offset = if relative_position > 0 { half } else { 0 };
    let distance = relative_position.unsigned_abs() as usize;
    let max_exact = half / 2;
    if distance < max_exact {
        return offset + distance;
    }
    let ratio = distance as f32 / max_exact as f32;
    // torch: `log(d.float() / max_exact) / math.log(max_distance / max_exact) * (half − max_exact)`
    // with the Python double scalar applied to an f32 tensor, i.e. rounded to f32.
    let scale = (max_distance as f64 / max_exact as f64).ln() as f32;
    let log_ratio = ratio.ln() / scale * (half - max_exact) as f32;
    offset + (max_exact + log_ratio as usize).min(half - 1)
}

/// Bucket of every (query, key) pair, row-major `[query_len · key_len]`.
pub fn relative_position_buckets(
    query_len: usize,
    key_len: usize,
    num_buckets: usize,
    max_distance: usize,
) -> Vec<i64> {
    (0..query_len)
        .flat_map(|q| {
            (0..key_len)
                .map(move |k| relative_position_bucket(k as i64 - q as i64, num_buckets, max_distance) as i64)
        })
        .collect()
}

/// T5's RMS layer norm (`UMT5LayerNorm`): `weight · x / √(mean(x²) + ε)`, no mean subtraction,
/// no bias.
#[derive(Module, Debug)]
pub struct Umt5LayerNorm {
    /// Per-channel scale, `[d_model]` (key `…layer_norm.weight`).
    pub weight: Param<Tensor<1>>,
    /// Added to the mean of squares.
    #[module(skip)]
    pub epsilon: f64,
}

impl Umt5LayerNorm {
    fn new(d_model: usize, epsilon: f64, device: &Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::ones([d_model], device)), epsilon }
    }

    /// Normalizes over the last dimension.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, d_model]`
    /// - output: same as `x`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // The weights and activations are f32 here, so the reference's f32 variance island and
        // its cast back to a half-precision weight dtype are both no-ops.
        let variance = (x.clone() * x.clone()).mean_dim(2);
        let normalized = x * (variance + self.epsilon).sqrt().recip();
        normalized * self.weight.val().unsqueeze::<3>()
    }
}

/// Self-attention with a learned relative position bias (`UMT5Attention`; keys
/// `…layer.0.SelfAttention.{q,k,v,o,relative_attention_bias}.weight`).
#[derive(Module, Debug)]
pub struct Umt5Attention {
    /// Query projection, `d_model → heads·d_kv`.
    pub q: Linear,
    /// Key projection, `d_model → heads·d_kv`.
    pub k: Linear,
    /// Value projection, `d_model → heads·d_kv`.
    pub v: Linear,
    /// Output projection, `heads·d_kv → d_model`.
    pub o: Linear,
    /// One bias per (bucket, head), `[num_buckets, num_heads]`.
    pub relative_attention_bias: Embedding,
    /// Number of heads.
    #[module(skip)]
    pub num_heads: usize,
    /// Width of one head.
    #[module(skip)]
    pub d_kv: usize,
}

impl Umt5Attention {
    /// This layer's position bias for the given buckets, `[1, heads, query_len, key_len]`.
    ///
    /// # Shapes
    /// - `buckets`: `[query_len · key_len]`, row-major
    pub fn position_bias(&self, buckets: Tensor<1, Int>, query_len: usize, key_len: usize) -> Tensor<4> {
        self.relative_attention_bias
            .weight
            .val()
            .select(0, buckets)
            .reshape([query_len, key_len, self.num_heads])
            .permute([2, 0, 1])
            .unsqueeze::<4>()
    }

    /// Attends every token to every token: `softmax(q·kᵀ + bias + mask)·v`, then `o`.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, d_model]`
    /// - `buckets`: `[tokens · tokens]`, see [`relative_position_buckets`]
    /// - `mask_bias`: `[batch, 1, 1, tokens]`, 0 for keys to attend to and `f32::MIN` for padding
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<3>, buckets: Tensor<1, Int>, mask_bias: Tensor<4>) -> Tensor<3> {
        let [batch, tokens, _] = x.dims();
        let heads = |t: Tensor<3>| t.reshape([batch, tokens, self.num_heads, self.d_kv]).swap_dims(1, 2);
        let q = heads(self.q.forward(x.clone()));
        let k = heads(self.k.forward(x.clone()));
        let v = heads(self.v.forward(x));
        // As in the reference, the key mask is additive and folded into the position bias,
        // giving one `[batch, heads, tokens, tokens]` bias (the shape `attention` documents).
        let bias = self.position_bias(buckets, tokens, tokens) + mask_bias;
        let options = AttentionModuleOptions { scale: Some(1.0), softcap: None, is_causal: false };
        let context = attention(q, k, v, None, Some(bias), options);
        let context = context.swap_dims(1, 2).reshape([batch, tokens, self.num_heads * self.d_kv]);
        self.o.forward(context)
    }
}

/// The feed-forward block (`UMT5DenseGatedActDense`, or `UMT5DenseActDense` when not gated;
/// keys `…layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight` or `{wi,wo}`).
#[derive(Module, Debug)]
pub struct Umt5DenseReluDense {
    /// Activated input projection of the gated block, `d_model → d_ff`.
    pub wi_0: Option<Linear>,
    /// Linear (gate) input projection of the gated block, `d_model → d_ff`.
    pub wi_1: Option<Linear>,
    /// Input projection of the plain block, `d_model → d_ff`.
    pub wi: Option<Linear>,
    /// Output projection, `d_ff → d_model`.
    pub wo: Linear,
    /// The activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Umt5DenseReluDense {
    /// `wo(act(wi_0·x) ⊙ wi_1·x)` when gated, `wo(act(wi·x))` otherwise.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, d_model]`
    /// - output: same as `x`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = match (&self.wi_0, &self.wi_1, &self.wi) {
            (Some(wi_0), Some(wi_1), _) => {
                activate(wi_0.forward(x.clone()), self.activation) * wi_1.forward(x)
            }
            (_, _, Some(wi)) => activate(wi.forward(x), self.activation),
            _ => unreachable!("Umt5DenseReluDense has either wi_0 and wi_1 or wi"),
        };
        self.wo.forward(hidden)
    }
}

fn activate(x: Tensor<3>, activation: Activation) -> Tensor<3> {
    match activation {
        Activation::Relu => relu(x),
        Activation::Gelu => gelu(x),
        Activation::GeluTanh => gelu_tanh(x),
        Activation::Silu => silu(x),
    }
}

/// Pre-norm self-attention with a residual (`UMT5LayerSelfAttention`, keys `…layer.0.*`).
#[derive(Module, Debug)]
pub struct Umt5LayerSelfAttention {
    /// The attention (checkpoint name `SelfAttention`).
    pub self_attention: Umt5Attention,
    /// The norm before it.
    pub layer_norm: Umt5LayerNorm,
}

/// Pre-norm feed-forward with a residual (`UMT5LayerFF`, keys `…layer.1.*`).
#[derive(Module, Debug)]
pub struct Umt5LayerFf {
    /// The feed-forward block (checkpoint name `DenseReluDense`).
    pub dense_relu_dense: Umt5DenseReluDense,
    /// The norm before it.
    pub layer_norm: Umt5LayerNorm,
}

/// One encoder block (`UMT5Block`): `layer.0` is self-attention, `layer.1` the feed-forward.
#[derive(Module, Debug)]
pub struct Umt5Block {
    /// The two sub-layers; a tuple so their key paths are `layer.0` and `layer.1`.
    pub layer: (Umt5LayerSelfAttention, Umt5LayerFf),
}

impl Umt5Block {
    /// `h += attn(LN(h)); h += ffn(LN(h))`.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, d_model]`; `buckets`, `mask_bias` as in [`Umt5Attention::forward`]
    /// - output: same as `x`
    pub fn forward(&self, x: Tensor<3>, buckets: Tensor<1, Int>, mask_bias: Tensor<4>) -> Tensor<3> {
        let (attn, ff) = &self.layer;
        let x = x.clone() + attn.self_attention.forward(attn.layer_norm.forward(x), buckets, mask_bias);
        x.clone() + ff.dense_relu_dense.forward(ff.layer_norm.forward(x))
    }
}

/// The encoder stack (`UMT5Stack`, keys `encoder.*`): blocks and the final norm.
#[derive(Module, Debug)]
pub struct Umt5Stack {
    /// The blocks, keys `encoder.block.{i}.*`.
    pub block: Vec<Umt5Block>,
    /// The norm after the last block.
    pub final_layer_norm: Umt5LayerNorm,
    /// Relative position buckets, both directions together.
    #[module(skip)]
    pub num_buckets: usize,
    /// Distance from which relative positions share the last bucket.
    #[module(skip)]
    pub max_distance: usize,
}

impl Umt5Stack {
    /// Runs the blocks and the final norm over embedded tokens.
    ///
    /// # Shapes
    /// - `x`: `[batch, tokens, d_model]`
    /// - `mask`: `[batch, tokens]`, 1 for real tokens and 0 for padding
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, x: Tensor<3>, mask: Tensor<2, Int>) -> Tensor<3> {
        let [batch, tokens, _] = x.dims();
        let device = x.device();
        let buckets = relative_position_buckets(tokens, tokens, self.num_buckets, self.max_distance);
        let buckets = Tensor::<1, Int>::from_data(TensorData::new(buckets, [tokens * tokens]), &device);
        // `(1 − m)·finfo(f32).min`, the reference's additive key mask (eager attention).
        let mask_bias = mask.equal_elem(0).float().reshape([batch, 1, 1, tokens]) * f32::MIN;
        let x = self.block.iter().fold(x, |x, block| block.forward(x, buckets.clone(), mask_bias.clone()));
        self.final_layer_norm.forward(x)
    }
}

/// `UMT5EncoderModel`: token embedding, encoder stack; returns `last_hidden_state`.
#[derive(Module, Debug)]
pub struct Umt5Encoder {
    /// Token embedding, `[vocab_size, d_model]` (key `shared.weight`; `encoder.embed_tokens` is
    /// tied to it).
    pub shared: Embedding,
    /// The encoder stack.
    pub encoder: Umt5Stack,
    /// The config the encoder was built from.
    #[module(skip)]
    config: Umt5Config,
}

impl Umt5Config {
    /// Builds an encoder with initial parameters (to be overwritten by [`Umt5Encoder::load`] or a
    /// store).
    ///
    /// # Panics
    /// When `feed_forward_proj` is not understood; configs read by
    /// [`Umt5Config::from_file`] have been checked already.
    pub fn init(&self, device: &Device) -> Umt5Encoder {
        let feed_forward =
            self.feed_forward().unwrap_or_else(|reason| panic!("invalid Umt5Config: {reason}"));
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).with_bias(false).init(device);
        let norm = || Umt5LayerNorm::new(self.d_model, self.layer_norm_epsilon, device);
        let inner = self.inner_dim();
        let block = (0..self.num_layers)
            .map(|_| Umt5Block {
                layer: (
                    Umt5LayerSelfAttention {
                        self_attention: Umt5Attention {
                            q: linear(self.d_model, inner),
                            k: linear(self.d_model, inner),
                            v: linear(self.d_model, inner),
                            o: linear(inner, self.d_model),
                            relative_attention_bias: EmbeddingConfig::new(
                                self.relative_attention_num_buckets,
                                self.num_heads,
                            )
                            .init(device),
                            num_heads: self.num_heads,
                            d_kv: self.d_kv,
                        },
                        layer_norm: norm(),
                    },
                    Umt5LayerFf {
                        dense_relu_dense: Umt5DenseReluDense {
                            wi_0: feed_forward.gated.then(|| linear(self.d_model, self.d_ff)),
                            wi_1: feed_forward.gated.then(|| linear(self.d_model, self.d_ff)),
                            wi: (!feed_forward.gated).then(|| linear(self.d_model, self.d_ff)),
                            wo: linear(self.d_ff, self.d_model),
                            activation: feed_forward.activation,
                        },
                        layer_norm: norm(),
                    },
                ),
            })
            .collect();
        Umt5Encoder {
            shared: EmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            encoder: Umt5Stack {
                block,
                final_layer_norm: norm(),
                num_buckets: self.relative_attention_num_buckets,
                max_distance: self.relative_attention_max_distance,
            },
            config: self.clone(),
        }
    }
}

impl Umt5Encoder {
    /// Loads `config.json` and the safetensors weights (one file or shards) of a diffusers
    /// `text_encoder/` directory, as f32.
    ///
    /// Fails, naming the checkpoint keys, when a tensor is missing, unexpected or mis-shaped.
    /// `encoder.embed_tokens.weight`, the tied copy of `shared.weight`, is ignored when both are
    /// present and used as the embedding when it is the only one.
    pub fn load(component_dir: &Path, device: &Device) -> Result<Self> {
        let config = Umt5Config::from_file(&component_dir.join("config.json"))?;
        let store = WeightStore::open(component_dir)?;
        let mut options = LoadOptions::f32();
        for (pattern, replacement) in KEY_REMAPS {
            options = options.with_remap(pattern, replacement);
        }
        match (store.info(SHARED_KEY).is_some(), store.info(TIED_EMBED_KEY).is_some()) {
            (true, true) => options.ignore_unexpected.push(TIED_EMBED_KEY.to_owned()),
            (false, true) => options = options.with_remap(r"^encoder\.embed_tokens\.weight$", SHARED_KEY),
            _ => {}
        }
        let (encoder, _report) = store.load_into(config.init(device), &options).map_err(checkpoint_names)?;
        Ok(encoder)
    }

    /// The `last_hidden_state` of the encoder.
    ///
    /// # Shapes
    /// - `ids`: `[batch, tokens]`
    /// - `mask`: `[batch, tokens]`, 1 for real tokens and 0 for padding (`attention_mask`)
    /// - output: `[batch, tokens, d_model]`
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2, Int>) -> Tensor<3> {
        self.encoder.forward(self.shared.forward(ids), mask)
    }

    /// The config the encoder was built from.
    pub fn config(&self) -> &Umt5Config {
        &self.config
    }

    /// Writes a transformers `text_encoder/` folder that [`Umt5Encoder::load`] (and
    /// `UMT5EncoderModel.from_pretrained`) reads: `config.json` and `model.safetensors`, each
    /// written atomically.
    pub fn save(&self, component_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(component_dir)
            .map_err(|source| tenku_core::Error::Io { path: component_dir.to_owned(), source })?;
        let extra = [
            ("architectures", serde_json::json!(["UMT5EncoderModel"])),
            ("model_type", serde_json::json!("umt5")),
        ];
        tenku_core::write_config_json(
            &component_dir.join("config.json"),
            "UMT5EncoderModel",
            &self.config,
            &extra,
        )?;
        let remap = [
            (r"^(encoder\.block\.\d+\.layer\.0)\.self_attention\.(.+)$", "${1}.SelfAttention.${2}"),
            (r"^(encoder\.block\.\d+\.layer\.1)\.dense_relu_dense\.(.+)$", "${1}.DenseReluDense.${2}"),
        ];
        tenku_core::save_safetensors(self, &component_dir.join("model.safetensors"), &remap)?;
        Ok(())
    }

    /// Model width.
    pub fn d_model(&self) -> usize {
        self.shared.weight.dims()[1]
    }
}

/// Reports missing module parameters under their checkpoint names (undoing [`KEY_REMAPS`]).
fn checkpoint_names(error: tenku_core::Error) -> Error {
    let rename = |key: String| {
        key.replace(".self_attention.", ".SelfAttention.").replace(".dense_relu_dense.", ".DenseReluDense.")
    };
    match error {
        tenku_core::Error::KeyMismatch { path, missing, unexpected } => {
            Error::Weights(tenku_core::Error::KeyMismatch {
                path,
                missing: missing.into_iter().map(rename).collect(),
                unexpected,
            })
        }
        tenku_core::Error::ShapeMismatch { key, path, expected, found } => {
            Error::Weights(tenku_core::Error::ShapeMismatch { key: rename(key), path, expected, found })
        }
        other => Error::Weights(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked from the formula by hand for 32 buckets, max distance 128: 16 buckets per direction,
    /// 8 exact; for d ≥ 8 the bucket is `8 + ⌊ln(d/8)/ln(16)·8⌋ = 8 + ⌊2·log₂(d/8)⌋`, capped at 15.
    #[test]
    fn buckets_for_32_and_128_follow_the_formula() {
        let b = |rel| relative_position_bucket(rel, 32, 128);
        // Exact range, both directions: keys before the query (rel ≤ 0) use 0..8, after use 16..24.
        assert_eq!((b(0), b(-1), b(-7), b(1), b(7)), (0, 1, 7, 17, 23));
        // 2·log₂(d/8): d = 8 → 0, 11 → 0.92, 12 → 1.17, 16 → 2, 22 → 2.92, 23 → 3.05, 32 → 4,
        // 45 → 4.98, 46 → 5.04, 64 → 6, 90 → 6.98, 91 → 7.02 (→ 15, the cap), 1000 → 15.
        for (d, want) in
            [(8, 8), (11, 8), (12, 9), (15, 9), (16, 10), (22, 10), (23, 11), (31, 11), (32, 12), (45, 12)]
                .into_iter()
                .chain([(46, 13), (63, 13), (64, 14), (90, 14), (91, 15), (128, 15), (1000, 15)])
        {
            assert_eq!(b(-d), want, "rel −{d}");
            assert_eq!(b(d), 16 + want, "rel +{d}");
        }
    }

    /// 16 buckets, max distance 64 (the `tiny_b` fixture): 8 per direction, 4 exact; for d ≥ 4 the
    /// bucket is `4 + ⌊ln(d/4)/ln(16)·4⌋ = 4 + ⌊log₂(d/4)⌋`, capped at 7.
    #[test]
    fn buckets_for_16_and_64_follow_the_formula() {
        let b = |rel| relative_position_bucket(rel, 16, 64);
        for (d, want) in
            [(0, 0), (3, 3), (4, 4), (7, 4), (8, 5), (15, 5), (16, 6), (31, 6), (32, 7), (500, 7)]
        {
            assert_eq!(b(-d), want, "rel −{d}");
            if d > 0 {
                assert_eq!(b(d), 8 + want, "rel +{d}");
            }
        }
    }

    /// `UMT5Attention._relative_position_bucket` on torch 2.15 for distances 0..100 at
    /// (32, 128) and (16, 64), the reference for every edge.
    #[test]
    fn buckets_match_torch() {
        let torch_32_128: [usize; 100] = [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11,
            11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13,
            13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
            14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15, 15,
        ];
        let torch_16_64: [usize; 100] = [
            0, 1, 2, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
            7, 7, 7, 7,
        ];
        for d in 0..100 {
            assert_eq!(relative_position_bucket(-d, 32, 128), torch_32_128[d as usize], "32/128 −{d}");
            assert_eq!(relative_position_bucket(-d, 16, 64), torch_16_64[d as usize], "16/64 −{d}");
        }
    }

    #[test]
    fn bucket_table_is_row_major_key_minus_query() {
        let table = relative_position_buckets(2, 3, 32, 128);
        // q = 0: k − q = 0, 1, 2; q = 1: −1, 0, 1.
        assert_eq!(table, vec![0, 17, 18, 1, 0, 17]);
    }
}
