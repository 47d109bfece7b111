"""HW2-1 MNIST with a fully connected network (MLP): reference solution.

The grader gives images as float32 tensors of shape (N, 1, 28, 28) with values in [0, 1]
and labels as int64 tensors of shape (N,) with values 0..9.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def mlp_forward(
    x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """Forward pass of a one-hidden-layer ReLU network, in numpy.

    x: (n, d) inputs.  w1: (d, h), b1: (h,): the hidden layer.  w2: (h, k), b2: (k,): the
    output layer.  Returns the (n, k) logits  relu(x @ w1 + b1) @ w2 + b2,  where
    relu(z) = max(z, 0) element-wise.  (nn.Linear stores its weight as (out, in), i.e. the
    transpose of w1 and w2 here.)
    """
    hidden = np.maximum(x @ w1 + b1, 0.0)
    return hidden @ w2 + b2


def build_model() -> nn.Module:
    """The MLP: (N, 1, 28, 28) images -> (N, 10) logits.

    Flatten to 784 features, then at least one hidden Linear layer with a ReLU, then a
    Linear layer with 10 outputs (no softmax: it is part of the loss).  At most 1,000,000
    parameters; one hidden layer of 128-256 units is enough for about 97.5%.
    """
    # 784 -> 256 -> ReLU -> 10: 203,530 parameters
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def train(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: dict, log
) -> nn.Module:
    """Train ``model`` in place with mini-batches on the cross-entropy loss.

    images: (N, 1, 28, 28) float32 in [0, 1].  labels: (N,) int64 in 0..9.
    config: {"epochs", "batch_size", "lr", "seed", "optimizer"} ("adam" or "sgd").
    log: call log({"loss": ..., "train_accuracy": ...}) once at the end of every epoch
         with the mean training loss and the training accuracy of that epoch.
    """
    gen = torch.Generator().manual_seed(int(config["seed"]))
    if config["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss()
    n, bs = images.shape[0], int(config["batch_size"])
    for _ in range(int(config["epochs"])):
        model.train()
        order = torch.randperm(n, generator=gen)
        total, correct = 0.0, 0
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            x, y = images[idx], labels[idx]
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (logits.argmax(dim=1) == y).sum().item()
        log({"loss": total / n, "train_accuracy": correct / n})
    return model
