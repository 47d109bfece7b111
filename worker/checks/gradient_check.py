"""Check kind ``gradient``: a hand-written layer's forward and backward pass, checked
against the grader's own gradients.

Plan (here, from the job's secret seed): per case the dimensions, the constructor's
keyword arguments, the input ``x``, labels ``y`` for the loss oracles, every parameter and,
for plain layers, an upstream gradient ``dout``. One call per case runs the documented
interface through ``worker/runner/protocol_layer_gradient.py``:

- the student's box builds ``layer = Layer(**init)``, overwrites ``layer.params[name]``,
  calls ``forward``/``backward`` (or ``loss`` for a network) and writes the forward
  output, ``dx`` and ``layer.grads[name]`` for every parameter;
- the reference box (``--oracle``) computes the same quantities with torch in float64,
  once by autograd and once by central finite differences, and writes both.

Score (here, pure): autograd and finite differences must agree (else the grader itself is
wrong: ReferenceFailed); each student quantity is compared with autograd by the relative
error ``||a - b|| / max(||a|| + ||b||, tiny)``, checked positively (NaN never passes);
credit is the share of (case, quantity) pairs that pass. Using an autograd library is
found statically here (``static``) and refused at runtime inside the box.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.specs.schema import GradientCheck
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, ReferenceFailed, Step
from worker.checks.classifier_check import forbidden_imports
from worker.checks.generators import draw_array, draw_dims

PROTOCOL = "layer_gradient"
# How the interface is called, by oracle: "layer": forward(x) -> out, backward(dout) -> dx;
# "loss": forward(x, y) -> scalar loss, backward() -> dx; "net": loss(x, y) -> scalar
# loss with every parameter's gradient in grads (no dx).
STYLES = {
    "linear": "layer",
    "relu": "layer",
    "sigmoid": "layer",
    "tanh": "layer",
    "softmax_cross_entropy": "loss",
    "two_layer_net": "net",
}
# Autograd and central finite differences (float64) must agree this well, else the
# grader's own computation is in doubt and the job is not graded.
AGREEMENT = 1e-6
# Inputs of ReLU this close to the kink are moved away from it (or the case is drawn
# again): finite differences across a kink would disagree with autograd.
KINK_MARGIN = 1e-3
MAX_REDRAWS = 200
TINY = np.finfo(np.float64).tiny


@dataclass(frozen=True)
class Quantity:
    key: str  # "out", "dx" or a parameter name
    label: str  # "Linear.backward: dW"


def quantities(check: GradientCheck) -> list[Quantity]:
    """What is compared, in the order both boxes write it."""
    style, name = STYLES[check.oracle], check.layer
    if style == "layer":
        found = [Quantity("out", f"{name}.forward: output"), Quantity("dx", f"{name}.backward: dx")]
        grad_of = f"{name}.backward"
    elif style == "loss":
        found = [Quantity("out", f"{name}.forward: loss"), Quantity("dx", f"{name}.backward: dx")]
        grad_of = f"{name}.backward"
    else:
        found = [Quantity("out", f"{name}.loss: loss")]
        grad_of = f"{name}.loss"
    found += [Quantity(p, f"{grad_of}: d{p}") for p in check.params]
    return found


# ------------------------------------------------------------------------------ plan


def _forward(oracle: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """The forward pass in numpy (plan only: the shape of dout)."""
    if oracle == "linear":
        return x @ params["W"] + params["b"]
    if oracle == "relu":
        return np.maximum(x, 0.0)
    if oracle == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if oracle == "tanh":
        return np.tanh(x)
    return np.zeros(())  # the loss oracles return a scalar


def _kinks(oracle: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """Values at which the oracle is not differentiable (their distance from 0)."""
    if oracle == "two_layer_net":
        return (x @ params["W1"] + params["b1"]).ravel()
    return np.zeros(0)


def _case(check: GradientCheck, rng: np.random.Generator) -> dict[str, Any]:
    dims = draw_dims(check.dims, rng)
    init = {k: _size(v, dims) if isinstance(v, str) else v for k, v in check.init.items()}
    x = draw_array(check.input, dims, rng).astype(np.float64)
    if check.oracle == "relu":
        near = np.abs(x) < KINK_MARGIN
        x = np.where(near, np.where(x < 0, -2 * KINK_MARGIN, 2 * KINK_MARGIN), x)
    params = {k: draw_array(g, dims, rng).astype(np.float64) for k, g in check.params.items()}
    case: dict[str, Any] = {"dims": dims, "init": init, "x": x, "params": params}
    if check.labels is not None:
        shape = tuple(_size(d, dims) for d in check.labels.shape)
        classes = _size(check.labels.classes, dims)
        case["y"] = rng.integers(0, classes, size=shape).astype(np.int64)
    if STYLES[check.oracle] == "layer":
        case["dout"] = rng.normal(size=_forward(check.oracle, x, params).shape)
    return case


def _size(dim: Any, dims: dict[str, int]) -> int:
    if isinstance(dim, int):
        return dim
    if isinstance(dim, str):
        if dim not in dims:
            raise KeyError(f"dimension {dim!r} is not among the check's dims")
        return dims[dim]
    raise ValueError("expected a size or a dimension name, not a range")


def plan(check: GradientCheck, rng: np.random.Generator) -> CheckPlan:
    calls = []
    for _ in range(check.cases):
        for _attempt in range(MAX_REDRAWS):
            case = _case(check, rng)
            kinks = _kinks(check.oracle, case["x"], case["params"])
            if not kinks.size:
                break
            # Away from the kink, and with active and inactive units both common: a
            # network whose hidden layer is all dead (or all alive) would hide a wrong mask.
            active = float((kinks > 0).mean())
            if np.abs(kinks).min() >= KINK_MARGIN and 0.25 <= active <= 0.75:
                break
        else:
            raise ValueError(
                f"{check.id}: could not draw inputs away from the ReLU kink with both active "
                "and inactive hidden units; use smaller dims"
            )
        config = {
            "oracle": check.oracle,
            "style": STYLES[check.oracle],
            "init": case["init"],
            "params": list(check.params),
            "forbidden": list(check.forbidden_imports),
        }
        kwargs: dict[str, Any] = {"config": config, "x": case["x"]}
        for key in ("y", "dout"):
            if key in case:
                kwargs[key] = case[key]
        for name, value in case["params"].items():
            kwargs[f"p_{name}"] = value
        calls.append(Call(check.module, [Step(check.layer, [], kwargs)], protocol=PROTOCOL))
    return CheckPlan(calls)


def describe_case(check: GradientCheck, call: Call) -> str:
    kw = call.steps[0].kwargs
    init = ", ".join(f"{k}={v!r}" for k, v in kw["config"]["init"].items())
    parts = [f"x of shape {tuple(kw['x'].shape)}"]
    if "y" in kw:
        parts.append(f"y of shape {tuple(kw['y'].shape)}")
    return f"{check.layer}({init}) with " + ", ".join(parts)


# ------------------------------------------------------------------------------ static


def static(check: GradientCheck, code_dir: Path) -> str | None:
    """An autograd (or other forbidden) import in the submitted sources, read as text."""
    violation = forbidden_imports(code_dir, list(check.forbidden_imports))
    if violation is None:
        return None
    return (
        f"constraint forbidden_imports: {violation}. This check grades gradients written by "
        "hand in numpy; an autograd library computes them for you."
    )


# ------------------------------------------------------------------------------ score


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """||got - want|| / max(||got|| + ||want||, tiny); NaN when anything is not finite."""
    g = got.astype(np.float64).ravel()
    w = want.astype(np.float64).ravel()
    with np.errstate(all="ignore"):
        diff = float(np.linalg.norm(g - w))
        scale = float(np.linalg.norm(g)) + float(np.linalg.norm(w))
    if not (math.isfinite(diff) and math.isfinite(scale)):
        return math.nan
    return diff / max(scale, TINY)


def compare_quantity(got: Any, want: np.ndarray, tol: float) -> tuple[bool, float | None, str]:
    """(passed, relative error or None, what is wrong in words)."""
    if not isinstance(got, np.ndarray):
        return False, None, "nothing was returned"
    if got.dtype.kind != "f":
        kind = {"b": "booleans", "i": "integers", "u": "integers"}.get(
            got.dtype.kind, "not numbers"
        )
        return False, None, f"dtype {got.dtype} ({kind}), expected floating-point values"
    if want.shape == () and got.size == 1:
        got = got.reshape(())
    if got.shape != want.shape:
        return False, None, f"shape {_shape(got.shape)}, expected {_shape(want.shape)}"
    bad = int((~np.isfinite(got)).sum())
    if bad:
        return False, None, f"{bad} value(s) are NaN or infinite"
    err = relative_error(got, want)
    if err <= tol:
        return True, err, ""
    return False, err, f"relative error {err:.1e}, expected < {tol:.0e}"


def _notes(result: CallResult) -> dict[str, str]:
    """Per-quantity notes the protocol left (untrusted text, only shown to the student)."""
    if not result.error:
        return {}
    try:
        value = json.loads(result.error)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k)[:50]: str(v)[:3000] for k, v in value.items()}


def _reference(check: GradientCheck, case: int, want: CallResult, n: int) -> float:
    """Check the grader's own answer; return the worst autograd/finite-difference gap."""
    where = f"{check.id} case {case + 1}"
    if want.status != "ok":
        raise ReferenceFailed(f"{where}: the oracle failed: {want.error or want.status}")
    if len(want.outputs) != 2 * n - 1:
        raise ReferenceFailed(f"{where}: the oracle wrote {len(want.outputs)} arrays")
    worst = 0.0
    for k in range(1, n):
        auto, fd = want.outputs[k], want.outputs[n - 1 + k]
        if auto.dtype.kind != "f" or auto.shape != fd.shape:
            raise ReferenceFailed(f"{where}: the oracle's arrays disagree in shape")
        gap = relative_error(auto, fd)
        if not gap <= AGREEMENT:
            raise ReferenceFailed(
                f"{where}: autograd and finite differences disagree (relative error {gap:.1e})"
            )
        worst = max(worst, gap)
    return worst


def score(
    check: GradientCheck, plan_: CheckPlan, student: list[CallResult], reference: list[CallResult]
) -> Outcome:
    qs = quantities(check)
    n = len(qs)
    cases = len(plan_.calls)
    passed = {q.key: 0 for q in qs}
    worst: dict[str, float | None] = {q.key: None for q in qs}
    problem: dict[str, str] = {}
    agreement = 0.0
    call_error: tuple[int, str] | None = None
    for case, (got, want) in enumerate(zip(student, reference, strict=True)):
        agreement = max(agreement, _reference(check, case, want, n))
        if got.status != "ok":
            if call_error is None:
                call_error = (case, got.error or "no result: the program ended before this ran")
            continue
        notes = _notes(got)
        for k, q in enumerate(qs):
            value = got.outputs[k] if k < len(got.outputs) else None
            if value is None or (value.dtype == np.bool_ and value.size == 0):
                ok, err, why = False, None, notes.get(q.key, "nothing was returned")
            else:
                ok, err, why = compare_quantity(value, want.outputs[k], check.tolerance)
            if err is not None and math.isfinite(err):
                worst[q.key] = max(worst[q.key] or 0.0, err)
            if ok:
                passed[q.key] += 1
            elif q.key not in problem:
                problem[q.key] = (
                    f"{why} (case {case + 1}: {describe_case(check, plan_.calls[case])})"
                )
    total = sum(passed.values())
    earned = check.points * total / (cases * n)
    details: dict[str, Any] = {
        "cases": cases,
        "tolerance": check.tolerance,
        "reference_agreement": agreement,
        "quantities": {
            q.label: {
                "passed": passed[q.key],
                "worst_relative_error": worst[q.key],
                "problem": problem.get(q.key, ""),
            }
            for q in qs
        },
    }
    lines = [f"{total} of {cases * n} results match the grader's ({cases} cases x {n} quantities)"]
    for q in qs:
        if q.key in problem:
            failed = cases - passed[q.key]
            if worst[q.key] is not None and problem[q.key].startswith("relative error"):
                lines.append(
                    f"{q.label} relative error {worst[q.key]:.1e}, expected < "
                    f"{check.tolerance:.0e} (wrong in {failed} of {cases} cases)"
                )
            else:
                lines.append(f"{q.label}: {problem[q.key]}")
    good = [q.label.split(": ", 1)[1] for q in qs if passed[q.key] == cases]
    if good:
        lines.append("correct: " + ", ".join(good))
    if call_error is not None:
        case, error = call_error
        lines.append(
            f"case {case + 1} ({describe_case(check, plan_.calls[case])}) failed:\n{error}"
        )
        details["first_error"] = {"case": case + 1, "error": error}
    if total < cases * n and check.hint:
        lines.append(f"Hint: {check.hint}")
    return Outcome(earned, check.points, "\n".join(lines), details)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
