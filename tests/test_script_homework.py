"""hw2-3-script, the XOR backpropagation script, graded as its students write it: an
independently written correct script earns everything, a one-bug script loses what the
bug touches and the feedback names it (graded through the real sandbox in seconds)."""

from __future__ import annotations

from pathlib import Path

from autograder.settings import PROJECT_ROOT
from tests.sandboxed import by_check, grade_folder

STARTER = (PROJECT_ROOT / "starters" / "hw2-3-script" / "xor_backprop.py").read_text()
INDEPENDENT = {
    "    raise NotImplementedError  # TODO\n\n\ndef dsigmoid": (
        "    return np.exp(-np.logaddexp(0, -x))\n\n\ndef dsigmoid"
    ),
    "    raise NotImplementedError  # TODO\n\n\ndef forward": (
        "    return y - y**2\n\n\ndef forward"
    ),
    "    # TODO: forward, the output's and the hidden layer's deltas, then the new V and W\n"
    "    raise NotImplementedError": (
        "    H, O = forward(X, V, W)\n"
        "    err = Y - O\n"
        "    d_out = err * dsigmoid(O)\n"
        "    d_hidden = np.dot(d_out, W.T) * dsigmoid(H)\n"
        "    return V + lr * np.dot(X.T, d_hidden), W + lr * np.dot(H.T, d_out)"
    ),
}


def _script(tmp_path: Path, replacements: dict[str, str]) -> Path:
    source = STARTER
    for old, new in replacements.items():
        assert old in source
        source = source.replace(old, new)
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "xor_backprop.py").write_text(source)
    return folder


def test_an_independently_written_script_earns_full_marks(tmp_path):
    report = grade_folder(tmp_path, "hw2-3-script", _script(tmp_path, INDEPENDENT))
    rows = by_check(report)
    assert all(r["passed"] for r in rows.values()), {k: r["message"] for k, r in rows.items()}
    assert report.raw_score == 100


def test_the_hidden_delta_through_the_updated_weights_loses_what_it_touches(tmp_path):
    """A classic bug: W is stepped before the hidden layer's delta is computed through it."""
    buggy = dict(INDEPENDENT)
    key = next(k for k in buggy if "TODO: forward" in k)
    buggy[key] = (
        "    H, O = forward(X, V, W)\n"
        "    d_out = (Y - O) * dsigmoid(O)\n"
        "    W = W + lr * H.T @ d_out\n"
        "    d_hidden = (d_out @ W.T) * dsigmoid(H)\n"
        "    return V + lr * X.T @ d_hidden, W"
    )
    rows = by_check(grade_folder(tmp_path, "hw2-3-script", _script(tmp_path, buggy)))
    assert rows["functions/sigmoid"]["passed"] and rows["functions/dsigmoid"]["passed"]
    update = rows["functions/update"]
    assert update["earned"] == 0
    assert "V_new:" in update["message"] and "V_new：" in update["message_zh"]
    # training still converges to XOR's outputs, so what it prints may not show it: the
    # function check of one step is what finds it


def test_a_step_uphill_loses_the_training_and_the_update(tmp_path):
    wrong = {
        k: v.replace("return V + lr * np.dot", "return V - lr * np.dot").replace(
            "W + lr * np.dot", "W - lr * np.dot"
        )
        for k, v in INDEPENDENT.items()
    }
    rows = by_check(grade_folder(tmp_path, "hw2-3-script", _script(tmp_path, wrong)))
    assert rows["functions/update"]["earned"] == 0
    sections = rows["printed/sections"]
    assert sections["earned"] == 10  # "1. Before training" (weight 1 of 5) still matches
    assert "2. Training" in sections["message"] and "3. After training" in sections["message"]
    assert "1. Before training" not in sections["message"]
    assert "2. Training" in sections["message_zh"]
