"""What the kinds that score a classifier share (``classifier``, ``script``): reading a
``torch.save`` upload in a box with no student code, the job's own view of the hidden test
split, the predictions a box wrote, and the accuracy with its feedback.

The test images are public (MNIST's t10k), so a program could carry a table of image ->
label instead of a model (DESIGN.md rule 11). A prediction box therefore never gets the
published files: each job sees its own view (``hidden_view``), drawn from the job's secret
seed: a random subset in a random order, each image with its own small noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from autograder.grading.said import Said, chinese, english, say
from autograder.specs.schema import ClassifierCheck, ScriptCheck
from worker.artifacts import MalformedArtifact, load_npy
from worker.checks.base import Outcome
from worker.checks.common.credit import rising_fraction
from worker.checks.common.hints import with_hint
from worker.checks.phases import PhaseContext, PhaseLog, phase_problem, run_phase

Classifying = ClassifierCheck | ScriptCheck  # the kinds scored by accuracy on a test split

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


def read_predictions(out: Path, n: int) -> np.ndarray | Said:
    """The ``n`` labels a prediction box wrote (predictions.npy, read as untrusted data),
    or why there are none."""
    try:
        preds = load_npy(out / "predictions.npy")
    except (MalformedArtifact, OSError):
        return say("classifier.no_predictions")
    if preds.dtype.kind not in "iu" or preds.shape != (n,):
        return say(
            "classifier.bad_predictions", dtype=str(preds.dtype), shape=str(preds.shape), n=n
        )
    return preds.astype(np.int64)


TEST_NOISE = 12  # grey levels (of 255) of uniform noise added to each pixel of the view
VIEW_SALT = 0x7E57_71E4  # the view's stream of the job's seed, apart from the checks' own


def hidden_view(ctx: PhaseContext, check: Classifying) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    check: Classifying,
    predictions: np.ndarray,
    labels: np.ndarray,
    curve: list[dict[str, Any]],
    index: np.ndarray | None = None,
    names: list[Said] | list[str] | None = None,
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
        details["class_names"] = [english(n) for n in names]
        details["class_names_zh"] = [chinese(n) for n in names]
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


def _class_name(label: int, names: list[Said] | list[str] | None) -> Said:
    if names and 0 <= label < len(names):
        return say("classifier.named_class", name=names[label], label=label)
    return say("classifier.class", label=label)


def class_names(check: Classifying, ctx: PhaseContext) -> list[Said] | None:
    """The class names the check's dataset manifest declares, in English and Chinese;
    None: not known."""
    from autograder import datasets

    folder = getattr(ctx.settings, "datasets_dir", None)
    try:
        spec = datasets.get_spec(check.dataset, folder)
    except (datasets.DatasetError, OSError):
        return None
    zh = spec.class_names_zh or spec.class_names
    return [Said(en, z or en) for en, z in zip(spec.class_names, zh, strict=False)] or None
