"""The MNIST judge: a small MLP the project trained once and ships as checksummed weights.

It scores generated digits OUTSIDE the sandbox, so it is evaluated here in numpy (the
service has no torch). Trained by worker/judges/train_mnist_judge.py (sandbox venv's
torch, the 60,000 MNIST training images only, small random shifts as augmentation).

    architecture   784 -> 256 -> ReLU -> 128 -> ReLU -> 10 (logits); 235,146 parameters
    weights        worker/judges/mnist_judge.npz, float32, 0.94 MB, sha256 JUDGE_SHA256
    test accuracy  98.74% on the 10,000 MNIST test images (recorded in the file too)
    features       the 128 post-ReLU activations of the second layer ("penultimate"),
                   used for the Frechet distance

The file is loaded with allow_pickle=False and only after its sha256 matches the value
recorded here: a mismatch is an infrastructure error (JudgeUnavailable), never a grade.
To retrain: run the script, then copy the sha256 it prints into JUDGE_SHA256.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JUDGE_PATH = Path(__file__).resolve().parent / "mnist_judge.npz"
JUDGE_SHA256 = "1c7117831a719e1a79642fce9f6cee00f0780bc5feb3391a01871ed99173b7c1"
SHAPES = {
    "w1": (784, 256),
    "b1": (256,),
    "w2": (256, 128),
    "b2": (128,),
    "w3": (128, 10),
    "b3": (10,),
}
FEATURES = 128
BATCH = 2000


class JudgeUnavailable(Exception):
    """The shipped weights are missing, altered or malformed (ours to fix, not the student's)."""


@dataclass(frozen=True)
class Judgement:
    probs: np.ndarray  # (N, 10) softmax probabilities, float64
    features: np.ndarray  # (N, 128) penultimate activations, float64


class MnistJudge:
    def __init__(self, arrays: dict[str, np.ndarray], test_accuracy: float):
        self.w = {k: arrays[k].astype(np.float32) for k in SHAPES}
        self.test_accuracy = test_accuracy

    def __call__(self, images: np.ndarray) -> Judgement:
        """Images as floats in [0, 1], shape (N, 28, 28) or (N, 784)."""
        x = np.asarray(images, dtype=np.float32).reshape(len(images), 784)
        probs, feats = [], []
        for start in range(0, len(x), BATCH):
            h = np.maximum(x[start : start + BATCH] @ self.w["w1"] + self.w["b1"], 0)
            f = np.maximum(h @ self.w["w2"] + self.w["b2"], 0)
            logits = (f @ self.w["w3"] + self.w["b3"]).astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            e = np.exp(logits)
            probs.append(e / e.sum(axis=1, keepdims=True))
            feats.append(f.astype(np.float64))
        if not probs:
            return Judgement(np.zeros((0, 10)), np.zeros((0, FEATURES)))
        return Judgement(np.concatenate(probs), np.concatenate(feats))


_LOCK = threading.Lock()
_CACHE: dict[str, MnistJudge] = {}


def load_judge(path: Path = JUDGE_PATH, sha256: str = JUDGE_SHA256) -> MnistJudge:
    """The judge, verified against its recorded checksum (cached per process)."""
    with _LOCK:
        key = f"{path}:{sha256}"
        if key in _CACHE:
            return _CACHE[key]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise JudgeUnavailable(f"the MNIST judge's weights cannot be read: {exc}") from exc
        digest = hashlib.sha256(raw).hexdigest()
        if digest != sha256:
            raise JudgeUnavailable(
                f"the MNIST judge's weights {path.name} have sha256 {digest}, expected {sha256}"
            )
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k]) for k in data.files}
        except Exception as exc:
            raise JudgeUnavailable(f"the MNIST judge's weights are unreadable: {exc}") from exc
        for name, shape in SHAPES.items():
            arr = arrays.get(name)
            if arr is None or arr.shape != shape or arr.dtype != np.float32:
                raise JudgeUnavailable(f"the MNIST judge's array {name} is missing or malformed")
            if not np.isfinite(arr).all():
                raise JudgeUnavailable(f"the MNIST judge's array {name} is not finite")
        judge = MnistJudge(arrays, float(arrays.get("test_accuracy", np.nan)))
        _CACHE[key] = judge
        return judge


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (rows).

    The square root's trace is Tr((A S_b A)^(1/2)) with A = S_a^(1/2), both symmetric
    positive semi-definite, so two eigen-decompositions suffice (no scipy)."""
    a = np.asarray(feat_a, dtype=np.float64)
    b = np.asarray(feat_b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a = np.atleast_2d(np.cov(a, rowvar=False))
    s_b = np.atleast_2d(np.cov(b, rowvar=False))
    vals, vecs = np.linalg.eigh(s_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root_a @ s_b @ root_a
    middle = (middle + middle.T) / 2
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * trace_root)
    return max(value, 0.0)
