"""The in-process baseline of call-based checks (hw1): the plan's calls run in one
long-lived process that has already imported numpy and the module, timing only the calls.

Run with the sandbox's Python:
    .venv-sandbox/bin/python bench/calls_baseline.py IN_DIR STUDENT_DIR REFERENCE_DIR OUT_DIR
Runs every call of IN_DIR/plan.json (plan-reference.json where the plan has timed calls)
for the student code and (as the oracle box does) for the reference code, a few times
over, and prints one JSON line with the median seconds of one warm pass over all calls of
each: {"student_seconds", "reference_seconds"}. The outputs of the last pass are left in
OUT_DIR/student and OUT_DIR/reference.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

RUNNER = Path(__file__).resolve().parent.parent / "worker" / "runner" / "sandbox_runner.py"


def load_runner(in_dir: str, out_dir: str, oracle: bool):  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(RUNNER.parent))
    spec = importlib.util.spec_from_file_location(f"runner_{int(oracle)}", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    module.IN_DIR, module.OUT_DIR, module.ORACLE = in_dir, out_dir, oracle
    return module


def warm_passes(runner, plan: dict, code_dir: str, passes: int = 5) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds of each pass over all calls, after one untimed pass (imports, first use)."""
    sys.path.insert(0, code_dir)
    times = []
    try:
        for k in range(passes + 1):
            started = time.perf_counter()
            for call in plan["calls"]:
                outcome = runner.run_call(call, code_dir)
                if outcome["status"] != "ok":
                    raise SystemExit(f"call {call['index']} failed: {outcome}")
            if k:
                times.append(time.perf_counter() - started)
    finally:
        sys.path.remove(code_dir)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", "") or "").startswith(code_dir):
                sys.modules.pop(name)  # the next code dir imports its own module of that name
    return times


def main() -> None:
    in_dir, student, reference, out_root = sys.argv[1:5]
    # Every call, timed ones (worker/pipeline.write_plan) too, where the plan has any.
    every = Path(in_dir, "plan-reference.json")
    plan = json.loads((every if every.is_file() else Path(in_dir, "plan.json")).read_text())
    out = {}
    for key, code_dir, oracle in (("student", student, False), ("reference", reference, True)):
        runner = load_runner(in_dir, str(Path(out_root, key)), oracle)
        out[f"{key}_seconds"] = statistics.median(warm_passes(runner, plan, code_dir))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
