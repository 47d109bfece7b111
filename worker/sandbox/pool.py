"""Boxes started ahead of demand, each used for exactly one job (the bwrap backend).

A warm box is a box like any other -- the same setpriv/bwrap command line, uid slot,
cgroups, rlimits, sized tmpfs and cleared environment as a box started for a job -- whose
program is worker/runner/warm_start.py: it imports the runtime the job will need (numpy,
or torch with its first-use paths warmed) and then blocks on a FIFO. When a job comes:

1. its code and inputs are hard-linked (or copied) into the box's own, still empty,
   read-only /job/src and /job/in;
2. the box's limits that run from the start of the job are set from outside: RLIMIT_CPU
   of every process in the box to what it has used plus the job's CPU seconds (prlimit,
   lowering only), the wall clock from now; warm-up ran at nice 19 and now runs at 0;
3. the worker writes b"1" and the job's command line to the FIFO, and unlinks it (the
   job sees an empty /job/ctl); the box runs the job's argv in the same process;
4. the box then ends exactly as a cold one: SIGKILL of its cgroup, outputs read after
   every process is dead, tmpfs, cgroups and folders removed. It is never reused.

What is shared between jobs: nothing. Each box has its own uid slot (held from start to
removal), tmpfs, folders and cgroups, and sees only what its one job puts in. What a box
can see before its job arrives is the same read-only system every box sees.

A box's *profile* is everything fixed when it starts: the runtime, the memory, process,
thread, file and tmpfs limits, the read-only data files, the GPU, the extra environment.
Only a job whose profile is equal can take it. The pool learns profiles from demand: after
a job takes (or misses) a box of some profile, the pool keeps ``size`` boxes of it warm,
until that profile has not been asked for in ``idle_seconds``.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from worker import housekeeping
from worker.cpus import available_memory_mb
from worker.sandbox import cgroups
from worker.sandbox.base import (
    PYTHON,
    RUNNER_DIR,
    SRC,
    GpuAssignment,
    Limits,
    Request,
    Result,
    SandboxUnavailable,
)
from worker.sandbox.boxfs import BoxFolder

if TYPE_CHECKING:
    from worker.sandbox.bwrap import BwrapBackend

log = logging.getLogger(__name__)

CTL = "/job/ctl"
WARM_START = f"{RUNNER_DIR}/warm_start.py"
READY_MARKER = b"\x1e[autograder box warm]\n"  # worker/runner/warm_start.py writes it
# RLIMIT_CPU of a warm box: the job's CPU seconds (part of the profile) plus this much for
# the warm-up. The job's own CPU seconds are enforced exactly from outside, on the box's
# whole cgroup from the moment the job starts (as for a cold box); the rlimit is a backstop.
WARM_CPU_ALLOWANCE = 120
WARM_NICE = 19
READY_TIMEOUT = 180.0
# The read-only tmpfs of a warm box's code and inputs, sized before the job is known (only
# what is copied in takes memory): more than any upload and its generated inputs.
WARM_RO_MB = 256  # a box that is not warm by then is given up (ours, retried)
# Limits that take effect when the job starts, not part of a profile.
PER_JOB_LIMITS = ("wall_seconds", "cpu_seconds", "output_bytes", "max_out_files", "cores")


class WarmBoxFailed(SandboxUnavailable):
    """A warm box died (or never got warm) before its job was handed over: nothing of the
    job ran, so the backend runs the job in a cold box instead."""


@dataclass(frozen=True)
class Profile:
    host: tuple[str, ...]  # the backend's folders and uids: boxes of one configuration
    runtime: str
    limits: Limits  # with the per-job limits at their defaults
    cpu_seconds: int  # the job's CPU seconds, for the box's RLIMIT_CPU
    data: tuple[tuple[str, str], ...]
    env: tuple[tuple[str, str], ...]
    gpu: GpuAssignment | None


def profile_of(request: Request, backend: BwrapBackend) -> Profile | None:
    """The profile a box for ``request`` must have been started with; None when the
    request's command is not one a warm box can run (it then gets a cold box)."""
    args = request.argv[1:]
    while args[:1] == ["-B"]:
        args = args[1:]
    if request.argv[:1] != [PYTHON] or not args:
        return None
    script = args[0]
    if script != "-c" and not (
        script.startswith((f"{RUNNER_DIR}/", f"{SRC}/"))
        and script.endswith(".py")
        and ".." not in script
    ):
        return None
    if args[0] == "-c" and len(args) < 2:
        return None
    defaults = Limits()
    limits = replace(request.limits, **{k: getattr(defaults, k) for k in PER_JOB_LIMITS})
    return Profile(
        host=(
            str(backend.jobs_dir),
            str(backend.venv_for(request)),
            str(backend.uid_base),
            str(backend.slots),
            str(backend.slot_dir),
        ),
        runtime=request.runtime,
        limits=limits,
        cpu_seconds=request.limits.cpu_limit,
        data=tuple(sorted((k, str(v)) for k, v in request.data_files.items())),
        env=tuple(sorted(request.env.items())),
        gpu=request.gpu,
    )


class WarmBox:
    """One started box waiting for its one job."""

    def __init__(self, backend: BwrapBackend, profile: Profile, *, background: bool):
        from worker.sandbox.bwrap import _OutputCapture

        self.backend, self.profile = backend, profile
        self.started = time.monotonic()
        self.folder = BoxFolder(backend.jobs_dir)
        self.group = cgroups.box_cgroup(self.folder.name)
        self.proc: subprocess.Popen[bytes] | None = None
        self._slots: list[TextIO] = []
        self.on_done: Any = None  # the pool's: called once the box has served its job
        # A background box does not wait for a slot: the jobs' boxes need them more.
        slot_uid, self._slots = backend.try_slot(wait=0 if background else 600, gpu=profile.gpu)
        self.uid = backend.box_uid(slot_uid, profile.gpu)
        try:
            lim = profile.limits
            self.folder.create(self.uid, lim.rw_mb, WARM_RO_MB)
            ctl = self.folder.ro / "ctl"  # on the box's own tmpfs: no host path in its mounts
            ctl.mkdir(mode=0o755)
            os.mkfifo(ctl / "go", 0o644)
            os.chmod(ctl / "go", 0o644)
            self.group.create(lim.memory_mb * 1024 * 1024, lim.processes + 16)
            # A box started for a job waiting now (a miss) imports nothing ahead: the job
            # imports what it needs, as in a cold box, with no warm-up to wait for.
            runtime = profile.runtime if background else "none"
            request = Request(
                argv=[PYTHON, "-B", WARM_START, runtime],
                src_dir=self.folder.ro / "src",
                in_dir=self.folder.ro / "in",
                limits=lim,
                env=dict(profile.env),
                data_files={k: Path(v) for k, v in profile.data},
                gpu=profile.gpu,
                runtime=profile.runtime,  # which Python environment the box gets
            )
            self.proc = backend.spawn(
                request,
                self.uid,
                self.folder,
                self.group,
                profile.cpu_seconds + WARM_CPU_ALLOWANCE,
                nice=WARM_NICE if background else 0,  # 0: the worker's own, inherited
                extra=["--ro-bind", str(ctl), CTL],
            )
            self.capture = _OutputCapture(
                cast(io.BufferedReader, self.proc.stdout),  # stdout=PIPE (spawn): never None
                64 * 1024,
                ready_marker=READY_MARKER,
            )
        except BaseException as exc:
            self.discard()
            if isinstance(exc, OSError):
                raise SandboxUnavailable(f"cannot start a warm box: {exc}") from exc
            raise

    # ------------------------------------------------------------------ state

    def ready(self) -> bool:
        return self.capture.ready.is_set() and self.proc is not None and self.proc.poll() is None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the box is warm; False at once if it died warming up (its output says
        why), or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.capture.ready.wait(0.05):
            if not self.alive() or time.monotonic() > deadline:
                return self.capture.ready.is_set() and self.alive()
        return self.alive()

    def died_warming(self) -> bool:
        return not self.alive() and not self.capture.ready.is_set()

    # ------------------------------------------------------------------ the job

    def run(self, request: Request, out_dir: Path) -> Result:
        """Hand ``request`` to this box, wait for it to end, collect its outputs, remove it."""
        from worker.sandbox.bwrap import finish_box, wait_box

        asked = time.monotonic()
        try:
            lim = request.limits
            if not self.wait_ready(READY_TIMEOUT):
                raise WarmBoxFailed(
                    "a warm sandbox did not get ready: "
                    + self.capture.data.decode("utf-8", errors="replace")[-1000:]
                )
            self.folder.stage(request.src_dir, request.in_dir)
            job = json.dumps({"argv": request.argv, "env": {}}).encode()
            cpu_before = self.group.cpu_seconds() or 0.0
            self._renice(lim.cores)
            self.capture.restart(lim.output_bytes)
            started = time.monotonic()
            self._go(job)

            def job_cpu() -> float | None:
                used = self.group.cpu_seconds()
                return None if used is None else max(0.0, used - cpu_before)

            assert self.proc is not None
            result = wait_box(
                self.proc, self.capture, self.group, request, self.folder, started, job_cpu,
                lim.cpu_limit,
            )  # fmt: skip
            result.start_seconds = started - asked
            result.cpu_seconds = job_cpu()
            return finish_box(result, self.folder, self.group, out_dir, lim)
        finally:
            self.discard()
            if self.on_done is not None:
                self.on_done()

    def _renice(self, cores: tuple[int, ...] | None) -> None:
        """Warm-up ran at nice 19 (it only takes spare CPU) on any core; the job runs at
        the worker's own priority and on the job's cores, as a cold box (which inherits
        them) does. Both are per thread: every thread of every process is set."""
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        for pid in self.group.pids():
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                    if cores:
                        os.sched_setaffinity(int(tid), cores)
            except (ProcessLookupError, FileNotFoundError):
                continue
            except OSError as exc:
                raise SandboxUnavailable(f"cannot set a warm box's priority: {exc}") from exc

    def _go(self, job: bytes) -> None:
        """Hand the job over the FIFO (the box is blocked opening it for reading), then
        unlink the FIFO: the box keeps its open end, and the job sees an empty /job/ctl
        (a program that opened the FIFO itself would otherwise wait forever)."""
        fifo = self.folder.ro / "ctl" / "go"
        deadline = time.monotonic() + 10
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: no reader yet
                if time.monotonic() > deadline or not self.alive():
                    raise SandboxUnavailable(
                        f"a warm box is not waiting for its job: {exc}"
                    ) from exc
                time.sleep(0.002)
        try:
            os.set_blocking(fd, True)
            os.write(fd, b"1" + job)
        finally:
            os.close(fd)
            fifo.unlink(missing_ok=True)

    def discard(self) -> None:
        """Kill and remove the box (used or not); release its slot."""
        from worker.sandbox.bwrap import dispose, release_locks

        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=2)  # stuck: dispose leaves it to the reaper
        dispose(self.folder, self.group)
        release_locks(self._slots)


class BoxPool:
    """Warm boxes of the profiles this process has been asked for lately."""

    _pid: int  # set by shared_pool (the process that made it); absent on other pools

    def __init__(self, size: int, idle_seconds: float):
        self.size, self.idle_seconds = size, idle_seconds
        self._boxes: dict[Profile, list[WarmBox]] = {}
        self._wanted: dict[Profile, tuple[float, BwrapBackend]] = {}
        # Boxes of a profile in use at once, now and at most (a call-based job uses two:
        # the student's and the reference's): as many are kept warm, up to ``size``.
        self._inflight: dict[Profile, int] = {}
        self._peak: dict[Profile, int] = {}
        # Profiles whose boxes died warming up: (failures in a row, not before this time).
        self._failures: dict[Profile, tuple[int, float]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.hits = self.misses = 0

    def take(self, backend: BwrapBackend, profile: Profile) -> WarmBox:
        """A warm box of ``profile`` if one is ready (or warming), else one started now."""
        with self._cond:
            self._wanted[profile] = (time.monotonic(), backend)
            boxes = [b for b in self._boxes.get(profile, []) if b.alive()]
            dead = [b for b in self._boxes.get(profile, []) if not b.alive()]
            ready = [b for b in boxes if b.ready()]
            box = next(iter(ready or boxes), None)
            if box is not None:
                boxes.remove(box)
            self._boxes[profile] = boxes
            self._inflight[profile] = self._inflight.get(profile, 0) + 1
            self._peak[profile] = max(self._peak.get(profile, 0), self._inflight[profile])
            self._ensure_thread()
            self._cond.notify_all()
        for b in dead:
            b.discard()
        if box is not None:
            self.hits += 1
        else:
            self.misses += 1
            try:
                box = WarmBox(backend, profile, background=False)
            except BaseException:
                self._done(profile)
                raise
        box.on_done = lambda: self._done(profile)
        return box

    def _done(self, profile: Profile) -> None:
        with self._cond:
            self._inflight[profile] = max(0, self._inflight.get(profile, 0) - 1)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            # Warm boxes die with the thread that started them (bwrap --die-with-parent
            # follows the parent thread): one long-lived thread starts them all.
            self._thread = threading.Thread(target=self._refill_loop, name="box-pool", daemon=True)
            self._thread.start()

    def _refill_loop(self) -> None:
        while True:
            if _orphaned():
                # Our worker's main process is gone (killed with -9: a pool child can
                # outlive it). Start nothing more and remove what we hold, or the next
                # worker's sweep of dead owners' boxes would race new ones.
                log.warning("the worker is gone: removing this process's warm sandboxes")
                threading.Thread(target=self.close, daemon=True).start()
                return
            with self._cond:
                if self._closed:
                    return
                todo = self._plan()
                if not todo:
                    self._cond.wait(timeout=5)
                    continue
            profile, backend = todo
            try:
                box = WarmBox(backend, profile, background=True)
            except SandboxUnavailable as exc:
                log.warning("could not warm a sandbox: %s", exc)
                with self._cond:
                    self._cond.wait(timeout=5)
                continue
            with self._cond:
                if self._closed:
                    box.discard()
                    return
                self._boxes.setdefault(profile, []).append(box)

    def _warm_up_failed(self, profile: Profile, box: WarmBox) -> None:
        """A box died warming up (a runtime that cannot start here): such boxes are not
        started again and again; the pool waits 10 s, then twice as long each time, up to
        10 minutes, and logs why."""
        count = self._failures.get(profile, (0, 0.0))[0] + 1
        pause = min(600.0, 10.0 * 2 ** (count - 1))
        self._failures[profile] = (count, time.monotonic() + pause)
        tail = box.capture.data.decode("utf-8", errors="replace")[-1500:]
        log.warning(
            "a warm sandbox (runtime %s) died warming up; not warming it for %.0f s: %s",
            profile.runtime,
            pause,
            tail,
        )

    def _plan(self) -> tuple[Profile, Any] | None:
        """The next box to start (a wanted profile short of boxes), retiring idle ones."""
        now = time.monotonic()
        for profile, (last, backend) in list(self._wanted.items()):
            boxes = self._boxes.get(profile, [])
            if now - last > self.idle_seconds:
                del self._wanted[profile]
                self._peak.pop(profile, None)
                for b in self._boxes.pop(profile, []):
                    threading.Thread(target=b.discard, daemon=True).start()
                continue
            alive = [b for b in boxes if b.alive()]
            for b in boxes:
                if not b.alive():
                    if b.died_warming():
                        self._warm_up_failed(profile, b)
                    threading.Thread(target=b.discard, daemon=True).start()
            if any(b.ready() for b in alive):
                self._failures.pop(profile, None)
            self._boxes[profile] = alive
            if self._failures.get(profile, (0, 0.0))[1] > now:
                continue  # its boxes die warming up: jobs get cold boxes meanwhile
            wanted = min(self.size, max(1, self._peak.get(profile, 1)))
            if len(alive) < wanted and _memory_allows(profile, backend):
                return profile, backend
        return None

    def close(self) -> None:
        """Remove every warm box (tests, shutdown)."""
        with self._cond:
            self._closed = True
            boxes = [b for bs in self._boxes.values() for b in bs]
            self._boxes.clear()
            self._wanted.clear()
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=READY_TIMEOUT)
        for b in boxes:
            b.discard()

    def warm_count(self) -> int:
        with self._cond:
            return sum(1 for bs in self._boxes.values() for b in bs if b.ready())


def _orphaned() -> bool:
    """True in a worker's pool child whose main process (the boxes' owner) has died."""
    owner = housekeeping.OWNER_PID
    return owner != os.getpid() and not housekeeping.owner_alive(f"box-{owner}-x")


def _memory_allows(profile: Profile, backend: BwrapBackend) -> bool:
    """Warm boxes only while the host keeps room for the jobs: 2 GB plus the box's
    memory limit must stay available."""
    declared = getattr(backend, "host_memory_mb", 0)
    return available_memory_mb(declared) > 2048 + profile.limits.memory_mb


_POOL: BoxPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool(size: int, idle_seconds: float) -> BoxPool:
    """This process's pool (created in the process that uses it: after a fork, a child
    makes its own, since threads and boxes do not survive a fork)."""
    global _POOL  # noqa: PLW0603 - one pool per process, made on first use
    with _POOL_LOCK:
        if _POOL is None or _POOL._closed or getattr(_POOL, "_pid", None) != os.getpid():
            _POOL = BoxPool(size, idle_seconds)
            _POOL._pid = os.getpid()
            # A process that ends normally (a command, the tests) removes its warm boxes;
            # Celery's pool children end through worker_process_shutdown instead.
            atexit.register(close_shared_pool)
        return _POOL


def close_shared_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and getattr(pool, "_pid", None) == os.getpid():
        pool.close()
