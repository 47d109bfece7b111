"""``autograder specs test`` on every shipped homework, as an instructor runs it: each
reference solution must earn full marks and each starter nothing, through the real
sandbox (models really train; about two and a half minutes for all on 2 idle cores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT
from tests.sandboxed import prepared_mnist, require_sandbox, sandbox_settings

pytestmark = pytest.mark.slow
SLUGS = sorted(p.stem for p in (PROJECT_ROOT / "grading_specs").glob("*.yaml"))


@pytest.mark.parametrize("slug", SLUGS)
def test_reference_full_marks_and_starter_zero(tmp_path, slug):
    require_sandbox(sandbox_settings(tmp_path))
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(tmp_path / "home"),
        "AUTOGRADER_DATA_DIR": str(prepared_mnist()),
        "AUTOGRADER_JOBS_DIR": f"/tmp/ag-jobs-specs-{os.getpid()}",
        "AUTOGRADER_SANDBOX": "bwrap",
    }
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "specs", "test", slug, "--seed", "20261127"],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"ok   {slug} reference: " in out, out
    assert f"ok   {slug} starter: 0/" in out, out


def test_every_spec_has_a_reference_and_a_starter():
    for slug in SLUGS:
        assert (PROJECT_ROOT / "reference_solutions" / slug).is_dir(), slug
        assert (PROJECT_ROOT / "starters" / slug).is_dir(), slug
        assert Path(PROJECT_ROOT / "starters" / slug / "README.zh.md").is_file(), slug
