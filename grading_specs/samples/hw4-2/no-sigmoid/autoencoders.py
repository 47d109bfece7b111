"""hw4-2 with one bug: the plain auto-encoder's decoder has no final sigmoid (its output
is unbounded; MSE training keeps it near [0, 1] but not inside it)."""

import torch.nn.functional as F
from torch import nn


class Plain(nn.Module):
    def __init__(self, code=32, out_act=True, relu_code=False):
        super().__init__()
        self.e1, self.e2 = nn.Linear(784, 300), nn.Linear(300, code)
        self.d1, self.d2 = nn.Linear(code, 300), nn.Linear(300, 784)
        self.out_act, self.relu_code = out_act, relu_code

    def encode(self, x):
        z = self.e2(F.relu(self.e1(x.reshape(x.shape[0], -1))))
        return F.relu(z) if self.relu_code else z

    def decode(self, z):
        y = self.d2(F.relu(self.d1(z)))
        if self.out_act:
            y = y.sigmoid()
        return y.reshape(-1, 1, 28, 28)


def build_autoencoder():
    return Plain(out_act=False)  # BUG: no sigmoid at the end of the decoder


def build_denoising_autoencoder():
    return Plain()


def build_sparse_autoencoder():
    return Plain(code=64, relu_code=True)


def _train(model, images, config, log, noise=None, l1=0.0):
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for _ in range(config["epochs"]):
        idx = torch.randperm(len(images))
        for s in range(0, len(images), config["batch_size"]):
            y = images[idx[s : s + config["batch_size"]]]
            x = y if noise is None else (y + noise * torch.randn_like(y)).clamp(0, 1)
            z = model.encode(x)
            loss = F.mse_loss(model.decode(z), y) + l1 * z.abs().sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        log({"loss": loss.item()})
    return model


def train_autoencoder(model, images, config, log):
    return _train(model, images, config, log)


def train_denoising_autoencoder(model, images, config, log):
    return _train(model, images, config, log, noise=config["noise_std"])


def train_sparse_autoencoder(model, images, config, log):
    return _train(model, images, config, log, l1=config["l1"])
