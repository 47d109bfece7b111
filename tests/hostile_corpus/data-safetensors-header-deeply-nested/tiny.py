import torch
from torch import nn


def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def train(model, images, labels, config, log):
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    gen = torch.Generator().manual_seed(config["seed"])
    for _ in range(config["epochs"]):
        order = torch.randperm(len(images), generator=gen)
        total, correct = 0.0, 0
        for start in range(0, len(images), config["batch_size"]):
            idx = order[start : start + config["batch_size"]]
            out = model(images[idx])
            loss = nn.functional.cross_entropy(out, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += int((out.argmax(1) == labels[idx]).sum())
        log({"loss": total / len(images), "train_accuracy": correct / len(images)})
