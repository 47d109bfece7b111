"""Check kind ``function``: call a student function on generated inputs and compare
its outputs with the reference solution's on the same inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.grading.said import Said, as_said, say
from autograder.specs.schema import FunctionCheck
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, ReferenceFailed, Step
from worker.checks.common.hints import with_hint
from worker.checks.compare import compare_outputs
from worker.checks.generators import draw_arg, draw_dims


def plan(check: FunctionCheck, rng: np.random.Generator) -> CheckPlan:
    calls = []
    for _ in range(check.cases):
        dims = draw_dims(check.dims, rng)
        args = [draw_arg(a, dims, rng) for a in check.args]
        kwargs = {k: draw_arg(a, dims, rng) for k, a in check.kwargs.items()}
        calls.append(Call(check.module, [Step(check.function, args, kwargs, output=True)]))
    return CheckPlan(calls)


def describe_inputs(call: Call) -> Said:
    """The call as Python would read it, each array by its dtype and shape."""
    step = call.steps[0]
    parts = [_describe(v) for v in step.args]
    parts += [k + "=" + _describe(v) for k, v in step.kwargs.items()]
    return step.function + "(" + Said(", ", ", ").join(parts) + ")"


def _describe(value: Any) -> Said:
    if isinstance(value, np.ndarray):
        return say("function.array_argument", dtype=str(value.dtype), shape=tuple(value.shape))
    text = repr(value)
    return as_said(text if len(text) <= 40 else text[:37] + "...")


def score(
    check: FunctionCheck, plan_: CheckPlan, student: list[CallResult], reference: list[CallResult]
) -> Outcome:
    passed = 0
    first_failure: dict[str, Any] | None = None
    for case, (call, got, want) in enumerate(zip(plan_.calls, student, reference, strict=True)):
        if want.status != "ok":
            raise ReferenceFailed(
                f"{check.id} case {case + 1}: {want.error or want.status}"  # not a message: staff's
            )
        if got.status != "ok":
            problem: Said | str = got.error or say("call.no_result")
        else:
            cmp = compare_outputs(
                got.outputs,
                want.outputs,
                check.rtol,
                check.atol,
                check.check_dtype,
                check.outputs,
            )
            if cmp.ok:
                passed += 1
                continue
            problem = cmp.message
        if first_failure is None:
            first_failure = {"case": case + 1, "call": describe_inputs(call), "problem": problem}
            said_problem = problem
    cases = len(plan_.calls)
    if check.scoring == "all_or_nothing":
        earned = check.points if passed == cases else 0.0
    else:
        earned = check.points * passed / cases
    details: dict[str, Any] = {"cases": cases, "passed": passed}
    if first_failure is None:
        return Outcome(earned, check.points, say("function.all_match", cases=cases), details)
    details["first_failure"] = first_failure | {
        "call": str(first_failure["call"]),
        "problem": str(said_problem),
    }
    message = say(
        "function.some_match",
        passed=passed,
        cases=cases,
        case=first_failure["case"],
        call=first_failure["call"],
        problem=said_problem,
    )
    return Outcome(earned, check.points, with_hint(message, check), details)
