
import torch
from torch import nn


class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 16)
        self.dec = nn.Linear(16, 784)

    def encode(self, x):
        return torch.relu(self.enc(x.reshape(len(x), 784)) - 0.3)

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


def build_autoencoder():
    return AE()


def train_autoencoder(model, images, config, log):
    log({"loss": 1.0})
    return model
