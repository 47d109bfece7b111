"""HW1-1 numpy basics: reference solution.

Every function is pure: it never modifies its inputs and returns new arrays.
Only numpy is used.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- 1. creation


def range_matrix(rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) INTEGER array holding 0, 1, ..., rows*cols - 1 in row-major order.

    Example: range_matrix(2, 3) -> [[0, 1, 2], [3, 4, 5]]
    """
    return np.arange(rows * cols, dtype=np.int64).reshape(rows, cols)


def checkerboard(n: int, m: int) -> np.ndarray:
    """An (n, m) array with 1 where (i + j) is even and 0 where it is odd.

    Example: checkerboard(2, 3) -> [[1, 0, 1], [0, 1, 0]]
    """
    i = np.arange(n)[:, None]
    j = np.arange(m)[None, :]
    return ((i + j) % 2 == 0).astype(np.int64)


# --------------------------------------------------------------------------- 2. indexing


def every_other(a: np.ndarray) -> np.ndarray:
    """From a 2-D array keep rows 0, 2, 4, ... and columns 1, 3, 5, ...

    a: (n, m) with m >= 2.  Returns (ceil(n / 2), floor(m / 2)).
    """
    return a[::2, 1::2].copy()


def positive_entries(a: np.ndarray) -> np.ndarray:
    """The strictly positive entries of ``a`` as a 1-D array, in row-major (C) order."""
    return a[a > 0]


# --------------------------------------------------------------------------- 3. broadcasting


def outer_sum(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """out[i, j] = u[i] + v[j].  u: (n,), v: (m,).  Returns (n, m)."""
    return u[:, None] + v[None, :]


def linear_layer(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A fully connected layer: X @ W + b.

    X: (n, d) inputs, W: (d, k) weights, b: (k,) bias.  Returns (n, k).
    """
    return X @ W + b


def pairwise_sq_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances: D[i, j] = ||X[i] - Y[j]||^2.

    X: (n, d), Y: (m, d).  Returns (n, m), all entries >= 0.
    Uses ||x||^2 + ||y||^2 - 2 x.y (no Python loops); tiny negative values from
    rounding are clipped to 0.
    """
    xx = np.sum(X * X, axis=1)[:, None]
    yy = np.sum(Y * Y, axis=1)[None, :]
    d = xx + yy - 2.0 * (X @ Y.T)
    return np.maximum(d, 0.0)


# --------------------------------------------------------------------------- 4. reductions


def summarize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three reductions of a 2-D array X of shape (n, d).

    Returns a tuple (col_mean, col_max, row_sum):
      col_mean: (d,) mean of each column,
      col_max:  (d,) maximum of each column,
      row_sum:  (n,) sum of each row.
    """
    return X.mean(axis=0), X.max(axis=0), X.sum(axis=1)


def row_argmax(X: np.ndarray) -> np.ndarray:
    """For each row of X (n, k), the column index of its largest entry: (n,) integers."""
    return np.argmax(X, axis=1)


# --------------------------------------------------------------------------- 5. normalisation


def zscore_columns(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Standardise every column of X (n, d) to mean 0 and standard deviation 1.

    Uses the POPULATION standard deviation (divide by n, numpy's default ddof=0).
    Divides by (std + eps), so a constant column becomes all zeros instead of NaN.
    """
    mu = X.mean(axis=0)
    sigma = X.std(axis=0)
    return (X - mu) / (sigma + eps)


def l2_normalize_rows(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale every row of X (n, d) to Euclidean length 1.

    Each row is divided by max(||row||, eps), so an all-zero row stays all zeros
    (no division by zero, no NaN).  Returns a float array of shape (n, d).
    """
    norms = np.sqrt(np.sum(np.asarray(X, dtype=np.float64) ** 2, axis=1, keepdims=True))
    return X / np.maximum(norms, eps)


# --------------------------------------------------------------------------- 6. softmax, one-hot


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the LAST axis; z is (k,) or (n, k); the result has z's shape.

    Numerically stable: subtracting the maximum of each row does not change the
    result (softmax(z) == softmax(z - c)) but keeps exp() from overflowing, so
    inputs of magnitude 1000 work.
    """
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot encode integer labels.

    labels: (n,) integers in [0, num_classes).  Returns a float64 array (n, num_classes)
    with out[i, labels[i]] = 1 and every other entry 0.
    """
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], num_classes), dtype=np.float64)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out
