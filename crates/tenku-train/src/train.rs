//! A training run: tokenizer, then the VAE stage (or a warm start's VAE, its decoder
//! optionally fine-tuned), then the text encoder and transformer together, then the diffusers
//! directory.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use burn::module::{Module, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use rand::Rng;
use tenku_core::{NoiseSource, SeededNoise, Timestep, VideoAutoencoder, write_file_atomic};
use tenku_dit::WanTransformer;
use tenku_pipeline::{WanTextToVideo, load_wan};
use tenku_text::{PromptTokenizer, Umt5Encoder, batch_tensors, zero_padding};
use tenku_vae::{WanVae, WanVaeConfig};

use crate::average::moved_towards;
use crate::checkpoint::{self, Checkpoint, Stage};
use crate::data::{Window, clip_batch, rng_for, streams};
use crate::error::{Error, Result};
use crate::recipe::{DecodedLoss, Recipe, Regeneration, StageConfig};

/// The text encoder and the transformer, trained together (one optimizer, one record).
#[derive(Module, Debug)]
pub struct TextToVideoModel {
    /// Prompts → hidden states.
    pub text_encoder: Umt5Encoder,
    /// The denoiser.
    pub transformer: WanTransformer,
}

/// What a running training reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Training continues from a checkpoint.
    Resumed {
        /// The checkpoint's stage.
        stage: Stage,
        /// Steps already done in it.
        step: usize,
    },
    /// A step finished.
    Progress(Progress),
    /// A checkpoint was written.
    Checkpoint {
        /// Its folder.
        dir: PathBuf,
    },
    /// A stage finished.
    StageDone(Stage),
}

/// Where a stage stands after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// The stage.
    pub stage: Stage,
    /// Steps done.
    pub step: usize,
    /// Steps in the stage.
    pub steps: usize,
    /// Exponential moving average of the loss (factor 0.98).
    pub loss: f64,
    /// Training clips per second in this process.
    pub samples_per_sec: f64,
    /// Estimated time to the end of the stage.
    pub eta: Duration,
}

/// How a call to [`train`] ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every stage is done; the diffusers directory of the model.
    Finished(PathBuf),
    /// [`TrainOptions::stop_after`] steps ran (as if the process had been killed there).
    Stopped {
        /// The stage that was running.
        stage: Stage,
        /// The step of its latest checkpoint, where a rerun resumes: 0 before the stage's
        /// first checkpoint (a rerun starts the stage over).
        step: usize,
    },
}

/// Knobs that do not change what is trained: the model differs at most by float rounding.
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Stop after this many steps of this process, without a final checkpoint (to test resume).
    pub stop_after: Option<usize>,
    /// Threads that share each denoiser step's samples (0 and 1: one): the samples are split
    /// into that many consecutive shards, each run forward and backward on its own thread
    /// with its own copy of the weights, and the gradients are summed in shard order. The same
    /// loss and gradients up to float rounding, so a run is byte-identical to another only
    /// with the same count. On two CPU cores 2 gives the shipped recipe about 12 % more steps
    /// per second (docs/performance.md); on a GPU keep 1.
    pub denoiser_threads: usize,
}

/// The trained model's folder inside a run directory.
pub const MODEL_DIR: &str = "model";

/// Trains `recipe` into `out` on `device` (its autodiff twin computes gradients), continuing
/// from the latest checkpoint in `out/checkpoints` when there is one. Finishes with a diffusers
/// directory `out/model` that `tenku generate --model` loads.
///
/// Fails when `out` holds a run of another recipe or a checkpoint is corrupt.
pub fn train(
    out: &Path,
    recipe: &Recipe,
    device: &Device,
    options: &TrainOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    recipe.validate().map_err(|reason| Error::InvalidRecipe { path: "<built-in>".into(), reason })?;
    claim_directory(out, recipe)?;
    let model_dir = out.join(MODEL_DIR);
    let tokenizer_dir = model_dir.join("tokenizer");
    let words = tenku_shapes::vocabulary();
    tenku_text::save_word_level_tokenizer(&tokenizer_dir, &words, recipe.max_sequence_length)?;

    let checkpoints = out.join("checkpoints");
    let mut latest = checkpoint::load_latest(&checkpoints)?;
    if let Some(checkpoint) = &latest {
        on_event(Event::Resumed { stage: checkpoint.state.stage, step: checkpoint.state.step });
    }
    let mut budget = options.stop_after.unwrap_or(usize::MAX);
    let mut runner = StageRunner { checkpoints: &checkpoints, recipe, budget: &mut budget, on_event };

    let vae_dir = model_dir.join("vae");
    let vae_done = |dir: &Path| dir.join("config.json").is_file();
    if let Some(init) = &recipe.warm_start
        && !vae_done(&vae_dir)
    {
        let source = checked_vae_source(init, recipe)?;
        match &recipe.decoder_stage {
            None => replace_dir(&vae_dir, &|dir| copy_files(&source, dir))?,
            Some(stage) => {
                let resume = latest.take().filter(|c| c.state.stage == Stage::Decoder);
                let ad = device.clone().autodiff();
                let vae = WanVae::load(&source, &ad)?;
                let frozen = WanVae::load(&source, device)?;
                let regeneration = recipe.decoder_regeneration.as_ref();
                let pipeline = regeneration.map(|_| load_wan(init, device)).transpose()?;
                let regenerator = pipeline.as_ref().zip(regeneration);
                let mut decoder_step = |vae: &WanVae, step: usize| {
                    let frozen = FrozenLatents { vae: &frozen, regenerator, device };
                    let loss = decoder_loss(vae, &frozen, recipe, stage, step, &ad)?;
                    Ok(StepGradients::of(loss, vae))
                };
                let Some(vae) = runner.run(Stage::Decoder, stage, vae, resume, &mut decoder_step)? else {
                    return stopped(&checkpoints, Stage::Decoder);
                };
                replace_dir(&vae_dir, &|dir| Ok(vae.save(dir)?))?;
            }
        }
    }
    if !vae_done(&vae_dir) {
        let resume = latest.take().filter(|c| c.state.stage == Stage::Vae);
        let ad = device.clone().autodiff();
        let vae =
            with_latent_gain(seeded_init(&ad, recipe.seed, || recipe.vae.init(&ad)), recipe.latent_gains());
        let mut vae_step =
            |vae: &WanVae, step: usize| Ok(StepGradients::of(vae_loss(vae, recipe, step, &ad)?, vae));
        let Some(vae) = runner.run(Stage::Vae, &recipe.vae_stage, vae, resume, &mut vae_step)? else {
            return stopped(&checkpoints, Stage::Vae);
        };
        export_vae(&vae, &vae_dir, recipe, device)?;
    }

    let vae = WanVae::load(&vae_dir, device)?;
    let tokenizer = PromptTokenizer::from_file(tokenizer_dir.join("tokenizer.json"))?;
    let resume = latest.filter(|c| c.state.stage == Stage::Denoiser);
    let ad = device.clone().autodiff();
    let model = match (&recipe.warm_start, &resume) {
        (Some(init), None) if !recipe.fresh_denoiser => warm_started_denoiser(init, recipe, &ad)?,
        _ => fresh_denoiser(recipe, &ad),
    };
    let first_step = resume.as_ref().map_or(0, |checkpoint| checkpoint.state.step);
    // The VAE that decodes predictions for `denoiser_decoded_loss`: frozen, gradients pass
    // through it to the transformer.
    let pixel_vae = recipe
        .denoiser_decoded_loss
        .as_ref()
        .map(|_| WanVae::load(&vae_dir, &ad).map(Module::no_grad))
        .transpose()?;
    let trained = std::thread::scope(|scope| {
        // The frozen VAE encodes the next step's clips on a second thread while this one
        // trains: the same values as encoding in line, its time off the step's. A resumed run
        // first encodes again the clips its pool held.
        let (sender, receiver) = mpsc::sync_channel(1);
        let plain = device.clone();
        let first_encoded = first_step.saturating_sub(recipe.denoiser_pool_steps.saturating_sub(1));
        scope.spawn(move || {
            for step in first_encoded..recipe.denoiser_stage.steps {
                if sender.send(encoded_clips(&vae, recipe, step, &plain)).is_err() {
                    break;
                }
            }
        });
        let mut pool = ClipPool::new(recipe.denoiser_pool_steps);
        let mut denoiser_step = |model: &TextToVideoModel, step: usize| {
            loop {
                let clips = receiver.recv().expect("the encoding thread sends every step's clips")?;
                let arrived = clips.step;
                pool.add(clips);
                if arrived == step {
                    break;
                }
                debug_assert!(arrived < step, "clips arrive in step order");
            }
            let batch = DenoiserBatch::draw(step, &pool.samples(recipe), recipe, pixel_vae.as_ref(), &ad);
            denoiser_gradients(model, &batch, options.denoiser_threads, &tokenizer, recipe, &ad)
        };
        runner.run(Stage::Denoiser, &recipe.denoiser_stage, model, resume, &mut denoiser_step)
    })?;
    let Some(model) = trained else {
        return stopped(&checkpoints, Stage::Denoiser);
    };
    export_rest(&model, &model_dir, recipe)?;
    Ok(Outcome::Finished(model_dir))
}

/// The denoiser stage's starting model: seeded fresh weights, with the output layer zeroed.
fn fresh_denoiser(recipe: &Recipe, ad: &Device) -> TextToVideoModel {
    seeded_init(ad, recipe.seed.wrapping_add(1), || {
        let mut transformer =
            with_attention_gain(recipe.transformer.init(ad), recipe.denoiser_attention_gain);
        // DiT practice: a zero output layer, so the untrained model predicts zero velocity.
        let proj_out = &mut transformer.proj_out;
        proj_out.weight = Param::from_tensor(Tensor::zeros(proj_out.weight.dims(), ad));
        proj_out.bias = proj_out.bias.take().map(|b| Param::from_tensor(Tensor::zeros(b.dims(), ad)));
        TextToVideoModel { text_encoder: recipe.text_encoder.init(ad), transformer }
    })
}

/// The VAE folder of the model directory `init`, after checking that it has the recipe's
/// architecture (its latent statistics are its own).
fn checked_vae_source(init: &Path, recipe: &Recipe) -> Result<PathBuf> {
    let source = init.join("vae");
    let config_path = source.join("config.json");
    let config = WanVaeConfig::from_file(&config_path)?;
    let architecture = WanVaeConfig {
        latents_mean: recipe.vae.latents_mean.clone(),
        latents_std: recipe.vae.latents_std.clone(),
        ..config
    };
    if architecture != recipe.vae {
        return Err(Error::WarmStartMismatch { path: config_path, component: "vae" });
    }
    Ok(source)
}

/// The text encoder and transformer of the model directory `init`, which must have the
/// recipe's architecture (a warm start).
fn warm_started_denoiser(init: &Path, recipe: &Recipe, ad: &Device) -> Result<TextToVideoModel> {
    let text_encoder = Umt5Encoder::load(&init.join("text_encoder"), ad)?;
    let transformer = WanTransformer::load(&init.join("transformer"), ad)?;
    let mismatch =
        |component| Error::WarmStartMismatch { path: init.join(component).join("config.json"), component };
    if text_encoder.config() != &recipe.text_encoder {
        return Err(mismatch("text_encoder"));
    }
    if transformer.config() != &recipe.transformer {
        return Err(mismatch("transformer"));
    }
    Ok(TextToVideoModel { text_encoder, transformer })
}

/// Turns of the runs in this process at the device's global random generator.
static INIT_TURN: Mutex<()> = Mutex::new(());

/// `init()` with its parameters drawn after seeding `device` with `seed`. Parameter
/// initialization draws from the device's global generator, so runs in one process (tests run
/// in threads) take turns at seeding and drawing; each then gets the values its seed gives.
fn seeded_init<M: Module>(device: &Device, seed: u64, init: impl FnOnce() -> M) -> M {
    let _turn = INIT_TURN.lock().unwrap_or_else(PoisonError::into_inner);
    device.seed(seed);
    materialized(init())
}

/// Draws every lazily initialized parameter now, in module order, so the values depend on the
/// seed alone and not on which operation first touches a parameter.
fn materialized<M: Module>(module: M) -> M {
    drop(module.clone().into_record());
    module
}

/// Multiplies the initial weights of the 1³ convs on the encoder's and the decoder's side of
/// the latent by the two gains ([`Recipe::latent_gains`]).
fn with_latent_gain(mut vae: WanVae, (encoder_gain, decoder_gain): (f32, f32)) -> WanVae {
    for (conv, gain) in [(&mut vae.quant_conv, encoder_gain), (&mut vae.post_quant_conv, decoder_gain)] {
        conv.weight = Param::from_tensor((conv.weight.val() * gain).detach());
    }
    vae
}

/// `transformer` with every block's self-attention query and key norm gammas multiplied by
/// `√gain`, which multiplies its attention logits by `gain` (unchanged at 1).
fn with_attention_gain(mut transformer: WanTransformer, gain: f32) -> WanTransformer {
    if gain == 1.0 {
        return transformer;
    }
    for block in &mut transformer.blocks {
        for norm in [&mut block.attn1.norm_q, &mut block.attn1.norm_k] {
            norm.gamma = Param::from_tensor((norm.gamma.val() * gain.sqrt()).detach());
        }
    }
    transformer
}

/// Writes `out/recipe.json`, or checks that the one there is `recipe`.
fn claim_directory(out: &Path, recipe: &Recipe) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| tenku_core::Error::Io { path: out.to_owned(), source })?;
    let path = out.join("recipe.json");
    if path.is_file() {
        let earlier: Recipe = tenku_core::read_json(&path)?;
        if &earlier != recipe {
            return Err(Error::RecipeMismatch { path });
        }
        return Ok(());
    }
    let text = serde_json::to_string_pretty(recipe).expect("a recipe serializes");
    write_file_atomic(&path, format!("{text}\n").as_bytes())?;
    Ok(())
}

/// The outcome of a run stopped by [`TrainOptions::stop_after`] in `stage`: where the latest
/// checkpoint is, or the stage's start when it has none yet. A latest checkpoint that cannot be
/// read is its error, naming the file, not a stage to start over.
fn stopped(checkpoints: &Path, stage: Stage) -> Result<Outcome> {
    Ok(match checkpoint::load_latest(checkpoints)? {
        Some(Checkpoint { state, .. }) => Outcome::Stopped { stage: state.stage, step: state.step },
        None => Outcome::Stopped { stage, step: 0 },
    })
}

/// Runs one stage's optimization loop with checkpoints and progress.
struct StageRunner<'a> {
    checkpoints: &'a Path,
    recipe: &'a Recipe,
    budget: &'a mut usize,
    on_event: &'a mut dyn FnMut(Event),
}

/// File names inside a checkpoint.
const MODEL_FILE: &str = "model.bpk";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// The moving average of the weights, when the stage keeps one.
const AVERAGE_FILE: &str = "average.bpk";

impl StageRunner<'_> {
    /// Trains `model` for the stage's steps (from `resume` when given), following
    /// `gradients(model, step)`, the loss and its gradients. `None` when the step budget ran
    /// out first.
    fn run<M: Module>(
        &mut self,
        stage: Stage,
        config: &StageConfig,
        mut model: M,
        resume: Option<Checkpoint>,
        gradients: &mut dyn FnMut(&M, usize) -> Result<StepGradients>,
    ) -> Result<Option<M>> {
        let mut optimizer: ModuleOptimizer = AdamWConfig::new()
            .with_weight_decay(0.0)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(config.grad_clip)))
            .init();
        let (mut step, mut loss_ema) = (0, None);
        let mut average = config.ema_decay.map(|_| model.clone());
        if let Some(mut checkpoint) = resume {
            if let Some(start) = average {
                average = Some(load_module(start, &mut checkpoint, AVERAGE_FILE)?);
            }
            model = load_module(model, &mut checkpoint, MODEL_FILE)?;
            let optimizer_bytes = checkpoint.files.remove(OPTIMIZER_FILE).unwrap_or_default();
            optimizer = optimizer.from_bytes(Bytes::from_bytes_vec(optimizer_bytes)).map_err(|e| {
                Error::UnreadableCheckpoint {
                    path: checkpoint.dir.join(OPTIMIZER_FILE),
                    reason: e.to_string(),
                }
            })?;
            (step, loss_ema) = (checkpoint.state.step, checkpoint.state.loss_ema);
        }
        let every = Duration::from_secs(self.recipe.checkpoint_every_secs);
        let (started, start_step) = (Instant::now(), step);
        let mut last_save = Instant::now();
        while step < config.steps {
            if *self.budget == 0 {
                return Ok(None);
            }
            *self.budget -= 1;
            let StepGradients { loss: value, grads } = gradients(&model, step)?;
            if !value.is_finite() {
                return Err(Error::Diverged { stage: stage.name(), step, loss: value });
            }
            model = optimizer.step(config.learning_rate_at(step), model, grads);
            step += 1;
            if let (Some(previous), Some(decay)) = (average.take(), config.ema_decay_at(step)) {
                average = Some(moved_towards(previous, &model, decay));
            }
            let ema = loss_ema.map_or(value, |ema: f64| 0.98 * ema + 0.02 * value);
            loss_ema = Some(ema);

            let elapsed = started.elapsed().as_secs_f64();
            let done_here = (step - start_step) as f64;
            (self.on_event)(Event::Progress(Progress {
                stage,
                step,
                steps: config.steps,
                loss: ema,
                samples_per_sec: done_here * config.batch as f64 / elapsed.max(1e-9),
                eta: Duration::from_secs_f64(elapsed / done_here * (config.steps - step) as f64),
            }));
            if last_save.elapsed() >= every || step == config.steps {
                let mut files = vec![
                    (MODEL_FILE, record_bytes(model.clone().into_record().into_bytes())?),
                    (OPTIMIZER_FILE, record_bytes(optimizer.into_bytes())?),
                ];
                if let Some(average) = &average {
                    files.push((AVERAGE_FILE, record_bytes(average.clone().into_record().into_bytes())?));
                }
                let dir = checkpoint::save(self.checkpoints, stage, step, loss_ema, &files)?;
                (self.on_event)(Event::Checkpoint { dir });
                last_save = Instant::now();
            }
        }
        (self.on_event)(Event::StageDone(stage));
        Ok(Some(average.unwrap_or(model)))
    }
}

/// One step's loss and the gradients of `model`'s parameters.
struct StepGradients {
    loss: f64,
    grads: GradientsParams,
}

impl StepGradients {
    /// The value of `loss` and its gradients with respect to `model`'s parameters.
    fn of<M: Module>(loss: Tensor<1>, model: &M) -> Self {
        let value = f64::from(loss.clone().into_scalar::<f32>());
        Self { loss: value, grads: GradientsParams::from_grads(loss.backward(), model) }
    }
}

/// `model` with the weights of the module record `file` of `checkpoint` (taken out of its files).
fn load_module<M: Module>(model: M, checkpoint: &mut Checkpoint, file: &str) -> Result<M> {
    let unreadable = |reason: String| Error::UnreadableCheckpoint { path: checkpoint.dir.join(file), reason };
    let bytes = checkpoint.files.remove(file).unwrap_or_default();
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| unreadable(e.to_string()))?;
    model.try_load_record(record).map_err(|e| unreadable(e.to_string()))
}

fn record_bytes(bytes: std::result::Result<Bytes, burn::store::RecordError>) -> Result<Vec<u8>> {
    bytes.map(|b| b.to_vec()).map_err(|e| Error::UnreadableCheckpoint {
        path: "<in memory>".into(),
        reason: format!("cannot serialize: {e}"),
    })
}

/// The VAE loss at `step`: L1 + L2 reconstruction of the posterior mean, with the pixels that
/// differ from their clip's background (objects and the pillar, a few percent of a clip)
/// weighted `object_weight` times, plus `kl_weight` × ½·μ² to keep the latents bounded.
///
/// The mean is decoded without sampling, which makes this a regularized autoencoder: it trains
/// faster within a CPU budget, and the denoiser is trained on means anyway.
fn vae_loss(vae: &WanVae, recipe: &Recipe, step: usize, device: &Device) -> Result<Tensor<1>> {
    let stage = &recipe.vae_stage;
    let batch =
        clip_batch((recipe.seed, streams::SCENES, step), stage.batch, &recipe.world, stage.window(), device)?;
    let x = batch.pixels;
    let mean = vae.encode_mean(x.clone());
    let latent_penalty = mean.clone().powi_scalar(2).mean() * 0.5;
    Ok(reconstruction_loss(vae, mean, &x, recipe) + latent_penalty * recipe.kl_weight)
}

/// Where the decoder stage's latents come from: the frozen VAE's encoder, on the plain
/// `device`, and, with a [`Regeneration`], the warm start's own model there.
struct FrozenLatents<'a> {
    vae: &'a WanVae,
    regenerator: Option<(&'a WanTextToVideo, &'a Regeneration)>,
    device: &'a Device,
}

impl FrozenLatents<'_> {
    /// The raw latents of `pixels` (`[clips, 3, frames, h, w]`) the decoder stage's `step`
    /// decodes: the encoder's means, each clip regenerated from them as the recipe's
    /// [`Regeneration`] draws (stream [`streams::DECODER_REGENERATION`]).
    fn of(&self, pixels: Tensor<5>, captions: &[String], seed: u64, step: usize) -> Result<Tensor<5>> {
        let mean = self.vae.encode_mean(pixels);
        let Some((pipeline, regeneration)) = self.regenerator else { return Ok(mean) };
        let [_, _, frames, h, w] = mean.dims();
        let layout = self.vae.layout();
        let (latents_mean, latents_std) =
            (layout.per_channel(&layout.mean, self.device), layout.per_channel(&layout.std, self.device));
        let clips = captions.iter().enumerate().map(|(index, caption)| {
            let clip = mean.clone().narrow(0, index, 1);
            let mut rng = rng_for(seed, streams::DECODER_REGENERATION, step, index);
            if rng.random::<f32>() >= regeneration.share {
                return Ok(clip);
            }
            let [low, high] = regeneration.strength;
            let strength = if low < high { rng.random_range(low..=high) } else { low };
            let mut request = pipeline.defaults.request(caption.as_str());
            (request.frames, request.height, request.width) =
                (layout.video_frames(frames), h * layout.spatial_factor, w * layout.spatial_factor);
            request.steps = regeneration.steps;
            request.seed = rng.random();
            let normalized = (clip - latents_mean.clone()) / latents_std.clone();
            let regenerated = pipeline.regenerate(&request, normalized, strength, &mut |_| {})?;
            Ok(regenerated * latents_std.clone() + latents_mean.clone())
        });
        Ok(Tensor::cat(clips.collect::<Result<Vec<_>>>()?, 0))
    }
}

/// The decoder stage's loss at `step` ([`Recipe::decoder_stage`]): the VAE stage's weighted
/// reconstruction by `vae`'s decoder of the latents `frozen` gives (the encoder's weights never
/// change), so the optimizer moves the decoder alone and no encoder graph is recorded.
fn decoder_loss(
    vae: &WanVae,
    frozen: &FrozenLatents,
    recipe: &Recipe,
    stage: &StageConfig,
    step: usize,
    ad: &Device,
) -> Result<Tensor<1>> {
    let scenes = (recipe.seed, streams::DECODER_SCENES, step);
    let batch = clip_batch(scenes, stage.batch, &recipe.world, stage.window(), frozen.device)?;
    let latents = frozen.of(batch.pixels.clone(), &batch.captions, recipe.seed, step)?;
    let latents = Tensor::from_data(latents.into_data(), ad);
    let latents = with_latent_noise(
        latents,
        &frozen.vae.layout().std,
        recipe.decoder_latent_noise,
        (recipe.seed, step),
    );
    let x = Tensor::from_data(batch.pixels.into_data(), ad);
    Ok(reconstruction_loss(vae, latents, &x, recipe))
}

/// Raw latents `mean` (`[clips, channels, frames, h, w]`) plus Gaussian noise of standard
/// deviation `sigma` in normalized units (`sigma · std[c]` in channel `c`), drawn for the
/// decoder stage's `step` of the run seeded `seed`; `mean` itself when `sigma` is 0.
fn with_latent_noise(mean: Tensor<5>, std: &[f32], sigma: f32, (seed, step): (u64, usize)) -> Tensor<5> {
    if sigma == 0.0 {
        return mean;
    }
    let device = mean.device();
    let mut rng = rng_for(seed, streams::DECODER_NOISE, step, 0);
    let noise = SeededNoise::new(rng.random()).sample(mean.dims(), &device);
    let scale: Vec<f32> = std.iter().map(|s| s * sigma).collect();
    let scale = Tensor::<5>::from_data(TensorData::new(scale, [1, std.len(), 1, 1, 1]), &device);
    mean + noise * scale
}

/// L1 + L2 between the decoded `mean` and the clips `x` it was encoded from, with the pixels
/// that differ from their clip's background, and those within `recipe.vae_object_margin` pixels
/// of them, weighted `recipe.vae_object_weight` times; plus `recipe.vae_hue_weight` times the
/// [`hue_error`] over the object pixels and `recipe.vae_edge_weight` times the [`edge_error`]
/// under the same weights.
fn reconstruction_loss(vae: &WanVae, mean: Tensor<5>, x: &Tensor<5>, recipe: &Recipe) -> Tensor<1> {
    let mut chunks = Vec::new();
    vae.decode_unclamped_streaming(mean, &mut |chunk| chunks.push(chunk));
    let decoded = Tensor::cat(chunks, 2);
    let diff = decoded.clone() - x.clone();
    let background = clip_background(x);
    let objects = object_mask(x, &background);
    let weight = dilated(objects.clone(), recipe.vae_object_margin) * (recipe.vae_object_weight - 1.0) + 1.0;
    let per_pixel = (diff.clone().abs() + diff.powi_scalar(2)) * weight.clone();
    let mut loss = per_pixel.mean() / weight.clone().mean();
    if recipe.vae_edge_weight != 0.0 {
        loss = loss + edge_error(decoded.clone(), x, weight) * recipe.vae_edge_weight;
    }
    if recipe.vae_hue_weight != 0.0 {
        loss = loss + hue_error(decoded, x, background, objects) * recipe.vae_hue_weight;
    }
    loss
}

/// Weighted mean L1 distance between the steps from each pixel to the next, across and down a
/// frame, of the `decoded` clips and of the clips `x` (both `[clips, 3, frames, h, w]`); a step
/// between two pixels weighs the larger of their `weight`s (`[clips, 1, frames, h, w]`). A soft
/// edge spreads an object's step over several pixels and pays for it, where the L1 + L2 pixel
/// loss prefers a soft edge wherever the decoder is unsure where the edge lies. Meant to keep the
/// corners that tell a small square from a circle; docs/shapes.md has what it measured.
fn edge_error(decoded: Tensor<5>, x: &Tensor<5>, weight: Tensor<5>) -> Tensor<1> {
    let along = |dim: usize| {
        let steps = |t: Tensor<5>| {
            let n = t.dims()[dim];
            t.clone().narrow(dim, 1, n - 1) - t.narrow(dim, 0, n - 1)
        };
        let n = weight.dims()[dim];
        let pair_weight = weight.clone().narrow(dim, 1, n - 1).max_pair(weight.clone().narrow(dim, 0, n - 1));
        let error = (steps(decoded.clone()) - steps(x.clone())).abs() * pair_weight.clone();
        error.mean() / pair_weight.mean()
    };
    along(3) + along(4)
}

/// Mean over the marked pixels of `objects` of the squared distance of the `decoded` pixel from
/// the line through its clip's `background` and the true pixel of `x`: how far its hue strays,
/// whatever its coverage (a soft edge, between the background and the colour, is on the line).
/// It is what the shapes analyzer reads colours by, so a pixel off the line is a pixel that may
/// be read as another colour, a patch on the object (docs/shapes.md).
fn hue_error(decoded: Tensor<5>, x: &Tensor<5>, background: Tensor<5>, objects: Tensor<5>) -> Tensor<1> {
    let target = x.clone() - background.clone();
    let drawn = decoded - background;
    let length_squared = target.clone().powi_scalar(2).sum_dim(1).clamp_min(1e-6);
    let along = (drawn.clone() * target.clone()).sum_dim(1) / length_squared;
    let off_line = drawn - target * along;
    (off_line.powi_scalar(2).sum_dim(1) * objects.clone()).sum() / objects.sum().clamp_min(1.0)
}

/// Each clip's background colour in `x` (`[clips, 3, frames, h, w]` in [-1, 1]), as
/// `[clips, 1, 1, 1, 1]`: black (-1) when the clip has a black pixel (no object is black), white
/// (1) otherwise. A crop that never leaves the pillar or one still object reads as white.
fn clip_background(x: &Tensor<5>) -> Tensor<5> {
    let [clips, ..] = x.dims();
    let black = x.clone().max_dim(1).lower_equal_elem(-0.999).float();
    let has_black = black.reshape([clips as i32, -1]).max_dim(1).reshape([clips, 1, 1, 1, 1]);
    has_black * -2.0 + 1.0
}

/// 1 where a pixel of `x` (`[clips, 3, frames, h, w]` in [-1, 1]) differs from its clip's
/// `background` ([`clip_background`]), else 0; `[clips, 1, frames, h, w]`. On a crop read as
/// white the pillar and coloured objects are still marked, a white object is not (harmless on
/// a uniform crop).
fn object_mask(x: &Tensor<5>, background: &Tensor<5>) -> Tensor<5> {
    (x.clone() - background.clone()).abs().sum_dim(1).greater_elem(1e-3).float()
}

/// `mask` (`[clips, 1, frames, h, w]`) grown by `margin` pixels within each frame: 1 where a
/// marked pixel lies at most `margin` rows and `margin` columns away.
fn dilated(mask: Tensor<5>, margin: usize) -> Tensor<5> {
    if margin == 0 {
        return mask;
    }
    let [clips, channels, frames, h, w] = mask.dims();
    let side = 2 * margin + 1;
    let options = MaxPoolOptions::new([side, side]).with_stride([1, 1]).with_padding([margin, margin]);
    let per_frame = mask.swap_dims(1, 2).reshape([clips * frames, channels, h, w]);
    max_pool2d(per_frame, options).reshape([clips, frames, channels, h, w]).swap_dims(1, 2)
}

/// `mask` (`[clips, 1, frames, h, w]`) on the latent grid of a causal VAE that compresses
/// `temporal`× in time (the first frame alone) and `spatial`× in space: 1 where any pixel the
/// latent covers is 1.
fn latent_mask(mask: Tensor<5>, temporal: usize, spatial: usize) -> Tensor<5> {
    let [clips, _, frames, h, w] = mask.dims();
    let groups = (frames - 1) / temporal;
    let first = mask.clone().narrow(2, 0, 1).reshape([clips, 1, h, w]);
    let rest = mask.narrow(2, 1, frames - 1).reshape([clips, groups, temporal, h, w]).max_dim(2);
    let per_frame = Tensor::cat(vec![first, rest.reshape([clips, groups, h, w])], 1);
    let (lh, lw) = (h / spatial, w / spatial);
    let pooled = per_frame.reshape([clips * (groups + 1), lh, spatial, lw, spatial]).max_dim(2).max_dim(4);
    pooled.reshape([clips, 1, groups + 1, lh, lw])
}

/// Saves the trained VAE with the latent statistics of `recipe.stats_clips` encoded clips into
/// `vae_dir` (through a temporary folder, renamed when complete).
fn export_vae(vae: &WanVae, vae_dir: &Path, recipe: &Recipe, device: &Device) -> Result<()> {
    replace_dir(vae_dir, &|temp| {
        vae.save(temp)?;
        let vae = WanVae::load(temp, device)?;
        let z = recipe.vae.z_dim;
        let (mut sum, mut sum_sq, mut count) = (vec![0f64; z], vec![0f64; z], 0usize);
        let world = &recipe.world;
        for step in 0..recipe.stats_clips {
            let batch =
                clip_batch((recipe.seed, streams::STATS, step), 1, world, Window::whole(world), device)?;
            let mean = vae.encode_mean(batch.pixels);
            let per_channel = mean.dims()[2..].iter().product::<usize>();
            let values: Vec<f32> = mean.into_data().try_into_vec::<f32>().expect("f32 latents");
            for (i, chunk) in values.chunks(per_channel).enumerate() {
                sum[i % z] += chunk.iter().map(|&v| f64::from(v)).sum::<f64>();
                sum_sq[i % z] += chunk.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
            }
            count += per_channel;
        }
        let n = count as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let variance = |i: usize| (sum_sq[i] / n - (sum[i] / n).powi(2)).max(1e-8);
        let std: Vec<f32> = (0..z).map(|i| variance(i).sqrt() as f32).collect();
        Ok(vae.with_latent_stats(mean, std).save(temp)?)
    })
}

/// One clip encoded by the frozen VAE, with what the denoiser loss needs of it.
struct EncodedClip {
    /// Latent means `[z, frames, h, w]`, flattened.
    latents: Vec<f32>,
    /// The clip's caption.
    caption: String,
    /// 1 on latents that cover an object or the pillar, `[1, frames, h, w]` flattened; only
    /// when the recipe weighs them.
    objects: Option<Vec<f32>>,
    /// The clip's pixels `[3, frames, height, width]`, flattened; only when the recipe decodes
    /// predictions (`denoiser_decoded_loss`).
    pixels: Option<Vec<f32>>,
}

/// One denoiser step's clips.
struct EncodedClips {
    /// The step they belong to.
    step: usize,
    /// The clips, in scene order.
    clips: Vec<EncodedClip>,
    /// The latent shape of each clip, `[z, frames, h, w]`.
    shape: [usize; 4],
    /// The pixel shape of each clip, `[3, frames, height, width]`.
    pixel_shape: [usize; 4],
}

/// Renders the clips of denoiser `step` and encodes them with `vae` on `device` (no autodiff).
fn encoded_clips(vae: &WanVae, recipe: &Recipe, step: usize, device: &Device) -> Result<EncodedClips> {
    let world = &recipe.world;
    let (seed, clips) = ((recipe.seed, streams::SCENES, step), recipe.denoiser_stage.batch);
    let batch = clip_batch(seed, clips, world, Window::whole(world), device)?;
    let objects = (recipe.denoiser_object_weight != 1.0).then(|| {
        let (temporal, spatial) = (recipe.vae.temporal_factor(), recipe.vae.spatial_factor());
        latent_mask(object_mask(&batch.pixels, &clip_background(&batch.pixels)), temporal, spatial)
            .into_data()
    });
    let [_, pixel_shape @ ..] = batch.pixels.dims();
    let pixels = recipe.denoiser_decoded_loss.is_some().then(|| batch.pixels.clone().into_data());
    let latents = vae.encode(batch.pixels);
    let [_, z, frames, h, w] = latents.dims();
    let latents = latents.into_data();
    let per_clip = |data: TensorData| -> Vec<Vec<f32>> {
        let values = data.try_into_vec::<f32>().expect("the VAE encodes to f32");
        values.chunks(values.len() / clips).map(<[f32]>::to_vec).collect()
    };
    let mut objects = objects.map(per_clip).map(Vec::into_iter);
    let mut pixels = pixels.map(per_clip).map(Vec::into_iter);
    let clips = (per_clip(latents).into_iter().zip(batch.captions))
        .map(|(latents, caption)| EncodedClip {
            latents,
            caption,
            objects: objects.as_mut().and_then(Iterator::next),
            pixels: pixels.as_mut().and_then(Iterator::next),
        })
        .collect();
    Ok(EncodedClips { step, clips, shape: [z, frames, h, w], pixel_shape })
}

/// The clips the denoiser steps draw their samples from (`Recipe::denoiser_pool_steps`).
struct ClipPool {
    /// Steps kept; 0: the newest step's clips alone, used in order.
    steps: usize,
    /// The kept steps' clips, oldest first.
    recent: std::collections::VecDeque<EncodedClips>,
}

impl ClipPool {
    fn new(steps: usize) -> Self {
        Self { steps, recent: Default::default() }
    }

    /// Adds the clips of the next step, forgetting steps that fall out of the pool.
    fn add(&mut self, clips: EncodedClips) {
        let (newest, kept) = (clips.step, self.steps.max(1));
        self.recent.push_back(clips);
        while self.recent.front().is_some_and(|oldest| oldest.step + kept <= newest) {
            self.recent.pop_front();
        }
    }

    /// The newest step's `batch × noise_draws` samples: without a pool its clips, repeated
    /// `noise_draws` times (sample i is clip i mod batch); with one, clips drawn uniformly
    /// from every kept step.
    fn samples(&self, recipe: &Recipe) -> Samples<'_> {
        let newest = self.recent.back().expect("a step's clips are added before its samples");
        let count = newest.clips.len() * recipe.noise_draws;
        let clips = if self.steps == 0 {
            (0..count).map(|i| &newest.clips[i % newest.clips.len()]).collect()
        } else {
            let kept: Vec<&EncodedClip> = self.recent.iter().flat_map(|step| &step.clips).collect();
            let mut rng = rng_for(recipe.seed, streams::POOL, newest.step, 0);
            (0..count).map(|_| kept[rng.random_range(0..kept.len())]).collect()
        };
        Samples { clips, shape: newest.shape, pixel_shape: newest.pixel_shape }
    }
}

/// The clips of one denoiser step's samples, one per sample (a clip may serve several).
struct Samples<'a> {
    /// The clip of each sample.
    clips: Vec<&'a EncodedClip>,
    /// The latent shape of each clip, `[z, frames, h, w]`.
    shape: [usize; 4],
    /// The pixel shape of each clip, `[3, frames, height, width]`.
    pixel_shape: [usize; 4],
}

impl Samples<'_> {
    /// The samples' `values` stacked into one tensor of `[samples, channels, frames, h, w]`.
    fn stacked(
        &self,
        values: impl Fn(&EncodedClip) -> &[f32],
        channels: usize,
        device: &Device,
    ) -> Tensor<5> {
        let [_, frames, h, w] = self.shape;
        let data: Vec<f32> = self.clips.iter().flat_map(|clip| values(clip).iter().copied()).collect();
        Tensor::from_data(TensorData::new(data, [self.clips.len(), channels, frames, h, w]), device)
    }
}

/// One denoiser step's samples, drawn for the flow-matching loss with Wan2.2 TI2V's
/// conditioning: each sample is drawn a task (text→video, image→video or extension), its clean
/// latent frames keep timestep 0 and their clean values, and the loss covers the noisy frames
/// only, its latents over an object or the pillar weighted `denoiser_object_weight` times in
/// samples noised no more than `denoiser_object_max_sigma`, plus the pixel loss of
/// `denoiser_decoded_loss` where the recipe has one.
struct DenoiserBatch<'a> {
    /// Each sample's caption, or "" where it was dropped (for guidance).
    captions: Vec<&'a str>,
    /// The model's input `[b, c, f, h, w]`: the noised latents, clean frames kept.
    input: Tensor<5>,
    /// Timesteps per latent frame `[b, f]`: 0 on clean frames, the sample's level elsewhere.
    timesteps: Tensor<2>,
    /// The velocity to predict, `noise − x₀`.
    target: Tensor<5>,
    /// Weight of each squared error, broadcast over channels: 0 on clean frames.
    weight: Tensor<5>,
    /// What the weighted sum over all samples is divided by.
    denominator: Tensor<1>,
    /// 1 on clean frames: `[b, 1, f, 1, 1]`.
    clean: Tensor<5>,
    /// The samples whose predictions are decoded, with what their pixel loss needs.
    decoded: Option<DecodedSamples<'a>>,
}

impl<'a> DenoiserBatch<'a> {
    /// Draws step `step`'s noise levels, tasks, caption dropout and noise for `samples`;
    /// `pixel_vae` (on `device`) decodes predictions when the recipe has a
    /// `denoiser_decoded_loss`.
    fn draw(
        step: usize,
        samples: &Samples<'a>,
        recipe: &Recipe,
        pixel_vae: Option<&'a WanVae>,
        device: &Device,
    ) -> Self {
        // The latents enter the graph as constants.
        let x0 = samples.stacked(|clip| &clip.latents, samples.shape[0], device);
        let [b, c, frames, h, w] = x0.dims();

        let mut rng = rng_for(recipe.seed, streams::DENOISER, step, 0);
        let captions: Vec<&str> = (samples.clips.iter())
            .map(|clip| {
                let dropped = rng.random::<f32>() < recipe.caption_dropout;
                if dropped { "" } else { clip.caption.as_str() }
            })
            .collect();
        let sigmas: Vec<f32> =
            (0..b).map(|_| shifted_sigma(rng.random::<f64>(), recipe.shift) as f32).collect();
        let clean: Vec<usize> =
            (0..b).map(|_| clean_frames(&mut rng, &recipe.task_weights, frames)).collect();
        let noise = SeededNoise::new(rng.random()).values(b * c * frames * h * w);
        let noise = Tensor::<5>::from_data(TensorData::new(noise, [b, c, frames, h, w]), device);

        // Per-frame mask (1 = clean) and timesteps: 0 on clean frames, the sample's level
        // elsewhere (a token spanning clean and noisy frames takes the noisy level, in the
        // transformer).
        let mask: Vec<f32> = (clean.iter())
            .flat_map(|&clean| (0..frames).map(move |f| if f < clean { 1.0f32 } else { 0.0 }))
            .collect();
        let timesteps: Vec<f32> = (mask.chunks(frames).zip(&sigmas))
            .flat_map(|(mask, sigma)| mask.iter().map(move |&clean| (1.0 - clean) * sigma * 1000.0))
            .collect();
        let noisy_frames = mask.iter().filter(|m| **m == 0.0).count();
        let mask = Tensor::<5>::from_data(TensorData::new(mask, [b, 1, frames, 1, 1]), device);
        let sigma = Tensor::<5>::from_data(TensorData::new(sigmas.clone(), [b, 1, 1, 1, 1]), device);

        let x_t = x0.clone() * (sigma.clone().neg() + 1.0) + noise.clone() * sigma;
        let input = x0.clone() * mask.clone() + x_t * (mask.clone().neg() + 1.0);
        let noisy = mask.clone().neg() + 1.0;
        let (weight, denominator) = if recipe.denoiser_object_weight == 1.0 {
            let denominator = (noisy_frames * c * h * w).max(1) as f32;
            (noisy, Tensor::from_floats([denominator], device))
        } else {
            let objects = samples.stacked(
                |clip| clip.objects.as_deref().expect("weighted runs encode object masks"),
                1,
                device,
            );
            let max_sigma = recipe.denoiser_object_max_sigma.unwrap_or(f32::INFINITY);
            let weighted: Vec<f32> =
                sigmas.iter().map(|&sigma| f32::from(u8::from(sigma <= max_sigma))).collect();
            let weighted = Tensor::<5>::from_data(TensorData::new(weighted, [b, 1, 1, 1, 1]), device);
            let weight = (objects * weighted * (recipe.denoiser_object_weight - 1.0) + 1.0) * noisy;
            let denominator = weight.clone().sum() * c as f32 + 1e-6;
            (weight, denominator)
        };
        let timesteps = Tensor::from_data(TensorData::new(timesteps, [b, frames]), device);
        let decoded = recipe
            .denoiser_decoded_loss
            .as_ref()
            .zip(pixel_vae)
            .map(|(settings, vae)| DecodedSamples::draw(settings, vae, samples, &sigmas, device));
        Self { captions, input, timesteps, target: noise - x0, weight, denominator, clean: mask, decoded }
    }

    /// The part of the loss that samples `rows` contribute: their weighted squared velocity
    /// errors over the whole batch's denominator, so the shards' losses add up to the loss.
    fn loss(
        &self,
        model: &TextToVideoModel,
        rows: std::ops::Range<usize>,
        tokenizer: &PromptTokenizer,
        recipe: &Recipe,
        device: &Device,
    ) -> Result<Tensor<1>> {
        let shard = |tensor: &Tensor<5>| tensor.clone().slice([rows.clone()]);
        let timesteps = self.timesteps.clone().slice([rows.clone()]);
        let tokens = tokenizer.encode(&self.captions[rows.clone()], recipe.max_sequence_length)?;
        let (ids, attention) = batch_tensors(&tokens, device);
        let text = zero_padding(model.text_encoder.forward(ids, attention), &tokens.lengths);
        let velocity = model.transformer.forward(shard(&self.input), Timestep::PerFrame(timesteps), text);
        let diff = velocity.clone() - shard(&self.target);
        let loss = (diff.powi_scalar(2) * shard(&self.weight)).sum() / self.denominator.clone();
        let pixel_loss = self
            .decoded
            .as_ref()
            .and_then(|decoded| decoded.loss(&velocity, rows, &self.input, &self.clean, recipe));
        Ok(match pixel_loss {
            Some(pixel_loss) => loss + pixel_loss,
            None => loss,
        })
    }
}

/// The samples of a denoiser step whose predictions are decoded and charged in pixels
/// ([`DecodedLoss`]).
struct DecodedSamples<'a> {
    /// The frozen VAE on the autodiff device: gradients pass through it, its weights take none.
    vae: &'a WanVae,
    /// The loss's factor over the number of decoded samples.
    weight: f32,
    /// The decoded samples' rows in the batch, ascending.
    rows: Vec<usize>,
    /// Each decoded sample's noise level, in row order.
    sigmas: Vec<f32>,
    /// Each decoded sample's true clip `[1, 3, frames, height, width]`, in row order.
    truths: Vec<Tensor<5>>,
}

impl<'a> DecodedSamples<'a> {
    /// Picks the decoded rows among `samples`, noised `sigmas` ([`decoded_rows`]).
    fn draw(
        settings: &DecodedLoss,
        vae: &'a WanVae,
        samples: &Samples,
        sigmas: &[f32],
        device: &Device,
    ) -> Self {
        let rows = decoded_rows(sigmas, settings.samples, settings.max_sigma);
        let [channels, frames, height, width] = samples.pixel_shape;
        let truth = |row: usize| {
            let pixels = samples.clips[row].pixels.clone().expect("decoding runs keep their clips' pixels");
            Tensor::from_data(TensorData::new(pixels, [1, channels, frames, height, width]), device)
        };
        Self {
            vae,
            weight: settings.weight / rows.len().max(1) as f32,
            sigmas: rows.iter().map(|&row| sigmas[row]).collect(),
            truths: rows.iter().map(|&row| truth(row)).collect(),
            rows,
        }
    }

    /// The pixel loss of the decoded samples among `rows`, whose predicted velocities are
    /// `velocity` (`[rows, c, f, h, w]`), given the batch's `input` and `clean` frames: each
    /// prediction's clean latents (`x_t − σ·v` on noisy frames, the input on clean ones)
    /// decoded and scored by the VAE stage's reconstruction loss. `None` when none is in `rows`.
    fn loss(
        &self,
        velocity: &Tensor<5>,
        rows: std::ops::Range<usize>,
        input: &Tensor<5>,
        clean: &Tensor<5>,
        recipe: &Recipe,
    ) -> Option<Tensor<1>> {
        let decoded = (self.rows.iter().zip(&self.sigmas).zip(&self.truths))
            .filter(|((row, _), _)| rows.contains(row))
            .map(|((&row, &sigma), truth)| {
                let predicted = velocity.clone().narrow(0, row - rows.start, 1);
                let noisy = clean.clone().narrow(0, row, 1).neg() + 1.0;
                let x0 = input.clone().narrow(0, row, 1) - predicted * noisy * sigma;
                reconstruction_loss(self.vae, self.vae.denormalize(x0), truth, recipe)
            });
        decoded.reduce(|sum, loss| sum + loss).map(|sum| sum * self.weight)
    }
}

/// The rows of a step's samples, noised `sigmas`, whose predictions are decoded: the samples
/// split into `groups` consecutive groups, the first of each noised no more than `max_sigma`
/// (none from a group without one).
fn decoded_rows(sigmas: &[f32], groups: usize, max_sigma: f32) -> Vec<usize> {
    let n = sigmas.len();
    (0..groups)
        .filter_map(|group| {
            (group * n / groups..(group + 1) * n / groups).find(|&row| sigmas[row] <= max_sigma)
        })
        .collect()
}

/// The loss of `batch` and its gradients, its samples split over `threads` threads
/// ([`TrainOptions::denoiser_threads`]): each shard's forward and backward runs on a copy of
/// `model`'s weights of its own, and the gradients are summed in shard order.
fn denoiser_gradients(
    model: &TextToVideoModel,
    batch: &DenoiserBatch,
    threads: usize,
    tokenizer: &PromptTokenizer,
    recipe: &Recipe,
    device: &Device,
) -> Result<StepGradients> {
    let samples = batch.captions.len();
    let shards = threads.clamp(1, samples.max(1));
    let rows = |shard: usize| shard * samples / shards..(shard + 1) * samples / shards;
    let shard_gradients = |model: &TextToVideoModel, shard| {
        Ok(StepGradients::of(batch.loss(model, rows(shard), tokenizer, recipe, device)?, model))
    };
    if shards == 1 {
        return shard_gradients(model, 0);
    }
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..shards)
            .map(|shard| {
                // A copy with parameters of its own keeps each shard's autodiff graph apart.
                let copy = model.clone().fork(device);
                scope.spawn(move || shard_gradients(&copy, shard))
            })
            .collect();
        let first = shard_gradients(model, 0)?;
        let mut loss = first.loss;
        let mut sum = GradientsAccumulator::new();
        sum.accumulate(model, first.grads);
        for other in others {
            let other: StepGradients = other.join().expect("a shard's thread does not panic")?;
            loss += other.loss;
            sum.accumulate(model, other.grads);
        }
        Ok(StepGradients { loss, grads: sum.grads() })
    })
}

/// Flow noise level for a uniform draw `u`, shifted as the sampler's schedule is:
/// `shift·u / (1 + (shift − 1)·u)`.
fn shifted_sigma(u: f64, shift: f64) -> f64 {
    shift * u / (1.0 + (shift - 1.0) * u)
}

/// Clean latent frames for one clip: 0 (text→video), 1 (image→video) or 1..frames−1
/// (extension), drawn by `weights`.
fn clean_frames(rng: &mut impl Rng, weights: &[f32; 3], frames: usize) -> usize {
    let total: f32 = weights.iter().sum();
    let draw = rng.random::<f32>() * total;
    if frames < 2 || draw < weights[0] {
        0
    } else if draw < weights[0] + weights[1] {
        1
    } else {
        rng.random_range(1..frames)
    }
}

/// Writes the text encoder, transformer, scheduler and `model_index.json` beside the tokenizer
/// and VAE already in `model_dir`.
fn export_rest(model: &TextToVideoModel, model_dir: &Path, recipe: &Recipe) -> Result<()> {
    let replace = |name: &str, write: &dyn Fn(&Path) -> Result<()>| replace_dir(&model_dir.join(name), write);
    replace("text_encoder", &|dir| Ok(model.text_encoder.save(dir)?))?;
    replace("transformer", &|dir| Ok(model.transformer.save(dir)?))?;
    replace("scheduler", &|dir| {
        std::fs::create_dir_all(dir)
            .map_err(|source| tenku_core::Error::Io { path: dir.to_owned(), source })?;
        let config = serde_json::json!({
            "_class_name": "UniPCMultistepScheduler",
            "_diffusers_version": "0.42.1",
            "flow_shift": recipe.shift,
            "num_train_timesteps": 1000,
            "prediction_type": "flow_prediction",
            "predict_x0": true,
            "solver_order": 2,
            "solver_type": "bh2",
            "lower_order_final": true,
            "final_sigmas_type": "zero",
            "timestep_spacing": "linspace",
            "use_flow_sigmas": true,
        });
        write_json(&dir.join("scheduler_config.json"), &config)
    })?;
    let world = &recipe.world;
    let mut defaults = serde_json::json!({
        "frames": world.frames,
        "height": world.height,
        "width": world.width,
        "fps": world.fps,
    });
    if let Some(guidance) = recipe.guidance {
        defaults["guidance"] = guidance.into();
    }
    let index = serde_json::json!({
        "_class_name": "WanPipeline",
        "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
        "_tenku_defaults": defaults,
    });
    write_json(&model_dir.join("model_index.json"), &index)
}

/// Replaces the folder `dir` by what `write` puts into a temporary folder beside it, so `dir` is
/// never left half-written.
fn replace_dir(dir: &Path, write: &dyn Fn(&Path) -> Result<()>) -> Result<()> {
    let temp = dir.with_extension("tmp");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| tenku_core::Error::Io { path, source }
    };
    if temp.exists() {
        std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
    }
    write(&temp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::rename(&temp, dir).map_err(io(dir))?;
    Ok(())
}

/// The stage and step of the checkpoint [`export_snapshot`] wrote a model from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The stage the checkpoint was written in.
    pub stage: Stage,
    /// Its optimizer steps done.
    pub step: usize,
}

/// Which weights of a checkpoint [`export_snapshot`] writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnapshotWeights {
    /// What the stage hands on: the moving average of its weights when it keeps one
    /// ([`StageConfig::ema_decay`]), else its last weights.
    #[default]
    HandedOn,
    /// The optimizer's last weights, also where the stage keeps an average.
    Last,
}

/// Writes the model of the latest checkpoint of the run in `run` into `out`, to measure a run
/// before it finishes (the last checkpoint of a finished run gives the run's own model).
///
/// From the VAE stage, `out` gets a `vae/` folder alone, its latent statistics 0 and 1
/// (reconstruction does not use them); from the decoder stage, the same with the warm start's
/// statistics; from the denoiser stage, a whole diffusers directory
/// with the run's tokenizer and VAE, which `tenku generate --model` and `tenku eval` load.
/// Each folder is written beside its place and renamed into it.
///
/// Fails when `run` has no recipe or no checkpoint, or the checkpoint is corrupt.
pub fn export_snapshot(
    run: &Path,
    out: &Path,
    weights: SnapshotWeights,
    device: &Device,
) -> Result<Snapshot> {
    let recipe = Recipe::from_file(&run.join("recipe.json"))?;
    let checkpoints = run.join("checkpoints");
    let mut checkpoint =
        checkpoint::load_latest(&checkpoints)?.ok_or(Error::NoCheckpoint { path: checkpoints })?;
    let snapshot = Snapshot { stage: checkpoint.state.stage, step: checkpoint.state.step };
    let stage = match snapshot.stage {
        Stage::Vae => &recipe.vae_stage,
        Stage::Decoder => recipe.decoder_stage.as_ref().ok_or_else(|| Error::InvalidRecipe {
            path: run.join("recipe.json"),
            reason: "the run's checkpoint is of a decoder stage, but its recipe has none".into(),
        })?,
        Stage::Denoiser => &recipe.denoiser_stage,
    };
    let file = match weights {
        SnapshotWeights::HandedOn if stage.ema_decay.is_some() => AVERAGE_FILE,
        _ => MODEL_FILE,
    };
    std::fs::create_dir_all(out).map_err(|source| tenku_core::Error::Io { path: out.to_owned(), source })?;
    let untrained_vae = match (snapshot.stage, &recipe.warm_start) {
        (Stage::Vae, _) => Some(recipe.vae.init(device)),
        (Stage::Decoder, Some(init)) => Some(WanVae::load(&checked_vae_source(init, &recipe)?, device)?),
        _ => None,
    };
    if let Some(untrained) = untrained_vae {
        let vae = load_module(untrained, &mut checkpoint, file)?;
        replace_dir(&out.join("vae"), &|dir| Ok(vae.save(dir)?))?;
        return Ok(snapshot);
    }
    let untrained = TextToVideoModel {
        text_encoder: recipe.text_encoder.init(device),
        transformer: recipe.transformer.init(device),
    };
    let model = load_module(untrained, &mut checkpoint, file)?;
    for component in ["tokenizer", "vae"] {
        let source = run.join(MODEL_DIR).join(component);
        replace_dir(&out.join(component), &|dir| copy_files(&source, dir))?;
    }
    export_rest(&model, out, &recipe)?;
    Ok(snapshot)
}

/// Copies the files of the folder `from` (not its subfolders) into a new folder `to`.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| tenku_core::Error::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let path = entry.map_err(io(from))?.path();
        if path.is_file() {
            let target = to.join(path.file_name().expect("a listed file has a name"));
            std::fs::copy(&path, &target).map_err(io(&path))?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
    Ok(write_file_atomic(path, format!("{text}\n").as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[1, 1, frames, h, w]` mask on the CPU with 1 at each `(frame, row, column)` of `marked`.
    fn mask_marking(frames: usize, h: usize, w: usize, marked: &[(usize, usize, usize)]) -> Tensor<5> {
        let mut values = vec![0f32; frames * h * w];
        for (frame, row, column) in marked {
            values[(frame * h + row) * w + column] = 1.0;
        }
        Tensor::<5>::from_data(TensorData::new(values, [1, 1, frames, h, w]), &Device::flex())
    }

    /// A marked pixel marks the latent that covers it: the first frame alone, then frames in
    /// fours, and 4×4 pixel squares.
    #[test]
    fn latent_mask_marks_the_latent_covering_each_pixel() {
        let mask = mask_marking(9, 8, 12, &[(0, 7, 0), (5, 2, 9)]);
        let latent = latent_mask(mask, 4, 4);
        assert_eq!(latent.dims(), [1, 1, 3, 2, 3]);
        let marked: Vec<usize> = latent
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == 1.0)
            .map(|(i, _)| i)
            .collect();
        // Latent (frame, row, column): (0, 1, 0) and (2, 0, 2), flattened over [3, 2, 3].
        assert_eq!(marked, vec![3, 2 * 6 + 2]);
    }

    /// A marked pixel marks its `margin` neighbourhood in its own frame, clipped at the border.
    #[test]
    fn dilated_masks_grow_by_the_margin_within_each_frame() {
        let (h, w) = (5, 6);
        let mask = mask_marking(2, h, w, &[(0, 0, 0), (1, 2, 3)]);
        assert_eq!(dilated(mask.clone(), 0).into_data(), mask.clone().into_data());
        let grown = dilated(mask, 1).into_data().try_into_vec::<f32>().unwrap();
        let marked = |frame: usize| -> Vec<(usize, usize)> {
            (0..h * w).filter(|i| grown[frame * h * w + i] == 1.0).map(|i| (i / w, i % w)).collect()
        };
        assert_eq!(marked(0), vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
        let around = [(1, 2), (1, 3), (1, 4), (2, 2), (2, 3), (2, 4), (3, 2), (3, 3), (3, 4)];
        assert_eq!(marked(1), around.to_vec());
        assert!(grown.iter().all(|v| *v == 0.0 || *v == 1.0));
    }

    /// A `[1, 3, 1, 1, pixels]` clip on the CPU, one RGB value in [-1, 1] per pixel.
    fn pixel_row(pixels: &[[f32; 3]]) -> Tensor<5> {
        let values: Vec<f32> = (0..3).flat_map(|c| pixels.iter().map(move |p| p[c])).collect();
        Tensor::<5>::from_data(TensorData::new(values, [1, 3, 1, 1, pixels.len()]), &Device::flex())
    }

    /// Gray frames `[1, 3, 1, rows, columns]` from their rows of values (every channel alike).
    fn gray_frame(rows: &[&[f32]]) -> Tensor<5> {
        let (h, w) = (rows.len(), rows[0].len());
        let values: Vec<f32> = (0..3).flat_map(|_| rows.iter().flat_map(|row| row.iter().copied())).collect();
        Tensor::<5>::from_data(TensorData::new(values, [1, 3, 1, h, w]), &Device::flex())
    }

    /// The edge error ignores a uniform offset, which moves no step, and charges an edge spread
    /// over two pixels by how far each step is off: steps (0, 2, 0) drawn as (1, 0, 1) cost
    /// (1 + 2 + 1) / 3 across, nothing down.
    #[test]
    fn the_edge_error_charges_a_soft_edge_and_not_an_offset() {
        let x = gray_frame(&[&[-1.0, -1.0, 1.0, 1.0], &[-1.0, -1.0, 1.0, 1.0]]);
        let ones = Tensor::<5>::ones([1, 1, 1, 2, 4], &Device::flex());
        let error = |decoded: Tensor<5>| -> f32 { edge_error(decoded, &x, ones.clone()).into_scalar() };
        assert_eq!(error(x.clone()), 0.0);
        assert!(error(x.clone() + 0.3).abs() < 1e-6, "an offset moves no step");
        let soft = gray_frame(&[&[-1.0, 0.0, 0.0, 1.0], &[-1.0, 0.0, 0.0, 1.0]]);
        assert!((error(soft.clone()) - 4.0 / 3.0).abs() < 1e-6, "{}", error(soft.clone()));
        let weighted = ones.clone().slice_assign(
            [0..1, 0..1, 0..1, 0..2, 0..1],
            Tensor::full([1, 1, 1, 2, 1], 3.0, &Device::flex()),
        );
        let first_step_heavier: f32 = edge_error(soft, &x, weighted).into_scalar();
        assert!((first_step_heavier - (3.0 + 2.0 + 1.0) / 5.0).abs() < 1e-6, "{first_step_heavier}");
    }

    /// The noise of the decoder stage has the spread asked for in every channel, and a step
    /// draws the same noise whenever it runs.
    #[test]
    fn latent_noise_follows_each_channels_spread_and_the_step() {
        let device = Device::flex();
        let zeros = Tensor::<5>::zeros([2, 2, 3, 16, 16], &device);
        let noised = |step| with_latent_noise(zeros.clone(), &[1.0, 4.0], 0.5, (7, step));
        let spread = |tensor: Tensor<5>, channel: usize| {
            tensor.narrow(1, channel, 1).powi_scalar(2).mean().into_scalar::<f32>().sqrt()
        };
        let first = noised(3);
        let (quiet, loud) = (spread(first.clone(), 0), spread(first.clone(), 1));
        assert!((quiet - 0.5).abs() < 0.05 && (loud - 2.0).abs() < 0.2, "spreads {quiet}, {loud}");
        let repeated: f32 = (noised(3) - first.clone()).abs().max().into_scalar();
        assert_eq!(repeated, 0.0, "a step draws the same noise every time (resumable)");
        let next: f32 = (noised(4) - first).abs().mean().into_scalar();
        assert!(next > 0.1, "another step draws other noise: {next}");
        let exact = with_latent_noise(zeros.clone(), &[1.0, 4.0], 0.0, (7, 3));
        assert_eq!(exact.abs().max().into_scalar::<f32>(), 0.0, "no noise at σ 0");
    }

    /// On black, a soft edge (the colour scaled towards the background) costs no hue error and a
    /// patch of another colour does: orange drawn where yellow is, off yellow's line by the part
    /// of their difference across it.
    #[test]
    fn the_hue_error_counts_another_colour_and_not_a_soft_edge() {
        let black = [-1.0; 3];
        let yellow = [1.0, 220.0 / 127.5 - 1.0, -1.0];
        let orange = [1.0, 140.0 / 127.5 - 1.0, -1.0];
        let toward = |colour: [f32; 3], coverage: f32| colour.map(|c| -1.0 + coverage * (c + 1.0));
        let x = pixel_row(&[black, yellow, yellow]);
        let background = clip_background(&x);
        assert_eq!(background.clone().into_data().try_into_vec::<f32>().unwrap(), vec![-1.0]);
        let objects = object_mask(&x, &background);
        assert_eq!(objects.clone().into_data().try_into_vec::<f32>().unwrap(), vec![0.0, 1.0, 1.0]);
        let error = |decoded: &[[f32; 3]]| -> f32 {
            hue_error(pixel_row(decoded), &x, background.clone(), objects.clone()).into_scalar()
        };
        assert!(error(&[orange, toward(yellow, 0.6), toward(yellow, 1.2)]) < 1e-10);
        let (y, o) = (yellow.map(|c| c + 1.0), orange.map(|c| c + 1.0));
        let along = (0..3).map(|c| y[c] * o[c]).sum::<f32>() / (0..3).map(|c| y[c] * y[c]).sum::<f32>();
        let across: f32 = (0..3).map(|c| (o[c] - along * y[c]).powi(2)).sum();
        let patched = error(&[black, yellow, orange]);
        assert!((patched - across / 2.0).abs() < 1e-6 * across, "{patched} against {}", across / 2.0);
    }

    /// Steps whose clips are caption `step.clip`, latents one value each.
    fn steps_of_clips(steps: std::ops::Range<usize>, clips: usize) -> Vec<EncodedClips> {
        let clip = |step, index| EncodedClip {
            latents: vec![(step * clips + index) as f32],
            caption: format!("{step}.{index}"),
            objects: None,
            pixels: None,
        };
        steps
            .map(|step| EncodedClips {
                step,
                clips: (0..clips).map(|i| clip(step, i)).collect(),
                shape: [1; 4],
                pixel_shape: [1; 4],
            })
            .collect()
    }

    fn captions(samples: &Samples) -> Vec<String> {
        samples.clips.iter().map(|clip| clip.caption.clone()).collect()
    }

    #[test]
    fn without_a_pool_a_step_repeats_its_own_clips() {
        let recipe = Recipe { noise_draws: 3, denoiser_pool_steps: 0, ..Recipe::tiny() };
        let mut pool = ClipPool::new(0);
        for clips in steps_of_clips(0..4, 2) {
            pool.add(clips);
        }
        assert_eq!(captions(&pool.samples(&recipe)), ["3.0", "3.1", "3.0", "3.1", "3.0", "3.1"]);
        let stacked = pool.samples(&recipe).stacked(|clip| &clip.latents, 1, &Device::flex());
        assert_eq!(stacked.dims(), [6, 1, 1, 1, 1]);
        assert_eq!(stacked.into_data().try_into_vec::<f32>().unwrap(), [6.0, 7.0, 6.0, 7.0, 6.0, 7.0]);
    }

    #[test]
    fn a_pool_draws_from_its_last_steps_only_and_the_same_way_every_time() {
        let recipe = Recipe { noise_draws: 8, denoiser_pool_steps: 3, ..Recipe::tiny() };
        let mut pool = ClipPool::new(3);
        for clips in steps_of_clips(0..40, 2) {
            let step = clips.step;
            pool.add(clips);
            let samples = captions(&pool.samples(&recipe));
            assert_eq!(samples.len(), 16);
            for caption in &samples {
                let from: usize = caption.split('.').next().unwrap().parse().unwrap();
                assert!(from <= step && from + 3 > step, "step {step} drew a clip of step {from}");
            }
            let distinct: std::collections::BTreeSet<&String> = samples.iter().collect();
            assert!(step < 2 || distinct.len() > 2, "step {step} drew from {distinct:?} alone");
            assert_eq!(samples, captions(&pool.samples(&recipe)), "draws follow the seed and step");
        }
    }

    /// A tiny untrained VAE and denoiser, and the world's tokenizer (in the returned folder).
    struct DenoiserFixture {
        _dir: tempfile::TempDir,
        tokenizer: PromptTokenizer,
        vae: WanVae,
        /// The same VAE on the autodiff device, frozen, to decode predictions.
        pixel_vae: WanVae,
        model: TextToVideoModel,
        device: Device,
        ad: Device,
    }

    impl DenoiserFixture {
        fn new(recipe: &Recipe) -> Self {
            let device = Device::flex();
            let dir = tempfile::tempdir().unwrap();
            let words = tenku_shapes::vocabulary();
            tenku_text::save_word_level_tokenizer(dir.path(), &words, recipe.max_sequence_length).unwrap();
            let tokenizer = PromptTokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
            let vae = seeded_init(&device, 1, || recipe.vae.init(&device));
            let ad = device.clone().autodiff();
            let model = seeded_init(&ad, 2, || TextToVideoModel {
                text_encoder: recipe.text_encoder.init(&ad),
                transformer: recipe.transformer.init(&ad),
            });
            let pixel_vae = vae.clone().fork(&ad).no_grad();
            Self { _dir: dir, tokenizer, vae, pixel_vae, model, device, ad }
        }

        /// Step 0's clips under `recipe`.
        fn pool(&self, recipe: &Recipe) -> ClipPool {
            let mut pool = ClipPool::new(recipe.denoiser_pool_steps);
            pool.add(encoded_clips(&self.vae, recipe, 0, &self.device).unwrap());
            pool
        }

        /// Step 0's loss and gradients under `recipe`, its samples split over `threads`.
        fn gradients(&self, recipe: &Recipe, threads: usize) -> StepGradients {
            let pool = self.pool(recipe);
            let batch =
                DenoiserBatch::draw(0, &pool.samples(recipe), recipe, Some(&self.pixel_vae), &self.ad);
            denoiser_gradients(&self.model, &batch, threads, &self.tokenizer, recipe, &self.ad).unwrap()
        }
    }

    #[test]
    fn each_group_decodes_its_first_sample_at_low_noise() {
        let sigmas = [0.9, 0.5, 0.2, 0.8, 0.95, 0.99, 0.3, 0.1, 0.7];
        assert_eq!(decoded_rows(&sigmas, 1, 0.6), [1]);
        assert_eq!(decoded_rows(&sigmas, 2, 0.6), [1, 6], "groups of rows 0..4 and 4..9");
        assert_eq!(decoded_rows(&sigmas, 3, 0.6), [1, 6], "rows 3..6 have no sample at σ ≤ 0.6");
        assert_eq!(decoded_rows(&sigmas, 3, 0.2), [2, 7]);
        assert_eq!(decoded_rows(&sigmas, 9, 1.0), (0..9).collect::<Vec<_>>());
        assert!(decoded_rows(&sigmas, 2, 0.05).is_empty());
    }

    /// A prediction of the true velocity implies the true clean latents, so its pixel loss is
    /// the reconstruction loss of the encoder's latents, whatever the noise level and task; a
    /// prediction of zero velocity implies the model's input, noised frames and clean ones.
    #[test]
    fn a_perfect_prediction_costs_what_the_vae_loses_on_the_true_latents() {
        let settings = DecodedLoss { weight: 3.0, max_sigma: 1.0, samples: 4 };
        let recipe = Recipe { denoiser_decoded_loss: Some(settings), ..Recipe::tiny() };
        let fixture = DenoiserFixture::new(&recipe);
        let pool = fixture.pool(&recipe);
        let samples = pool.samples(&recipe);
        let batch = DenoiserBatch::draw(0, &samples, &recipe, Some(&fixture.pixel_vae), &fixture.ad);
        let decoded = batch.decoded.as_ref().unwrap();
        assert_eq!(decoded.rows, [0, 1, 2, 3], "every sample is its own group");
        let rows = 0..4;
        let perfect = decoded.loss(&batch.target, rows.clone(), &batch.input, &batch.clean, &recipe).unwrap();
        let perfect: f32 = perfect.into_scalar();

        let expected = |latents: &Tensor<5>| -> f32 {
            (rows.clone().zip(&decoded.truths))
                .map(|(row, truth)| {
                    let latents = fixture.pixel_vae.denormalize(latents.clone().narrow(0, row, 1));
                    reconstruction_loss(&fixture.pixel_vae, latents, truth, &recipe).into_scalar::<f32>()
                })
                .sum::<f32>()
                * 3.0
                / 4.0
        };
        let x0 = samples.stacked(|clip| &clip.latents, samples.shape[0], &fixture.ad);
        let of_x0 = expected(&x0);
        assert!((perfect - of_x0).abs() <= 1e-6 * of_x0, "{perfect} against {of_x0}");

        let zero = Tensor::zeros(batch.target.dims(), &fixture.ad);
        let lazy: f32 =
            decoded.loss(&zero, rows.clone(), &batch.input, &batch.clean, &recipe).unwrap().into_scalar();
        let of_input = expected(&batch.input);
        assert!((lazy - of_input).abs() <= 1e-6 * of_input, "{lazy} against {of_input}");
        assert_ne!(lazy, perfect, "the noise changes the decoded clips");
        let none_in_shard = decoded.loss(&batch.target, 4..4, &batch.input, &batch.clean, &recipe);
        assert!(none_in_shard.is_none());
    }

    /// The object weight changes the loss only through samples noised no more than
    /// `denoiser_object_max_sigma`: below every drawn level it is the unweighted loss.
    #[test]
    fn the_object_weight_acts_up_to_its_noise_level_only() {
        let plain = Recipe { denoiser_object_weight: 1.0, ..Recipe::tiny() };
        let fixture = DenoiserFixture::new(&plain);
        let loss = |recipe: &Recipe| fixture.gradients(recipe, 1).loss;
        let weighted = Recipe { denoiser_object_weight: 4.0, ..plain.clone() };
        let unweighted = loss(&plain);
        let everywhere = loss(&weighted);
        // An untrained model errs on objects about as much as elsewhere, so the weight moves
        // the loss by about 0.1 %; float rounding moves it by 1e-7.
        assert!((everywhere - unweighted).abs() > 1e-4 * unweighted, "{everywhere} against {unweighted}");
        let at_every_level = Recipe { denoiser_object_max_sigma: Some(1.0), ..weighted.clone() };
        assert_eq!(loss(&at_every_level), everywhere, "σ ≤ 1 is every level");
        let at_no_level = Recipe { denoiser_object_max_sigma: Some(1e-9), ..weighted };
        let below = loss(&at_no_level);
        assert!((below - unweighted).abs() < 1e-6 * unweighted, "{below} against {unweighted}");
    }

    /// Splitting a step's samples over threads gives its loss and gradients up to float
    /// rounding, with or without object weights and decoded predictions, for shards of equal
    /// and unequal sizes.
    #[test]
    fn threads_share_a_step_without_changing_its_gradients() {
        let plain = Recipe { denoiser_object_weight: 1.0, ..Recipe::tiny() };
        let fixture = DenoiserFixture::new(&plain);
        let weighted = Recipe { denoiser_object_weight: 4.0, ..plain.clone() };
        let decoded = DecodedLoss { weight: 2.0, max_sigma: 1.0, samples: 3 };
        let decoding = Recipe { denoiser_decoded_loss: Some(decoded), ..plain.clone() };
        for recipe in [&plain, &weighted, &decoding] {
            let one = fixture.gradients(recipe, 1);
            assert_eq!(
                recipe.denoiser_stage.batch * recipe.noise_draws % 3,
                1,
                "three shards differ in size"
            );
            for threads in [2, 3] {
                let split = fixture.gradients(recipe, threads);
                assert!(
                    (split.loss - one.loss).abs() <= 1e-6 * one.loss,
                    "{} against {}",
                    split.loss,
                    one.loss
                );
                let mut compared = 0;
                for (id, name) in parameter_names(&fixture.model) {
                    let (Some(a), Some(b)) = (one.grads.get::<2>(id), split.grads.get::<2>(id)) else {
                        continue;
                    };
                    let scale: f32 = a.clone().abs().max().into_scalar();
                    let diff: f32 = (a - b).abs().max().into_scalar();
                    assert!(
                        diff <= 1e-4 * scale,
                        "{name}, {threads} threads: {diff} off, gradient up to {scale}"
                    );
                    compared += 1;
                }
                assert!(compared > 10, "only {compared} matrices compared");
            }
        }
    }

    /// The pixel loss of decoded predictions reaches the transformer's weights through the
    /// frozen decoder.
    #[test]
    fn decoded_predictions_change_the_transformers_gradients() {
        let plain = Recipe::tiny();
        let fixture = DenoiserFixture::new(&plain);
        let decoded = DecodedLoss { weight: 1.0, max_sigma: 1.0, samples: 2 };
        let decoding = Recipe { denoiser_decoded_loss: Some(decoded), ..plain.clone() };
        let (without, with) = (fixture.gradients(&plain, 1), fixture.gradients(&decoding, 1));
        assert!(with.loss > without.loss, "{} against {}", with.loss, without.loss);
        let (id, _) = parameter_names(&fixture.model)
            .into_iter()
            .find(|(_, name)| name.contains("blocks"))
            .expect("the transformer has blocks");
        let (a, b) = (without.grads.get::<2>(id).unwrap(), with.grads.get::<2>(id).unwrap());
        let scale: f32 = a.clone().abs().max().into_scalar();
        let diff: f32 = (a - b).abs().max().into_scalar();
        assert!(diff > 1e-3 * scale, "a block's gradient moved by {diff} of {scale}");
    }

    /// Every matrix parameter's id and path.
    fn parameter_names(model: &TextToVideoModel) -> Vec<(burn::module::ParamId, String)> {
        struct Names(Vec<(burn::module::ParamId, String)>, Vec<String>);
        impl burn::module::ModuleVisitor for Names {
            fn enter_module(&mut self, name: &str, _container_type: &str) {
                self.1.push(name.to_owned());
            }
            fn exit_module(&mut self, _name: &str, _container_type: &str) {
                self.1.pop();
            }
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if D == 2 {
                    self.0.push((param.id, self.1.join(".")));
                }
            }
        }
        let mut names = Names(Vec::new(), Vec::new());
        model.visit(&mut names);
        names.0
    }

    /// Each gain scales exactly its latent conv, and the scaled weights still train.
    #[test]
    fn the_attention_gain_scales_the_self_attention_logits() {
        let device = Device::flex();
        let config = Recipe::tiny().transformer;
        let plain = config.init(&device);
        let sharp = with_attention_gain(plain.clone(), 4.0);
        for (plain, sharp) in plain.blocks.iter().zip(&sharp.blocks) {
            for (a, b) in
                [(&plain.attn1.norm_q, &sharp.attn1.norm_q), (&plain.attn1.norm_k, &sharp.attn1.norm_k)]
            {
                let ratio = (b.gamma.val() / a.gamma.val()).into_data().try_to_vec::<f32>().unwrap();
                assert!(ratio.iter().all(|r| (r - 2.0).abs() < 1e-6), "{ratio:?}");
            }
            let cross = (sharp.attn2.norm_q.gamma.val() - plain.attn2.norm_q.gamma.val()).abs().max();
            assert_eq!(cross.into_scalar::<f32>(), 0.0, "cross-attention keeps its gammas");
        }
    }

    #[test]
    fn latent_gains_scale_the_latent_convs_and_keep_them_trainable() {
        let device = Device::flex().autodiff();
        let recipe = Recipe::tiny();
        let plain = materialized(recipe.vae.init(&device));
        let scaled = with_latent_gain(plain.clone(), (3.0, 0.5));
        let weights = |vae: &WanVae| {
            [&vae.quant_conv, &vae.post_quant_conv, &vae.decoder.conv_out]
                .map(|conv| conv.weight.val().into_data().try_into_vec::<f32>().expect("f32"))
        };
        let (before, after) = (weights(&plain), weights(&scaled));
        for (b, a) in before[0].iter().zip(&after[0]) {
            assert_eq!(*a, b * 3.0, "quant_conv takes the encoder-side gain");
        }
        for (b, a) in before[1].iter().zip(&after[1]) {
            assert_eq!(*a, b * 0.5, "post_quant_conv takes the decoder-side gain");
        }
        assert_eq!(before[2], after[2], "other weights are left alone");

        let video = Tensor::<5>::ones([1, 3, 1, 8, 8], &device);
        let mut chunks = Vec::new();
        scaled.decode_unclamped_streaming(scaled.encode_mean(video), &mut |chunk| chunks.push(chunk));
        let grads = Tensor::cat(chunks, 2).sum().backward();
        for conv in [&scaled.quant_conv, &scaled.post_quant_conv] {
            assert!(conv.weight.val().grad(&grads).is_some(), "a scaled weight lost its gradient");
        }
    }
}
