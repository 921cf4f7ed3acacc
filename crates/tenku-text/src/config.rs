//! The umT5 encoder's configuration: a serde mirror of transformers' `text_encoder/config.json`
//! (`UMT5Config`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `text_encoder/config.json` of a umT5 encoder (`UMT5Config`). Fields the encoder does not use
/// (`_class_name`, decoder settings, token ids, dropout) are ignored.
///
/// Wan's UMT5-XXL: vocab 256384, d_model 4096, d_kv 64, 64 heads, d_ff 10240, 24 layers,
/// 32 buckets, max distance 128, `gated-gelu`, eps 1e-6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Umt5Config {
    /// Rows of the token embedding (`shared.weight`).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Width of one attention head.
    pub d_kv: usize,
    /// Hidden width of the feed-forward block.
    pub d_ff: usize,
    /// Number of encoder blocks.
    pub num_layers: usize,
    /// Number of attention heads.
    pub num_heads: usize,
    /// Number of relative position buckets (both directions together).
    pub relative_attention_num_buckets: usize,
    /// Distance from which all relative positions share the last bucket.
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    /// Feed-forward kind, `[gated-]ACT` (`gated-gelu` means the tanh approximation `gelu_new`).
    #[serde(default = "default_feed_forward_proj")]
    pub feed_forward_proj: String,
    /// Epsilon of the RMS layer norms.
    #[serde(default = "default_layer_norm_epsilon")]
    pub layer_norm_epsilon: f64,
}

// Defaults of transformers' `UMT5Config`, for files written before these fields existed.
fn default_max_distance() -> usize {
    128
}
fn default_feed_forward_proj() -> String {
    "gated-gelu".to_owned()
}
fn default_layer_norm_epsilon() -> f64 {
    1e-6
}

/// The activation of the feed-forward block (transformers' `ACT2FN` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activation {
    /// `relu`.
    Relu,
    /// `gelu`: exact, with erf.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
    GeluTanh,
    /// `silu` / `swish`: `x·σ(x)`.
    Silu,
}

/// What `feed_forward_proj` means, as `UMT5Config.__post_init__` decodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeedForward {
    /// Gated (`wi_0`, `wi_1`, `wo`) or plain (`wi`, `wo`).
    pub gated: bool,
    /// The activation.
    pub activation: Activation,
}

impl Umt5Config {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound { what: "config.json", path: path.to_owned() },
            _ => Error::Io { path: path.to_owned(), source },
        })?;
        let config: Self =
            serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_owned(), source })?;
        config.validate().map_err(|reason| Error::InvalidConfig { path: path.to_owned(), reason })?;
        Ok(config)
    }

    /// Checks that the sizes are usable and `feed_forward_proj` is understood.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.feed_forward()?;
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_heads", self.num_heads),
        ] {
            if value == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        // Bidirectional buckets: half per direction, half of those exact, so at least 4 overall.
        if self.relative_attention_num_buckets < 4 {
            return Err(format!(
                "relative_attention_num_buckets {} must be at least 4",
                self.relative_attention_num_buckets
            ));
        }
        let max_exact = self.relative_attention_num_buckets / 4;
        if self.relative_attention_max_distance <= max_exact {
            return Err(format!(
                "relative_attention_max_distance {} must exceed the exact range {max_exact}",
                self.relative_attention_max_distance
            ));
        }
        if self.layer_norm_epsilon.is_nan() || self.layer_norm_epsilon < 0.0 {
            return Err(format!("layer_norm_epsilon {} must be non-negative", self.layer_norm_epsilon));
        }
        Ok(())
    }

    /// Decodes `feed_forward_proj` like `UMT5Config.__post_init__`: the part after the last `-`
    /// names the activation, a leading `gated` selects the gated block, and `gated-gelu` means
    /// `gelu_new`.
    pub fn feed_forward(&self) -> std::result::Result<FeedForward, String> {
        let parts: Vec<&str> = self.feed_forward_proj.split('-').collect();
        let gated = parts[0] == "gated";
        if parts.len() > 2 || (parts.len() == 2 && !gated) {
            return Err(format!(
                "feed_forward_proj `{}` is not of the form `gated-ACT` or `ACT`",
                self.feed_forward_proj
            ));
        }
        let name = if self.feed_forward_proj == "gated-gelu" { "gelu_new" } else { parts[parts.len() - 1] };
        let activation = match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "silu" | "swish" => Activation::Silu,
            other => {
                return Err(format!(
                    "activation `{other}` of feed_forward_proj `{}` is not supported \
                     (supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish)",
                    self.feed_forward_proj
                ));
            }
        };
        Ok(FeedForward { gated, activation })
    }

    /// Width of all heads together, `num_heads · d_kv`.
    pub fn inner_dim(&self) -> usize {
        self.num_heads * self.d_kv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn umt5_xxl() -> Umt5Config {
        serde_json::from_str(
            r#"{"_name_or_path": "google/umt5-xxl", "architectures": ["UMT5EncoderModel"],
                "classifier_dropout": 0.0, "d_ff": 10240, "d_kv": 64, "d_model": 4096,
                "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1,
                "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0,
                "is_encoder_decoder": true, "is_gated_act": true, "layer_norm_epsilon": 1e-06,
                "model_type": "umt5", "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24,
                "output_past": true, "pad_token_id": 0, "relative_attention_max_distance": 128,
                "relative_attention_num_buckets": 32, "scalable_attention": true,
                "tie_word_embeddings": false, "tokenizer_class": "T5Tokenizer",
                "torch_dtype": "float32", "transformers_version": "4.43.3", "use_cache": true,
                "vocab_size": 256384}"#,
        )
        .unwrap()
    }

    #[test]
    fn reads_the_umt5_xxl_config_and_ignores_other_fields() {
        let config = umt5_xxl();
        assert_eq!(config.d_model, 4096);
        assert_eq!(config.inner_dim(), 4096);
        assert_eq!(config.feed_forward(), Ok(FeedForward { gated: true, activation: Activation::GeluTanh }));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn decodes_feed_forward_proj_like_transformers() {
        let mut config = umt5_xxl();
        for (proj, want) in [
            ("relu", Some((false, Activation::Relu))),
            ("gated-silu", Some((true, Activation::Silu))),
            ("gelu", Some((false, Activation::Gelu))),
            ("gated-gelu_new", Some((true, Activation::GeluTanh))),
            ("gated-tanh", None),
            ("ungated-relu", None),
        ] {
            config.feed_forward_proj = proj.to_owned();
            let got = config.feed_forward().ok().map(|f| (f.gated, f.activation));
            assert_eq!(got, want, "{proj}");
        }
    }

    #[test]
    fn rejects_unusable_bucket_settings() {
        let mut config = umt5_xxl();
        config.relative_attention_num_buckets = 2;
        assert!(config.validate().unwrap_err().contains("at least 4"));
        let mut config = umt5_xxl();
        config.relative_attention_max_distance = 8;
        assert!(config.validate().unwrap_err().contains("exceed"));
    }
}
