"""HW4-2 (auto-encoders, kind ``reconstruction``) through the real sandbox: the starter,
hostile codes, the decode box's blindness, and the reference's plain auto-encoder.
(All three trainings of the reference run in `autograder specs test hw4-2`; the buggy and
alternative implementations in the corpus, grading_specs/samples/hw4-2/.)"""

from __future__ import annotations

from pathlib import Path

from autograder.specs.loader import load_spec_file
from tests.sandboxed import by_check, grade_folder

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "grading_specs" / "hw4-2.yaml"
PLAIN = ["plain/plain-ae"]

# A model whose train() returns at once (the checks below are not about training).
UNTRAINED = """
import torch
from torch import nn


class AE(nn.Module):
    def __init__(self, code=32):
        super().__init__()
        self.enc = nn.Linear(784, code)
        self.dec = nn.Linear(code, 784)

    def encode(self, x):
        return ENCODE

    def decode(self, z):
        return DECODE


def build_autoencoder():
    return AE()


def train_autoencoder(model, images, config, log):
    log({"loss": 1.0})
    return model
"""


def _submission(tmp_path: Path, encode: str, decode: str, extra: str = "") -> Path:
    folder = tmp_path / "sub"
    folder.mkdir()
    source = UNTRAINED.replace("ENCODE", encode).replace("DECODE", decode) + extra
    (folder / "autoencoders.py").write_text(source)
    return folder


def test_spec_shape():
    spec = load_spec_file(SPEC).spec
    assert spec.max_points == 100
    checks = {c.id: c for _, c in spec.checks()}
    assert {c.kind for c in checks.values()} == {"reconstruction"}
    assert checks["denoising-ae"].noise_std == 0.5
    assert checks["denoising-ae"].train.options["noise_std"] == 0.5
    assert checks["sparse-ae"].sparsity is not None and "l1" in checks["sparse-ae"].train.options


def test_starter_earns_nothing(tmp_path):
    report = grade_folder(tmp_path, "hw4-2", ROOT / "starters" / "hw4-2", seed=3)
    assert report.raw_score == 0
    for row in by_check(report).values():
        assert "NotImplementedError" in row["message"]


def test_float64_codes_wider_than_allowed_are_refused(tmp_path):
    folder = _submission(
        tmp_path, "x.reshape(len(x), -1).double()", "torch.sigmoid(self.dec(z[:, :32].float()))"
    )
    report = grade_folder(tmp_path, "hw4-2", folder, seed=3, only=PLAIN)
    row = by_check(report)["plain/plain-ae"]
    assert row["earned"] == 0
    assert "784 numbers per image" in row["message"] and "at most 32" in row["message"]


def test_decode_box_sees_neither_images_nor_the_encode_box(tmp_path):
    """A cheat stashes the images it was asked to encode; the decode box cannot find them."""
    extra = """
import os

def _stash(x):
    for path in ("/job/rw/out/stash.npy", "/tmp/stash.npy", "/job/src/stash.npy"):
        try:
            torch.save(x, path)
        except OSError:
            pass
    return torch.zeros(len(x), 32)

def _fetch(z):
    for path in ("/job/rw/out/stash.npy", "/tmp/stash.npy", "/job/src/stash.npy",
                 "/job/in/images.npy", "/data/test_images.npy"):
        if os.path.exists(path):
            raise RuntimeError("found " + path)
    return torch.zeros(len(z), 1, 28, 28)
"""
    folder = _submission(tmp_path, "_stash(x)", "_fetch(z)", extra)
    report = grade_folder(tmp_path, "hw4-2", folder, seed=3, only=PLAIN)
    row = by_check(report)["plain/plain-ae"]
    assert "found" not in row["message"], row["message"]
    assert "MSE" in row["message"] and row["earned"] == 0  # black images: MSE ~0.1


def test_reference_plain_autoencoder(tmp_path):
    report = grade_folder(tmp_path, "hw4-2", ROOT / "reference_solutions" / "hw4-2", only=PLAIN)
    assert report.state == "graded", report.failure_message
    row = by_check(report)["plain/plain-ae"]
    assert row["passed"], row["message"]
    assert row["details"]["mse"] < 0.02
    assert row["details"]["code_size"] == 32
    assert len(row["details"]["curve"]) == 5


def test_untrained_sparse_autoencoder_earns_nothing(tmp_path):
    """What a student did: an untrained sparse auto-encoder took 14/35 from sparsity alone
    at MSE 0.23; sparsity now counts only once the MSE line earns points."""
    source = UNTRAINED.replace("ENCODE", "torch.relu(self.enc(x.reshape(len(x), -1)) - 0.3)")
    source = source.replace("DECODE", "torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)")
    source += "\nbuild_sparse_autoencoder = build_autoencoder\n"
    source += "train_sparse_autoencoder = train_autoencoder\n"
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "autoencoders.py").write_text(source)
    report = grade_folder(tmp_path, "hw4-2", folder, seed=3, only=["sparse/sparse-ae"])
    row = by_check(report)["sparse/sparse-ae"]
    assert row["details"]["mse"] > 0.06 and row["details"]["active_fraction"] < 0.5
    assert row["earned"] == 0
    assert "only once the reconstruction error does" in row["message"]
