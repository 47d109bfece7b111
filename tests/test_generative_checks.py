"""The generative check kinds (``samples``, ``reconstruction``) and the MNIST judge: pure
scoring on plain arrays (no sandbox), plus the shipped judge's checksum and accuracy."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pydantic
import pytest

from autograder.specs.schema import CopyRule, ReconstructionCheck, SamplesCheck
from worker.checks import copies as cp
from worker.checks import reconstruction_check as rc
from worker.checks import samples_check as sc
from worker.checks.generative_phases import artifact, curve
from worker.checks.phases import load_array
from worker.judges.mnist_judge import (
    JUDGE_PATH,
    JUDGE_SHA256,
    JudgeUnavailable,
    frechet_distance,
    load_judge,
)

MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def _idx(name: str) -> np.ndarray:
    path = MNIST / name
    if not path.is_file():
        pytest.skip(f"MNIST not found at {MNIST}")
    raw = gzip.decompress(path.read_bytes())
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


@pytest.fixture(scope="module")
def test_set() -> tuple[np.ndarray, np.ndarray]:
    images = _idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    return images, _idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)


@pytest.fixture(scope="module")
def real(test_set) -> np.ndarray:
    return load_judge()(test_set[0]).features


@pytest.fixture(scope="module")
def train_images() -> np.ndarray:
    return _idx("train-images-idx3-ubyte.gz")


@pytest.fixture(scope="module")
def index(train_images, test_set) -> cp.ImageIndex:
    """Both MNIST splits, as the worker indexes them."""
    return cp.ImageIndex.build(train_images, (test_set[0] * 255).round().astype(np.uint8))


@pytest.fixture(scope="module")
def train_index(train_images) -> cp.ImageIndex:
    """The training split only: test digits are then new, unseen real digits."""
    return cp.ImageIndex.build(train_images)


def samples_check(**over) -> SamplesCheck:
    data = {
        "id": "gan",
        "kind": "samples",
        "dataset": "mnist",
        "module": "gan",
        "latent_dim": 64,
        "points": 80,
        "samples": 1000,
        "train": {"epochs": 1},
        "credit": {
            "confidence": {"floor": 0.5, "target": 0.8, "share": 0.3},
            "coverage": {"floor": 0.4, "target": 0.7, "share": 0.3},
            "frechet": {"full_at": 40, "zero_at": 150, "share": 0.4},
        },
    }
    data.update(over)
    return SamplesCheck.model_validate(data)


def recon_check(**over) -> ReconstructionCheck:
    data = {
        "id": "ae",
        "kind": "reconstruction",
        "dataset": "mnist",
        "module": "autoencoders",
        "latent_size": 32,
        "points": 30,
        "test_subset": 100,
        "train": {"epochs": 1},
        "credit": {"full_at": 0.015, "zero_at": 0.06},
    }
    data.update(over)
    return ReconstructionCheck.model_validate(data)


# ------------------------------------------------------------------------------ the judge


def test_judge_checksum_matches_and_accuracy_is_recorded(test_set):
    judge = load_judge()
    images, labels = test_set
    verdict = judge(images)
    accuracy = float((verdict.probs.argmax(1) == labels).mean())
    assert accuracy >= 0.98
    assert abs(accuracy - judge.test_accuracy) < 1e-3
    assert verdict.features.shape == (10000, 128)
    assert np.allclose(verdict.probs.sum(1), 1)


def test_judge_refuses_altered_weights(tmp_path):
    copy = tmp_path / "judge.npz"
    shutil.copyfile(JUDGE_PATH, copy)
    data = bytearray(copy.read_bytes())
    data[-100] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(JudgeUnavailable, match="sha256"):
        load_judge(copy, JUDGE_SHA256)
    with pytest.raises(JudgeUnavailable):
        load_judge(tmp_path / "missing.npz", JUDGE_SHA256)


def test_judge_weights_are_small_and_plain():
    assert JUDGE_PATH.stat().st_size < 2 * 2**20
    with np.load(JUDGE_PATH, allow_pickle=False) as data:  # no object arrays inside
        assert all(data[k].dtype.kind == "f" for k in data.files)


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    assert frechet_distance(a, a) < 1e-6
    b = a * np.array([1.0, 2.0, 3.0]) + np.array([1.0, 0.0, 0.0])
    # Diagonal covariances: |mu|^2 + sum (sqrt(var_a) - sqrt(var_b))^2 = 1 + 0 + 1 + 4.
    assert abs(frechet_distance(a, b) - 6.0) < 0.15
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


# ------------------------------------------------------------------------------ samples


def test_unseen_real_digits_earn_full_marks(test_set, real, train_index):
    images = test_set[0][:1000]
    outcome = sc.score(samples_check(), images, load_judge(), real, [], train_index)
    assert outcome.passed, outcome.message
    # Some unseen digits lie much nearer one training image than its next nine, as a copy
    # would: 5.7% of 2,000 measured, under the 15% allowed.
    assert 0.01 < outcome.details["copies"]["fraction"] < 0.1
    assert outcome.details["coverage"] > 0.85
    assert outcome.details["frechet"] < 10


def test_one_digit_only_fails_coverage_and_says_so(test_set, real, train_index):
    images, labels = test_set
    threes = images[labels == 3][:1000]  # (plain 1s are too alike: 19% count as copies)
    outcome = sc.score(samples_check(), threes, load_judge(), real, [], train_index)
    assert outcome.details["parts"]["coverage"] == 0
    assert outcome.earned < 0.5 * outcome.points
    assert "digit 3 makes up" in outcome.message
    assert "never generated: 0, 1, 2, 4" in outcome.message


def test_identical_samples_are_named(test_set, real, train_index):
    same = np.repeat(test_set[0][:100].mean(axis=0, keepdims=True), 1000, axis=0)
    outcome = sc.score(samples_check(), same, load_judge(), real, [], train_index)
    assert "ignore its noise" in outcome.message


def test_noise_earns_nothing(real, index):
    noise = np.random.default_rng(1).random((1000, 28, 28)).astype(np.float32)
    outcome = sc.score(samples_check(), noise, load_judge(), real, [], index)
    assert outcome.details["parts"]["frechet"] == 0
    assert outcome.details["confidence"] > 0.5  # the judge is fooled a little ...
    assert outcome.earned == 0  # ... but confidence counts only once the Frechet line does
    assert "only once the Frechet distance does" in outcome.message


# ------------------------------------------------------------------------------ copies


def _shift(images: np.ndarray, rng: np.random.Generator, k: int = 1) -> np.ndarray:
    """Each image moved k pixels up, down, left or right (zero fill)."""
    padded = np.pad(images, ((0, 0), (k, k), (k, k)))
    offsets = [(0, k), (2 * k, k), (k, 0), (k, 2 * k)]
    moves = [offsets[m] for m in rng.integers(0, 4, len(images))]
    return np.stack([padded[i, r : r + 28, c : c + 28] for i, (r, c) in enumerate(moves)])


def _neighbour_mix(images: np.ndarray, train: np.ndarray, index: cp.ImageIndex) -> np.ndarray:
    """Each image blended half and half with its nearest OTHER training image."""
    q = cp.canonical(images)
    d = index.norms[None, :60000] - 2 * q @ index.vectors[:60000].T
    d[d.argmin(axis=1)[:, None] == np.arange(60000)[None, :]] = np.inf  # itself
    return 0.5 * images + 0.5 * train[d.argmin(axis=1)].astype(np.float32) / 255


ATTACKS = {
    "replayed": lambda x, train, index, rng: x,
    "noise 0.1": lambda x, train, index, rng: np.clip(
        x + 0.1 * rng.standard_normal(x.shape, dtype=np.float32), 0, 1
    ),
    "shifted 1 pixel": lambda x, train, index, rng: _shift(x, rng),
    "shifted 1 pixel + noise 0.15": lambda x, train, index, rng: np.clip(
        _shift(x, rng) + 0.15 * rng.standard_normal(x.shape, dtype=np.float32), 0, 1
    ),
    "mirrored": lambda x, train, index, rng: x[:, :, ::-1],
    "rotated 180": lambda x, train, index, rng: x[:, ::-1, ::-1],
    "binarised": lambda x, train, index, rng: (x > 0.5).astype(np.float32),
    "blended with a neighbour": lambda x, train, index, rng: _neighbour_mix(x, train, index),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_replayed_or_lightly_altered_training_images_earn_nothing(
    attack, train_images, index, real
):
    rng = np.random.default_rng(3)
    pick = rng.choice(60000, 500, replace=False)
    originals = train_images[pick].astype(np.float32) / 255
    samples = np.ascontiguousarray(ATTACKS[attack](originals, train_images, index, rng))
    outcome = sc.score(samples_check(samples=500), samples, load_judge(), real, [], index)
    assert outcome.earned == 0, (attack, outcome.message)
    copies = outcome.details["copies"]
    assert copies["fraction"] > 0.15
    assert f"{copies['count']} of 500 samples are copies of MNIST images" in outcome.message
    assert "earn no points" in outcome.message and "training image #" in outcome.message


def test_replayed_test_images_are_copies_too(test_set, index, real):
    """The Frechet line compares with the test images: replaying those would pay most."""
    samples = test_set[0][4000:4500]
    outcome = sc.score(samples_check(samples=500), samples, load_judge(), real, [], index)
    assert outcome.earned == 0
    assert "test image #" in outcome.message


def test_a_few_copies_are_left_out_and_named(test_set, train_images, train_index, real):
    """Unseen real digits with 5% replayed training images mixed in: the replays are left
    out of the judging (they earn nothing), the rest is judged as usual."""
    samples = test_set[0][:1000].copy()
    samples[::20] = train_images[:50].astype(np.float32) / 255
    outcome = sc.score(samples_check(), samples, load_judge(), real, [], train_index)
    copies = outcome.details["copies"]
    assert 50 <= copies["count"] <= 120  # the replays, and unseen digits near a training one
    assert outcome.details["judged"] == 1000 - copies["count"]
    assert "copies earn no quality credit" in outcome.message
    assert outcome.passed


def test_copy_detection_is_exact_for_shifts_and_mirrors(train_images):
    inside = train_images[:500][train_images[:500, [0, 1, 2, 25, 26, 27]].max(axis=(1, 2)) == 0]
    inside = inside[:, :, :][inside[:, :, [0, 1, 2, 25, 26, 27]].max(axis=(1, 2)) == 0][:50]
    images = inside.astype(np.float32) / 255  # a 3-pixel margin: shifts lose nothing
    small = cp.ImageIndex.build(inside)
    rng = np.random.default_rng(0)
    shifted = _shift(images, rng, k=3)
    assert np.allclose(cp.canonical(shifted), cp.canonical(images))
    found = cp.find_copies(np.ascontiguousarray(shifted[:, ::-1, :]), small, CopyRule())
    assert found.flags.all() and (found.nearest == np.arange(50)).all()
    assert (found.pose == 2).all() and found.distance.max() < 1e-2 and found.ratio.max() < 1e-2


def test_nearest_matches_brute_force(train_images):
    rng = np.random.default_rng(1)
    small = cp.ImageIndex.build(train_images[:20000])
    queries = cp.canonical(rng.random((7, 28, 28), dtype=np.float32))
    brute = np.linalg.norm(queries[:, None, :] - small.vectors[None, :, :], axis=2)
    distance, rows = cp.nearest(queries, small)
    assert np.array_equal(rows, brute.argmin(axis=1))
    assert np.allclose(distance, brute.min(axis=1), atol=1e-3)
    top = cp.nearest_k(queries, small, 10)
    assert np.allclose(top, np.sort(brute, axis=1)[:, :10], atol=1e-3)


@pytest.mark.parametrize(
    "samples,words",
    [
        (np.full((1000, 28, 28), -0.5, np.float32), "(x + 1) / 2"),
        (np.full((1000, 28, 28), np.nan, np.float32), "NaN"),
        (np.full((1000, 28, 28), np.inf, np.float32), "NaN or infinity"),
        (np.zeros((999, 28, 28), np.float32), "shape"),
        (np.zeros((1000, 784), np.float32), "shape"),
        (np.zeros((1000, 28, 28), np.int64), "shape"),
    ],
)
def test_malformed_samples_earn_nothing(samples, words, real, index):
    outcome = sc.score(samples_check(), samples, load_judge(), real, [], index)
    assert outcome.earned == 0
    assert words in outcome.message


def test_samples_artifacts_are_checked_before_use(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert "nothing was written" in sc.read_samples(out, 100)
    np.save(out / "samples.npy", np.zeros((100, 28, 28), np.int32))
    assert "dtype" in sc.read_samples(out, 100)
    np.save(out / "samples.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a readable" in sc.read_samples(out, 100)
    np.save(out / "samples.npy", np.zeros((100, 28, 28, 40), np.float64))  # too large
    assert "larger than expected" in sc.read_samples(out, 100)
    (out / "samples.npy").unlink()
    (out / "samples.npy").symlink_to("/etc/passwd")
    assert "not a regular file" in sc.read_samples(out, 100)
    (out / "samples.npy").unlink()
    np.save(out / "samples.npy", np.full((100, 28, 28), 0.5, np.float32))
    assert sc.read_samples(out, 100).shape == (100, 28, 28)


def test_noise_comes_from_the_seed():
    check = samples_check()
    a = sc.noise(check, np.random.default_rng([1, 2]))
    assert a.shape == (1000, 64) and a.dtype == np.float32
    assert np.array_equal(a, sc.noise(check, np.random.default_rng([1, 2])))
    assert not np.array_equal(a, sc.noise(check, np.random.default_rng([1, 3])))


def test_curve_keeps_known_finite_numbers(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"epoch": 1, "d_loss": 0.5, "g_loss": NaN, "evil": 3}\nnot json\n{"epoch": 2}\n'
    )
    assert curve(path) == [{"epoch": 1.0, "d_loss": 0.5}, {"epoch": 2.0}]
    assert curve(tmp_path / "missing") == []


# ------------------------------------------------------------------------------ reconstruction


def test_codes_are_checked_and_rounded_to_float16():
    codes = np.random.default_rng(0).standard_normal((100, 32))
    out = rc.check_codes(codes, 100, 32)
    assert out.dtype == np.float16 and out.shape == (100, 32)
    assert np.abs(out.astype(np.float64) - codes).max() < 4e-3
    assert "at most 32" in rc.check_codes(np.zeros((100, 33)), 100, 32)
    assert "expected (100, d)" in rc.check_codes(np.zeros((100, 4, 8)), 100, 32)
    assert "expected (100, d)" in rc.check_codes(np.zeros((99, 32)), 100, 32)
    assert "NaN" in rc.check_codes(np.full((100, 32), np.nan), 100, 32)
    assert "float16" in rc.check_codes(np.full((100, 32), 1e6), 100, 32)
    assert "float" in rc.check_codes(np.zeros((100, 32), np.int64), 100, 32)


def test_float16_codes_cannot_carry_an_image():
    """What a cheat would do: hide pixels in the low mantissa bits of float64 codes."""
    image = np.random.default_rng(0).integers(0, 256, 784).astype(np.uint8)
    carrier = np.ones(32) + image[:32] * 2.0**-40  # 32 pixels in the low bits
    assert np.all(rc.check_codes(carrier[None, :], 1, 32).astype(np.float64) == 1.0)


def test_test_inputs_come_from_the_seed_and_denoising_is_noisy(test_set):
    images = (test_set[0][:500] * 255).astype(np.uint8)
    check = recon_check(variant="denoising", noise_std=0.5)
    clean, noisy = rc.test_inputs(check, np.random.default_rng([5, 1]), images)
    clean2, _ = rc.test_inputs(check, np.random.default_rng([5, 1]), images)
    other, _ = rc.test_inputs(check, np.random.default_rng([5, 2]), images)
    assert clean.shape == (100, 28, 28) and np.array_equal(clean, clean2)
    assert not np.array_equal(clean, other)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert 0.05 < float(((noisy - clean) ** 2).mean()) < 0.25
    plain, seen = rc.test_inputs(recon_check(), np.random.default_rng([5, 1]), images)
    assert plain is seen


def test_reconstruction_credit_line(test_set):
    clean = test_set[0][:100]
    codes = np.zeros((100, 32), np.float16)
    check = recon_check()
    assert rc.score(check, codes, clean.copy(), clean, []).passed
    blurred = np.clip(clean + 0.2, 0, 1)
    outcome = rc.score(check, codes, blurred, clean, [])
    assert 0 < outcome.earned < outcome.points
    assert "MSE 0.0" in outcome.message
    assert rc.score(check, codes, np.zeros_like(clean), clean, []).earned < outcome.earned


@pytest.mark.parametrize(
    "recon,words",
    [
        (lambda c: c * 1.5 - 0.2, "sigmoid"),
        (lambda c: np.full_like(c, np.nan), "NaN"),
        (lambda c: c[:50], "shape"),
        (lambda c: c.astype(np.int64), "shape"),
    ],
)
def test_malformed_reconstructions_earn_nothing(test_set, recon, words):
    clean = test_set[0][:100]
    outcome = rc.score(recon_check(), np.zeros((100, 32), np.float16), recon(clean), clean, [])
    assert outcome.earned == 0
    assert words in outcome.message


def test_sparsity_is_scale_free_and_scored():
    rng = np.random.default_rng(0)
    dense = np.abs(rng.standard_normal((100, 64)))
    sparse = dense * (rng.random((100, 64)) < 0.1)
    assert rc.active_fraction(dense, 0.05) > 0.9
    assert rc.active_fraction(sparse, 0.05) < 0.12
    assert rc.active_fraction(sparse * 1e-3, 0.05) == rc.active_fraction(sparse, 0.05)
    assert rc.active_fraction(np.zeros((10, 4)), 0.05) == 0.0
    check = recon_check(
        variant="sparse",
        latent_size=64,
        credit={"full_at": 0.015, "zero_at": 0.06, "share": 0.6},
        sparsity={"full_at": 0.2, "zero_at": 0.5, "share": 0.4},
    )
    clean = np.full((100, 28, 28), 0.5, np.float32)
    good = rc.score(check, sparse.astype(np.float16), clean, clean, [])
    assert good.passed
    bad = rc.score(check, dense.astype(np.float16), clean, clean, [])
    assert bad.earned == pytest.approx(0.6 * check.points)
    assert "L1 penalty" in bad.message


def test_sparsity_counts_only_once_the_reconstruction_does(test_set):
    """An untrained sparse auto-encoder, or one whose codes are all zero and whose decoder
    returns a constant image, is perfectly sparse but has learnt nothing: no points."""
    check = recon_check(
        variant="sparse",
        latent_size=64,
        credit={"full_at": 0.025, "zero_at": 0.06, "share": 0.6},
        sparsity={"full_at": 0.5, "zero_at": 0.6, "share": 0.4},
    )
    clean = test_set[0][:100]
    zero_codes = np.zeros((100, 64), np.float16)
    mean_image = np.repeat(test_set[0].mean(axis=0, keepdims=True), 100, axis=0)
    constant = rc.score(check, zero_codes, mean_image, clean, [])
    assert constant.details["mse"] > 0.06 and constant.details["active_fraction"] == 0
    assert constant.earned == 0
    assert "only once the reconstruction error does" in constant.message
    rng = np.random.default_rng(0)
    sparse_codes = np.abs(rng.standard_normal((100, 64))) * (rng.random((100, 64)) < 0.1)
    untrained = rc.score(check, sparse_codes.astype(np.float16), rng.random(clean.shape), clean, [])
    assert untrained.details["mse"] > 0.2 and untrained.earned == 0
    good = rc.score(check, sparse_codes.astype(np.float16), clean.copy(), clean, [])
    assert good.passed  # the reference's case: both lines earn


def test_artifact_refuses_odd_files(tmp_path):
    (tmp_path / "fifo").mkdir()
    assert "not a regular file" in artifact(tmp_path, "fifo", 10)
    (tmp_path / "big.npy").write_bytes(b"x" * 100)
    assert "larger" in artifact(tmp_path, "big.npy", 10)
    np.save(tmp_path / "codes.npy", np.zeros((4, 2)))
    assert isinstance(load_array(tmp_path / "codes.npy", kinds="f", shape=(4, None), what="c"),
                      np.ndarray)  # fmt: skip


# ------------------------------------------------------------------------------ the schema


def test_schema_validates_the_generative_kinds():
    with pytest.raises(pydantic.ValidationError, match="shares"):
        samples_check(
            credit={
                "confidence": {"floor": 0.5, "target": 0.8, "share": 0.5},
                "coverage": {"floor": 0.4, "target": 0.7, "share": 0.5},
                "frechet": {"full_at": 40, "zero_at": 150, "share": 0.5},
            }
        )
    with pytest.raises(pydantic.ValidationError, match="noise_std"):
        recon_check(variant="denoising")
    with pytest.raises(pydantic.ValidationError, match="noise_std"):
        recon_check(noise_std=0.3)
    with pytest.raises(pydantic.ValidationError, match="sparsity"):
        recon_check(variant="sparse")
    with pytest.raises(pydantic.ValidationError, match="credit.share"):
        recon_check(variant="sparse", sparsity={"full_at": 0.2, "zero_at": 0.5, "share": 0.4})
    with pytest.raises(pydantic.ValidationError):
        recon_check(unknown_key=1)
    assert samples_check().copies == CopyRule(ratio=0.7, max_fraction=0.15)
    with pytest.raises(pydantic.ValidationError, match="ratio"):
        samples_check(copies={"ratio": 1.5})
    with pytest.raises(pydantic.ValidationError, match="max_fractoin"):
        samples_check(copies={"max_fractoin": 0.1})
