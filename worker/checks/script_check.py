"""Check kind ``script``: the student's whole training script, unmodified, and the model
it saves, scored on the hidden test split.

Four boxes, one after the other, artifacts flowing forward only (DESIGN.md rules 7-12):

1. **train** (worker/runner/script_model_runner.py): the script runs as ``__main__``
   with torchvision's class of the dataset loading the grader's files wherever the script
   points it (``download=True`` does nothing); its "test" split is a labelled slice of the
   training images, so the hidden test split and its labels never enter. Printed epoch
   lines become the live curve. The checkpoint it saved comes out as a file.
2. **convert** (a box with no student code): ``torch.load(weights_only=True)`` of that
   file, written back as safetensors, whose header is read here for the constraints.
3. **predict** (worker/runner/torch_runner.py): the script's imports, classes and
   functions only (made here from its syntax tree: module-level training code, and
   anything under ``if __name__ == "__main__":``, is left out), the model class built
   with the spec's arguments and the weights loaded strictly, fed the job's own noisy
   view of the hidden test images as the training loop fed it (``input``).
4. Scoring, here: accuracy against the hidden labels, on the classifier's credit curve.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import ScriptCheck
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

RUNNER = "script_model_runner.py"
# Statements of a script the prediction box keeps: what defines the model, not what
# trains it. A plain constant (``input_size = 784``) is kept too: a class's defaults and
# a course's sizes are often written that way.
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def run(check: ScriptCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    violation = forbidden_imports(ctx.code_dir, check.constraints.forbidden_imports)
    if violation:
        return zero(check, say("script.forbidden_import", violation=violation)), log
    checkpoint, train_curve, problem = _train(check, ctx, log)
    if checkpoint is None:
        return zero(check, problem, {"curve": train_curve}), log
    weights, unreadable = convert_weights(check, ctx, log, checkpoint)
    if weights is None:
        return zero(check, unreadable, {"curve": train_curve}), log
    violation = weight_constraints(check, weights)
    if violation:
        return zero(check, violation, {"curve": train_curve}), log
    view, labels, index = hidden_view(ctx, check)
    predictions = _predict(check, ctx, log, weights, view)
    if isinstance(predictions, Said | str):
        return zero(check, predictions, {"curve": train_curve}), log
    outcome = score(
        check,
        predictions,
        labels,
        train_curve,
        index,
        class_names(check, ctx),
    )
    outcome.details["params"] = safetensors_summary(weights)["params"]
    add_thumbnails(outcome.details, ctx.visible_data["test_images.npy"])
    return outcome, log


def splits(check: ScriptCheck, total: int) -> tuple[list[int], list[int]]:
    """Rows of the training images the script sees as its training split and as its "test"
    split: the validation slice is the last ``validation_size`` rows, the training split
    the rows before it (the first ``train_subset`` of them)."""
    validation = min(check.validation_size, total // 2)
    start = total - validation
    stop = start if check.train_subset is None else min(check.train_subset, start)
    return [0, stop], [start, total]


def _train(
    check: ScriptCheck, ctx: PhaseContext, log: PhaseLog
) -> tuple[Path | None, list[dict[str, Any]], Said]:
    """The checkpoint the script saved, its printed curve, or why there is none."""
    data = {k: ctx.visible_data[k] for k in ("train_images.npy", "train_labels.npy")}
    total = len(np.load(data["train_labels.npy"], mmap_mode="r", allow_pickle=False))
    train, test = splits(check, total)
    phase = {
        "module": check.module,
        "checkpoint": check.checkpoint,
        "dataset_class": torchvision_class(check, ctx),
        "train": train,
        "test": test,
        "epoch_pattern": check.epoch_pattern,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    result, out = run_phase(
        ctx,
        check.id,
        "train",
        RUNNER,
        phase,
        log,
        wall_seconds=check.wall_seconds,
        data=data,
        progress_file="metrics.jsonl",
        runtime="torch-train",
    )
    train_curve = curve(out / "metrics.jsonl")
    problem = phase_problem(say("script.phase_training"), result, out, log, ctx, check.wall_seconds)
    if problem:
        return None, train_curve, problem
    saved = out / "checkpoint.pth"
    if not saved.is_file():
        return None, train_curve, say("script.no_checkpoint", path=check.checkpoint)
    return saved, train_curve, Said("", "")


def torchvision_class(check: ScriptCheck, ctx: PhaseContext) -> str | None:
    """torchvision's class of the check's dataset (its manifest's ``torchvision_dir``)."""
    from autograder import datasets

    folder = getattr(ctx.settings, "datasets_dir", None)
    try:
        return datasets.get_spec(check.dataset, folder).torchvision_dir
    except (datasets.DatasetError, OSError):
        return None


def definitions(source: str) -> str:
    """The script's imports, functions, classes and plain constants, in order: what the
    prediction box imports instead of the whole script. A script that does not parse
    gives nothing (the training box has said why already)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept = [node for node in tree.body if isinstance(node, KEPT) or _constant(node)]
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) + "\n"


def _constant(node: ast.stmt) -> bool:
    """``NAME = <a literal>`` (numbers, strings, tuples and lists of them, a negative)."""
    if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(isinstance(t, ast.Name) for t in targets):
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def definitions_dir(check: ScriptCheck, ctx: PhaseContext) -> Path:
    """A source folder for the prediction box: the student's files, the script replaced by
    its definitions."""
    folder = ctx.job_dir / f"{check.id}-definitions"  # not a message: a folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for path in ctx.code_dir.iterdir():
        if path.is_file() and path.suffix == ".py":
            shutil.copyfile(path, folder / path.name)
    script = ctx.code_dir / f"{check.module}.py"
    text = script.read_text(encoding="utf-8", errors="replace") if script.is_file() else ""
    (folder / script.name).write_text(definitions(text), encoding="utf-8")
    return folder


def _predict(
    check: ScriptCheck, ctx: PhaseContext, log: PhaseLog, weights: Path, view: np.ndarray
) -> np.ndarray | Said:
    """The labels the saved model gives the job's view of the hidden test images."""
    phase = {
        "module": check.module,
        "model": check.model,
        "model_args": check.model_args,
        "model_kwargs": check.model_kwargs,
        "input": check.input.model_dump(),
        "weights": weights.name,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    result, out = run_phase(
        ctx,
        check.id,
        "predict",
        "torch_runner.py",
        phase,
        log,
        wall_seconds=check.predict_wall_seconds,
        inputs={"test_images": view},
        files=[weights],
        src_dir=definitions_dir(check, ctx),
    )
    problem = phase_problem(
        say("script.phase_prediction"), result, out, log, ctx, check.predict_wall_seconds
    )
    if problem:
        return problem
    return read_predictions(out, len(view))
