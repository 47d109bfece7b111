"""HW1-4 where the targets are shifted by one class: the student believed the labels were
1..10 and "converted" them to 0..9 with a wrap-around.  The model learns digit d -> d-1."""

import numpy as np
import torch
from torch import nn


def softmax_cross_entropy(logits, labels):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(logits.shape[0]), labels]))


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def train(model, images, labels, config, log):
    targets = (labels - 1) % 10  # BUG: the labels were already 0..9
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss()
    n, bs = len(images), config["batch_size"]
    for epoch in range(config["epochs"]):
        perm = torch.randperm(n)
        total, right = 0.0, 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            out = model(images[idx])
            loss = loss_fn(out, targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
            right += int((out.argmax(1) == targets[idx]).sum())
        log({"loss": total / n, "train_accuracy": right / n})
