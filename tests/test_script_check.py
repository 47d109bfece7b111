"""Check kind ``script``: the course's MLP homework as students write it (a whole script:
torchvision's MNIST through DataLoaders, printed epochs, a saved state_dict), graded
through the real sandbox on real MNIST (a few thousand images, one epoch).

What each test can catch: the reference earning its points by training (its accuracy is
measured, not assumed); the starter's and a broken script's marks and words; the
training box holding no real test split; module-level training code never run again in
the prediction box; the spec's refusals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from autograder.specs.loader import SpecError, load_spec_file, load_spec_text
from autograder.specs.schema import ScriptCheck
from tests.sandboxed import by_check, grade_mnist, prepared_mnist
from worker.checks.script_check import definitions, splits

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEC = FIXTURES / "specs" / "mini-script.yaml"
REFERENCE = FIXTURES / "reference" / "mini-script"
SCRIPT = (REFERENCE / "mlp_script.py").read_text()
CJK = re.compile(r"[\u4e00-\u9fff]")


def _grade(tmp_path: Path, source: str):
    folder = tmp_path / "submission"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "mlp_script.py").write_text(source)
    report = grade_mnist(tmp_path, folder, load_spec_file(SPEC))
    return report, by_check(report)["mlp/trained"]


def test_the_course_shaped_script_earns_its_points_by_training(tmp_path):
    report, row = _grade(tmp_path, SCRIPT)
    assert row["passed"], row["message"]
    accuracy = row["details"]["accuracy"]
    assert 0.8 <= accuracy < 1.0  # measured on the hidden split: one epoch of an MLP
    assert f"{accuracy:.2%}" in row["message"] and CJK.search(row["message_zh"])
    assert row["details"]["test_examples"] == 1000
    [epoch] = row["details"]["curve"]  # the printed epoch line, read as the curve
    assert epoch["epoch"] == 1 and 0 < epoch["loss"] < 2.5
    assert 0.5 < epoch["train_accuracy"] <= 1 and 0.5 < epoch["test_accuracy"] <= 1
    assert "Epoch: 1/1, Train Loss is:" in report.log
    assert {"train_seconds", "convert_seconds", "predict_seconds"} <= set(report.timings)


def test_the_starter_scores_nothing_and_says_what_failed(tmp_path):
    starter = SCRIPT.replace(
        "        self.fc1 = nn.Linear(input_size, hidden_size)\n"
        "        self.relu = nn.ReLU()\n"
        "        self.fc2 = nn.Linear(hidden_size, num_classes)\n",
        "        # TODO: define the layers\n        pass\n",
    ).replace(
        "        return self.fc2(self.relu(self.fc1(x)))\n",
        "        # TODO: the forward pass\n        pass\n",
    )
    _, row = _grade(tmp_path, starter)
    assert row["earned"] == 0
    # the model has no parameters: the script fails in its own optimizer line
    assert "optimizer got an empty parameter list" in row["message"]
    assert "训练（运行你的脚本）" in row["message_zh"]
    assert row["message"].endswith("\nHint: train for longer, or check the learning rate")


def test_a_script_that_saves_nothing_is_told_where_to_save(tmp_path):
    _, row = _grade(
        tmp_path, SCRIPT.replace('torch.save(model.state_dict(), "checkpoints/dnn.pth")', "")
    )
    assert row["earned"] == 0
    assert "saved no model at checkpoints/dnn.pth" in row["message"]
    assert "没有在 checkpoints/dnn.pth 保存模型" in row["message_zh"]


def test_the_training_box_holds_no_real_test_split(tmp_path):
    """The script's "test" split is a labelled slice of the training images, disjoint
    from its training split; neither the test images nor any test labels are in the box."""
    probe = SCRIPT.replace(
        "torch.manual_seed(0)",
        "import os, numpy as np\n"
        "print('DATA', sorted(os.listdir('/data')))\n"
        "print('SIZES', len(train_dataset), len(test_dataset))\n"
        "train_rows = {bytes(train_dataset.data[i].numpy()) for i in range(len(train_dataset))}\n"
        "print('OVERLAP', sum(bytes(im.numpy()) in train_rows for im in test_dataset.data))\n"
        "torch.manual_seed(0)",
    )
    report, row = _grade(tmp_path, probe)
    assert "DATA ['train_images.npy', 'train_labels.npy']" in report.log
    assert "SIZES 4000 1000" in report.log
    assert "OVERLAP 0" in report.log
    assert row["passed"]  # it still trains and is scored on the hidden split


def test_module_level_code_does_not_run_again_where_the_model_predicts(tmp_path):
    """Training code at module level would, in the prediction box, see the job's view of
    the hidden test images: only imports, classes, functions and constants go there."""
    source = (
        "import torch\n"
        "size = 784\n"
        "shape = (1, -2)\n"
        "class Net(torch.nn.Module):\n"
        "    pass\n"
        "def helper():\n"
        "    return size\n"
        "model = Net()\n"
        "for epoch in range(3):\n"
        "    print(epoch)\n"
        "if __name__ == '__main__':\n"
        "    helper()\n"
        "device = torch.device('cpu')\n"
    )
    kept = definitions(source)
    assert "class Net" in kept and "def helper" in kept and "size = 784" in kept
    assert "shape = (1, -2)" in kept
    for gone in ("model = Net()", "for epoch", "__main__", "torch.device"):
        assert gone not in kept
    assert definitions("def broken(:\n") == ""

    # and for real: a script whose module-level code would crash the prediction box
    crash = (
        SCRIPT
        + "\nimport os\nif os.path.exists('/job/in/test_images.npy'):\n    raise SystemExit(3)\n"
    )
    _, row = _grade(tmp_path, crash)
    assert row["passed"], row["message"]


def test_splits_are_disjoint_and_sized_as_the_spec_says():
    base = dict(kind="script", id="s", points=1, module="m", dataset="mnist", model="M")
    base |= {"checkpoint": "c.pth", "credit": {"floor": 0.5, "target": 0.8}}
    assert splits(ScriptCheck(**base), 60000) == ([0, 50000], [50000, 60000])
    check = ScriptCheck(**base, train_subset=4000, validation_size=1000)
    assert splits(check, 60000) == ([0, 4000], [59000, 60000])
    assert splits(ScriptCheck(**base), 100) == ([0, 50], [50, 100])  # a tiny dataset


def _spec(check: str) -> str:
    return SPEC.read_text().replace("        checkpoint: checkpoints/dnn.pth\n", check)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("        checkpoint: ../outside.pth\n", "checkpoint"),
        ("        checkpoint: c.pth\n        epoch_pattern: 'loss (\\d+)'\n", "epoch_pattern"),
        ("        checkpoint: c.pth\n        validation_size: 57000\n", "validation_size"),
    ],
)
def test_the_spec_refuses_what_cannot_work(line, found, tmp_path):
    prepared_mnist()
    with pytest.raises(SpecError) as info:
        load_spec_text(_spec(line), "mini-script", "mini-script.yaml")
    assert found in str(info.value)
    assert "mini-script.yaml:" in str(info.value)


def test_the_same_script_as_a_notebook_earns_the_same(tmp_path):
    """A notebook of the script's code in cells (with a magic and a shell escape, removed)
    becomes the module at upload (autograder/notebooks.py): it trains and is scored alike."""
    import nbformat

    from autograder import notebooks

    code = SCRIPT.split("\n\n\n")
    cells = [nbformat.v4.new_code_cell("%matplotlib inline\n!nvidia-smi\n" + code[0])]
    cells += [nbformat.v4.new_markdown_cell("## The model")]
    cells += [nbformat.v4.new_code_cell(part) for part in code[1:]]
    notebook = nbformat.writes(nbformat.v4.new_notebook(cells=cells)).encode()
    converted = notebooks.convert(notebook, "mlp_script.ipynb")
    assert converted.cells == len(code) and len(converted.removed) == 2
    report, row = _grade(tmp_path, converted.source)
    assert row["passed"], row["message"]
    assert "Epoch: 1/1" in report.log
