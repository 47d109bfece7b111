"""HW1-3 polynomial regression with model selection: reference solution.

A model is the coefficient vector w of shape (degree + 1,): the polynomial
w[0] + w[1] x + ... + w[degree] x**degree.  ``predict(w, x)`` evaluates it.
Only numpy is used; everything is deterministic.
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
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return x[:, None] ** np.arange(degree + 1)[None, :]


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
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    p = X.shape[1]
    if lam > 0 and p > 1:
        penalty = np.sqrt(lam) * np.eye(p)[1:]
        X = np.vstack([X, penalty])
        y = np.concatenate([y, np.zeros(p - 1)])
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    return w


def fit_poly(x: np.ndarray, y: np.ndarray, degree: int, lam: float = 0.0) -> np.ndarray:
    """Fit a polynomial of the given degree (ridge strength lam) to (x, y).

    x, y: (n,).  Returns the coefficient vector w of shape (degree + 1,).
    """
    return fit_ridge(poly_features(x, degree), y, lam)


def predict(model: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate the polynomial with coefficients ``model`` (= w, shape (p,)) at x (n,).

    The degree is len(w) - 1.  Returns (n,).
    """
    w = np.asarray(model, dtype=np.float64).reshape(-1)
    return poly_features(x, w.shape[0] - 1) @ w


def validation_error(
    x: np.ndarray, y: np.ndarray, degree: int, lam: float = 0.0, k: int = 5
) -> float:
    """k-fold cross-validation error of fit_poly(degree, lam).

    Fold i (i = 0, ..., k-1) holds the points with index j such that j % k == i (no
    shuffling).  For each fold: fit on all other points, compute the mean squared error on
    the fold.  Returns the plain average of the k fold errors (every fold weighs the same).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    fold_of = np.arange(x.shape[0]) % k
    errors = []
    for i in range(k):
        held = fold_of == i
        w = fit_poly(x[~held], y[~held], degree, lam)
        r = predict(w, x[held]) - y[held]
        errors.append(np.mean(r * r))
    return float(np.mean(errors))


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
    best = None
    best_err = np.inf
    for d in degrees:
        for lam in lams:
            err = validation_error(x, y, int(d), float(lam), k)
            if err < best_err:
                best_err, best = err, (int(d), float(lam))
    if best is None:
        raise ValueError("no candidate gave a finite validation error")
    return best[0], best[1], float(best_err)


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fit a polynomial to (x, y), choosing degree and ridge strength by itself.

    Selects (degree, lam) from DEFAULT_DEGREES x DEFAULT_LAMS with 5-fold cross-validation
    (select_model), then refits on all the data.  Returns w, usable with predict(w, x).
    """
    degree, lam, _ = select_model(x, y, DEFAULT_DEGREES, DEFAULT_LAMS, k=5)
    return fit_poly(x, y, degree, lam)
