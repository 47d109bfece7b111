"""HW1-2 one-dimensional linear regression (作业 1-2：一元线性回归) -- starter code.

The model is  y_hat = w * x + b  with two scalar parameters w (slope) and b (intercept).
A fitted model is the tuple (w, b) of two Python floats; ``predict(model, x)`` uses it.
模型为 y_hat = w * x + b，拟合得到的模型是二元组 (w, b)，predict(model, x) 用它做预测。

Replace each ``raise NotImplementedError`` with your code (numpy only; keep the names and
signatures).  请把每个 ``raise NotImplementedError`` 替换为你的代码（只能使用 numpy，
不要修改函数名和参数）。提交本文件 linear_regression.py。
"""

from __future__ import annotations

import numpy as np


def predict(model: tuple[float, float], x: np.ndarray) -> np.ndarray:
    """Predictions of the line ``model = (w, b)`` at the points x.

    model: a pair (w, b) (tuple or list).  x: (n,).  Returns (n,) = w * x + b.
    """
    raise NotImplementedError("TODO: 实现 predict / implement predict")


def fit_closed_form(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line through the points (x[i], y[i]), in closed form.

    x, y: (n,) with n >= 2 and x not constant.  Returns (w, b) minimising
    sum_i (w * x[i] + b - y[i])**2:

        w = sum((x - mean(x)) * (y - mean(y))) / sum((x - mean(x))**2)
        b = mean(y) - w * mean(x)

    (Centering first is algebraically the same as solving the 2x2 normal equations
    and is numerically better when x is far from 0.)
    """
    raise NotImplementedError(
        "TODO: 实现闭式最小二乘解 / implement the closed-form least-squares fit"
    )


def mse(y_pred: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error: mean over i of (y_pred[i] - y[i])**2.  y_pred, y: (n,)."""
    raise NotImplementedError("TODO: 实现均方误差 / implement the mean squared error")


def mse_gradients(x: np.ndarray, y: np.ndarray, w: float, b: float) -> tuple[float, float]:
    """Gradients of L(w, b) = mean((w * x + b - y)**2) with respect to w and b.

    x, y: (n,); w, b: floats.  Returns (dL/dw, dL/db):

        dL/dw = 2/n * sum((w * x + b - y) * x)
        dL/db = 2/n * sum(w * x + b - y)
    """
    raise NotImplementedError(
        "TODO: 推导并实现 MSE 对 w 和 b 的梯度 / derive and implement dL/dw and dL/db"
    )


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
    raise NotImplementedError("TODO: 实现梯度下降 / implement full-batch gradient descent")
