"""The Docker backend: one box = one fresh container of the pinned sandbox image.

Same limit semantics as the bubblewrap backend (worker/sandbox/bwrap.py), each enforced from
outside the box, by the engine:

- ``--network none`` (loopback only), ``--read-only`` root, ``--cap-drop ALL``,
  ``no-new-privileges``, a private IPC namespace, no devices but Docker's minimal /dev (and,
  for a GPU job, its one GPU);
- one non-root uid (``BOX_UID``, no passwd entry, owns nothing on the host but the box's own
  tmpfs). Unlike bwrap, no distinct uid per concurrent box is needed: every container has its
  own pid, IPC, network and mount namespaces and its own pids cgroup, so two boxes running
  as the same uid cannot see, signal or share anything, and we set no RLIMIT_NPROC (which
  would count every box of that uid together) -- the per-container pids limit is the limit;
- memory == memory + swap, swappiness 0; pids limit; ulimits nofile, fsize, core 0, cpu;
- a sized /tmp (and /dev/shm) inside the container, and the writable ``/job/rw``: a sized
  tmpfs (noexec, nosuid, nodev) mounted on the host by the worker exactly as for bwrap and
  bound in, so that artifacts outlive the container and are read after it is dead and
  removed (a container's own ``--tmpfs`` vanishes with it, and ``docker cp`` cannot read
  one: worker/sandbox/boxfs.py reads it through descriptors, never following a link, and
  refuses anything that is not a regular file); the code and inputs are on a second,
  read-only tmpfs of the box (boxfs.py), so no job folder of the host is bound in;
- the code, the inputs, the runner and the data files bound read-only;
- environment cleared (only the variables set here, plus Docker's HOSTNAME=sandbox; the
  image must define no environment of its own, checked before each box), stdin closed,
  stdout and stderr one pipe (``exec "$@" 2>&1`` by /bin/sh, as bwrap's single pipe)
  captured with the byte cap and never logged by the engine (log driver ``none``, so a box
  cannot fill the host's disk with output);
- wall clock: SIGKILL of the container (``docker kill``), then it is removed; every path
  out of ``run`` removes the container, unmounts its tmpfs and removes its cgroups; a worker
  that starts removes the boxes of dead workers (``remove_stale``).

Image: only the image pinned by ``settings.sandbox_image`` (``sha256:<id>`` or
``name@sha256:<digest>``) is ever run; it is never pulled, and its local id is checked
before every box. A tag alone is refused.

Accounting: when the worker runs on the engine's host with writable cgroup v1 hierarchies
(a root worker, as in CI and as the compose file sets up), each box gets a parent cgroup of
our own (``--cgroup-parent``) holding the pids limit and the same memory limit; it outlives
the container, so ``peak_memory_bytes``, ``cpu_seconds`` and ``process_limit_hit`` are read
from it after the box is dead, exactly as for bwrap. Without it (cgroup v2 only, or a worker
that cannot write the host's cgroups) the limits are still enforced by the engine, but those
three fields are None/None/False: Docker keeps no accounting of a container once it exited
(its stats API only samples running ones). ``oom_killed`` comes from the engine's
``State.OOMKilled`` (an OOM kill in the container's memory cgroup) with a non-zero exit code.
``start_seconds`` is the time to create, attach and start the container (about 0.3-0.5 s,
against milliseconds for bwrap). Threads are pinned through the environment as for bwrap;
like bwrap, no CPU quota is set.

GPU jobs get only their device through the engine's GPU support (``device_requests`` with
the device's index, which needs the NVIDIA container toolkit on the host); with CUDA MPS the
pipe directory is bound at /run/nvidia-mps. This could not be tested on this project's
machines (no GPU with Docker): an engine without GPU support makes the box fail to start,
which is SandboxUnavailable (the job is retried, never run without its limits).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder import liveness
from worker import housekeeping
from worker.sandbox.base import (
    DATA,
    HOME,
    IN,
    PYTHON,
    RUNNER_DIR,
    RW,
    SRC,
    Request,
    Result,
    SandboxUnavailable,
)
from worker.sandbox.boxfs import BoxFolder
from worker.sandbox.bwrap import RUNNER_DIR_HOST, box_environment, reaped

if TYPE_CHECKING:
    from autograder.settings import Settings

BOX_UID = 60999  # the uid of every docker box: no passwd entry, owns nothing on the host
LABEL = "org.autograder.box"  # value: the box name (box-<owner pid>-d<random>)
OWNER_LABEL = "org.autograder.owner"  # value: <worker hostname>:<worker pid>
PINNED = re.compile(r"^(sha256:[0-9a-f]{64}|[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64})$")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_DIR = "autograder-docker"  # the parent cgroups of boxes, beside bwrap's "autograder"
ACCOUNTED = ("memory", "pids", "cpuacct")
# What the image may declare in its config; the box's own values replace them all.
ALLOWED_IMAGE_ENV = {"PATH"}


def _docker() -> Any:
    try:
        import docker  # the API never imports this module: docker is a worker-only dependency
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SandboxUnavailable(
            "the docker sandbox backend needs the docker package (pip install '.[docker]')"
        ) from exc
    return docker


class DockerBackend:
    name = "docker"

    def __init__(self, jobs_dir: Path, docker_host: str, image: str, timeout: float = 30):
        self.jobs_dir = Path(jobs_dir)
        self.docker_host = docker_host
        self.image = image.strip()
        self.timeout = timeout
        self._api: Any = None
        self._image_id: str | None = None
        self._runner: Path | None = None

    # ------------------------------------------------------------------ health

    @property
    def api(self) -> Any:
        if self._api is None:
            docker = _docker()
            try:
                self._api = docker.APIClient(
                    base_url=self.docker_host, version="auto", timeout=self.timeout
                )
            except Exception as exc:
                raise SandboxUnavailable(
                    f"no Docker engine answers at {self.docker_host}: {exc}"
                ) from exc
        return self._api

    def check(self) -> None:
        if os.geteuid() != 0:
            raise SandboxUnavailable(
                "the docker backend needs a root worker (it mounts each box's sized tmpfs)"
            )
        if shutil.which("mount") is None or shutil.which("umount") is None:
            raise SandboxUnavailable("mount and umount are not installed")
        if not PINNED.match(self.image):
            raise SandboxUnavailable(
                f"the sandbox image must be pinned by id or digest (AUTOGRADER_SANDBOX_IMAGE="
                f"sha256:<id> or name@sha256:<digest>), not {self.image!r}; "
                "scripts/build_images.sh prints it"
            )
        try:
            self.api.ping()
            info = self.api.inspect_image(self.image)
        except SandboxUnavailable:
            raise
        except Exception as exc:
            raise SandboxUnavailable(f"the Docker engine or the sandbox image: {exc}") from exc
        image_id = info.get("Id", "")
        if self.image.startswith("sha256:"):
            if image_id != self.image:
                raise SandboxUnavailable(f"image id {image_id} is not the pinned {self.image}")
        elif self.image not in (info.get("RepoDigests") or []):
            raise SandboxUnavailable(f"no local image has the pinned digest {self.image}")
        env = (info.get("Config") or {}).get("Env") or []
        extra = {e.split("=", 1)[0] for e in env} - ALLOWED_IMAGE_ENV
        if extra:
            raise SandboxUnavailable(f"the sandbox image sets environment variables {extra}")
        self._image_id = image_id
        self._prepare_jobs_dir()

    def _prepare_jobs_dir(self) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.jobs_dir.chmod(0o711)  # the box uid must traverse, not list

    def runner_dir(self) -> Path:
        """A read-only copy of worker/runner under the jobs folder, named by its content.

        Bound at /opt/runner, so runner changes need no image rebuild. It is a copy because
        the engine resolves bind sources on its host: a worker in a container shares the jobs
        folder with the host at the same path, but not its own code."""
        if self._runner is not None and self._runner.is_dir():
            return self._runner
        files = sorted(p for p in RUNNER_DIR_HOST.glob("*.py") if p.is_file())
        digest = hashlib.sha256()
        for p in files:
            digest.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        target = self.jobs_dir / f".runner-{digest.hexdigest()[:16]}"
        if not target.is_dir():
            tmp = self.jobs_dir / f".runner-tmp-{uuid.uuid4().hex[:8]}"
            tmp.mkdir(mode=0o755)
            for p in files:
                shutil.copyfile(p, tmp / p.name)
                (tmp / p.name).chmod(0o644)
            tmp.chmod(0o755)
            try:
                tmp.rename(target)
            except OSError:  # another worker made it first
                shutil.rmtree(tmp, ignore_errors=True)
        self._runner = target
        return target

    # ------------------------------------------------------------------ run

    def run(self, request: Request, out_dir: Path) -> Result:
        self.check()
        folder = BoxFolder(self.jobs_dir, tag="d")
        name = folder.name
        group = ParentCgroup.for_box(name)
        container: str | None = None
        try:
            lim = request.limits
            folder.create(BOX_UID, lim.rw_mb, BoxFolder.staged_mb(request.src_dir, request.in_dir))
            folder.stage(request.src_dir, request.in_dir)
            pids = lim.processes + 16
            if group is not None:
                group.create(lim.memory_mb * 1024 * 1024, pids)
            started = time.monotonic()
            container = self._create(request, name, folder, group, pids)
            result = self._run_container(container, request, folder, started)
            self._remove(container)
            container = None
            if group is not None:
                result.peak_memory_bytes = group.peak_memory()
                result.cpu_seconds = group.cpu_seconds()
                result.process_limit_hit = group.pids_limit_hit()
            result.ended_how = folder.ended_how()
            result.out_files, result.out_rejected = folder.collect(out_dir, lim)
            return result
        finally:
            if container is not None:
                self._remove(container)
            if group is not None:
                group.remove()
            folder.remove()

    def _environment(self, request: Request) -> dict[str, str]:
        env = box_environment(request)
        if request.runtime == "numpy":
            env["PATH"] = env["PATH"].replace("/opt/venv/", f"{NUMPY_VENV}/")
        return env

    def host_config(
        self, request: Request, folder: BoxFolder, group: ParentCgroup | None, pids: int
    ) -> dict[str, Any]:
        _docker()
        from docker.types import DeviceRequest, LogConfig, Mount, Ulimit

        lim = request.limits
        memory = lim.memory_mb * 1024 * 1024
        cpu = lim.cpu_limit
        fsize = lim.file_mb * 1024 * 1024
        mounts = [
            Mount(RUNNER_DIR, str(self.runner_dir()), type="bind", read_only=True),
            Mount(SRC, str(folder.ro / "src"), type="bind", read_only=True),
            Mount(IN, str(folder.ro / "in"), type="bind", read_only=True),
            Mount(RW, str(folder.rw), type="bind", read_only=False),
            *[
                Mount(f"{DATA}/{target}", str(host), type="bind", read_only=True)
                for target, host in request.data_files.items()
            ],
        ]
        device_requests = None
        if request.gpu is not None:
            device_requests = [
                DeviceRequest(device_ids=[str(request.gpu.index)], capabilities=[["gpu"]])
            ]
            if request.gpu.mps_pipe_dir is not None:
                mounts.append(Mount("/run/nvidia-mps", str(request.gpu.mps_pipe_dir), type="bind"))
                if request.gpu.mps_shm_dir is not None:  # as bwrap's gpu_args
                    mounts.append(Mount("/dev/shm", str(request.gpu.mps_shm_dir), type="bind"))
        host_config: dict[str, Any] = self.api.create_host_config(
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            ipc_mode="private",
            # Its own cgroup namespace: the box's mount table and /proc/self/cgroup show
            # "/", not the host's path of its group (which names the box).
            cgroupns="private",
            privileged=False,
            mem_limit=memory,
            memswap_limit=memory,
            mem_swappiness=0,
            # With our parent cgroup holding the limit (which reports a fork bomb), the
            # engine's own limit is one above it, so that the parent's is the one hit.
            pids_limit=pids + 1 if group is not None else pids,
            cgroup_parent=group.path if group is not None else None,
            # The job's cores (worker/cpus.py), as bwrap's boxes are pinned to them.
            cpuset_cpus=",".join(map(str, lim.cores)) if lim.cores else None,
            ulimits=[
                Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
                Ulimit(name="fsize", soft=fsize, hard=fsize),
                Ulimit(name="nofile", soft=lim.open_files, hard=lim.open_files),
                Ulimit(name="core", soft=0, hard=0),
            ],
            tmpfs={"/tmp": f"rw,noexec,nosuid,nodev,size={lim.tmp_mb}m"},
            shm_size=None if _mps_shm(request) else lim.tmp_mb * 1024 * 1024,
            mounts=mounts,
            log_config=LogConfig(type="none"),
            device_requests=device_requests,
        )
        return host_config

    def _create(
        self, request: Request, name: str, folder: BoxFolder, group: ParentCgroup | None, pids: int
    ) -> str:
        try:
            created = self.api.create_container(
                image=self._image_id,
                # One pipe for stdout and stderr, as bwrap's: the order of the lines is kept.
                command=[
                    "/bin/sh",
                    "-c",
                    'unset PWD OLDPWD; exec "$@" 2>&1',
                    "sh",
                    *_argv(request),
                ],
                entrypoint=[],
                user=f"{BOX_UID}:{BOX_UID}",
                environment=self._environment(request),
                working_dir=HOME,
                hostname="sandbox",
                network_disabled=True,
                stdin_open=False,
                tty=False,
                labels={LABEL: name, OWNER_LABEL: owner()},
                host_config=self.host_config(request, folder, group, pids),
                name=f"ag-{name}",
            )
        except Exception as exc:
            raise SandboxUnavailable(f"cannot create the sandbox container: {exc}") from exc
        container_id: str = created["Id"]
        return container_id

    def _run_container(
        self, container: str, request: Request, folder: BoxFolder, started: float
    ) -> Result:
        lim = request.limits
        try:
            sock = self.api.attach_socket(
                container, params={"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}
            )
            capture = _StreamCapture(sock, lim.output_bytes)
            self.api.start(container)
        except Exception as exc:
            raise SandboxUnavailable(f"cannot start the sandbox container: {exc}") from exc
        start_seconds = time.monotonic() - started
        begun = time.monotonic()
        exit_code, timed_out = self._wait(container, begun + lim.wall_seconds, request, folder)
        if timed_out:
            self._kill(container)
            exit_code = self._wait(container, time.monotonic() + 30, None, None)[0]
        wall = time.monotonic() - begun
        capture.join(10)
        state = self.api.inspect_container(container).get("State") or {}
        if state.get("Running"):
            raise SandboxUnavailable("the sandbox container is still running after SIGKILL")
        if exit_code is None:
            exit_code = state.get("ExitCode")
        oom = bool(state.get("OOMKilled")) and exit_code != 0
        return Result(
            exit_code=exit_code,
            timed_out=timed_out,
            oom_killed=oom and not timed_out,
            output=capture.data,
            output_truncated=capture.total > len(capture.data),
            output_total_bytes=capture.total,
            wall_seconds=wall,
            start_seconds=start_seconds,
            cpu_seconds=None,
            peak_memory_bytes=None,
            out_files={},
            out_rejected=[],
        )

    def _wait(
        self, container: str, deadline: float, request: Request | None, folder: BoxFolder | None
    ) -> tuple[int | None, bool]:
        """Wait for the container until the deadline, reporting progress about once a second."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            try:
                done = self.api.wait(container, timeout=max(0.05, min(left, 1.0)))
                return int(done.get("StatusCode", -1)), False
            except Exception as exc:
                if not _is_timeout(exc):
                    raise SandboxUnavailable(f"lost the sandbox container: {exc}") from exc
            if (
                request is not None
                and folder is not None
                and request.on_progress
                and request.progress_file
            ):
                lines = folder.progress(request.progress_file)
                if lines:
                    request.on_progress(lines)

    def _kill(self, container: str) -> None:
        with contextlib.suppress(Exception):  # already dead: docker answers 409
            self.api.kill(container, signal="SIGKILL")

    def _remove(self, container: str) -> None:
        """Kill and remove the container (and its anonymous volumes); retried, since the
        engine can be busy with the dying container for a moment."""
        last: Exception | None = None
        for _ in range(20):
            try:
                self.api.remove_container(container, force=True, v=True)
                return
            except Exception as exc:
                if getattr(getattr(exc, "response", None), "status_code", None) == 404:
                    return
                last = exc
                time.sleep(0.1)
        raise SandboxUnavailable(f"cannot remove sandbox container {container[:12]}: {last}")


SHELL_WRAP = 'unset PWD OLDPWD; exec "$@" 2>&1'
NUMPY_VENV = "/opt/venv-numpy"  # the image's Python without torch (numpy-only homework)


def _mps_shm(request: Request) -> bool:
    gpu = request.gpu
    return gpu is not None and gpu.mps_pipe_dir is not None and gpu.mps_shm_dir is not None


def _argv(request: Request) -> list[str]:
    """The box's command: numpy-only homework runs the image's Python without torch, as
    the bwrap backend binds its own numpy-only environment at /opt/venv."""
    argv = list(request.argv)
    if request.runtime == "numpy" and argv and argv[0] == PYTHON:
        argv[0] = f"{NUMPY_VENV}/bin/python"
    return reaped(argv)


def _is_timeout(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "timeout" in text or "timed out" in text


def owner() -> str:
    """``OWNER_LABEL`` of this worker's boxes: <hostname>:<pid>:<process start time>."""
    pid = housekeeping.OWNER_PID
    return f"{liveness.HOST}:{pid}:{liveness.start_time(pid)}"


def _owner_alive(label: str) -> bool:
    """False only for a box of this host whose worker process is gone."""
    host, _, rest = label.partition(":")
    pid, _, started = rest.partition(":")
    if host != liveness.HOST or not pid.isdigit():
        return True  # another host's (or an unlabelled) box: not ours to judge
    return liveness.same_process(int(pid), started)


class _StreamCapture(threading.Thread):
    """Read the container's multiplexed attach stream to its end (demultiplexed by the
    Docker SDK's ``frames_iter``), keeping only the first ``cap`` bytes (stdout and stderr
    are one pipe inside, see ``_create``) and counting the rest."""

    def __init__(self, sock: Any, cap: int):
        super().__init__(daemon=True)
        self.sock, self.cap = sock, cap
        self.raw = getattr(sock, "_sock", sock)  # the socket under the SDK's wrapper
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0
        self.start()

    def run(self) -> None:
        from docker.utils.socket import frames_iter  # a worker-only dependency, as above

        try:
            for _stream, piece in frames_iter(self.raw, tty=False):
                self.total += len(piece)
                if self.kept < self.cap:
                    kept = piece[: self.cap - self.kept]
                    self.chunks.append(kept)
                    self.kept += len(kept)
        except OSError:
            pass
        finally:
            with contextlib.suppress(Exception):
                self.sock.close()

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


class ParentCgroup:
    """A cgroup v1 parent of one box's container (``--cgroup-parent``), at the same path in
    every hierarchy (the engine makes the container's group below it in each): it holds the
    pids limit and the memory limit, and keeps the box's accounting after the container and
    its own group are gone."""

    def __init__(self, path: str):
        self.path = path  # absolute within each hierarchy, e.g. /x/autograder-docker/box-...

    @classmethod
    def for_box(cls, name: str) -> ParentCgroup | None:
        base = _cgroup_base()
        return None if base is None else cls(f"{base}/{name}")

    def dir(self, controller: str) -> Path:
        return CGROUP_ROOT / controller / self.path.lstrip("/")

    def create(self, memory_bytes: int, pids: int) -> None:
        try:
            for c in ACCOUNTED:
                self.dir(c).mkdir(parents=True, exist_ok=True)
            mem = self.dir("memory")
            (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = mem / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(str(memory_bytes))
            (self.dir("pids") / "pids.max").write_text(str(pids))
        except OSError as exc:
            self.remove()
            raise SandboxUnavailable(f"cannot create the box's parent cgroup: {exc}") from exc

    def _read(self, controller: str, name: str) -> str | None:
        try:
            return (self.dir(controller) / name).read_text()
        except OSError:
            return None

    def peak_memory(self) -> int | None:
        value = self._read("memory", "memory.max_usage_in_bytes")
        return int(value) if value else None

    def cpu_seconds(self) -> float | None:
        value = self._read("cpuacct", "cpuacct.usage")
        return int(value) / 1e9 if value else None

    def pids_limit_hit(self) -> bool:
        """True when the box reached its process limit (a fork bomb). The failed forks are
        counted in the pids.events of the group that forked (the container's own, gone with
        it) on recent kernels, so the peak number of processes here counts as well."""
        for line in (self._read("pids", "pids.events") or "").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "max" and int(parts[1]) > 0:
                return True
        peak, limit = self._read("pids", "pids.peak"), self._read("pids", "pids.max")
        return bool(peak and limit and limit.strip().isdigit() and int(peak) >= int(limit))

    def remove(self) -> None:
        """Remove this group in every hierarchy (the engine made it in all of them)."""
        for hierarchy in _hierarchies():
            d = hierarchy / self.path.lstrip("/")
            for _ in range(20):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def _hierarchies() -> list[Path]:
    try:
        return [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def _cgroup_base() -> str | None:
    """The path under which box parent groups are made: our own memory cgroup path plus
    ``autograder-docker``; None when cgroup v1 hierarchies are not writable here."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return None  # cgroup v2 only: the engine's own limits, no accounting after exit
    try:
        own = None
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if "memory" in names.split(","):
                own = path.rstrip("/")
        if own is None:
            return None
        base = f"{own}/{CGROUP_DIR}"
        for c in ACCOUNTED:
            if not os.access(CGROUP_ROOT / c, os.W_OK):
                return None
        return base
    except OSError:
        return None


# ---------------------------------------------------------------------- housekeeping


def remove_stale(settings: Settings) -> int:
    """Remove the boxes (containers and parent cgroups) of dead workers of this host; called
    when a worker starts. The jobs folder's box mounts are swept by worker.housekeeping."""
    removed = 0
    backend = DockerBackend(settings.path("jobs"), settings.docker_host, settings.sandbox_image)
    try:
        containers = backend.api.containers(all=True, filters={"label": LABEL})
    except Exception:
        return 0
    for c in containers:
        if _owner_alive((c.get("Labels") or {}).get(OWNER_LABEL, "")):
            continue
        try:
            backend._remove(c["Id"])
            removed += 1
        except SandboxUnavailable:
            pass
    base = _cgroup_base()
    if base is not None:
        for hierarchy in _hierarchies():
            folder = hierarchy / base.lstrip("/")
            if not folder.is_dir():
                continue
            for d in folder.iterdir():
                if d.is_dir() and not housekeeping.owner_alive(d.name):
                    ParentCgroup(f"{base}/{d.name}").remove()
    return removed
