"""hw4-2 with one bug: the sparse auto-encoder's L1 penalty never reaches the loss (its
weight is read from the wrong key and defaults to 0), so its codes are not sparse."""

import torch
from torch import nn


def _mlp(sizes, last=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class Net(nn.Module):
    def __init__(self, code, code_act=None):
        super().__init__()
        self.enc = _mlp([784, 256, code], code_act)
        self.dec = _mlp([code, 256, 784], nn.Sigmoid())

    def encode(self, x):
        return self.enc(x.flatten(1))

    def decode(self, z):
        return self.dec(z).unflatten(1, (1, 28, 28))


def build_autoencoder():
    return Net(32)


def build_denoising_autoencoder():
    return Net(32)


def build_sparse_autoencoder():
    return Net(64, nn.ReLU())


def fit(model, images, config, log, noise_std=0.0, l1=0.0):
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for _ in range(config["epochs"]):
        order = torch.randperm(len(images))
        total = 0.0
        for start in range(0, len(images), config["batch_size"]):
            clean = images[order[start : start + config["batch_size"]]]
            noisy = (clean + noise_std * torch.randn_like(clean)).clamp(0, 1)
            code = model.encode(noisy)
            loss = ((model.decode(code) - clean) ** 2).mean() + l1 * code.abs().sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        log({"loss": total})
    return model


def train_autoencoder(model, images, config, log):
    return fit(model, images, config, log)


def train_denoising_autoencoder(model, images, config, log):
    return fit(model, images, config, log, noise_std=config["noise_std"])


def train_sparse_autoencoder(model, images, config, log):
    return fit(model, images, config, log, l1=config.get("l1_weight", 0.0))  # BUG: key is "l1"
