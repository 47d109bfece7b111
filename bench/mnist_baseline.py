"""The in-process baseline of an MNIST check: the same model, data and training as the
grader's phases, in one long-lived process, timing only training and evaluation.

Run with the sandbox's Python (it has torch):
    .venv-sandbox/bin/python bench/mnist_baseline.py CONFIG_JSON
CONFIG_JSON: {"code_dir", "module", "model", "train": {...} | null, "weights": path | null,
              "prepared_dir", "train_subset", "test_subset", "threads", "device": "cpu"|"cuda"}
Prints one JSON line: {"train_seconds", "predict_seconds", "accuracy_unscored": false}.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RUNNER = Path(__file__).resolve().parent.parent / "worker" / "runner" / "torch_runner.py"


def load_runner():  # type: ignore[no-untyped-def]
    """The grader's own training loop, so the baseline trains exactly as a phase does."""
    sys.path.insert(0, str(RUNNER.parent))  # for runner_common
    spec = importlib.util.spec_from_file_location("torch_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tempfile.mkdtemp()
    module.OUT_DIR = out
    sys.modules["runner_common"].OUT_DIR = out  # the epoch metrics' writer
    return module


def tensors(prepared: Path, name: str, limit: int | None) -> torch.Tensor:
    arr = np.load(prepared / name, allow_pickle=False)
    arr = arr[:limit] if limit else arr
    return torch.from_numpy(arr.astype(np.float32) / 255.0).unsqueeze(1)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(int(cfg["threads"]))
    runner = load_runner()
    sys.path.insert(0, cfg["code_dir"])
    module = importlib.import_module(cfg["module"])
    prepared = Path(cfg["prepared_dir"])
    device = torch.device(cfg.get("device", "cpu"))
    x_test = tensors(prepared, "test_images.npy", cfg.get("test_subset")).to(device)
    train_seconds = 0.0
    if cfg["train"]:
        train = cfg["train"]
        torch.manual_seed(train["seed"])
        model = getattr(module, cfg["model"])().to(device)
        x = tensors(prepared, "train_images.npy", cfg.get("train_subset")).to(device)
        y = torch.from_numpy(np.load(prepared / "train_labels.npy")[: x.shape[0]].astype(np.int64))
        y = y.to(device)
        loop_cfg = {k: train[k] for k in ("epochs", "batch_size", "lr", "seed", "optimizer")}
        started = time.perf_counter()
        if train["loop"] == "student":
            loop_cfg["device"] = str(device)
            getattr(module, train["function"])(model, x, y, loop_cfg, lambda metrics: None)
        else:
            runner.grader_loop(model, x, y, loop_cfg)
        synchronize(device)
        train_seconds = time.perf_counter() - started
    else:
        model = getattr(module, cfg["model"])()
        model.load_state_dict(runner.load_weights(cfg["weights"]))
        model = model.to(device)
    synchronize(device)
    started = time.perf_counter()
    model.eval()
    with torch.no_grad():
        for start in range(0, x_test.shape[0], 1000):
            model(x_test[start : start + 1000]).argmax(1).cpu()
    predict_seconds = time.perf_counter() - started
    print(json.dumps({"train_seconds": train_seconds, "predict_seconds": predict_seconds}))


if __name__ == "__main__":
    main()
