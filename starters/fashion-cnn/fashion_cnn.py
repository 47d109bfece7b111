"""Fashion-CNN: Fashion-MNIST with a CNN (Fashion-MNIST 服饰图像分类：卷积神经网络) -- starter.

Implement build_model() below; replace ``raise NotImplementedError`` with your code.
请实现下面的 build_model()，把 ``raise NotImplementedError`` 替换为你的代码。

The grader trains build_model() itself with a fixed recipe (see README.md) and scores its
accuracy on the hidden Fashion-MNIST test set.
评分程序用固定的训练方案训练你的 build_model()，并以它在隐藏测试集上的准确率评分
（见 README.zh.md）。

The grader gives images as float32 tensors (N, 1, 28, 28) with values in [0, 1].  Do not
import sklearn, torchvision.models, keras or tensorflow.
"""

from __future__ import annotations

from torch import nn


def build_model() -> nn.Module:
    """The CNN: (N, 1, 28, 28) images -> (N, 10) logits, at most 500,000 parameters.

    Convolutional blocks (nn.Conv2d, nn.BatchNorm2d, a non-linear activation, pooling),
    then nn.Flatten and nn.Linear layers; no softmax (it is part of the loss).
    """
    # e.g. nn.Sequential(nn.Conv2d(1, C1, 3, padding=1), nn.BatchNorm2d(C1), nn.ReLU(),
    #                   nn.MaxPool2d(2), ..., nn.Flatten(), nn.Linear(..., 10))
    # flattened size: each conv gives 28 + 2*padding - kernel + 1 pixels, each pool halves
    raise NotImplementedError(
        "TODO: 实现 build_model / implement build_model (Conv2d, BatchNorm2d, ReLU, "
        "MaxPool2d, Linear)"
    )
