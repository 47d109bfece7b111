"""HW1-4 that lets scikit-learn fit the softmax regression and copies its coefficients
into the nn.Linear: a forbidden import (sklearn), found by reading the source."""

import numpy as np
import torch
from torch import nn


def softmax_cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def train(model, images, labels, config, log):
    from sklearn.linear_model import LogisticRegression

    x = images.reshape(len(images), -1).numpy()
    clf = LogisticRegression(max_iter=100).fit(x, labels.numpy())
    with torch.no_grad():
        model[1].weight.copy_(torch.from_numpy(clf.coef_).float())
        model[1].bias.copy_(torch.from_numpy(clf.intercept_).float())
    log({"loss": 0.0, "train_accuracy": float(clf.score(x, labels.numpy()))})
