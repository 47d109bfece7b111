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
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.grading.failures import Failure, FailureCode
from autograder.grading.said import Said, as_said, chinese, say
from worker.artifacts import (
    MalformedArtifact,
    json_lines,
    load_npy,
    metrics,
    parse_json,
    read_capped,
)
from worker.checks.common.hints import not_run
from worker.sandbox.base import PYTHON, RUNNER_DIR, Backend, GpuAssignment, Limits, Request, Result

if TYPE_CHECKING:
    from autograder.settings import Settings
    from autograder.specs.schema import Spec


# Told of a training phase's epochs: (check, phase, the epochs' lines, the epochs the phase
# is to run or None, final: the phase has ended and these are all its lines).
OnProgress = Callable[[str, str, list[dict[str, Any]], int | None, bool], None]


@dataclass
class PhaseContext:
    backend: Backend
    spec: Spec
    limits: Limits
    code_dir: Path  # the student's staged files (code and any uploaded weights)
    job_dir: Path
    visible_data: dict[str, Path] = field(default_factory=dict)  # name -> host path a phase may see
    test_labels: np.ndarray | None = None  # hidden: never handed to a sandbox
    on_progress: OnProgress | None = None
    gpu: GpuAssignment | None = None  # None: the phases run on the CPU
    seed: int = 0  # the job's secret seed: generated data and noise come from it
    settings: Settings | None = None
    load_dataset: Callable[[str], tuple[dict[str, Path], np.ndarray]] | None = None
    reference_dir: Path | None = None  # the reference solution (kinds that run it whole)

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
    failure: Failure | None = None  # the first phase ended by a limit, or early
    withheld: set[str] = field(default_factory=set)  # boxes whose output nobody sees
    printed: list[tuple[str, str]] = field(default_factory=list)  # (what, text) for the log

    def text(self) -> str:
        parts = [
            f"--- {what} ---\n{text}"  # not a message: the log's section heading
            for what, text in self.printed
            if text
        ]
        for name, result in self.boxes:
            out = result.student_output
            if out and name in self.withheld:
                out = WITHHELD_OUTPUT
            if out:
                parts.append(f"--- {name} phase ---\n{out}")  # not a message: log heading
        return "\n".join(parts)


# What a box that saw a private test split printed or raised could carry those images out
# (DESIGN.md rule 11): none of it leaves the grader, not even to staff pages.
WITHHELD_OUTPUT = (
    "(this box's output is withheld: it saw a test split the course keeps private, and "
    "nothing printed there leaves the grader)"
)
WITHHELD_ERROR = say("phases.withheld_error").en  # the English, for the tests' search


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
    src_dir: Path | None = None,
    label: str | None = None,
    withhold_output: bool = False,
    runtime: str | None = None,
) -> tuple[Result, Path]:
    """Run one phase in a fresh box: ``runner`` (a file of worker/runner/) is called with
    ``phase_name``; ``phase`` becomes /job/in/phase.json (plus ``device`` and ``threads``),
    ``inputs`` become /job/in/<name>.npy, ``files`` are copied into /job/in, ``data`` is
    bound read-only under /data; ``src_dir`` replaces the student's code (an empty folder
    for a box that must run none of it); ``label`` (default: the phase's name) names the
    box outside only, in its host folder, the log and the timings, so that two boxes of
    one phase (a model and its control) are told apart here and not inside;
    ``withhold_output``: what the box prints never reaches a report (a private split);
    ``runtime``: the box's Python ("numpy" or "torch"; default: the runner's own).
    Returns the result and the host folder of out/."""
    label = label or phase_name
    base = ctx.job_dir / f"{check_id}-{label}"
    in_dir, out = base / "in", base / "out"
    in_dir.mkdir(parents=True)
    phase = {
        **phase,
        "device": "cuda" if ctx.gpu else "cpu",
        "threads": ctx.limits.threads,
    }
    (in_dir / "phase.json").write_text(json.dumps(phase))
    for name, array in (inputs or {}).items():
        np.save(in_dir / f"{name}.npy", array, allow_pickle=False)  # not a message: a file
    for path in files or []:
        shutil.copyfile(path, in_dir / path.name)

    epochs = phase.get("epochs")
    total = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None

    def progress(lines: list[dict[str, Any]]) -> None:
        if ctx.on_progress:
            ctx.on_progress(check_id, label, lines, total, False)

    request = Request(
        argv=[PYTHON, "-B", f"{RUNNER_DIR}/{runner}", phase_name],
        src_dir=ctx.code_dir if src_dir is None else src_dir,
        in_dir=in_dir,
        limits=replace(ctx.limits, wall_seconds=wall_seconds, cpu_seconds=None),
        data_files=data or {},
        progress_file=progress_file,
        on_progress=progress if progress_file else None,
        gpu=ctx.gpu,
        # A training box also warms an optimizer's first step (0.8 s of torch._dynamo
        # imports here); a prediction box does not need it.
        runtime=runtime
        or (
            "numpy"
            if runner.startswith("numpy")
            else ("torch-train" if phase_name == "train" else "torch")
        ),
    )
    result = ctx.backend.run(request, out)
    result.require_runner_started(f"{label} phase")  # not a message: an infra error
    result.require_not_killed_from_outside(f"{label} phase")  # not a message: an infra error
    log.boxes.append((f"{label} ({check_id})", result))
    if withhold_output:
        log.withheld.add(f"{label} ({check_id})")
    if progress_file and ctx.on_progress and (out / progress_file).is_file():
        # The last epochs, which the live updates (every second or two) may have missed.
        lines = json_lines(read_capped(out / progress_file, 1_000_000), 1000)
        ctx.on_progress(check_id, label, lines, total, True)
    return result, out


def phase_problem(
    what: Said | str,
    result: Result,
    out: Path,
    log: PhaseLog,
    ctx: PhaseContext,
    wall_seconds: float,
    *,
    withhold: bool = False,
) -> Said | None:
    """Why a phase did not end well, in words for the student (None: it wrote result.json
    with status ok). A limit that ended it is also recorded as the run's failure kind.
    ``what``: the phase in words (a ``Said``, or a plain name the failure catalogue knows,
    such as "training"). ``withhold``: the error's text, the student's own, is replaced by
    WITHHELD_ERROR."""
    if result.timed_out:
        failure = Failure(
            code=FailureCode.TIMEOUT,
            values={"phase": str(what), "phase_zh": chinese(what), "seconds": float(wall_seconds)},
        )
        log.failure = log.failure or failure
        return failure_said(failure, what)
    if result.oom_killed:
        failure = Failure(
            code=FailureCode.MEMORY,
            values={
                "phase": str(what),
                "phase_zh": chinese(what),
                "memory_mb": ctx.limits.memory_mb,
            },
        )
        log.failure = log.failure or failure
        return failure_said(failure, what)
    status = result_json(out / "result.json")
    if status.get("status") == "ok":
        return None
    if status.get("status") == "error" and status.get("import_error") is True:
        # The run's failure, shown once above the checks; each check only says so.
        error = str(status.get("error", ""))[:4000]
        if withhold:
            return say("phases.failed_import_withheld", what=what, withheld=_withheld())
        log.failure = log.failure or Failure(code=FailureCode.IMPORT_ERROR, detail=error)
        return not_run(error)
    if status.get("status") == "error":
        if withhold:
            return say("phases.failed_withheld", what=what, withheld=_withheld())
        return say("phases.failed", what=what, error=str(status.get("error", ""))[:4000])
    failure = Failure(
        code=FailureCode.EXITED_EARLY,
        values={"phase": str(what), "phase_zh": chinese(what), "exit_code": result.exit_code},
    )
    log.failure = log.failure or failure
    return failure_said(failure, what)


def failure_said(failure: Failure, what: Said | str) -> Said:
    """A phase's failure in the run-level catalogue's words (``Failure.message``), each
    language with its own name of the phase (a plain name: the catalogue's own)."""
    zh_phase = as_said(what).zh
    in_chinese = failure.model_copy(update={"values": {**failure.values, "phase": zh_phase}})
    return Said(failure.message("en"), in_chinese.message("zh"))


def _withheld() -> Said:
    return say("phases.withheld_error")


def result_json(path: Path) -> dict[str, Any]:
    try:
        value = parse_json(read_capped(path, 1_000_000))
    except MalformedArtifact:
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
    what: Said | str,
    finite: bool = True,
) -> np.ndarray | Said:
    """An untrusted .npy artifact, checked (no pickle; dtype kind, shape, finiteness) before
    any metric; a ``Said`` says what was wrong, in words for the student."""
    try:
        arr = load_npy(path)
    except FileNotFoundError:
        return say("phases.nothing_written", what=what)
    except MalformedArtifact as exc:
        return say("phases.not_readable", what=what, error=str(exc))
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in kinds:
        dtype = getattr(arr, "dtype", type(arr).__name__)
        return say("phases.dtype_not_allowed", what=what, dtype=str(dtype))
    if len(arr.shape) != len(shape) or any(
        want is not None and got != want for got, want in zip(arr.shape, shape, strict=True)
    ):
        return say(
            "phases.shape",
            what=what,
            shape=str(tuple(arr.shape)),
            expected=_expected_shape(shape),
        )
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return say("phases.not_finite", what=what)
    return arr


def _expected_shape(shape: tuple[int | None, ...]) -> Said:
    """(2, any) in words: a size the check leaves open is "any"."""
    sizes = [say("phases.any_size") if s is None else str(s) for s in shape]
    return "(" + Said(", ", ", ").join(sizes) + ")"
