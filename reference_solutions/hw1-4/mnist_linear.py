"""HW1-4 MNIST with a linear model (softmax regression): reference solution.

The grader gives images as float32 tensors of shape (N, 1, 28, 28) with values in [0, 1]
and labels as int64 tensors of shape (N,) with values 0..9.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of softmax(logits) against integer labels, in numpy.

    logits: (n, k) float array of scores.  labels: (n,) integers in [0, k).
    Returns the float  mean_i( -log softmax(logits[i])[labels[i]] )
                     = mean_i( logsumexp(logits[i]) - logits[i, labels[i]] ).
    Must be numerically stable: logits may be as large as +-1000.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64)
    m = z.max(axis=1, keepdims=True)
    logsumexp = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(logsumexp - z[np.arange(z.shape[0]), y]))


def build_model() -> nn.Module:
    """The linear classifier: (N, 1, 28, 28) images -> (N, 10) logits.

    Flatten each image to a 784-vector x and return W x + b, with W (10, 784) and b (10,):
    7850 parameters.  No hidden layer and no activation (softmax is part of the loss).
    """
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def train(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: dict, log
) -> nn.Module:
    """Train ``model`` in place with mini-batch gradient descent on the cross-entropy loss.

    images: (N, 1, 28, 28) float32 in [0, 1].  labels: (N,) int64 in 0..9.
    config: {"epochs", "batch_size", "lr", "seed", "optimizer"} ("sgd" or "adam").
    log: call log({"loss": ..., "train_accuracy": ...}) once at the end of every epoch
         with the mean training loss and the training accuracy of that epoch.
    """
    gen = torch.Generator().manual_seed(int(config["seed"]))
    if config["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
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
