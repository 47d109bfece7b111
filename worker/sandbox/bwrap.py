"""The bubblewrap backend: one box = setpriv (drop to the slot uid) -> bwrap -> python.

Layers, each enforced from outside the box:
- a distinct unprivileged uid per concurrent slot (RLIMIT_NPROC counts per uid), no
  capabilities (bounding set emptied), no_new_privs;
- bwrap: new user, pid, net, ipc, uts and cgroup namespaces (loopback only), no nested
  user namespaces, a root made only of read-only binds (/usr, the sandbox venv, the
  runner, the code, the inputs), fresh /proc and /dev, a sized /tmp, dies with its parent;
- cgroups: memory (= memory + swap), pids, cpu accounting; the box is killed as a
  whole by SIGKILL of every pid in its cgroup;
- rlimits: CPU time, file size, open files, core dumps;
- the only host-visible writable space is a tmpfs of fixed size mounted by the worker,
  noexec/nosuid/nodev, read back after every process of the box is dead;
- environment cleared, stdin /dev/null, only fds 0-2, output captured with a byte cap.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, cast

from worker.sandbox import cgroups, seccomp
from worker.sandbox.base import (
    DATA,
    HOME,
    IN,
    REAPER,
    RUNNER_DIR,
    RW,
    SRC,
    GpuAssignment,
    Limits,
    Request,
    Result,
    SandboxUnavailable,
    SandboxUnreachable,
)
from worker.sandbox.boxfs import BoxFolder

log = logging.getLogger(__name__)

RUNNER_DIR_HOST = Path(__file__).resolve().parent.parent / "runner"


class BwrapBackend:
    name = "bwrap"

    def __init__(
        self,
        jobs_dir: Path,
        venv: Path,
        uid_base: int,
        slots: int,
        slot_dir: Path,
        pool_size: int = 0,
        pool_idle_seconds: float = 600,
        host_memory_mb: int = 0,
        gpu_boxes: int = 32,
        numpy_venv: Path | None = None,
        data_dir: Path | None = None,
    ):
        self.jobs_dir = Path(jobs_dir)
        self.venv = Path(venv)
        # Boxes of numpy-only homework get a Python without torch (DESIGN.md rule 10).
        self.numpy_venv = Path(numpy_venv) if numpy_venv is not None else None
        self.data_dir = Path(data_dir) if data_dir is not None else None  # datasets to bind
        self.uid_base = uid_base
        self.slots = slots
        self.slot_dir = Path(slot_dir)
        self.host_memory_mb = host_memory_mb  # 0: MemTotal (worker/cpus.py)
        self.gpu_boxes = gpu_boxes  # boxes alive at once per GPU, warm ones included

        # Boxes started ahead of demand (worker/sandbox/pool.py); 0: every box cold.
        self.pool_size = pool_size
        self.pool_idle_seconds = pool_idle_seconds

    # ------------------------------------------------------------------ health

    def check(self) -> None:
        for tool in ("bwrap", "setpriv"):
            if shutil.which(tool) is None:
                raise SandboxUnavailable(f"{tool} is not installed (make setup installs it)")
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "the bwrap backend needs a root worker (uids, cgroups, mounts)"
            )
        if not (self.venv / "bin" / "python").exists():
            raise SandboxUnavailable(f"the sandbox Python {self.venv}/bin/python does not exist")
        cgroups.check_available()
        self._prepare_jobs_dir()

    def check_reachable(self) -> None:
        """Every folder a box binds is reachable by the sandbox uids (worker/sandbox/reach.py):
        else no box can start, and that is said now, naming the folder and the fix. Asked
        at start (serve, worker) and with each heartbeat, not per box (a child process)."""
        from worker.sandbox.reach import box_sources, unreachable

        venvs = [self.venv] + ([self.numpy_venv] if self.numpy_venv is not None else [])
        sources = box_sources(venvs, RUNNER_DIR_HOST, self.jobs_dir, self.data_dir or Path("/-"))
        problems = unreachable(sources, self.uid_base)
        if problems:
            raise SandboxUnreachable("; ".join(problems))

    def _prepare_jobs_dir(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.chmod(0o711)  # the slot uid must traverse, not list
        self.slot_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    # ------------------------------------------------------------------ slots

    @contextmanager
    def slot(self, gpu: GpuAssignment | None = None) -> Iterator[int]:
        """Hold one slot (a uid), and a place on the box's GPU if it has one, for the
        duration of a box, across every process on the host."""
        uid, locks = self.try_slot(gpu=gpu)
        try:
            yield uid
        finally:
            release_locks(locks)

    def try_slot(
        self, wait: float = 600, gpu: GpuAssignment | None = None
    ) -> tuple[int, list[TextIO]]:
        """Take a free slot, waiting up to ``wait`` seconds, and with ``gpu`` one of the
        ``gpu_boxes`` places on that GPU (CUDA MPS serves a limited number of clients per
        device, and every box of a GPU holds a CUDA context, warm ones included). Both are
        held for as long as the caller holds the returned lock files (a warm box holds them
        from start to removal: ``release_locks``)."""
        self._prepare_jobs_dir()
        deadline = time.monotonic() + wait
        index, uid_lock = _take_lock(
            [self.slot_dir / f"{self.uid_base + i}.lock" for i in range(self.slots)],
            deadline,
            "sandbox slot",
        )
        locks = [uid_lock]
        if gpu is not None:
            try:
                _, gpu_lock = _take_lock(
                    [self.slot_dir / f"gpu{gpu.index}-{k}.lock" for k in range(self.gpu_boxes)],
                    deadline,
                    f"place on GPU {gpu.index}",
                )
            except BaseException:
                release_locks(locks)
                raise
            locks.append(gpu_lock)
        return self.uid_base + index, locks

    def venv_for(self, request: Request) -> Path:
        """The Python environment bound at /opt/venv: without torch for a box of numpy-only
        homework (runtime "numpy"), so that no import hook a student can remove stands
        between their code and autograd; fail closed when that environment is missing."""
        if request.runtime != "numpy" or self.numpy_venv is None:
            return self.venv
        if not (self.numpy_venv / "bin" / "python").exists():
            raise SandboxUnavailable(
                f"the numpy-only sandbox Python {self.numpy_venv}/bin/python does not exist "
                "(make setup makes it)"
            )
        return self.numpy_venv

    def box_uid(self, slot_uid: int, gpu: GpuAssignment | None) -> int:
        """The uid a box runs as: its slot's, except for boxes sharing a GPU through CUDA
        MPS. The MPS control daemon serves one uid at a time (a client of another uid waits
        until every client of the first has gone), so the boxes of one GPU share one uid
        of their own, after the slots' range. They still cannot reach each other: each has
        its own pid, mount, network and IPC namespaces and its own cgroup, which holds the
        process limit (the per-uid RLIMIT_NPROC backstop is widened for them)."""
        if shares_gpu_uid(gpu):
            assert gpu is not None
            return self.uid_base + self.slots + gpu.index
        return slot_uid

    def nproc_backstop(self, lim: Limits, gpu: GpuAssignment | None) -> int:
        """RLIMIT_NPROC, a backstop above the cgroup's pids.max (the limit that reports):
        per uid, so a uid shared by every box of a GPU allows every slot's share."""
        per_box = lim.processes + 64
        return per_box * self.slots if shares_gpu_uid(gpu) else per_box

    @staticmethod
    def enter_box(
        group: cgroups.BoxCgroup, lim: Limits, cpu: int, nice: int = 0, nproc: int | None = None
    ) -> None:
        """In the child before exec: join the box's cgroups, set its rlimits."""
        group.enter()
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = lim.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # A backstop above the cgroup's pids.max, which is the limit that reports.
        nproc = nproc or lim.processes + 64
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        if lim.cores:
            os.sched_setaffinity(0, lim.cores)

    # ------------------------------------------------------------------ run

    def run(self, request: Request, out_dir: Path) -> Result:
        self.check()
        if self.pool_size > 0:
            from worker.sandbox import pool

            profile = pool.profile_of(request, self)
            if profile is not None:
                box = pool.shared_pool(self.pool_size, self.pool_idle_seconds).take(self, profile)
                try:
                    return box.run(request, out_dir)
                except pool.WarmBoxFailed as exc:
                    log.warning("%s; the job runs in a cold box", exc)
        with self.slot(request.gpu) as slot_uid:
            uid = self.box_uid(slot_uid, request.gpu)
            folder = BoxFolder(self.jobs_dir)
            group = cgroups.box_cgroup(folder.name)
            try:
                folder.create(
                    uid,
                    request.limits.rw_mb,
                    BoxFolder.staged_mb(request.src_dir, request.in_dir),
                )
                folder.stage(request.src_dir, request.in_dir)
                group.create(request.limits.memory_mb * 1024 * 1024, request.limits.processes + 16)
                result = self._run_box(request, uid, folder, group)
                return finish_box(result, folder, group, out_dir, request.limits)
            finally:
                dispose(folder, group)

    def spawn(  # noqa: PLR0913 - what starts a box: who, where, under which limits
        self,
        request: Request,
        uid: int,
        folder: BoxFolder,
        group: cgroups.BoxCgroup,
        cpu: int,
        *,
        nice: int = 0,
        extra: list[str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start the box's bwrap. Its arguments reach it through a pipe (``--args``), so
        the box's pid 1 shows no host path on its command line, and its seccomp filter
        through another (``--seccomp``)."""
        lim = request.limits
        nproc = self.nproc_backstop(lim, request.gpu)
        args = self._bwrap_args(request, folder, extra)
        args_r = _pipe_with(b"".join(os.fsencode(a) + b"\0" for a in args))
        filter_r = _pipe_with(seccomp.bpf_program())
        try:
            return subprocess.Popen(
                [
                    *self._setpriv(uid),
                    *("bwrap", "--args", str(args_r), "--seccomp", str(filter_r)),
                    *("--", *reaped(request.argv)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                close_fds=True,
                pass_fds=(args_r, filter_r),
                env={"PATH": "/usr/bin:/bin"},
                preexec_fn=lambda: self.enter_box(group, lim, cpu, nice, nproc),  # noqa: PLW1509
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
        finally:
            os.close(args_r)
            os.close(filter_r)

    @staticmethod
    def _setpriv(uid: int) -> list[str]:
        return [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]

    def _bwrap_args(
        self, request: Request, folder: BoxFolder, extra: list[str] | None = None
    ) -> list[str]:
        """bwrap's options for one box: its mounts, namespaces and cleared environment."""
        lim = request.limits
        env = box_environment(request)
        argv = [
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/sbin",
            "/sbin",
            "--ro-bind-try",
            "/etc/ld.so.cache",
            "/etc/ld.so.cache",
            "--ro-bind-try",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf",
            "--ro-bind-try",
            "/etc/ld.so.conf.d",
            "/etc/ld.so.conf.d",
            "--ro-bind",
            str(venv := self.venv_for(request)),
            "/opt/venv",
            *interpreter_binds(venv),
            "--ro-bind",
            str(RUNNER_DIR_HOST),
            RUNNER_DIR,
            "--ro-bind",
            str(folder.ro / "src"),
            SRC,
            "--ro-bind",
            str(folder.ro / "in"),
            IN,
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(lim.tmp_mb * 1024 * 1024),
            "--tmpfs",
            "/tmp",
            "--bind",
            str(folder.rw),
            RW,
            *[
                arg
                for target, host in request.data_files.items()
                for arg in ("--ro-bind", str(host), f"{DATA}/{target}")
            ],
            *gpu_args(request.gpu),
            *(extra or []),
            "--remount-ro",
            "/",
            "--chdir",
            HOME,
            "--clearenv",
        ]
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv

    def _run_box(
        self, request: Request, uid: int, folder: BoxFolder, group: cgroups.BoxCgroup
    ) -> Result:
        lim = request.limits
        cpu = lim.cpu_limit
        started = time.monotonic()
        proc = self.spawn(request, uid, folder, group, cpu)
        start_seconds = time.monotonic() - started
        # stdout=PIPE (spawn): a buffered reader, never None.
        capture = _OutputCapture(cast(io.BufferedReader, proc.stdout), lim.output_bytes)
        result = wait_box(proc, capture, group, request, folder, started, group.cpu_seconds, cpu)
        result.start_seconds = start_seconds
        return result


def wait_box(  # noqa: PLR0913 - one box's wait, as cold and warm boxes share it
    proc: subprocess.Popen[bytes],
    capture: _OutputCapture,
    group: cgroups.BoxCgroup,
    request: Request,
    folder: BoxFolder,
    started: float,
    cpu_used: Callable[[], float | None],
    cpu: int,
) -> Result:
    """Wait for a started box until its wall clock (from ``started``) or CPU seconds end
    it, kill all of it, and say how it ended (before the cgroup's readings and outputs,
    which ``finish_box`` adds once nothing of the box is left)."""
    lim = request.limits
    exit_code, timed_out, cpu_hit = _wait(
        proc, started + lim.wall_seconds, request, folder, cpu_used, cpu
    )
    if cpu_hit:
        group.kill_all()
        exit_code = proc.wait(timeout=KILL_WAIT_SECONDS)
    if timed_out:
        group.kill_all()
        proc.kill()
        try:  # a box that SIGKILL cannot end (uninterruptible sleep, a frozen cgroup)
            proc.wait(timeout=KILL_WAIT_SECONDS)  # must not hang the job: ours, retried
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable("the sandbox could not be killed at its time limit") from None
    wall = time.monotonic() - started
    group.kill_all()
    capture.join(5)
    host_signal = None
    if exit_code is not None and exit_code < 0:
        # The host-side process (setpriv, then bwrap) died by a signal, and not one of ours:
        # the worker kills only at a limit, recorded as timed_out or cpu_hit.
        if not (timed_out or cpu_hit):
            host_signal = -exit_code
        exit_code = 128 - exit_code
    cpu_hit = cpu_hit or cpu_limit_reached(exit_code, cpu_used(), cpu)
    return Result(
        exit_code=exit_code,
        timed_out=timed_out,
        oom_killed=False,
        output=capture.data,
        output_truncated=capture.total > len(capture.data),
        output_total_bytes=capture.total,
        wall_seconds=wall,
        start_seconds=0.0,
        cpu_seconds=None,
        peak_memory_bytes=None,
        out_files={},
        out_rejected=[],
        cpu_limit_hit=cpu_hit,
        host_signal=host_signal,
    )


def finish_box(
    result: Result, folder: BoxFolder, group: cgroups.BoxCgroup, out_dir: Path, limits: Limits
) -> Result:
    """Once every process of the box is dead: its cgroup's readings and its outputs."""
    if not group.kill_all():
        raise SandboxUnavailable("sandbox processes survived SIGKILL")
    result.peak_memory_bytes = group.peak_memory()
    if result.cpu_seconds is None:
        result.cpu_seconds = group.cpu_seconds()
    result.process_limit_hit = group.pids_limit_hit()
    result.oom_killed = result.oom_killed or (group.oom_killed() and result.exit_code != 0)
    result.ended_how = folder.ended_how()
    result.out_files, result.out_rejected = folder.collect(out_dir, limits)
    return result


def reaped(argv: list[str]) -> list[str]:
    """A box's command run under its reaper (worker/runner/box_reaper.py), with the same
    Python: it reports how the command ended, as its exit code alone cannot. A command
    that is not a Python program (tests' probes) runs as it is, with no word."""
    if not argv or not os.path.basename(argv[0]).startswith("python"):
        return list(argv)
    return [argv[0], "-I", "-S", REAPER, *argv]


def dispose(folder: BoxFolder, group: cgroups.BoxCgroup) -> None:
    """Remove a box (used or not): its cgroup and its folder, now, or once its last
    process is gone if SIGKILL has not ended them yet (stuck in the kernel)."""
    if group.kill_all(timeout=2):
        group.remove()
        folder.remove()
    else:
        _reap_later(group, folder)


def _pipe_with(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (a box's bwrap reads its arguments and its
    seccomp program this way; both are far below a pipe's 64 KiB)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end


KILL_WAIT_SECONDS = 5.0
REAP_SECONDS = 3600.0


def cpu_limit_reached(exit_code: int | None, used: float | None, limit: float) -> bool:
    """The box's CPU seconds ended it: our poll may lose the race with its own RLIMIT_CPU,
    whose SIGXCPU (exit 152) or, a second later, SIGKILL end the box first."""
    if exit_code == 128 + signal.SIGXCPU:
        return True
    return exit_code not in (None, 0) and used is not None and used >= limit


def _reap_later(group: cgroups.BoxCgroup, folder: BoxFolder) -> None:
    """A box whose processes outlived SIGKILL (stuck in the kernel): the job has gone on
    as an infrastructure error; a thread keeps killing and removes the box's cgroups,
    mounts and folder as soon as its last process is gone, so nothing is left behind."""

    def reap() -> None:
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline:
            if group.kill_all(timeout=5):
                group.remove()
                folder.remove()
                return

    threading.Thread(target=reap, name=f"reap-{folder.name}", daemon=True).start()


def _take_lock(paths: list[Path], deadline: float, what: str) -> tuple[int, TextIO]:
    """The index and open, exclusively locked file of the first free lock of ``paths``,
    polling until ``deadline``."""
    started = time.monotonic()
    while True:
        for index, path in enumerate(paths):
            fh = open(path, "w")  # noqa: SIM115 - held for the life of a box
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            return index, fh
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"no free {what} for {time.monotonic() - started:.0f} s")
        time.sleep(0.05)


def release_locks(locks: list[TextIO]) -> None:
    for fh in locks:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()
    locks.clear()


def shares_gpu_uid(gpu: GpuAssignment | None) -> bool:
    return gpu is not None and gpu.mps_pipe_dir is not None


def interpreter_binds(venv: Path) -> list[str]:
    """bwrap arguments for the interpreter a sandbox venv was made from, when it lives
    outside /usr (a Python under /opt, as on GPU hosts whose image ships one): the venv's
    python is a symlink to it and its standard library is there, so it is bound read-only
    at the same path. A venv made from /usr/bin/python3 needs nothing more."""
    cfg = venv / "pyvenv.cfg"
    try:
        lines = cfg.read_text().splitlines()
    except OSError:
        return []  # a whole Python installation bound at /opt/venv
    home = next(
        (v.strip() for k, _, v in (ln.partition("=") for ln in lines) if k.strip() == "home"), ""
    )
    if not home:
        return []
    prefix = Path(home).resolve().parent
    if prefix == Path("/") or prefix.is_relative_to("/usr") or prefix.is_relative_to(venv):
        return []
    return ["--ro-bind", str(prefix), str(prefix)]


NVIDIA_SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")


def gpu_args(gpu: GpuAssignment | None, dev: Path = Path("/dev")) -> list[str]:
    """bwrap arguments giving a box its one GPU: that device node and the driver's shared
    control nodes; no other /dev/nvidiaN exists inside. Driver libraries are under /usr."""
    if gpu is None:
        return []
    node = dev / f"nvidia{gpu.index}"
    if not node.exists():
        raise SandboxUnavailable(f"GPU {gpu.index} was assigned but {node} does not exist")
    args = ["--dev-bind", str(node), str(node)]
    for shared in NVIDIA_SHARED_NODES:
        path = dev / Path(shared).name
        if path.exists():
            args += ["--dev-bind", str(path), shared]
    if gpu.mps_pipe_dir is not None:
        args += ["--bind", str(gpu.mps_pipe_dir), "/run/nvidia-mps"]
    if gpu.mps_pipe_dir is not None and gpu.mps_shm_dir is not None:
        args += ["--bind", str(gpu.mps_shm_dir), "/dev/shm"]
    return args


def box_environment(request: Request) -> dict[str, str]:
    """The whole environment of a box (every backend clears the rest): the sandbox's
    Python first on PATH, thread counts pinned to the job's share, the GPU if it has one."""
    threads = str(request.limits.threads)
    return {
        "PATH": "/opt/venv/bin:/usr/bin:/bin",
        "HOME": HOME,
        # The box's uid has no passwd entry: getpass.getuser() (torch's compile caches,
        # imported by an optimizer's first step) reads these first, else raises KeyError.
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "NUMEXPR_NUM_THREADS": threads,
        "TORCH_NUM_THREADS": threads,
        **gpu_env(request.gpu),
        **request.env,
    }


def gpu_env(gpu: GpuAssignment | None) -> dict[str, str]:
    if gpu is None:
        return {"CUDA_VISIBLE_DEVICES": ""}
    env = {"CUDA_VISIBLE_DEVICES": "0", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    if gpu.mps_pipe_dir is not None:
        env["CUDA_MPS_PIPE_DIRECTORY"] = "/run/nvidia-mps"
        env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = f"0={gpu.memory_mb}M"
    return env


CPU_POLL_SECONDS = 0.2


def _wait(
    proc: subprocess.Popen[bytes],
    deadline: float,
    request: Request,
    folder: BoxFolder,
    cpu_used: Callable[[], float | None] | None = None,
    cpu_limit: float | None = None,
) -> tuple[int | None, bool, bool]:
    """Wait for the box until the deadline, reporting progress about once a second.

    Returns (exit code, timed out, over its CPU seconds): ``cpu_used`` (the box's whole
    cgroup, read from outside) is checked every CPU_POLL_SECONDS against ``cpu_limit``."""
    with _exit_waiter(proc) as exited:
        return _wait_loop(proc, deadline, request, folder, cpu_used, cpu_limit, exited)


def _wait_loop(  # noqa: PLR0913 - _wait's arguments, and how to wait for an exit
    proc: subprocess.Popen[bytes],
    deadline: float,
    request: Request,
    folder: BoxFolder,
    cpu_used: Callable[[], float | None] | None,
    cpu_limit: float | None,
    exited: Callable[[float], bool],
) -> tuple[int | None, bool, bool]:
    next_progress = time.monotonic() + 1.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, True, False
        if exited(min(left, CPU_POLL_SECONDS)):
            return proc.wait(), False, False
        if cpu_used is not None and cpu_limit is not None:
            used = cpu_used()
            if used is not None and used > cpu_limit:
                return None, False, True
        if time.monotonic() >= next_progress:
            next_progress = time.monotonic() + 1.0
            if request.on_progress and request.progress_file:
                lines = folder.progress(request.progress_file)
                if lines:
                    request.on_progress(lines)


@contextmanager
def _exit_waiter(proc: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """A function waiting up to its argument's seconds for ``proc`` to exit. With a pidfd
    the wake-up is the exit itself; Popen.wait(timeout) polls with sleeps growing to 50 ms,
    which a box of a few milliseconds' work would spend mostly waiting to be noticed."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):

        def poll_wait(seconds: float) -> bool:
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                return False
            return True

        yield poll_wait
        return
    poller = select.poll()
    poller.register(fd, select.POLLIN)

    def pidfd_wait(seconds: float) -> bool:
        return bool(poller.poll(max(0, int(seconds * 1000)))) or proc.poll() is not None

    try:
        yield pidfd_wait
    finally:
        os.close(fd)


class _OutputCapture(threading.Thread):
    """Read the box's stdout+stderr to the end, keeping only the first ``cap`` bytes.

    A warm box (worker/sandbox/pool.py) writes ``ready_marker`` when it is warm; ``ready``
    is set once it has been read. ``restart`` then forgets everything before the job."""

    def __init__(self, stream: io.BufferedReader, cap: int, ready_marker: bytes | None = None):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0
        self.marker = ready_marker
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.start()

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            with self.lock:
                self.total += len(chunk)
                if self.kept < self.cap:
                    piece = chunk[: self.cap - self.kept]
                    self.chunks.append(piece)
                    self.kept += len(piece)
                if self.marker and not self.ready.is_set() and self.marker in self.data:
                    self.ready.set()
        self.stream.close()

    def restart(self, cap: int) -> None:
        with self.lock:
            self.chunks, self.kept, self.total, self.cap = [], 0, 0, cap

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)
