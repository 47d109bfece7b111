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
import fcntl
import json
import logging
import os
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker import housekeeping
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
READY_TIMEOUT = 180.0  # a box that is not warm by then is given up (ours, retried)
# Limits that take effect when the job starts, not part of a profile.
PER_JOB_LIMITS = ("wall_seconds", "cpu_seconds", "output_bytes", "max_out_files", "cores")


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
            str(backend.venv),
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
        from worker.sandbox.bwrap import _make_readable, _mount_tmpfs, _OutputCapture

        self.backend, self.profile = backend, profile
        self.started = time.monotonic()
        self.box = backend.jobs_dir / f"box-{housekeeping.OWNER_PID}-{uuid.uuid4().hex[:12]}"
        self.rw = self.box / "rw"
        self.group = cgroups.BoxCgroup(self.box.name)
        self.mounted = False
        self.proc: subprocess.Popen[bytes] | None = None
        self._slot: Any = None
        self.on_done: Any = None  # the pool's: called once the box has served its job
        # A background box does not wait for a slot: the jobs' boxes need them more.
        self.uid, self._slot = backend.try_slot(wait=0 if background else 600)
        try:
            self.rw.mkdir(parents=True)
            self.box.chmod(0o711)
            for sub in ("src", "in", "ctl"):
                (self.box / sub).mkdir(mode=0o755)
            os.mkfifo(self.box / "ctl" / "go", 0o644)
            _mount_tmpfs(self.rw, profile.limits.rw_mb, self.uid)
            self.mounted = True
            for sub in ("out", "home"):
                (self.rw / sub).mkdir()
                os.chown(self.rw / sub, self.uid, self.uid)
            _make_readable(self.box / "ctl")
            lim = profile.limits
            self.group.create(lim.memory_mb * 1024 * 1024, lim.processes + 16)
            # A box started for a job waiting now (a miss) imports nothing ahead: the job
            # imports what it needs, as in a cold box, with no warm-up to wait for.
            runtime = profile.runtime if background else "none"
            request = Request(
                argv=[PYTHON, "-B", WARM_START, runtime],
                src_dir=self.box / "src",
                in_dir=self.box / "in",
                limits=lim,
                env=dict(profile.env),
                data_files={k: Path(v) for k, v in profile.data},
                gpu=profile.gpu,
            )
            argv = backend._argv(
                request, self.uid, self.rw, extra=["--ro-bind", str(self.box / "ctl"), CTL]
            )
            nice = WARM_NICE if background else 0  # 0: the worker's own, inherited
            rlimit_cpu = profile.cpu_seconds + WARM_CPU_ALLOWANCE
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                close_fds=True,
                env={"PATH": "/usr/bin:/bin"},
                preexec_fn=lambda: backend.enter_box(self.group, lim, rlimit_cpu, nice),  # noqa: PLW1509
            )
            self.capture = _OutputCapture(self.proc.stdout, 64 * 1024, ready_marker=READY_MARKER)
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

    # ------------------------------------------------------------------ the job

    def run(self, request: Request, out_dir: Path) -> Result:
        """Hand ``request`` to this box, wait for it to end, collect its outputs, remove it."""
        from worker.sandbox.bwrap import KILL_WAIT_SECONDS, _wait, collect_outputs

        asked = time.monotonic()
        try:
            lim = request.limits
            if not self.capture.ready.wait(READY_TIMEOUT) or not self.alive():
                raise SandboxUnavailable(
                    "a warm sandbox did not get ready: "
                    + self.capture.data.decode("utf-8", errors="replace")[-1000:]
                )
            _link_tree(request.src_dir, self.box / "src")
            _link_tree(request.in_dir, self.box / "in")
            job = json.dumps({"argv": request.argv, "env": {}}).encode()
            cpu_before = self.group.cpu_seconds() or 0.0
            cpu = lim.cpu_limit
            self._renice(lim.cores)
            self.capture.restart(lim.output_bytes)
            started = time.monotonic()
            self._go(job)
            start_seconds = started - asked

            def job_cpu() -> float | None:
                used = self.group.cpu_seconds()
                return None if used is None else used - cpu_before

            exit_code, timed_out, cpu_hit = _wait(
                self.proc, started + lim.wall_seconds, request, self.rw / "out", job_cpu, cpu
            )
            if cpu_hit:
                self.group.kill_all()
                exit_code = self.proc.wait(timeout=KILL_WAIT_SECONDS)
            if timed_out:
                self.group.kill_all()
                self.proc.kill()
                try:
                    self.proc.wait(timeout=KILL_WAIT_SECONDS)
                except subprocess.TimeoutExpired:
                    raise SandboxUnavailable(
                        "the sandbox could not be killed at its time limit"
                    ) from None
            wall = time.monotonic() - started
            self.group.kill_all()
            self.capture.join(5)
            if exit_code is not None and exit_code < 0:
                exit_code = 128 - exit_code
            if not self.group.kill_all():
                raise SandboxUnavailable("sandbox processes survived SIGKILL")
            cpu_after = self.group.cpu_seconds()
            result = Result(
                exit_code=exit_code,
                timed_out=timed_out,
                oom_killed=self.group.oom_killed() and exit_code != 0,
                output=self.capture.data,
                output_truncated=self.capture.total > len(self.capture.data),
                output_total_bytes=self.capture.total,
                wall_seconds=wall,
                start_seconds=start_seconds,
                cpu_seconds=None if cpu_after is None else max(0.0, cpu_after - cpu_before),
                peak_memory_bytes=self.group.peak_memory(),
                out_files={},
                out_rejected=[],
                process_limit_hit=self.group.pids_limit_hit(),
                cpu_limit_hit=cpu_hit,
            )
            out_dir.mkdir(parents=True, exist_ok=True)
            result.out_files, result.out_rejected = collect_outputs(self.rw / "out", out_dir, lim)
            return result
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
        fifo = self.box / "ctl" / "go"
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
        from worker.sandbox.bwrap import _reap_later, _remove_box

        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        # Short waits: a box still alive here is stuck (run() already waited for its
        # kill) and is left to the reaper, which removes it once its processes die.
        killed = self.group.kill_all(timeout=2)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if killed:
            _remove_box(self.group, self.rw if self.mounted else None, self.box)
        else:
            _reap_later(self.group, self.rw if self.mounted else None, self.box)
        if self._slot is not None:
            fcntl.flock(self._slot, fcntl.LOCK_UN)
            self._slot.close()
            self._slot = None


def _link_tree(source: Path, target: Path) -> None:
    """Put the files of ``source`` (made by the worker: regular files and folders only)
    under ``target``: hard links where the file system allows, copies otherwise."""
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        for d in dirs:
            (target / rel / d).mkdir(mode=0o755)
        for f in files:
            src, dst = Path(root) / f, target / rel / f
            if src.is_symlink() or not src.is_file():
                raise SandboxUnavailable(f"not a regular file in a job's folder: {src}")
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)


class BoxPool:
    """Warm boxes of the profiles this process has been asked for lately."""

    def __init__(self, size: int, idle_seconds: float):
        self.size, self.idle_seconds = size, idle_seconds
        self._boxes: dict[Profile, list[WarmBox]] = {}
        self._wanted: dict[Profile, tuple[float, Any]] = {}
        # Boxes of a profile in use at once, now and at most (a call-based job uses two:
        # the student's and the reference's): as many are kept warm, up to ``size``.
        self._inflight: dict[Profile, int] = {}
        self._peak: dict[Profile, int] = {}
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
            box = (ready or boxes or [None])[0]
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
                    threading.Thread(target=b.discard, daemon=True).start()
            self._boxes[profile] = alive
            wanted = min(self.size, max(1, self._peak.get(profile, 1)))
            if len(alive) < wanted and _memory_allows(profile):
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


def _memory_allows(profile: Profile) -> bool:
    """Warm boxes only while the host keeps room for the jobs: 2 GB plus the box's
    memory limit must stay available."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available_mb = int(line.split()[1]) // 1024
                return available_mb > 2048 + profile.limits.memory_mb
    except OSError:
        pass
    return False


_POOL: BoxPool | None = None
_POOL_LOCK = threading.Lock()


def shared_pool(size: int, idle_seconds: float) -> BoxPool:
    """This process's pool (created in the process that uses it: after a fork, a child
    makes its own, since threads and boxes do not survive a fork)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._closed or getattr(_POOL, "_pid", None) != os.getpid():
            _POOL = BoxPool(size, idle_seconds)
            _POOL._pid = os.getpid()  # type: ignore[attr-defined]
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
