"""HW3-2 (seq2seq with a GRU and attention, Chinese number words to digits): the spec, the
reference's pieces run with the sandbox's own Python, and the function checks through the
real sandbox.  (The translation question trains a model: it is covered by `autograder specs
test hw3-2` and the corpus cases correct-alt, no-eos and no-shift.)"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np

from autograder.specs.loader import load_spec_file
from tests.sandboxed import by_check, grade_folder
from worker.checks.sequence_check import make_task, widths

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "grading_specs" / "hw3-2.yaml"
SANDBOX_PYTHON = ROOT / ".venv-sandbox" / "bin" / "python"
PARTS = ["parts/attention", "parts/decoder-input"]


def test_spec_shape():
    spec = load_spec_file(SPEC).spec
    assert spec.max_points == 100
    assert {c.kind for _, c in spec.checks()} == {"function", "sequence"}
    check = next(c for _, c in spec.checks() if c.kind == "sequence")
    task = make_task(check, np.random.default_rng(0))
    assert task.train_src.shape[0] == 8000 and task.test_src.shape[0] == 1000
    max_len, width = widths(check, task)
    # the longer of the widest source (9 characters) and target (5 digits + EOS), + margin 4
    assert width == max_len == max(task.train_src.shape[1], task.train_tgt.shape[1]) + 4 == 13


def test_reference_pieces_behave():
    """attention, decoder_input, the model's shapes and greedy decoding's stop at EOS."""
    script = textwrap.dedent("""
        import sys, torch
        sys.path.insert(0, "reference_solutions/hw3-2")
        import seq2seq as m
        torch.manual_seed(0)
        q, k = torch.randn(3, 2, 5, dtype=torch.float64), torch.randn(3, 6, 5, dtype=torch.float64)
        lengths = torch.tensor([6, 1, 3])
        w, c = m.attention(q.numpy(), k.numpy(), lengths.numpy())
        assert w.shape == (3, 2, 6) and c.shape == (3, 2, 5)
        assert torch.allclose(w.sum(-1), torch.ones(3, 2, dtype=torch.float64))
        assert (w[1, :, 1:] == 0).all() and (w[2, :, 3:] == 0).all() and (w[1, :, 0] == 1).all()
        assert torch.allclose(c, w @ k)
        x = m.decoder_input(torch.tensor([[5, 6, 2], [7, 2, 0]]), 1)
        assert x.tolist() == [[1, 5, 6], [1, 7, 2]] and x.dtype == torch.int64
        model = m.build_model(17, 13, 10)
        logits = model(torch.tensor([[4, 5, 0], [6, 7, 8]]), x)
        assert logits.shape == (2, 3, 13)

        class Counter(torch.nn.Module):  # says "3" twice, then EOS (row 0) or "4" (row 1)
            def encode(self, src):
                return None, torch.zeros(len(src), dtype=torch.long), None
            def decode(self, token, h, states, lengths):
                h = h + 1
                out = torch.full((len(h), 1, 13), -1.0)
                for i, step in enumerate(h.tolist()):
                    out[i, 0, 3 if step <= 2 else (2 if i == 0 else 4)] = 1.0
                return out, h
        got = m.translate(Counter(), torch.zeros(2, 4, dtype=torch.long), 6)
        assert got.tolist() == [[3, 3, 2, 0, 0, 0], [3, 3, 4, 4, 4, 4]], got.tolist()
        print("OK")
    """)
    run = subprocess.run(
        [str(SANDBOX_PYTHON), "-c", script],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0 and "OK" in run.stdout, run.stderr[-3000:]


def test_reference_pieces_earn_full_marks(tmp_path):
    report = grade_folder(tmp_path, "hw3-2", ROOT / "reference_solutions" / "hw3-2", only=PARTS)
    assert report.state == "graded", report.failure_message
    assert report.raw_score == 25, report.outcomes


def test_starter_earns_nothing_and_says_what_to_do(tmp_path):
    report = grade_folder(tmp_path, "hw3-2", ROOT / "starters" / "hw3-2")
    rows = by_check(report)
    assert report.raw_score == 0
    assert "NotImplementedError" in rows["parts/attention"]["message"]
    message = rows["translate/numerals"]["message"]
    assert "training failed" in message and "build_model" in message
