"""Which generated samples copy MNIST images (rule 11: samples that copy training data earn
nothing). Pure numpy, outside every box.

Every sample is compared with all 70,000 MNIST images, the training AND the test split (the
Frechet line compares with the test images, so replaying those would pay even better), in
a canonical pose:

- centred: moved by whole pixels so that its centre of mass lies at (14, 14), the way MNIST
  itself centres digits; a shifted copy lands exactly on its original;
- pooled: 2 x 2 pixel averages, a 14 x 14 image; noise added pixel by pixel averages out
  while strokes stay (pooled distances are at most half the 28 x 28 ones);
- in four orientations: as drawn, mirrored left-right, mirrored top-bottom, rotated 180
  degrees; the one closest to some MNIST image counts.

A sample is a copy when, in that pose, its nearest MNIST image is closer than ``rule.ratio``
times the mean distance of its NEAREST nearest images (L2 over the 196 pooled values, pixels
in [0, 1]): much nearer one image than to the next ones. That is what a replay (ratio 0),
noise on, blurring, slight deformation of, or a blend with a neighbour of one image looks
like: the relative distance of Carlini et al., "Extracting Training Data from Diffusion
Models" (2023). An absolute distance would not do: plain 1s are so alike that 96% of the
unseen test 1s lie as close to a training 1 as a noisy copy does, but just as close to
their next nine.

Cost: one matrix product per 8,192 MNIST images per pose, float32; about 2 to 5 seconds for
2,000 samples on one core.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import CopyRule

NEAREST = 10
CHUNK = 8192
QUERY_CHUNK = 2048
POSES = ("as drawn", "mirrored left-right", "mirrored top-bottom", "rotated 180 degrees")


def pose(k: int) -> Said:
    """POSES[k] in words for a message, in both languages."""
    return (
        say("samples.pose_as_drawn"),
        say("samples.pose_mirrored_left_right"),
        say("samples.pose_mirrored_top_bottom"),
        say("samples.pose_rotated"),
    )[k]


_MARGIN = 8  # largest centring shift (MNIST digits have a 4-pixel margin)


def centred(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) float32, each moved by whole pixels (zero fill) so that its centre of
    mass is the pixel nearest (14, 14); blank images stay where they are."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    mass = x.sum(axis=(1, 2))
    grid = np.arange(28, dtype=np.float64)
    safe = np.where(mass > 0, mass, 1.0)
    rows = np.where(mass > 0, (x.sum(axis=2) @ grid) / safe, 14.0)
    cols = np.where(mass > 0, (x.sum(axis=1) @ grid) / safe, 14.0)
    dr = np.clip(np.rint(14.0 - rows), -_MARGIN, _MARGIN).astype(np.int64)
    dc = np.clip(np.rint(14.0 - cols), -_MARGIN, _MARGIN).astype(np.int64)
    padded = np.pad(x, ((0, 0), (_MARGIN, _MARGIN), (_MARGIN, _MARGIN)))
    r_index = np.arange(28)[None, :] - dr[:, None] + _MARGIN  # (N, 28)
    c_index = np.arange(28)[None, :] - dc[:, None] + _MARGIN
    out = np.take_along_axis(padded, r_index[:, :, None], axis=1)
    return np.take_along_axis(out, c_index[:, None, :], axis=2)


def pooled(images: np.ndarray) -> np.ndarray:
    """(N, 196) float32: the means of 2 x 2 pixel blocks."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 14, 2, 14, 2)
    return np.ascontiguousarray(x.mean(axis=(2, 4)).reshape(len(x), 196))


def canonical(images: np.ndarray) -> np.ndarray:
    return pooled(centred(images))


@dataclass(frozen=True)
class ImageIndex:
    """The MNIST images in the canonical pose; row i < n_train is training image i."""

    vectors: np.ndarray  # (M, 196) float32
    norms: np.ndarray  # (M,) float32, squared
    n_train: int

    @classmethod
    def build(cls, train: np.ndarray, test: np.ndarray | None = None) -> ImageIndex:
        """From uint8 (N, 28, 28) arrays as stored (or floats in [0, 1])."""
        parts = [train] + ([test] if test is not None else [])
        vectors = np.concatenate([canonical(as_unit(p)) for p in parts])
        return cls(vectors, (vectors * vectors).sum(axis=1), len(train))

    def name(self, row: int) -> Said:
        if row < self.n_train:
            return say("samples.training_image", n=row)
        return say("samples.test_image", n=row - self.n_train)


def as_unit(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def squared_distances(queries: np.ndarray, index: ImageIndex, start: int) -> np.ndarray:
    """(Q, CHUNK) squared distances of ``queries`` to index rows start.. (without |q|^2)."""
    block = index.vectors[start : start + CHUNK]
    distances: np.ndarray = index.norms[None, start : start + CHUNK] - 2 * (queries @ block.T)
    return distances


def nearest(queries: np.ndarray, index: ImageIndex) -> tuple[np.ndarray, np.ndarray]:
    """The distance to, and row of, the nearest index image of each query row."""
    best = np.full(len(queries), np.inf, np.float32)
    rows = np.zeros(len(queries), np.int64)
    for q0 in range(0, len(queries), QUERY_CHUNK):
        q = queries[q0 : q0 + QUERY_CHUNK]
        for start in range(0, len(index.vectors), CHUNK):
            d = squared_distances(q, index, start)
            arg = d.argmin(axis=1)
            value = d[np.arange(len(q)), arg]
            better = value < best[q0 : q0 + len(q)]
            best[q0 : q0 + len(q)][better] = value[better]
            rows[q0 : q0 + len(q)][better] = arg[better] + start
    sq = (queries * queries).sum(axis=1)
    return np.sqrt(np.maximum(best + sq, 0)), rows


def nearest_k(queries: np.ndarray, index: ImageIndex, k: int) -> np.ndarray:
    """(Q, k) the distances to the k nearest index images, ascending."""
    out = np.empty((len(queries), k), np.float32)
    for q0 in range(0, len(queries), QUERY_CHUNK):
        q = queries[q0 : q0 + QUERY_CHUNK]
        best = np.full((len(q), k), np.inf, np.float32)
        for start in range(0, len(index.vectors), CHUNK):
            both = np.concatenate([best, squared_distances(q, index, start)], axis=1)
            best = np.partition(both, k - 1, axis=1)[:, :k]
        sq = (q * q).sum(axis=1)
        out[q0 : q0 + len(q)] = np.sqrt(np.maximum(np.sort(best, axis=1) + sq[:, None], 0))
    return out


@dataclass(frozen=True)
class Copies:
    """Per sample: is it a copy, its distance to the nearest MNIST image, that distance
    over the mean of the NEAREST nearest, the image's index row, and the pose used."""

    flags: np.ndarray
    distance: np.ndarray
    ratio: np.ndarray
    nearest: np.ndarray
    pose: np.ndarray

    @property
    def count(self) -> int:
        return int(self.flags.sum())

    @property
    def fraction(self) -> float:
        return self.count / max(len(self.flags), 1)


def find_copies(samples: np.ndarray, index: ImageIndex, rule: CopyRule) -> Copies:
    """Pure: samples (N, 28, 28) floats in [0, 1] -> which of them copy an indexed image."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1, 28, 28)
    n = len(x)
    posed = np.concatenate([x, x[:, :, ::-1], x[:, ::-1, :], x[:, ::-1, ::-1]])
    queries = canonical(posed)
    distance, rows = nearest(queries, index)
    pose = distance.reshape(4, n).argmin(axis=0)
    pick = pose * n + np.arange(n)
    top = nearest_k(queries[pick], index, NEAREST)
    mean = top.mean(axis=1)
    ratio = np.where(mean > 0, top[:, 0] / np.where(mean > 0, mean, 1.0), 0.0)
    flags = ratio < rule.ratio
    return Copies(flags, top[:, 0], ratio, rows[pick], pose)


_LOCK = threading.Lock()
_INDEX: dict[tuple[object, ...], ImageIndex] = {}


def mnist_index(train_path: Path, test_path: Path) -> ImageIndex:
    """The index of both MNIST splits as the worker stores them (cached per process)."""
    key: tuple[object, ...] = ()
    for path in (train_path, test_path):
        stat = Path(path).stat()
        key += (str(path), stat.st_ino, stat.st_mtime_ns)
    with _LOCK:
        if key not in _INDEX:
            train = np.load(train_path, allow_pickle=False)
            test = np.load(test_path, allow_pickle=False)
            _INDEX.clear()
            _INDEX[key] = ImageIndex.build(train, test)
        return _INDEX[key]
