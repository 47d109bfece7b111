"""HW2-1 with Adam at 100x the configured learning rate (0.1 instead of 1e-3)."""

import numpy as np
import torch
from torch import nn


def mlp_forward(x, w1, b1, w2, b2):
    return np.maximum(0, x @ w1 + b1) @ w2 + b2


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def train(model, images, labels, config, log):
    optimizer = torch.optim.Adam(model.parameters(), lr=100 * config["lr"])  # BUG
    criterion = nn.CrossEntropyLoss()
    n, bs = len(images), config["batch_size"]
    for epoch in range(config["epochs"]):
        order = torch.randperm(n)
        running, correct = 0.0, 0
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            out = model(images[idx])
            loss = criterion(out, labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * len(idx)
            correct += (out.argmax(1) == labels[idx]).sum().item()
        log({"loss": running / n, "train_accuracy": correct / n})
