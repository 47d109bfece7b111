"""Sample submissions of an assignment, each with the score it should get, and the
thresholds they test: what ``autograder specs test SLUG --samples DIR`` reports so that an
instructor sees a threshold that is too loose (or too tight) before students do.

A samples folder holds one folder per sample: the files a student would upload and an
``expect.yaml``::

    score: [25, 92]                 # the raw score must fall in this range (inclusive)
    failing: [classifier/linear-mnist]   # checks that must lose points (question/check)
    passing: [cross-entropy/softmax-ce]  # checks that must earn all of theirs
    only: [classifier/linear-mnist] # optional: grade just these checks (quicker)
    note: >-                        # optional: the bug, and what was measured
      Adam with 100x the learning rate.

For every check with a threshold (accuracy, error, distance, ...) the report gives the
sample's metric, where the credit starts and where it is full, and the margin: how far
past full marks (positive) or short of them (negative) the sample is, in the metric's
own unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autograder.grading.outcomes import CheckOutcome

EXPECT = "expect.yaml"


class SampleError(Exception):
    """A sample folder or its expect.yaml is unusable; ``str()`` names the file and key."""


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    score: tuple[float, float] = Field(description="The raw score's range, inclusive.")
    failing: list[str] = Field(default_factory=list, description="Checks that must lose points.")
    passing: list[str] = Field(default_factory=list, description="Checks that must earn all.")
    only: list[str] | None = Field(default=None, description="Grade just these checks.")
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Expectation:
        if self.score[0] > self.score[1]:
            raise ValueError("score: the range's low end is above its high end")
        return self


@dataclass(frozen=True)
class Sample:
    name: str
    folder: Path
    expect: Expectation


def load_samples(folder: Path, check_ids: set[str]) -> list[Sample]:
    """Every sample in ``folder`` (sorted by name); ``SampleError`` names each problem:
    a missing or malformed expect.yaml, an unknown key, a check the spec does not have."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SampleError(f"{folder}: not a folder of samples")
    samples, problems = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        path = sub / EXPECT
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{path}: missing (every sample says the score it should get)")
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark is not None else ""
            problems.append(f"{path}{line}: YAML syntax error: {getattr(exc, 'problem', exc)}")
            continue
        try:
            expect = Expectation.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"]) or "(top level)"
                problems.append(f"{path}: {key}: {err['msg']}")
            continue
        named = expect.failing + expect.passing + (expect.only or [])
        unknown = sorted({c for c in named if c not in check_ids})
        if unknown:
            problems.append(
                f"{path}: no such check in the spec: {', '.join(unknown)} "
                f"(checks: {', '.join(sorted(check_ids))})"
            )
            continue
        samples.append(Sample(sub.name, sub, expect))
    if problems:
        raise SampleError("\n".join(problems))
    if not samples:
        raise SampleError(f"{folder}: no samples (one folder each, with an {EXPECT})")
    return samples


def only_checks(loaded: Any, names: list[str]) -> Any:
    """``loaded`` (a LoadedSpec) with just the checks named ``question/check``."""
    from dataclasses import replace

    questions = []
    for q in loaded.spec.questions:
        kept = [c for c in q.checks if f"{q.id}/{c.id}" in names]
        if kept:
            questions.append(q.model_copy(update={"checks": kept}))
    return replace(loaded, spec=loaded.spec.model_copy(update={"questions": questions}))


def unmet(expect: Expectation, raw_score: float, outcomes: list[CheckOutcome]) -> list[str]:
    """How a graded sample misses its expectation (empty: it meets it)."""
    by_id = {o.name: o for o in outcomes}
    low, high = expect.score
    problems = []
    if not low - 1e-6 <= raw_score <= high + 1e-6:
        problems.append(f"score {raw_score:g} is not in [{low:g}, {high:g}]")
    for name in expect.failing:
        o = by_id.get(name)
        if o is not None and o.earned >= o.points - 1e-9:
            problems.append(f"{name} earned all {o.points:g} points but should lose some")
    for name in expect.passing:
        o = by_id.get(name)
        if o is not None and o.earned < o.points - 1e-9:
            problems.append(f"{name} earned {o.earned:g} of {o.points:g}, should earn all")
    return problems


# ------------------------------------------------------------------------------ thresholds


@dataclass(frozen=True)
class Metric:
    check: str  # question/check
    name: str
    value: float | None
    zero_at: float  # no credit at or beyond this
    full_at: float  # full credit at or beyond this

    @property
    def higher_is_better(self) -> bool:
        return self.full_at > self.zero_at

    @property
    def margin(self) -> float | None:
        """How far past full credit (positive) or short of it (negative)."""
        if self.value is None:
            return None
        if self.higher_is_better:
            return self.value - self.full_at
        return self.full_at - self.value

    def describe(self) -> str:
        value = "—" if self.value is None else f"{self.value:.4g}"
        margin = self.margin
        where = "—" if margin is None else f"{margin:+.4g}"
        return (
            f"{self.name} {value}: none at {self.zero_at:.4g}, full at {self.full_at:.4g}, "
            f"margin {where}"
        )


def metrics(check_id: str, check: Any, details: dict[str, Any]) -> list[Metric]:
    """The thresholded metrics of one outcome (none for checks scored by cases)."""
    kind = getattr(check, "kind", "")
    get: Callable[..., Any] = details.get
    if kind == "classifier":
        return [Metric(check_id, "accuracy", get("accuracy"), get("floor"), get("target"))]
    if kind == "sequence" and get("metric"):
        credit = check.credit
        return [Metric(check_id, get("metric"), get(get("metric")), credit.floor, credit.target)]
    if kind == "regression" and "full_credit_at" in details:
        name = str(get("metric", "error"))
        return [Metric(check_id, name, get("error"), get("zero_credit_at"), get("full_credit_at"))]
    if kind == "samples":
        conf, cov, fre = check.credit.confidence, check.credit.coverage, check.credit.frechet
        return [
            Metric(check_id, "confidence", get("confidence"), conf.floor, conf.target),
            Metric(check_id, "coverage", get("coverage"), cov.floor, cov.target),
            Metric(check_id, "frechet", get("frechet"), fre.zero_at, fre.full_at),
        ]
    if kind == "reconstruction":
        found = [Metric(check_id, "mse", get("mse"), check.credit.zero_at, check.credit.full_at)]
        if check.sparsity is not None:
            sp = check.sparsity
            found.append(
                Metric(check_id, "active fraction", get("active_fraction"), sp.zero_at, sp.full_at)
            )
        return found
    return []


def threshold_lines(spec: Any, outcomes: list[CheckOutcome]) -> list[str]:
    """One line per check: earned of points, then each thresholded metric and its margin."""
    checks = {f"{q.id}/{c.id}": c for q, c in spec.checks()}
    lines = []
    for o in outcomes:
        name = o.name
        line = f"{name}: {o.earned:g}/{o.points:g}"
        found = metrics(name, checks.get(name), o.details)
        if found:
            line += "; " + "; ".join(m.describe() for m in found if m.full_at is not None)
        lines.append(line)
    return lines


def tight(spec: Any, outcomes: list[CheckOutcome], share: float = 0.1) -> list[str]:
    """Metrics of a solution that should earn full marks but clears full credit by less than
    ``share`` of the credit range: another seed or machine may cost it points."""
    checks = {f"{q.id}/{c.id}": c for q, c in spec.checks()}
    warnings = []
    for o in outcomes:
        name = o.name
        check = checks.get(name)
        credit = getattr(check, "credit", None)
        if getattr(credit, "relative_to", None) == "reference":
            continue  # thresholds that are multiples of the reference's own error
        for m in metrics(name, check, o.details):
            if m.margin is None or m.full_at is None or m.zero_at is None:
                continue
            if m.margin < share * abs(m.full_at - m.zero_at):
                warnings.append(
                    f"{name}: {m.name} {m.value:.4g} clears full credit ({m.full_at:.4g}) by "
                    f"{m.margin:+.4g}, less than {share:.0%} of the credit range"
                )
    return warnings
