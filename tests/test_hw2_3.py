"""HW2-3 (backpropagation by hand) through the real sandbox: the reference earns full
marks, the starter nothing, autograd is refused, and the numpy phase runner stays
torch-free. The corpus cases (grading_specs/samples/hw2-3/) run in test_submission_corpus.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from autograder.settings import PROJECT_ROOT
from autograder.specs.loader import load_spec_file
from autograder.specs.schema import ClassifierCheck
from tests.sandboxed import (
    by_check,
    grade_folder,
    only_checks,
    prepared_mnist,
    require_sandbox,
    sandbox_settings,
)
from worker.pipeline import JobContext, grade
from worker.sandbox import get_backend

REFERENCE = PROJECT_ROOT / "reference_solutions" / "hw2-3"
STARTER = PROJECT_ROOT / "starters" / "hw2-3"
GRADIENT_CHECKS = [
    "layers/linear",
    "layers/relu",
    "layers/sigmoid",
    "layers/tanh",
    "layers/softmax-ce",
    "network/two-layer-gradients",
]


def submission(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "backprop.py").write_text(source)
    return folder


def reference_with(old: str, new: str) -> str:
    text = (REFERENCE / "backprop.py").read_text()
    assert old in text
    return text.replace(old, new)


def test_reference_earns_full_marks_including_training(tmp_path):
    report = grade_folder(tmp_path, "hw2-3", REFERENCE, seed=5)
    assert report.state == "graded", report.failure_message
    checks = by_check(report)
    assert report.raw_score == report.max_score == 100, {k: o["message"] for k, o in checks.items()}
    assert checks["network/mnist-sgd"]["details"]["accuracy"] >= 0.945
    agreement = checks["layers/linear"]["details"]["reference_agreement"]
    assert 0 <= agreement < 1e-6


def test_starter_earns_nothing_and_says_why(tmp_path):
    folder = tmp_path / "starter"
    shutil.copytree(STARTER, folder)
    report = grade_folder(tmp_path, "hw2-3", folder, only=GRADIENT_CHECKS)
    assert report.raw_score == 0
    checks = by_check(report)
    assert (
        "NotImplementedError: Linear.__init__ is not written yet"
        in (checks["layers/linear"]["message"])
    )
    assert (
        "TwoLayerNet.__init__ is not written yet"
        in (checks["network/two-layer-gradients"]["message"])
    )


def test_starter_training_fails_with_its_message(tmp_path):
    folder = tmp_path / "starter"
    shutil.copytree(STARTER, folder)
    report = grade_folder(tmp_path, "hw2-3", folder, only=["network/mnist-sgd"])
    outcome = by_check(report)["network/mnist-sgd"]
    assert outcome["earned"] == 0
    assert "build_model is not written yet" in outcome["message"]


def test_an_autograd_import_is_found_outside_and_refused_inside(tmp_path):
    # Written so that the source scan cannot see it: the sandbox refuses it at runtime.
    hidden = reference_with(
        "import numpy as np\n",
        "import importlib\n\nimport numpy as np\n\nimportlib.import_module('to' + 'rch')\n",
    )
    report = grade_folder(
        tmp_path, "hw2-3", submission(tmp_path, hidden), only=["layers/relu", "layers/tanh"]
    )
    message = by_check(report)["layers/relu"]["message"]
    assert report.raw_score == 0
    # The import error is the run's failure, said once; the check says it did not run.
    assert "importing torch is not allowed in this assignment" in report.failure_message
    assert message.startswith("not run: backprop.py could not be imported")
    # Written plainly: found by reading the source, whatever happens inside.
    plain = reference_with(
        "    def backward(self, dout: np.ndarray) -> np.ndarray:\n"
        '        """dout: same shape as x.  Returns dx = dout * (1 - tanh(x)**2)."""\n',
        "    def backward(self, dout: np.ndarray) -> np.ndarray:\n"
        '        """dout: same shape as x.  Returns dx = dout * (1 - tanh(x)**2)."""\n'
        "        if False:\n            import jax  # noqa: F401\n",
    )
    shutil.rmtree(tmp_path / "sub")
    report = grade_folder(
        tmp_path, "hw2-3", submission(tmp_path, plain), only=["layers/relu", "layers/tanh"]
    )
    checks = by_check(report)
    assert report.raw_score == 0
    assert "imports jax, which is not allowed" in checks["layers/tanh"]["message"]
    assert "imports jax" in checks["layers/relu"]["message"]  # the whole file is refused


def test_a_parameter_of_the_wrong_shape_is_named(tmp_path):
    source = reference_with(
        'size=(in_features, out_features)),\n            "b": np.zeros(out_features),',
        'size=(out_features, in_features)),\n            "b": np.zeros(out_features),',
    )
    report = grade_folder(
        tmp_path, "hw2-3", submission(tmp_path, source), only=["layers/linear", "layers/relu"]
    )
    checks = by_check(report)
    assert checks["layers/relu"]["passed"]
    message = checks["layers/linear"]["message"]
    # A case whose W happens to be square passes (the grader replaces W): not all do.
    assert checks["layers/linear"]["earned"] < 15
    assert ".params['W'] has shape (" in message and "), expected (" in message


def test_nan_and_missing_gradients_are_named_and_others_still_count(tmp_path):
    source = reference_with(
        '        self.grads["b"] = dout.sum(axis=0)\n',
        "",
    ).replace("return dout * (1.0 - self.out**2)", "return dout * np.nan")
    report = grade_folder(
        tmp_path, "hw2-3", submission(tmp_path, source), only=["layers/linear", "layers/tanh"]
    )
    checks = by_check(report)
    assert checks["layers/linear"]["earned"] == 15 * 3 / 4
    assert "Linear.backward: db: Linear.grads has no key 'b'" in checks["layers/linear"]["message"]
    assert checks["layers/tanh"]["earned"] == 7 / 2
    assert "Tanh.backward: dx: " in checks["layers/tanh"]["message"]
    assert "NaN or infinite" in checks["layers/tanh"]["message"]


NUMERICAL_BACKWARD = """

def _numeric_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        plus = f()
        a[i] = old - h
        minus = f()
        a[i] = old
        g[i] = (plus - minus) / (2 * h)
    return g


def _linear_backward(self, dout):
    x = self.x.copy()
    f = lambda: np.sum((x @ self.params["W"] + self.params["b"]) * dout)
    self.grads["W"] = _numeric_grad(f, self.params["W"])
    self.grads["b"] = _numeric_grad(f, self.params["b"])
    return _numeric_grad(f, x)


def _tanh_backward(self, dout):
    x = np.arctanh(self.out)
    return _numeric_grad(lambda: np.sum(np.tanh(x) * dout), x)


Linear.backward = _linear_backward
Tanh.backward = _tanh_backward
"""


def test_gradients_by_finite_differences_earn_nothing(tmp_path):
    # Right to 1e-10 in every small case; the large case (alone in a box of its own,
    # killed from outside at 10 s) would take it hours.
    source = (REFERENCE / "backprop.py").read_text() + NUMERICAL_BACKWARD
    report = grade_folder(
        tmp_path, "hw2-3", submission(tmp_path, source), only=["layers/linear", "layers/tanh"]
    )
    assert report.state == "graded", report.failure_message
    for name in ("layers/linear", "layers/tanh"):
        outcome = by_check(report)[name]
        assert outcome["earned"] == 0, outcome["message"]
        assert "did not finish within its time limit of 10 s" in outcome["message"]
        assert outcome["details"]["quantities"]  # the small cases all passed
        assert all(q["passed"] for q in outcome["details"]["quantities"].values())
    assert report.resources["timed case of linear"]["timed_out"]


def test_the_numpy_phase_runner_never_imports_torch():
    runner = PROJECT_ROOT / "worker" / "runner"
    python = PROJECT_ROOT / ".venv-sandbox" / "bin" / "python"
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import numpy_phase_runner
        import safetensors.numpy
        print("torch" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(python), "-c", code, str(runner)], check=False, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("False")


def test_numpy_classifier_schema_rules():
    base = {
        "id": "c",
        "points": 1,
        "kind": "classifier",
        "module": "backprop",
        "dataset": "mnist",
        "framework": "numpy",
        "credit": {"floor": 0.5, "target": 0.9},
    }
    ClassifierCheck.model_validate({**base, "train": {"optimizer": "sgd"}})
    with pytest.raises(ValidationError, match="optimizer: sgd"):
        ClassifierCheck.model_validate({**base, "train": {"optimizer": "adam"}})
    with pytest.raises(ValidationError, match=".safetensors weights only"):
        ClassifierCheck.model_validate({**base, "weights_files": ["w.pt"]})
    with pytest.raises(ValidationError):
        ClassifierCheck.model_validate({**base, "framework": "jax", "train": {}})


STUDENT_LOOP = """

def train(net, x, y, cfg, log):
    import sys

    assert "torch" not in sys.modules, "the numpy runner imported torch"
    assert x.dtype == np.float32 and x.shape[1] == 784 and float(x.max()) <= 1.0
    rng = np.random.default_rng(cfg["seed"])
    for _ in range(cfg["epochs"]):
        order = rng.permutation(len(x))
        for start in range(0, len(x), cfg["batch_size"]):
            idx = order[start : start + cfg["batch_size"]]
            loss = net.loss(x[idx].astype(np.float64), y[idx])
            for k in net.params:
                net.params[k] -= cfg["lr"] * net.grads[k]
        log({"loss": loss, "train_accuracy": 0.5})
"""


def test_numpy_student_loop_trains_and_predicts(tmp_path):
    loaded = only_checks(
        load_spec_file(PROJECT_ROOT / "grading_specs" / "hw2-3.yaml"), ["network/mnist-sgd"]
    )
    question = loaded.spec.questions[0]
    check = question.checks[0]
    check = check.model_copy(
        update={
            "train": check.train.model_copy(update={"loop": "student", "epochs": 2}),
            "train_subset": 3000,
            "test_subset": 1000,
        }
    )
    spec = loaded.spec.model_copy(
        update={"questions": [question.model_copy(update={"checks": [check]})]}
    )
    settings = sandbox_settings(tmp_path)
    require_sandbox(settings)
    settings = settings.model_copy(update={"data_dir": prepared_mnist()})
    folder = submission(tmp_path, (REFERENCE / "backprop.py").read_text() + STUDENT_LOOP)
    report = grade(
        JobContext(
            replace(loaded, spec=spec), folder, REFERENCE, 3, get_backend(settings), settings
        )
    )
    outcome = by_check(report)["network/mnist-sgd"]
    assert outcome["details"]["test_examples"] == 1000
    assert outcome["details"]["accuracy"] > 0.85, outcome["message"]
    curve = outcome["details"]["curve"]
    assert [c["epoch"] for c in curve] == [1, 2]
    assert [c["train_accuracy"] for c in curve] == [0.5, 0.5]  # logged by the student's train
    assert outcome["details"]["params"] == 784 * 128 + 128 + 128 * 10 + 10
