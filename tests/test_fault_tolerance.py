"""Fault tolerance with real processes: kill -9 of workers at random moments, a Redis
restart, a Postgres restart while results are stored, concurrent duplicate deliveries and
a sandbox that SIGKILL cannot end in time.

After each: every submission ends graded exactly once (one run row per submission and
spec version, one ``stored`` in all worker logs together), nothing is lost, nothing is
charged for our failures, and no sandbox process, cgroup or tmpfs mount is left behind.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from autograder.models import GradingRun, RunState, Submission, utcnow
from autograder.queueing import send_grade
from tests.factories import submit_folder, wait_final
from tests.processes import WorkerProcess
from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox
from tests.services import PG_BIN, wait_port
from worker.sandbox import cgroups

pytestmark = pytest.mark.slow

GOOD = (MINI_REFERENCE / "mini.py").read_text()
# About a second and a half in the sandbox, so that kills land in every phase.
SLOW = "import time\ntime.sleep(0.8)\n" + GOOD.replace(
    "def fit(x, y):\n", "def fit(x, y):\n    time.sleep(0.5)\n"
)
FAST_ENV = {
    "AUTOGRADER_RECONCILE_SECONDS": "1",
    "AUTOGRADER_REQUEUE_AFTER_SECONDS": "3",
    "AUTOGRADER_LEASE_SECONDS": "4",
}


@pytest.fixture
def mini_env(configured, monkeypatch):
    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    from tests.conftest import reset_caches

    reset_caches()
    return configured


def _submit(db, tmp_path: Path, n: int, source: str = SLOW, send: bool = True) -> list[int]:
    """n submissions, one student each (fair order holds a student's second run back)."""
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    (folder / "mini.py").write_text(source)
    ids = []
    for i in range(n):
        run = submit_folder(db, MINI_SPEC, folder, user=f"s{i}-{os.urandom(3).hex()}")
        if send:
            assert send_grade(run.id, run.queue)
            db.execute(
                update(GradingRun).where(GradingRun.id == run.id).values(enqueued_at=utcnow())
            )
            db.commit()
        ids.append(run.id)
    return ids


def _wait_all(ids: list[int], timeout: float) -> dict[int, GradingRun]:
    deadline = time.monotonic() + timeout
    return {i: wait_final(i, timeout=max(1.0, deadline - time.monotonic())) for i in ids}


def _stored_counts(logs: list[Path]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for log in logs:
        if log.exists():
            for m in re.finditer(r"run (\d+): stored", log.read_text(errors="replace")):
                counts[int(m.group(1))] = counts.get(int(m.group(1)), 0) + 1
    return counts


def _assert_graded_exactly_once(db, ids: list[int], logs: list[Path]) -> None:
    finals = _wait_all(ids, 5)
    for run_id, run in finals.items():
        assert run.state == RunState.graded, (run_id, run.state, run.failure_message)
        assert run.score == run.max_score == 8, (run_id, run.outcomes)
    # One result per (submission, spec version): no second run row appeared.
    subs = [finals[i].submission_id for i in ids]
    rows = db.scalars(select(GradingRun).where(GradingRun.submission_id.in_(subs))).all()
    assert len(rows) == len(ids)
    # Never stored twice. A run may have no line at all: its worker was killed -9 between
    # the commit and the log line reaching the file (seen once in CI, seed 400930).
    counts = _stored_counts(logs)
    assert all(counts.get(i, 0) <= 1 for i in ids), f"stored lines per run: {counts}"
    # Charged to the quota: exactly the graded submissions, one each.
    charged = db.scalars(
        select(Submission.id).where(
            Submission.id.in_(subs), Submission.runs.any(GradingRun.state == RunState.graded)
        )
    ).all()
    assert len(charged) == len(ids)


def _assert_no_leftovers(owner_pids: list[int], jobs: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        prefixes = tuple(f"box-{p}-" for p in owner_pids)
        boxes = [n for n in cgroups.box_names() if n.startswith(prefixes)]
        busy = [n for n in boxes if cgroups.BoxCgroup(n).pids()]
        # The killed workers' mounts only: the live worker keeps boxes started ahead of
        # demand (worker/sandbox/pool.py), mounted while they wait.
        mounts = [
            line
            for line in Path("/proc/mounts").read_text().splitlines()
            if any(f"{jobs}/{prefix}" in line for prefix in prefixes)
        ]
        if not boxes and not mounts:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"left behind: groups {boxes} (busy {busy}), mounts {mounts}")
        time.sleep(0.5)


def _stop_then_assert_no_leftovers(workers: list, jobs: Path, timeout: float = 20) -> None:
    """A live worker keeps boxes started ahead of demand (worker/sandbox/pool.py): stopped,
    it must have removed them, with whatever its jobs left."""
    pids = [w.proc.pid for w in workers]
    for w in workers:
        w.stop()
    _assert_no_leftovers(pids, jobs, timeout)


def test_kill9_at_random_moments_loses_nothing(mini_env, db, tmp_path):
    """Workers are killed -9 again and again at random moments (seeded, printed) while six
    slow submissions are graded; a last worker finishes whatever is left."""
    seed = int(os.environ.get("AG_FAULT_SEED", random.SystemRandom().randrange(10**6)))
    print(f"kill -9 trials: seed {seed} (rerun with AG_FAULT_SEED={seed})")
    rng = random.Random(seed)
    env = {**FAST_ENV, "AUTOGRADER_MAX_ATTEMPTS": "30"}
    ids = _submit(db, tmp_path, 6)
    logs, pids, phases = [], [], []
    for trial in range(12):
        log = tmp_path / f"w{trial}.log"
        worker = WorkerProcess(log, env)
        worker.start()
        logs.append(log)
        pids.append(worker.proc.pid)
        delay = rng.uniform(0.2, 2.5)
        time.sleep(delay)
        db.expire_all()
        seen = {
            r.id: r.phase or str(r.state)
            for r in db.scalars(select(GradingRun).where(GradingRun.id.in_(ids)))
        }
        db.commit()
        worker.kill()
        phases.append(seen)
        print(f"trial {trial}: kill -9 after {delay:.2f}s; runs at that moment: {seen}")
        if all(s in ("graded", "failed_student", "failed_infra") for s in seen.values()):
            break
    last_log = tmp_path / "last.log"
    last = WorkerProcess(last_log, env)
    last.start()
    logs.append(last_log)
    try:
        _wait_all(ids, 180)
        _assert_graded_exactly_once(db, ids, logs)
        _assert_no_leftovers(pids, mini_env.path("jobs"))
    finally:
        last.stop()
    # The kills hit runs while they were being worked on, not only idle workers.
    hit = {p for seen in phases for p in seen.values()}
    assert hit & {"staging", "running"}, f"no kill landed during grading: {phases}"
    attempts = [r.attempts for r in _wait_all(ids, 1).values()]
    print(f"attempts per run: {attempts}")
    assert max(attempts) >= 2


def _restart_redis(redis_server) -> None:
    redis_server.proc.kill()
    redis_server.proc.wait()
    time.sleep(0.5)
    redis_server.proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(redis_server.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(redis_server.port)


def test_redis_restart_with_jobs_queued(mini_env, db, tmp_path, redis_server):
    """Messages in the broker are lost with its restart (no persistence): the reconciler
    finds the queued runs in the database and sends them again; a worker that was
    connected reconnects."""
    first_log = tmp_path / "w1.log"
    worker = WorkerProcess(first_log, FAST_ENV)
    worker.start()
    try:
        ids = _submit(db, tmp_path, 4, source=GOOD)
        _restart_redis(redis_server)  # while they are queued (and some maybe running)
        more = _submit(db, tmp_path, 2, source=GOOD)  # sent to the new, empty broker
        _wait_all(ids + more, 120)
        _assert_graded_exactly_once(db, ids + more, [first_log])
    finally:
        worker.stop()
    # A restart with no worker at all: messages queued, broker restarted, worker later.
    queued = _submit(db, tmp_path, 3, source=GOOD)
    _restart_redis(redis_server)
    second_log = tmp_path / "w2.log"
    worker = WorkerProcess(second_log, FAST_ENV)
    worker.start()
    try:
        _wait_all(queued, 120)
        _assert_graded_exactly_once(db, queued, [second_log])
        _stop_then_assert_no_leftovers([worker], mini_env.path("jobs"))
    finally:
        worker.stop()


def _pg(postgres, *args: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), *args],
        check=True,
        capture_output=True,
    )


def test_postgres_restart_while_results_are_stored(mini_env, db, tmp_path, postgres):
    """The database goes down while sandboxes run and comes back after they finished, so
    storing (and renewing leases) fails; the runs are graded on a later attempt, once."""
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, FAST_ENV)
    worker.start()
    data = str(postgres.root / "data")
    try:
        ids = _submit(db, tmp_path, 3)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.expire_all()
            if any(r.phase == "running" for r in db.scalars(select(GradingRun))):
                break
            time.sleep(0.05)
        db.close()
        _pg(postgres, "-D", data, "-m", "fast", "-w", "stop")
        time.sleep(3.0)  # the running boxes finish: their results meet a dead database
        _pg(
            postgres,
            "-D",
            data,
            "-l",
            str(postgres.root / "log"),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {postgres.port} -k {postgres.root} -c fsync=off "
            "-c max_connections=200",
            "start",
        )
        _wait_all(ids, 150)
        _assert_graded_exactly_once(db, ids, [log])
        _stop_then_assert_no_leftovers([worker], mini_env.path("jobs"))
    finally:
        worker.stop()
    text = log.read_text(errors="replace")
    assert "OperationalError" in text or "connection" in text.lower()
    finals = _wait_all(ids, 1)
    assert max(r.attempts for r in finals.values()) >= 2, [r.attempts for r in finals.values()]


def test_concurrent_duplicate_deliveries_grade_once(mini_env, db, tmp_path):
    """The same run delivered eight times at once to two workers (four pool children):
    one claims it, the others find nothing to claim."""
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [WorkerProcess(p, FAST_ENV) for p in logs]
    for w in workers:
        w.start()
    try:
        ids = _submit(db, tmp_path, 3, source=GOOD, send=False)
        for run_id in ids:
            for _ in range(8):
                send_grade(run_id, "cpu")
        _wait_all(ids, 120)
        time.sleep(3)  # let every duplicate arrive and find nothing
        _assert_graded_exactly_once(db, ids, logs)
        finals = _wait_all(ids, 1)
        assert all(r.attempts == 1 for r in finals.values())
        skipped = sum(p.read_text().count(": skipped") for p in logs)
        assert skipped >= 3 * 7 - 3, skipped  # nearly every duplicate found nothing
        _stop_then_assert_no_leftovers(workers, mini_env.path("jobs"))
    finally:
        for w in workers:
            w.stop()


FREEZER = Path("/sys/fs/cgroup/freezer")


def test_sandbox_that_cannot_be_killed_in_time(mini_env, db, tmp_path):
    """A box whose processes ignore SIGKILL past the time limit. Modelled honestly: the
    test puts the box's processes in a frozen cgroup v1 freezer group, where a SIGKILL
    stays pending and the process sits in uninterruptible sleep (state D), as a process
    stuck in the kernel (a hung disk or driver) does. The worker must not hang, must not
    blame the student (no timeout grade), and must retry; the stuck box is cleaned up
    once its processes finally die."""
    if not FREEZER.is_dir():
        pytest.skip("the cgroup v1 freezer controller is not mounted")
    # Cold boxes: freezing "every box of the worker" must not catch boxes warming for the
    # next job. The same stuck box in a warm box: tests/test_box_pool.py.
    env = {**FAST_ENV, "AUTOGRADER_LEASE_SECONDS": "15", "AUTOGRADER_SANDBOX_POOL_SIZE": "0"}
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, env, concurrency=1)
    worker.start()
    frozen = FREEZER / f"agtest-{os.getpid()}-{os.urandom(3).hex()}"
    frozen.mkdir()
    try:
        (run_id,) = _submit(db, tmp_path, 1, source="import time\ntime.sleep(2)\n" + GOOD)
        prefix = f"box-{worker.proc.pid}-"
        deadline = time.monotonic() + 60
        pids: list[int] = []
        while time.monotonic() < deadline and not pids:
            pids = [
                p
                for n in cgroups.box_names()
                if n.startswith(prefix)
                for p in cgroups.BoxCgroup(n).pids()
            ]
            time.sleep(0.05)
        assert pids, "no sandbox started"
        time.sleep(0.3)
        boxes = [n for n in cgroups.box_names() if n.startswith(prefix)]
        frozen_pids = []
        for n in boxes:
            for p in cgroups.BoxCgroup(n).pids():
                try:  # the reference's box may just have ended
                    (frozen / "cgroup.procs").write_text(str(p))
                    frozen_pids.append(p)
                except ProcessLookupError:
                    pass
        assert frozen_pids, "every box ended before it could be frozen"
        (frozen / "freezer.state").write_text("FROZEN")
        # The frozen boxes outlive the 6 s limit and every SIGKILL; the run goes back to
        # the queue as ours and a fresh box grades it.
        final = wait_final(run_id, timeout=120)
        assert final.state == RunState.graded, (final.state, final.failure_message)
        assert final.score == 8
        assert final.attempts == 2
        assert "could not be killed" in log.read_text(errors="replace")
        states = [
            Path(f"/proc/{p}/status").read_text()
            for p in frozen_pids
            if Path(f"/proc/{p}").exists()
        ]
        assert any("State:\tD" in s for s in states), "the frozen box was not stuck"
        (frozen / "freezer.state").write_text("THAWED")
        # While the worker lives: its reaper removes the stuck box once it can die (the
        # worker runs cold boxes here, so it holds no warm ones).
        _assert_no_leftovers([worker.proc.pid], mini_env.path("jobs"), timeout=30)
    finally:
        (frozen / "freezer.state").write_text("THAWED")
        worker.stop()
        for _ in range(50):
            try:
                frozen.rmdir()
                break
            except OSError:
                time.sleep(0.1)
