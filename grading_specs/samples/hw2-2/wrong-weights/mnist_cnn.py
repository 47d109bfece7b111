"""HW2-2 whose uploaded weights.pt was saved from an earlier version of the model (hidden
layer of 100 units); the code was then changed to 128 units without retraining, so the
state_dict no longer fits: strict loading fails for the uploaded-weights question.
The architecture itself is fine when the grader trains it."""

import numpy as np
from torch import nn


def conv2d(x, w, b):
    c_out, c_in, kh, kw = w.shape
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    cols = np.stack([x[:, u:u + oh, v:v + ow] for u in range(kh) for v in range(kw)], axis=1)
    # cols: (c_in, kh*kw, oh, ow)
    return np.tensordot(w.reshape(c_out, c_in, kh * kw), cols, axes=([1, 2], [0, 1])) + b[:, None, None]


HIDDEN = 128  # was 100 when weights.pt was trained


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(10, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(320, HIDDEN), nn.ReLU(),
        nn.Linear(HIDDEN, 10),
    )
