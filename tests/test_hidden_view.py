"""The job's view of the hidden MNIST test split (DESIGN.md rule 11): the prediction box
never gets the published t10k images, so a table of image -> label finds nothing.

The real t10k images and labels are used (tests/sandboxed.prepared_mnist); no sandbox."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from autograder.specs.schema import ClassifierCheck
from tests.sandboxed import prepared_mnist
from worker.checks.common.classification import TEST_NOISE, hidden_view
from worker.checks.phases import PhaseContext


def context(seed: int) -> PhaseContext:
    data = prepared_mnist() / "mnist"
    return PhaseContext(
        backend=None,  # type: ignore[arg-type]  # no box is started here
        spec=None,
        limits=None,  # type: ignore[arg-type]
        code_dir=Path("/nonexistent"),
        job_dir=Path("/nonexistent"),
        visible_data={"test_images.npy": data / "prepared" / "test_images.npy"},
        test_labels=np.load(data / "hidden" / "test_labels.npy"),
        seed=seed,
    )


def check(test_subset: int | None) -> ClassifierCheck:
    return ClassifierCheck.model_validate(
        {
            "id": "c",
            "kind": "classifier",
            "dataset": "mnist",
            "module": "m",
            "weights_files": ["w.safetensors"],
            "test_subset": test_subset,
            "credit": {"floor": 0.5, "target": 0.9},
            "points": 1,
        }
    )


@pytest.fixture(scope="module")
def public() -> tuple[np.ndarray, np.ndarray]:
    ctx = context(0)
    return np.load(ctx.visible_data["test_images.npy"]), np.asarray(ctx.test_labels)


def test_the_view_keeps_each_images_label_and_digit(public):
    images, labels = public
    view, view_labels, index = hidden_view(context(11), check(None))
    assert view.dtype == np.uint8 and view.shape == images.shape
    assert sorted(index.tolist()) == list(range(len(labels)))  # every image, once
    assert (view_labels == labels[index]).all()
    diff = view.astype(np.int16) - images[index].astype(np.int16)
    assert np.abs(diff).max() <= TEST_NOISE  # the same digit, a little noise on it
    assert np.abs(diff).mean() > TEST_NOISE / 4  # and noise there is


def test_the_view_is_the_jobs_own(public):
    images, _ = public
    first, _, index = hidden_view(context(11), check(1000))
    again, _, index_again = hidden_view(context(11), check(1000))
    other, _, other_index = hidden_view(context(12), check(1000))
    assert len(first) == 1000
    assert (first == again).all() and (index == index_again).all()  # re-grading: the same
    assert not (index == other_index).all() and not (first == other).all()
    assert not (index == np.arange(1000)).all()  # not the first 1,000 of the public split
    assert not (np.diff(index) > 0).all()  # nor in their published order


def test_no_image_is_the_published_bytes(public):
    """A table of exact hashes of t10k (the 59 KB table that once scored 100/100) finds no
    image, and one of thresholded images almost none: well under chance."""
    images, labels = public
    view, view_labels, _ = hidden_view(context(3), check(None))

    def digest(image: np.ndarray) -> bytes:
        return hashlib.blake2b(image.tobytes(), digest_size=8).digest()

    exact = {digest(img): int(y) for img, y in zip(images, labels, strict=True)}
    assert sum(digest(img) in exact for img in view) == 0
    binary = {digest(img >= 128): int(y) for img, y in zip(images, labels, strict=True)}
    found = [binary.get(digest(img >= 128)) for img in view]
    right = sum(f == int(y) for f, y in zip(found, view_labels, strict=True))
    assert right / len(view) < 0.25  # measured 18% at 12 grey levels; chance is 10%


def test_feedback_names_the_weakest_class_by_the_manifests_class_names() -> None:
    from autograder import datasets
    from autograder.settings import PROJECT_ROOT
    from worker.checks.common.classification import score

    names = datasets.get_spec("fashion-mnist", PROJECT_ROOT / "datasets").class_names
    labels = np.array([0, 0, 6, 6, 9, 9])
    predictions = np.array([0, 0, 6, 0, 9, 9])
    named = score(check(None), predictions, labels, [], names=names)
    assert "weakest: Shirt (class 6): 50.0%" in named.message
    assert "full points at 90%" in named.message
    plain = score(check(None), predictions, labels, [])
    assert "weakest: class 6: 50.0%" in plain.message
    from autograder.grading.said import Said

    spec = datasets.get_spec("fashion-mnist", PROJECT_ROOT / "datasets")
    both = [Said(en, zh) for en, zh in zip(spec.class_names, spec.class_names_zh, strict=True)]
    bilingual = score(check(None), predictions, labels, [], names=both)
    assert bilingual.message == named.message
    assert f"{spec.class_names_zh[6]}（类别 6）" in bilingual.message_zh
    assert bilingual.details["class_names_zh"] == spec.class_names_zh
