"""Check kind ``classifier``: train in one sandbox, predict in another, score outside.

Phases (each a fresh sandbox; artifacts flow forward only):
- train:   the student's model (and, if the spec says so, their loop) on the training
           split only; writes weights.safetensors and metrics.jsonl;
- predict: a fresh build_model() loads those weights (or the uploaded ones) and labels
           the test images; it never sees a label and cannot write weights onwards;
- score:   here, against the hidden labels: accuracy, per-class accuracy, confusion
           matrix, misclassified examples, the training curve, a partial-credit line.
Constraints (forbidden imports, parameters, weights size) are checked here too, from
the source text and the safetensors header, never by importing anything.
With ``framework: numpy`` the phases run worker/runner/numpy_phase_runner.py instead
(a numpy network object: params, loss(x, y) filling grads, predict; never imports torch).
"""

from __future__ import annotations

import ast
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from autograder.specs.schema import ClassifierCheck
from worker.checks.base import Outcome
from worker.checks.phases import PhaseContext, PhaseLog, curve, phase_problem, run_phase

MAX_HEADER_BYTES = 16 * 1024 * 1024
SAFETENSORS_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}


# ------------------------------------------------------------------------------ phases


def _runner(check: ClassifierCheck) -> str:
    """The in-sandbox runner of the phases: torch, or numpy only (never imports torch)."""
    return "numpy_phase_runner.py" if check.framework == "numpy" else "torch_runner.py"


def run(check: ClassifierCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    violation = forbidden_imports(ctx.code_dir, check.constraints.forbidden_imports)
    if violation:
        return _zero(check, f"constraint forbidden_imports: {violation}"), log
    weights, train_curve, message = _weights(check, ctx, log)
    if weights is None:
        return _zero(check, message, {"curve": train_curve}), log
    predicted = _predict(check, ctx, log, weights)
    if isinstance(predicted, str):
        return _zero(check, predicted, {"curve": train_curve}), log
    predictions, loaded = predicted
    violation = weight_constraints(check, loaded or weights)
    if violation:
        return _zero(check, violation, {"curve": train_curve}), log
    labels = ctx.test_labels[
        : len(ctx.test_labels) if check.test_subset is None else check.test_subset
    ]
    outcome = score(check, predictions, labels, train_curve)
    outcome.details["params"] = safetensors_summary(loaded or weights)["params"]
    return outcome, log


def _weights(
    check: ClassifierCheck, ctx: PhaseContext, log: PhaseLog
) -> tuple[Path | None, list[dict[str, Any]], str]:
    """Trained (train phase) or uploaded weights, the training curve, or why there are none."""
    if check.train is None:
        for name in check.weights_files:
            path = ctx.code_dir / name
            if path.is_file():
                return path, [], ""
        return (
            None,
            [],
            (
                f"no weights uploaded: submit one of {', '.join(check.weights_files)} "
                "(your trained model's state_dict)"
            ),
        )
    train = check.train
    phase = {
        "module": check.module,
        "model": check.model,
        "loop": train.loop,
        "function": train.function,
        "epochs": train.epochs,
        "batch_size": train.batch_size,
        "lr": train.lr,
        "seed": train.seed,
        "optimizer": train.optimizer,
        "subset": check.train_subset,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    data = {k: ctx.visible_data[k] for k in ("train_images.npy", "train_labels.npy")}
    result, out = run_phase(
        ctx,
        check.id,
        "train",
        _runner(check),
        phase,
        log,
        wall_seconds=train.wall_seconds,
        data=data,
        progress_file="metrics.jsonl",
    )
    train_curve = curve(out / "metrics.jsonl")
    problem = phase_problem("training", result, out, log, ctx, train.wall_seconds)
    if problem:
        return None, train_curve, problem
    weights = out / "weights.safetensors"
    if not weights.is_file():
        return None, train_curve, "training finished but wrote no weights"
    return weights, train_curve, ""


def _predict(
    check: ClassifierCheck, ctx: PhaseContext, log: PhaseLog, weights: Path
) -> tuple[np.ndarray, Path | None] | str:
    n = len(ctx.test_labels) if check.test_subset is None else check.test_subset
    phase = {
        "module": check.module,
        "model": check.model,
        "weights": weights.name,
        "subset": check.test_subset,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    data = {"test_images.npy": ctx.visible_data["test_images.npy"]}
    result, out = run_phase(
        ctx,
        check.id,
        "predict",
        _runner(check),
        phase,
        log,
        wall_seconds=check.predict_wall_seconds,
        data=data,
        files=[weights],
    )
    problem = phase_problem("prediction", result, out, log, ctx, check.predict_wall_seconds)
    if problem:
        return problem
    path = out / "predictions.npy"
    try:
        preds = np.load(path, allow_pickle=False)
    except Exception:
        return "prediction finished but wrote no readable predictions"
    if preds.dtype.kind not in "iu" or preds.shape != (n,):
        return f"predictions have dtype {preds.dtype} and shape {preds.shape}, expected ({n},) ints"
    loaded = out / "weights_as_loaded.safetensors"
    return preds.astype(np.int64), (loaded if loaded.is_file() else None)


# ------------------------------------------------------------------------------ constraints


def forbidden_imports(code_dir: Path, forbidden: list[str]) -> str | None:
    """The first forbidden import in the submitted sources (read as text, never run)."""
    if not forbidden:
        return None
    for path in sorted(code_dir.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue  # the phases report syntax errors with the student's own traceback
        for node in ast.walk(tree):
            for name in _imported_names(node):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    return f"{path.name} line {node.lineno} imports {name}, which is not allowed"
    return None


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    if (
        isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("__import__", "import_module"):
            return [node.args[0].value]
    return []


def safetensors_summary(path: Path) -> dict[str, int]:
    """Parameter count and size from a safetensors header, parsed here without torch."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError("not a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError("safetensors header too large")
        header = json.loads(fh.read(length))
    params = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        shape, dtype, (start, end) = info["shape"], info["dtype"], info["data_offsets"]
        count = math.prod(int(d) for d in shape)
        if dtype not in SAFETENSORS_BYTES or end - start != count * SAFETENSORS_BYTES[dtype]:
            raise ValueError(f"tensor {name!r} has an inconsistent size")
        if not 0 <= start <= end <= size - 8 - length:
            raise ValueError(f"tensor {name!r} lies outside the file")
        params += count
    return {"params": params, "bytes": size}


def weight_constraints(check: Any, weights: Path, what: str = "the weights") -> str | None:
    """Why weights break a check's ``constraints`` (max_params, max_weights_mb), read from
    the safetensors header here, never by loading them; None: they keep them. Shared by
    every kind with ``constraints`` (classifier, sequence, samples, reconstruction)."""
    limits = check.constraints
    try:
        summary = safetensors_summary(weights)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return f"{what} could not be read: {exc}"
    if limits.max_params is not None and summary["params"] > limits.max_params:
        return (
            f"constraint max_params: the model has {summary['params']:,} parameters, "
            f"at most {limits.max_params:,} are allowed"
        )
    if limits.max_weights_mb is not None and summary["bytes"] > limits.max_weights_mb * 2**20:
        return (
            f"constraint max_weights_mb: the weights take {summary['bytes'] / 2**20:.2f} MB, "
            f"at most {limits.max_weights_mb:g} MB are allowed"
        )
    return None


# ------------------------------------------------------------------------------ scoring


def score(
    check: ClassifierCheck,
    predictions: np.ndarray,
    labels: np.ndarray,
    curve: list[dict[str, Any]],
) -> Outcome:
    labels = labels.astype(np.int64)
    correct = predictions == labels
    accuracy = float(correct.mean())
    classes = 10
    confusion = np.zeros((classes, classes), dtype=np.int64)
    valid = (predictions >= 0) & (predictions < classes)
    np.add.at(confusion, (labels[valid], predictions[valid]), 1)
    per_class = [
        float(correct[labels == c].mean()) if (labels == c).any() else None for c in range(classes)
    ]
    wrong = np.flatnonzero(~correct)[: check.show_misclassified]
    credit = check.credit
    fraction = min(1.0, max(0.0, (accuracy - credit.floor) / (credit.target - credit.floor)))
    details = {
        "accuracy": accuracy,
        "test_examples": int(len(labels)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "misclassified": [
            {"index": int(i), "predicted": int(predictions[i]), "label": int(labels[i])}
            for i in wrong
        ],
        "floor": credit.floor,
        "target": credit.target,
        "curve": curve,
    }
    worst = min((c for c in range(classes) if per_class[c] is not None), key=lambda c: per_class[c])
    message = (
        f"test accuracy {accuracy:.2%} on {len(labels)} hidden images (no points at "
        f"{credit.floor:.0%} or below, full points at {credit.target:.0%}); weakest "
        f"digit {worst}: {per_class[worst]:.1%}"
    )
    if fraction < 1 and check.hint:
        message += f"\nHint: {check.hint}"
    return Outcome(check.points * fraction, check.points, message, details)


def _zero(check: ClassifierCheck, message: str, details: dict[str, Any] | None = None) -> Outcome:
    if check.hint:
        message += f"\nHint: {check.hint}"
    return Outcome(0.0, check.points, message, details or {})
