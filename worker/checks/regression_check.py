"""Check kind ``regression``: fit on a generated training split inside the sandbox,
predict a held-out split, score the held-out error outside with a partial-credit curve.
The held-out targets never enter the sandbox."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import RegressionCheck, RegressionData
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, Ref, ReferenceFailed, Step
from worker.checks.common.credit import credit_fraction, thresholds
from worker.checks.common.hints import with_hint
from worker.checks.generators import draw_arg


@dataclass
class Dataset:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_dataset(data: RegressionData, rng: np.random.Generator) -> Dataset:
    lo, hi = data.x_range
    x_train = rng.uniform(lo, hi, data.n_train)
    x_test = rng.uniform(lo, hi, data.n_test)
    if data.generator == "polynomial":
        coefs = rng.uniform(*data.coef_range, size=data.degree + 1)

        def f(x: np.ndarray) -> np.ndarray:
            return np.polynomial.polynomial.polyval(x, coefs)
    else:
        amp = rng.uniform(*data.coef_range)
        freq = rng.uniform(1.0, 3.0) * np.pi
        phase = rng.uniform(0, 2 * np.pi)

        def f(x: np.ndarray) -> np.ndarray:
            return amp * np.sin(freq * x + phase)

    y_train = f(x_train) + rng.normal(0, data.noise_std, data.n_train)
    y_test = f(x_test) + rng.normal(0, data.noise_std, data.n_test)
    return Dataset(x_train, y_train, x_test, y_test)


def plan(check: RegressionCheck, rng: np.random.Generator) -> CheckPlan:
    ds = make_dataset(check.data, rng)
    fit_kwargs = {k: draw_arg(a, {}, rng) for k, a in check.fit_kwargs.items()}
    call = Call(
        check.module,
        [
            Step(check.fit, [ds.x_train, ds.y_train], fit_kwargs, keep="model"),
            Step(check.predict, [Ref("model"), ds.x_test], output=True),
        ],
    )
    return CheckPlan([call], hidden=ds.y_test)


def prediction_error(outputs: list[np.ndarray], y_test: np.ndarray, metric: str) -> float | Said:
    """The metric, or a message saying why the prediction cannot be scored."""
    if len(outputs) != 1:
        return say("regression.count", n=len(outputs))
    pred = outputs[0]
    n = y_test.shape[0]
    if pred.shape not in ((n,), (n, 1)):
        return say("regression.shape", shape=str(tuple(pred.shape)), n=n)
    pred = pred.reshape(n).astype(np.float64)
    if not np.isfinite(pred).all():
        return say("regression.nonfinite")
    diff = pred - y_test
    return float(np.mean(diff**2) if metric == "mse" else np.mean(np.abs(diff)))


def score(
    check: RegressionCheck,
    plan_: CheckPlan,
    student: list[CallResult],
    reference: list[CallResult],
) -> Outcome:
    y_test = plan_.hidden
    ref = reference[0]
    if ref.status != "ok":
        raise ReferenceFailed(f"{check.id}: {ref.error or ref.status}")
    ref_err = prediction_error(ref.outputs, y_test, check.metric)
    if isinstance(ref_err, Said):
        raise ReferenceFailed(f"{check.id}: reference {ref_err}")  # not a message: for staff
    full, zero = thresholds(check.credit, ref_err)
    metric = check.metric.upper()
    details = {
        "metric": check.metric,
        "reference_error": ref_err,
        "full_credit_at": full,
        "zero_credit_at": zero,
    }
    got = student[0]
    if got.status != "ok":
        problem: Said | str = got.error or say("call.no_result")
        return Outcome(0.0, check.points, with_hint(problem, check), details)
    err = prediction_error(got.outputs, y_test, check.metric)
    if isinstance(err, Said):
        return Outcome(0.0, check.points, with_hint(err, check), details)
    fraction = credit_fraction(err, full, zero, check.credit.scale)
    details["error"] = err
    message = say("regression.error", metric=metric, err=err, ref=ref_err, full=full, zero=zero)
    if fraction < 1:
        message = with_hint(message, check)
    return Outcome(check.points * fraction, check.points, message, details)
