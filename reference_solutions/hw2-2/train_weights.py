"""Train the reference CNN on the full MNIST training set and save weights.safetensors.

This regenerates reference_solutions/hw2-2/weights.safetensors, the reference answer of the
uploaded-weights question.  It is the same procedure a student would follow at home:

    cd reference_solutions/hw2-2
    python train_weights.py --data ../../../shared/data/mnist   # 1-2 minutes on 2 CPU cores

Only torch, numpy and safetensors are needed (no torchvision); the four MNIST files are read
directly from their IDX .gz format.  Deterministic for a given --seed on the same machine
and torch version (CPU, 2 threads).
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from mnist_cnn import build_model
from safetensors.torch import save_file
from torch import nn

HERE = Path(__file__).resolve().parent


def read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        return np.frombuffer(fh.read(), dtype=np.uint8, offset=offset)


def load_mnist(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 (N, 1, 28, 28) in [0, 1] (as the grader gives them), labels int64."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 8)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        preds = torch.cat([model(x[i : i + 1000]).argmax(dim=1) for i in range(0, len(x), 1000)])
    return (preds == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "../../../shared/data/mnist")
    parser.add_argument("--out", type=Path, default=HERE / "weights.safetensors")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load_mnist(args.data, "train")
    # 5,000 training images held out for validation: the test set is never used for training
    # decisions (the grader scores on it).
    x_train, y_train, x_val, y_val = x[:55000], y[:55000], x[55000:], y[55000:]

    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # lower the learning rate for the last epochs: a few tenths of a point on MNIST
    sched = torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[args.epochs * 5 // 8, args.epochs * 7 // 8], gamma=0.3
    )
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    n = len(x_train)
    for epoch in range(args.epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, args.batch_size):
            idx = order[start : start + args.batch_size]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        print(
            f"epoch {epoch + 1}: loss {total / n:.4f}, "
            f"validation accuracy {accuracy(model, x_val, y_val):.4f} "
            f"({time.perf_counter() - started:.1f} s)",
            flush=True,
        )

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(args.out))
    args.out.chmod(0o644)  # the grader's sandbox user must be able to read it
    x_test, y_test = load_mnist(args.data, "test")
    print(f"saved {args.out}; test accuracy {accuracy(model, x_test, y_test):.4f}")


if __name__ == "__main__":
    main()
