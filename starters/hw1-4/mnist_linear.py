"""HW1-4 MNIST with a linear model (作业 1-4：MNIST 线性模型 / softmax 回归) -- starter code.

Implement the three functions below; replace each ``raise NotImplementedError`` with your
code.  请实现下面三个函数，把 ``raise NotImplementedError`` 替换为你的代码。

- softmax_cross_entropy: numpy only, numerically stable.  只用 numpy，注意数值稳定性。
- build_model: one nn.Linear(784, 10) after flattening; at most 7850 parameters.
  展平后只有一个线性层，参数不超过 7850 个。
- train: your own mini-batch training loop (the grader calls it).  你自己的小批量训练循环。

The grader gives images as float32 tensors (N, 1, 28, 28) with values in [0, 1] and labels
as int64 tensors (N,) with values 0..9.  Do not import sklearn, torchvision.models, keras or
tensorflow.  Submit this single file, mnist_linear.py.  提交本文件 mnist_linear.py。
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of softmax(logits) against integer labels, in numpy.

    logits: (n, k) float array of scores.  labels: (n,) integers in [0, k).
    Returns the float  mean_i( -log softmax(logits[i])[labels[i]] )
                     = mean_i( logsumexp(logits[i]) - logits[i, labels[i]] ).
    Must be numerically stable: logits may be as large as +-1000.
    """
    # 1. subtract each row's maximum (does not change the result, prevents overflow)
    # 2. logsumexp = max + log(sum(exp(logits - max)))
    # 3. loss_i = logsumexp_i - logits[i, labels[i]];  return the mean as a float
    raise NotImplementedError(
        "TODO: 实现 softmax_cross_entropy / implement softmax_cross_entropy (log-sum-exp)"
    )


def build_model() -> nn.Module:
    """The linear classifier: (N, 1, 28, 28) images -> (N, 10) logits.

    Flatten each image to a 784-vector x and return W x + b, with W (10, 784) and b (10,):
    7850 parameters.  No hidden layer and no activation (softmax is part of the loss).
    """
    # nn.Sequential(...) with nn.Flatten() and nn.Linear(in_features, out_features)
    raise NotImplementedError(
        "TODO: 实现 build_model / implement build_model (nn.Flatten + nn.Linear)"
    )


def train(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: dict, log
) -> nn.Module:
    """Train ``model`` in place with mini-batch gradient descent on the cross-entropy loss.

    images: (N, 1, 28, 28) float32 in [0, 1].  labels: (N,) int64 in 0..9.
    config: {"epochs", "batch_size", "lr", "seed", "optimizer"} ("sgd" or "adam").
    log: call log({"loss": ..., "train_accuracy": ...}) once at the end of every epoch
         with the mean training loss and the training accuracy of that epoch.
    """
    # for each epoch:
    #     shuffle the indices (torch.randperm), then for each mini-batch of config['batch_size']:
    #         logits = model(x_batch); loss = nn.CrossEntropyLoss()(logits, y_batch)
    #         optimizer.zero_grad(); loss.backward(); optimizer.step()
    #     log({'loss': mean loss of the epoch, 'train_accuracy': fraction correct in the epoch})
    # Create the optimizer from config['optimizer'] ('adam' or 'sgd') and config['lr'].
    raise NotImplementedError("TODO: 实现 train / implement your training loop")
