//! `WanTextEncoder`: WanPipeline's prompt encoding (`_get_t5_prompt_embeds`) end to end.

use std::path::Path;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use tenku_core::TextEmbeddings;

use crate::error::Result;
use crate::tokenizer::{PromptTokenizer, TokenBatch};
use crate::umt5::Umt5Encoder;

/// The Wan text encoder: umT5 tokenizer and encoder, with the pipeline's cleaning, padding and
/// zeroing of padded rows.
#[derive(Debug)]
pub struct WanTextEncoder {
    /// The prompt tokenizer (`tokenizer/tokenizer.json`).
    pub tokenizer: PromptTokenizer,
    /// The umT5 encoder (`text_encoder/`).
    pub encoder: Umt5Encoder,
    /// The device the encoder's parameters live on.
    pub device: Device,
}

impl WanTextEncoder {
    /// Loads `tokenizer_dir/tokenizer.json` and the encoder in `text_encoder_dir` (its
    /// `config.json` and safetensors weights) onto `device`, as f32.
    pub fn load(tokenizer_dir: &Path, text_encoder_dir: &Path, device: &Device) -> Result<Self> {
        let tokenizer = PromptTokenizer::from_file(tokenizer_dir.join("tokenizer.json"))?;
        let encoder = Umt5Encoder::load(text_encoder_dir, device)?;
        Ok(Self { tokenizer, encoder, device: device.clone() })
    }

    /// Encodes prompts like WanPipeline: cleaned, tokenized and padded to `max_tokens`, encoded,
    /// and every row past a prompt's length replaced by exact zeros.
    ///
    /// # Shapes
    /// - output `hidden`: `[prompts.len(), max_tokens, d_model]`
    pub fn embed(&self, prompts: &[&str], max_tokens: usize) -> Result<TextEmbeddings> {
        let batch = self.tokenizer.encode(prompts, max_tokens)?;
        let hidden = self.encode_tokens(&batch);
        let hidden = zero_padding(hidden, &batch.lengths);
        Ok(TextEmbeddings { hidden, lengths: batch.lengths })
    }

    /// The encoder's `last_hidden_state` for tokenized prompts, padded rows not yet zeroed.
    ///
    /// # Shapes
    /// - output: `[batch.ids.len(), max_len, d_model]`
    pub fn encode_tokens(&self, batch: &TokenBatch) -> Tensor<3> {
        let (ids, mask) = batch_tensors(batch, &self.device);
        self.encoder.forward(ids, mask)
    }
}

impl tenku_core::TextEncoder for WanTextEncoder {
    fn encode(&self, prompts: &[&str], max_tokens: usize) -> tenku_core::Result<TextEmbeddings> {
        self.embed(prompts, max_tokens).map_err(|e| e.into_core(self.tokenizer.path()))
    }

    fn unknown_words(&self, prompt: &str) -> Vec<String> {
        self.tokenizer.unknown_words(prompt)
    }
}

/// Token ids and attention mask (1 = real token) as tensors on `device`.
///
/// # Shapes
/// - both outputs: `[batch.ids.len(), max_len]`
pub fn batch_tensors(batch: &TokenBatch, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let rows = batch.ids.len();
    let cols = batch.ids.first().map_or(0, Vec::len);
    let ids: Vec<i64> = batch.ids.iter().flatten().map(|&id| i64::from(id)).collect();
    let mask: Vec<i64> = batch.attention_mask().iter().flatten().map(|&m| i64::from(m)).collect();
    (
        Tensor::from_data(TensorData::new(ids, [rows, cols]), device),
        Tensor::from_data(TensorData::new(mask, [rows, cols]), device),
    )
}

/// Replaces the rows at and past each prompt's length by exact zeros, as the pipeline does
/// (`torch.cat([u[:len], zeros])`).
///
/// # Shapes
/// - `hidden`: `[batch, tokens, dim]`, `lengths.len() == batch`
/// - output: same as `hidden`
pub fn zero_padding(hidden: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
    let [batch, tokens, dim] = hidden.dims();
    assert_eq!(lengths.len(), batch, "one length per prompt");
    let padded: Vec<bool> = lengths.iter().flat_map(|&len| (0..tokens).map(move |t| t >= len)).collect();
    let padded = Tensor::<2, Bool>::from_data(TensorData::new(padded, [batch, tokens]), &hidden.device());
    hidden.mask_fill(padded.unsqueeze_dim::<3>(2).expand([batch, tokens, dim]), 0.0)
}
