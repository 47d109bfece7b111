"""Grading one submission: stage -> run (sandbox) -> score (outside) -> report.

Pure of the database: the task layer (worker/jobs.py) claims, stores and retries;
``autograder grade`` calls this directly. The student's code and the reference solution
each run in their own fresh sandbox on the same generated inputs; only plain data
(.npy without pickle, JSON lines) comes back, and scores are computed here.

Errors:
    GradingError -- the run cannot be graded, with a typed failure
                    (autograder/grading/failures.py): ours (``infra:*``: sandbox
                    unavailable, a box killed by something other than its own limits) is
                    retried; the instructor's (``spec:*``: the reference solution missing or
                    failing) ends the run at once. Never a grade, never charged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.grading.failures import Failure, FailureCode, GradingError
from autograder.grading.outcomes import CheckOutcome
from autograder.grading.report import GradeReport
from autograder.grading.said import Said, say
from autograder.specs.loader import LoadedSpec
from autograder.specs.schema import Spec
from worker.artifacts import MalformedArtifact, json_lines, load_npy, read_capped
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, Ref, ReferenceFailed
from worker.checks.common.hints import NOT_IMPORTED, not_run
from worker.checks.common.staging import stage_code
from worker.checks.phases import OnProgress, PhaseContext, PhaseLog
from worker.checks.registry import KINDS, PHASED
from worker.sandbox.base import (
    PYTHON,
    RUNNER,
    SRC,
    Backend,
    BoxKilled,
    GpuAssignment,
    Limits,
    Request,
    Result,
    SandboxUnavailable,
)

if TYPE_CHECKING:
    from autograder.settings import Settings

MAX_RESULTS_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class JobContext:
    """Everything one grading job is given: the spec, the submission and the reference to
    grade it against, the job's secret seed, the sandbox backend and the settings; where to
    work (default: a fresh folder in the jobs folder, removed afterwards), whom to tell of
    progress, the GPU, the thread count and the cores the job may use."""

    loaded: LoadedSpec
    submission_dir: Path
    reference_dir: Path
    seed: int
    backend: Backend
    settings: Settings
    work_dir: Path | None = None
    on_progress: OnProgress | None = None
    gpu: GpuAssignment | None = None
    max_threads: int | None = None
    cores: tuple[int, ...] | None = None


@dataclass
class BoxRun:
    result: Result
    calls: dict[int, CallResult]
    started: bool
    finished: bool
    import_seconds: float | None
    student_seconds: float
    # The timed calls' boxes of a student run, by name (each alone, its own wall clock).
    timed: list[tuple[str, Result]] = field(default_factory=list)


ORACLE_KINDS = ("gradient", "equivalence")


def limits_for(
    spec: Spec,
    settings: Settings,
    max_threads: int | None = None,
    cores: tuple[int, ...] | None = None,
) -> Limits:
    """The sandbox limits of a spec; ``max_threads`` is this job's share of the worker's
    cores (jobs side by side with more threads than cores slow each other several-fold);
    ``cores``: the host cores the job holds (worker/cpus.py), its threads are as many."""
    res = spec.resources
    if cores:
        max_threads = len(cores)
    return Limits(
        cores=cores,
        memory_mb=res.memory_mb,
        wall_seconds=res.wall_seconds,
        cpu_seconds=res.cpu_seconds,
        processes=res.processes,
        threads=min(res.threads, max_threads) if max_threads else res.threads,
        open_files=settings.sandbox_max_open_files,
        file_mb=settings.sandbox_max_file_mb,
        tmp_mb=settings.sandbox_tmp_mb,
        rw_mb=settings.sandbox_out_mb,
        output_bytes=settings.log_cap_bytes,
    )


# ------------------------------------------------------------------------------ plan


def build_plans(checks: list[Any], seed: int) -> list[CheckPlan]:
    rng = np.random.default_rng(seed)
    return [KINDS[check.kind].plan(check, rng) for check in checks]


def write_plan(plans: list[CheckPlan], in_dir: Path) -> list[list[int]]:
    """Write the input arrays and the plans; return, per check, its call indexes.

    ``plan.json``: the calls of the student's shared box. A timed call (``wall_seconds``)
    runs alone in a student box of its own: ``plan-timed-<index>.json``; the reference box
    then runs every call: ``plan-reference.json`` (without timed calls it reads plan.json).
    """
    in_dir.mkdir(parents=True, exist_ok=True)
    calls_json: list[dict[str, Any]] = []
    indexes: list[list[int]] = []
    shared: list[dict[str, Any]] = []
    for check_plan in plans:
        mine = []
        for call in check_plan.calls:
            index = len(calls_json)
            encoded = _call_json(call, index, in_dir)
            calls_json.append(encoded)
            mine.append(index)
            if call.wall_seconds is None:
                shared.append(encoded)
            else:
                _write_calls(in_dir / timed_plan(index), [encoded])
        indexes.append(mine)
    _write_calls(in_dir / "plan.json", shared)
    if len(shared) < len(calls_json):
        _write_calls(in_dir / REFERENCE_PLAN, calls_json)
    return indexes


REFERENCE_PLAN = "plan-reference.json"


def timed_plan(index: int) -> str:
    return f"plan-timed-{index}.json"


def _write_calls(path: Path, calls: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"code_dir": SRC, "calls": calls}))


def _call_json(call: Call, index: int, in_dir: Path) -> dict[str, Any]:
    counter = iter(range(1_000_000))

    def encode(value: Any) -> dict[str, Any]:
        if isinstance(value, Ref):
            return {"ref": value.name}
        if isinstance(value, np.ndarray):
            name = f"c{index}_a{next(counter)}.npy"
            np.save(in_dir / name, value, allow_pickle=False)
            return {"npy": name}
        return {"json": value}

    steps = [
        {
            "function": s.function,
            "args": [encode(a) for a in s.args],
            "kwargs": {k: encode(v) for k, v in s.kwargs.items()},
            "keep": s.keep,
            "output": s.output,
        }
        for s in call.steps
    ]
    encoded = {"index": index, "module": call.module, "steps": steps}
    if call.protocol:
        encoded["protocol"] = call.protocol
    return encoded


# ------------------------------------------------------------------------------ run


def run_box(
    backend: Backend,
    src: Path,
    in_dir: Path,
    limits: Limits,
    out: Path,
    oracle: bool = False,
    runtime: str = "numpy",
    plan: str | None = None,
) -> BoxRun:
    """One box of call-based checks. ``oracle``: the reference box, where calls that name
    an oracle (the PyTorch built-in, autograd) run the grader's own code for them instead
    of the reference solution's; no student code runs there. ``plan``: the plan file in
    ``in_dir`` to run (default plan.json)."""
    argv = [PYTHON, "-B", RUNNER] + (["--oracle"] if oracle else [])
    argv += ["--plan", plan] if plan else []
    request = Request(argv=argv, src_dir=src, in_dir=in_dir, limits=limits, runtime=runtime)
    result = backend.run(request, out)
    return read_box(result)


def read_box(result: Result) -> BoxRun:
    """Read the untrusted artifacts of a finished box (all its processes are dead)."""
    calls: dict[int, CallResult] = {}
    started = finished = False
    import_seconds = None
    student_seconds = 0.0
    for line in _result_lines(result.out_files.get("results.jsonl")):
        index = line.get("index")
        status = line.get("status")
        if index == -1:
            started |= status == "started"
            finished |= status == "finished"
            if isinstance(line.get("import_seconds"), int | float):
                import_seconds = float(line["import_seconds"])
            continue
        if not isinstance(index, int) or index in calls or status not in ("ok", "error"):
            continue
        if isinstance(line.get("seconds"), int | float):
            student_seconds += max(0.0, float(line["seconds"]))
        error = runner_error(line)
        outputs = _load_outputs(result.out_files, index) if status == "ok" else []
        if status == "ok" and isinstance(outputs, Said):
            calls[index] = CallResult("error", outputs)
        else:
            calls[index] = CallResult(status, error, outputs if isinstance(outputs, list) else [])
    return BoxRun(result, calls, started, finished, import_seconds, student_seconds)


def _result_lines(path: Path | None) -> list[dict[str, Any]]:
    return json_lines(read_capped(path, MAX_RESULTS_BYTES))


def runner_error(line: dict[str, Any]) -> Said | str:
    """A failed call's error as the runner reported it, in both languages where the runner
    gave a reason it knows (its "values" are the student's, shown as they are, capped); the
    runner's English otherwise. The line is untrusted: it can only choose among these."""
    english = str(line.get("error", ""))[:4000]
    raw = line.get("values")
    values = {k: str(v)[:4000] for k, v in raw.items()} if isinstance(raw, dict) else {}
    module, function = values.get("module", ""), values.get("function", "")
    trace = values.get("traceback", "")
    match line.get("reason"):
        case "import" if english.startswith(NOT_IMPORTED):
            return say("call.import_failed", module=module, traceback=trace)
        case "no-function":
            return say("call.no_function", module=module, function=function)
        case "raised":
            return say("call.raised", function=function, traceback=trace)
        case "ragged":
            return say("call.ragged", function=function, problem=values.get("problem", ""))
        case "returned-type":
            return say("call.returned_type", function=function, type=values.get("type", ""))
        case "returned-dtype":
            return say("call.returned_dtype", function=function, dtype=values.get("dtype", ""))
        case "no-class":
            return say("call.no_class", module=module, function=function)
        case "params-not-dict":
            return say("call.params_not_dict", call=values.get("call", ""))
        case "params-no-key":
            shown, key = values.get("call", ""), values.get("key", "")
            return say("call.params_no_key", call=shown, key=key, keys=values.get("keys", ""))
        case "params-shape":
            shown, key = values.get("call", ""), values.get("key", "")
            got, want = values.get("got", ""), values.get("want", "")
            return say("call.params_shape", call=shown, key=key, got=got, want=want)
        case "no-callable":
            return say("call.no_callable", module=module, function=function)
        case "build-raised":
            return say("call.build_raised", call=values.get("call", ""), traceback=trace)
        case "forward-raised":
            return say("call.forward_raised", function=function, traceback=trace)
        case "forward-type" if values.get("type") == "None":
            return say("call.forward_none", function=function)
        case "forward-type":
            return say("call.forward_type", function=function, type=values.get("type", ""))
        case "not-module":
            return say("call.not_module", function=function, type=values.get("type", ""))
        case "weights-mismatch":
            problem, expected = values.get("problem", ""), values.get("expected", "")
            return say(
                "call.weights_mismatch", function=function, problem=problem, expected=expected
            )
    return english


def _load_outputs(files: dict[str, Path], index: int) -> list[np.ndarray] | Said:
    arrays = []
    for k in range(64):
        path = files.get(f"c{index}_o{k}.npy")
        if path is None:
            break
        try:
            arr = load_npy(path)
        except (MalformedArtifact, OSError):
            return say("call.unreadable_output")
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            return say("call.output_not_numeric")
        arrays.append(arr)
    if not arrays:
        return say("call.no_output")
    return arrays


# ------------------------------------------------------------------------------ grade


def grade(job_context: JobContext) -> GradeReport:
    """Grade one submission folder. Call-based checks (``function``, ``regression``) run in
    one sandbox beside the reference solution's; phased checks (``classifier``) run their
    train and predict sandboxes one after the other."""
    ctx = job_context
    loaded, submission_dir, reference_dir = ctx.loaded, ctx.submission_dir, ctx.reference_dir
    seed, backend, settings, work_dir = ctx.seed, ctx.backend, ctx.settings, ctx.work_dir
    on_progress, gpu, max_threads, cores = ctx.on_progress, ctx.gpu, ctx.max_threads, ctx.cores
    spec = loaded.spec
    t0 = time.monotonic()
    own_tmp = work_dir is None
    if work_dir is None:
        jobs = settings.path("jobs")
        jobs.mkdir(parents=True, exist_ok=True)
        from worker.housekeeping import scratch_prefix

        work_dir = Path(tempfile.mkdtemp(prefix=scratch_prefix("job", os.getpid()), dir=jobs))
    job = work_dir
    job.mkdir(parents=True, exist_ok=True)
    job.chmod(0o711)  # the sandbox uid binds from here: traverse, never list
    try:
        backend.check()
        missing = stage_code(submission_dir, spec, job / "student")
        limits = limits_for(spec, settings, max_threads, cores)
        timings: dict[str, float] = {"stage": time.monotonic() - t0}
        results: dict[int, Outcome] = {}
        calls = _grade_calls(spec, seed, backend, job, reference_dir, limits, results, timings)
        phases = _grade_phases(
            spec,
            backend,
            job,
            settings,
            limits,
            results,
            timings,
            on_progress,
            gpu,
            seed,
            reference_dir,
        )
        report = _report(spec, calls, phases, results, missing, timings)
        return _said_in_cells(report, job / "student")
    except BoxKilled as exc:
        raise GradingError(FailureCode.BOX_KILLED, str(exc)) from exc
    except SandboxUnavailable as exc:
        raise GradingError(FailureCode.SANDBOX_UNAVAILABLE, str(exc)) from exc
    except ReferenceFailed as exc:
        raise GradingError(FailureCode.REFERENCE_FAILED, str(exc)) from exc
    finally:
        if own_tmp:
            shutil.rmtree(job, ignore_errors=True)


def _grade_calls(
    spec: Spec,
    seed: int,
    backend: Backend,
    job: Path,
    reference_dir: Path,
    limits: Limits,
    results: dict[int, Outcome],
    timings: dict[str, float],
) -> BoxRun | None:
    """The call-based checks: the student's box and the reference's box on the same inputs."""
    checks = [(i, c) for i, (_, c) in enumerate(spec.checks()) if c.kind in KINDS]
    if not checks:
        return None
    t0 = time.monotonic()
    plans = build_plans([c for _, c in checks], seed)
    indexes = write_plan(plans, job / "in")
    if stage_code(reference_dir, spec, job / "reference"):
        raise GradingError(FailureCode.REFERENCE_MISSING, folder=str(reference_dir))
    t_stage = time.monotonic()
    timed = {
        k: call.wall_seconds
        for plan, idx in zip(plans, indexes, strict=True)
        for k, call in zip(idx, plan.calls, strict=True)
        if call.wall_seconds is not None
    }
    oracle = any(c.kind in ORACLE_KINDS for _, c in checks)
    student, timed_boxes, reference = _run_boxes(spec, backend, job, limits, oracle, timed)
    t_run = time.monotonic()
    for box in [student, *timed_boxes.values()]:
        box.result.require_runner_started("student code")
        box.result.require_not_killed_from_outside("student code")
    reference.result.require_runner_started("reference solution")
    reference.result.require_not_killed_from_outside("reference solution")
    _check_reference(reference)
    for (i, check), plan, idx in zip(checks, plans, indexes, strict=True):
        got = [
            _timed_result(timed_boxes[k], k, timed[k], limits)
            if k in timed_boxes
            else student.calls.get(k, CallResult("missing"))
            for k in idx
        ]
        want = [reference.calls.get(k, CallResult("missing")) for k in idx]
        if got and all(c.error.startswith(NOT_IMPORTED) for c in got):
            # Said once, as the run's failure: not again in every check, nor its hint.
            results[i] = Outcome(0.0, check.points, not_run(str(got[0].error)), {})
        else:
            results[i] = KINDS[check.kind].score(check, plan, got, want)
        static = KINDS[check.kind].static
        violation = static(check, job / "student") if static else None
        if violation:
            results[i] = Outcome(0.0, check.points, violation, {"constraint": str(violation)})
        student.timed += [
            (f"timed case of {check.id}", timed_boxes[k].result) for k in idx if k in timed_boxes
        ]
    timings.update(
        {
            "stage": timings["stage"] + t_stage - t0,
            "sandbox_start": student.result.start_seconds,
            "runtime_import": student.import_seconds or 0.0,
            "student_code": student.student_seconds,
            "sandbox": student.result.wall_seconds,
            "run_total": t_run - t_stage,
            "score": time.monotonic() - t_run,
        }
    )
    if timed_boxes:
        timings["timed_sandboxes"] = sum(b.result.wall_seconds for b in timed_boxes.values())
    return student


def _run_boxes(
    spec: Spec,
    backend: Backend,
    job: Path,
    limits: Limits,
    oracle: bool,
    timed: dict[int, float],
) -> tuple[BoxRun, dict[int, BoxRun], BoxRun]:
    """The reference's box beside the student's: first their shared box, then each timed
    call alone in a box of its own, one after the other."""
    runtime = spec.resources.runtime
    # The oracle computes with torch (autograd, the built-in modules) whatever the homework's.
    ref_runtime = "torch" if oracle else runtime
    ref_plan = REFERENCE_PLAN if timed else None
    with ThreadPoolExecutor(1) as pool:
        ref_future = pool.submit(
            run_box,
            backend,
            job / "reference",
            job / "in",
            limits,
            job / "out-reference",
            True,
            ref_runtime,
            ref_plan,
        )
        student = run_box(
            backend, job / "student", job / "in", limits, job / "out-student", runtime=runtime
        )
        timed_boxes = {}
        for k, wall in timed.items():
            timed_limits = replace(limits, wall_seconds=wall, cpu_seconds=None)
            timed_boxes[k] = run_box(
                backend,
                job / "student",
                job / "in",
                timed_limits,
                job / f"out-timed-{k}",
                runtime=runtime,
                plan=timed_plan(k),
            )
        return student, timed_boxes, ref_future.result()


def _timed_result(box: BoxRun, index: int, wall: float, limits: Limits) -> CallResult:
    """The timed call's result; nothing from a box a limit ended (whatever it had written
    by then is not taken), but why, in words for the student."""
    res = box.result
    ended = res.ended_by_limit
    if ended is None and index in box.calls:
        return box.calls[index]
    if ended == "timeout":
        return CallResult("error", say("call.timed_out", seconds=wall))
    if ended == "memory":
        return CallResult("error", say("call.out_of_memory", memory_mb=limits.memory_mb))
    if ended == "cpu":
        return CallResult("error", say("call.out_of_cpu"))
    return CallResult("error", say("call.ended", exit_code=res.exit_code))


def _grade_phases(
    spec: Spec,
    backend: Backend,
    job: Path,
    settings: Settings,
    limits: Limits,
    results: dict[int, Outcome],
    timings: dict[str, float],
    on_progress: OnProgress | None,
    gpu: GpuAssignment | None = None,
    seed: int = 0,
    reference_dir: Path | None = None,
) -> list[PhaseLog]:
    """The phased checks (train, predict; a whole script), one after the other."""
    checks = [(i, c) for i, (_, c) in enumerate(spec.checks()) if c.kind in PHASED]
    logs: list[PhaseLog] = []
    for i, check in checks:
        t0 = time.monotonic()
        name = getattr(check, "dataset", None)
        visible, labels = dataset_for(name, settings) if name else ({}, None)
        test_name = getattr(check, "test_dataset", None)
        if test_name:  # scored on another (private) test split: its images, its labels
            private, labels = dataset_for(test_name, settings)
            visible = {k: v for k, v in visible.items() if not k.startswith("test_")}
            visible["test_images.npy"] = private["test_images.npy"]
        ctx = PhaseContext(
            backend=backend,
            spec=spec,
            limits=limits,
            code_dir=job / "student",
            job_dir=job,
            visible_data=visible,
            test_labels=labels,
            on_progress=on_progress,
            gpu=gpu,
            seed=seed,
            settings=settings,
            load_dataset=lambda n: dataset_for(n, settings),
            reference_dir=reference_dir,
        )
        results[i], log = PHASED[check.kind](check, ctx)
        logs.append(log)
        for name, result in log.boxes:
            key = name.split(" ")[0]
            timings[f"{key}_seconds"] = timings.get(f"{key}_seconds", 0.0) + result.wall_seconds
        timings["phases_total"] = timings.get("phases_total", 0.0) + time.monotonic() - t0
    return logs


def dataset_for(name: str, settings: Settings) -> tuple[dict[str, Path], np.ndarray]:
    """Files a phase may see (by their name inside the box), and the hidden test labels,
    which stay here, outside every sandbox."""
    from autograder import datasets

    try:
        prepared = datasets.load_prepared(
            name, data_dir=settings.path("data"), datasets_dir=settings.datasets_dir
        )
    except datasets.DatasetError as exc:
        raise GradingError(FailureCode.DATASET_UNAVAILABLE, str(exc)) from exc
    return {f"{key}.npy": path for key, path in prepared.files.items()}, prepared.test_labels


def _said_in_cells(report: GradeReport, code_dir: Path) -> GradeReport:
    """A module handed in as a notebook: the lines its tracebacks name, said as the
    notebook's cell and line (autograder/notebooks.py), in the log, the checks' messages
    and the run's failure."""
    from autograder import notebooks

    modules = notebooks.notebook_modules(code_dir)
    if not modules:
        return report

    def fix(text: str) -> str:
        return notebooks.relabel(text, modules)

    report.log = fix(report.log)
    report.outcomes = [
        o.model_copy(update={"message": fix(o.message), "message_zh": fix(o.message_zh)})
        for o in report.outcomes
    ]
    if report.failure is not None and report.failure.detail:
        report.failure = report.failure.model_copy(update={"detail": fix(report.failure.detail)})
    return report


def _check_reference(reference: BoxRun) -> None:
    if not reference.finished:
        tail = reference.result.output.decode("utf-8", errors="replace")[-2000:]
        why = reference.result.ended_by_limit or f"exit code {reference.result.exit_code}"
        raise ReferenceFailed(f"the reference run did not finish ({why}):\n{tail}")


def _outcome_rows(spec: Spec, results: dict[int, Outcome]) -> list[CheckOutcome]:
    rows = []
    for i, (question, check) in enumerate(spec.checks()):
        outcome = results[i]
        rows.append(
            CheckOutcome(
                question=question.id,
                check=check.id,
                title=check.title or check.id,
                title_zh=check.title_zh,
                question_title=question.title,
                question_title_zh=question.title_zh,
                points=check.points,
                earned=round(outcome.earned, 6),
                passed=outcome.passed,
                message=outcome.text,
                message_zh=outcome.message_zh,
                hidden=check.hidden,
                hint_zh=check.hint_zh
                if check.hint and outcome.text.endswith(f"\nHint: {check.hint}")
                else "",
                details=outcome.details,
            )
        )
    return rows


def _report(
    spec: Spec,
    calls: BoxRun | None,
    phases: list[PhaseLog],
    results: dict[int, Outcome],
    missing: list[str],
    timings: dict[str, float],
) -> GradeReport:
    outcomes = _outcome_rows(spec, results)
    logs: list[str] = []
    truncated = False
    resources: dict[str, Any] = {}
    if calls is not None:
        res = calls.result
        logs.append(res.student_output)
        truncated = res.output_truncated
        resources = {
            "wall_seconds": round(res.wall_seconds, 4),
            "cpu_seconds": res.cpu_seconds,
            "peak_memory_bytes": res.peak_memory_bytes,
            "output_bytes": res.output_total_bytes,
            "exit_code": res.exit_code,
            "rejected_outputs": res.out_rejected[:20],
            "process_limit_hit": res.process_limit_hit,
        }
        for name, box in calls.timed:
            if box.student_output:
                logs.append(f"--- {name} ---\n{box.student_output}")
            truncated |= box.output_truncated
            resources[name] = {
                "wall_seconds": round(box.wall_seconds, 4),
                "cpu_seconds": box.cpu_seconds,
                "peak_memory_bytes": box.peak_memory_bytes,
                "exit_code": box.exit_code,
                "timed_out": box.timed_out,
            }
    for log in phases:
        logs.append(log.text())
        for name, res in log.boxes:
            truncated |= res.output_truncated
            resources[name] = {
                "wall_seconds": round(res.wall_seconds, 4),
                "cpu_seconds": res.cpu_seconds,
                "peak_memory_bytes": res.peak_memory_bytes,
                "exit_code": res.exit_code,
            }
    failure = _student_failure(spec, calls, phases, missing)
    raw = sum(o.earned for o in results.values())
    return GradeReport(
        state="failed_student" if failure else "graded",
        raw_score=round(raw, 6),
        max_score=spec.max_points,
        outcomes=outcomes,
        log="\n".join(x for x in logs if x),
        log_truncated=truncated,
        timings={k: round(v, 4) for k, v in timings.items()},
        resources=resources,
        failure=failure,
    )


def _student_failure(
    spec: Spec, calls: BoxRun | None, phases: list[PhaseLog], missing: list[str]
) -> Failure | None:
    """Why the student's run as a whole failed, in words they can act on (or None)."""
    if missing:
        return Failure(code=FailureCode.MISSING_FILE, values={"files": ", ".join(missing)})
    if calls is not None:
        found = _calls_failure(spec, calls)
        if found:
            return found
    for log in phases:
        if log.failure:
            return log.failure
    return None


def _calls_failure(spec: Spec, student: BoxRun) -> Failure | None:
    res = student.result
    limit = spec.resources
    if res.process_limit_hit and not student.finished:
        return Failure(code=FailureCode.PROCESSES, values={"processes": limit.processes})
    if res.timed_out:
        return Failure(code=FailureCode.TIMEOUT, values={"seconds": limit.wall_seconds})
    if res.oom_killed:
        return Failure(code=FailureCode.MEMORY, values={"memory_mb": limit.memory_mb})
    if res.output_truncated and not student.finished:
        return Failure(code=FailureCode.OUTPUT)
    import_errors = [
        str(c.error) for c in student.calls.values() if c.error.startswith(NOT_IMPORTED)
    ]
    if import_errors and len(import_errors) == len(student.calls):
        return Failure(code=FailureCode.IMPORT_ERROR, detail=import_errors[0])
    if not student.finished:
        return Failure(code=FailureCode.EXITED_EARLY, values={"exit_code": res.exit_code})
    return None
