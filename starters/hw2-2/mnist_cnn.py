"""HW2-2 MNIST with a CNN (作业 2-2：MNIST 卷积神经网络) -- starter code.

Implement the two functions below; replace each ``raise NotImplementedError`` with your
code.  请实现下面两个函数，把 ``raise NotImplementedError`` 替换为你的代码。

- conv2d: a convolutional layer in numpy (valid, stride 1).  用 numpy 实现卷积层。
- build_model: your CNN, at most 100,000 parameters.  你的卷积网络，参数不超过 100,000 个。

Question 1: the grader trains build_model() itself (Adam, lr 1e-3, batch 64, 3 epochs on
30,000 images).  Question 2: train the same build_model() yourself and also submit its
state_dict as weights.safetensors or weights.pt (see README.md).
问题 1 由评分程序训练你的 build_model()；问题 2 请自己训练同一个模型，并一同提交
weights.safetensors 或 weights.pt（见 README.zh.md）。

The grader gives images as float32 tensors (N, 1, 28, 28) with values in [0, 1].  Do not
import sklearn, torchvision.models, keras or tensorflow.
"""

from __future__ import annotations

import numpy as np
from torch import nn


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 2-D convolutional layer in numpy ("valid": no padding, stride 1).

    x: (C_in, H, W) one image with C_in channels.  w: (C_out, C_in, kh, kw) filters.
    b: (C_out,) biases.  Returns (C_out, H - kh + 1, W - kw + 1) with

        out[o, i, j] = b[o] + sum over c, u, v of  x[c, i + u, j + v] * w[o, c, u, v]

    i.e. cross-correlation, exactly what torch.nn.Conv2d computes (the filter is NOT
    flipped).
    """
    # slide the (C_in, kh, kw) window over every output position (i, j):
    # out[o, i, j] = sum(x[:, i:i+kh, j:j+kw] * w[o]) + b[o]   (no flipping)
    raise NotImplementedError("TODO: 实现 conv2d / implement conv2d (numpy)")


def build_model() -> nn.Module:
    """The CNN: (N, 1, 28, 28) images -> (N, 10) logits, at most 100,000 parameters.

    At least one nn.Conv2d layer with a non-linear activation; pooling to shrink the
    feature maps; nn.Flatten and nn.Linear layers at the end; no softmax (it is part of
    the loss).  A LeNet-5 style network (about 62k parameters) reaches about 98% when the
    grader trains it, and 99% when trained longer on all 60,000 images.
    """
    # e.g. nn.Sequential(nn.Conv2d(1, C1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), ...,
    #                   nn.Flatten(), nn.Linear(..., 10))
    # flattened size: each conv gives 28 + 2*padding - kernel + 1 pixels, each pool halves
    raise NotImplementedError(
        "TODO: 实现 build_model / implement build_model (Conv2d, ReLU, MaxPool2d, Linear)"
    )
