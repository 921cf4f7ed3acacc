#!/usr/bin/env python3
"""Check `tenku generate` against diffusers' WanPipeline on tiny Wan2.1 configs drawn at random.

For each seed this script draws a fresh tiny configuration (text encoder, transformer, VAE,
scheduler, geometry, steps, guidance, prompts) from that seed, builds the random-weight pipeline
with the functions of `make_wan_fixtures.py`, saves it with `save_pretrained` into a temporary
directory, runs diffusers with seeded noise (written to a safetensors file), runs

    tenku --quiet generate --model DIR --noise NOISE --output OUT.safetensors ...

and compares the frames. One line per seed; exit status 1 if any max |diff| exceeds 1e-3 or any
run fails (the CLI's stderr is printed).

    /tmp/tenku-venv/bin/python scripts/check_wan_parity.py --tenku target/debug/tenku --seeds 0 1 2
    cargo xtask parity --seeds 8        # builds tenku-cli, then runs seeds 0..8

No network access is needed (see `make_wan_fixtures.py` for the virtualenv).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import diffusers
import transformers
from safetensors.numpy import load_file
from safetensors.torch import save_file

from make_wan_fixtures import build_pipeline, randn, run_pipeline, save_pipeline, train_tokenizer

BOUND = 1e-3  # max |tenku - diffusers| over all frame values in [0, 1]

WORDS = [
    "a", "the", "red", "blue", "green", "golden", "tiny", "giant", "cat", "dog", "penguin", "circle", "square",
    "star", "moves", "left", "right", "spins", "jumps", "slowly", "on", "in", "grass", "sky", "water", "snow",
    "at", "night", "cinematic", "4k", "blurry", "static", "noisy", "zebra", "quiz", "café", "!", ",",
]


def rope_parts(head_dim: int) -> tuple[int, int, int]:
    """diffusers' WanRotaryPosEmbed split of a head: h = w = 2 * (head_dim // 6), t = the rest."""
    h = w = 2 * (head_dim // 6)
    return head_dim - h - w, h, w


def draw_case(seed: int) -> dict:
    """A random tiny Wan2.1 pipeline and request, determined by `seed`."""
    r = random.Random(seed)
    head_dim = r.choice([8, 12, 16, 24])
    # Every RoPE part must be even and non-empty (rotations act on pairs of channels).
    assert all(p > 0 and p % 2 == 0 for p in rope_parts(head_dim)), head_dim
    d_model = r.choice([8, 12, 16, 24, 32, 48])
    euler = r.random() < 0.3
    solver_order = None if euler else r.randint(1, 3)
    # With lower_order_final (Wan's setting, active below 15 steps) step i of N has order
    # min(solver_order, i + 1, N - i): order 3 is reached only with N >= 5, so order 3 gets 5 steps.
    steps = 5 if solver_order == 3 else r.randint(2, 5)
    num_frames, height, width = r.choice([5, 9]), r.choice([16, 32, 48]), r.choice([16, 32, 48])
    cfg = r.random() >= 0.3
    negative = "" if r.random() < 0.3 else ", ".join(r.sample(WORDS, r.randint(1, 4)))
    return dict(
        seed=100_000 + 1000 * seed,
        text_encoder=dict(
            d_model=d_model, d_kv=r.choice([4, 6, 8, 12]), num_heads=r.randint(1, 4), d_ff=r.randint(8, 64),
            num_layers=r.randint(1, 3), relative_attention_num_buckets=r.choice([8, 16, 32]),
            relative_attention_max_distance=r.choice([16, 32, 64, 128]),
        ),
        transformer=dict(
            num_attention_heads=r.randint(1, 4), attention_head_dim=head_dim, ffn_dim=r.randint(16, 64),
            num_layers=r.randint(1, 3), freq_dim=r.choice([32, 64, 256]), rope_max_seq_len=r.choice([16, 64, 1024]),
        ),
        vae=dict(
            base_dim=r.choice([4, 6, 8]), z_dim=r.choice([4, 8, 16]),
            dim_mult=r.choice([[1, 2, 4, 4], [1, 2, 2, 2], [1, 1, 2, 2], [1, 1, 1, 1], [1, 2, 2, 4]]),
            num_res_blocks=r.randint(1, 2),
        ),
        scheduler="euler" if euler else "unipc",
        solver_order=solver_order,
        flow_shift=round(r.uniform(1.0, 6.0), 3),
        prompt=" ".join(r.choice(WORDS) for _ in range(r.randint(1, 10))),
        negative_prompt=negative,
        num_frames=num_frames, height=height, width=width,
        num_inference_steps=steps,
        guidance_scale=round(r.uniform(2.0, 6.0), 2) if cfg else 1.0,
        max_sequence_length=r.choice([8, 16, 24]),
    )


def summary(c: dict) -> str:
    te, dit, vae = c["text_encoder"], c["transformer"], c["vae"]
    sched = (f"unipc o{c['solver_order']}" if c["scheduler"] == "unipc" else "euler") + f" shift {c['flow_shift']}"
    return (
        f"te d{te['d_model']} kv{te['d_kv']}x{te['num_heads']} ff{te['d_ff']} L{te['num_layers']} "
        f"b{te['relative_attention_num_buckets']}/{te['relative_attention_max_distance']} | "
        f"dit {dit['num_attention_heads']}x{dit['attention_head_dim']} L{dit['num_layers']} ffn{dit['ffn_dim']} "
        f"freq{dit['freq_dim']} rope{dit['rope_max_seq_len']} | "
        f"vae b{vae['base_dim']} z{vae['z_dim']} {''.join(map(str, vae['dim_mult']))} r{vae['num_res_blocks']} | "
        f"{sched} | {c['num_frames']}x{c['height']}x{c['width']} steps {c['num_inference_steps']} "
        f"cfg {c['guidance_scale']} L{c['max_sequence_length']}"
    )


def tenku_command(tenku: Path, c: dict, model: Path, noise: Path, out: Path) -> list[str]:
    return [
        str(tenku), "--quiet", "generate", "--model", str(model), "--noise", str(noise), "--output", str(out),
        "--prompt", c["prompt"], "--negative-prompt", c["negative_prompt"],
        "--frames", str(c["num_frames"]), "--height", str(c["height"]), "--width", str(c["width"]),
        "--steps", str(c["num_inference_steps"]), "--guidance", repr(float(c["guidance_scale"])),
        "--max-sequence-length", str(c["max_sequence_length"]),
    ]


@torch.no_grad()
def check(seed: int, tenku: Path, tok, work: Path) -> tuple[bool, str]:
    """Runs one seed in `work`; returns (passed, the line to print)."""
    c = draw_case(seed)
    model, noise_path, out = work / "pipeline", work / "noise.safetensors", work / "tenku.safetensors"
    pipe = build_pipeline(c, tok)
    save_pipeline(pipe, model)

    latent_frames = (c["num_frames"] - 1) // 4 + 1
    noise = randn((1, c["vae"]["z_dim"], latent_frames, c["height"] // 8, c["width"] // 8), c["seed"] + 50)
    save_file({"latents": noise}, str(noise_path))
    t0 = time.perf_counter()
    try:
        reference, _ = run_pipeline(pipe, c, noise)
    except Exception as e:  # a config diffusers itself cannot run is a bad draw, not a Tenku failure
        return False, f"seed {seed}: {summary(c)} | diffusers failed: {type(e).__name__}: {e}"
    t_ref = time.perf_counter() - t0
    np.save(work / "diffusers.npy", reference)

    t0 = time.perf_counter()
    cmd = tenku_command(tenku, c, model, noise_path, out)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    t_tenku = time.perf_counter() - t0
    if proc.returncode != 0:
        return False, f"seed {seed}: {summary(c)} | tenku failed ({proc.returncode}): {proc.stderr.strip()}"
    video = load_file(str(out))["video"]
    if video.shape != reference.shape:
        return False, f"seed {seed}: {summary(c)} | shape {list(video.shape)} != diffusers {list(reference.shape)}"
    diff = float(np.abs(video.astype(np.float64) - reference.astype(np.float64)).max())
    ok = diff <= BOUND
    return ok, (f"seed {seed}: {summary(c)} | max|diff| {diff:.3g} {'ok' if ok else 'FAIL'} "
                f"(diffusers {t_ref:.1f} s, tenku {t_tenku:.1f} s)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenku", type=Path, required=True, help="the tenku binary")
    ap.add_argument("--seeds", type=int, nargs="+", required=True)
    ap.add_argument("--keep", type=Path, help="keep each seed's pipeline, noise and outputs in DIR/seed-N")
    args = ap.parse_args()
    if not args.tenku.is_file():
        print(f"no tenku binary at {args.tenku}", file=sys.stderr)
        return 1

    torch.set_num_threads(1)
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    tok = train_tokenizer()
    print(f"checking {len(args.seeds)} random tiny Wan2.1 configs against diffusers {diffusers.__version__} "
          f"(torch {torch.__version__}); bound {BOUND:g}", flush=True)

    failures = 0
    for seed in args.seeds:
        if args.keep:
            work = args.keep / f"seed-{seed}"
            if work.exists():
                shutil.rmtree(work)
            work.mkdir(parents=True)
            ok, line = check(seed, args.tenku.resolve(), tok, work)
        else:
            with tempfile.TemporaryDirectory(prefix=f"tenku-parity-{seed}-") as tmp:
                ok, line = check(seed, args.tenku.resolve(), tok, Path(tmp))
        failures += not ok
        print(line, flush=True)
    print(f"{len(args.seeds) - failures}/{len(args.seeds)} configs within {BOUND:g}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
