"""The shipped samples (grading_specs/samples/<slug>/<name>/, each with an expect.yaml):
independently written submissions, most with one bug, through the real sandbox. Each must
score within its range, lose points on the checks its bug breaks (with a message saying
why) and earn all of them on the rest. Several seeds, since inputs are random per job.
``autograder specs test SLUG --samples DIR`` checks the same expectations for instructors
(autograder/specs/samples.py); tests/test_specs_samples.py tests that command."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT
from autograder.specs.loader import load_spec_file
from autograder.specs.samples import load_samples, unmet
from tests.sandboxed import by_check, grade_folder

SPECS = PROJECT_ROOT / "grading_specs"
SAMPLES = SPECS / "samples"
# Check kinds that train a model inside the sandbox.
TRAINING_KINDS = {"classifier", "sequence", "samples", "reconstruction"}


def _samples():  # type: ignore[no-untyped-def]
    found = []
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        spec = load_spec_file(SPECS / f"{folder.name}.yaml").spec
        kinds = {f"{q.id}/{c.id}": c.kind for q, c in spec.checks()}
        for sample in load_samples(folder, set(kinds)):
            graded = sample.expect.only or list(kinds)
            trains = any(kinds[c] in TRAINING_KINDS for c in graded)
            found.append((folder.name, sample, trains))
    return found


CASES = _samples()
# Inputs of call-based checks are random per job: two seeds. Models train with the spec's
# fixed seed, so one run each (they are the slow cases).
PARAMS = [
    pytest.param(slug, sample, seed, id=f"{slug}/{sample.name}-{seed}")
    for slug, sample, trains in CASES
    for seed in ([11] if trains else [11, 2024])
]


@pytest.mark.parametrize("slug,sample,seed", PARAMS)
def test_sample(tmp_path: Path, slug, sample, seed):  # type: ignore[no-untyped-def]
    expect = sample.expect
    report = grade_folder(tmp_path, slug, sample.folder, seed=seed, only=expect.only)
    assert report.state in ("graded", "failed_student"), report.failure_message
    problems = unmet(expect, report.raw_score, report.outcomes)
    assert not problems, problems
    checks = by_check(report)
    for name in expect.failing:
        assert checks[name]["message"], name  # a lost point says why


def test_every_homework_has_samples():
    slugs = {slug for slug, _, _ in CASES}
    assert {"hw1-1", "hw1-2", "hw1-3"} <= slugs
    assert all(sum(1 for s, _, _ in CASES if s == slug) >= 4 for slug in slugs)
