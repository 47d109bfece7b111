"""Timed calls (``Call.wall_seconds``), pure parts: which box runs which call, and what a
timed box that a limit ended gives back. Through the real sandbox: tests/test_hw2_3.py and
the hostile corpus (numgrad-* cases)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from worker.checks.base import Call, CallResult, CheckPlan, Step
from worker.pipeline import REFERENCE_PLAN, BoxRun, _timed_result, timed_plan, write_plan
from worker.sandbox.base import Limits, Result

RUNNER_DIR = Path(__file__).resolve().parent.parent / "worker" / "runner"


def call(wall: float | None = None) -> Call:
    return Call("m", [Step("f", [np.zeros(3)])], wall_seconds=wall)


def calls_of(path: Path) -> list[int]:
    return [c["index"] for c in json.loads(path.read_text())["calls"]]


def test_each_timed_call_gets_a_plan_of_its_own_and_the_reference_runs_all(tmp_path):
    plans = [CheckPlan([call(), call(), call(5)]), CheckPlan([call(), call(9)])]
    assert write_plan(plans, tmp_path) == [[0, 1, 2], [3, 4]]
    assert calls_of(tmp_path / "plan.json") == [0, 1, 3]
    assert calls_of(tmp_path / timed_plan(2)) == [2]
    assert calls_of(tmp_path / timed_plan(4)) == [4]
    assert calls_of(tmp_path / REFERENCE_PLAN) == [0, 1, 2, 3, 4]


def test_without_timed_calls_there_is_one_plan(tmp_path):
    write_plan([CheckPlan([call(), call()])], tmp_path)
    assert sorted(p.name for p in tmp_path.glob("plan*.json")) == ["plan.json"]


def box(ended: str | None, calls: dict[int, CallResult], exit_code: int | None = 0) -> BoxRun:
    result = Result(
        exit_code=exit_code,
        timed_out=ended == "timeout",
        oom_killed=ended == "memory",
        output=b"",
        output_truncated=False,
        output_total_bytes=0,
        wall_seconds=1.0,
        start_seconds=0.1,
        cpu_seconds=None,
        peak_memory_bytes=None,
        out_files={},
        out_rejected=[],
        cpu_limit_hit=ended == "cpu",
    )
    return BoxRun(result, calls, True, ended is None, None, 0.0)


def test_a_timed_box_ended_by_a_limit_gives_nothing_but_why():
    written = {7: CallResult("ok", "", [np.zeros(2)])}  # written before the limit: not taken
    limits = Limits(memory_mb=512)
    for ended, why in [
        ("timeout", "did not finish within its time limit of 2.5 s and was stopped"),
        ("memory", "used more than the memory limit (512 MB) and was stopped"),
        ("cpu", "used more than its CPU time and was stopped"),
    ]:
        got = _timed_result(box(ended, written), 7, 2.5, limits)
        assert got.status == "error" and got.error == f"the program {why}"
    got = _timed_result(box(None, {}, exit_code=3), 7, 2.5, limits)
    assert got.error == "the program ended (exit code 3) before it returned"
    assert _timed_result(box(None, written), 7, 2.5, limits) is written[7]


def test_the_runner_takes_a_plain_plan_name_only(monkeypatch):
    monkeypatch.syspath_prepend(str(RUNNER_DIR))
    import sandbox_runner

    assert sandbox_runner.plan_name(["--oracle"]) == "plan.json"
    assert sandbox_runner.plan_name(["--plan", "plan-timed-3.json"]) == "plan-timed-3.json"
    for bad in ("../plan.json", "/job/in/plan.json", ".hidden"):
        with pytest.raises(SystemExit):
            sandbox_runner.plan_name(["--plan", bad])
