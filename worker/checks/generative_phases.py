"""What the generative check kinds (``samples``, ``reconstruction``) share: the train
phase (the student's own loop on the training images only), handing the trained weights
forward, and reading their training curve.

The runner inside the boxes is worker/runner/generative_runner.py. Every artifact is
untrusted: the weights are checked (a well-formed safetensors header, a size cap, the
spec's constraints) before a later phase gets them, and arrays are checked by the kinds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from worker.artifacts import json_lines, read_capped
from worker.checks.common.constraints import forbidden_imports, weight_constraints
from worker.checks.phases import PhaseContext, PhaseLog, phase_problem, run_phase

RUNNER = "generative_runner.py"
CURVE_KEYS = ("epoch", "seconds", "loss", "d_loss", "g_loss", "recon_loss", "l1")
MAX_WEIGHTS_BYTES = 256 * 2**20  # far above any homework's model; refuses absurd files


def curve(path: Path) -> list[dict[str, float]]:
    """The training curve a train phase wrote (untrusted; finite numbers of known keys)."""
    lines = json_lines(read_capped(path, 1_000_000), 1000)
    return [
        {
            k: float(v)
            for k, v in line.items()
            if k in CURVE_KEYS and isinstance(v, int | float) and math.isfinite(v)
        }
        for line in lines
    ]


def static_problem(check: Any, ctx: PhaseContext) -> Said | None:
    violation = forbidden_imports(ctx.code_dir, check.constraints.forbidden_imports)
    return say("phases.forbidden_imports", violation=violation) if violation else None


def train(
    check: Any, ctx: PhaseContext, log: PhaseLog, factory: str
) -> tuple[Path | None, list[dict[str, float]], Said | str]:
    """Run the student's training loop in a fresh box; the weights, the curve, or why not."""
    spec = check.train
    cfg = {
        **spec.options,
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "lr": spec.lr,
        "seed": spec.seed,
    }
    phase = {
        "module": check.module,
        "model": factory,
        "function": spec.function,
        "cfg": cfg,
        "subset": check.train_subset,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    data = {"train_images.npy": ctx.visible_data["train_images.npy"]}
    result, out = run_phase(
        ctx,
        check.id,
        "train",
        RUNNER,
        phase,
        log,
        wall_seconds=spec.wall_seconds,
        data=data,
        progress_file="metrics.jsonl",
    )
    train_curve = curve(out / "metrics.jsonl")
    problem = phase_problem(say("phases.training"), result, out, log, ctx, spec.wall_seconds)
    if problem:
        return None, train_curve, problem
    weights = out / "weights.safetensors"
    if weights.is_symlink() or not weights.is_file():
        return None, train_curve, say("phases.no_weights_written")
    too_big = weights_problem(check, weights)
    if too_big:
        return None, train_curve, too_big
    return weights, train_curve, ""


def weights_problem(check: Any, weights: Path) -> Said | str | None:
    """Why the trained weights may not go on (None: they may)."""
    if weights.stat().st_size > MAX_WEIGHTS_BYTES:
        return say("generative.weights_too_big", mb=MAX_WEIGHTS_BYTES // 2**20)
    return weight_constraints(check, weights, say("generative.trained_weights"))


def later_phase(
    check: Any,
    ctx: PhaseContext,
    log: PhaseLog,
    name: str,
    what: Said,
    factory: str,
    weights: Path,
    inputs: dict[str, np.ndarray],
    wall_seconds: float,
) -> tuple[Path | None, Said | str]:
    """A fresh box that loads the weights into a fresh model and maps ``inputs``."""
    phase = {
        "module": check.module,
        "model": factory,
        "weights": weights.name,
        "forbidden_imports": check.constraints.forbidden_imports,
    }
    result, out = run_phase(
        ctx,
        check.id,
        name,
        RUNNER,
        phase,
        log,
        wall_seconds=wall_seconds,
        inputs=inputs,
        files=[weights],
    )
    problem = phase_problem(what, result, out, log, ctx, wall_seconds)
    return (None, problem) if problem else (out, "")


def artifact(out: Path, name: str, max_bytes: int) -> Path | Said:
    """A regular file of out/ no larger than ``max_bytes`` (or why it cannot be read)."""
    path = out / name
    if path.is_symlink() or (path.exists() and not path.is_file()):
        return say("generative.not_regular_file", name=name)
    if not path.is_file():
        return say("phases.nothing_written", what=name)
    if path.stat().st_size > max_bytes:
        return say("generative.too_large", name=name, size=path.stat().st_size)
    return path
