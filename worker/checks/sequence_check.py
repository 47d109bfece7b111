"""Check kind ``sequence``: a generated sequence task, trained in one sandbox, predicted in
another, scored outside.

The task (Chinese or English number words to digits, reversing or sorting digit strings:
worker/checks/seqtasks.py) is drawn afresh per job from the job's secret seed; the test
sources are distinct and absent from the training split.  Its token ids are shuffled per
job and the boxes get placeholders for the vocabularies (seqtasks.permute_tokens): no box
can tell what an id means except by learning it from the training pairs (DESIGN rule 11).

Phases (each a fresh sandbox; artifacts flow forward only):
- train:   build_model(src_vocab_size, tgt_vocab_size, max_len) trained on the training
           pairs only, by the grader's loop (teacher forcing for seq2seq, cross-entropy
           ignoring PAD) or the student's train(); writes weights.safetensors, metrics.jsonl;
- init:    (the control) build_model() with the train box's seed, untrained, saved as
           weights.safetensors; this box gets no data at all;
- predict: a fresh build_model() loads weights (strict) and decodes the test SOURCES
           (the student's predict(model, src, max_len), or for an encoder the argmax of
           model(src)).  It runs twice, in two boxes in an order drawn per job: with the
           trained weights, and as the untrained control with the init box's.  The two
           boxes get the same phase.json, the same test sources and a weights file of the
           same name and layout: nothing in them says which is the control;
- score:   here, against the hidden test targets: exact match (up to EOS) and token
           accuracy, accuracy by source length, wrong examples as text, the training curve,
           a partial-credit line; no points when the control reaches the floor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import SequenceCheck
from worker.artifacts import safetensors_summary
from worker.checks import seqtasks
from worker.checks.base import Outcome
from worker.checks.common.constraints import forbidden_imports, weight_constraints
from worker.checks.common.credit import rising_fraction
from worker.checks.common.hints import with_hint, zero
from worker.checks.phases import PhaseContext, PhaseLog, curve, load_array, phase_problem, run_phase
from worker.checks.seqtasks import EOS, PAD, TaskData

RUNNER = "sequence_runner.py"


def control() -> Said:
    """The untrained control, in words for the student."""
    return say("sequence.control")


def make_task(check: SequenceCheck, rng: np.random.Generator) -> TaskData:
    """The job's task, its token ids already shuffled (the only ids any box sees)."""
    t = check.task
    task = seqtasks.generate(
        rng,
        t.name,
        n_train=t.n_train,
        n_test=t.n_test,
        interface=check.interface,
        min_value=t.min_value,
        max_value=t.max_value,
        min_length=t.min_length,
        max_length=t.max_length,
    )
    return seqtasks.permute_tokens(task, rng)


def widths(check: SequenceCheck, task: TaskData) -> tuple[int, int]:
    """(max_len handed to build_model and predict, width of the predictions)."""
    max_len = max(task.train_src.shape[1], task.train_tgt.shape[1]) + check.max_len_margin
    width = task.test_src.shape[1] if check.interface == "encoder" else max_len
    return max_len, width


# ------------------------------------------------------------------------------ phases


def run(check: SequenceCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    violation = forbidden_imports(ctx.code_dir, check.constraints.forbidden_imports)
    if violation:
        return zero(check, say("phases.forbidden_imports", violation=violation)), log
    rng = ctx.rng(check.id)
    task = make_task(check, rng)
    control_first = bool(rng.integers(2))
    folder = ctx.job_dir / f"{check.id}-task"  # not a message: a folder
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.json"
    vocab.write_text(json.dumps(task.box_vocab()))
    max_len, width = widths(check, task)

    weights, train_curve, message = _train(check, ctx, log, task, vocab, max_len)
    if weights is None:
        return zero(check, message, {"curve": train_curve}), log
    violation = weight_constraints(check, weights)  # the file given to the box: rule 9
    if violation:
        return zero(check, violation, {"curve": train_curve}), log
    boxes = [("predict", weights)]
    if check.untrained_control:
        initial = _initial_weights(check, ctx, log, vocab, max_len)
        if isinstance(initial, Said):
            return zero(check, initial, {"curve": train_curve}), log
        boxes.insert(0 if control_first else 1, ("control", initial))
    answers: dict[str, np.ndarray] = {}
    for label, given in boxes:
        got = _predict(check, ctx, log, task, vocab, given, label, max_len, width)
        if isinstance(got, Said):
            return zero(check, got, {"curve": train_curve}), log
        answers[label] = got
    outcome = score(check, task, answers["predict"], train_curve, answers.get("control"))
    outcome.details["params"] = safetensors_summary(weights)["params"]
    return outcome, log


def _initial_weights(
    check: SequenceCheck, ctx: PhaseContext, log: PhaseLog, vocab: Path, max_len: int
) -> Path | Said:
    """The control's weights: the student's model as the train box built it, before any
    training, from a box that holds no data (only the vocabulary's sizes)."""
    phase = {
        "module": check.module,
        "model": check.model,
        "max_len": max_len,
        "seed": check.train.seed,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    wall = check.predict_wall_seconds
    result, out = run_phase(
        ctx, check.id, "init", RUNNER, phase, log, wall_seconds=wall, files=[vocab]
    )
    building = say("sequence.building_control", control=control())
    problem = phase_problem(building, result, out, log, ctx, wall)
    if problem:
        return problem
    weights = out / "weights.safetensors"
    if not weights.is_file() or weights.is_symlink():
        return say("sequence.control_wrote_no_weights", control=control())
    return weights


def _predict(
    check: SequenceCheck,
    ctx: PhaseContext,
    log: PhaseLog,
    task: TaskData,
    vocab: Path,
    weights: Path,
    label: str,
    max_len: int,
    width: int,
) -> np.ndarray | Said:
    """One prediction box: the same inputs for the trained model and the control (only
    the weights' values differ); ``label`` names its folder and log entry, outside."""
    phase = {
        "module": check.module,
        "model": check.model,
        "predict": check.predict,
        "interface": check.interface,
        "max_len": max_len,
        "width": width,
        "weights": "weights.safetensors",
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    wall = check.predict_wall_seconds
    result, out = run_phase(
        ctx,
        check.id,
        "predict",
        RUNNER,
        phase,
        log,
        wall_seconds=wall,
        inputs={"test_src": task.test_src},
        files=[vocab, weights],
        label=label,
    )
    trained = label == "predict"
    what = (
        say("phases.prediction")
        if trained
        else say("sequence.control_prediction", control=control())
    )
    problem = phase_problem(what, result, out, log, ctx, wall)
    if problem:
        return problem
    noun = say("sequence.predictions" if trained else "sequence.untrained_predictions")
    return load_ids(out / "predictions.npy", len(task.test_src), width, len(task.tgt_vocab), noun)


def _train(
    check: SequenceCheck,
    ctx: PhaseContext,
    log: PhaseLog,
    task: TaskData,
    vocab: Path,
    max_len: int,
) -> tuple[Path | None, list[dict[str, Any]], Said | str]:
    train = check.train
    phase = {
        "module": check.module,
        "model": check.model,
        "interface": check.interface,
        "loop": train.loop,
        "function": train.function,
        "epochs": train.epochs,
        "batch_size": train.batch_size,
        "lr": train.lr,
        "seed": train.seed,
        "optimizer": train.optimizer,
        "clip_grad_norm": train.clip_grad_norm,
        "wall_seconds": train.wall_seconds,
        "max_len": max_len,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    result, out = run_phase(
        ctx,
        check.id,
        "train",
        RUNNER,
        phase,
        log,
        wall_seconds=train.wall_seconds,
        inputs={"train_src": task.train_src, "train_tgt": task.train_tgt},
        files=[vocab],
        progress_file="metrics.jsonl",
    )
    train_curve = curve(out / "metrics.jsonl")
    problem = phase_problem(say("phases.training"), result, out, log, ctx, train.wall_seconds)
    if problem:
        return None, train_curve, problem
    weights = out / "weights.safetensors"
    if not weights.is_file() or weights.is_symlink():
        return None, train_curve, say("phases.no_weights_written")
    return weights, train_curve, ""


def load_ids(
    path: Path, rows: int, width: int, vocab_size: int, what: Said | str
) -> np.ndarray | Said:
    """An untrusted array of token ids: integer dtype, shape (rows, width), ids in range."""
    if path.is_symlink():
        return say("sequence.not_regular_file", what=what)
    arr = load_array(path, kinds="iu", shape=(rows, width), what=what)
    if isinstance(arr, Said):
        return arr
    return check_ids(arr, vocab_size, what)


def check_ids(arr: np.ndarray, vocab_size: int, what: Said | str) -> np.ndarray | Said:
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= vocab_size):
        low, high = int(arr.min()), int(arr.max())
        return say("sequence.ids_out_of_range", what=what, size=vocab_size, low=low, high=high)
    return arr.astype(np.int64)


# ------------------------------------------------------------------------------ scoring


def _cut(row: np.ndarray) -> list[int]:
    """A sequence up to (without) its first EOS or PAD."""
    stop = np.flatnonzero((row == EOS) | (row == PAD))
    kept: list[int] = row[: stop[0] if len(stop) else len(row)].tolist()
    return kept


def compare(
    interface: str, predictions: np.ndarray, targets: np.ndarray, sources: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per example: exact match, matching tokens, tokens counted, and whether the
    prediction ended (EOS/PAD within its width; always true for an encoder)."""
    n = len(targets)
    exact = np.zeros(n, dtype=bool)
    matched = np.zeros(n, dtype=np.int64)
    counted = np.zeros(n, dtype=np.int64)
    ended = np.ones(n, dtype=bool)
    if interface == "encoder":
        mask = sources != PAD
        width = sources.shape[1]
        hits = (predictions[:, :width] == targets[:, :width]) & mask
        matched[:] = hits.sum(axis=1)
        counted[:] = mask.sum(axis=1)
        exact[:] = matched == counted
        return exact, matched, counted, ended
    for i in range(n):
        want, got = _cut(targets[i]), _cut(predictions[i])
        ended[i] = bool(((predictions[i] == EOS) | (predictions[i] == PAD)).any())
        exact[i] = got == want
        common = min(len(got), len(want))
        matched[i] = sum(a == b for a, b in zip(got[:common], want[:common], strict=True))
        counted[i] = max(len(got), len(want), 1)
        if not got and not want:
            matched[i] = 1
    return exact, matched, counted, ended


def _wrong_example(example: dict[str, Any]) -> Said:
    """One wrong prediction as text: its source, what was expected, what came."""
    empty = say("sequence.empty")
    return say(
        "sequence.wrong_example",
        source=example["source"],
        expected=example["expected"] or empty,
        predicted=example["predicted"] or empty,
        more="" if example["ended"] else "...",
    )


def score(
    check: SequenceCheck,
    task: TaskData,
    predictions: np.ndarray,
    train_curve: list[dict[str, Any]],
    untrained: np.ndarray | None = None,
) -> Outcome:
    """Pure: the checked predictions (int64 (n_test, width), ids in range) against the
    hidden targets."""
    targets, sources = task.test_tgt, task.test_src
    exact, matched, counted, ended = compare(check.interface, predictions, targets, sources)
    exact_match = float(exact.mean())
    token_accuracy = float(matched.sum() / max(int(counted.sum()), 1))
    value = exact_match if check.metric == "exact_match" else token_accuracy
    credit = check.credit
    fraction = rising_fraction(value, credit.floor, credit.target)
    lengths = (sources != PAD).sum(axis=1)
    by_length = {
        int(n): {
            "exact_match": float(exact[lengths == n].mean()),
            "count": int((lengths == n).sum()),
        }
        for n in np.unique(lengths)
    }
    wrong = np.flatnonzero(~exact)[: check.show_wrong]
    if check.interface == "encoder":  # an encoder's answer is as long as its source
        width = sources.shape[1]
        predictions = np.where(sources != PAD, predictions[:, :width], PAD)
    examples = [
        {
            "index": int(i),
            "source": task.text(sources[i], "src"),
            "expected": task.text(targets[i], "tgt"),
            "predicted": task.text(predictions[i], "tgt"),
            "ended": bool(ended[i]),
        }
        for i in wrong
    ]
    details: dict[str, Any] = {
        "task": task.name,
        "exact_match": exact_match,
        "token_accuracy": token_accuracy,
        "metric": check.metric,
        "test_examples": int(len(targets)),
        "unfinished": int((~ended).sum()),
        "by_source_length": by_length,
        "wrong_examples": examples,
        "floor": credit.floor,
        "target": credit.target,
        "curve": train_curve,
    }
    name = say(
        "sequence.exact_match" if check.metric == "exact_match" else "sequence.token_accuracy"
    )
    message = say(
        "sequence.result",
        task=task.name,
        exact_match=exact_match,
        token_accuracy=token_accuracy,
        n=len(targets),
        metric=name,
        floor=credit.floor,
        target=credit.target,
    )
    weakest = min(by_length, key=lambda k: (by_length[k]["exact_match"], -k))
    if by_length[weakest]["exact_match"] < 1:
        message += say(
            "sequence.weakest_length", length=weakest, exact=by_length[weakest]["exact_match"]
        )
    if details["unfinished"] and check.interface == "seq2seq":
        message += say("sequence.unfinished", unfinished=details["unfinished"], n=len(targets))
    trained = [c["train_accuracy"] for c in train_curve if "train_accuracy" in c]
    if trained and trained[-1] >= 0.9 and token_accuracy <= trained[-1] - 0.3:
        message += say("sequence.train_test_gap", train=trained[-1], test=token_accuracy)
    if examples:
        shown = Said("; ", "；").join(_wrong_example(e) for e in examples[:3])
        message += say("sequence.wrong", shown=shown)
    if untrained is not None:
        u_exact, u_matched, u_counted, _ = compare(check.interface, untrained, targets, sources)
        u_value = (
            float(u_exact.mean())
            if check.metric == "exact_match"
            else float(u_matched.sum() / max(int(u_counted.sum()), 1))
        )
        details["untrained_" + check.metric] = u_value
        if u_value > credit.floor:
            details["control_failed"] = True
            message = (
                say("sequence.control_reaches", metric=name, untrained=u_value, trained=value)
                + message
            )
            fraction = 0.0
    if fraction < 1:
        message = with_hint(message, check)
    return Outcome(check.points * fraction, check.points, message, details)
