"""An independent solution of hw4-2: wider MLPs, binary cross-entropy, one training
helper with an optional corruption and an optional L1 term."""

import torch
from torch import nn


class AE(nn.Module):
    def __init__(self, code, sparse=False):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 128), nn.ReLU(),
            nn.Linear(128, code),
        )  # fmt: skip
        self.sparse = sparse
        self.dec = nn.Sequential(
            nn.Linear(code, 128), nn.ReLU(), nn.Linear(128, 400), nn.ReLU(), nn.Linear(400, 784),
        )  # fmt: skip

    def encode(self, x):
        h = self.enc(x)
        return torch.relu(h) if self.sparse else h

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


def build_autoencoder():
    return AE(24)


def build_denoising_autoencoder():
    return AE(32)


def build_sparse_autoencoder():
    return AE(64, sparse=True)


def run(model, images, config, log, noise=0.0, l1=0.0):
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    bce = nn.BCELoss()
    g = torch.Generator().manual_seed(config["seed"] + 7)
    for _ in range(config["epochs"]):
        perm = torch.randperm(images.shape[0], generator=g)
        losses = []
        for i in range(0, len(perm), config["batch_size"]):
            target = images[perm[i : i + config["batch_size"]]]
            x = target
            if noise > 0:
                x = torch.clamp(target + noise * torch.randn_like(target), 0, 1)
            code = model.encode(x)
            loss = bce(model.decode(code), target)
            if l1 > 0:
                loss = loss + l1 * code.abs().sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        log({"loss": sum(losses) / len(losses)})
    return model


def train_autoencoder(model, images, config, log):
    return run(model, images, config, log)


def train_denoising_autoencoder(model, images, config, log):
    return run(model, images, config, log, noise=config["noise_std"])


def train_sparse_autoencoder(model, images, config, log):
    return run(model, images, config, log, l1=config["l1"])
