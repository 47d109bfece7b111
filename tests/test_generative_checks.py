"""The generative check kinds (``samples``, ``reconstruction``) and the MNIST judge: pure
scoring on plain arrays (no sandbox), plus the shipped judge's checksum and accuracy."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pydantic
import pytest

from autograder.specs.schema import ReconstructionCheck, SamplesCheck
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


def samples_check(**over) -> SamplesCheck:
    data = {
        "id": "gan",
        "kind": "samples",
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


def test_real_digits_earn_full_marks(test_set, real):
    images = test_set[0][:1000]
    outcome = sc.score(samples_check(), images, load_judge(), real, [])
    assert outcome.passed, outcome.message
    assert outcome.details["coverage"] > 0.95
    assert outcome.details["frechet"] < 10


def test_one_digit_only_fails_coverage_and_says_so(test_set, real):
    images, labels = test_set
    ones = images[labels == 1][:1000]
    outcome = sc.score(samples_check(), ones, load_judge(), real, [])
    assert outcome.details["parts"]["coverage"] == 0
    assert 0 < outcome.earned < outcome.points
    assert "digit 1 makes up" in outcome.message
    assert "never generated: 0, 2, 3" in outcome.message


def test_identical_samples_are_named(test_set, real):
    same = np.repeat(test_set[0][:1], 1000, axis=0)
    outcome = sc.score(samples_check(), same, load_judge(), real, [])
    assert "ignore its noise" in outcome.message


def test_noise_earns_little(real):
    noise = np.random.default_rng(1).random((1000, 28, 28)).astype(np.float32)
    outcome = sc.score(samples_check(), noise, load_judge(), real, [])
    assert outcome.details["parts"]["frechet"] == 0
    assert outcome.earned < 0.4 * outcome.points


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
def test_malformed_samples_earn_nothing(samples, words, real):
    outcome = sc.score(samples_check(), samples, load_judge(), real, [])
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
