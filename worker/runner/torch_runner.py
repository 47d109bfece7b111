"""The in-sandbox runner of the train and predict phases (torch, numpy, safetensors).

Runs INSIDE the sandbox and has no authority: student code shares this process, so
everything written here is untrusted data checked again outside.

    python torch_runner.py train    # /job/in/phase.json; data at /data/train_*.npy
    python torch_runner.py predict  # /job/in/phase.json and test_images.npy; weights in /job/in

Artifacts in /job/rw/out:
    train:   weights.safetensors, metrics.jsonl (one line per epoch), result.json
    predict: predictions.npy (int64, one label per test image), result.json
    convert: weights.safetensors, from a torch.save upload in /job/in (a box with no
             student code: /job/src is empty), result.json
"""

from __future__ import annotations

import os
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T0
from runner_common import (  # noqa: E402
    IN_DIR,
    OUT_DIR,
    announce_start,
    append_metrics,
    epoch_logger,
    phase_main,
)
from torch_common import build, device_for, set_threads  # noqa: E402

announce_start()
DATA_DIR = "/data"


def images(name, limit, folder=DATA_DIR):
    arr = np.load(os.path.join(folder, name), allow_pickle=False)
    if limit:
        arr = arr[:limit]
    return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)


def grader_loop(model, x, y, cfg):
    gen = torch.Generator().manual_seed(cfg["seed"])
    params = list(model.parameters())
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(params, lr=cfg["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    for epoch in range(cfg["epochs"]):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen).to(x.device)
        total_loss, correct = 0.0, 0
        for start in range(0, n, cfg["batch_size"]):
            idx = order[start : start + cfg["batch_size"]]
            logits = model(x[idx])
            loss = loss_fn(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y[idx]).sum())
        append_metrics(
            {
                "epoch": epoch + 1,
                "loss": total_loss / n,
                "train_accuracy": correct / n,
                "seconds": time.perf_counter() - started,
            }
        )


def student_loop(module, model, x, y, cfg, function):
    train = getattr(module, function, None)
    if not callable(train):
        raise LookupError(f"{module.__name__}.py has no function {function}()")
    log = epoch_logger()
    result = train(model, x, y, dict(cfg), log)
    return result if isinstance(result, torch.nn.Module) else model


def train_phase(phase):
    from safetensors.torch import save_file

    torch.manual_seed(phase["seed"])
    np.random.seed(phase["seed"] % 2**32)
    device = device_for(phase)
    module, model = build(phase)
    model = model.to(device)
    x = images("train_images.npy", phase.get("subset")).to(device)
    y = np.load(os.path.join(DATA_DIR, "train_labels.npy"), allow_pickle=False)
    y = torch.from_numpy(y[: x.shape[0]].astype(np.int64)).to(device)
    cfg = {k: phase[k] for k in ("epochs", "batch_size", "lr", "seed", "optimizer")}
    cfg["device"] = str(device)
    if phase["loop"] == "student":
        model = student_loop(module, model, x, y, cfg, phase["function"])
    else:
        grader_loop(model, x, y, cfg)
    state = {
        k: v.detach().contiguous().cpu()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)
    }
    save_file(state, os.path.join(OUT_DIR, "weights.safetensors"))


def load_weights(path):
    from safetensors.torch import load_file

    if path.endswith(".safetensors"):
        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TypeError("the weights file must hold a state_dict (a dict of tensors)")
    return state


def predict_phase(phase):

    torch.manual_seed(0)
    device = device_for(phase)
    _, model = build(phase)
    state = load_weights(os.path.join(IN_DIR, phase["weights"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise RuntimeError(
            "the weights do not fit the model built by "
            f"{phase['model']}(): {str(exc).splitlines()[0]}\n{exc}"
        ) from None
    x = images("test_images.npy", None, IN_DIR)
    shape = phase.get("input", {})  # a script's model: the input its training loop gave it
    if shape:
        x = (x - float(shape.get("mean", 0.0))) / float(shape.get("std", 1.0))
        if shape.get("shape") == "flat":
            x = x.reshape(x.shape[0], -1)
    model = model.to(device).eval()
    preds = []
    with torch.no_grad():
        for start in range(0, x.shape[0], 1000):
            logits = model(x[start : start + 1000].to(device))
            preds.append(torch.as_tensor(logits).argmax(dim=1).to(torch.int64).cpu().numpy())
    np.save(os.path.join(OUT_DIR, "predictions.npy"), np.concatenate(preds), allow_pickle=False)


def convert_phase(phase):
    """A torch.save state_dict as safetensors (nothing of the student's is imported here)."""
    from safetensors.torch import save_file

    state = load_weights(os.path.join(IN_DIR, phase["weights"]))
    tensors = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise TypeError("the weights file must hold a state_dict: names mapped to tensors")
        tensors[key] = value.detach().contiguous().cpu()
    save_file(tensors, os.path.join(OUT_DIR, "weights.safetensors"))


def main():
    phases = {"train": train_phase, "predict": predict_phase, "convert": convert_phase}
    phase_main(phases, IMPORT_SECONDS, set_threads)


if __name__ == "__main__":
    main()
