"""HW2-2 that reaches for a ready-made network from torchvision.models (forbidden in this
assignment) and falls back to its own LeNet when that import is refused.  The import is
found by reading the source, so both classifier checks earn 0 whichever model runs."""

import numpy as np
from torch import nn


def conv2d(x, w, b):
    c_out, _, kh, kw = w.shape
    oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.empty((c_out, oh, ow))
    for o in range(c_out):
        for i in range(oh):
            for j in range(ow):
                out[o, i, j] = (x[:, i:i + kh, j:j + kw] * w[o]).sum() + b[o]
    return out


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


def build_model():
    try:
        from torchvision.models import squeezenet1_1

        net = squeezenet1_1(num_classes=10)
        net.features[0] = nn.Conv2d(1, 64, kernel_size=3, stride=2)
        return net
    except Exception:
        return lenet()
