"""HW2-1, written independently: 784-128-64-10 with dropout, an nn.Module subclass,
per-epoch batches from torch.split, SGD with Nesterov momentum when config says sgd and
Adam (with a small weight decay) otherwise; numpy forward with np.clip."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def mlp_forward(x, w1, b1, w2, b2):
    h = np.clip(np.dot(x, w1) + b1, 0, None)
    return np.dot(h, w2) + b2


class MLP(nn.Module):
    def __init__(self, sizes=(784, 128, 64, 10), p_drop=0.1):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.drop = nn.Dropout(p_drop)

    def forward(self, x):
        x = torch.flatten(x, start_dim=1)
        for layer in self.layers[:-1]:
            x = self.drop(F.relu(layer(x)))
        return self.layers[-1](x)


def build_model():
    return MLP()


def train(model, images, labels, config, log):
    g = torch.Generator().manual_seed(config["seed"] + 1)
    if config["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9, nesterov=True)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=1e-5)
    for epoch in range(config["epochs"]):
        model.train()
        seen, loss_sum, hits = 0, 0.0, 0
        for idx in torch.randperm(len(images), generator=g).split(config["batch_size"]):
            logits = model(images[idx])
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            hits += (logits.detach().argmax(-1) == labels[idx]).sum().item()
        log({"loss": loss_sum / seen, "train_accuracy": hits / seen})
    model.eval()
    return model
