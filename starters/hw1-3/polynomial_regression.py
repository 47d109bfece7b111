"""HW1-3 polynomial regression with model selection (作业 1-3：多项式回归与模型选择) -- starter.

A model is the coefficient vector w of shape (degree + 1,): the polynomial
w[0] + w[1] x + ... + w[degree] x**degree.  ``predict(w, x)`` evaluates it.
模型就是系数向量 w（长度 degree + 1，低次项在前），predict(w, x) 计算多项式的值。

Replace each ``raise NotImplementedError`` with your code (numpy only, no sklearn; keep the
names, signatures and the two DEFAULT_* constants).  请把每个 ``raise NotImplementedError``
替换为你的代码（只能使用 numpy，不能用 sklearn；不要修改函数名、参数和 DEFAULT_* 常量）。
Your code must be deterministic (no unseeded randomness).  代码必须是确定性的。
提交本文件 polynomial_regression.py。
"""

from __future__ import annotations

import numpy as np

# Candidates that fit() chooses from with k-fold cross-validation.
DEFAULT_DEGREES = tuple(range(0, 11))
DEFAULT_LAMS = (0.0, 1e-8, 1e-6, 1e-4, 1e-2, 1.0)


def poly_features(x: np.ndarray, degree: int) -> np.ndarray:
    """Polynomial feature matrix (Vandermonde matrix with increasing powers).

    x: (n,); degree: int >= 0.  Returns X of shape (n, degree + 1) with
    X[i, j] = x[i] ** j, so column 0 is all ones (the bias column).
    """
    raise NotImplementedError("TODO: 实现多项式特征 / implement the polynomial feature matrix")


def fit_ridge(X: np.ndarray, y: np.ndarray, lam: float = 0.0) -> np.ndarray:
    """Ridge regression on a design matrix whose column 0 is the bias.

    X: (n, p), y: (n,), lam >= 0.  Returns w of shape (p,) minimising

        ||X w - y||^2 + lam * ||w[1:]||^2

    The bias w[0] is NOT penalised.  The minimiser solves (X^T X + lam D) w = X^T y with
    D = diag(0, 1, ..., 1).  With lam = 0 this is ordinary least squares.

    Hint: np.linalg.solve on the normal equations works.  More stable: the same problem is
    ordinary least squares on the augmented matrix [X; sqrt(lam) * D'] with targets
    [y; 0] (D' = rows 1..p-1 of the identity), solved by np.linalg.lstsq, which avoids
    squaring the condition number of X.
    """
    raise NotImplementedError(
        "TODO: 实现最小二乘与岭回归 / implement least squares and ridge regression"
    )


def fit_poly(x: np.ndarray, y: np.ndarray, degree: int, lam: float = 0.0) -> np.ndarray:
    """Fit a polynomial of the given degree (ridge strength lam) to (x, y).

    x, y: (n,).  Returns the coefficient vector w of shape (degree + 1,).
    """
    raise NotImplementedError("TODO: 用 poly_features 和 fit_ridge 拟合多项式 / fit a polynomial")


def predict(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate the polynomial with coefficients ``model`` (= w, shape (p,)) at x (n,).

    The degree is len(w) - 1.  Returns (n,).
    """
    raise NotImplementedError("TODO: 实现 predict / implement predict")


def validation_error(
    x: np.ndarray, y: np.ndarray, degree: int, lam: float = 0.0, k: int = 5
) -> float:
    """k-fold cross-validation error of fit_poly(degree, lam).

    Fold i (i = 0, ..., k-1) holds the points with index j such that j % k == i (no
    shuffling).  For each fold: fit on all other points, compute the mean squared error on
    the fold.  Returns the plain average of the k fold errors (every fold weighs the same).
    """
    raise NotImplementedError("TODO: 实现 k 折交叉验证误差 / implement the k-fold validation error")


def select_model(
    x: np.ndarray,
    y: np.ndarray,
    degrees=DEFAULT_DEGREES,
    lams=DEFAULT_LAMS,
    k: int = 5,
) -> tuple[int, float, float]:
    """Choose (degree, lam) with the smallest validation_error(x, y, degree, lam, k).

    Candidates are tried with degrees as the outer loop and lams as the inner loop, both in
    the given order; on a tie the first candidate wins (use a strict < comparison).
    Returns (best_degree, best_lam, best_error) as (int, float, float), where best_error is
    the validation error of the chosen candidate.
    """
    raise NotImplementedError("TODO: 实现模型选择 / implement the model selection")


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit a polynomial to (x, y), choosing degree and ridge strength by itself.

    Selects (degree, lam) from DEFAULT_DEGREES x DEFAULT_LAMS with 5-fold cross-validation
    (select_model), then refits on all the data.  Returns w, usable with predict(w, x).
    """
    raise NotImplementedError(
        "TODO: 自动选择阶数与正则化强度并拟合 / choose degree and lam, then fit"
    )
