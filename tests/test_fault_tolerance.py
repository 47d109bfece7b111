"""Fault tolerance with real processes: kill -9 of workers at random moments, a Redis
restart, a Postgres restart while results are stored, concurrent duplicate deliveries and
a sandbox that SIGKILL cannot end in time.

After each: every submission ends graded exactly once (one run row per submission and
spec version, one ``stored`` in all worker logs together), nothing is lost, nothing is
charged for our failures, and no sandbox process, cgroup or tmpfs mount is left behind.
"""

from __future__ import annotations

import contextlib
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
from tests.services import PG_BIN
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
        busy = [n for n in boxes if cgroups.box_cgroup(n).pids()]
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


def _restart_redis(redis_server, down_seconds: float = 0.5) -> None:
    """kill -9 of the broker and a restart in the same mode (persistent or not)."""
    redis_server.restart(down_seconds)


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
    storing (and renewing leases) fails at first: the worker retries its writes with
    back-off, and the runs are graded once, on their first attempt, within 15 s of the
    database being back (not after their leases expire)."""
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, {**FAST_ENV, "AUTOGRADER_LEASE_SECONDS": "30"})
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
        back = time.monotonic()
        _wait_all(ids, 15)
        carried_on = time.monotonic() - back
        _assert_graded_exactly_once(db, ids, [log])
        _stop_then_assert_no_leftovers([worker], mini_env.path("jobs"))
    finally:
        worker.stop()
    text = log.read_text(errors="replace")
    assert "database unavailable" in text  # the writes met the dead database, and retried
    finals = _wait_all(ids, 1)
    # Mostly on their first attempt; on this 2-core machine under load one run in three
    # was seen to take a second (never a third, never failed_infra): what the issue asks is
    # that grading carries on within 15 s, once, uncharged.
    attempts = [r.attempts for r in finals.values()]
    assert all(a <= 2 for a in attempts) and sum(attempts) <= len(attempts) + 1, attempts
    assert carried_on < 15


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
                for p in cgroups.box_cgroup(n).pids()
            ]
            time.sleep(0.05)
        assert pids, "no sandbox started"
        time.sleep(0.3)
        boxes = [n for n in cgroups.box_names() if n.startswith(prefix)]
        frozen_pids = []
        for n in boxes:
            for p in cgroups.box_cgroup(n).pids():
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


def _box_processes(prefix: str, marker: bytes) -> list[int]:
    """Processes of the worker's boxes (groups named ``prefix``...) whose command line
    holds ``marker`` and that are not a box's reaper."""
    found = []
    for name in cgroups.box_names():
        if name.startswith(prefix):
            for pid in cgroups.box_cgroup(name).pids():
                try:
                    line = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if marker in line and b"box_reaper.py" not in line:
                    found.append(pid)
    return found


def _kill_sleeping_student(prefix: str, whole_box: bool, timeout: float = 60) -> list[int]:
    """SIGKILL from outside, once the student's runner sleeps (in its import-time sleep):
    that process alone, or every process of its box, host side included. Returns the
    pids killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _box_processes(prefix, b"sandbox_runner.py"):
            try:
                wchan = Path(f"/proc/{pid}/wchan").read_text()
            except OSError:
                continue
            if "nanosleep" not in wchan and "hrtimer" not in wchan:
                continue
            victims = [pid]
            if whole_box:
                groups = [cgroups.box_cgroup(n) for n in cgroups.box_names()]
                victims = next((g.pids() for g in groups if pid in g.pids()), [pid])
            killed = []
            for victim in victims:
                try:
                    os.kill(victim, 9)
                    killed.append(victim)
                except ProcessLookupError:
                    pass
            if killed:
                return killed
        time.sleep(0.05)
    return []


@pytest.mark.parametrize("whole_box", [False, True])
def test_box_killed_from_outside_is_retried_never_charged(mini_env, db, tmp_path, whole_box):
    """A running box SIGKILLed by someone else (an operator, the host's OOM killer): its
    runner process alone, or every process of its box, host side included. The run goes
    back to the queue as ours ("infra:box-killed") and is graded with full marks on its
    next attempt; it is never failed_student."""
    env = {**FAST_ENV, "AUTOGRADER_LEASE_SECONDS": "15", "AUTOGRADER_SANDBOX_POOL_SIZE": "0"}
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, env, concurrency=1)
    worker.start()
    try:
        (run_id,) = _submit(db, tmp_path, 1, source="import time\ntime.sleep(3)\n" + GOOD)
        killed = _kill_sleeping_student(f"box-{worker.proc.pid}-", whole_box)
        assert killed, "no sleeping student box was found to kill"
        final = wait_final(run_id, timeout=120)
        text = log.read_text(errors="replace")
        assert final.state == RunState.graded, (final.state, final.failure_message, text[-3000:])
        assert final.score == 8
        assert final.attempts == 2
        assert "infra:box-killed" in text
        _assert_graded_exactly_once(db, [run_id], [log])
    finally:
        worker.stop()


def _wait_running(run_id: int, timeout: float = 60) -> None:
    from autograder.db import session_scope

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            run = session.get(GradingRun, run_id)
            if run is not None and run.phase == "running":
                return
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} not running after {timeout}s")


@pytest.mark.parametrize(
    ("down_seconds", "events", "persistent"),
    [
        (0.5, False, False),
        (6.0, False, False),
        (0.5, True, False),
        (6.0, True, False),
        (0.5, False, True),
        (6.0, True, True),
    ],
)
def test_redis_restart_with_a_job_running(
    mini_env, db, tmp_path, redis_server, down_seconds, events, persistent
):
    """The broker restarts while jobs run and others wait, without persistence (its
    messages, the unacked ones included, lost with it) or with an append-only file fsynced
    on every write (they come back, and with them deliveries of jobs already graded): the
    worker process survives (kombu's restore of unacked messages on the dead connection used
    to end it with AttributeError 'NoneType' ... 'hostname'), every job is graded exactly
    once, and the worker goes on grading."""
    if persistent:
        (tmp_path / "redis").mkdir()
        redis_server.restart(0, persist_dir=tmp_path / "redis")
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, FAST_ENV, concurrency=2, events=events)
    worker.start()
    try:
        slow = "import time\ntime.sleep(4)\n" + GOOD
        ids = _submit(db, tmp_path, 4, source=slow)
        _wait_running(ids[0])
        time.sleep(1.0)  # inside the student's import-time sleep
        _restart_redis(redis_server, down_seconds)
        _wait_all(ids, 120)
        time.sleep(3)  # anything that would end the worker after the jobs has had its time
        assert worker.proc.poll() is None, f"the worker died:\n{worker.log()}"
        assert "Unrecoverable error" not in log.read_text(errors="replace")
        more = _submit(db, tmp_path, 2, source=GOOD)
        _wait_all(more, 120)
        assert worker.proc.poll() is None, f"the worker died:\n{worker.log()}"
        _assert_graded_exactly_once(db, ids + more, [log])
    finally:
        worker.stop()
        if persistent:
            redis_server.restart(0, persist_dir=None)  # as the other tests expect it


def _serve_worker_pids(log: Path) -> list[int]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [int(m) for m in re.findall(r"worker started \(pid (\d+)\)", text)]


def test_serve_restarts_its_worker(mini_env, db, tmp_path):
    """``autograder serve`` (real process: API, worker child) whose worker is killed -9 with
    its pool children: serve starts a new worker, which grades what comes next."""
    import signal
    import sys

    from tests.processes import ROOT
    from tests.sandboxed import prepared_mnist
    from tests.services import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        **FAST_ENV,
        "AUTOGRADER_PORT": str(port),
        "AUTOGRADER_WORKER_CONCURRENCY": "1",
        "AUTOGRADER_SANDBOX_POOL_SIZE": "0",
        # Datasets where the sandbox uids can reach them (tmp_path's parents are 0700, and
        # serve refuses to start when a box could not bind a prepared dataset).
        "AUTOGRADER_DATA_DIR": str(prepared_mnist()),
    }
    with open(log, "ab") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "autograder.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b"ready." not in log.read_bytes():
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        (first,) = _serve_worker_pids(log)
        ids = _submit(db, tmp_path, 1, source=GOOD)
        _wait_all(ids, 120)
        os.killpg(first, signal.SIGKILL)  # the worker and its pool children
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_serve_worker_pids(log)) < 2:
            time.sleep(0.2)
        text = log.read_text(errors="replace")
        assert f"worker (pid {first}) exited unexpectedly" in text, text[-3000:]
        second = _serve_worker_pids(log)[-1]
        assert second != first
        os.kill(second, 0)  # alive
        more = _submit(db, tmp_path, 2, source=GOOD)
        _wait_all(more, 120)
        _assert_graded_exactly_once(db, ids + more, [log])
        assert serve.poll() is None
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
            try:
                serve.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()
        for pid in _serve_worker_pids(log):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_scratch_of_a_killed_worker_is_removed(mini_env, db, tmp_path):
    """A worker killed -9 mid-run leaves its run's scratch folder (``run-<pid>-...``) in
    the jobs folder: the next worker removes it when it starts, and while it runs it
    removes those of other dead owners within its housekeeping interval, never a live
    owner's."""
    jobs = mini_env.path("jobs")
    env = {**FAST_ENV, "AUTOGRADER_SANDBOX_POOL_SIZE": "0"}
    first = WorkerProcess(tmp_path / "w1.log", env, concurrency=1)
    first.start()
    try:
        (run_id,) = _submit(db, tmp_path, 1, source="import time\ntime.sleep(3)\n" + GOOD)
        _wait_running(run_id)
        left = list(jobs.glob(f"run-{first.proc.pid}-{run_id}-*"))
        assert left, sorted(p.name for p in jobs.iterdir())
    finally:
        first.kill()
    time.sleep(0.5)
    assert all(p.exists() for p in left)  # the killed worker could not remove it

    second = WorkerProcess(tmp_path / "w2.log", {**env, "AUTOGRADER_HOUSEKEEPING_SECONDS": "1"})
    second.start()
    live = subprocess.Popen(["sleep", "60"])
    try:
        assert not any(p.exists() for p in left), "left after the next worker started"
        assert "scratch folder(s) left by dead workers" in second.log()
        final = wait_final(run_id, timeout=120)  # and the run is graded by the new worker
        assert final.state == RunState.graded, (final.state, final.failure_message)
        # While it runs: another dead owner's folder goes, a live owner's stays.
        gone = subprocess.Popen(["true"])
        gone.wait()
        stale = jobs / f"run-{gone.pid}-1-test"
        kept = jobs / f"run-{live.pid}-2-test"
        stale.mkdir()
        kept.mkdir()
        deadline = time.monotonic() + 15
        while stale.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not stale.exists(), "the periodic housekeeping did not remove it"
        assert kept.exists()
        kept.rmdir()
    finally:
        live.kill()
        live.wait()
        second.stop()


def _pg_start(postgres) -> None:
    _pg(
        postgres,
        "-D",
        str(postgres.root / "data"),
        "-l",
        str(postgres.root / "log"),
        "-w",
        "-o",
        f"-h 127.0.0.1 -p {postgres.port} -k {postgres.root} -c fsync=off -c max_connections=200",
        "start",
    )


def test_upload_during_a_database_outage_answers_503(configured, db, api_server, postgres):
    """The API (a real uvicorn process) while Postgres is down: an upload answers 503 with
    Retry-After and says nothing was stored, never a bare 500; once the database is back,
    the same upload is accepted."""
    import httpx

    from autograder.assignments import sync_specs
    from autograder.models import Role
    from autograder.tokens import create_user

    report = sync_specs(db, configured.specs_dir)
    assert "hw1-1" in report.loaded
    _, token = create_user(db, "outage-student", Role.student)
    db.commit()
    db.close()
    headers = {"Authorization": f"Bearer {token}"}
    from tests.processes import ROOT

    source = ROOT / "reference_solutions" / "hw1-1" / "numpy_basics.py"
    files = [("files", ("numpy_basics.py", source.read_bytes(), "text/x-python"))]
    url = f"{api_server.url}/api/v1/assignments/hw1-1/submissions"
    _pg(postgres, "-D", str(postgres.root / "data"), "-m", "fast", "-w", "stop")
    try:
        down = httpx.post(url, files=files, headers=headers, timeout=30)
        assert down.status_code == 503, (down.status_code, down.text)
        assert down.headers["Retry-After"].isdigit()
        assert down.json()["code"] == "database-unavailable"
    finally:
        _pg_start(postgres)
    up = httpx.post(url, files=files, headers=headers, timeout=30)
    assert up.status_code in (200, 201, 202), (up.status_code, up.text)


def _redis_unacked(redis_server) -> int:  # type: ignore[no-untyped-def]
    """Messages delivered to a worker and not acknowledged (kombu's ``unacked`` hash)."""
    out = subprocess.run(
        ["redis-cli", "-p", str(redis_server.port), "HLEN", "unacked"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip() or 0)


def test_kill_between_the_commit_and_the_acknowledgement(mini_env, db, tmp_path, redis_server):
    """The worker is killed -9 after its result is committed and before the broker hears
    the acknowledgement (the broker is frozen meanwhile, so the window is held open): the
    run stays graded once; the student's next run, which the dead worker never sent, is
    graded by another worker's reconciler; and the old message, delivered again as the
    broker does once its visibility timeout passes (6 h: sent here by hand), grades
    nothing twice."""
    import signal as signals

    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "mini.py").write_text("import time\ntime.sleep(2)\n" + GOOD)
    first = submit_folder(db, MINI_SPEC, folder, user="kim")
    second = submit_folder(db, MINI_SPEC, folder, user="kim")  # waits its turn: fair order
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    worker = WorkerProcess(logs[0], FAST_ENV, concurrency=1)
    worker.start()
    frozen = False
    try:
        assert send_grade(first.id, first.queue)
        _wait_running(first.id)
        redis_server.proc.send_signal(signals.SIGSTOP)
        frozen = True
        wait_final(first.id, timeout=60)  # committed (the database is not frozen)
        time.sleep(0.5)  # the worker now waits on the frozen broker to acknowledge
        worker.kill()
        redis_server.proc.send_signal(signals.SIGCONT)
        frozen = False
        assert _redis_unacked(redis_server) >= 1  # the window was hit: never acknowledged
        other = WorkerProcess(logs[1], FAST_ENV, concurrency=1)
        other.start()
        try:
            _wait_all([first.id, second.id], 120)
            assert send_grade(first.id, first.queue)  # the broker's late redelivery
            deadline = time.monotonic() + 30
            while f"run {first.id}: skipped" not in logs[1].read_text(errors="replace"):
                assert time.monotonic() < deadline, other.log()
                time.sleep(0.2)
            _assert_graded_exactly_once(db, [first.id, second.id], logs)
        finally:
            other.stop()
    finally:
        if frozen:
            redis_server.proc.send_signal(signals.SIGCONT)
        worker.stop()


def test_scratch_full_for_a_while_is_retried_then_graded(mini_env, db, tmp_path):
    """The job scratch (a real 4 MB tmpfs) is full for a while: the runs meanwhile fail
    ``infra:scratch-full`` and are retried with back-off, never charged, never failed;
    once there is room they are graded, each once."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (make test runs as root)")
    jobs = Path("/tmp") / f"ag-jobs-full-{os.urandom(4).hex()}"  # the boxes' uids reach it
    jobs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(jobs)], check=True)
    log = tmp_path / "w.log"
    worker = WorkerProcess(log, {**FAST_ENV, "AUTOGRADER_JOBS_DIR": str(jobs)})
    try:
        worker.start()
        filler = jobs / "filler"
        with open(filler, "wb", buffering=0) as fh:
            try:
                while fh.write(b"\0" * 65536):
                    pass
            except OSError:
                pass
        ids = _submit(db, tmp_path, 2, source=GOOD)
        deadline = time.monotonic() + 60
        while True:
            db.expire_all()
            runs = [db.get(GradingRun, i) for i in ids]
            if all((r.resources or {}).get("infra_retries", 0) >= 2 for r in runs):
                break
            assert time.monotonic() < deadline, (
                [(r.state, r.failure_kind, r.resources) for r in runs],
                worker.log(),
            )
            time.sleep(0.5)
        assert all(r.failure_kind == "infra:scratch-full" for r in runs), [
            (r.failure_kind, r.failure_message) for r in runs
        ]
        assert all(r.state in (RunState.queued, RunState.running) for r in runs)
        filler.unlink()  # room again
        _wait_all(ids, 120)  # each at its next try (back-off 10 s, 20 s, ...)
        _assert_graded_exactly_once(db, ids, [log])
    finally:
        worker.stop()
        subprocess.run(["umount", "-l", str(jobs)], check=False)
        jobs.rmdir()
