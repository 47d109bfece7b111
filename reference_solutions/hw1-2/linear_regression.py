"""HW1-2 one-dimensional linear regression: reference solution.

The model is  y_hat = w * x + b  with two scalar parameters w (slope) and b (intercept).
A fitted model is the tuple (w, b) of two Python floats; ``predict(model, x)`` uses it.
Only numpy is used.
"""

from __future__ import annotations

import numpy as np


def predict(model: tuple[float, float], x: np.ndarray) -> np.ndarray:
    """Predictions of the line ``model = (w, b)`` at the points x.

    model: a pair (w, b) (tuple or list).  x: (n,).  Returns (n,) = w * x + b.
    """
    w, b = model
    return w * np.asarray(x, dtype=np.float64) + b


def fit_closed_form(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line through the points (x[i], y[i]), in closed form.

    x, y: (n,) with n >= 2 and x not constant.  Returns (w, b) minimising
    sum_i (w * x[i] + b - y[i])**2:

        w = sum((x - mean(x)) * (y - mean(y))) / sum((x - mean(x))**2)
        b = mean(y) - w * mean(x)

    (Centering first is algebraically the same as solving the 2x2 normal equations
    and is numerically better when x is far from 0.)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xm, ym = x.mean(), y.mean()
    dx = x - xm
    w = float(np.dot(dx, y - ym) / np.dot(dx, dx))
    b = float(ym - w * xm)
    return w, b


def mse(y_pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error: mean over i of (y_pred[i] - y[i])**2.  y_pred, y: (n,)."""
    r = np.asarray(y_pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return float(np.mean(r * r))


def mse_gradients(x: np.ndarray, y: np.ndarray, w: float, b: float) -> tuple[float, float]:
    """Gradients of L(w, b) = mean((w * x + b - y)**2) with respect to w and b.

    x, y: (n,); w, b: floats.  Returns (dL/dw, dL/db):

        dL/dw = 2/n * sum((w * x + b - y) * x)
        dL/db = 2/n * sum(w * x + b - y)
    """
    x = np.asarray(x, dtype=np.float64)
    r = w * x + b - np.asarray(y, dtype=np.float64)
    n = x.shape[0]
    return float(2.0 / n * np.dot(r, x)), float(2.0 / n * np.sum(r))


def fit_gd(
    x: np.ndarray, y: np.ndarray, lr: float = 0.1, epochs: int = 1000
) -> tuple[float, float]:
    """Fit (w, b) by full-batch gradient descent on the MSE.

    Start from w = 0, b = 0 and do exactly ``epochs`` steps.  In every step compute BOTH
    gradients at the current (w, b) with mse_gradients, then update both at once:

        w <- w - lr * dL/dw
        b <- b - lr * dL/db

    Returns (w, b) after the last step, as floats.
    """
    w, b = 0.0, 0.0
    for _ in range(int(epochs)):
        gw, gb = mse_gradients(x, y, w, b)
        w, b = w - lr * gw, b - lr * gb
    return float(w), float(b)
