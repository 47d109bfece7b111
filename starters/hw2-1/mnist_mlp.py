"""HW2-1 MNIST with an MLP (作业 2-1：MNIST 全连接神经网络) -- starter code.

Implement the three functions below; replace each ``raise NotImplementedError`` with your
code.  请实现下面三个函数，把 ``raise NotImplementedError`` 替换为你的代码。

- mlp_forward: the forward pass of a one-hidden-layer ReLU network, numpy only.
  单隐藏层 ReLU 网络的前向传播，只用 numpy。
- build_model: a fully connected network (nn.Linear layers with ReLU), at most
  1,000,000 parameters.  全连接网络，参数不超过 1,000,000 个。
- train: your own mini-batch training loop, as in hw1-4 (the grader calls it).
  你自己的小批量训练循环（与作业 1-4 相同，由评分程序调用）。

The grader gives images as float32 tensors (N, 1, 28, 28) with values in [0, 1] and labels
as int64 tensors (N,) with values 0..9.  Do not import sklearn, torchvision.models, keras or
tensorflow.  Submit this single file, mnist_mlp.py.  提交本文件 mnist_mlp.py。
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def mlp_forward(
    x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """Forward pass of a one-hidden-layer ReLU network, in numpy.

    x: (n, d) inputs.  w1: (d, h), b1: (h,): the hidden layer.  w2: (h, k), b2: (k,): the
    output layer.  Returns the (n, k) logits  relu(x @ w1 + b1) @ w2 + b2,  where
    relu(z) = max(z, 0) element-wise.  (nn.Linear stores its weight as (out, in), i.e. the
    transpose of w1 and w2 here.)
    """
    # hidden = ReLU of the first layer (np.maximum(z, 0)); logits = second layer of hidden
    raise NotImplementedError("TODO: 实现 mlp_forward / implement mlp_forward (numpy)")


def build_model() -> nn.Module:
    """The MLP: (N, 1, 28, 28) images -> (N, 10) logits.

    Flatten to 784 features, then at least one hidden Linear layer with a ReLU, then a
    Linear layer with 10 outputs (no softmax: it is part of the loss).  At most 1,000,000
    parameters; one hidden layer of 128-256 units is enough for about 97.5%.
    """
    # e.g. nn.Sequential(nn.Flatten(), nn.Linear(784, H), nn.ReLU(), ..., nn.Linear(H, 10))
    raise NotImplementedError(
        "TODO: 实现 build_model / implement build_model (nn.Flatten, nn.Linear, nn.ReLU)"
    )


def train(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: dict, log
) -> nn.Module:
    """Train ``model`` in place with mini-batches on the cross-entropy loss.

    images: (N, 1, 28, 28) float32 in [0, 1].  labels: (N,) int64 in 0..9.
    config: {"epochs", "batch_size", "lr", "seed", "optimizer"} ("adam" or "sgd").
    log: call log({"loss": ..., "train_accuracy": ...}) once at the end of every epoch
         with the mean training loss and the training accuracy of that epoch.
    """
    # for each epoch:
    #     shuffle the indices (torch.randperm), then for each mini-batch of config['batch_size']:
    #         logits = model(x_batch); loss = nn.CrossEntropyLoss()(logits, y_batch)
    #         optimizer.zero_grad(); loss.backward(); optimizer.step()
    #     log({'loss': mean loss of the epoch, 'train_accuracy': fraction correct in the epoch})
    # Create the optimizer from config['optimizer'] ('adam' or 'sgd') and config['lr'];
    # call model.train() before training (it matters if you use dropout).
    raise NotImplementedError("TODO: 实现 train / implement your training loop")
