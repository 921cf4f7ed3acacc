//! Wan's text side: the umT5 prompt tokenizer with WanPipeline's cleaning and padding rules, and
//! the umT5 encoder (`transformers.UMT5EncoderModel`) on Burn.
//!
//! - [`PromptTokenizer`] reads `tokenizer/tokenizer.json` (HF `tokenizers`) and turns prompts
//!   into fixed-length id rows after [`prompt_clean`].
//! - [`Umt5Config`] mirrors `text_encoder/config.json`; [`Umt5Encoder`] is the encoder, with
//!   module fields named after the checkpoint keys.
//! - [`WanTextEncoder`] puts both together as diffusers' `_get_t5_prompt_embeds` does, and
//!   implements [`tenku_core::TextEncoder`].
//!
//! ```
//! use tenku_text::prompt_clean;
//! assert_eq!(prompt_clean("  A cat &amp; a\n dog  "), "A cat & a dog");
//! ```

mod clean;
mod config;
mod encoder;
mod error;
mod html_entities;
mod tokenizer;
mod umt5;
mod word_level;

pub use clean::{html_unescape, prompt_clean};
pub use config::{Activation, FeedForward, Umt5Config};
pub use encoder::{WanTextEncoder, batch_tensors, zero_padding};
pub use error::{Error, Result};
pub use tokenizer::{PromptTokenizer, TokenBatch};
pub use umt5::{
    KEY_REMAPS, SHARED_KEY, TIED_EMBED_KEY, Umt5Attention, Umt5Block, Umt5DenseReluDense, Umt5Encoder,
    Umt5LayerFf, Umt5LayerNorm, Umt5LayerSelfAttention, Umt5Stack, relative_position_bucket,
    relative_position_buckets,
};
pub use word_level::{SPECIAL_TOKENS, save_word_level_tokenizer, word_level_tokenizer};
