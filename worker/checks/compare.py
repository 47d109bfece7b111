"""Comparing a student's arrays with the reference's, outside the sandbox.

Thresholds are checked positively (``err <= tol``) so NaN and inf never pass, and the
student's value is checked for type, shape and finiteness before any arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder.grading.said import Said, say

KIND_NAMES = {"b": "bool", "i": "int", "u": "int", "f": "float"}


@dataclass(frozen=True)
class Comparison:
    ok: bool
    message: Said
    max_abs_error: float | None = None


def compare_outputs(
    got: list[np.ndarray],
    want: list[np.ndarray],
    rtol: float,
    atol: float,
    check_dtype: bool,
    names: list[str] | None = None,
) -> Comparison:
    """Each returned value against the reference's; ``names``: what the spec calls them
    (its ``outputs``), for the message, else "returned value k"."""
    if len(got) != len(want):
        return Comparison(False, say("compare.count", got=_count(len(got)), want=_count(len(want))))
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        if names and k < len(names):
            label = say("compare.named", name=names[k])
        else:
            label = say("compare.numbered", k=k + 1) if len(want) > 1 else Said("", "")
        result = compare_array(g, w, rtol, atol, check_dtype)
        if not result.ok:
            return Comparison(False, label + result.message, result.max_abs_error)
        worst = max(worst, result.max_abs_error or 0.0)
    return Comparison(True, say("compare.matches"), worst)


def compare_array(
    got: np.ndarray, want: np.ndarray, rtol: float, atol: float, check_dtype: bool
) -> Comparison:
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
        return Comparison(False, say("compare.not_numeric"))
    if got.shape != want.shape:
        return Comparison(
            False, say("compare.shape", got=_shape(got.shape), want=_shape(want.shape))
        )
    if check_dtype and KIND_NAMES[got.dtype.kind] != KIND_NAMES[want.dtype.kind]:
        return Comparison(
            False,
            say(
                "compare.dtype",
                dtype=str(got.dtype),
                got=KIND_NAMES[got.dtype.kind],
                want=KIND_NAMES[want.dtype.kind],
            ),
        )
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    nonfinite = ~np.isfinite(g) & np.isfinite(w)
    if nonfinite.any():
        return Comparison(False, say("compare.nonfinite", n=int(nonfinite.sum())))
    same_special = ~np.isfinite(w) & ((g == w) | (np.isnan(g) & np.isnan(w)))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(g - w)
        tol = atol + rtol * np.abs(w)
        good = (err <= tol) | same_special
    finite_err = np.where(np.isfinite(err), err, 0.0)
    max_err = float(finite_err.max()) if finite_err.size else 0.0
    if not bool(good.all()):
        if good.ndim == 0 or good.size == 1:  # one number: say both
            return Comparison(
                False,
                say(
                    "compare.scalar",
                    got=_number(g.reshape(-1)[0]),
                    want=_number(w.reshape(-1)[0]),
                    atol=atol,
                    rtol=rtol,
                ),
                max_err,
            )
        bad = int((~good).sum())
        first = tuple(int(i) for i in np.argwhere(~good)[0])
        where = first[0] if len(first) == 1 else first
        return Comparison(
            False,
            say(
                "compare.values",
                bad=bad,
                size=good.size,
                max_err=max_err,
                atol=atol,
                rtol=rtol,
                where=where,
                got=_number(g[first]),
                want=_number(w[first]),
            ),
            max_err,
        )
    return Comparison(True, say("compare.ok"), max_err)


def _number(value: float) -> str:
    return f"{float(value):.6g}"


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _count(n: int) -> Said:
    return say("compare.one_value" if n == 1 else "compare.n_values", n=n)
