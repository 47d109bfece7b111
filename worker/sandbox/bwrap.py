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

import ctypes
import errno
import fcntl
import os
import re
import resource
import select
import shutil
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker import housekeeping
from worker.artifacts import json_lines
from worker.sandbox import cgroups
from worker.sandbox.base import (
    DATA,
    HOME,
    IN,
    RUNNER_DIR,
    RW,
    SRC,
    GpuAssignment,
    Limits,
    Request,
    Result,
    SandboxUnavailable,
)

SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
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
    ):
        self.jobs_dir = Path(jobs_dir)
        self.venv = Path(venv)
        self.uid_base = uid_base
        self.slots = slots
        self.slot_dir = Path(slot_dir)
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

    def _prepare_jobs_dir(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.chmod(0o711)  # the slot uid must traverse, not list
        self.slot_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    # ------------------------------------------------------------------ slots

    @contextmanager
    def slot(self) -> Iterator[int]:
        """Hold one slot (a uid) for the duration of a box, across every process on the host."""
        uid, lock = self.try_slot()
        try:
            yield uid
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def try_slot(self, wait: float = 600) -> tuple[int, Any]:
        """Take a free slot, waiting up to ``wait`` seconds; it is held for as long as the
        caller holds the returned lock file (a warm box holds it from start to removal)."""
        self._prepare_jobs_dir()
        deadline = time.monotonic() + wait
        while True:
            for index in range(self.slots):
                fh = open(self.slot_dir / f"{self.uid_base + index}.lock", "w")  # noqa: SIM115
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    fh.close()
                    continue
                return self.uid_base + index, fh
            if time.monotonic() > deadline:
                raise SandboxUnavailable(f"no free sandbox slot for {wait:g} s")
            time.sleep(0.05)

    @staticmethod
    def enter_box(group: cgroups.BoxCgroup, lim: Limits, cpu: int, nice: int = 0) -> None:
        """In the child before exec: join the box's cgroups, set its rlimits."""
        group.enter()
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = lim.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (lim.open_files, lim.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # A backstop above the cgroup's pids.max, which is the limit that reports.
        nproc = lim.processes + 64
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
                return box.run(request, out_dir)
        with self.slot() as uid:
            box = self.jobs_dir / f"box-{housekeeping.OWNER_PID}-{uuid.uuid4().hex[:12]}"
            rw = box / "rw"
            rw.mkdir(parents=True)
            box.chmod(0o711)
            group = cgroups.BoxCgroup(box.name)
            mounted = False
            try:
                _mount_tmpfs(rw, request.limits.rw_mb, uid)
                mounted = True
                for sub in ("out", "home"):
                    (rw / sub).mkdir()
                    os.chown(rw / sub, uid, uid)
                _make_readable(request.src_dir)
                _make_readable(request.in_dir)
                group.create(request.limits.memory_mb * 1024 * 1024, request.limits.processes + 16)
                result = self._run_box(request, uid, rw, group)
                if not group.kill_all():
                    raise SandboxUnavailable("sandbox processes survived SIGKILL")
                result.peak_memory_bytes = group.peak_memory()
                result.cpu_seconds = group.cpu_seconds()
                result.process_limit_hit = group.pids_limit_hit()
                result.oom_killed = result.oom_killed or (
                    group.oom_killed() and result.exit_code != 0
                )
                out_dir.mkdir(parents=True, exist_ok=True)
                result.out_files, result.out_rejected = collect_outputs(
                    rw / "out", out_dir, request.limits
                )
                return result
            finally:
                if group.kill_all():
                    _remove_box(group, rw if mounted else None, box)
                else:  # processes SIGKILL has not ended yet: clean up once they are gone
                    _reap_later(group, rw if mounted else None, box)

    def _argv(
        self, request: Request, uid: int, rw: Path, extra: list[str] | None = None
    ) -> list[str]:
        lim = request.limits
        env = box_environment(request)
        argv = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "bwrap",
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
            str(self.venv),
            "/opt/venv",
            "--ro-bind",
            str(RUNNER_DIR_HOST),
            RUNNER_DIR,
            "--ro-bind",
            str(request.src_dir),
            SRC,
            "--ro-bind",
            str(request.in_dir),
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
            str(rw),
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
        return argv + ["--", *request.argv]

    def _run_box(self, request: Request, uid: int, rw: Path, group: cgroups.BoxCgroup) -> Result:
        lim = request.limits
        argv = self._argv(request, uid, rw)

        cpu = lim.cpu_limit

        def preexec() -> None:
            self.enter_box(group, lim, cpu)

        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                close_fds=True,
                env={"PATH": "/usr/bin:/bin"},
                preexec_fn=preexec,  # noqa: PLW1509 - only cgroup writes and setrlimit
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
        start_seconds = time.monotonic() - started
        capture = _OutputCapture(proc.stdout, lim.output_bytes)  # type: ignore[arg-type]
        exit_code, timed_out, cpu_hit = _wait(
            proc, started + lim.wall_seconds, request, rw / "out", group.cpu_seconds, cpu
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
                raise SandboxUnavailable(
                    "the sandbox could not be killed at its time limit"
                ) from None
        wall = time.monotonic() - started
        group.kill_all()
        capture.join(5)
        if exit_code is not None and exit_code < 0:
            exit_code = 128 - exit_code
        return Result(
            exit_code=exit_code,
            timed_out=timed_out,
            oom_killed=False,
            output=capture.data,
            output_truncated=capture.total > len(capture.data),
            output_total_bytes=capture.total,
            wall_seconds=wall,
            start_seconds=start_seconds,
            cpu_seconds=None,
            peak_memory_bytes=None,
            out_files={},
            out_rejected=[],
            cpu_limit_hit=cpu_hit,
        )


KILL_WAIT_SECONDS = 5.0
REAP_SECONDS = 3600.0


def _remove_box(group: cgroups.BoxCgroup, rw: Path | None, box: Path) -> None:
    group.remove()
    if rw is not None:
        _unmount(rw)
    shutil.rmtree(box, ignore_errors=True)


def _reap_later(group: cgroups.BoxCgroup, rw: Path | None, box: Path) -> None:
    """A box whose processes outlived SIGKILL (stuck in the kernel): the job has gone on
    as an infrastructure error; a thread keeps killing and removes the box's cgroups,
    mount and folder as soon as its last process is gone, so nothing is left behind."""

    def reap() -> None:
        deadline = time.monotonic() + REAP_SECONDS
        while time.monotonic() < deadline:
            if group.kill_all(timeout=5):
                _remove_box(group, rw, box)
                return

    threading.Thread(target=reap, name=f"reap-{box.name}", daemon=True).start()


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
    return args


def box_environment(request: Request) -> dict[str, str]:
    """The whole environment of a box (every backend clears the rest): the sandbox's
    Python first on PATH, thread counts pinned to the job's share, the GPU if it has one."""
    threads = str(request.limits.threads)
    return {
        "PATH": "/opt/venv/bin:/usr/bin:/bin",
        "HOME": HOME,
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
    out: Path,
    cpu_used: Callable[[], float | None] | None = None,
    cpu_limit: float | None = None,
) -> tuple[int | None, bool, bool]:
    """Wait for the box until the deadline, reporting progress about once a second.

    Returns (exit code, timed out, over its CPU seconds): ``cpu_used`` (the box's whole
    cgroup, read from outside) is checked every CPU_POLL_SECONDS against ``cpu_limit``."""
    with _exit_waiter(proc) as exited:
        return _wait_loop(proc, deadline, request, out, cpu_used, cpu_limit, exited)


def _wait_loop(  # noqa: PLR0913 - _wait's arguments, and how to wait for an exit
    proc: subprocess.Popen[bytes],
    deadline: float,
    request: Request,
    out: Path,
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
                lines = read_progress(out / request.progress_file)
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


def read_progress(path: Path, cap: int = 256 * 1024) -> list[dict]:
    """The JSON lines of a progress file the box is still writing: regular file only,
    never followed through a symlink, the last ``cap`` bytes at most."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return []
        os.lseek(fd, max(0, st.st_size - cap), os.SEEK_SET)
        raw = os.read(fd, cap)
    finally:
        os.close(fd)
    return json_lines(raw)


class _OutputCapture(threading.Thread):
    """Read the box's stdout+stderr to the end, keeping only the first ``cap`` bytes.

    A warm box (worker/sandbox/pool.py) writes ``ready_marker`` when it is warm; ``ready``
    is set once it has been read. ``restart`` then forgets everything before the job."""

    def __init__(self, stream, cap: int, ready_marker: bytes | None = None):  # type: ignore[no-untyped-def]
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


_LIBC = ctypes.CDLL(None, use_errno=True)
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MNT_DETACH = 2


def _mount_tmpfs(path: Path, size_mb: int, uid: int) -> None:
    """The box's sized, noexec tmpfs, mounted with mount(2) itself (no mount(8) process
    per box: at hundreds of boxes a minute those were a visible share of the CPU)."""
    opts = f"size={size_mb}m,nr_inodes=4096,uid={uid},gid={uid},mode=0700"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if _LIBC.mount(b"agbox", os.fsencode(path), b"tmpfs", flags, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise SandboxUnavailable(f"cannot mount the sandbox's sized tmpfs: {os.strerror(err)}")


def _unmount(path: Path) -> None:
    """Unmount a box's tmpfs; a dying box can keep it busy for a moment, so retry, and
    detach it lazily as the last resort (it is freed when its last user is gone)."""
    target = os.fsencode(path)
    for _ in range(40):
        if _LIBC.umount2(target, 0) == 0 or ctypes.get_errno() == errno.EINVAL:
            return  # EINVAL: not (or no longer) a mount point
        time.sleep(0.025)
    _LIBC.umount2(target, MNT_DETACH)


def _make_readable(directory: Path) -> None:
    """Staged code and inputs are readable (not writable) by the slot uid."""
    directory.chmod(0o755)
    for root, dirs, files in os.walk(directory):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)


def collect_outputs(
    box_out: Path, out_dir: Path, limits: Limits
) -> tuple[dict[str, Path], list[str]]:
    """Copy the regular files of ``box_out`` (flat, safe names, size-capped) to ``out_dir``.

    Called only after every process of the box is dead. Symlinks, FIFOs, devices,
    folders and odd names are refused and listed, never followed.
    """
    kept: dict[str, Path] = {}
    rejected: list[str] = []
    cap = limits.file_mb * 1024 * 1024
    try:
        entries = list(os.scandir(box_out))
    except OSError:
        return kept, ["out/ is missing"]
    for entry in entries[: limits.max_out_files]:
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        if not SAFE_NAME.match(name) or not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            rejected.append(name[:100])
            continue
        fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                rejected.append(name)
                continue
            target = out_dir / name
            with os.fdopen(os.dup(fd), "rb") as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
            kept[name] = target
        finally:
            os.close(fd)
    if len(entries) > limits.max_out_files:
        rejected.append(f"... {len(entries) - limits.max_out_files} more files")
    return kept, rejected
