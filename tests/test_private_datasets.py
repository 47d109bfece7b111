"""Private test splits (a dataset manifest with ``private: true``): a test split the course
keeps to itself, so that no table of the public test set carried in a submission can score
(DESIGN.md rule 11). The manifest's rules, its preparation only from a folder, the files it
leaves (all owner-only), the spec loader's rules, and, graded for real in the sandbox, a
model scored on it: full marks with its labels, nothing with the labels shifted by one, and
nothing a prediction box prints or raises while it sees the images ever reaching a report.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml

from autograder.datasets import (
    FetchError,
    declared,
    ensure_datasets,
    fetch,
    load_prepared,
    status,
    verify,
)
from autograder.settings import PROJECT_ROOT, Settings
from autograder.specs.loader import SpecError, load_spec_text
from worker.checks.phases import WITHHELD_ERROR, WITHHELD_OUTPUT

PRIVATE = """\
name: {name}
title: Digits kept by the course
licence: course use only
attribution: written by the course staff
private: true
format: npy
files:
  - {{name: x.npy, size: {xs}, sha256: {xh}}}
  - {{name: y.npy, size: {ys}, sha256: {yh}}}
splits:
  test: {{images: x.npy, labels: y.npy, count: {count}}}
shape: [28, 28]
dtype: uint8
classes:
{classes}
"""
DIGITS = "\n".join(f'  - {{en: "digit {i}", zh: "数字 {i}"}}' for i in range(10))


def private_split(
    folder: Path, images: np.ndarray, labels: np.ndarray, name: str = "digits-private"
) -> str:
    """Write the split's two files into ``folder``; the text of its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    fields: dict[str, object] = {"name": name, "count": len(labels), "classes": DIGITS}
    for fname, arr, key in (("x.npy", images, "x"), ("y.npy", labels, "y")):
        np.save(folder / fname, arr, allow_pickle=False)
        data = (folder / fname).read_bytes()
        fields[key + "s"] = len(data)
        fields[key + "h"] = hashlib.sha256(data).hexdigest()
    return PRIVATE.format(**fields)


def small_split(tmp_path: Path, n: int = 30) -> tuple[Path, Path]:
    """(the split's files, a datasets folder declaring MNIST and it)."""
    rng = np.random.default_rng(7)
    files = tmp_path / "operator-folder"
    text = private_split(
        files, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)
    )
    course = tmp_path / "datasets"
    course.mkdir()
    shutil.copy(PROJECT_ROOT / "datasets" / "mnist.yaml", course)
    (course / "digits-private.yaml").write_text(text, encoding="utf-8")
    return files, course


# --------------------------------------------------------------------------- manifest


@pytest.mark.parametrize(
    ("change", "where", "says"),
    [
        (
            lambda d: d["splits"].update(train=d["splits"]["test"]),
            "splits.train",
            "a private dataset is a test split only",
        ),
        (
            lambda d: d.update(source={"mirrors": ["https://example.org/d/"]}),
            "source.mirrors",
            "AUTOGRADER_DIGITS_PRIVATE_SOURCE",
        ),
        (
            lambda d: d.update(source={"local": "data/private"}),
            "source.local",
            "never from a public place or the course folder",
        ),
        (lambda d: d.update(private=False), "splits", "`train` is required"),
    ],
)
def test_a_private_manifest_is_a_test_split_from_no_public_place(
    tmp_path: Path, change, where: str, says: str
) -> None:  # type: ignore[no-untyped-def]
    _, course = small_split(tmp_path)
    path = course / "digits-private.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from autograder.datasets import load_manifest_file

    with pytest.raises(SpecError) as err:
        load_manifest_file(path)
    text = str(err.value)
    assert "digits-private.yaml:" in text and where in text and says in text, text
    assert ":None:" not in text  # a line number, always


# --------------------------------------------------------------------------- preparation


def test_a_private_split_is_prepared_only_from_a_folder_and_kept_owner_only(
    tmp_path: Path,
) -> None:
    files, course = small_split(tmp_path)
    spec = declared(course)["digits-private"]
    assert spec.private and spec.splits == ("test",)
    assert "--from DIR" in spec.fix and "AUTOGRADER_DIGITS_PRIVATE_SOURCE" in spec.fix
    data = tmp_path / "data"
    with pytest.raises(FetchError, match="private .* no mirrors"):
        fetch("digits-private", data_dir=data, datasets_dir=course)
    report = fetch("digits-private", files, data_dir=data, datasets_dir=course)
    assert report.status.ok, report.status.describe()
    root = data / "digits-private"
    assert sorted(p.name for p in (root / "prepared").iterdir()) == ["manifest.json"]
    hidden = root / "hidden"
    assert sorted(p.name for p in hidden.iterdir()) == [
        "manifest.json",
        "test_images.npy",
        "test_labels.npy",
    ]
    assert stat.S_IMODE(hidden.stat().st_mode) == 0o700
    for p in hidden.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    ds = load_prepared("digits-private", data_dir=data, datasets_dir=course)
    assert ds.files == {"test_images": hidden / "test_images.npy"}  # nothing in prepared/
    assert set(ds.hidden) == {"test_labels"}
    assert (ds.test_labels == np.load(files / "y.npy")).all()
    assert (np.load(ds.files["test_images"]) == np.load(files / "x.npy")).all()
    assert status("digits-private", data, datasets_dir=course).ok
    assert verify("digits-private", data, datasets_dir=course).ok


def test_serve_prepares_a_private_split_only_from_the_operators_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    files, course = small_split(tmp_path)
    (course / "mnist.yaml").unlink()  # the private split alone: every mirror try is its
    monkeypatch.delenv("AUTOGRADER_DIGITS_PRIVATE_SOURCE", raising=False)
    settings = Settings(home=tmp_path / "home", data_dir=tmp_path / "data", datasets_dir=course)
    caplog.set_level(logging.INFO, logger="autograder.datasets")
    results = ensure_datasets(settings, mirrors=["http://127.0.0.1:9/never-asked/"])
    assert results["digits-private"].state == "missing"
    assert "never from mirrors" in " ".join(results["digits-private"].problems)
    assert "never-asked" not in caplog.text and "fetching from" not in caplog.text
    assert "AUTOGRADER_DIGITS_PRIVATE_SOURCE" in caplog.text  # the fix, in the log
    monkeypatch.setenv("AUTOGRADER_DIGITS_PRIVATE_SOURCE", str(files))
    assert ensure_datasets(settings, mirrors=[])["digits-private"].ok


# --------------------------------------------------------------------------- specs

SPEC = """\
title: Scored on the course's own digits
files:
  - {name: tiny.py, max_bytes: 100000}
  - {name: weights.safetensors, max_bytes: 2000000}
resources: {memory_mb: 3072, wall_seconds: 120, threads: 2, runtime: torch}
questions:
  - id: uploaded
    title: Uploaded weights
    checks:
      - id: weights
        kind: classifier
        module: tiny
        DATASET_KEYS
        weights_files: [weights.safetensors]
        test_subset: SUBSET
        credit: {floor: 0.5, target: 0.8}
        points: 2
"""


def spec_text(keys: str, subset: int = 1000) -> str:
    return SPEC.replace("DATASET_KEYS", keys).replace("SUBSET", str(subset))


def test_specs_score_on_a_private_split_and_never_train_on_one(tmp_path: Path) -> None:
    _, course = small_split(tmp_path, n=30)
    known = declared(course)
    loaded = load_spec_text(
        spec_text("dataset: mnist\n        test_dataset: digits-private", 30), "p", "p.yaml", known
    )
    assert loaded.spec.questions[0].checks[0].test_dataset == "digits-private"
    mistakes = [
        ("dataset: digits-private", 30, "digits-private is private"),
        ("dataset: mnist\n        test_dataset: digits-private", 31, "more than the 30 images"),
        ("dataset: mnist\n        test_dataset: digits-privat", 30, "did you mean"),
    ]
    for keys, subset, says in mistakes:
        with pytest.raises(SpecError) as err:
            load_spec_text(spec_text(keys, subset), "p", "p.yaml", known)
        assert says in str(err.value) and "p.yaml:" in str(err.value), str(err.value)


# --------------------------------------------------------------------------- graded


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(datasets folder, data folder, operator folders): MNIST (prepared once per process)
    beside two private splits of the same 1,000 t10k digits, one with their true labels and
    one with every label shifted by one."""
    from tests.sandboxed import prepared_mnist

    mnist = prepared_mnist() / "mnist"
    images = np.load(mnist / "prepared" / "test_images.npy")[:1000]
    labels = np.load(mnist / "hidden" / "test_labels.npy")[:1000]
    base = tmp_path_factory.mktemp("private")
    datasets_dir = base / "datasets"
    datasets_dir.mkdir()
    shutil.copy(PROJECT_ROOT / "datasets" / "mnist.yaml", datasets_dir)
    data = Path(f"/tmp/ag-private-data-{os.getpid()}")  # the sandbox uids traverse it
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(mode=0o711)
    data.chmod(0o711)
    (data / "mnist").symlink_to(mnist)
    sources = base / "operator"
    for name, y in (("digits-private", labels), ("digits-shifted", (labels + 1) % 10)):
        text = private_split(sources / name, images, y, name)
        (datasets_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
        fetch(name, sources / name, data_dir=data, datasets_dir=datasets_dir)
    yield datasets_dir, data, sources
    shutil.rmtree(data, ignore_errors=True)


def grade_private(tmp_path: Path, course: tuple[Path, Path, Path], split: str, source: str):  # type: ignore[no-untyped-def]
    from tests.sandboxed import MINI_MNIST, require_sandbox, sandbox_settings
    from worker.pipeline import JobContext, grade
    from worker.sandbox import get_backend

    datasets_dir, data, _ = course
    settings = sandbox_settings(tmp_path).model_copy(
        update={"data_dir": data, "datasets_dir": datasets_dir}
    )
    require_sandbox(settings)
    loaded = load_spec_text(
        spec_text(f"dataset: mnist\n        test_dataset: {split}"),
        "private-digits",
        "private-digits.yaml",
        declared(datasets_dir),
    )
    folder = tmp_path / "submission"
    folder.mkdir(parents=True)
    (folder / "tiny.py").write_text(source, encoding="utf-8")
    shutil.copy(MINI_MNIST / "weights.safetensors", folder)
    return grade(JobContext(loaded, folder, MINI_MNIST, 17, get_backend(settings), settings))


@pytest.mark.slow
def test_a_model_scored_on_a_private_split_earns_what_its_labels_say(
    tmp_path: Path, course: tuple[Path, Path, Path]
) -> None:
    from tests.sandboxed import MINI_MNIST

    tiny = (MINI_MNIST / "tiny.py").read_text()
    right = grade_private(tmp_path / "right", course, "digits-private", tiny)
    [outcome] = right.outcomes
    assert outcome.earned == outcome.points == 2, outcome.message
    assert outcome.details["accuracy"] > 0.8 and outcome.details["test_examples"] == 1000
    assert outcome.details["private_test_split"] is True
    assert "misclassified" not in outcome.details  # which images, as what: a channel out
    shifted = grade_private(tmp_path / "shifted", course, "digits-shifted", tiny)
    [outcome] = shifted.outcomes
    assert outcome.earned == 0 and outcome.details["accuracy"] < 0.2, outcome.message


LEAK_BY_PRINT = """
import os as _os
if _os.path.exists("/job/in/test_images.npy"):
    print("LEAKED-PIXELS", open("/job/in/test_images.npy", "rb").read()[200:264].hex())
"""
LEAK_BY_IMPORT_ERROR = """
import os as _os
if _os.path.exists("/job/in/test_images.npy"):
    _PIXELS = open("/job/in/test_images.npy", "rb").read()[200:264].hex()
    raise RuntimeError("LEAKED-PIXELS " + _PIXELS)
"""
LEAK_BY_PREDICT_ERROR = """
import os as _os
if _os.path.exists("/job/in/test_images.npy"):
    _PIXELS = open("/job/in/test_images.npy", "rb").read()[200:264].hex()
    _build = build_model

    def build_model():
        model = _build()
        def forward(x):
            raise ValueError("LEAKED-PIXELS " + _PIXELS)
        model.forward = forward
        return model
"""


@pytest.fixture(params=["bwrap", "bwrap-pool", "docker"])
def backend(request):  # type: ignore[no-untyped-def]
    """Each leak on every sandbox backend: cold boxes, boxes started ahead of demand, and
    docker (what a box prints reaches the worker by a different path on each)."""
    from tests.sandboxed import use_backend
    from worker.sandbox.pool import close_shared_pool

    use_backend(request.param)
    yield request.param
    use_backend("bwrap")
    if request.param == "bwrap-pool":
        close_shared_pool()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tail", "withheld"),
    [
        (LEAK_BY_PRINT, WITHHELD_OUTPUT),
        (LEAK_BY_IMPORT_ERROR, WITHHELD_ERROR),
        (LEAK_BY_PREDICT_ERROR, WITHHELD_ERROR),
    ],
    ids=["print", "import-error", "predict-error"],
)
def test_nothing_a_prediction_box_says_about_a_private_split_leaves_the_grader(
    tmp_path: Path, course: tuple[Path, Path, Path], tail: str, withheld: str, backend: str
) -> None:
    from tests.sandboxed import MINI_MNIST

    source = (MINI_MNIST / "tiny.py").read_text() + tail
    report = grade_private(tmp_path, course, "digits-private", source)
    everything = repr(
        (report.log, [o.model_dump() for o in report.outcomes], report.failure_message)
    )
    assert "LEAKED-PIXELS" not in everything
    assert withheld in everything, everything[:3000]
    # the same submission on the public split shows what it printed or raised: the
    # withholding is the private split's, and the leak above was real
    public = load_spec_text(
        spec_text("dataset: mnist"), "public-digits", "public-digits.yaml", declared(course[0])
    )
    from tests.sandboxed import require_sandbox, sandbox_settings
    from worker.pipeline import JobContext, grade
    from worker.sandbox import get_backend

    settings = sandbox_settings(tmp_path / "public").model_copy(
        update={"data_dir": course[1], "datasets_dir": course[0]}
    )
    require_sandbox(settings)
    folder = tmp_path / "public-submission"
    folder.mkdir()
    (folder / "tiny.py").write_text(source, encoding="utf-8")
    shutil.copy(MINI_MNIST / "weights.safetensors", folder)
    shown = grade(JobContext(public, folder, MINI_MNIST, 17, get_backend(settings), settings))
    assert "LEAKED-PIXELS" in repr(
        (shown.log, [o.model_dump() for o in shown.outcomes], shown.failure_message)
    )
