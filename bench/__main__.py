"""``make bench``: the grader's own cost, measured against the students' compute.

Starts ``autograder serve`` on its embedded defaults (SQLite, embedded Redis, bubblewrap)
in a temporary state directory and measures over HTTP, nothing asserted:

1. hw1 (``--slug``): ``--singles`` uploads of the reference solution one at a time on an
   idle service; end-to-end time (received -> result stored) against the same checks'
   calls run in one long-lived process (bench/calls_baseline.py) plus their scoring:
   ``overhead_ratio_hw1``.
2. A deadline rush (``--burst`` uploads from ``--clients`` concurrent clients, one student
   each, at ``--rate`` uploads a second together, each client on its own schedule however
   slow the answers: an open loop): upload latency percentiles while the workers are busy
   (``api_upload_p99_ms_at_50_clients``), uploads or gradings that went wrong
   (``burst_1000_errors``), and graded submissions per minute from the first upload to
   the last result (``hw1_gradings_per_min``).
3. MNIST (``--mnist``, a classifier homework): one submission end to end against its
   training and evaluation in one process (bench/mnist_baseline.py):
   ``overhead_ratio_mnist``; then ``--inflight`` at once: ``mnist_gradings_per_min_cpu``.

4. The cost as the course grows (``--course 300x13x15``: students x homework x
   submissions each; only this part runs when it is given): on a service whose worker
   is paused (it consumes no queue, so uploads and re-grades only queue), each page and
   API call below is timed ``--course-repeat`` times after ``--course-warmup`` untimed
   calls, first on the empty course (the shipped homework, one upload), then after
   bench/course.py filled the database with a generated term (students, submissions
   with their files' rows, runs in realistic states with their outcome rows, re-grade
   batches): the student's assignment list (page and API) and one submission (page and
   API), the staff dashboard (page and API), one assignment's statistics, submissions
   and roster, the whole course's gradebook CSV, ``/metrics``, an upload of the hw1
   reference and the start of a re-grade of every hw1 submission (discarded after each
   timing). Printed as a table (empty p95, filled p95, ratio, target: 200 ms, 2 s for the
   gradebook, filled within 1.5x of empty) and kept in bench/results.json under
   ``course`` / ``course_postgres`` (``course_<what>_p95_ms[_postgres]`` in ``figures``),
   merged into the file's other figures.

Figures are printed and written to bench/results.json, each beside its baseline from
bench/baseline.json (recorded with ``--record-baseline`` before a change; the commit and
machine it came from are kept with it). ``mnist_cnn_gradings_per_min_gpu`` needs a GPU
host: bench/gpu/check.py measures it there (bench/gpu/README.md); without a GPU it is
reported as not measured.

    python -m bench [--singles 5] [--burst 1000] [--clients 50] [--slug hw1-1]
                    [--mnist hw2-2] [--inflight 4] [--record-baseline]
    python -m bench --course 300x13x15 --databases postgres [--course-repeat 30]
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(
    home: Path, port: int, concurrency: int, services: dict[str, str] | None = None
) -> tuple[subprocess.Popen, dict]:
    """``autograder serve`` on its embedded defaults, or with ``services`` (the database and
    broker URLs of a Postgres and a Redis the bench started)."""
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(home),
        "AUTOGRADER_PORT": str(port),
    }
    if concurrency:
        env["AUTOGRADER_WORKER_CONCURRENCY"] = str(concurrency)
    for key in ("AUTOGRADER_DATABASE_URL", "AUTOGRADER_REDIS_URL", "AUTOGRADER_JOBS_DIR"):
        env.pop(key, None)
    env.update(services or {})
    log = open(home / "serve.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, env
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError("service did not start:\n" + (home / "serve.log").read_text()[-3000:])


def add_user(env: dict, name: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "users", "add", "--role", "student", name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def upload(base: str, token: str, slug: str, files: list[Path]) -> tuple[str, str, float]:
    started = time.perf_counter()
    multipart = [("files", (f.name, f.read_bytes())) for f in files]
    r = httpx.post(
        f"{base}/api/v1/assignments/{slug}/submissions",
        files=multipart,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    r.raise_for_status()
    return r.json()["id"], token, time.perf_counter() - started


DATABASE_URLS: dict[Path, str] = {}  # a service's home -> its database (default: SQLite)


def _engine(home: Path):  # type: ignore[no-untyped-def]
    """The database of the service whose state is in ``home``, read directly (not through
    the API, so that reading adds no load to the server being measured)."""
    from sqlalchemy import create_engine

    url = DATABASE_URLS.get(home) or f"sqlite:///{home / 'autograder.db'}"
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url, pool_pre_ping=True)
    return _ENGINES[url]


_ENGINES: dict[str, Any] = {}


def wait_all(home: Path, ids: list[str], timeout: float) -> None:
    """Until every submission has a finished run (read from the database)."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    pending = set(ids)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        try:
            with _engine(home).connect() as con:
                done = {
                    row[0]
                    for row in con.execute(
                        text("SELECT submission_id FROM grading_runs WHERE finished_at IS NOT NULL")
                    )
                }
        except OperationalError:
            done = set()
        pending -= done
        time.sleep(0.25)
    if pending:
        raise TimeoutError(f"{len(pending)} submissions not graded after {timeout}s")


def phase_rows(home: Path) -> list[dict]:
    """Every run with its submission's times, as SQLite gives them (ISO text, JSON text),
    whichever the database."""
    from sqlalchemy import text

    with _engine(home).connect() as con:
        rows = con.execute(
            text(
                "SELECT s.id AS submission_id, s.received_at, r.queued_at, r.started_at, "
                "r.finished_at, r.timings, r.state, r.score, r.max_score "
                "FROM grading_runs r JOIN submissions s ON s.id = r.submission_id"
            )
        ).mappings()
        out = []
        for row in rows:
            item = dict(row)
            for key, value in item.items():
                if isinstance(value, datetime):
                    item[key] = value.isoformat()
                elif isinstance(value, dict):
                    item[key] = json.dumps(value)
            out.append(item)
    return out


def ts(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


FIGURES = {
    # name: (unit, target, better) -- better: "lower" or "higher"
    "overhead_ratio_hw1": ("x", None, "lower"),
    "overhead_ratio_mnist": ("x", 1.10, "lower"),
    "hw1_gradings_per_min": ("/min", 1000, "higher"),
    "mnist_gradings_per_min_cpu": ("/min", None, "higher"),
    "api_upload_p99_ms_at_50_clients": ("ms", 100, "lower"),
    "burst_1000_errors": ("", 0, "lower"),
    "mnist_cnn_gradings_per_min_gpu": ("/min", 100, "higher"),
}
BASELINE = ROOT / "bench" / "baseline.json"


@dataclass(frozen=True)
class Options:
    """What one run measures (the command line's options, as ``main`` documents them)."""

    singles: int
    burst: int
    clients: int
    rate: float
    slug: str
    concurrency: int
    mnist: str
    inflight: list[int]
    deadline: float
    record_baseline: bool
    databases: list[str]
    course: str = ""
    course_repeat: int = 30
    course_warmup: int = 3


def _databases(_ctx: click.Context, _param: click.Parameter, text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ("sqlite", "postgres")]
    if unknown or not chosen:
        raise click.BadParameter(f"{text!r}: sqlite, postgres, or both separated by a comma")
    return chosen


def _levels(_ctx: click.Context, _param: click.Parameter, text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"{text!r}: a count, or counts separated by commas") from None
    if any(n < 1 for n in levels):
        raise click.BadParameter(f"{text!r}: every count is at least 1")
    return levels


@click.command(
    help="The grader's own cost, measured against the students' compute, each figure "
    "beside its baseline (bench/__main__.py's docstring says what each one is)."
)
@click.option(
    "--singles",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="hw1 uploads one at a time",
)
@click.option(
    "--burst", type=click.IntRange(0), default=1000, show_default=True, help="hw1 uploads at once"
)
@click.option(
    "--clients",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    help="concurrent upload clients",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=50,
    show_default=True,
    help="burst uploads per second, all clients together",
)
@click.option("--slug", default="hw1-1", show_default=True, help="the hw1 homework")
@click.option(
    "--concurrency",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="worker concurrency (0: the service's default)",
)
@click.option("--mnist", default="hw2-2", show_default=True, help="MNIST homework ('' to skip)")
@click.option(
    "--inflight",
    default="4",
    show_default=True,
    callback=_levels,
    help="MNIST uploads at once; a list (8,16,32) measures each in turn",
)
@click.option(
    "--deadline",
    type=click.FloatRange(0),
    default=0,
    show_default=True,
    help="seconds for the MNIST part: a level that cannot finish in time is cut "
    "short and what it graded by then is counted (0: no limit)",
)
@click.option("--record-baseline", is_flag=True, help="write bench/baseline.json instead")
@click.option(
    "--databases",
    default="sqlite,postgres",
    show_default=True,
    callback=_databases,
    help="run every figure on the embedded defaults (sqlite: SQLite and the embedded Redis) "
    "and on postgres (a throwaway Postgres cluster and a Redis server the bench starts, as "
    "the tests do); postgres figures are named <figure>_postgres",
)
@click.option(
    "--course",
    default="",
    help="students x homework x submissions each (e.g. 300x13x15): measure only the pages' "
    "cost on an empty and on a filled course (bench/course.py)",
)
@click.option(
    "--course-repeat",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="--course: timed calls per figure",
)
@click.option(
    "--course-warmup",
    type=click.IntRange(0),
    default=3,
    show_default=True,
    help="--course: untimed calls before them",
)
def main(**options: Any) -> None:
    args = Options(**options)
    if args.course:
        from bench.course import parse_size

        try:
            parse_size(args.course)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--course") from None
        run_course(args)
        return
    run(args)


def measure(args: Options, database: str) -> dict:
    """Every part of the bench against one service: on its embedded defaults, or with a
    Postgres cluster and a Redis server of its own (stopped afterwards)."""
    results: dict = {}
    with service(database, args.concurrency) as (base, home, env):
        tokens = [add_user(env, f"bench{i}") for i in range(users_needed(args))]
        results["hw1"] = bench_singles(base, home, tokens, args)
        print_hw1(results["hw1"])
        if args.burst:
            results["burst"] = bench_burst(base, home, tokens, args)
            print_burst(results["burst"])
        if args.mnist:
            results["mnist"] = bench_mnist(base, home, tokens, args)
            report_mnist(results["mnist"])
    return results


@contextlib.contextmanager
def service(
    database: str, concurrency: int, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[str, Path, dict]]:
    """A started ``autograder serve`` (its base URL, state directory and environment) on
    its embedded defaults, or with a Postgres cluster and a Redis server of its own; all
    stopped afterwards."""
    home = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    home.chmod(0o711)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    stops: list[Any] = []
    services: dict[str, str] = dict(extra_env or {})
    if database == "postgres":
        sys.path.insert(0, str(ROOT))
        from tests import services as test_services

        why = test_services.postgres_available() or test_services.redis_available()
        if why:
            raise SystemExit(f"--databases postgres: {why}")
        pg = test_services.start_postgres()
        stops.append(pg)
        redis = test_services.start_redis()
        stops.append(redis)
        url = pg.create_database("bench")
        services |= {"AUTOGRADER_DATABASE_URL": url, "AUTOGRADER_REDIS_URL": redis.url}
        DATABASE_URLS[home] = url
    print(f"starting the service on {base} (state in {home}) ...", flush=True)
    try:
        proc, env = start_service(home, port, concurrency, services)
        try:
            yield base, home, env
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
        for stop in reversed(stops):
            stop.stop()


def run(args: Options) -> None:
    results: dict = {"commit": _commit()}
    for database in args.databases:
        print(f"\n=== on {database} ===", flush=True)
        measured = measure(args, database)
        if database == "sqlite":
            results.update(measured)
        else:
            results[database] = measured
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_model(),
    }
    results["config"] = asdict(args)
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["figures"] = figures(results)
    if args.record_baseline:
        BASELINE.write_text(json.dumps(results, indent=2))
        print(f"\nbaseline written to {BASELINE.relative_to(ROOT)}")
        return
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else None
    results["baseline"] = (
        {k: baseline[k] for k in ("commit", "measured_at", "machine", "figures")}
        if baseline
        else None
    )
    print_figures(results["figures"], baseline)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


# The worker consumes no queue while the course is measured: uploads and re-grades only
# queue (grading them would take the CPUs that the pages are timed on).
PAUSED_WORKER = {"AUTOGRADER_WORKER_QUEUES": "bench-paused"}
UPLOADERS = 8  # students who upload in turn, each within hw1's daily quota


def bench_course(args: Options, database: str) -> dict:
    """The pages' cost on the empty course, then on a course filled with ``--course``
    (bench/course.py)."""
    from bench import course

    size = course.parse_size(args.course)
    slug = args.slug
    files = [(f.name, f.read_bytes()) for f in reference_files(slug)]
    with service(database, args.concurrency, PAUSED_WORKER) as (base, home, _env):
        engine = _engine(home)
        staff = course.bench_user(engine, "bench-staff", "ta")
        viewer = course.bench_user(engine, "bench-viewer")
        uploaders = [course.bench_user(engine, f"bench-up{i}") for i in range(UPLOADERS)]
        first, _, _ = upload(base, viewer, slug, [f for f in reference_files(slug)])
        print(f"\nempty course ({database}): the shipped homework and one upload", flush=True)
        empty = course.time_calls(
            base,
            course.Actors(staff, viewer, first, uploaders),
            slug,
            files,
            args.course_repeat,
            args.course_warmup,
        )
        print(f"\nfilling the course: {size} ({size.submissions} submissions) ...", flush=True)
        filled_report = course.fill(engine, size, progress=lambda t: print(f"  {t}", flush=True))
        print(
            f"  {filled_report.submissions} submissions, {filled_report.runs} runs, "
            f"{filled_report.batches} re-grade batches in {filled_report.seconds:.1f} s"
        )
        student, submission = course.measured_student(engine, slug)
        print(f"\nfilled course ({database}): student {student}", flush=True)
        filled = course.time_calls(
            base,
            course.Actors(staff, course.token_for(engine, student), submission, uploaders),
            slug,
            files,
            args.course_repeat,
            args.course_warmup,
        )
    return {
        "size": str(size),
        "database": database,
        "worker": "paused (consumes no queue): uploads and re-grades only queue",
        "repeat": args.course_repeat,
        "warmup": args.course_warmup,
        "fill": filled_report.as_dict(),
        "empty": empty,
        "filled": filled,
        "compare": course.compare(empty, filled),
    }


def course_figures(measured: dict, suffix: str) -> dict:
    out = {}
    for name, row in measured["compare"].items():
        out[f"course_{name}_p95_ms{suffix}"] = row["filled_p95_ms"]
        out[f"course_{name}_empty_p95_ms{suffix}"] = row["empty_p95_ms"]
    return out


def run_course(args: Options) -> None:
    """``--course``: only the course's part, merged into bench/results.json (or, with
    ``--record-baseline``, into bench/baseline.json) beside the figures already there."""
    from bench import course

    target = BASELINE if args.record_baseline else RESULTS
    results = json.loads(target.read_text()) if target.exists() else {}
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_model(),
    }
    for database in args.databases:
        print(f"\n=== course on {database} ===", flush=True)
        measured = bench_course(args, database)
        measured |= {
            "commit": _commit(),
            "machine": machine,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        key, suffix = ("course", "") if database == "sqlite" else ("course_postgres", "_postgres")
        old = baseline.get(key) or {}
        measured["baseline"] = (
            {k: old.get(k) for k in ("commit", "measured_at", "machine", "size")}
            if old and not args.record_baseline
            else None
        )
        results[key] = measured
        figs = course_figures(measured, suffix)
        results["figures"] = results.get("figures", {}) | figs
        base_figs = {
            k.removesuffix(suffix): v
            for k, v in baseline.get("figures", {}).items()
            if k.startswith("course_") and k.endswith(suffix) and old
        }
        print(f"\ncourse {measured['size']} on {database} ({measured['worker']})")
        course.print_table(measured["compare"], None if args.record_baseline else base_figs)
        if old and not args.record_baseline:
            print(
                f"baseline: commit {old.get('commit')}, {old.get('measured_at')}, size "
                f"{old.get('size')}, {old['machine']['cpus']} CPUs "
                f"({old['machine']['processor']})"
            )
    target.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten to {target.relative_to(ROOT)}")


def figures(results: dict) -> dict:
    """The figures of the embedded run under their names, the Postgres run's beside them
    as <name>_postgres."""
    out = _figures(results)
    if "postgres" in results:
        out |= {f"{k}_postgres": v for k, v in _figures(results["postgres"]).items()}
    return out


def _figures(results: dict) -> dict:
    hw1, burst, mnist = results.get("hw1"), results.get("burst"), results.get("mnist")
    out: dict[str, float | None] = dict.fromkeys(FIGURES)
    if hw1:
        out["overhead_ratio_hw1"] = hw1["overhead_ratio"]
    if burst:
        out["hw1_gradings_per_min"] = burst["graded_per_minute"]
        out["api_upload_p99_ms_at_50_clients"] = burst["upload_ms"]["p99"]
        out["burst_1000_errors"] = burst["errors"]
    if mnist:
        out["overhead_ratio_mnist"] = mnist["overhead_ratio"]
        on_gpu = spec_of(mnist["slug"]).resources.device == "gpu"  # bench/gpu/check.py
        key = "mnist_cnn_gradings_per_min_gpu" if on_gpu else "mnist_gradings_per_min_cpu"
        out[key] = mnist["graded_per_minute"]
    return out


def print_figures(now: dict, baseline: dict | None) -> None:
    old = (baseline or {}).get("figures", {})
    print(f"\n{'figure':<40}{'now':>10}{'baseline':>10}{'ratio':>8}{'target':>9}")
    rows = [(name, spec) for name, spec in FIGURES.items()]
    if any(key.endswith("_postgres") for key in now):
        rows += [(f"{name}_postgres", spec) for name, spec in FIGURES.items()]
    for name, (_unit, target, better) in rows:
        value, before = now.get(name), old.get(name)
        ratio = f"{value / before:.2f}" if value is not None and before not in (None, 0) else "-"
        goal = "-" if target is None else f"{'<=' if better == 'lower' else '>='}{target:g}"
        print(
            f"{name:<40}{_fmt(value):>10}{_fmt(before):>10}{ratio:>8}{goal:>9}"
            + ("" if value is not None else "   (not measured here)")
        )
    if baseline:
        print(
            f"baseline: commit {baseline.get('commit')}, {baseline.get('measured_at')}, "
            f"{baseline['machine']['cpus']} CPUs ({baseline['machine']['processor']})"
        )


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], check=False, cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def spec_of(slug: str):  # type: ignore[no-untyped-def]
    from autograder.settings import get_settings
    from autograder.specs.loader import load_spec_file

    return load_spec_file(get_settings().specs_dir / f"{slug}.yaml").spec


SINGLES_USERS = 5  # the last students: the one-at-a-time uploads


def users_needed(args: Options) -> int:
    """One student per burst client, each within the quota, then students for the rest."""
    if args.burst:
        quota = spec_of(args.slug).quota
        per_user = min(q for q in (quota.per_day, quota.total) if q)
        if args.burst > per_user * args.clients:
            raise SystemExit(
                f"--burst {args.burst} exceeds {args.clients} students' quota of {per_user}"
            )
    needed = (args.clients if args.burst else 0) + SINGLES_USERS
    if args.mnist:
        needed = max(needed, max(args.inflight) + 1)
    return needed


def reference_files(slug: str) -> list[Path]:
    from autograder.settings import get_settings

    folder = get_settings().reference_dir / slug
    return [folder / f.name for f in spec_of(slug).files if (folder / f.name).is_file()]


def full_marks(row: dict) -> bool:
    return row["state"] == "graded" and row["score"] == row["max_score"]


def end_to_end(row: dict) -> float:
    return ts(row["finished_at"]) - ts(row["received_at"])


def bench_singles(base: str, home: Path, tokens: list[str], args: Options) -> dict:
    """Uploads one at a time on an idle service: what one student waits for."""
    files = reference_files(args.slug)
    rows = []
    for i in range(args.singles):
        time.sleep(1)  # a moment between two students' uploads, as on a quiet day
        sid, _, _ = upload(base, tokens[-1 - i % SINGLES_USERS], args.slug, files)
        wait_all(home, [sid], timeout=300)
        rows += [r for r in phase_rows(home) if r["submission_id"] == sid]
    compute = calls_compute(args.slug, home)
    e2e = statistics.median(end_to_end(r) for r in rows)
    timings = [json.loads(r["timings"] or "{}") for r in rows]
    phases = {
        k: statistics.median(t.get(k, 0.0) for t in timings)
        for k in ("stage", "sandbox_start", "runtime_import", "student_code", "run_total", "score")
    }
    return {
        "slug": args.slug,
        "singles": len(rows),
        "end_to_end_seconds_median": e2e,
        "end_to_end_seconds": [end_to_end(r) for r in rows],
        "phases_median": phases,
        "in_process_compute": compute,
        "overhead_ratio": e2e / compute["total_seconds"],
        "full_marks": sum(1 for r in rows if full_marks(r)),
    }


def calls_compute(slug: str, home: Path) -> dict:
    """The checks of one submission in one long-lived process: the calls of the student's
    and of the reference's code on the same generated inputs, and their scoring."""
    from worker.checks.registry import KINDS
    from worker.pipeline import build_plans, write_plan
    from worker.sandbox.base import SRC

    spec = spec_of(slug)
    checks = [c for _, c in spec.checks() if c.kind in KINDS]
    # In memory, as a box's out/ is (a tmpfs).
    work = Path(tempfile.mkdtemp(prefix="ag-bench-calls-", dir="/dev/shm"))
    plans = build_plans(checks, seed=12345)
    indexes = write_plan(plans, work / "in")
    for plan_file in (work / "in").glob("plan*.json"):
        plan_file.write_text(plan_file.read_text().replace(json.dumps(SRC), json.dumps("unused")))
    folder = str(ROOT / "reference_solutions" / slug)
    out = subprocess.run(
        [
            str(ROOT / ".venv-sandbox" / "bin" / "python"),
            str(ROOT / "bench" / "calls_baseline.py"),
            str(work / "in"),
            folder,
            folder,
            str(work / "out"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = json.loads(out.stdout.strip().splitlines()[-1])
    try:
        score = score_seconds(checks, plans, indexes, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = line["student_seconds"] + line["reference_seconds"] + score
    return {**line, "score_seconds": score, "total_seconds": total}


def score_seconds(checks: list, plans: list, indexes: list, work: Path) -> float:
    """Scoring the checks on the outputs the baseline's calls left (a correct submission's
    outputs equal the reference's), as the worker does it: read and compare. The median
    of five passes after a first one (imports and first use are not the checks' cost)."""
    from worker.checks.base import CallResult
    from worker.checks.registry import KINDS
    from worker.pipeline import _load_outputs

    def results(folder: Path, idx: list[int]) -> list:
        files = {f.name: f for f in folder.iterdir()}
        return [CallResult("ok", "", _load_outputs(files, k)) for k in idx]

    times = []
    for _ in range(6):
        started = time.perf_counter()
        for check, plan, idx in zip(checks, plans, indexes, strict=True):
            got = results(work / "out" / "student", idx)
            want = results(work / "out" / "reference", idx)
            outcome = KINDS[check.kind].score(check, plan, got, want)
            if not outcome.passed:
                raise RuntimeError(f"the in-process baseline did not earn full marks: {outcome}")
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:])


def bench_burst(base: str, home: Path, tokens: list[str], args: Options) -> dict:
    """A deadline rush: ``--burst`` uploads from ``--clients`` concurrent clients (client i
    is student i), as fast as the server answers, while the workers grade."""
    import asyncio

    files = [(f.name, f.read_bytes()) for f in reference_files(args.slug)]
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []  # (seconds into the burst, latency)
    failures: list[str] = []
    ids: list[str] = []

    period = args.clients / args.rate  # each client's seconds between uploads
    t0 = 0.0

    async def client(http: httpx.AsyncClient, i: int, count: int) -> None:
        token = tokens[i]  # one student per client, within the quota
        async with http:
            for k in range(count):
                # Open loop: each client uploads on its own schedule, however slow the
                # answers are (a slow server is not given time to catch up).
                due = t0 + (k + i / args.clients) * period
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                started = time.perf_counter()
                try:
                    r = await http.post(
                        f"/api/v1/assignments/{args.slug}/submissions",
                        files=[("files", f) for f in files],
                        headers={"Authorization": f"Bearer {token}"},
                    )
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - started)
                timeline.append((started - t0, latencies[-1]))
                if r.status_code == 202:
                    ids.append(r.json()["id"])
                else:
                    failures.append(f"HTTP {r.status_code}: {r.text[:200]}")

    async def rush() -> None:
        nonlocal t0
        share = [
            args.burst // args.clients + (i < args.burst % args.clients)
            for i in range(args.clients)
        ]
        # Every client is made before the clock starts: making one costs the bench's own
        # event loop milliseconds (TLS context and all), which would count as latency.
        clients = [httpx.AsyncClient(base_url=base, timeout=60) for _ in share]
        t0 = time.perf_counter() + 0.5
        await asyncio.gather(
            *(client(c, i, n) for i, (c, n) in enumerate(zip(clients, share, strict=True)))
        )

    started = time.perf_counter()
    asyncio.run(rush())
    upload_wall = time.perf_counter() - started
    wait_all(home, ids, timeout=120 + args.burst * 5)
    wall = time.perf_counter() - started
    rows = [r for r in phase_rows(home) if r["submission_id"] in set(ids)]
    bad = [r for r in rows if not full_marks(r)]
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    return {
        "uploads": args.burst,
        "clients": args.clients,
        "accepted": len(ids),
        "upload_failures": failures[:20],
        "upload_failure_count": len(failures),
        "gradings_not_full_marks": len(bad),
        "errors": len(failures) + len(bad),
        "upload_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": pct(1.0)},
        "upload_wall_seconds": upload_wall,
        "slowest_uploads": [
            {"at_s": round(at, 3), "ms": round(1000 * ms, 1)}
            for at, ms in sorted(timeline, key=lambda x: -x[1])[:20]
        ],
        "wall_seconds": wall,
        "graded_per_minute": len(rows) / wall * 60,
        "end_to_end_seconds_median": statistics.median(end_to_end(r) for r in rows),
        "end_to_end_seconds_p95": _p95([end_to_end(r) for r in rows]),
    }


def print_hw1(h: dict) -> None:
    c = h["in_process_compute"]
    print(
        f"\n{h['slug']} reference, {h['singles']} uploads one at a time: end to end "
        f"{h['end_to_end_seconds_median']:.3f} s (median) against "
        f"{c['total_seconds'] * 1000:.1f} ms "
        f"of the same checks in one process (student calls {c['student_seconds'] * 1000:.1f} ms, "
        f"reference calls {c['reference_seconds'] * 1000:.1f} ms, scoring "
        f"{c['score_seconds'] * 1000:.1f} ms): overhead ratio {h['overhead_ratio']:.1f} "
        f"({h['full_marks']}/{h['singles']} with full marks)"
    )
    phases = ", ".join(f"{k} {v:.3f}" for k, v in h["phases_median"].items())
    print(f"  phases (median s): {phases}")


def print_burst(b: dict) -> None:
    u = b["upload_ms"]
    print(
        f"\nburst: {b['uploads']} uploads from {b['clients']} clients in "
        f"{b['upload_wall_seconds']:.1f} s; upload latency p50 {u['p50']:.0f} ms, p95 "
        f"{u['p95']:.0f} ms, p99 {u['p99']:.0f} ms, max {u['max']:.0f} ms"
    )
    print(
        f"  all graded after {b['wall_seconds']:.1f} s: {b['graded_per_minute']:.1f} per minute; "
        f"errors {b['errors']} ({b['upload_failure_count']} uploads failed, "
        f"{b['gradings_not_full_marks']} gradings without full marks); "
        f"end to end median {b['end_to_end_seconds_median']:.1f} s, "
        f"p95 {b['end_to_end_seconds_p95']:.1f} s"
    )
    for failure in b["upload_failures"][:5]:
        print(f"  e.g. {failure}")


def bench_mnist(base: str, home: Path, tokens: list[str], args: Options) -> dict:
    """One graded MNIST submission end to end against the same compute in one process,
    then several in flight for throughput (each level of ``--inflight`` in turn)."""
    slug = args.mnist
    started_all = time.monotonic()
    # The same threads a graded job gets: the worker's cores shared by its concurrency.
    from autograder.settings import get_settings

    concurrency = args.concurrency or get_settings().worker_concurrency or os.cpu_count() or 1
    threads = max(1, len(os.sched_getaffinity(0)) // concurrency)
    baseline = mnist_baseline(slug, home / "data" / "mnist" / "prepared", threads)
    files = reference_files(slug)

    # The first submission of a homework after the worker started finds no box of its
    # profiles warm (the pool learns them from demand); the one measured is the next.
    def budget() -> float:
        return args.deadline - (time.monotonic() - started_all) if args.deadline else 900.0

    first, _, _ = upload(base, tokens[0], slug, files)
    wait_all(home, [first], timeout=max(1.0, budget()))
    first_row = next(r for r in phase_rows(home) if r["submission_id"] == first)
    time.sleep(10)  # the worker's boxes for the next job get warm (as between two uploads)
    sid, token, _ = upload(base, tokens[0], slug, files)
    wait_all(home, [sid], timeout=max(1.0, budget()))
    single = next(r for r in phase_rows(home) if r["submission_id"] == sid)
    e2e = end_to_end(single)
    scores = [(single["score"], single["max_score"]), (first_row["score"], first_row["max_score"])]
    before_levels = getattr(args, "before_levels", None)  # bench/gpu/check.py's own checks
    if before_levels is not None:
        before_levels()
    levels = []
    for inflight in args.inflight:
        left = budget()
        if left < 10:
            break
        level = inflight_level(base, home, tokens, slug, files, inflight, left)
        scores += level.pop("scores")
        levels.append(level)
    compute = baseline["train_seconds"] + baseline["predict_seconds"]
    best = max(levels, key=lambda lv: lv["graded_per_minute"]) if levels else None
    return {
        "slug": slug,
        "threads": threads,
        "baseline_in_process": baseline,
        "baseline_compute_seconds": compute,
        "end_to_end_seconds": e2e,
        "overhead_ratio": e2e / compute,
        "first_end_to_end_seconds": end_to_end(first_row),
        "timings": json.loads(single["timings"] or "{}"),
        "levels": levels,
        "inflight": best["inflight"] if best else None,
        "inflight_wall_seconds": best["wall_seconds"] if best else None,
        "graded_per_minute": best["graded_per_minute"] if best else None,
        "full_marks": sum(1 for got, top in scores if got == top),
        "submissions": len(scores),
    }


def inflight_level(  # noqa: PLR0913 - one measurement's whole set-up
    base: str, home: Path, tokens: list[str], slug: str, files: list[Path], n: int, left: float
) -> dict:
    """``n`` uploads at once; graded per minute from the first upload to the last result
    (or, cut short at ``left`` seconds, to that moment, counting those graded by then)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        uploads = list(
            pool.map(lambda i: upload(base, tokens[(i + 1) % len(tokens)], slug, files), range(n))
        )
    ids = [s for s, _, _ in uploads]
    cut_short = False
    try:
        wait_all(home, ids, timeout=max(1.0, left - (time.perf_counter() - started)))
    except TimeoutError:
        cut_short = True
    wall = time.perf_counter() - started
    rows = {r["submission_id"]: r for r in phase_rows(home)}
    done = [rows[s] for s in ids if s in rows and rows[s]["finished_at"]]
    return {
        "inflight": n,
        "wall_seconds": wall,
        "finished": len(done),
        "cut_short": cut_short,
        "graded_per_minute": len(done) / wall * 60,
        "states": sorted({r["state"] for r in done}),
        "scores": [(r["score"], r["max_score"]) for r in done],
    }


def mnist_baseline(slug: str, prepared: Path, max_threads: int) -> dict:
    """Training and evaluation compute of each classifier check, in one process each (on
    the GPU when the homework's device is one), with the sandbox's Python."""
    from autograder.settings import get_settings

    settings = get_settings()
    spec = spec_of(slug)
    folder = settings.reference_dir / slug
    total = {"train_seconds": 0.0, "predict_seconds": 0.0}
    for _, check in spec.checks():
        if check.kind != "classifier":
            continue
        weights = next((folder / w for w in check.weights_files if (folder / w).is_file()), None)
        cfg = {
            "code_dir": str(folder),
            "module": check.module,
            "model": check.model,
            "train": check.train.model_dump() if check.train else None,
            "weights": str(weights) if weights else None,
            "prepared_dir": str(prepared),
            "train_subset": check.train_subset,
            "test_subset": check.test_subset,
            "threads": min(spec.resources.threads, max_threads),
            "device": "cuda" if spec.resources.device == "gpu" else "cpu",
        }
        out = subprocess.run(
            [
                str(settings.sandbox_python),
                str(ROOT / "bench" / "mnist_baseline.py"),
                json.dumps(cfg),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        line = json.loads(out.stdout.strip().splitlines()[-1])
        for key in total:
            total[key] += line[key]
    return total


def report_mnist(m: dict) -> None:
    print(
        f"\n{m['slug']} reference, one submission: end to end {m['end_to_end_seconds']:.1f} s "
        f"against {m['baseline_compute_seconds']:.1f} s of training and evaluation in one "
        f"process with the same {m['threads']} thread(s) (overhead ratio "
        f"{m['overhead_ratio']:.2f}); the first after the worker started: "
        f"{m['first_end_to_end_seconds']:.1f} s"
    )
    t = m["timings"]
    print(
        "  phases: "
        + ", ".join(
            f"{k} {v:.1f} s"
            for k, v in sorted(t.items())
            if k.endswith("_seconds") or k == "phases_total"
        )
    )
    for level in m["levels"]:
        print(
            f"{level['inflight']} in flight: {level['graded_per_minute']:.1f} graded per minute "
            f"({level['finished']} finished in {level['wall_seconds']:.1f} s"
            + (", cut short at the deadline)" if level["cut_short"] else ")")
        )
    print(f"{m['full_marks']}/{m['submissions']} submissions with full marks")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
