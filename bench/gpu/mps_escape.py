"""Run INSIDE a GPU box (bench/gpu/check.py): can the box lift its own MPS memory cap?

Three child processes each try to take 3 GiB of GPU memory on a box allowed 2 GiB: one
with CUDA_MPS_PINNED_DEVICE_MEM_LIMIT raised to 64 GiB, one with it removed, one with the
box's own. Each prints one line: "<label> ESCAPED|held <the end of its error>".
"""

import os
import subprocess
import sys

PROBE = (
    "import torch; x = torch.empty(3 * 2**30, dtype=torch.uint8, device='cuda'); "
    "x.fill_(1); print('ALLOCATED', x.numel())"
)
KEY = "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"

for label, env in (
    ("raised", dict(os.environ, **{KEY: "0=64G"})),
    ("removed", {k: v for k, v in os.environ.items() if k != KEY}),
    ("kept", dict(os.environ)),
):
    p = subprocess.run(
        [sys.executable, "-c", PROBE], check=False, env=env, capture_output=True, text=True
    )
    tail = p.stderr.strip().splitlines()[-1:] or [""]
    print(label, "ESCAPED" if "ALLOCATED" in p.stdout else "held", tail[0][-160:], flush=True)
