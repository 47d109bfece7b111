"""An independent solution of hw4-3: the generator works in [-1, 1] internally (tanh) and
maps its output to [0, 1]; losses via binary_cross_entropy_with_logits; one-sided label
smoothing for the discriminator."""

import torch
import torch.nn.functional as F
from torch import nn


def discriminator_loss(real_logits, fake_logits):
    real_logits = torch.as_tensor(real_logits)
    fake_logits = torch.as_tensor(fake_logits)
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits):
    fake_logits = torch.as_tensor(fake_logits)
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(64, 256), nn.LeakyReLU(0.2), nn.BatchNorm1d(256),
            nn.Linear(256, 512), nn.LeakyReLU(0.2), nn.BatchNorm1d(512),
            nn.Linear(512, 784), nn.Tanh(),
        )  # fmt: skip

    def forward(self, z):
        x = self.body(z)
        return ((x + 1) / 2).view(-1, 1, 28, 28)  # tanh's [-1, 1] -> pixels in [0, 1]


def build_generator():
    return Generator()


def train(generator, images, config, log):
    dev = config["device"]
    disc = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 384), nn.LeakyReLU(0.2), nn.Linear(384, 192),
        nn.LeakyReLU(0.2), nn.Linear(192, 1),
    ).to(dev)  # fmt: skip
    og = torch.optim.Adam(generator.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    od = torch.optim.Adam(disc.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    bs = config["batch_size"]
    for _ in range(config["epochs"]):
        perm = torch.randperm(len(images), device=dev)
        dl = gl = 0.0
        for i in range(0, len(images) - bs + 1, bs):
            real = images[perm[i : i + bs]]
            fake = generator(torch.randn(bs, 64, device=dev))
            r_logits, f_logits = disc(real), disc(fake.detach())
            d = F.binary_cross_entropy_with_logits(r_logits, torch.full_like(r_logits, 0.9))
            d = d + F.binary_cross_entropy_with_logits(f_logits, torch.zeros_like(f_logits))
            od.zero_grad()
            d.backward()
            od.step()
            g = generator_loss(disc(fake))
            og.zero_grad()
            g.backward()
            og.step()
            dl, gl = d.item(), g.item()
        log({"d_loss": dl, "g_loss": gl})
    return generator
