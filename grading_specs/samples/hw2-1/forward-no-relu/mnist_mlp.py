"""HW2-1 whose numpy forward pass forgets the ReLU (two linear layers in a row).  The
torch model is right, so only the numpy check fails."""

import numpy as np
import torch
from torch import nn


def mlp_forward(x, w1, b1, w2, b2):
    return (x @ w1 + b1) @ w2 + b2  # BUG: no activation between the layers


def build_model():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 200), nn.ReLU(),
        nn.Linear(200, 100), nn.ReLU(),
        nn.Linear(100, 10),
    )


def train(model, images, labels, config, log):
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(config["seed"])
    n = images.shape[0]
    for _ in range(config["epochs"]):
        perm = torch.randperm(n, generator=gen)
        s_loss, s_acc = 0.0, 0
        for start in range(0, n, config["batch_size"]):
            b = perm[start:start + config["batch_size"]]
            logits = model(images[b])
            loss = loss_fn(logits, labels[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            s_loss += loss.item() * len(b)
            s_acc += (logits.argmax(1) == labels[b]).sum().item()
        log({"loss": s_loss / n, "train_accuracy": s_acc / n})
