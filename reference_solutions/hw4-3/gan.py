"""HW4-3 reference solution: a GAN on MNIST (MLP generator and discriminator).

Interfaces the grader uses (see starters/hw4-3/README.md):
- discriminator_loss(real_logits, fake_logits), generator_loss(fake_logits): scalar losses
  from raw discriminator logits (tensors or numpy arrays), numerically stable;
- build_generator(): nn.Module mapping noise z (N, 64) to images (N, 1, 28, 28) in [0, 1];
- train(generator, images, config, log): trains the generator (with a discriminator it
  builds itself) on images (N, 1, 28, 28) in [0, 1]; returns the trained generator.
"""

import time

import torch
import torch.nn.functional as F
from torch import nn

LATENT = 64


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy: real images labelled 1, generated images labelled 0 (mean of
    the two averages), computed from logits with the stable softplus form."""
    real = torch.as_tensor(real_logits)
    fake = torch.as_tensor(fake_logits)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(fake_logits):
    """The non-saturating generator loss: -log D(G(z)) = softplus(-logit), averaged."""
    return F.softplus(-torch.as_tensor(fake_logits)).mean()


def build_generator():
    return nn.Sequential(
        nn.Linear(LATENT, 256),
        nn.BatchNorm1d(256),
        nn.ReLU(),
        nn.Linear(256, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(),
        nn.Linear(512, 784),
        nn.Sigmoid(),
        nn.Unflatten(1, (1, 28, 28)),
    )


def build_discriminator():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )


def train(generator, images, config, log):
    device = images.device
    gen = torch.Generator(device="cpu").manual_seed(config["seed"])
    disc = build_discriminator().to(device)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    n, bs = len(images), config["batch_size"]
    budget = config.get("time_budget", float("inf"))
    started = time.perf_counter()
    for _ in range(config["epochs"]):
        order = torch.randperm(n, generator=gen).to(device)
        d_total = g_total = 0.0
        steps = 0
        for start in range(0, n - bs + 1, bs):
            real = images[order[start : start + bs]]
            z = torch.randn(bs, LATENT, device=device)
            fake = generator(z)
            d_loss = discriminator_loss(disc(real), disc(fake.detach()))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = generator_loss(disc(fake))
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            d_total += d_loss.item()
            g_total += g_loss.item()
            steps += 1
        log({"d_loss": d_total / steps, "g_loss": g_total / steps})
        if time.perf_counter() - started > budget:
            break
    return generator
