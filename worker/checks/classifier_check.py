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
from typing import Any, cast

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import ClassifierCheck
from worker.artifacts import MalformedArtifact, load_npy, safetensors_summary
from worker.checks.base import Outcome
from worker.checks.common.constraints import forbidden_imports, weight_constraints
from worker.checks.common.credit import rising_fraction
from worker.checks.common.hints import with_hint, zero
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


MAX_THUMBNAILS = 16  # of the misclassified examples: each is the image's bytes, in base64


def add_thumbnails(details: dict[str, Any], test_images: Path) -> None:
    """Give each misclassified example the published test image it names (the clean one,
    not the job's noisy view), as base64 pixels and their shape, for the result page to
    draw. Only for a public test split: a private one is never shown."""
    import base64

    examples = details.get("misclassified") or []
    if not examples:
        return
    public = np.load(test_images, mmap_mode="r", allow_pickle=False)
    for example in examples[:MAX_THUMBNAILS]:
        image = np.ascontiguousarray(public[example["index"]], dtype=np.uint8)
        example["image"] = base64.b64encode(image.tobytes()).decode("ascii")
        example["shape"] = list(image.shape)


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


def convert_weights(
    check: Any, ctx: PhaseContext, log: PhaseLog, path: Path
) -> tuple[Path | None, Said | str]:
    """A ``torch.save`` upload as safetensors, made by a box that runs no student code (an
    empty /job/src; the file is unpickled there with ``weights_only=True``), so that its
    parameters are counted here from a header and the prediction box gets plain tensors."""
    empty = ctx.job_dir / f"{check.id}-convert-src"  # not a message: a folder
    empty.mkdir(exist_ok=True)
    phase = {"weights": path.name}
    result, out = run_phase(
        ctx,
        check.id,
        "convert",
        "torch_runner.py",
        phase,
        log,
        wall_seconds=60,
        files=[path],
        src_dir=empty,
    )
    reading = say("classifier.reading", name=path.name)
    problem = phase_problem(reading, result, out, log, ctx, 60)
    converted = out / "weights.safetensors"
    if problem:
        return None, problem
    if not converted.is_file():
        return None, say("classifier.not_a_state_dict", name=path.name)
    return converted, ""


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
    path = out / "predictions.npy"
    try:
        preds = load_npy(path)
    except (MalformedArtifact, OSError):
        return say("classifier.no_predictions")
    if preds.dtype.kind not in "iu" or preds.shape != (n,):
        return say(
            "classifier.bad_predictions", dtype=str(preds.dtype), shape=str(preds.shape), n=n
        )
    return preds.astype(np.int64)


# ------------------------------------------------------------------------------ the test view

TEST_NOISE = 12  # grey levels (of 255) of uniform noise added to each pixel of the view
VIEW_SALT = 0x7E57_71E4  # the view's stream of the job's seed, apart from the checks' own


def hidden_view(
    ctx: PhaseContext, check: ClassifierCheck
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The job's own view of the hidden test split: ``(images, labels, index)``, where
    ``index`` gives each image's position in the public split. The subset (``test_subset``
    images, or all) and its order are drawn from the job's secret seed, and every image
    gets noise of its own (label-preserving: the digit is unchanged), so no two jobs see
    the same bytes and none sees the published ones. All checks of a job share one view."""
    public = np.load(ctx.visible_data["test_images.npy"], allow_pickle=False)
    labels = np.asarray(ctx.test_labels)
    total = len(labels)
    n = total if check.test_subset is None else min(check.test_subset, total)
    rng = np.random.default_rng([ctx.seed % 2**63, VIEW_SALT])
    index = rng.permutation(total)
    noise = rng.integers(-TEST_NOISE, TEST_NOISE + 1, size=public.shape, dtype=np.int16)
    index = index[:n]
    view = np.clip(public[index].astype(np.int16) + noise[index], 0, 255).astype(np.uint8)
    return view, labels[index], index


# ------------------------------------------------------------------------------ scoring


def score(
    check: ClassifierCheck,
    predictions: np.ndarray,
    labels: np.ndarray,
    curve: list[dict[str, Any]],
    index: np.ndarray | None = None,
    names: list[str] | None = None,
) -> Outcome:
    """Accuracy and its feedback; ``index``: each prediction's image's position in the
    public test split (what the misclassified examples name), by default its own;
    ``names``: the dataset's class names in English (feedback says "class 6" without)."""
    labels = labels.astype(np.int64)
    correct = predictions == labels
    accuracy = float(correct.mean())
    classes = len(names) if names else 10
    confusion = np.zeros((classes, classes), dtype=np.int64)
    valid = (predictions >= 0) & (predictions < classes)
    np.add.at(confusion, (labels[valid], predictions[valid]), 1)
    per_class = [
        float(correct[labels == c].mean()) if (labels == c).any() else None for c in range(classes)
    ]
    wrong = np.flatnonzero(~correct)[: check.show_misclassified]
    credit = check.credit
    fraction = rising_fraction(accuracy, credit.floor, credit.target)
    details = {
        "accuracy": accuracy,
        "test_examples": int(len(labels)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "misclassified": [
            {
                "index": int(i if index is None else index[i]),
                "predicted": int(predictions[i]),
                "label": int(labels[i]),
            }
            for i in wrong
        ],
        "floor": credit.floor,
        "target": credit.target,
        "curve": curve,
    }
    if names:
        details["class_names"] = list(names)
    worst = min(
        (c for c in range(classes) if per_class[c] is not None),
        key=lambda c: cast(float, per_class[c]),  # the classes with an accuracy
    )
    message = say(
        "classifier.accuracy",
        accuracy=accuracy,
        n=len(labels),
        floor=_percent(credit.floor),
        target=_percent(credit.target),
        weakest=_class_name(worst, names),
        weakest_accuracy=per_class[worst],
    )
    if fraction < 1:
        message = with_hint(message, check)
    return Outcome(check.points * fraction, check.points, message, details)


def _percent(x: float) -> str:
    """0.96 -> '96%', 0.895 -> '89.5%' (a threshold is never shown rounded)."""
    return f"{x:.1%}".replace(".0%", "%")


def _class_name(label: int, names: list[str] | None) -> Said:
    if names and 0 <= label < len(names):
        return say("classifier.named_class", name=names[label], label=label)
    return say("classifier.class", label=label)


def class_names(check: ClassifierCheck, ctx: PhaseContext) -> list[str] | None:
    """The English class names the check's dataset manifest declares; None: not known."""
    from autograder import datasets

    folder = getattr(ctx.settings, "datasets_dir", None)
    try:
        return datasets.get_spec(check.dataset, folder).class_names or None
    except (datasets.DatasetError, OSError):
        return None
