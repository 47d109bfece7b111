"""``autograder specs test SLUG --samples DIR`` as an instructor runs it, through the real
sandbox: each sample must score what its expect.yaml says, every check's metric is printed
with its thresholds and margin, and a deliberately lenient threshold shows up as a sample
that scores more than it should (hw1-2: no model trains, seconds per grading)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT
from autograder.specs.samples import SampleError, load_samples
from tests.sandboxed import require_sandbox, sandbox_settings

pytestmark = pytest.mark.slow
SAMPLES = PROJECT_ROOT / "grading_specs" / "samples" / "hw1-2"


def run_specs_test(tmp_path: Path, specs: Path, samples: Path) -> tuple[int, str]:
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(tmp_path / "home"),
        "AUTOGRADER_SPECS_DIR": str(specs),
        "AUTOGRADER_JOBS_DIR": f"/tmp/ag-jobs-samples-{os.getpid()}",
        "AUTOGRADER_SANDBOX": "bwrap",
    }
    argv = [sys.executable, "-m", "autograder.cli", "specs", "test", "hw1-2", "--seed", "7"]
    result = subprocess.run(
        [*argv, "--samples", str(samples)],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout + result.stderr


def samples_with(tmp_path: Path, expect: str) -> Path:
    """Two shipped samples of hw1-2; the second (no intercept) with ``expect``."""
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES / "correct-alt", folder / "correct-alt")
    shutil.copytree(SAMPLES / "no-intercept", folder / "no-intercept")
    (folder / "no-intercept" / "expect.yaml").write_text(expect)
    return folder


EXPECT = """score: [74.5, 84]
failing: [closed-form/fit-closed-form, closed-form/closed-form-heldout]
passing: [gradient-descent/gd-heldout]
"""


def test_samples_within_their_ranges_with_metrics_and_margins(tmp_path):
    require_sandbox(sandbox_settings(tmp_path))
    code, out = run_specs_test(
        tmp_path, PROJECT_ROOT / "grading_specs", samples_with(tmp_path, EXPECT)
    )
    assert code == 0, out
    assert "ok   hw1-2 reference: 100/100" in out, out
    assert "ok   hw1-2 sample correct-alt: 100/100 (want 100" in out, out
    assert "ok   hw1-2 sample no-intercept: " in out and "(want 74.5-84," in out, out
    # Every check, its points, and for thresholded ones the metric and the margin.
    assert "closed-form/predict: 5/5" in out
    assert "closed-form/closed-form-heldout: 10/10; mse " in out
    heldout = [line for line in out.splitlines() if "closed-form-heldout:" in line]
    assert len(heldout) == 3, heldout  # the reference and both samples
    assert all("none at " in line and "full at " in line for line in heldout), heldout
    assert "margin -" in heldout[-1] and "margin +" in heldout[0], heldout


def test_a_lenient_threshold_shows_up(tmp_path):
    """Full credit up to 20x the reference's error: the sample without an intercept, which
    deserves less, now earns every held-out point and leaves its range."""
    require_sandbox(sandbox_settings(tmp_path))
    specs = tmp_path / "specs"
    specs.mkdir()
    text = (PROJECT_ROOT / "grading_specs" / "hw1-2.yaml").read_text()
    strict = "credit: {full_at: 1.1, zero_at: 10.0, relative_to: reference, scale: log}"
    assert text.count(strict) >= 1
    lenient = "credit: {full_at: 20.0, zero_at: 50.0, relative_to: reference, scale: log}"
    (specs / "hw1-2.yaml").write_text(text.replace(strict, lenient))
    code, out = run_specs_test(tmp_path, specs, samples_with(tmp_path, EXPECT))
    assert code != 0, out
    assert "FAIL hw1-2 sample no-intercept: 85/100 (want 74.5-84" in out, out
    assert "expected: score 85 is not in [74.5, 84]" in out, out
    assert "expected: closed-form/closed-form-heldout earned all 10 points" in out, out
    assert "ok   hw1-2 sample correct-alt" in out  # the others are unaffected


def test_an_unusable_expectation_names_its_file_and_key(tmp_path):
    folder = samples_with(tmp_path, "score: [90, 80]\nfailng: [closed-form/predict]\n")
    (folder / "correct-alt" / "expect.yaml").write_text("score: [100, 100]\npassing: [nope/x]\n")
    with pytest.raises(SampleError) as info:
        load_samples(folder, {"closed-form/predict"})
    text = str(info.value)
    assert f"{folder / 'no-intercept' / 'expect.yaml'}: failng: Extra inputs" in text, text
    assert f"{folder / 'correct-alt' / 'expect.yaml'}: no such check in the spec: nope/x" in text
    (folder / "no-intercept" / "expect.yaml").write_text("score: [90, 80]\n")
    with pytest.raises(SampleError, match="the range's low end is above its high end"):
        load_samples(folder, {"closed-form/predict"})
    (folder / "correct-alt" / "expect.yaml").unlink()
    with pytest.raises(SampleError, match="missing"):
        load_samples(folder, {"closed-form/predict"})
