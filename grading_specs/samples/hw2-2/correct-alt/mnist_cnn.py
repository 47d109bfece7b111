"""HW2-2, written independently: 3x3 convolutions with batch normalisation, dropout before
the classifier (about 52k parameters); numpy conv2d with sliding_window_view + einsum.
Weights trained at home for 4 epochs on the full training set, saved with
torch.save(model.state_dict(), "weights.pt")."""

import numpy as np
import torch
from torch import nn


def conv2d(x, w, b):
    kh, kw = w.shape[2], w.shape[3]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    # windows: (C_in, H-kh+1, W-kw+1, kh, kw)
    return np.einsum("cijuv,ocuv->oij", windows, w) + b[:, None, None]


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def build_model():
    return SmallNet()
