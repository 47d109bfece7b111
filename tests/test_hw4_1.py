"""HW4-1 through the real sandbox: the equivalence checks of the reference solution (fully
masked rows included: the oracle's definition, zeros, and the reference agree), the
starter, and a NaN on a fully masked row named as such.  (The sorting question trains a
model: covered by `autograder specs test hw4-1` and the corpus case correct-alt.)"""

from __future__ import annotations

from pathlib import Path

from autograder.specs.loader import load_spec_file
from tests.sandboxed import by_check, grade_folder

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "grading_specs" / "hw4-1.yaml"
EQUIVALENCE = [
    f"{q.id}/{c.id}" for q, c in load_spec_file(SPEC).spec.checks() if c.kind == "equivalence"
]


def test_spec_shape():
    spec = load_spec_file(SPEC).spec
    assert spec.max_points == 100
    assert {c.kind for _, c in spec.checks()} == {"equivalence", "sequence"}
    edge = {c.id: c.edge_cases for _, c in spec.checks() if c.kind == "equivalence"}
    assert "fully_masked_row" in edge["sdpa"] and "fully_masked_row" in edge["multi-head"]


def test_reference_matches_pytorch_including_fully_masked_rows(tmp_path):
    report = grade_folder(
        tmp_path, "hw4-1", ROOT / "reference_solutions" / "hw4-1", seed=7, only=EQUIVALENCE
    )
    assert report.state == "graded", report.failure_message
    rows = by_check(report)
    for name, row in rows.items():
        assert row["passed"], (name, row["message"])
    assert rows["attention/sdpa"]["details"]["cases"] == 11


def test_starter_earns_nothing(tmp_path):
    report = grade_folder(tmp_path, "hw4-1", ROOT / "starters" / "hw4-1", seed=7, only=EQUIVALENCE)
    assert report.raw_score == 0
    assert "NotImplementedError" in by_check(report)["mha/multi-head"]["message"]


def test_nan_on_a_fully_masked_row_is_named(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    source = (ROOT / "reference_solutions" / "hw4-1" / "attention.py").read_text()
    patched = source.replace(
        "    if allowed is not None:\n"
        "        weights = weights.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)\n",
        "",
    )
    assert patched != source
    (folder / "attention.py").write_text(patched)
    (folder / "sort_model.py").write_text(
        "def build_model(a, b, c):\n    raise NotImplementedError\n"
    )
    report = grade_folder(tmp_path, "hw4-1", folder, seed=7, only=["attention/sdpa"])
    row = by_check(report)["attention/sdpa"]
    assert 0 < row["earned"] < row["points"]
    assert "NaN or infinite" in row["message"]
