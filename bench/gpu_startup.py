"""Where a fresh GPU process spends its seconds before its first finished epoch.

Run on a GPU host with a Python that has torch (the sandbox's, or the host's):

    python bench/gpu_startup.py            # a fresh process, stage by stage
    python bench/gpu_startup.py --warm     # the same after worker/runner/warm_start.py's
                                           # warm-up (what a pre-warmed box has done)
    python bench/gpu_startup.py --cpu      # the same stages on the CPU (a rehearsal of
                                           # bench/gpu/check.py on a machine without GPU)

Each stage is timed with ``torch.cuda.synchronize()`` around it and printed as one JSON
line {"stage", "seconds"}; then two epochs of a small CNN over 60,000 MNIST-sized images
at batch 512 (synthetic data: the data's content does not change the time). Comparing
the two runs shows which first-use costs a warm box removes; ``python -X importtime``
on the first run names the imports behind the rest.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def stage(name: str, started: float) -> float:
    now = time.perf_counter()
    print(json.dumps({"stage": name, "seconds": round(now - started, 4)}), flush=True)
    return now


def main() -> None:
    t = T0
    device = "cpu" if "--cpu" in sys.argv else "cuda"
    if "--warm" in sys.argv:
        runner = Path(__file__).resolve().parent.parent / "worker" / "runner"
        for candidate in (runner, Path("/opt/runner")):  # the checkout, or inside a box
            sys.path.insert(0, str(candidate))
        import os

        if device == "cuda":
            os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
        import warm_start

        warm_start.warm("torch-train")
        t = stage("warm_start.warm(torch-train)", t)
    import torch
    from torch import nn

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    t = stage("import torch", t)
    torch.zeros(1, device=device)
    sync()
    t = stage(f"{device} init", t)
    a = torch.randn(256, 256, device=device)
    (a @ a).sum().item()
    t = stage("first matmul", t)
    torch.nn.functional.conv2d(
        torch.randn(8, 1, 28, 28, device=device), torch.randn(6, 1, 5, 5, device=device)
    )
    sync()
    t = stage("first conv2d", t)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 10),
    ).to(device)
    t = stage(f"build nn.Sequential on {device}", t)
    x = torch.randn(512, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (512,), device=device)
    out = model(x)
    sync()
    t = stage("first forward", t)
    loss = nn.functional.cross_entropy(out, y)
    loss.backward()
    sync()
    t = stage("first backward", t)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt.step()
    sync()
    t = stage("first Adam step", t)
    n = 60000 if device == "cuda" else 6000  # the CPU rehearsal: a tenth
    images = torch.randn(n, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (n,), device=device)
    sync()
    t = stage(f"{n:,} images to the device", t)
    for _ in range(2):
        for i in range(0, n, 512):
            opt.zero_grad()
            nn.functional.cross_entropy(model(images[i : i + 512]), labels[i : i + 512]).backward()
            opt.step()
    sync()
    t = stage("two epochs", t)
    stage("total", T0)


if __name__ == "__main__":
    main()
