"""HW3-1 through the real sandbox: the equivalence checks of the reference solution and
the starter, and a submission whose module cannot even be built.  (The classifier question
trains a model: it is covered by `autograder specs test hw3-1` and the corpus case
correct-alt.)"""

from __future__ import annotations

from pathlib import Path

from autograder.specs.loader import load_spec_file
from tests.sandboxed import by_check, grade_folder

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "grading_specs" / "hw3-1.yaml"
EQUIVALENCE = [
    f"{q.id}/{c.id}" for q, c in load_spec_file(SPEC).spec.checks() if c.kind == "equivalence"
]


def test_spec_shape():
    spec = load_spec_file(SPEC).spec
    assert spec.max_points == 100
    assert len(EQUIVALENCE) == 8
    kinds = {c.kind for _, c in spec.checks()}
    assert kinds == {"equivalence", "classifier"}


def test_reference_matches_pytorch(tmp_path):
    report = grade_folder(
        tmp_path, "hw3-1", ROOT / "reference_solutions" / "hw3-1", seed=5, only=EQUIVALENCE
    )
    assert report.state == "graded", report.failure_message
    for name, row in by_check(report).items():
        assert row["passed"], (name, row["message"])
        assert "match PyTorch's" in row["message"]


def test_starter_earns_nothing_and_says_what_to_do(tmp_path):
    report = grade_folder(tmp_path, "hw3-1", ROOT / "starters" / "hw3-1", seed=5, only=EQUIVALENCE)
    rows = by_check(report)
    assert report.raw_score == 0
    assert "NotImplementedError" in rows["cells/lstm-cell"]["message"]
    assert "LSTMCell.__init__" in rows["cells/lstm-cell"]["message"]


def test_wrong_parameter_names_are_reported_with_the_expected_ones(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    source = (ROOT / "reference_solutions" / "hw3-1" / "rnn.py").read_text()
    source = source.replace('f"weight_hh_l{layer}{sfx}"', 'f"w_hh_l{layer}{sfx}"')
    (folder / "rnn.py").write_text(source)
    (folder / "mnist_lstm.py").write_text("def build_model():\n    raise NotImplementedError\n")
    report = grade_folder(
        tmp_path, "hw3-1", folder, seed=5, only=["layers/lstm-layer", "cells/lstm-cell"]
    )
    rows = by_check(report)
    assert rows["cells/lstm-cell"]["passed"]
    message = rows["layers/lstm-layer"]["message"]
    assert rows["layers/lstm-layer"]["earned"] == 0
    assert "do not load into LSTM (strict=True)" in message
    assert "weight_hh_l0 (" in message
