"""The in-sandbox runner of the train and predict phases of a NUMPY classifier (the
``classifier`` check with ``framework: numpy``). It never imports torch.

Runs INSIDE the sandbox and has no authority: student code shares this process, so
everything written here is untrusted data checked again outside.

    python numpy_phase_runner.py train    # /job/in/phase.json; data at /data/train_*.npy
    python numpy_phase_runner.py predict  # /job/in/phase.json and test_images.npy;
                                          # weights in /job/in

The documented interface (``model`` names a function of the student's module)::

    net = build_model()
    net.params              # dict name -> numpy array
    loss = net.loss(x, y)   # x (N, 784) float64 in [0, 1], y (N,) int64; fills net.grads
    net.grads               # dict, same keys and shapes as params
    labels = net.predict(x) # (N,) integer labels (or (N, C) scores: their argmax is taken)

Train phase, ``loop: grader``: plain mini-batch SGD, ``params[k] -= lr * grads[k]`` in
place, batches shuffled with np.random.default_rng(seed). ``loop: student``: the module's
``train(net, x, y, cfg, log)`` is called (x float32 (N, 784), y int64 (N,); cfg has epochs,
batch_size, lr, seed; ``log({"loss": ..., "train_accuracy": ...})`` once per epoch) and
may return the trained net.

Artifacts in /job/rw/out:
    train:   weights.safetensors (net.params), metrics.jsonl (one line per epoch), result.json
    predict: predictions.npy (int64), result.json
"""

import json
import os
import time


def _pin_threads():
    """BLAS threads are fixed when numpy loads: take the job's share from phase.json first."""
    try:
        with open("/job/in/phase.json") as fh:
            threads = str(max(1, int(json.load(fh).get("threads", 1))))
    except (OSError, ValueError, TypeError, AttributeError):
        threads = "1"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads


_pin_threads()
T0 = time.perf_counter()
import numpy as np  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T0
from runner_common import (  # noqa: E402
    IN_DIR,
    OUT_DIR,
    announce_start,
    append_metrics,
    epoch_logger,
    import_student,
    phase_main,
)

announce_start()
DATA_DIR = "/data"
ACCURACY_SAMPLE = 5000


def images(name, limit, folder=DATA_DIR):
    """uint8 images as (N, 784) rows."""
    arr = np.load(os.path.join(folder, name), allow_pickle=False)
    if limit:
        arr = arr[:limit]
    return arr.reshape(len(arr), -1)


def scaled(batch):
    return batch.astype(np.float64) / 255.0


def build(phase):
    module = import_student(phase["module"])
    factory = getattr(module, phase["model"], None)
    if not callable(factory):
        raise LookupError(f"{phase['module']}.py has no function {phase['model']}()")
    net = factory()
    params = getattr(net, "params", None)
    if not isinstance(params, dict) or not params:
        raise TypeError(f"{phase['model']}() returned an object without a params dict")
    for name, value in params.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(f"net.params[{name!r}] is not a floating-point numpy array")
    return module, net


def predict_labels(net, x_uint8, chunk=1000):
    out = []
    for start in range(0, len(x_uint8), chunk):
        value = np.asarray(net.predict(scaled(x_uint8[start : start + chunk])))
        if value.ndim == 2:
            value = value.argmax(axis=1)
        out.append(value.reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def grader_loop(net, x, y, cfg):
    rng = np.random.default_rng(cfg["seed"])
    n, batch, lr = len(x), cfg["batch_size"], cfg["lr"]
    for epoch in range(cfg["epochs"]):
        started = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            loss = float(net.loss(scaled(x[idx]), y[idx]))
            grads = getattr(net, "grads", None)
            for name, value in net.params.items():
                if not isinstance(grads, dict) or name not in grads:
                    raise KeyError(f"after net.loss(x, y), net.grads has no key {name!r}")
                grad = np.asarray(grads[name])
                if grad.shape != value.shape:
                    raise ValueError(
                        f"net.grads[{name!r}] has shape {grad.shape}, but net.params[{name!r}] "
                        f"has {value.shape}"
                    )
                value -= lr * grad  # noqa: PLW2901 - in place: the array in net.params
            total += loss * len(idx)
        sample = slice(0, min(n, ACCURACY_SAMPLE))
        accuracy = float((predict_labels(net, x[sample]) == y[sample]).mean())
        append_metrics(
            {
                "epoch": epoch + 1,
                "loss": total / n,
                "train_accuracy": accuracy,
                "seconds": time.perf_counter() - started,
            }
        )


def student_loop(module, net, x, y, cfg, function):
    train = getattr(module, function, None)
    if not callable(train):
        raise LookupError(f"{module.__name__}.py has no function {function}()")
    log = epoch_logger()
    result = train(net, x.astype(np.float32) / 255.0, y, dict(cfg), log)
    return net if result is None else result


def _plain(params):
    return {str(k): np.ascontiguousarray(np.asarray(v)) for k, v in params.items()}


def train_phase(phase):
    from safetensors.numpy import save_file

    np.random.seed(phase["seed"] % 2**32)
    module, net = build(phase)
    x = images("train_images.npy", phase.get("subset"))
    y = np.load(os.path.join(DATA_DIR, "train_labels.npy"), allow_pickle=False)
    y = y[: len(x)].astype(np.int64)
    cfg = {k: phase[k] for k in ("epochs", "batch_size", "lr", "seed")}
    if phase["loop"] == "student":
        net = student_loop(module, net, x, y, cfg, phase["function"])
    else:
        grader_loop(net, x, y, cfg)
    save_file(_plain(net.params), os.path.join(OUT_DIR, "weights.safetensors"))


def predict_phase(phase):
    from safetensors.numpy import load_file

    np.random.seed(0)
    _, net = build(phase)
    state = load_file(os.path.join(IN_DIR, phase["weights"]))
    if set(state) != set(net.params):
        raise KeyError(
            f"the weights hold {sorted(state)}, but {phase['model']}() has params "
            f"{sorted(net.params)}"
        )
    for name, value in state.items():
        if value.shape != np.shape(net.params[name]):
            raise ValueError(
                f"weights[{name!r}] has shape {value.shape}, but {phase['model']}() has "
                f"{np.shape(net.params[name])}"
            )
        net.params[name] = value.astype(np.float64)
    preds = predict_labels(net, images("test_images.npy", None, IN_DIR))
    if preds.dtype.kind not in "iu":
        raise TypeError(f"predict() returned {preds.dtype} values, expected integer labels")
    np.save(os.path.join(OUT_DIR, "predictions.npy"), preds.astype(np.int64), allow_pickle=False)


def main():
    phase_main({"train": train_phase, "predict": predict_phase}, IMPORT_SECONDS)


if __name__ == "__main__":
    main()
