"""HW4-2 reference solution: three auto-encoders on MNIST (plain, denoising, sparse).

Interfaces the grader uses (see starters/hw4-2/README.md): each build_...() returns an
nn.Module with encode(x) -> codes (N, d) and decode(codes) -> images (N, 1, 28, 28) in
[0, 1], for x of shape (N, 1, 28, 28) in [0, 1]; each train_...(model, images, config,
log) trains it on the training images and returns it.
"""

import torch
import torch.nn.functional as F
from torch import nn


class AutoEncoder(nn.Module):
    def __init__(self, latent, hidden=256, nonnegative_code=False):
        super().__init__()
        layers = [nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, latent)]
        if nonnegative_code:
            layers.append(nn.ReLU())
        self.encoder = nn.Sequential(*layers)
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 784),
            nn.Sigmoid(),
            nn.Unflatten(1, (1, 28, 28)),
        )

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


def build_autoencoder():
    return AutoEncoder(latent=32)


def build_denoising_autoencoder():
    return AutoEncoder(latent=32)


def build_sparse_autoencoder():
    return AutoEncoder(latent=64, nonnegative_code=True)


def _fit(model, images, config, log, corrupt=None, l1=0.0):
    gen = torch.Generator(device="cpu").manual_seed(config["seed"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    n, bs = len(images), config["batch_size"]
    model.train()
    for _ in range(config["epochs"]):
        order = torch.randperm(n, generator=gen).to(images.device)
        total_recon = total_l1 = 0.0
        for start in range(0, n, bs):
            clean = images[order[start : start + bs]]
            seen = corrupt(clean) if corrupt else clean
            codes = model.encode(seen)
            recon = F.mse_loss(model.decode(codes), clean)
            sparsity = codes.abs().sum(dim=1).mean()
            loss = recon + l1 * sparsity
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_recon += recon.item() * len(clean)
            total_l1 += sparsity.item() * len(clean)
        log({"loss": total_recon / n, "recon_loss": total_recon / n, "l1": total_l1 / n})
    return model


def train_autoencoder(model, images, config, log):
    return _fit(model, images, config, log)


def train_denoising_autoencoder(model, images, config, log):
    std = config["noise_std"]

    def corrupt(x):
        return (x + std * torch.randn_like(x)).clamp(0.0, 1.0)

    return _fit(model, images, config, log, corrupt=corrupt)


def train_sparse_autoencoder(model, images, config, log):
    return _fit(model, images, config, log, l1=config["l1"])
