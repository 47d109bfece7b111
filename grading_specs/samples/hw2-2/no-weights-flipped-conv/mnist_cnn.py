"""HW2-2 handed in without the trained weights file, and whose numpy conv2d flips the
kernel (a true mathematical convolution) where torch.nn.Conv2d, and the assignment,
use cross-correlation.  The CNN itself is fine."""

import numpy as np
import torch
from torch import nn


def conv2d(x, w, b):
    kh, kw = w.shape[-2:]
    flipped = w[:, :, ::-1, ::-1]  # BUG: nn.Conv2d does not flip
    out = np.zeros((w.shape[0], x.shape[1] - kh + 1, x.shape[2] - kw + 1))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            patch = x[:, i:i + kh, j:j + kw]
            out[:, i, j] = (flipped * patch[None]).sum(axis=(1, 2, 3))
    return out + b[:, None, None]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 12, 5)
        self.conv2 = nn.Conv2d(12, 24, 5)
        self.fc1 = nn.Linear(24 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def build_model():
    return Net()
