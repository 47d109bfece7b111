"""The graded checks of an assignment's bundle, through the real sandbox and scoring: the
reference solution must earn full marks, the starter zero, and each sample the score its
``expect.yaml`` says (autograder/specs/samples.py).

``autograder specs test`` runs them on the installed assignments; ``autograder assignments
publish DIR`` on a bundle before anything of it is installed or visible to students.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.grading.failures import GradingError
from autograder.settings import Settings
from autograder.specs.loader import LoadedSpec
from autograder.specs.samples import (
    Expectation,
    SampleError,
    load_samples,
    only_checks,
    threshold_lines,
    tight,
    unmet,
)
from worker.pipeline import JobContext, grade
from worker.sandbox.base import Backend


def run_spec_checks(
    loaded: LoadedSpec,
    reference: Path,
    starter: Path,
    samples: Path | None,
    seed: int,
    backend: Backend,
    settings: Settings,
    echo: Callable[[str], None],
) -> int:
    """Grade ``reference`` (full marks), ``starter`` (zero) and, when ``samples`` is a
    folder of samples, each of them (in range); print one line per run through ``echo``
    and, for a run that missed, what each check said. Returns how many runs failed."""
    failures = 0
    found = []
    if samples is not None:
        check_ids = {f"{q.id}/{c.id}" for q, c in loaded.spec.checks()}
        try:
            found = load_samples(samples, check_ids)
        except SampleError as exc:
            failures += 1
            echo(f"FAIL {loaded.slug} samples: {exc}")
    top = loaded.spec.max_points
    runs = [
        ("reference", reference, loaded, Expectation(score=(top, top))),
        ("starter", starter, loaded, Expectation(score=(0, 0))),
    ]
    for sample in found:
        narrowed = only_checks(loaded, sample.expect.only) if sample.expect.only else loaded
        runs.append((f"sample {sample.name}", sample.folder, narrowed, sample.expect))
    for label, folder, graded, want in runs:
        try:
            report = grade(JobContext(graded, folder, reference, seed, backend, settings))
        except GradingError as exc:
            failures += 1
            echo(f"FAIL {loaded.slug} {label}: {exc.kind} failure {exc.code}: {exc}")
            continue
        problems = unmet(want, report.raw_score, report.outcomes)
        failures += bool(problems)
        low, high = want.score
        wanted = f"want {low:g}" if low == high else f"want {low:g}-{high:g}"
        echo(
            f"{'FAIL' if problems else 'ok  '} {loaded.slug} {label}: "
            f"{report.raw_score:g}/{report.max_score:g} ({wanted}, seed {seed})"
        )
        is_sample = label.startswith("sample")
        if problems:
            for o in report.outcomes:  # what each check that missed said
                if is_sample or abs(o.earned - (o.points if high else 0)) > 1e-6:
                    echo(f"     {o.name}: {o.message}")
            if report.failure_message:
                echo(f"     {report.failure_kind}: {report.failure_message}")
            for problem in problems if is_sample else []:
                echo(f"     expected: {problem}")
        if samples is not None and label != "starter":
            for line in threshold_lines(graded.spec, report.outcomes):
                echo(f"       {line}")
        if label == "reference":
            for warning in tight(graded.spec, report.outcomes):
                echo(f"     warning: {warning}")
    return failures
