"""The in-sandbox runner: calls what the plan asks for and writes plain-data artifacts.

Runs INSIDE the sandbox with the sandbox's Python (stdlib + numpy only here). It has
no authority: the student's code runs in this same process and may replace any of it,
so everything it writes is only data that trusted code outside checks again.

Plan (``/job/in/plan.json``)::

    {"code_dir": "/job/src",
     "calls": [{"index": 0, "module": "numpy_basics",
                "steps": [{"function": "softmax",
                           "args": [{"npy": "c0_a0.npy"}, {"json": 3}, {"ref": "model"}],
                           "kwargs": {"axis": {"json": -1}},
                           "keep": "model",        # keep the value for later steps
                           "output": true}]}]}     # write the value to out/

A call may instead name a ``"protocol"`` (see run_protocol). ``--plan NAME`` runs another
plan file of ``/job/in`` (a timed call's own box: ``plan-timed-<index>.json``).

Artifacts in ``/job/rw/out``: ``c<index>_o<k>.npy`` for each output value, and one
line per call in ``results.jsonl``: {"index", "status": "ok"|"error", "error", "seconds"}; a
failed call adds "reason" and "values", from which the grader says it in each language.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T0
from runner_common import announce_start, append_json_line, student_traceback  # noqa: E402

announce_start()
IN_DIR = "/job/in"
OUT_DIR = "/job/rw/out"
ORACLE = "--oracle" in sys.argv[1:]


def plan_name(argv):
    """The plan file named by ``--plan NAME`` (a plain file name in /job/in)."""
    if "--plan" not in argv:
        return "plan.json"
    name = argv[argv.index("--plan") + 1]
    if "/" in name or name.startswith("."):
        raise SystemExit(f"bad plan name {name!r}")
    return name


PLAN = plan_name(sys.argv[1:])


class StudentTypeError(Exception):
    """A return value the grader cannot compare; ``reason`` and ``values`` let the grader
    say it in the student's language (worker/pipeline.py ``runner_error``)."""

    def __init__(self, text, reason, **values):
        super().__init__(text)
        self.reason = reason
        self.values = values


def failed(stage, english, reason, **values):
    """A call that failed: the English for logs, and the reason and its values."""
    return {"status": "error", "stage": stage, "error": english, "reason": reason, "values": values}


def load_arg(spec, kept):
    if "npy" in spec:
        return np.load(os.path.join(IN_DIR, spec["npy"]), allow_pickle=False)
    if "json" in spec:
        return spec["json"]
    if "ref" in spec:
        return kept[spec["ref"]]
    raise ValueError("bad argument spec")


def to_arrays(value):
    """A return value as a list of numeric arrays (a tuple means several outputs)."""
    items = list(value) if isinstance(value, tuple) else [value]
    arrays = []
    for item in items:
        if type(item).__module__.startswith("torch") and hasattr(item, "detach"):
            item = item.detach().cpu().numpy()  # noqa: PLW2901 - a tensor returned by torch code
        if isinstance(item, np.ndarray | np.generic | bool | int | float | list):
            try:
                arr = np.asarray(item)
            except Exception as exc:  # ragged lists and the like
                raise StudentTypeError(
                    f"could not turn a returned list into an array: {exc}",
                    "ragged",
                    problem=str(exc),
                ) from None
        else:
            raise StudentTypeError(
                f"returned {type(item).__name__}; expected a numpy array, a number, "
                "or a tuple of them",
                "returned-type",
                type=type(item).__name__,
            )
        if arr.dtype.kind not in "biuf":
            raise StudentTypeError(
                f"returned an array of dtype {arr.dtype}; expected numbers or booleans",
                "returned-dtype",
                dtype=str(arr.dtype),
            )
        arrays.append(np.ascontiguousarray(arr))
    return arrays


def record(line):
    append_json_line(os.path.join(OUT_DIR, "results.jsonl"), line)


def run_call(call, code_dir):
    protocol = call.get("protocol", "steps")
    if protocol != "steps":
        return run_protocol(protocol, call)
    started = time.perf_counter()
    kept = {}
    try:
        module = importlib.import_module(call["module"])
    except BaseException as exc:  # SyntaxError, ImportError, SystemExit at import...
        trace = student_traceback(exc)
        return failed(
            "import",
            f"could not import {call['module']}.py:\n{trace}",
            "import",
            module=call["module"],
            traceback=trace,
        )
    value = None
    for step in call["steps"]:
        name = step["function"]
        fn = getattr(module, name, None)
        if not callable(fn):
            return failed(
                "lookup",
                f"{call['module']}.py has no function {name}()",
                "no-function",
                module=call["module"],
                function=name,
            )
        try:
            args = [load_arg(a, kept) for a in step.get("args", [])]
            kwargs = {k: load_arg(a, kept) for k, a in step.get("kwargs", {}).items()}
            value = fn(*args, **kwargs)
        except BaseException as exc:
            trace = student_traceback(exc)
            return failed(
                name,
                f"{name}() raised an exception:\n{trace}",
                "raised",
                function=name,
                traceback=trace,
            )
        if step.get("keep"):
            kept[step["keep"]] = value
        if step.get("output"):
            try:
                arrays = to_arrays(value)
            except StudentTypeError as exc:
                return failed(name, f"{name}() {exc}", exc.reason, function=name, **exc.values)
            for k, arr in enumerate(arrays):
                np.save(
                    os.path.join(OUT_DIR, f"c{call['index']}_o{k}.npy"), arr, allow_pickle=False
                )
    return {"status": "ok", "seconds": time.perf_counter() - started}


def run_protocol(protocol, call):
    """A call of a documented interface (``protocol_<name>.py`` beside this file): e.g. a
    layer's forward and backward, or a module given weights. In the oracle box (the
    reference box, started with ``--oracle``) the protocol computes the grader's own
    answer (autograd, the PyTorch built-in) instead of calling a module."""
    handler = importlib.import_module(f"protocol_{protocol}")
    try:
        return handler.run(call, ORACLE, IN_DIR, OUT_DIR)
    except BaseException as exc:
        return {"status": "error", "stage": protocol, "error": student_traceback(exc)}


def main():
    with open(os.path.join(IN_DIR, PLAN)) as fh:
        plan = json.load(fh)
    code_dir = plan.get("code_dir", "/job/src")
    sys.path.insert(0, code_dir)
    sys.argv = ["student"]
    record({"index": -1, "status": "started", "import_seconds": IMPORT_SECONDS})
    for call in plan["calls"]:
        started = time.perf_counter()
        outcome = run_call(call, code_dir)
        outcome.setdefault("seconds", time.perf_counter() - started)
        outcome["index"] = call["index"]
        record(outcome)
    record({"index": -1, "status": "finished"})


if __name__ == "__main__":
    main()
