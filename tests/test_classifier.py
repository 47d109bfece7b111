"""The phased ``classifier`` check on the real MNIST (subsets): train and predict in their
own sandboxes, score outside; uploaded weights; constraints; attacks on the phases."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from autograder.specs.loader import load_spec_text
from tests.sandboxed import MINI_MNIST, MINI_MNIST_SPEC, by_check, grade_mnist
from worker.artifacts import safetensors_summary
from worker.checks.common.classification import VIEW_SALT
from worker.checks.common.constraints import forbidden_imports

pytestmark = pytest.mark.slow
SANDBOX_PYTHON = Path(__file__).resolve().parent.parent / ".venv-sandbox" / "bin" / "python"
TINY = (MINI_MNIST / "tiny.py").read_text()


def folder_with(tmp_path: Path, source: str = TINY, weights: str | None = "safetensors") -> Path:
    folder = tmp_path / "sub"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "tiny.py").write_text(source)
    if weights == "safetensors":
        shutil.copy(MINI_MNIST / "weights.safetensors", folder)
    return folder


def only(spec_text: str, *checks: str) -> str:
    """The mini spec keeping only the named checks (to keep a test quick)."""
    import yaml

    data = yaml.safe_load(spec_text)
    for q in data["questions"]:
        q["checks"] = [c for c in q["checks"] if c["id"] in checks]
    data["questions"] = [q for q in data["questions"] if q["checks"]]
    return yaml.safe_dump(data)


def mini(*checks: str):  # type: ignore[no-untyped-def]
    return load_spec_text(only(MINI_MNIST_SPEC.read_text(), *checks), "mini-mnist", "mini")


def test_reference_full_marks_with_feedback(tmp_path):
    report = grade_mnist(tmp_path, folder_with(tmp_path))
    assert report.state == "graded"
    assert report.raw_score == report.max_score == 10
    details = by_check(report)["train/grader-loop"]["details"]
    assert 0.8 <= details["accuracy"] <= 1
    assert details["test_examples"] == 1000
    assert sum(map(sum, details["confusion_matrix"])) == 1000
    assert len(details["per_class_accuracy"]) == 10
    assert [p["epoch"] for p in details["curve"]] == [1.0]
    assert details["curve"][0]["loss"] > 0
    assert len(details["misclassified"]) == 8
    assert all(m["predicted"] != m["label"] for m in details["misclassified"])
    # each carries the published test image it names (clean, not the job's noisy view),
    # and the image's true label is the one stated
    from autograder import datasets
    from tests.sandboxed import prepared_mnist

    prepared = datasets.load_prepared("mnist", data_dir=prepared_mnist())
    public = np.load(prepared.files["test_images"])
    for m in details["misclassified"]:
        image = np.frombuffer(base64.b64decode(m["image"]), dtype=np.uint8)
        assert m["shape"] == [28, 28]
        assert np.array_equal(image.reshape(28, 28), public[m["index"]])
        assert prepared.test_labels[m["index"]] == m["label"]
    assert details["params"] == 7850
    assert "train_seconds" in report.timings and "predict_seconds" in report.timings


def test_a_module_that_does_not_import_is_said_once(tmp_path):
    """A phased kind: the import error is the run's failure (the student's own frames and
    the caret), and each check only says it did not run, without its hint."""
    source = TINY.replace("import torch", "import torch\nvalue = (1,\n", 1)
    import yaml

    data = yaml.safe_load(only(MINI_MNIST_SPEC.read_text(), "grader-loop", "student-loop"))
    data["questions"][0]["checks"][0]["hint"] = "try a wider layer"
    spec = load_spec_text(yaml.safe_dump(data), "mini-mnist", "mini")
    report = grade_mnist(tmp_path, folder_with(tmp_path, source), spec)
    assert report.state == "failed_student", report.failure_message
    assert report.failure_kind == "submission:import-error"
    assert "SyntaxError" in report.failure_message and "tiny.py" in report.failure_message
    assert "frozen" not in report.failure_message and "importlib" not in report.failure_message
    assert len(report.outcomes) == 2
    for outcome in report.outcomes:
        assert outcome.earned == 0
        assert (
            outcome.message
            == "not run: tiny.py could not be imported (the error is shown once, above)"
        )


def test_scores_match_real_accuracy(tmp_path):
    """A model that predicts one digit only gets the accuracy of that digit's share."""
    source = TINY + textwrap.dedent("""
        class Seven(nn.Module):
            def __init__(self):
                super().__init__()
                self.bias = nn.Parameter(torch.zeros(10))
            def forward(self, x):
                seven = torch.zeros(x.shape[0], 10)
                seven[:, 7] = 1.0
                return seven + 0 * self.bias  # trainable, yet always says 7
        def build_model():
            return Seven()
    """)
    report = grade_mnist(tmp_path, folder_with(tmp_path, source, weights=None), mini("grader-loop"))
    outcome = by_check(report)["train/grader-loop"]
    labels = np.load(Path("/tmp") / _data_dir() / "mnist" / "hidden" / "test_labels.npy")
    # The job's view (grade_mnist's seed is 5): 1,000 test images drawn from the seed.
    index = np.random.default_rng([5, VIEW_SALT]).permutation(len(labels))[:1000]
    assert outcome["details"]["accuracy"] == pytest.approx(float((labels[index] == 7).mean()))
    assert outcome["earned"] == 0
    assert outcome["details"]["per_class_accuracy"][7] == 1.0


def _data_dir() -> str:
    from tests.sandboxed import prepared_mnist

    return prepared_mnist().name


def test_uploaded_pt_state_dict_loads_weights_only(tmp_path):
    folder = folder_with(tmp_path, weights=None)
    subprocess.run(
        [
            str(SANDBOX_PYTHON),
            "-c",
            textwrap.dedent(f"""
            import torch
            from safetensors.torch import load_file
            torch.save(load_file({str(MINI_MNIST / "weights.safetensors")!r}),
                       {str(folder / "weights.pt")!r})
        """),
        ],
        check=True,
    )
    report = grade_mnist(tmp_path, folder, mini("weights"))
    assert report.raw_score == 2, report.outcomes


def test_pickle_in_weights_never_runs(tmp_path):
    folder = folder_with(tmp_path, weights=None)
    canary = tmp_path / "pwned"
    subprocess.run(
        [
            str(SANDBOX_PYTHON),
            "-c",
            textwrap.dedent(f"""
            import os, torch
            class Evil:
                def __reduce__(self):
                    return (os.system, ("touch {canary} /job/rw/out/pwned",))
            torch.save({{"0.weight": Evil()}}, {str(folder / "weights.pt")!r})
        """),
        ],
        check=True,
    )
    report = grade_mnist(tmp_path, folder, mini("weights"))
    outcome = by_check(report)["uploaded/weights"]
    assert outcome["earned"] == 0
    # unpickled (weights_only) by a box that runs no student code: the converter's
    assert "reading weights.pt failed" in outcome["message"]
    assert "Weights only load failed" in outcome["message"] or "weights_only" in outcome["message"]
    assert not canary.exists()


def test_weights_of_another_architecture_are_explained(tmp_path):
    source = TINY.replace("nn.Linear(784, 10)", "nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10)")
    report = grade_mnist(tmp_path, folder_with(tmp_path, source), mini("weights"))
    message = by_check(report)["uploaded/weights"]["message"]
    assert "the weights do not fit the model built by build_model()" in message


def test_forbidden_import_is_named(tmp_path):
    report = grade_mnist(
        tmp_path, folder_with(tmp_path, "import sklearn.linear_model\n" + TINY), mini("grader-loop")
    )
    outcome = by_check(report)["train/grader-loop"]
    assert outcome["earned"] == 0
    assert (
        "constraint forbidden_imports: tiny.py line 1 imports sklearn.linear_model"
        in (outcome["message"])
    )


def test_static_import_scan_sees_dynamic_forms(tmp_path):
    (tmp_path / "a.py").write_text("import importlib\nm = importlib.import_module('sklearn')\n")
    assert "imports sklearn" in forbidden_imports(tmp_path, ["sklearn"])
    (tmp_path / "a.py").write_text("from torchvision import models\n")
    assert "torchvision.models" in forbidden_imports(tmp_path, ["torchvision.models"])
    (tmp_path / "a.py").write_text("import torchvision\n")
    assert forbidden_imports(tmp_path, ["torchvision.models"]) is None


def test_too_many_parameters(tmp_path):
    source = TINY.replace("nn.Linear(784, 10)", "nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)")
    report = grade_mnist(tmp_path, folder_with(tmp_path, source, weights=None), mini("grader-loop"))
    message = by_check(report)["train/grader-loop"]["message"]
    assert "constraint max_params: the model has 50,890 parameters, at most 8,000" in message


def test_phases_see_only_their_own_data(tmp_path):
    source = TINY + textwrap.dedent("""
        import os
        print("DATA:", sorted(os.listdir("/data")) if os.path.isdir("/data") else None)
        print("IN:", sorted(os.listdir("/job/in")))
        for path in ["/data/test_labels.npy", "/data/../hidden/test_labels.npy"]:
            print("LABELS:", os.path.exists(path))
    """)
    report = grade_mnist(tmp_path, folder_with(tmp_path, source), mini("grader-loop"))
    assert "DATA: ['train_images.npy', 'train_labels.npy']" in report.log
    # The prediction box: no dataset at all, only the job's view of the test images.
    assert "DATA: None" in report.log
    assert "IN: ['phase.json', 'test_images.npy', 'weights.safetensors']" in report.log
    assert "LABELS: True" not in report.log
    assert report.raw_score == 4


def test_training_over_budget_is_stopped(tmp_path):
    source = TINY.replace(
        "    for _ in range(config", "    import time; time.sleep(120)\n    for _ in range(config"
    )
    text = only(MINI_MNIST_SPEC.read_text(), "student-loop").replace(
        "wall_seconds: 90", "wall_seconds: 12"
    )
    report = grade_mnist(
        tmp_path,
        folder_with(tmp_path, source, weights=None),
        load_spec_text(text, "mini-mnist", "mini"),
    )
    outcome = by_check(report)["train/student-loop"]
    assert outcome["earned"] == 0
    assert "training did not finish within its time budget of 12 s" in outcome["message"]
    assert report.failure_kind == "submission:timeout"


def test_progress_is_reported_while_training(tmp_path):
    source = TINY.replace('log({"loss"', 'import time; time.sleep(1.5)\n        log({"loss"')
    text = only(MINI_MNIST_SPEC.read_text(), "student-loop").replace("epochs: 1", "epochs: 3")
    seen: list[tuple[str, str, list, int | None, bool]] = []
    report = grade_mnist(
        tmp_path,
        folder_with(tmp_path, source, weights=None),
        load_spec_text(text, "mini-mnist", "mini"),
        on_progress=lambda *call: seen.append(call),
    )
    assert seen and all(c[:2] == ("student-loop", "train") for c in seen)
    assert max(len(c[2]) for c in seen) >= 2
    assert all(c[3] == 3 for c in seen)  # the epochs the phase is to run
    # The last word comes once the phase has ended, with every epoch: none is missed.
    assert [c[4] for c in seen].count(True) == 1 and seen[-1][4] is True
    assert [line["epoch"] for line in seen[-1][2]] == [1, 2, 3]
    curve = by_check(report)["train/student-loop"]["details"]["curve"]
    assert [p["epoch"] for p in curve] == [1.0, 2.0, 3.0]


def test_safetensors_header_is_checked(tmp_path):
    good = MINI_MNIST / "weights.safetensors"
    assert safetensors_summary(good)["params"] == 7850
    bad = tmp_path / "bad.safetensors"
    raw = bytearray(good.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    first = next(k for k in header if k != "__metadata__")
    header[first]["shape"] = [10**9]
    text = json.dumps(header).encode()
    bad.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + header_len :])
    with pytest.raises(ValueError, match="inconsistent size"):
        safetensors_summary(bad)
