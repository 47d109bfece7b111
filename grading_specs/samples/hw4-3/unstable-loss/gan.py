"""hw4-3 with one bug: the losses take log(sigmoid(x)) literally, which is -inf (and the
loss inf or nan) once a logit is beyond about +-90 in float32."""

import torch
from torch import nn

Z = 64


def discriminator_loss(real_logits, fake_logits):
    real_logits, fake_logits = torch.as_tensor(real_logits), torch.as_tensor(fake_logits)
    # BUG: not numerically stable (use softplus or binary_cross_entropy_with_logits)
    real = -torch.log(torch.sigmoid(real_logits)).mean()
    fake = -torch.log(1 - torch.sigmoid(fake_logits)).mean()
    return real + fake


def generator_loss(fake_logits):
    return nn.functional.softplus(-torch.as_tensor(fake_logits)).mean()


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(Z, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid()
        )  # fmt: skip

    def forward(self, z):
        return self.fc(z).reshape(-1, 1, 28, 28)


def build_generator():
    return G()


def train(generator, images, config, log):
    disc = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
    disc = disc.to(config["device"])
    opt_g = torch.optim.Adam(generator.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config["lr"], betas=(0.5, 0.999))
    bs = config["batch_size"]
    # A short run (two epochs) keeps the test corpus quick: the bug shows whatever the length.
    for _ in range(min(2, config["epochs"])):
        perm = torch.randperm(len(images))
        for i in range(0, len(images) - bs + 1, bs):
            real = images[perm[i : i + bs]]
            fake = generator(torch.randn(bs, Z, device=images.device))
            d = discriminator_loss(disc(real), disc(fake.detach()))
            opt_d.zero_grad()
            d.backward()
            opt_d.step()
            g = generator_loss(disc(fake))
            opt_g.zero_grad()
            g.backward()
            opt_g.step()
        log({"d_loss": d.item(), "g_loss": g.item()})
    return generator
