//! The whole transformer (`WanTransformer3DModel`).

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use tenku_core::{
    Conditioning, Denoiser, Prediction, Timestep, WeightStore, save_safetensors, write_config_json,
};
use tenku_patch::{Patchifier, Rope3d};

use crate::block::{WanTransformerBlock, layer_norm_no_affine, modulated};
use crate::config::WanTransformerConfig;
use crate::embed::WanTimeTextEmbedding;
use crate::error::Result;

/// Module paths → checkpoint keys: the inverse of [`WanTransformerConfig::load_options`].
const SAVE_REMAPS: [(&str, &str); 2] = [
    (r"^(blocks\.\d+\.ffn)\.net_0_proj\.(weight|bias)$", "${1}.net.0.proj.${2}"),
    (r"^(blocks\.\d+\.ffn)\.net_2\.(weight|bias)$", "${1}.net.2.${2}"),
];

/// Wan's video diffusion transformer, diffusers' `WanTransformer3DModel` (text-to-video; the
/// image-conditioning branch is not implemented).
///
/// Field paths equal the diffusers checkpoint keys (see [`WanTransformerConfig::load_options`]
/// for the two exceptions), so loading is the identity map plus burn-store's PyTorch adapter.
/// `norm_out` has no parameters and the RoPE tables are not stored, so neither is a module field.
#[derive(Module, Debug)]
pub struct WanTransformer {
    /// Kernel = stride `Conv3d` cutting latents into patches of width `D`.
    pub patch_embedding: Conv3d,
    /// Time and text embedders.
    pub condition_embedder: WanTimeTextEmbedding,
    /// The transformer blocks.
    pub blocks: Vec<WanTransformerBlock>,
    /// Output projection `D → pt·ph·pw·out_channels` (channel fastest within a token).
    pub proj_out: Linear,
    /// Learned output modulation `[1, 2, D]`: rows shift, scale (added to `temb`).
    pub scale_shift_table: Param<Tensor<3>>,
    /// The config the model was built from.
    #[module(skip)]
    config: WanTransformerConfig,
    /// The RoPE tables of every axis position (the reference's non-persistent `rope` buffers).
    #[module(skip)]
    rope: Rope3d,
}

impl WanTransformer {
    pub(crate) fn new(config: &WanTransformerConfig, device: &Device) -> Self {
        let d = config.inner_dim();
        let patch = config.patch_size;
        Self {
            patch_embedding: Conv3dConfig::new([config.in_channels, d], patch)
                .with_stride(patch)
                .init(device),
            condition_embedder: WanTimeTextEmbedding::new(config, device),
            blocks: (0..config.num_layers).map(|_| WanTransformerBlock::new(config, device)).collect(),
            proj_out: LinearConfig::new(d, config.output_channels() * patch.iter().product::<usize>())
                .init(device),
            // Like the reference's `randn(1, 2, D) / √D`.
            scale_shift_table: Param::from_tensor(Tensor::random(
                [1, 2, d],
                Distribution::Normal(0.0, 1.0 / (d as f64).sqrt()),
                device,
            )),
            config: config.clone(),
            rope: Rope3d::wan(config.attention_head_dim, config.rope_max_seq_len),
        }
    }

    /// Loads a diffusers `transformer/` folder: `config.json` plus `*.safetensors` (one file or
    /// shards with an index). Parameters are f32.
    ///
    /// Fails, naming the key, on a missing, unexpected or mis-shaped tensor, and with
    /// [`Error::Config`](crate::Error::Config) on a config this crate cannot build (such as one
    /// with an image branch).
    pub fn load(component_dir: &Path, device: &Device) -> Result<WanTransformer> {
        let config = WanTransformerConfig::from_file(&component_dir.join("config.json"))?;
        let store = WeightStore::open(component_dir)?;
        let (model, _report) = store.load_into(config.init(device), &config.load_options())?;
        Ok(model)
    }

    /// Writes a diffusers `transformer/` folder that [`WanTransformer::load`] (and diffusers)
    /// reads: `config.json` and `diffusion_pytorch_model.safetensors`, each written atomically.
    pub fn save(&self, component_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(component_dir)
            .map_err(|source| tenku_core::Error::Io { path: component_dir.to_owned(), source })?;
        write_config_json(&component_dir.join("config.json"), "WanTransformer3DModel", &self.config, &[])?;
        save_safetensors(self, &component_dir.join("diffusion_pytorch_model.safetensors"), &SAVE_REMAPS)?;
        Ok(())
    }

    /// The config the model was built from.
    pub fn config(&self) -> &WanTransformerConfig {
        &self.config
    }

    /// The raw prediction (flow velocity) for noisy `hidden_states` at `timestep`, conditioned
    /// on text encoder states.
    ///
    /// `Timestep::PerToken` is Wan2.2's `expand_timesteps`: one timestep per latent token in
    /// token order `(frame, row, column)` of the patch grid; with all values equal it gives the
    /// same result as `Timestep::PerSample`. `Timestep::PerFrame` gives the result of
    /// `PerToken` with each latent frame's value on all its tokens, embedding the timesteps
    /// once per frame instead of once per token (with temporal patches, a token takes the
    /// largest timestep of its latent frames).
    ///
    /// # Shapes
    /// - `hidden_states`: `[batch, in_channels, frames, height, width]`, frames/height/width
    ///   multiples of `patch_size`, patch grid sides at most `rope_max_seq_len`
    /// - `timestep`: `PerSample([batch])`, `PerFrame([batch, frames])` or
    ///   `PerToken([batch, tokens])` with `tokens = (frames/pt)·(height/ph)·(width/pw)`
    /// - `encoder_hidden_states`: `[batch, text_tokens, text_dim]` (all rows are attended)
    /// - output: `[batch, out_channels, frames, height, width]`
    ///
    /// # Panics
    /// On shapes that break the contract above.
    pub fn forward(
        &self,
        hidden_states: Tensor<5>,
        timestep: Timestep,
        encoder_hidden_states: Tensor<3>,
    ) -> Tensor<5> {
        let config = &self.config;
        let [b, c, ..] = hidden_states.dims();
        assert_eq!(
            c, config.in_channels,
            "hidden_states has {c} channels, the model takes {}",
            config.in_channels
        );
        let [text_batch, _, text_dim] = encoder_hidden_states.dims();
        assert_eq!(
            text_batch, b,
            "encoder_hidden_states batch {text_batch} differs from hidden_states batch {b}"
        );
        assert_eq!(
            text_dim, config.text_dim,
            "encoder_hidden_states width {text_dim}, the model takes {}",
            config.text_dim
        );
        let d = config.inner_dim();
        let device = hidden_states.device();

        let patchifier = Patchifier::new(config.patch_size);
        let grid = patchifier.grid(hidden_states.dims());
        let tokens = grid.tokens();
        let rope = self.rope.tables(grid, &device);

        // Patch embedding: the kernel = stride Conv3d as a product with its flattened weight.
        let weight = self.patch_embedding.weight.val().reshape([d, c * patchifier.volume()]);
        let mut x =
            patchifier.patchify_channels_first(hidden_states).matmul(weight.transpose().unsqueeze_dim(0));
        if let Some(bias) = &self.patch_embedding.bias {
            x = x + bias.val().reshape([1, 1, d]);
        }

        // Time embedding: temb [b, n, D] and block modulation [b, n, 6, D], each of the n rows
        // for a run of tokens / n consecutive tokens: n = 1, the grid's frames or tokens.
        let timesteps = match timestep {
            Timestep::PerSample(t) => {
                let [tb] = t.dims();
                assert_eq!(tb, b, "timestep batch {tb} differs from hidden_states batch {b}");
                t.reshape([b, 1])
            }
            Timestep::PerFrame(t) => {
                let latent_frames = grid.frames * config.patch_size[0];
                let dims = t.dims();
                assert_eq!(
                    dims,
                    [b, latent_frames],
                    "per-frame timesteps must be [batch, latent frames] = [{b}, {latent_frames}]"
                );
                // A token spanning several latent frames takes the noisiest one's timestep.
                t.reshape([b, grid.frames, config.patch_size[0]]).max_dim(2).reshape([b, grid.frames])
            }
            Timestep::PerToken(t) => {
                let dims = t.dims();
                assert_eq!(
                    dims,
                    [b, tokens],
                    "per-token timesteps must be [batch, tokens] = [{b}, {tokens}]"
                );
                t
            }
        };
        let [_, n] = timesteps.dims();
        let (temb, proj) = self.condition_embedder.time(timesteps.reshape([b * n]));
        let (temb, modulation) = (temb.reshape([b, n, d]), proj.reshape([b, n, 6, d]));
        let context = self.condition_embedder.text(encoder_hidden_states);

        for block in &self.blocks {
            x = block.forward(x, context.clone(), modulation.clone(), &rope);
        }

        // Output head: modulated by temb itself (not by time_proj), rows shift then scale.
        let e = self.scale_shift_table.val().unsqueeze_dim::<4>(0) + temb.unsqueeze_dim::<4>(2);
        let shift = e.clone().narrow(2, 0, 1);
        let scale = e.narrow(2, 1, 1);
        let x = modulated(layer_norm_no_affine(x, config.eps), scale, shift);
        patchifier.unpatchify(self.proj_out.forward(x), grid)
    }
}

impl Denoiser for WanTransformer {
    fn prediction(&self) -> Prediction {
        Prediction::Velocity
    }

    /// [`WanTransformer::forward`] with `cond.text.hidden`; `cond.clean_frames` is the
    /// pipeline's business (Wan2.2 TI2V writes them into the latents and passes per-token
    /// timesteps).
    fn forward(&self, latents: Tensor<5>, timestep: Timestep, cond: &Conditioning) -> Tensor<5> {
        WanTransformer::forward(self, latents, timestep, cond.text.hidden.clone())
    }
}
