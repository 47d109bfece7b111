"""``make bench``: upload N submissions over HTTP to a freshly started service and report.

Starts ``autograder serve`` on its embedded defaults (SQLite, embedded Redis, bubblewrap)
in a temporary state directory, creates a student, uploads the hw1-1 reference solution
N times from several client threads, waits until every submission is graded, and prints
per phase the median and p95 seconds, the share of the end-to-end time that was the
student's own compute, and graded submissions per minute. Figures go to
bench/results.json as well. Nothing here is asserted: it only measures.

Then the MNIST case (``--mnist hw2-2``): the reference solution's training and evaluation
timed in one long-lived process (bench/mnist_baseline.py, the grader's own loop), against
one submission of it graded end to end; then ``--inflight`` submissions at once for the
graded-per-minute figure.

    python -m bench [--n 40] [--clients 4] [--slug hw1-1] [--concurrency 2]
                    [--mnist hw2-2] [--inflight 4]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(home: Path, port: int, concurrency: int) -> tuple[subprocess.Popen, dict]:
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(home),
        "AUTOGRADER_PORT": str(port),
        "AUTOGRADER_WORKER_CONCURRENCY": str(concurrency),
        "AUTOGRADER_JOBS_DIR": f"/tmp/ag-bench-jobs-{port}",
    }
    for key in ("AUTOGRADER_DATABASE_URL", "AUTOGRADER_REDIS_URL"):
        env.pop(key, None)
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


def wait_all(base: str, uploads: list[tuple[str, str, float]], timeout: float) -> None:
    pending = {sid: token for sid, token, _ in uploads}
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while pending and time.monotonic() < deadline:
            for sid, token in list(pending.items()):
                state = client.get(
                    f"{base}/api/v1/submissions/{sid}", headers={"Authorization": f"Bearer {token}"}
                ).json()["state"]
                if state in ("graded", "failed_student", "failed_infra"):
                    del pending[sid]
            time.sleep(0.2)
    if pending:
        raise TimeoutError(f"{len(pending)} submissions not graded after {timeout}s")


def phase_rows(db_path: Path) -> list[dict]:
    import sqlite3

    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    rows = con.execute(
        "SELECT s.id AS submission_id, s.received_at, r.queued_at, r.started_at, "
        "r.finished_at, r.timings, r.state, r.score, r.max_score "
        "FROM grading_runs r JOIN submissions s ON s.id = r.submission_id"
    ).fetchall()
    con.close()
    return [dict(r) for r in rows]


def ts(text: str) -> float:
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def summarize(rows: list[dict], upload_seconds: list[float], wall: float) -> dict:
    phases: dict[str, list[float]] = {
        k: []
        for k in (
            "upload_http",
            "queue_wait",
            "sandbox_start",
            "runtime_import",
            "student_code",
            "scoring",
            "storing",
            "end_to_end",
        )
    }
    phases["upload_http"] = upload_seconds
    shares = []
    for r in rows:
        t = json.loads(r["timings"] or "{}")
        received, started, finished = (
            ts(r["received_at"]),
            ts(r["started_at"]),
            ts(r["finished_at"]),
        )
        pipeline = sum(t.get(k, 0.0) for k in ("fetch", "stage", "run_total", "score"))
        end_to_end = finished - received
        phases["queue_wait"].append(started - received)
        phases["sandbox_start"].append(t.get("sandbox_start", 0.0))
        phases["runtime_import"].append(t.get("runtime_import", 0.0))
        phases["student_code"].append(t.get("student_code", 0.0))
        phases["scoring"].append(t.get("score", 0.0))
        phases["storing"].append(max(0.0, finished - started - pipeline))
        phases["end_to_end"].append(end_to_end)
        shares.append(t.get("student_code", 0.0) / end_to_end if end_to_end > 0 else 0.0)
    table = {k: {"median": statistics.median(v), "p95": _p95(v)} for k, v in phases.items() if v}
    graded = sum(1 for r in rows if r["state"] == "graded" and r["score"] == r["max_score"])
    return {
        "phases": table,
        "student_compute_share_median": statistics.median(shares),
        "graded_full_marks": graded,
        "submissions": len(rows),
        "graded_per_minute": len(rows) / wall * 60,
        "wall_seconds": wall,
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="hw1 uploads")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--slug", default="hw1-1")
    parser.add_argument("--concurrency", type=int, default=2, help="worker concurrency")
    parser.add_argument("--mnist", default="hw2-2", help="MNIST homework ('' to skip)")
    parser.add_argument("--inflight", type=int, default=4, help="MNIST uploads at once")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    home.chmod(0o711)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"starting the service on {base} (state in {home}) ...", flush=True)
    proc, env = start_service(home, port, args.concurrency)
    results: dict = {}
    try:
        tokens = [add_user(env, f"bench{i}") for i in range(users_needed(args))]
        results["hw1"] = bench_uploads(base, home, tokens, args)
        if args.mnist:
            results["mnist"] = bench_mnist(base, home, tokens, args)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_model(),
    }
    results["config"] = vars(args)
    results["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report(results["hw1"], results)
    if "mnist" in results:
        report_mnist(results["mnist"])
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


def spec_of(slug: str):  # type: ignore[no-untyped-def]
    from autograder.specs.loader import load_spec_file

    return load_spec_file(ROOT / "grading_specs" / f"{slug}.yaml").spec


def users_needed(args: argparse.Namespace) -> int:
    """Enough students that nobody exceeds the specs' quotas."""
    needed = 1
    for slug, count in ((args.slug, args.n), (args.mnist, args.inflight + 1)):
        if not slug:
            continue
        quota = spec_of(slug).quota
        per_user = min(q for q in (quota.per_day, quota.total, count) if q)
        needed = max(needed, math.ceil(count / per_user))
    return needed


def reference_files(slug: str) -> list[Path]:
    folder = ROOT / "reference_solutions" / slug
    return [folder / f.name for f in spec_of(slug).files if (folder / f.name).is_file()]


def bench_uploads(base: str, home: Path, tokens: list[str], args: argparse.Namespace) -> dict:
    files = reference_files(args.slug)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        uploads = list(
            pool.map(
                lambda i: upload(base, tokens[i % len(tokens)], args.slug, files), range(args.n)
            )
        )
    wait_all(base, uploads, timeout=60 + args.n * 10)
    wall = time.perf_counter() - started
    ids = {sid for sid, _, _ in uploads}
    rows = [r for r in phase_rows(home / "autograder.db") if r["submission_id"] in ids]
    return summarize(rows, [s for _, _, s in uploads], wall)


def bench_mnist(base: str, home: Path, tokens: list[str], args: argparse.Namespace) -> dict:
    """One graded MNIST submission end to end against the same compute in one process,
    then several in flight for throughput."""
    slug = args.mnist
    # The same threads a graded job gets: the worker's cores shared by its concurrency.
    threads = max(1, len(os.sched_getaffinity(0)) // args.concurrency)
    baseline = mnist_baseline(slug, home / "data" / "mnist" / "prepared", threads)
    files = reference_files(slug)
    sid, token, _ = upload(base, tokens[0], slug, files)
    wait_all(base, [(sid, token, 0.0)], timeout=900)
    single = next(r for r in phase_rows(home / "autograder.db") if r["submission_id"] == sid)
    end_to_end = ts(single["finished_at"]) - ts(single["received_at"])
    started = time.perf_counter()
    with ThreadPoolExecutor(args.inflight) as pool:
        uploads = list(
            pool.map(
                lambda i: upload(base, tokens[(i + 1) % len(tokens)], slug, files),
                range(args.inflight),
            )
        )
    wait_all(base, uploads, timeout=900 * args.inflight)
    wall = time.perf_counter() - started
    rows = {r["submission_id"]: r for r in phase_rows(home / "autograder.db")}
    scores = [(rows[s]["score"], rows[s]["max_score"]) for s, _, _ in uploads] + [
        (single["score"], single["max_score"])
    ]
    compute = baseline["train_seconds"] + baseline["predict_seconds"]
    return {
        "slug": slug,
        "threads": threads,
        "baseline_in_process": baseline,
        "baseline_compute_seconds": compute,
        "end_to_end_seconds": end_to_end,
        "overhead_ratio": end_to_end / compute,
        "timings": json.loads(single["timings"] or "{}"),
        "inflight": args.inflight,
        "inflight_wall_seconds": wall,
        "graded_per_minute": args.inflight / wall * 60,
        "full_marks": sum(1 for got, best in scores if got == best),
        "submissions": len(scores),
    }


def mnist_baseline(slug: str, prepared: Path, max_threads: int) -> dict:
    """Training and evaluation compute of each classifier check, in one process each."""
    spec = spec_of(slug)
    folder = ROOT / "reference_solutions" / slug
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
        }
        out = subprocess.run(
            [
                str(ROOT / ".venv-sandbox" / "bin" / "python"),
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
        f"{m['overhead_ratio']:.2f})"
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
    print(
        f"{m['inflight']} in flight: {m['graded_per_minute']:.1f} graded per minute "
        f"({m['full_marks']}/{m['submissions']} with full marks)"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def report(s: dict, top: dict) -> None:
    cfg = top["config"]
    print(
        f"\n{cfg['n']} x {cfg['slug']} reference over HTTP, {cfg['clients']} clients, "
        f"worker concurrency {cfg['concurrency']}, {top['machine']['cpus']} CPUs "
        f"({top['machine']['processor']})"
    )
    print(f"{'phase':<16}{'median s':>10}{'p95 s':>10}")
    for name, v in s["phases"].items():
        print(f"{name:<16}{v['median']:>10.3f}{v['p95']:>10.3f}")
    print(
        f"student's own compute, share of end-to-end (median): "
        f"{100 * s['student_compute_share_median']:.1f}%"
    )
    print(
        f"graded submissions per minute: {s['graded_per_minute']:.1f} "
        f"({s['graded_full_marks']}/{s['submissions']} with full marks)"
    )


if __name__ == "__main__":
    main()
