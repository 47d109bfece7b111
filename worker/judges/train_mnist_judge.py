"""Train the MNIST judge (run once, by hand, with the sandbox venv's torch).

    .venv-sandbox/bin/python worker/judges/train_mnist_judge.py [--mnist ../shared/data/mnist]

The judge is an MLP 784-256-128-10 (ReLU), trained on the 60,000 TRAINING images only
(never on the test split), with small random shifts as augmentation so that it is not
thrown by digits a few pixels off centre (generated samples often are). It writes
worker/judges/mnist_judge.npz (float32 arrays w1 b1 w2 b2 w3 b3, plus the test
accuracy) and prints the file's sha256, which must then be copied into JUDGE_SHA256 in
worker/judges/mnist_judge.py (the loader refuses any other file).

The grader evaluates the judge in numpy (worker/judges/mnist_judge.py); the service
never imports torch. Input: images as float in [0, 1], shape (N, 28, 28) or (N, 784).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "mnist_judge.npz"


def idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def shift(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random integer translations of a batch of (B, 28, 28) images, zero padded."""
    b = x.shape[0]
    padded = torch.nn.functional.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, :, None].expand(b, 28, 28)
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, :].expand(b, 28, 28)
    return padded[torch.arange(b)[:, None, None], rows, cols]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mnist", type=Path, default=ROOT.parents[2] / "shared/data/mnist")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = torch.from_numpy(idx(args.mnist / "train-images-idx3-ubyte.gz").astype(np.float32) / 255)
    y = torch.from_numpy(idx(args.mnist / "train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(idx(args.mnist / "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    yt = torch.from_numpy(idx(args.mnist / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(256, 128),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), 128):
            i = order[start : start + 128]
            batch = shift(x[i], gen) if epoch < args.epochs - 2 else x[i]
            loss = loss_fn(model(batch), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.1f} s)")
    layers = [m for m in model if isinstance(m, nn.Linear)]
    arrays = {}
    for k, layer in enumerate(layers, 1):
        arrays[f"w{k}"] = layer.weight.detach().numpy().T.astype(np.float32).copy()
        arrays[f"b{k}"] = layer.bias.detach().numpy().astype(np.float32).copy()
    arrays["test_accuracy"] = np.array(acc, dtype=np.float64)
    np.savez(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), test accuracy {acc:.4f}")
    print("sha256", hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
