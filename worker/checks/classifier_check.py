"""Check kind ``classifier``: train in one sandbox, predict in another, score outside.

Phases (each a fresh sandbox; artifacts flow forward only):
- train:   the student's model (and, if the spec says so, their loop) on the training
           split only; writes weights.safetensors and metrics.jsonl;
- predict: a fresh build_model() loads those weights (or the uploaded ones) and labels
           the job's view of the test images (below); it never sees a label and cannot
           write weights onwards;
- score:   here, against the hidden labels: accuracy, per-class accuracy, confusion
           matrix, misclassified examples, the training curve, a partial-credit line.
Constraints (forbidden imports, parameters, weights size) are checked here too, from
the source text and the safetensors header, never by importing anything.

The test images are public (MNIST's t10k), so a program could carry a table of image ->
label instead of a model (DESIGN.md rule 11). The prediction box therefore never gets the
published files: each job sees its own view (``hidden_view``), drawn from the job's secret
seed: a random subset in a random order, each image with its own small noise (+-12 grey
levels, which costs a trained model a few tenths of a percent). An exact or thresholded
hash of an image, or its position, no longer finds its label. What this cannot stop is a
nearest-neighbour search of the public test set carried in the code; only a test split
the course keeps private stops that, and the upload size limits (100 KB of code) keep
such a table small.
With ``framework: numpy`` the phases run worker/runner/numpy_phase_runner.py instead
(a numpy network object: params, loss(x, y) filling grads, predict; never imports torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import ClassifierCheck
from worker.artifacts import safetensors_summary
from worker.checks.base import Outcome
from worker.checks.common.classification import (
    add_thumbnails,
    class_names,
    convert_weights,
    hidden_view,
    read_predictions,
    score,
)
from worker.checks.common.constraints import forbidden_imports, weight_constraints
from worker.checks.common.hints import zero
from worker.checks.phases import PhaseContext, PhaseLog, curve, phase_problem, run_phase

# ------------------------------------------------------------------------------ phases


def _runner(check: ClassifierCheck) -> str:
    """The in-sandbox runner of the phases: torch, or numpy only (never imports torch)."""
    return "numpy_phase_runner.py" if check.framework == "numpy" else "torch_runner.py"


def run(check: ClassifierCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    violation = forbidden_imports(ctx.code_dir, check.constraints.forbidden_imports)
    if violation:
        return zero(check, say("phases.forbidden_imports", violation=violation)), log
    weights, train_curve, message = _weights(check, ctx, log)
    if weights is None:
        return zero(check, message, {"curve": train_curve}), log
    # Constraints are read here from the weights the prediction box is given (uploaded,
    # converted by a box that runs no student code, or trained), never from a file a box
    # running student code wrote about itself (DESIGN.md rule 9).
    violation = weight_constraints(check, weights)
    if violation:
        return zero(check, violation, {"curve": train_curve}), log
    view, labels, index = hidden_view(ctx, check)
    private = _private_test_split(check, ctx)
    predictions = _predict(check, ctx, log, weights, view, private)
    if isinstance(predictions, Said):
        return zero(check, predictions, {"curve": train_curve}), log
    outcome = score(check, predictions, labels, train_curve, index, class_names(check, ctx))
    outcome.details["params"] = safetensors_summary(weights)["params"]
    if private:
        # Which images were missed, and as what, is a channel out of the prediction box
        # (its predictions can encode what it saw); the totals and the confusion matrix stay.
        outcome.details.pop("misclassified", None)
        outcome.details["private_test_split"] = True
    else:
        add_thumbnails(outcome.details, ctx.visible_data["test_images.npy"])
    return outcome, log


def _private_test_split(check: ClassifierCheck, ctx: PhaseContext) -> bool:
    """Scored on a test split the course keeps private (or one whose manifest cannot be
    read now: then it is treated as private, its images never leave the worker)."""
    if not check.test_dataset:
        return False
    from autograder import datasets

    try:
        spec = datasets.get_spec(check.test_dataset, getattr(ctx.settings, "datasets_dir", None))
    except (datasets.DatasetError, OSError):
        return True
    return spec.private


def _weights(
    check: ClassifierCheck, ctx: PhaseContext, log: PhaseLog
) -> tuple[Path | None, list[dict[str, Any]], Said | str]:
    """Trained (train phase) or uploaded weights, the training curve, or why there are none."""
    if check.train is None:
        for name in check.weights_files:
            path = ctx.code_dir / name
            if path.is_file():
                if path.suffix == ".safetensors":
                    return path, [], ""
                converted, problem = convert_weights(check, ctx, log, path)
                return converted, [], problem
        files = ", ".join(check.weights_files)
        return None, [], say("classifier.no_weights_uploaded", files=files)
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
    training = say("phases.training")
    train_problem = phase_problem(training, result, out, log, ctx, train.wall_seconds)
    if train_problem:
        return None, train_curve, train_problem
    weights = out / "weights.safetensors"
    if not weights.is_file():
        return None, train_curve, say("phases.no_weights_written")
    return weights, train_curve, ""


def _predict(
    check: ClassifierCheck,
    ctx: PhaseContext,
    log: PhaseLog,
    weights: Path,
    view: np.ndarray,
    private: bool = False,
) -> np.ndarray | Said:
    """The labels the student's model gives ``view`` (the job's test images), or why none.
    ``private``: the view is of a private split: what the box prints or raises is withheld."""
    n = len(view)
    phase = {
        "module": check.module,
        "model": check.model,
        "weights": weights.name,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    result, out = run_phase(
        ctx,
        check.id,
        "predict",
        _runner(check),
        phase,
        log,
        wall_seconds=check.predict_wall_seconds,
        inputs={"test_images": view},
        files=[weights],
        withhold_output=private,
    )
    problem = phase_problem(
        say("phases.prediction"),
        result,
        out,
        log,
        ctx,
        check.predict_wall_seconds,
        withhold=private,
    )
    if problem:
        return problem
    return read_predictions(out, n)
