"""HW1-1 NumPy basics (作业 1-1：NumPy 基础) -- starter code.

Implement every function below; replace each ``raise NotImplementedError`` with your code.
请实现下面的每个函数，把 ``raise NotImplementedError`` 替换为你的代码。

Rules / 要求:
- numpy only; do not import other third-party packages.  只能使用 numpy。
- Do not modify the inputs; return new arrays.  不要修改输入数组，返回新数组。
- Keep the function names and signatures unchanged.  不要修改函数名和参数。
- Avoid Python loops where a numpy expression does the job.  尽量用向量化写法代替 Python 循环。

Submit this single file, numpy_basics.py.  提交本文件 numpy_basics.py。
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- 1. creation


def range_matrix(rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) INTEGER array holding 0, 1, ..., rows*cols - 1 in row-major order.

    Example: range_matrix(2, 3) -> [[0, 1, 2], [3, 4, 5]]
    """
    raise NotImplementedError(
        "TODO: 实现 range_matrix / implement range_matrix (np.arange + reshape)"
    )


def checkerboard(n: int, m: int) -> np.ndarray:
    """An (n, m) array with 1 where (i + j) is even and 0 where it is odd.

    Example: checkerboard(2, 3) -> [[1, 0, 1], [0, 1, 0]]
    """
    raise NotImplementedError("TODO: 实现 checkerboard / implement checkerboard")


# --------------------------------------------------------------------------- 2. indexing


def every_other(a: np.ndarray) -> np.ndarray:
    """From a 2-D array keep rows 0, 2, 4, ... and columns 1, 3, 5, ...

    a: (n, m) with m >= 2.  Returns (ceil(n / 2), floor(m / 2)).
    """
    raise NotImplementedError("TODO: 实现 every_other / implement every_other (slicing)")


def positive_entries(a: np.ndarray) -> np.ndarray:
    """The strictly positive entries of ``a`` as a 1-D array, in row-major (C) order."""
    raise NotImplementedError(
        "TODO: 实现 positive_entries / implement positive_entries (boolean mask)"
    )


# --------------------------------------------------------------------------- 3. broadcasting


def outer_sum(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """out[i, j] = u[i] + v[j].  u: (n,), v: (m,).  Returns (n, m)."""
    raise NotImplementedError("TODO: 实现 outer_sum / implement outer_sum (broadcasting)")


def linear_layer(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A fully connected layer: X @ W + b.

    X: (n, d) inputs, W: (d, k) weights, b: (k,) bias.  Returns (n, k).
    """
    raise NotImplementedError("TODO: 实现 linear_layer / implement linear_layer (X @ W + b)")


def pairwise_sq_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances: D[i, j] = ||X[i] - Y[j]||^2.

    X: (n, d), Y: (m, d).  Returns (n, m), all entries >= 0.
    Uses ||x||^2 + ||y||^2 - 2 x.y (no Python loops); tiny negative values from
    rounding are clipped to 0.
    """
    raise NotImplementedError("TODO: 实现 pairwise_sq_distances / implement pairwise_sq_distances")


# --------------------------------------------------------------------------- 4. reductions


def summarize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three reductions of a 2-D array X of shape (n, d).

    Returns a tuple (col_mean, col_max, row_sum):
      col_mean: (d,) mean of each column,
      col_max:  (d,) maximum of each column,
      row_sum:  (n,) sum of each row.
    """
    raise NotImplementedError("TODO: 实现 summarize / implement summarize (mean, max, sum)")


def row_argmax(X: np.ndarray) -> np.ndarray:
    """For each row of X (n, k), the column index of its largest entry: (n,) integers."""
    raise NotImplementedError("TODO: 实现 row_argmax / implement row_argmax")


# --------------------------------------------------------------------------- 5. normalisation


def zscore_columns(X: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Standardise every column of X (n, d) to mean 0 and standard deviation 1.

    Uses the POPULATION standard deviation (divide by n, numpy's default ddof=0).
    Divides by (std + eps), so a constant column becomes all zeros instead of NaN.
    """
    raise NotImplementedError("TODO: 实现 zscore_columns / implement zscore_columns")


def l2_normalize_rows(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale every row of X (n, d) to Euclidean length 1.

    Each row is divided by max(||row||, eps), so an all-zero row stays all zeros
    (no division by zero, no NaN).  Returns a float array of shape (n, d).
    """
    raise NotImplementedError("TODO: 实现 l2_normalize_rows / implement l2_normalize_rows")


# --------------------------------------------------------------------------- 6. softmax, one-hot


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the LAST axis; z is (k,) or (n, k); the result has z's shape.

    Numerically stable: subtracting the maximum of each row does not change the
    result (softmax(z) == softmax(z - c)) but keeps exp() from overflowing, so
    inputs of magnitude 1000 work.
    """
    raise NotImplementedError(
        "TODO: 实现数值稳定的 softmax / implement a numerically stable softmax"
    )


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """One-hot encode integer labels.

    labels: (n,) integers in [0, num_classes).  Returns a float64 array (n, num_classes)
    with out[i, labels[i]] = 1 and every other entry 0.
    """
    raise NotImplementedError("TODO: 实现 one_hot / implement one_hot")
