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

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import SEP, Said, say
from autograder.specs.schema import GradientCheck
from worker.artifacts import MalformedArtifact, parse_json
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, ReferenceFailed, Step
from worker.checks.common.constraints import forbidden_imports
from worker.checks.common.hints import with_hint
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
COMMA = Said(", ", "、")


@dataclass(frozen=True)
class Quantity:
    key: str  # "out", "dx" or a parameter name
    method: str  # "Linear.backward"
    part: Said | str  # "dW", or "output" in words

    @property
    def label(self) -> Said:
        """The label, "Linear.backward: dW", in each language (the details use its English)."""
        return say("gradient.quantity", method=self.method, part=self.part)


def quantities(check: GradientCheck) -> list[Quantity]:
    """What is compared, in the order both boxes write it."""
    style, name = STYLES[check.oracle], check.layer
    forward, backward = f"{name}.forward", f"{name}.backward"  # not a message: method names
    if style == "layer":
        found = [Quantity("out", forward, say("gradient.output")), Quantity("dx", backward, "dx")]
        grad_of = backward
    elif style == "loss":
        found = [Quantity("out", forward, say("gradient.loss")), Quantity("dx", backward, "dx")]
        grad_of = backward
    else:
        grad_of = f"{name}.loss"  # not a message: a method's name
        found = [Quantity("out", grad_of, say("gradient.loss"))]
    found += [Quantity(p, grad_of, f"d{p}") for p in check.params]
    return found


# ------------------------------------------------------------------------------ plan


def _out_shape(oracle: str, x: np.ndarray, params: dict[str, np.ndarray]) -> tuple[int, ...]:
    """The shape of a plain layer's output (that of dout)."""
    if oracle == "linear":
        return (x.shape[0], params["W"].shape[1])
    return x.shape  # relu, sigmoid, tanh: element-wise


def _kinks(oracle: str, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    """Values at which the oracle is not differentiable (their distance from 0)."""
    if oracle == "two_layer_net":
        kinks: np.ndarray = (x @ params["W1"] + params["b1"]).ravel()
        return kinks
    return np.zeros(0)


def _case(
    check: GradientCheck, rng: np.random.Generator, dims: dict[str, int] | None = None
) -> dict[str, Any]:
    """One case; with ``dims`` given, the timed case (its own generators where it has any)."""
    timed = check.timed_case if dims is not None else None
    dims = draw_dims(check.dims, rng) if dims is None else dict(dims)
    init = {k: _size(v, dims) if isinstance(v, str) else v for k, v in check.init.items()}
    gen = timed.input if timed is not None and timed.input is not None else check.input
    x = draw_array(gen, dims, rng).astype(np.float64)
    if check.oracle == "relu":
        near = np.abs(x) < KINK_MARGIN
        x = np.where(near, np.where(x < 0, -2 * KINK_MARGIN, 2 * KINK_MARGIN), x)
    gens = {**check.params, **(timed.params if timed is not None else {})}
    params = {k: draw_array(gens[k], dims, rng).astype(np.float64) for k in check.params}
    case: dict[str, Any] = {"dims": dims, "init": init, "x": x, "params": params}
    if check.labels is not None:
        shape = tuple(_size(d, dims) for d in check.labels.shape)
        classes = _size(check.labels.classes, dims)
        case["y"] = rng.integers(0, classes, size=shape).astype(np.int64)
    if STYLES[check.oracle] == "layer":
        case["dout"] = rng.normal(size=_out_shape(check.oracle, x, params))
    return case


def _size(dim: Any, dims: dict[str, int]) -> int:
    if isinstance(dim, int):
        return dim
    if isinstance(dim, str):
        if dim not in dims:
            raise KeyError(f"dimension {dim!r} is not among the check's dims")  # not a message
        return dims[dim]
    raise ValueError("expected a size or a dimension name, not a range")


def plan(check: GradientCheck, rng: np.random.Generator) -> CheckPlan:
    calls = [_call(check, _drawn(check, rng)) for _ in range(check.cases)]
    if check.timed_case is not None:
        case = _drawn(check, rng, dict(check.timed_case.dims))
        along = {"kink_units": _kink_units(check, case)}
        calls.append(_call(check, case, along, check.timed_case.wall_seconds))
    return CheckPlan(calls)


def _drawn(
    check: GradientCheck, rng: np.random.Generator, dims: dict[str, int] | None = None
) -> dict[str, Any]:
    """A case away from the ReLU kink (a timed case: only where the oracle differentiates
    numerically, see _kink_units), with active and inactive hidden units both common: a
    network whose hidden layer is all dead (or all alive) would hide a wrong mask."""
    for _attempt in range(MAX_REDRAWS):
        case = _case(check, rng, dims)
        kinks = _kinks(check.oracle, case["x"], case["params"])
        if not kinks.size:
            return case
        active = float((kinks > 0).mean())
        away = dims is not None or np.abs(kinks).min() >= KINK_MARGIN
        if away and 0.25 <= active <= 0.75:
            return case
    raise ValueError(
        f"{check.id}: could not draw inputs away "  # not a message: a spec error, for staff
        "from the ReLU kink with both active and inactive hidden units; use smaller dims"
    )


def _kink_units(check: GradientCheck, case: dict[str, Any]) -> list[int]:
    """A network's hidden units with a pre-activation near the ReLU kink in some row: the
    oracle's numerical derivative of a timed case leaves their W1 and b1 alone."""
    if check.oracle != "two_layer_net":
        return []
    pre = case["x"] @ case["params"]["W1"] + case["params"]["b1"]
    return [int(j) for j in np.flatnonzero(np.abs(pre).min(axis=0) < KINK_MARGIN)]


def _call(
    check: GradientCheck,
    case: dict[str, Any],
    fd_along_gradient: dict[str, Any] | None = None,
    wall_seconds: float | None = None,
) -> Call:
    config: dict[str, Any] = {
        "oracle": check.oracle,
        "style": STYLES[check.oracle],
        "init": case["init"],
        "params": list(check.params),
        "forbidden": list(check.forbidden_imports),
    }
    if fd_along_gradient is not None:
        config["fd_along_gradient"] = fd_along_gradient
    kwargs: dict[str, Any] = {"config": config, "x": case["x"]}
    for key in ("y", "dout"):
        if key in case:
            kwargs[key] = case[key]
    for name, value in case["params"].items():
        kwargs[f"p_{name}"] = value
    step = Step(check.layer, [], kwargs)
    return Call(check.module, [step], protocol=PROTOCOL, wall_seconds=wall_seconds)


def describe_case(check: GradientCheck, call: Call) -> Said:
    kw = call.steps[0].kwargs
    init = ", ".join(f"{k}={v!r}" for k, v in kw["config"]["init"].items())
    parts = [say("gradient.shape_of", name="x", shape=str(tuple(kw["x"].shape)))]
    if "y" in kw:
        parts.append(say("gradient.shape_of", name="y", shape=str(tuple(kw["y"].shape))))
    return say("gradient.case", layer=check.layer, init=init, inputs=COMMA.join(parts))


# ------------------------------------------------------------------------------ static


def static(check: GradientCheck, code_dir: Path) -> Said | None:
    """An autograd (or other forbidden) import in the submitted sources, read as text."""
    violation = forbidden_imports(code_dir, list(check.forbidden_imports))
    if violation is None:
        return None
    return say("gradient.forbidden_import", violation=violation)


# ------------------------------------------------------------------------------ score

Verdict = tuple[bool, float | None, Said | str]  # (passed, relative error or None, what is wrong)


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


def compare_quantity(got: Any, want: np.ndarray, tol: float) -> Verdict:
    """(passed, relative error or None, what is wrong in words)."""
    if not isinstance(got, np.ndarray):
        return False, None, say("gradient.nothing_returned")
    if got.dtype.kind != "f":
        if got.dtype.kind == "b":
            kind = say("gradient.booleans")
        elif got.dtype.kind in "iu":
            kind = say("gradient.integers")
        else:
            kind = say("gradient.not_numbers")
        return False, None, say("gradient.dtype", dtype=str(got.dtype), kind=kind)
    if want.shape == () and got.size == 1:
        got = got.reshape(())
    if got.shape != want.shape:
        return False, None, say("compare.shape", got=_shape(got.shape), want=_shape(want.shape))
    bad = int((~np.isfinite(got)).sum())
    if bad:
        return False, None, say("compare.nonfinite", n=bad)
    err = relative_error(got, want)
    if err <= tol:
        return True, err, Said("", "")
    return False, err, say("gradient.relative_error", err=err, tol=tol)


def _notes(result: CallResult) -> dict[str, Said | str]:
    """Per-quantity notes the protocol left (untrusted, only shown to the student)."""
    if not result.error:
        return {}
    try:
        value = parse_json(str(result.error))
    except MalformedArtifact:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(k)[:50]: note_said(v) for k, v in value.items()}


def note_said(note: Any) -> Said | str:
    """One note in both languages where the protocol gave a reason it knows (its values
    are the student's, capped), else its text as it is. The note is untrusted: it can
    only choose among these."""
    if not isinstance(note, dict):
        return str(note)[:3000]
    text = str(note.get("text", ""))[:3000]
    raw = note.get("values")
    v = {k: str(x)[:3000] for k, x in raw.items()} if isinstance(raw, dict) else {}
    layer = v.get("layer", "")
    what: Said | None = None
    if v.get("method") in ("forward", "backward"):
        what = say("gradient.note_returned", layer=layer, method=v["method"])
    elif "grad" in v:
        what = say("gradient.note_grad", layer=layer, key=v["grad"])
    match note.get("reason"):
        case "dtype" if what is not None:
            return say("gradient.note_dtype", what=what, dtype=v.get("dtype", ""))
        case "type" if what is not None:
            return say("gradient.note_type", what=what, type=v.get("type", ""))
        case "raised":
            return say(
                "call.build_raised", call=v.get("call", ""), traceback=v.get("traceback", "")
            )
        case "not-computed":
            return say("gradient.note_not_computed", layer=layer)
        case "no-grad":
            return say("gradient.note_no_grad", layer=layer, key=v.get("key", ""))
    return text


def _kept(grad: np.ndarray, key: str, along: dict[str, Any]) -> np.ndarray:
    """The part of a gradient the oracle's derivative along it covers (W1's and b1's
    hidden units near the kink left out)."""
    units = along.get("kink_units") or []
    if key not in ("W1", "b1") or not units:
        return grad
    kept = grad.copy()
    kept[..., units] = 0.0
    return kept


def _reference(check: GradientCheck, case: int, want: CallResult, call: Call) -> float:
    """Check the grader's own answer; return the worst autograd/finite-difference gap. A
    timed case's oracle differentiates numerically only along each gradient it found: the
    derivative in the direction g/|g| must be |g|."""
    # A failing reference is the instructor's: said in English, to the staff.
    timed = bool(call.wall_seconds)
    where = check.id + (" timed case" if timed else f" case {case + 1}")  # not a message
    qs = quantities(check)
    n = len(qs)
    if want.status != "ok":
        failed = want.error or want.status
        raise ReferenceFailed(f"{where}: the oracle failed: {failed}")  # not a message
    if len(want.outputs) != 2 * n - 1:
        wrote = len(want.outputs)
        raise ReferenceFailed(f"{where}: the oracle wrote {wrote} arrays")  # not a message
    along = call.steps[0].kwargs["config"].get("fd_along_gradient")
    worst = 0.0
    for k in range(1, n):
        auto, fd = want.outputs[k], want.outputs[n - 1 + k]
        if along is not None and auto.dtype.kind == "f":
            auto = np.array([np.linalg.norm(_kept(auto, qs[k].key, along))])
        if auto.dtype.kind != "f" or auto.shape != fd.shape:
            raise ReferenceFailed(
                f"{where}: the oracle's arrays disagree in shape"  # not a message
            )
        gap = relative_error(auto, fd)
        if not gap <= AGREEMENT:
            raise ReferenceFailed(
                f"{where}: autograd and finite differences disagree "  # not a message
                f"(relative error {gap:.1e})"
            )
        worst = max(worst, gap)
    return worst


def _judge(got: CallResult, want: CallResult, qs: list[Quantity], tol: float) -> list[Verdict]:
    """Each quantity of one case that ran: compared with the grader's."""
    notes = _notes(got)
    verdicts: list[Verdict] = []
    for k, q in enumerate(qs):
        value = got.outputs[k] if k < len(got.outputs) else None
        if value is None or (value.dtype == np.bool_ and value.size == 0):
            note = notes.get(q.key)  # the protocol's own words (untrusted), as they are
            verdicts.append(
                (False, None, say("gradient.nothing_returned") if note is None else note)
            )
        else:
            verdicts.append(compare_quantity(value, want.outputs[k], tol))
    return verdicts


def _timed(
    check: GradientCheck, call: Call, got: CallResult, want: CallResult
) -> tuple[dict[str, bool], list[Said], dict[str, Any]]:
    """The timed case: which quantities it lets earn points, what to say, the details."""
    qs = quantities(check)
    shown = say("gradient.large_case", case=describe_case(check, call), seconds=call.wall_seconds)
    details: dict[str, Any] = {"wall_seconds": call.wall_seconds, "case": str(shown)}
    if got.status != "ok":
        error: Said | str = got.error or say("gradient.no_result")
        gate = {q.key: False for q in qs}
        lines = [say("gradient.large_case_failed", case=shown, error=error)]
        details["error"] = str(error)
    else:
        verdicts = _judge(got, want, qs, check.tolerance)
        gate = {q.key: v[0] for q, v in zip(qs, verdicts, strict=True)}
        wrong = [
            say("gradient.labelled", label=q.label, problem=v[2])
            for q, v in zip(qs, verdicts, strict=True)
            if not v[0]
        ]
        lines = (
            [say("gradient.large_case_wrong", case=shown, wrong=SEP.join(wrong))] if wrong else []
        )
    details["passed"] = {str(q.label): gate[q.key] for q in qs}
    if not all(gate.values()):
        lines.append(say("gradient.timed_note"))
    return gate, lines, details


def score(
    check: GradientCheck, plan_: CheckPlan, student: list[CallResult], reference: list[CallResult]
) -> Outcome:
    qs = quantities(check)
    n = len(qs)
    timed = [k for k, call in enumerate(plan_.calls) if call.wall_seconds is not None]
    cases = len(plan_.calls) - len(timed)
    passed = {q.key: 0 for q in qs}
    worst: dict[str, float | None] = {q.key: None for q in qs}
    problem: dict[str, Said] = {}
    agreement = 0.0
    call_error: tuple[int, Said | str] | None = None
    for case, (got, want) in enumerate(zip(student, reference, strict=True)):
        agreement = max(agreement, _reference(check, case, want, plan_.calls[case]))
        if case in timed:
            continue
        if got.status != "ok":
            if call_error is None:
                call_error = (case, got.error or say("gradient.no_result"))
            continue
        for q, (ok, err, why) in zip(qs, _judge(got, want, qs, check.tolerance), strict=True):
            if err is not None and math.isfinite(err):
                worst[q.key] = max(worst[q.key] or 0.0, err)
            if ok:
                passed[q.key] += 1
            elif q.key not in problem:
                problem[q.key] = say(
                    "gradient.in_case",
                    problem=why,
                    case=case + 1,
                    inputs=describe_case(check, plan_.calls[case]),
                )
    gate = {q.key: True for q in qs}
    timed_lines: list[Said] = []
    details: dict[str, Any] = {
        "cases": cases,
        "tolerance": check.tolerance,
        "reference_agreement": agreement,
    }
    for k in timed:
        gate, timed_lines, details["timed_case"] = _timed(
            check, plan_.calls[k], student[k], reference[k]
        )
    total = sum(passed.values())
    earned = check.points * sum(passed[q.key] for q in qs if gate[q.key]) / (cases * n)
    details["quantities"] = {
        str(q.label): {
            "passed": passed[q.key],
            "worst_relative_error": worst[q.key],
            "problem": str(problem.get(q.key, "")),
        }
        for q in qs
    }
    lines = [say("gradient.results", total=total, all=cases * n, cases=cases, n=n)]
    if timed:
        lines[0] += say("gradient.large_case_right", right=sum(gate.values()), n=n)
    for q in qs:
        if q.key in problem:
            failed = cases - passed[q.key]
            if worst[q.key] is not None and problem[q.key].startswith("relative error"):
                lines.append(
                    say(
                        "gradient.worst_error",
                        label=q.label,
                        err=worst[q.key],
                        tol=check.tolerance,
                        failed=failed,
                        cases=cases,
                    )
                )
            else:
                lines.append(say("gradient.labelled", label=q.label, problem=problem[q.key]))
    lines += timed_lines
    good = [q.part for q in qs if passed[q.key] == cases and gate[q.key]]
    if good:
        lines.append(say("gradient.correct", parts=COMMA.join(good)))
    if call_error is not None:
        case, error = call_error
        lines.append(
            say(
                "gradient.case_failed",
                case=case + 1,
                inputs=describe_case(check, plan_.calls[case]),
                error=error,
            )
        )
        details["first_error"] = {"case": case + 1, "error": str(error)}
    message = Said("\n", "\n").join(lines)
    if earned < check.points:
        message = with_hint(message, check)
    return Outcome(earned, check.points, message, details)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
