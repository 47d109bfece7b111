"""Independently written submissions (tests/submissions/<slug>/<case>/) through the real
sandbox: each must score within its expected range, fail the checks its bug breaks and
pass the rest. Several seeds, since inputs are random per job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sandboxed import by_check, grade_folder

CORPUS = Path(__file__).resolve().parent / "submissions"
CASES = sorted(p for p in CORPUS.glob("*/*") if (p / "expected.json").is_file())


def trains_models(case: Path) -> bool:
    """Whether grading this case trains a model (one seed then: they are the slow cases).
    A case's expected.json may name ``only`` the checks its bug is about."""
    only = json.loads((case / "expected.json").read_text()).get("only")
    text = (CORPUS.parent.parent / "grading_specs" / f"{case.parent.name}.yaml").read_text()
    if only:
        from autograder.specs.loader import load_spec_file

        spec = load_spec_file(CORPUS.parent.parent / "grading_specs" / f"{case.parent.name}.yaml")
        kinds = {c.kind for q, c in spec.spec.checks() if f"{q.id}/{c.id}" in only}
        return bool(kinds & TRAINING_KINDS)
    return any(f"kind: {k}" in text for k in TRAINING_KINDS)


# Check kinds that train a model inside the sandbox.
TRAINING_KINDS = {"classifier", "sequence", "samples", "reconstruction"}


# Inputs of call-based checks are random per job: two seeds. Models train with the spec's
# fixed seed, so one run each (they are the slow cases).
PARAMS = [
    pytest.param(case, seed, id=f"{case.parent.name}/{case.name}-{seed}")
    for case in CASES
    for seed in ([11] if trains_models(case) else [11, 2024])
]


@pytest.mark.parametrize("case,seed", PARAMS)
def test_corpus_case(tmp_path, case, seed):
    expected = json.loads((case / "expected.json").read_text())
    report = grade_folder(tmp_path, case.parent.name, case, seed=seed, only=expected.get("only"))
    assert report.state in ("graded", "failed_student"), report.failure_message
    checks = by_check(report)
    assert expected["min_score"] <= report.raw_score <= expected["max_score"], (
        f"{report.raw_score} not in [{expected['min_score']}, {expected['max_score']}]"
    )
    for name in expected.get("failing_checks", []):
        assert checks[name]["earned"] < checks[name]["points"], name
        assert checks[name]["message"], name
    for name in expected.get("passing_checks", []):
        assert checks[name]["passed"], (name, checks[name]["message"])


def test_corpus_is_not_empty():
    slugs = {c.parent.name for c in CASES}
    assert {"hw1-1", "hw1-2", "hw1-3"} <= slugs
    assert all(sum(1 for c in CASES if c.parent.name == s) >= 4 for s in slugs)
