"""``autograder assignments publish DIR``, as an instructor runs it on a bundle: every
check of ``specs validate`` and ``specs test --samples`` through the real sandbox before
anything is installed or shown to students; then withdraw and publish again.

The course's folders (specs, reference solutions, starters, datasets) and its database
are the test's own, under tmp_path; the bundle is hw1-1 (numpy basics, quick to grade)
under a new slug, with its shipped samples."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT
from tests.sandboxed import prepared_mnist, require_sandbox, sandbox_settings

pytestmark = pytest.mark.slow
SLUG = "numpy-intro"


def make_bundle(root: Path) -> Path:
    bundle = root / "bundle"
    bundle.mkdir()
    shutil.copy(PROJECT_ROOT / "grading_specs" / "hw1-1.yaml", bundle / f"{SLUG}.yaml")
    shutil.copytree(PROJECT_ROOT / "reference_solutions" / "hw1-1", bundle / "reference")
    shutil.copytree(PROJECT_ROOT / "starters" / "hw1-1", bundle / "starter")
    shutil.copytree(PROJECT_ROOT / "grading_specs" / "samples" / "hw1-1", bundle / "samples")
    return bundle


@pytest.fixture
def course(tmp_path):  # type: ignore[no-untyped-def]
    """An empty course (no spec, reference, starter) beside the shipped datasets."""
    require_sandbox(sandbox_settings(tmp_path))
    for part in ("specs", "reference", "starters"):
        (tmp_path / part).mkdir()
    shutil.copytree(PROJECT_ROOT / "datasets", tmp_path / "datasets")
    return tmp_path


def cli(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(course / "home"),
        "AUTOGRADER_DATA_DIR": str(prepared_mnist()),
        "AUTOGRADER_JOBS_DIR": f"/tmp/ag-jobs-publish-{os.getpid()}",
        "AUTOGRADER_SANDBOX": "bwrap",
        "AUTOGRADER_SPECS_DIR": str(course / "specs"),
        "AUTOGRADER_REFERENCE_DIR": str(course / "reference"),
        "AUTOGRADER_STARTERS_DIR": str(course / "starters"),
        "AUTOGRADER_DATASETS_DIR": str(course / "datasets"),
    }
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def rows(course: Path) -> list[tuple[str, str, str, str | None, str]]:
    database = course / "home" / "autograder.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as conn:
        try:
            query = "SELECT slug, state, spec_hash, checked_hash, origin FROM assignments"
            return list(conn.execute(query))
        except sqlite3.OperationalError:  # not migrated: nothing was ever recorded
            return []


def installed(course: Path) -> list[str]:
    return sorted(
        str(p.relative_to(course))
        for part in ("specs", "reference", "starters")
        for p in (course / part).rglob("*")
    )


def test_a_bundle_is_checked_installed_published_withdrawn_and_published_again(course):
    bundle = make_bundle(course)
    result = cli(course, "assignments", "publish", str(bundle), "--seed", "20261205")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    earned, top = re.search(rf"ok   {SLUG} reference: (\S+)/(\S+) ", out).groups()  # type: ignore[union-attr]
    assert earned == top, out
    assert f"ok   {SLUG} starter: 0/" in out, out
    for sample in (bundle / "samples").iterdir():
        assert f"ok   {SLUG} sample {sample.name}: " in out, out
    assert f"{SLUG}: version " in out and "installed, published" in out, out
    # installed whole: the spec, the reference, the starter with its handouts, the samples
    assert (course / "specs" / f"{SLUG}.yaml").read_bytes() == (
        bundle / f"{SLUG}.yaml"
    ).read_bytes()
    assert (course / "starters" / SLUG / "README.zh.md").is_file()
    assert sorted(p.name for p in (course / "specs" / "samples" / SLUG).iterdir()) == sorted(
        p.name for p in (bundle / "samples").iterdir()
    )
    [(slug, state, spec_hash, checked, origin)] = rows(course)
    assert (slug, state, checked) == (SLUG, "published", spec_hash)
    assert origin == f"bundle {bundle.resolve()}"
    listed = cli(course, "assignments", "list")
    assert listed.returncode == 0 and f"{SLUG}" in listed.stdout and "published" in listed.stdout

    withdrawn = cli(course, "assignments", "withdraw", SLUG)
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert rows(course)[0][1] == "withdrawn"
    again = cli(course, "assignments", "republish", SLUG)
    assert again.returncode == 0, again.stderr
    assert rows(course)[0][1] == "published"


def test_a_bundle_that_fails_a_check_installs_nothing(course):
    """A starter that already earns marks (here: the reference handed out as the starter)
    and a sample outside its range are each reported; nothing is installed or recorded."""
    bundle = make_bundle(course)
    shutil.rmtree(bundle / "starter")
    shutil.copytree(bundle / "reference", bundle / "starter")
    for name in ("README.md", "README.zh.md"):
        shutil.copy(PROJECT_ROOT / "starters" / "hw1-1" / name, bundle / "starter" / name)
    for sample in list((bundle / "samples").iterdir())[1:]:
        shutil.rmtree(sample)  # one sample is enough here
    [sample] = list((bundle / "samples").iterdir())
    (sample / "expect.yaml").write_text("score: [0, 0]\n")  # its score is not in range
    result = cli(course, "assignments", "publish", str(bundle), "--seed", "20261205")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    earned, top = re.search(rf"FAIL {SLUG} starter: (\S+)/(\S+) ", out).groups()  # type: ignore[union-attr]
    assert earned == top, out
    assert f"ok   {SLUG} reference: " in out, out
    assert f"FAIL {SLUG} sample {sample.name}: " in out, out
    assert "nothing was installed or published" in out, out
    assert installed(course) == [] and rows(course) == []


def test_a_bundle_missing_parts_is_refused_before_grading(course):
    bundle = make_bundle(course)
    (bundle / "starter" / "README.zh.md").unlink()
    (bundle / "reference" / "numpy_basics.py").unlink()
    result = cli(course, "assignments", "publish", str(bundle))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "has no handout README.zh.md (in Chinese)" in out, out
    assert "reference solution file" in out and "numpy_basics.py is missing" in out, out
    assert "reference:" not in out  # refused before anything was graded
    assert installed(course) == [] and rows(course) == []
    shutil.rmtree(bundle / "starter")
    result = cli(course, "assignments", "publish", str(bundle))
    assert result.returncode == 1 and "starter: missing" in result.stderr, result.stderr


def test_a_new_dataset_comes_with_the_bundle_and_must_be_prepared(course):
    """A bundle declaring a dataset the course lacks: its manifest is declared (students
    see no dataset), and the bundle is refused until the data is fetched."""
    bundle = course / "fashion"
    bundle.mkdir()
    manifest = (PROJECT_ROOT / "datasets" / "fashion-mnist.yaml").read_text()
    (bundle / "datasets").mkdir()
    (bundle / "datasets" / "clothes.yaml").write_text(
        manifest.replace("name: fashion-mnist", "name: clothes")
    )
    spec = (PROJECT_ROOT / "grading_specs" / "fashion-cnn.yaml").read_text()
    assert "dataset: fashion-mnist" in spec
    (bundle / "clothes-cnn.yaml").write_text(
        spec.replace("dataset: fashion-mnist", "dataset: clothes")
    )
    shutil.copytree(PROJECT_ROOT / "reference_solutions" / "fashion-cnn", bundle / "reference")
    shutil.copytree(PROJECT_ROOT / "starters" / "fashion-cnn", bundle / "starter")
    result = cli(course, "assignments", "publish", str(bundle))
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert f"declared dataset clothes in {course / 'datasets' / 'clothes.yaml'}" in out, out
    assert "dataset clothes is not prepared" in out and "autograder data fetch" in out, out
    assert installed(course) == [] and rows(course) == []
