#!/usr/bin/env python3
"""Generate the diffusers reference fixtures for the `tenku-sampler` parity tests.

The Rust tests in `crates/tenku-sampler/tests/` load the files this script
writes and check that Tenku's schedules and samplers reproduce diffusers'
schedulers step for step.

How to run (from the repository root; keep the virtualenv OUTSIDE the repo):

    python3 -m venv /tmp/tenku-venv
    /tmp/tenku-venv/bin/pip install torch diffusers transformers safetensors sentencepiece numpy
    /tmp/tenku-venv/bin/python scripts/make_sampler_fixtures.py

It writes (overwriting) two files into `crates/tenku-sampler/tests/fixtures/`
(or into `--out-dir DIR`):

* `diffusers_flow_schedulers.safetensors` -- flow-matching references:
  `UniPCMultistepScheduler` with the Wan2.1 configuration
  (`prediction_type="flow_prediction"`, `use_flow_sigmas=True`, `flow_shift=SHIFT`,
  `solver_type="bh2"`, `final_sigmas_type="zero"`, `timestep_spacing="linspace"`)
  and `FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=SHIFT)`.
* `diffusers_vp_schedulers.safetensors` -- epsilon-prediction VP references:
  `DDIMScheduler` and `DPMSolverMultistepScheduler` (dpmsolver++, order 2)
  with the Stable Diffusion betas (scaled_linear, 0.00085 .. 0.012).

Tensor names are `{case}.{field}`; every tensor is float32 and contiguous:

* `{case}.timesteps` -- `scheduler.timesteps` after `set_timesteps(N)`, cast to
  float32 (UniPC, DDIM and DPM timesteps are int64 in diffusers, so these are
  integer-valued floats; FlowMatchEuler timesteps are fractional).
* `{case}.sigmas` -- `scheduler.sigmas` (N+1 entries, last one 0) for the
  schedulers that have them (UniPC, Euler, DPM; DDIM has none).
* `{case}.alphas_cumprod` -- VP cases only: the full 1000-entry table.
* `{case}.x_init`, `{case}.c` -- shape [2, 3, 2, 4, 5]; `x_init = randn`,
  `c = 0.5 * randn`, each drawn from its own seeded `torch.Generator`.
* `{case}.samples` -- shape [N+1, 2, 3, 2, 4, 5]; `samples[0] = x_init` and
  `samples[k+1] = scheduler.step(model(x_k, k), t_k, x_k).prev_sample`.

Synthetic models (evaluated in float32 torch on the CPU, x_k = samples[k],
t_k = scheduler.timesteps[k]):

* flow cases (velocity):  v_k   = 0.3 * x_k + sigma_k * cos(x_k) + c,
  where sigma_k = scheduler.sigmas[k] (the float32 sigma of the current step,
  NOT the timestep).
* VP cases (epsilon):     eps_k = 0.3 * x_k + cos(x_k) * (t_k / 1000.0) + c,
  where t_k is the scheduler's timestep as a float.

Cases `unipc_s3_n50` and `euler_s3_n50` hold only timesteps and sigmas.

The script is deterministic: fixed seeds, a single CPU thread, a fresh
scheduler instance per case. It prints the timesteps of every case and asserts
a few known values of the Wan2.1 UniPC schedule.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import torch
import diffusers
import safetensors
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    FlowMatchEulerDiscreteScheduler,
    UniPCMultistepScheduler,
)
import struct

from safetensors.torch import save as save_to_bytes

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT_DIR = REPO_ROOT / "crates" / "tenku-sampler" / "tests" / "fixtures"

FLOW_FILE = "diffusers_flow_schedulers.safetensors"
VP_FILE = "diffusers_vp_schedulers.safetensors"

SAMPLE_SHAPE = (2, 3, 2, 4, 5)

FLOW_MODEL = "v_k = 0.3 * x_k + sigma_k * cos(x_k) + c, sigma_k = scheduler.sigmas[k] (float32), x_k = samples[k]"
VP_MODEL = "eps_k = 0.3 * x_k + cos(x_k) * (t_k / 1000.0) + c, t_k = float(scheduler.timesteps[k]), x_k = samples[k]"


# --------------------------------------------------------------------------- schedulers


def unipc_wan(shift: float, solver_order: int = 2) -> UniPCMultistepScheduler:
    """UniPC with the Wan2.1 configuration (beta_* left at their defaults)."""
    return UniPCMultistepScheduler(
        num_train_timesteps=1000,
        solver_order=solver_order,
        prediction_type="flow_prediction",
        predict_x0=True,
        solver_type="bh2",
        lower_order_final=True,
        disable_corrector=[],
        use_flow_sigmas=True,
        flow_shift=shift,
        final_sigmas_type="zero",
        timestep_spacing="linspace",
        thresholding=False,
        use_dynamic_shifting=False,
    )


def flow_euler(shift: float) -> FlowMatchEulerDiscreteScheduler:
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)


SD_BETAS = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
)


def ddim_sd() -> DDIMScheduler:
    return DDIMScheduler(
        **SD_BETAS,
        set_alpha_to_one=False,
        steps_offset=1,
        timestep_spacing="leading",
        clip_sample=False,
        prediction_type="epsilon",
    )


def dpmpp2m_sd() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(
        **SD_BETAS,
        algorithm_type="dpmsolver++",
        solver_order=2,
        prediction_type="epsilon",
        timestep_spacing="linspace",
        steps_offset=0,
        final_sigmas_type="zero",
        lower_order_final=True,
    )


# (name, scheduler factory, steps, run a sample trajectory?, seed for x_init, seed for c)
FLOW_CASES = [
    ("unipc_s3_n10", lambda: unipc_wan(3.0), 10, True, 1001, 2001),
    ("unipc_s5_n7", lambda: unipc_wan(5.0), 7, True, 1002, 2002),
    ("unipc_o3_s3_n8", lambda: unipc_wan(3.0, solver_order=3), 8, True, 1003, 2003),
    ("unipc_o1_s3_n6", lambda: unipc_wan(3.0, solver_order=1), 6, True, 1004, 2004),
    ("unipc_s3_n50", lambda: unipc_wan(3.0), 50, False, None, None),
    ("euler_s3_n10", lambda: flow_euler(3.0), 10, True, 1005, 2005),
    ("euler_s5_n7", lambda: flow_euler(5.0), 7, True, 1006, 2006),
    ("euler_s3_n50", lambda: flow_euler(3.0), 50, False, None, None),
]

VP_CASES = [
    ("ddim_n10", ddim_sd, 10, True, 1101, 2101),
    ("dpmpp2m_n10", dpmpp2m_sd, 10, True, 1102, 2102),
]


# --------------------------------------------------------------------------- helpers


def seeded_randn(seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(SAMPLE_SHAPE, generator=g, dtype=torch.float32) * scale


def flow_velocity(x: torch.Tensor, sigma: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    sigma = sigma.to(torch.float32)
    return 0.3 * x + sigma * torch.cos(x) + c


def vp_epsilon(x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    t = t.to(torch.float32)
    return 0.3 * x + torch.cos(x) * (t / 1000.0) + c


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(device="cpu", dtype=torch.float32).contiguous().clone()


def scheduler_config_json(sched) -> str:
    cfg = {k: v for k, v in dict(sched.config).items() if not k.startswith("_")}
    return json.dumps(cfg, sort_keys=True, default=str)


def fmt(xs, n=5) -> str:
    vals = [float(v) for v in xs]
    def one(v):
        return str(int(v)) if float(v).is_integer() else f"{v:.4f}"
    if len(vals) <= 2 * n:
        return ", ".join(one(v) for v in vals)
    return ", ".join(one(v) for v in vals[:n]) + ", ..., " + ", ".join(one(v) for v in vals[-n:])


def run_case(name, factory, steps, with_samples, seed_x, seed_c, kind, tensors, meta):
    sched = factory()
    sched.set_timesteps(steps)
    ts = sched.timesteps
    tensors[f"{name}.timesteps"] = f32(ts)
    sigmas = getattr(sched, "sigmas", None)
    if sigmas is not None:  # UniPC, FlowMatchEuler, DPM-Solver; DDIM has no `.sigmas`
        assert len(sigmas) == steps + 1, (name, sigmas)
        assert float(sigmas[-1]) == 0.0, (name, sigmas)
        tensors[f"{name}.sigmas"] = f32(sigmas)
    if kind == "vp":
        ac = sched.alphas_cumprod
        assert ac.shape == (1000,), ac.shape
        tensors[f"{name}.alphas_cumprod"] = f32(ac)
    meta[f"config.{name}"] = json.dumps(
        {"class": type(sched).__name__, "num_inference_steps": steps, "timesteps_dtype": str(ts.dtype),
         "sample_run": with_samples, "seed_x_init": seed_x, "seed_c": seed_c,
         "config": json.loads(scheduler_config_json(sched))},
        sort_keys=True,
    )
    print(f"{name:16s} {type(sched).__name__:34s} timesteps({ts.dtype}) [{fmt(ts)}]")
    if sigmas is not None:
        print(f"{'':16s} {'':34s} sigmas [{fmt(sigmas.tolist())}]")

    if not with_samples:
        return sched

    x = seeded_randn(seed_x)
    c = seeded_randn(seed_c, 0.5)
    tensors[f"{name}.x_init"] = f32(x)
    tensors[f"{name}.c"] = f32(c)
    samples = [x.clone()]
    for k, t in enumerate(ts):
        if kind == "flow":
            model_out = flow_velocity(x, sched.sigmas[k], c)
        else:
            model_out = vp_epsilon(x, t, c)
        if isinstance(sched, DDIMScheduler):
            out = sched.step(model_out, t, x, eta=0.0)
        else:
            out = sched.step(model_out, t, x)
        x = out.prev_sample
        assert x.dtype == torch.float32 and x.shape == SAMPLE_SHAPE, (x.dtype, x.shape)
        assert torch.isfinite(x).all(), f"{name}: non-finite sample at step {k}"
        samples.append(x.clone())
    tensors[f"{name}.samples"] = f32(torch.stack(samples))
    print(f"{'':16s} {'':34s} |x_init|={samples[0].abs().mean():.4f} |x_N|={samples[-1].abs().mean():.4f}")
    return sched


def save_file(tensors: dict, path: str, metadata: dict) -> None:
    """`safetensors.torch.save_file`, but byte-reproducible.

    safetensors writes `__metadata__` in hash-map order, which changes from run
    to run. Re-emit the (identical) header with the metadata keys sorted and
    the tensor entries in data-offset order, so that regenerating unchanged
    fixtures gives a byte-identical file (no spurious git diff).
    """
    blob = save_to_bytes(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    meta = header.pop("__metadata__", {})
    ordered = {"__metadata__": dict(sorted(meta.items()))}
    for key in sorted(header, key=lambda k: (header[k]["data_offsets"], k)):
        ordered[key] = header[key]
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors pads the header to 8 bytes
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        fh.write(data)


def base_metadata(description: str, model: str) -> dict:
    return {
        "generator": "scripts/make_sampler_fixtures.py",
        "description": description,
        "model": model,
        "torch_version": torch.__version__,
        "diffusers_version": diffusers.__version__,
        "safetensors_version": safetensors.__version__,
        "numpy_version": np.__version__,
        "sample_shape": json.dumps(list(SAMPLE_SHAPE)),
        "layout": "{case}.timesteps [N] f32, {case}.sigmas [N+1] f32 (where the scheduler has them), "
        "{case}.x_init / {case}.c [2,3,2,4,5] f32, {case}.samples [N+1,2,3,2,4,5] f32 "
        "(samples[0]=x_init, samples[k+1]=scheduler.step(model(samples[k]), timesteps[k], samples[k]).prev_sample)",
    }


def sanity_checks() -> None:
    """Known values of the Wan2.1 UniPC schedule (integer-truncated sigma * 1000)."""
    s = unipc_wan(3.0)
    s.set_timesteps(50)
    t3 = [int(v) for v in s.timesteps]
    print(f"check unipc shift 3, 50 steps: {t3[:5]} ... {t3[-2:]}")
    assert t3[:5] == [999, 993, 986, 979, 971], t3[:5]
    assert t3[-2:] == [113, 60], t3[-2:]
    s = unipc_wan(5.0)
    s.set_timesteps(50)
    t5 = [int(v) for v in s.timesteps]
    print(f"check unipc shift 5, 50 steps: {t5[:5]} ... {t5[-2:]}")
    assert t5[:5] == [999, 995, 991, 987, 982], t5[:5]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, safetensors {safetensors.__version__}")
    sanity_checks()

    args.out_dir.mkdir(parents=True, exist_ok=True)

    tensors: dict[str, torch.Tensor] = {}
    meta = base_metadata(
        "diffusers flow-matching schedulers (UniPC Wan2.1 config, FlowMatchEulerDiscrete) driven by a synthetic velocity model",
        FLOW_MODEL,
    )
    for name, factory, steps, with_samples, sx, sc in FLOW_CASES:
        run_case(name, factory, steps, with_samples, sx, sc, "flow", tensors, meta)
    meta["cases"] = ",".join(c[0] for c in FLOW_CASES)
    save_file(tensors, str(args.out_dir / FLOW_FILE), metadata=meta)

    tensors = {}
    meta = base_metadata(
        "diffusers VP epsilon schedulers (DDIM eta=0, DPM-Solver++ 2M) with SD betas driven by a synthetic epsilon model",
        VP_MODEL,
    )
    for name, factory, steps, with_samples, sx, sc in VP_CASES:
        run_case(name, factory, steps, with_samples, sx, sc, "vp", tensors, meta)
    meta["cases"] = ",".join(c[0] for c in VP_CASES)
    save_file(tensors, str(args.out_dir / VP_FILE), metadata=meta)

    for f in (FLOW_FILE, VP_FILE):
        p = args.out_dir / f
        print(f"wrote {p.relative_to(REPO_ROOT) if p.is_relative_to(REPO_ROOT) else p} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
