#!/usr/bin/env python3
"""Generate tiny random-weight Wan2.1 pipelines and diffusers reference outputs.

The Rust parity tests of the Wan2.1 port load the directories this script
writes and check that Tenku reproduces diffusers' `WanPipeline` (tokenizer,
umT5 text encoder, WanTransformer3DModel, AutoencoderKLWan, UniPC scheduler
and the whole denoising loop) on random weights.

How to run (from the repository root; keep the virtualenv OUTSIDE the repo):

    python3 -m venv /tmp/tenku-venv
    /tmp/tenku-venv/bin/pip install torch diffusers transformers tokenizers \
        safetensors sentencepiece numpy ftfy accelerate
    /tmp/tenku-venv/bin/python scripts/make_wan_fixtures.py

(`cargo xtask fixtures` runs every `scripts/make_*.py` this way.) No network
access is needed: every component is built from a config with seeded random
weights, and the tokenizer is trained here on a built-in English corpus.

For each case (`tiny_a`, `tiny_b`) it writes, overwriting,
`crates/tenku-testing/fixtures/wan/<case>/` (or `--out-dir DIR/<case>/`):

* `pipeline/` -- `WanPipeline.save_pretrained(..., safe_serialization=True)`:
  model_index.json, transformer/, vae/, text_encoder/, tokenizer/, scheduler/.
* `reference.safetensors` -- float32 reference tensors (`text.*`,
  `transformer.*`, `vae.*`, `pipeline.*`) and metadata; see the README that
  this script also writes (`crates/tenku-testing/fixtures/wan/README.md`).

The script is deterministic (fixed seeds, one CPU thread) and byte-
reproducible for a given set of library versions. At the end it reloads every
`pipeline/` directory with `WanPipeline.from_pretrained`, re-runs the
pipeline and asserts that the frames are bit-identical.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import platform
import random
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import safetensors
import sentencepiece
import tokenizers
import torch
import transformers
import diffusers
from diffusers import (AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanPipeline,
                       WanTransformer3DModel)
from diffusers.pipelines.wan.pipeline_wan import prompt_clean
from safetensors.torch import save as save_to_bytes
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import T5TokenizerFast, UMT5Config, UMT5EncoderModel

try:  # WanPipeline's prompt_clean runs ftfy.fix_text only when ftfy is installed
    import ftfy

    FTFY_VERSION = ftfy.__version__
except ImportError:
    FTFY_VERSION = "not installed"

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO_ROOT / "crates" / "tenku-testing" / "fixtures" / "wan"
GENERATOR = "scripts/make_wan_fixtures.py"

MAX_SEQUENCE_LENGTH = 16
TOKENIZER_VOCAB_SIZE = 400
SCORE_DECIMALS = 6
TOKENIZER_SPECIAL_TOKENS = ["<pad>", "</s>", "<unk>"]  # ids 0, 1, 2 (T5 convention)

# --------------------------------------------------------------------------- cases

CASES = {
    "tiny_a": dict(
        seed=100,
        text_encoder=dict(
            d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=2,
            relative_attention_num_buckets=32, relative_attention_max_distance=128,
        ),
        transformer=dict(
            num_attention_heads=2, attention_head_dim=12, ffn_dim=32, num_layers=2,
            freq_dim=256, rope_max_seq_len=32,
        ),
        vae=dict(base_dim=8, z_dim=4, dim_mult=[1, 2, 2, 2], num_res_blocks=1),
        flow_shift=3.0,
        prompt="a red circle moves left",
        negative_prompt="blurry, static",
        num_frames=9, height=32, width=32,
        num_inference_steps=3, guidance_scale=5.0,
        transformer_timestep=700.0,
    ),
    "tiny_b": dict(
        seed=200,
        text_encoder=dict(
            d_model=24, d_kv=6, num_heads=4, d_ff=40, num_layers=3,
            relative_attention_num_buckets=16, relative_attention_max_distance=64,
        ),
        transformer=dict(
            num_attention_heads=3, attention_head_dim=16, ffn_dim=48, num_layers=1,
            freq_dim=64, rope_max_seq_len=64,
        ),
        # base_dim 6 rather than 12 keeps the fixtures small (12 would make this VAE file 2.2 MB).
        vae=dict(base_dim=6, z_dim=8, dim_mult=[1, 1, 2, 2], num_res_blocks=2),
        flow_shift=5.0,
        prompt="a blue square",
        negative_prompt="",
        num_frames=5, height=32, width=48,
        num_inference_steps=4, guidance_scale=3.5,
        transformer_timestep=123.0,
    ),
}

# --------------------------------------------------------------------------- tokenizer

# A few NFKC-style rules compiled by sentencepiece into a (small) precompiled
# charsmap, so that the tokenizer has a T5-style `Precompiled` normalizer.
# Fullwidth ASCII letters/digits, odd spaces, ligatures and typographic quotes.
NORMALIZATION_RULES = (
    [(0xFF21 + i, [0x41 + i]) for i in range(26)]
    + [(0xFF41 + i, [0x61 + i]) for i in range(26)]
    + [(0xFF10 + i, [0x30 + i]) for i in range(10)]
    + [(0x00A0, [0x20]), (0x2009, [0x20]), (0x3000, [0x20]),
       (0xFB01, [0x66, 0x69]), (0xFB02, [0x66, 0x6C]), (0x2026, [0x2E, 0x2E, 0x2E]),
       (0x2018, [0x27]), (0x2019, [0x27]), (0x201C, [0x22]), (0x201D, [0x22])]
)


# Strings checked for identical ids across the trained tokenizer, tokenizer.json and the reloaded pipeline.
TOKENIZER_PROBES = [
    "a red circle moves left", "blurry, static", "", "  a   cat\twalks\n on the grass  ",
    "\uff21 \uff42\uff43 \uff11\uff12 \ufb01sh \u201cquoted\u201d \u2026 caf\u00e9 \u00a0zebra\u3000QUIZ 42 \u732b",
    "The tiny golden penguin dances in heavy rain, cinematic, 4k!",
]


def training_corpus() -> list[str]:
    """A few hundred short English sentences from fixed templates (deterministic)."""
    colours = ["red", "blue", "green", "yellow", "orange", "purple", "white", "black", "pink", "brown", "grey",
               "golden", "silver", "violet", "turquoise"]
    shapes = ["circle", "square", "triangle", "star", "ball", "box", "cube", "line", "dot", "ring", "sphere",
              "pyramid", "rectangle", "cylinder", "heart", "arrow"]
    motions = ["moves left", "moves right", "moves up", "moves down", "spins", "rotates slowly", "bounces",
               "falls", "jumps", "grows", "shrinks", "fades away", "slides across the screen", "floats gently",
               "drifts upward", "wobbles", "vibrates", "zooms in", "turns around", "disappears", "appears suddenly",
               "changes colour", "splits in two", "flickers"]
    animals = ["cat", "dog", "bird", "horse", "fish", "rabbit", "fox", "duck", "elephant", "tiger", "monkey",
               "penguin", "turtle", "butterfly", "squirrel", "dolphin"]
    verbs = ["walks", "runs", "sleeps", "sits", "plays", "swims", "flies", "looks around", "eats an apple",
             "climbs a tree", "chases a ball", "drinks water", "dances", "hides", "waves", "smiles"]
    places = ["on the grass", "in the sky", "on the table", "under the tree", "in the water", "on the road",
              "near the house", "in a small room", "at night", "in the snow", "on the beach", "in the forest",
              "across the river", "through the city", "inside a kitchen", "over the mountains", "in the garden",
              "behind the window", "during sunset", "in heavy rain"]
    adjectives = ["small", "large", "bright", "dark", "fast", "slow", "happy", "old", "young", "tiny", "fluffy",
                  "shiny", "sleepy", "curious", "giant", "beautiful", "strange", "friendly"]
    styles = ["blurry", "static", "low quality", "noisy", "overexposed", "sharp", "colorful", "cinematic",
              "high quality", "still image", "ugly", "bad hands", "watermark", "subtitles", "worst quality",
              "JPEG compression", "deformed", "extra fingers", "poorly drawn", "messy background", "motionless",
              "oversaturated", "grainy", "detailed", "realistic", "cartoon style", "slow motion", "4k"]
    rng = random.Random(1234)
    out = []
    for c in colours:
        for s in shapes:
            out.append(f"a {c} {s} {rng.choice(motions)}")
    for a in animals:
        for v in verbs:
            out.append(f"the {rng.choice(adjectives)} {a} {v} {rng.choice(places)}")
    for _ in range(200):
        out.append(f"A {rng.choice(adjectives)} {rng.choice(colours)} {rng.choice(animals)} "
                   f"{rng.choice(verbs)} {rng.choice(places)}.")
    for _ in range(150):
        out.append(", ".join(rng.sample(styles, 3)))
    for _ in range(100):
        out.append(f"The {rng.choice(colours)} {rng.choice(shapes)} and the {rng.choice(colours)} "
                   f"{rng.choice(shapes)} {rng.choice(motions)}, then {rng.choice(motions)}!")
    return out


def _protobuf_fields(buf: bytes):
    """Minimal protobuf wire-format reader: yields (field number, bytes or None)."""
    i = 0

    def varint():
        nonlocal i
        value = shift = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while i < len(buf):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            varint()
            yield field, None
        elif wire == 2:
            n = varint()
            yield field, buf[i : i + n]
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
            yield field, None
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def precompiled_charsmap(corpus: list[str]) -> bytes:
    """Compile NORMALIZATION_RULES with sentencepiece; return `normalizer_spec.precompiled_charsmap`."""
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        rules.write_text("".join(f"{src:X}\t{' '.join(f'{d:X}' for d in dst)}\n" for src, dst in NORMALIZATION_RULES))
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus), model_writer=model, vocab_size=60, model_type="char",
            normalization_rule_tsv=str(rules), minloglevel=2, num_threads=1,
        )
    spec = [v for f, v in _protobuf_fields(model.getvalue()) if f == 3]  # ModelProto.normalizer_spec
    charsmap = [v for f, v in _protobuf_fields(spec[0]) if f == 2]  # NormalizerSpec.precompiled_charsmap
    assert len(charsmap) == 1 and len(charsmap[0]) > 0
    return bytes(charsmap[0])


def train_tokenizer() -> Tokenizer:
    """Unigram tokenizer shaped exactly like the one transformers' T5Tokenizer rebuilds on load.

    transformers 5.x `T5Tokenizer.from_pretrained` re-creates the backend from
    the vocab of tokenizer.json and keeps only a `Precompiled` normalizer, the
    pre-tokenizer Sequence[WhitespaceSplit, Metaspace(always, split)], the
    Metaspace decoder and the file's post-processor. Building the same
    structure here makes tokenizer.json, the Python pipeline before saving and
    the reloaded pipeline all agree.
    """
    corpus = training_corpus()
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Precompiled(precompiled_charsmap(corpus))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(
        vocab_size=TOKENIZER_VOCAB_SIZE, special_tokens=TOKENIZER_SPECIAL_TOKENS, unk_token="<unk>",
        show_progress=False, max_piece_length=16,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    # The Rust trainer iterates hash maps/sets, so from run to run (a) the scores differ in their last bits,
    # (b) pieces with equal scores come out in a different order (different ids), and (c) the characters it
    # appends (required characters the EM pruned) get scores min + k * 1e-4 in hash order. Canonicalise:
    # round the scores, give those appended characters the minimum score, and sort the pieces (score
    # descending, then text) after the special tokens. tokenizer.json is then reproducible.
    model = json.loads(tok.to_str())["model"]
    assert model["type"] == "Unigram" and model["unk_id"] == 2 and not model["byte_fallback"], model.keys()
    n_special = len(TOKENIZER_SPECIAL_TOKENS)
    special, pieces = model["vocab"][:n_special], model["vocab"][n_special:]
    assert [p for p, _ in special] == TOKENIZER_SPECIAL_TOKENS, special
    pieces = [(p, round(s, SCORE_DECIMALS)) for p, s in pieces]
    low = min(s for _, s in pieces)
    pieces = [(p, low if len(p) == 1 and s < low + 0.01 else s) for p, s in pieces]
    pieces.sort(key=lambda ps: (-ps[1], ps[0]))
    tok.model = models.Unigram([tuple(ps) for ps in special] + pieces, unk_id=2, byte_fallback=False)
    for i, t in enumerate(TOKENIZER_SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)]
    )
    return tok


def wrap_tokenizer(tok: Tokenizer) -> T5TokenizerFast:
    return T5TokenizerFast(
        tokenizer_object=copy.deepcopy(tok), eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0
    )


# --------------------------------------------------------------------------- models


@torch.no_grad()
def perturb(model: torch.nn.Module, seed: int) -> None:
    """p += 0.05 * randn * std(p) (0.02 in place of the std for constant tensors), for every parameter."""
    g = torch.Generator().manual_seed(seed)
    for _, p in model.named_parameters():
        std = float(p.std()) if p.numel() > 1 else 0.0
        if not std > 0.0:
            std = 0.02
        p.add_(0.05 * std * torch.randn(p.shape, generator=g, dtype=torch.float32))


def build_scheduler(case: dict):
    """Wan's UniPC (flow sigmas, `case["flow_shift"]`, solver_order `case.get("solver_order", 2)`), or
    `FlowMatchEulerDiscreteScheduler` with shift `case["flow_shift"]` when `case.get("scheduler") == "euler"`."""
    kind = case.get("scheduler", "unipc")
    if kind == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=case["flow_shift"],
                                               use_dynamic_shifting=False)
    assert kind == "unipc", kind
    return UniPCMultistepScheduler(
        num_train_timesteps=1000, solver_order=case.get("solver_order", 2), prediction_type="flow_prediction",
        predict_x0=True, solver_type="bh2", lower_order_final=True, disable_corrector=[], use_flow_sigmas=True,
        flow_shift=case["flow_shift"], final_sigmas_type="zero", timestep_spacing="linspace",
        thresholding=False, use_dynamic_shifting=False,
    )


def build_pipeline(case: dict, tok: Tokenizer) -> WanPipeline:
    seed = case["seed"]
    tokenizer = wrap_tokenizer(tok)

    torch.manual_seed(seed + 1)
    te_cfg = UMT5Config(
        vocab_size=tok.get_vocab_size(), feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **case["text_encoder"],
    )
    text_encoder = UMT5EncoderModel(te_cfg)
    perturb(text_encoder, seed + 11)

    torch.manual_seed(seed + 2)
    z_dim = case["vae"]["z_dim"]
    rng = np.random.RandomState(seed + 2)
    vae = AutoencoderKLWan(
        temperal_downsample=[False, True, True],
        latents_mean=[round(float(v), 4) for v in rng.uniform(-1.0, 1.0, z_dim)],
        latents_std=[round(float(v), 4) for v in rng.uniform(0.5, 3.0, z_dim)],
        **case["vae"],
    )
    perturb(vae, seed + 12)

    torch.manual_seed(seed + 3)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), in_channels=z_dim, out_channels=z_dim, text_dim=case["text_encoder"]["d_model"],
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, **case["transformer"],
    )
    perturb(transformer, seed + 13)

    scheduler = build_scheduler(case)
    for m in (text_encoder, vae, transformer):
        m.eval()
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                       transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# --------------------------------------------------------------------------- references


def save_pipeline(pipe: WanPipeline, pipe_dir: Path) -> None:
    """`save_pretrained` with safetensors, after clearing the tokenizer's padding/truncation."""
    # Calling the tokenizer leaves padding/truncation (to 16) set on its backend, and save_pretrained would
    # write them into tokenizer.json; a real umT5 tokenizer.json has neither.
    pipe.tokenizer.backend_tokenizer.no_padding()
    pipe.tokenizer.backend_tokenizer.no_truncation()
    pipe.save_pretrained(str(pipe_dir), safe_serialization=True)


def f32(t) -> torch.Tensor:
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(t)
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().clone()


def randn(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32)


def uniform_pm1(shape, seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float32) * 2.0 - 1.0


def run_pipeline(pipe: WanPipeline, case: dict, noise: torch.Tensor) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = pipe(
        prompt=case["prompt"], negative_prompt=case["negative_prompt"], height=case["height"], width=case["width"],
        num_frames=case["num_frames"], num_inference_steps=case["num_inference_steps"],
        guidance_scale=case["guidance_scale"], max_sequence_length=case.get("max_sequence_length", MAX_SEQUENCE_LENGTH),
        latents=noise.clone(), output_type="np",
    )
    return np.asarray(out.frames[0]), time.perf_counter() - t0


@torch.no_grad()
def references(pipe: WanPipeline, case: dict) -> tuple[dict, np.ndarray, float]:
    seed = case["seed"]
    ref: dict[str, torch.Tensor] = {}
    H, W, F = case["height"], case["width"], case["num_frames"]
    d_model = case["text_encoder"]["d_model"]
    z_dim = pipe.vae.config.z_dim

    # Text: exactly what `_get_t5_prompt_embeds` feeds the encoder (one prompt per call, as the pipeline does).
    ids, masks, raw = [], [], []
    for text in (case["prompt"], case["negative_prompt"]):
        enc = pipe.tokenizer([prompt_clean(text)], padding="max_length", max_length=MAX_SEQUENCE_LENGTH,
                             truncation=True, add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        ids.append(enc.input_ids[0])
        masks.append(enc.attention_mask[0])
        raw.append(pipe.text_encoder(enc.input_ids, enc.attention_mask).last_hidden_state[0])
    prompt_embeds, negative_embeds = pipe.encode_prompt(
        prompt=case["prompt"], negative_prompt=case["negative_prompt"], do_classifier_free_guidance=True,
        max_sequence_length=MAX_SEQUENCE_LENGTH, device=torch.device("cpu"),
    )
    ref["text.input_ids"] = f32(torch.stack(ids))
    ref["text.attention_mask"] = f32(torch.stack(masks))
    ref["text.raw_hidden"] = f32(torch.stack(raw))
    ref["text.hidden"] = f32(torch.cat([prompt_embeds, negative_embeds]))
    zeroed = ref["text.raw_hidden"] * ref["text.attention_mask"][:, :, None]
    assert torch.equal(zeroed, ref["text.hidden"]), "encode_prompt != raw_hidden with padded rows zeroed"
    assert ref["text.hidden"].shape == (2, MAX_SEQUENCE_LENGTH, d_model)

    # Transformer, one forward pass.
    x = randn((1, z_dim, 3, 4, 4), seed + 21)
    t = torch.tensor([case["transformer_timestep"]], dtype=torch.float32)
    ctx = randn((1, MAX_SEQUENCE_LENGTH, d_model), seed + 22)
    ref["transformer.hidden_states"] = x
    ref["transformer.timestep"] = t
    ref["transformer.encoder_hidden_states"] = ctx
    ref["transformer.output"] = f32(pipe.transformer(hidden_states=x, timestep=t, encoder_hidden_states=ctx,
                                                     return_dict=True).sample)

    # VAE encode (posterior mean, raw) and decode (raw, as the VAE returns it: clamped to [-1, 1]).
    for n, k in ((5, 2), (9, 3)):
        video = uniform_pm1((1, 3, n, H, W), seed + 30 + n)
        ref[f"vae.video{n}"] = video
        ref[f"vae.encode{n}_mean"] = f32(pipe.vae.encode(video).latent_dist.mean)
        z = randn((1, z_dim, k, H // 8, W // 8), seed + 40 + n)
        ref[f"vae.z{n}"] = z
        ref[f"vae.decode{n}"] = f32(pipe.vae.decode(z).sample)
        assert ref[f"vae.encode{n}_mean"].shape == z.shape
        assert ref[f"vae.decode{n}"].shape == video.shape

    # Whole pipeline.
    latent_frames = (F - 1) // 4 + 1
    noise = randn((1, z_dim, latent_frames, H // 8, W // 8), seed + 50)
    ref["pipeline.noise"] = noise
    frames, seconds = run_pipeline(pipe, case, noise)
    assert frames.dtype == np.float32 and frames.shape == (F, H, W, 3), (frames.dtype, frames.shape)
    ref["pipeline.frames"] = f32(frames)
    return ref, frames, seconds


def save_file(tensors: dict, path: Path, metadata: dict) -> None:
    """safetensors file with the metadata keys sorted (safetensors writes them in hash-map order)."""
    blob = save_to_bytes(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    ordered = {"__metadata__": dict(sorted(meta.items()))}
    ordered.update(sorted(header.items(), key=lambda kv: (kv[1]["data_offsets"], kv[0])))
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=True).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + n :])


def versions() -> dict:
    return {
        "diffusers_version": diffusers.__version__,
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
        "tokenizers_version": tokenizers.__version__,
        "safetensors_version": safetensors.__version__,
        "sentencepiece_version": sentencepiece.__version__,
        "numpy_version": np.__version__,
        "ftfy_version": FTFY_VERSION,
    }


def metadata(name: str, case: dict) -> dict:
    return {
        **versions(),
        "generator": GENERATOR,
        "case": name,
        "prompt": case["prompt"],
        "negative_prompt": case["negative_prompt"],
        "num_frames": str(case["num_frames"]),
        "height": str(case["height"]),
        "width": str(case["width"]),
        "num_inference_steps": str(case["num_inference_steps"]),
        "guidance_scale": repr(float(case["guidance_scale"])),
        "max_sequence_length": str(MAX_SEQUENCE_LENGTH),
        "transformer_timestep": repr(float(case["transformer_timestep"])),
    }


def describe(name: str, ref: dict) -> None:
    for k in sorted(ref):
        v = ref[k]
        print(f"  {name}/{k:34s} {str(list(v.shape)):22s} mean {float(v.mean()):+.4f} std {float(v.std(correction=0)):.4f} "
              f"min {float(v.min()):+.4f} max {float(v.max()):+.4f}")
    for n in (5, 9):
        d = ref[f"vae.decode{n}"]
        print(f"  {name}/vae.decode{n}: {float((d.abs() >= 1.0).float().mean()) * 100:.1f}% of values clamped at +-1")
    f = ref["pipeline.frames"]
    print(f"  {name}/pipeline.frames: {float(((f <= 0.0) | (f >= 1.0)).float().mean()) * 100:.1f}% of values at 0 or 1")


# --------------------------------------------------------------------------- README


README = """# Wan2.1 parity fixtures (tiny random-weight pipelines)

Generated by `{generator}` (do not edit by hand; this README is rewritten too).
Regenerate from the repository root with

    /tmp/tenku-venv/bin/python scripts/make_wan_fixtures.py    # or: cargo xtask fixtures

Versions: {versions}.

Each case directory holds

* `pipeline/` -- `WanPipeline.save_pretrained(dir, safe_serialization=True)` (diffusers layout:
  `model_index.json`, `transformer/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`), all float32.
  Weights are the classes' default random initialisation, then every parameter gets
  `+= 0.05 * randn * std(param)` (0.02 in place of the std for constant tensors such as norm weights
  and zero biases), so no norm, bias or modulation table is exactly 1 or 0.
* `reference.safetensors` -- float32 tensors (integers stored as integer-valued float32) and
  metadata (prompt, negative_prompt, num_frames, height, width, num_inference_steps, guidance_scale,
  max_sequence_length, transformer_timestep, library versions).

## Cases

| | tiny_a | tiny_b |
|---|---|---|
{table}

Common to both: tokenizer (below); text encoder `UMT5EncoderModel`, feed_forward_proj `gated-gelu`
(dense_act_fn `gelu_new`), layer_norm_epsilon 1e-6; transformer patch_size (1,2,2),
cross_attn_norm true, qk_norm `rms_norm_across_heads`, eps 1e-6, in = out channels = VAE z_dim,
text_dim = text encoder d_model; VAE `AutoencoderKLWan` (Wan2.1, non-residual, patch_size null,
temperal_downsample [false, true, true], scale factors 4 / 8), latents_mean/latents_std fixed
random lists of length z_dim (see `vae/config.json`); scheduler `UniPCMultistepScheduler`
(flow_prediction, use_flow_sigmas, solver_order 2, bh2, lower_order_final, final_sigmas_type zero,
timestep_spacing linspace).

Tokenizer: a Unigram model trained with the `tokenizers` library on a built-in corpus of a few
hundred template sentences (vocab {vocab_size}); `<pad>`=0, `</s>`=1, `<unk>`=2; normalizer
`Precompiled` (a small sentencepiece-compiled charsmap: fullwidth ASCII -> ASCII, NBSP / thin /
ideographic space -> space, fi/fl ligatures, ellipsis, curly quotes); pre-tokenizer
Sequence[WhitespaceSplit, Metaspace("▁", prepend_scheme "always", split)]; post-processor
TemplateProcessing `$A </s>`; decoder Metaspace. This is exactly the structure transformers'
`T5Tokenizer` rebuilds when it loads `tokenizer.json`, so the file and the Python pipeline agree.

## Keys of `reference.safetensors`

| key | shape | what |
|---|---|---|
| `text.input_ids` | [2, 16] | ids fed to the encoder by `_get_t5_prompt_embeds` (after `prompt_clean`); row 0 prompt, row 1 negative prompt; `</s>` appended, padded with 0 |
| `text.attention_mask` | [2, 16] | 1 for real tokens (incl. `</s>`), 0 for padding |
| `text.raw_hidden` | [2, 16, d_model] | encoder `last_hidden_state` (each prompt encoded alone, batch 1, as the pipeline does) |
| `text.hidden` | [2, 16, d_model] | `encode_prompt` output: raw_hidden with the rows past each prompt's length set to 0 |
| `transformer.hidden_states` | [1, z_dim, 3, 4, 4] | randn |
| `transformer.timestep` | [1] | 700.0 (tiny_a) / 123.0 (tiny_b) |
| `transformer.encoder_hidden_states` | [1, 16, d_model] | randn |
| `transformer.output` | [1, z_dim, 3, 4, 4] | `transformer(...).sample` |
| `vae.video5`, `vae.video9` | [1, 3, 5 or 9, H, W] | uniform in [-1, 1] |
| `vae.encode5_mean`, `vae.encode9_mean` | [1, z_dim, 2 or 3, H/8, W/8] | `vae.encode(x).latent_dist.mean` (raw, not normalised) |
| `vae.z5`, `vae.z9` | [1, z_dim, 2 or 3, H/8, W/8] | randn |
| `vae.decode5`, `vae.decode9` | [1, 3, 5 or 9, H, W] | `vae.decode(z).sample` (raw, as the VAE returns it: **clamped to [-1, 1]**) |
| `pipeline.noise` | [1, z_dim, (F-1)/4+1, H/8, W/8] | randn, passed as `latents=` |
| `pipeline.frames` | [F, H, W, 3] | `pipe(prompt, negative_prompt, height, width, num_frames, num_inference_steps, guidance_scale, max_sequence_length=16, latents=noise, output_type="np").frames[0]` |

Everything was computed in float32 on the CPU with one thread.

## Notes on the reference

* `prompt_clean` (ftfy.fix_text if ftfy is installed, html.unescape twice, strip, collapse whitespace
  runs to one space) leaves all four prompts unchanged. With ftfy it would also fold fullwidth
  characters, ligatures and curly quotes (`ＡＢＣ “hi” ﬁsh` -> `ABC "hi" fish`); without ftfy the
  tokenizer's Precompiled normalizer does the same for the characters in its table.
* The text encoder's file holds `shared.weight` and no `encoder.embed_tokens.weight` (tied).
* `transformer.timestep` is passed to the model as a float32 tensor; inside the pipeline the scheduler's
  timesteps are int64 (e.g. 999). The model casts either to float32 before the sinusoid.
* `vae.decode*` and the decode inside the pipeline are clamped to [-1, 1] by `AutoencoderKLWan`
  itself (about 0.1 % of the values in tiny_a and 2 % in tiny_b sit on the clamp).
* The references were computed with the in-memory models, before saving. Reloading `pipeline/` with
  `WanPipeline.from_pretrained` and re-running gives bit-identical frames once the weights are copied
  into fresh (aligned) tensors; with the memory-mapped weights as loaded, tiny_b differs by up to
  ~3e-6 (different SIMD summation order), tiny_a not at all.
"""


def write_readme(out_dir: Path, vocab_size: int) -> None:
    a, b = CASES["tiny_a"], CASES["tiny_b"]

    def row(label, fa, fb=None):
        fb = fb or fa
        return f"| {label} | {fa(a)} | {fb(b)} |"

    def cfg(part, keys):
        return lambda c: ", ".join(f"{k} {c[part][k]}" for k in keys)

    rows = [
        row("text encoder", cfg("text_encoder", ["d_model", "d_kv", "num_heads", "d_ff", "num_layers",
                                                 "relative_attention_num_buckets", "relative_attention_max_distance"])),
        row("transformer", cfg("transformer", ["num_attention_heads", "attention_head_dim", "ffn_dim", "num_layers",
                                               "freq_dim", "rope_max_seq_len"])),
        row("VAE", cfg("vae", ["base_dim", "z_dim", "dim_mult", "num_res_blocks"])),
        row("scheduler flow_shift", lambda c: c["flow_shift"]),
        row("prompt / negative", lambda c: f'"{c["prompt"]}" / "{c["negative_prompt"]}"'),
        row("frames x height x width", lambda c: f'{c["num_frames"]} x {c["height"]} x {c["width"]}'),
        row("latent grid (F', H/8, W/8)",
            lambda c: f'{(c["num_frames"] - 1) // 4 + 1} x {c["height"] // 8} x {c["width"] // 8}'),
        row("steps / guidance", lambda c: f'{c["num_inference_steps"]} / {c["guidance_scale"]}'),
        row("max_sequence_length", lambda c: MAX_SEQUENCE_LENGTH),
        row("transformer test timestep", lambda c: c["transformer_timestep"]),
    ]
    text = README.format(
        generator=GENERATOR,
        versions=", ".join(f"{k.removesuffix('_version')} {v}" for k, v in versions().items()),
        table="\n".join(rows),
        vocab_size=vocab_size,
    )
    (out_dir / "README.md").write_text(text)


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions().items()))

    tok = train_tokenizer()
    print(f"tokenizer: vocab {tok.get_vocab_size()}")

    args.out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    for name in args.cases:
        case = CASES[name]
        case_dir = args.out_dir / name
        pipe_dir = case_dir / "pipeline"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        pipe_dir.mkdir(parents=True)

        pipe = build_pipeline(case, tok)
        ref, frames, seconds = references(pipe, case)
        timings[name] = seconds
        print(f"{name}: pipeline run {seconds:.2f} s; ids {ref['text.input_ids'].long().tolist()}")
        describe(name, ref)
        save_pipeline(pipe, pipe_dir)
        save_file(ref, case_dir / "reference.safetensors", metadata(name, case))

        # Round trip: reload the saved pipeline, re-run, frames must be bit-identical.
        backend_before = json.loads(pipe.tokenizer.backend_tokenizer.to_str())
        del pipe
        reloaded = WanPipeline.from_pretrained(str(pipe_dir))
        reloaded.set_progress_bar_config(disable=True)
        for comp in ("text_encoder", "transformer", "vae"):
            dtypes = {p.dtype for p in getattr(reloaded, comp).parameters()}
            assert dtypes == {torch.float32}, (comp, dtypes)
        backend_after = json.loads(reloaded.tokenizer.backend_tokenizer.to_str())
        file_json = json.loads((pipe_dir / "tokenizer" / "tokenizer.json").read_text())
        for part in ("normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens",
                     "truncation", "padding"):
            assert backend_before[part] == backend_after[part] == file_json[part], f"tokenizer {part} changed on reload"
        # What a Rust `tokenizers::Tokenizer::from_file(tokenizer.json)` sees must match the pipeline's tokenizer.
        raw_tok = Tokenizer.from_file(str(pipe_dir / "tokenizer" / "tokenizer.json"))
        for text in TOKENIZER_PROBES + [case["prompt"], case["negative_prompt"]]:
            ids = reloaded.tokenizer(text).input_ids
            assert raw_tok.encode(text).ids == ids == tok.encode(text).ids, (text, ids)
        enc = reloaded.tokenizer([case["prompt"], case["negative_prompt"]], padding="max_length",
                                 max_length=MAX_SEQUENCE_LENGTH, truncation=True, return_tensors="pt")
        assert torch.equal(enc.input_ids.float(), ref["text.input_ids"]), "reloaded tokenizer ids differ"
        frames2, seconds2 = run_pipeline(reloaded, case, ref["pipeline.noise"])
        unaligned = float(np.abs(frames - frames2).max())
        assert unaligned <= 1e-5, f"{name}: reloaded pipeline frames differ by {unaligned}"
        # Weights that from_pretrained maps from the safetensors files are not 64-byte aligned, which can change
        # the SIMD summation order of the CPU kernels (~1 ulp). Re-materialise them and demand exact equality.
        for comp in ("text_encoder", "transformer", "vae"):
            for t in list(getattr(reloaded, comp).parameters()) + list(getattr(reloaded, comp).buffers()):
                t.data = t.data.clone()
        frames3, seconds3 = run_pipeline(reloaded, case, ref["pipeline.noise"])
        assert np.array_equal(frames, frames3), f"{name}: reloaded pipeline frames differ"
        print(f"{name}: reloaded pipeline: frames identical ({seconds3:.2f} s); "
              f"as mapped from disk, max |diff| {unaligned:.3g} ({seconds2:.2f} s)")

    write_readme(args.out_dir, tok.get_vocab_size())
    for p in sorted(args.out_dir.rglob("*")):
        if p.is_file():
            print(f"wrote {p.relative_to(REPO_ROOT) if p.is_relative_to(REPO_ROOT) else p} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
