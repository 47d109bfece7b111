"""``make bench``: upload N submissions over HTTP to a freshly started service and report.

Starts ``autograder serve`` on its embedded defaults (SQLite, embedded Redis, bubblewrap)
in a temporary state directory, creates a student, uploads the hw1-1 reference solution
N times from several client threads, waits until every submission is graded, and prints
per phase the median and p95 seconds, the share of the end-to-end time that was the
student's own compute, and graded submissions per minute. Figures go to
bench/results.json as well. Nothing here is asserted: it only measures.

    python -m bench [--n 40] [--clients 4] [--slug hw1-1] [--concurrency 2]
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
        "SELECT s.received_at, r.queued_at, r.started_at, r.finished_at, r.timings, r.state, "
        "r.score, r.max_score FROM grading_runs r JOIN submissions s ON s.id = r.submission_id"
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
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--slug", default="hw1-1")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ag-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    print(f"starting the service on {base} (state in {home}) ...", flush=True)
    proc, env = start_service(home, port, args.concurrency)
    try:
        from autograder.specs.loader import load_spec_file

        quota = load_spec_file(ROOT / "grading_specs" / f"{args.slug}.yaml").spec.quota
        per_user = min(q for q in (quota.per_day, quota.total, args.n) if q)
        tokens = [add_user(env, f"bench{i}") for i in range(math.ceil(args.n / per_user))]
        files = sorted((ROOT / "reference_solutions" / args.slug).glob("*.py"))
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(
                pool.map(
                    lambda i: upload(base, tokens[i % len(tokens)], args.slug, files), range(args.n)
                )
            )
        wait_all(base, results, timeout=60 + args.n * 10)
        wall = time.perf_counter() - started
        summary = summarize(phase_rows(home / "autograder.db"), [s for _, _, s in results], wall)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": _cpu_model(),
    }
    summary["config"] = vars(args)
    summary["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report(summary)
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def report(s: dict) -> None:
    cfg = s["config"]
    print(
        f"\n{cfg['n']} x {cfg['slug']} reference over HTTP, {cfg['clients']} clients, "
        f"worker concurrency {cfg['concurrency']}, {s['machine']['cpus']} CPUs "
        f"({s['machine']['processor']})"
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
