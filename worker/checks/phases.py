"""What every phased check kind shares: its context, one fresh box per phase, and reading
how a phase ended.

A phased check (``classifier``, and the kinds that train or generate) runs each of its
phases in its own fresh sandbox, one after the other; artifacts flow forward only, as
plain data the trusted code here checks before handing anything to the next phase.
Inputs a phase needs (generated data, noise, images) are written to its ``in/`` folder
from the job's secret seed; what it must never see (labels, clean targets) stays in the
context, outside every box.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from worker.artifacts import json_lines, metrics, read_capped
from worker.sandbox.base import PYTHON, RUNNER_DIR, Backend, GpuAssignment, Limits, Request, Result


@dataclass
class PhaseContext:
    backend: Backend
    spec: Any  # autograder.specs.schema.Spec
    limits: Limits
    code_dir: Path  # the student's staged files (code and any uploaded weights)
    job_dir: Path
    visible_data: dict[str, Path] = field(default_factory=dict)  # name -> host path a phase may see
    test_labels: np.ndarray | None = None  # hidden: never handed to a sandbox
    on_progress: Callable[[str, str, list[dict[str, Any]]], None] | None = None
    gpu: GpuAssignment | None = None  # None: the phases run on the CPU
    seed: int = 0  # the job's secret seed: generated data and noise come from it
    settings: Any = None
    load_dataset: Callable[[str], tuple[dict[str, Path], np.ndarray]] | None = None

    def rng(self, check_id: str) -> np.random.Generator:
        """A generator for one check, from the job's seed (independent per check)."""
        salt = int.from_bytes(check_id.encode()[:16].ljust(16, b"\0"), "little")
        return np.random.default_rng([self.seed % 2**63, salt])

    def dataset(self, name: str) -> tuple[dict[str, Path], np.ndarray]:
        """Files of a registered dataset a phase may see, and its hidden test labels."""
        if self.load_dataset is None:
            raise RuntimeError("no dataset loader in this context")
        return self.load_dataset(name)


@dataclass
class PhaseLog:
    """What the phases of one check left for the report (all untrusted but the timings)."""

    boxes: list[tuple[str, Result]] = field(default_factory=list)
    failure: tuple[str, str] | None = None  # (kind, message) of a phase ended by a limit

    def text(self) -> str:
        parts = []
        for name, result in self.boxes:
            out = result.student_output
            if out:
                parts.append(f"--- {name} phase ---\n{out}")
        return "\n".join(parts)


def run_phase(
    ctx: PhaseContext,
    check_id: str,
    phase_name: str,
    runner: str,
    phase: dict[str, Any],
    log: PhaseLog,
    *,
    wall_seconds: float,
    data: dict[str, Path] | None = None,
    inputs: dict[str, np.ndarray] | None = None,
    files: list[Path] | None = None,
    progress_file: str | None = None,
) -> tuple[Result, Path]:
    """Run one phase in a fresh box: ``runner`` (a file of worker/runner/) is called with
    ``phase_name``; ``phase`` becomes /job/in/phase.json (plus ``device`` and ``threads``),
    ``inputs`` become /job/in/<name>.npy, ``files`` are copied into /job/in, ``data`` is
    bound read-only under /data. Returns the result and the host folder of out/."""
    base = ctx.job_dir / f"{check_id}-{phase_name}"
    in_dir, out = base / "in", base / "out"
    in_dir.mkdir(parents=True)
    phase = {
        **phase,
        "device": "cuda" if ctx.gpu else "cpu",
        "threads": ctx.limits.threads,
    }
    (in_dir / "phase.json").write_text(json.dumps(phase))
    for name, array in (inputs or {}).items():
        np.save(in_dir / f"{name}.npy", array, allow_pickle=False)
    for path in files or []:
        shutil.copyfile(path, in_dir / path.name)

    def progress(lines: list[dict[str, Any]]) -> None:
        if ctx.on_progress:
            ctx.on_progress(check_id, phase_name, lines)

    request = Request(
        argv=[PYTHON, "-B", f"{RUNNER_DIR}/{runner}", phase_name],
        src_dir=ctx.code_dir,
        in_dir=in_dir,
        limits=replace(ctx.limits, wall_seconds=wall_seconds, cpu_seconds=None),
        data_files=data or {},
        progress_file=progress_file,
        on_progress=progress if progress_file else None,
        gpu=ctx.gpu,
        # A training box also warms an optimizer's first step (0.8 s of torch._dynamo
        # imports here); a prediction box does not need it.
        runtime="numpy"
        if runner.startswith("numpy")
        else ("torch-train" if phase_name == "train" else "torch"),
    )
    result = ctx.backend.run(request, out)
    result.require_runner_started(f"{phase_name} phase")
    log.boxes.append((f"{phase_name} ({check_id})", result))
    return result, out


def phase_problem(
    what: str, result: Result, out: Path, log: PhaseLog, ctx: PhaseContext, wall_seconds: float
) -> str | None:
    """Why a phase did not end well, in words for the student (None: it wrote result.json
    with status ok). A limit that ended it is also recorded as the run's failure kind."""
    if result.timed_out:
        log.failure = log.failure or ("submission:timeout", f"{what} ran out of time")
        return f"{what} did not finish within its time budget of {wall_seconds:g} s and was stopped"
    if result.oom_killed:
        log.failure = log.failure or ("submission:memory", f"{what} ran out of memory")
        return f"{what} used more than the memory limit ({ctx.limits.memory_mb} MB) and was stopped"
    status = result_json(out / "result.json")
    if status.get("status") == "ok":
        return None
    if status.get("status") == "error":
        return f"{what} failed:\n{str(status.get('error', ''))[:4000]}"
    log.failure = log.failure or ("submission:exited-early", f"{what} ended early")
    return f"{what} ended (exit code {result.exit_code}) before it finished its work"


def result_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(read_capped(path, 1_000_000))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def curve(path: Path) -> list[dict[str, Any]]:
    """The per-epoch metrics a training phase wrote (untrusted; numbers only)."""
    return [metrics(line) for line in json_lines(read_capped(path, 1_000_000), 1000)]


def load_array(
    path: Path,
    *,
    kinds: str,
    shape: tuple[int | None, ...],
    what: str,
    finite: bool = True,
) -> np.ndarray | str:
    """An untrusted .npy artifact, checked (no pickle; dtype kind, shape, finiteness) before
    any metric; a string says what was wrong, in words for the student."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return f"{what}: nothing was written"
    except Exception:
        return f"{what}: not a readable numeric array"
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds:
        return f"{what}: dtype {getattr(arr, 'dtype', type(arr).__name__)} is not allowed here"
    if len(arr.shape) != len(shape) or any(
        want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)
    ):
        expected = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        return f"{what}: shape {tuple(arr.shape)}, expected {expected}"
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return f"{what}: contains NaN or infinity"
    return arr
