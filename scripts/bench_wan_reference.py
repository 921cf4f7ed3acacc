"""Times one forward of diffusers' WanTransformer3DModel with the Wan2.1 T2V 1.3B config and
random weights, at the same shapes as `crates/tenku-dit/examples/real_size.rs` (latents
[1, 16, 5, 32, 32], 512 text tokens, timestep 999), on the CPU with 2 threads.

Prints one JSON line. Run through `cargo xtask real-size`, or by hand:

    python3 -m venv /tmp/tenku-venv
    /tmp/tenku-venv/bin/pip install torch diffusers transformers safetensors
    /tmp/tenku-venv/bin/python scripts/bench_wan_reference.py
"""

import json
import resource
import time

import torch
from diffusers import WanTransformer3DModel

torch.set_num_threads(2)
torch.manual_seed(0)

# Wan-AI/Wan2.1-T2V-1.3B-Diffusers transformer/config.json.
model = WanTransformer3DModel(
    patch_size=(1, 2, 2),
    num_attention_heads=12,
    attention_head_dim=128,
    in_channels=16,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=8960,
    num_layers=30,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    rope_max_seq_len=1024,
).eval()

x = torch.randn(1, 16, 5, 32, 32)
text = torch.randn(1, 512, 4096) * 0.1
t = torch.tensor([999.0])
with torch.no_grad():
    start = time.perf_counter()
    out = model(hidden_states=x, timestep=t, encoder_hidden_states=text, return_dict=False)[0]
    seconds = time.perf_counter() - start
assert torch.isfinite(out).all()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"impl": "diffusers", "forward_seconds": round(seconds, 3), "peak_rss_mib": round(peak),
                  "torch": torch.__version__, "threads": torch.get_num_threads()}))
