"""GPU grading, proven in one short run on a bare GPU host (see bench/gpu/README.md).

Two steps:

    .venv/bin/python bench/gpu/check.py prepare [--python-version 3.12] [--carry .gpu-carry]
        HERE: a carry folder under 64 MiB: wheels of the service's libraries for the GPU
        host's Python, the bubblewrap and redis-server .debs with the libraries they need,
        and MNIST's four files.

    python3 bench/gpu/check.py run [--cpu] [--carry .gpu-carry] [--out DIR] [--budget S]
        THERE, with the host's own Python (the one that has torch): probes the host and
        prints what it finds, installs from the carry folder, sets the host up as a
        deployment would (each change logged), then through the real service (embedded
        Redis and SQLite, ``autograder serve`` with its worker on the gpu queue, CUDA MPS
        when present, bubblewrap boxes given the GPU) grades the hw2-2 reference on the
        GPU, measures gradings per minute with 8, 16 and 32 in flight, runs a box that
        allocates past its gpu_memory_mb beside honest neighbours, and times the start-up
        stages of a fresh and of a warm GPU box. ``--cpu`` runs the same steps with CPU
        torch, so that the GPU run is never the script's first.

Every step is guarded: a failure is recorded with its output and the next step runs;
the whole run keeps to ``--budget`` seconds. Results: DIR/gpu-results.json (the figures,
the card and driver, what was found and changed), DIR/run.log, and DIR/logs.tar.gz (the
service's log, the probes, import times).

Only the standard library is imported before the carried wheels are installed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
SITE = Path("/tmp/ag-site")  # the carried wheels, installed
DEBS = Path("/tmp/ag-debs")  # the carried .debs, unpacked
BIN = Path("/tmp/ag-bin")  # wrappers (redis-server with its libraries)
WORK = Path("/tmp/ag-gpu")  # the service's state, specs, MPS pipes
SLUG = "hw2-2-gpu"
PROBE_UID = 61000  # a sandbox slot uid (settings.sandbox_uid_base)

# What the service needs that a GPU host's Python may lack (requirements/main.lock),
# without what only the tests, the docker backend or Postgres need, and without numpy
# (the host's serves the service; the boxes use the host's Python as it is).
SKIP_WHEELS = {
    "numpy",
    "playwright",
    "pytest",
    "pytest-timeout",
    "pluggy",
    "iniconfig",
    "ruff",
    "docker",
    "psycopg",
    "psycopg-binary",
    "uvloop",
    "httptools",
    "watchfiles",
    "websockets",
    "requests",
    "urllib3",
    "charset-normalizer",
    "greenlet",
}
# redis-py imports async-timeout on Python before 3.11.3 (Debian 12's 3.11.2, where the
# CPU rehearsal runs); a few KiB, harmless elsewhere.
EXTRA_WHEELS = ["async-timeout==5.0.1"]
DEBS_WANTED = ["bubblewrap", "redis-server", "redis-tools", "libjemalloc2", "liblzf1"]
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


# ----------------------------------------------------------------------------- prepare


def prepare(args: argparse.Namespace) -> None:
    carry = Path(args.carry).resolve()
    wheels, debs, mnist = carry / "wheels", carry / "debs", carry / "mnist"
    for d in (wheels, debs, mnist):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    pins = []
    for line in (ROOT / "requirements" / "main.lock").read_text().splitlines():
        name, _, version = line.strip().partition("==")
        if line.strip() and not line.startswith("#") and name.lower() not in SKIP_WHEELS:
            pins.append(f"{name}=={version}")
    pins += EXTRA_WHEELS
    platforms = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        args.python_version,
        "--implementation",
        "cp",
        *[arg for p in [*platforms, "manylinux2014_x86_64", "any"] for arg in ("--platform", p)],
        "-d",
        str(wheels),
        *pins,
    ]
    subprocess.run(cmd, check=True)
    subprocess.run(["apt-get", "download", "-q", *DEBS_WANTED], cwd=debs, check=True)
    source = Path(args.mnist)
    for name in MNIST_FILES:
        shutil.copyfile(source / name, mnist / name)
    size = sum(f.stat().st_size for f in carry.rglob("*") if f.is_file())
    print(f"carry folder {carry}: {size / 2**20:.1f} MiB")
    for f in sorted(carry.rglob("*")):
        if f.is_file():
            print(f"  {f.relative_to(carry)}  {f.stat().st_size / 1024:.0f} KiB")
    if size > 48 * 2**20:
        raise SystemExit("the carry folder must stay well under 64 MiB with the checkout")


# ----------------------------------------------------------------------------- run


class Run:
    """The state of one run: results, the log, the deadline."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cpu = args.cpu
        self.started = time.monotonic()
        self.deadline = self.started + args.budget
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.logs = self.out / "logs"
        self.logs.mkdir(exist_ok=True)
        self.log_fh = open(self.out / "run.log", "a")  # noqa: SIM115 - the run's log
        self.results: dict[str, Any] = {
            "mode": "cpu rehearsal" if self.cpu else "gpu",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": _git_commit(),
            "steps": {},
            "changes_to_host": [],
            "problems": [],
        }
        self.env: dict[str, str] = {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {text}"
        print(line, flush=True)
        self.log_fh.write(line + "\n")
        self.log_fh.flush()

    def change(self, what: str) -> None:
        """A change made to the host, as an administrator deploying the worker would."""
        self.say(f"host change: {what}")
        self.results["changes_to_host"].append(what)

    def problem(self, what: str) -> None:
        self.say(f"PROBLEM: {what}")
        self.results["problems"].append(what)

    def step(self, name: str, fn: Callable[[], Any], *, needs: float = 0) -> Any:
        if self.left() < needs:
            self.problem(f"step {name} skipped: {self.left():.0f} s left, it needs {needs:.0f}")
            self.results["steps"][name] = {"ok": False, "skipped": True}
            return None
        self.say(f"== {name}")
        t = time.monotonic()
        try:
            value = fn()
            ok = True
        except Exception as exc:
            value = None
            ok = False
            self.problem(f"step {name} failed: {exc!r}")
            self.say(traceback.format_exc())
        self.results["steps"][name] = {"ok": ok, "seconds": round(time.monotonic() - t, 2)}
        self.save()
        return value

    def save(self) -> None:
        self.results["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        (self.out / "gpu-results.json").write_text(json.dumps(self.results, indent=2))

    def sh(self, command: str | list[str], timeout: float = 60, **kw: Any) -> tuple[int, str]:
        """Run a command; its return code and output (never raises on failure)."""
        try:
            proc = subprocess.run(
                command,
                check=False,
                shell=isinstance(command, str),
                capture_output=True,
                text=True,
                timeout=timeout,
                **kw,
            )
            return proc.returncode, (proc.stdout + proc.stderr).strip()
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {timeout} s"
        except OSError as exc:
            return 127, str(exc)


def run(args: argparse.Namespace) -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    WORK.chmod(0o755)
    r = Run(args)
    r.say(f"bench/gpu/check.py run ({r.results['mode']}), budget {args.budget:.0f} s")
    r.step("probe", lambda: probe(r))
    r.step("install", lambda: install(r))
    r.step("host", lambda: set_up_host(r))
    boxes = r.step("sandbox", lambda: sandbox_smoke(r))
    if boxes is None:  # fail closed: say why, and still measure what can be measured
        r.step("startup_outside_boxes", lambda: startup_outside(r), needs=60)
    r.step("startup", lambda: startup_stages(r), needs=60)
    if boxes:
        r.step("service", lambda: service(r), needs=90)
    else:
        r.problem("no grading through the service: the sandbox cannot start here (above)")
    r.step("mps_escape", lambda: mps_escape(r), needs=15)
    finish(r)
    return 0 if not r.results["problems"] else 1


# ----------------------------------------------------------------------------- probe


def probe(r: Run) -> None:
    """What the host is, before anything is changed."""
    p: dict[str, Any] = {}
    p["uname"] = platform.uname()._asdict()
    p["python"] = {"executable": sys.executable, "version": sys.version.split()[0]}
    p["python"]["prefix"], p["python"]["base_prefix"] = sys.prefix, sys.base_prefix
    cfg = Path(sys.prefix) / "pyvenv.cfg"
    p["python"]["pyvenv_cfg"] = cfg.read_text() if cfg.exists() else None
    p["cpus"] = os.cpu_count()
    p["meminfo"] = {
        k: v.strip()
        for k, _, v in (ln.partition(":") for ln in Path("/proc/meminfo").read_text().splitlines())
        if k in ("MemTotal", "MemAvailable", "SwapTotal")
    }
    cg = Path("/sys/fs/cgroup")
    p["cgroup"] = {
        "fs": r.sh(["stat", "-fc", "%T", str(cg)])[1],
        "controllers": _read(cg / "cgroup.controllers"),
        "subtree_control": _read(cg / "cgroup.subtree_control"),
        "self": _read(Path("/proc/self/cgroup")),
        "mounts": [ln for ln in _read(Path("/proc/mounts")).splitlines() if "cgroup" in ln],
        "v1_dirs": sorted(x.name for x in cg.iterdir()) if cg.is_dir() else [],
    }
    p["userns"] = {
        "max_user_namespaces": _read(Path("/proc/sys/user/max_user_namespaces")),
        "unprivileged_userns_clone": _read(Path("/proc/sys/kernel/unprivileged_userns_clone")),
        "apparmor_restrict": _read(Path("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")),
    }
    p["tools"] = {t: shutil.which(t) for t in ("bwrap", "setpriv", "dpkg", "nvidia-smi", "ldd")}
    p["tools"]["nvidia-cuda-mps-control"] = _mps_control()
    p["dev_nvidia"] = {
        str(d): stat.filemode(d.stat().st_mode) for d in sorted(Path("/dev").glob("nvidia*"))
    }
    if shutil.which("nvidia-smi"):
        p["nvidia_smi"] = r.sh(
            "nvidia-smi --query-gpu=name,driver_version,memory.total,compute_mode "
            "--format=csv,noheader"
        )[1]
        p["nvidia_smi_L"] = r.sh("nvidia-smi -L")[1]
    p["ld_library_path"] = os.environ.get("LD_LIBRARY_PATH", "")
    p["libcuda_in_ld_cache"] = "libcuda.so" in r.sh("ldconfig -p")[1]
    code, out = r.sh(
        [
            sys.executable,
            "-c",
            "import torch,json;print(json.dumps({'torch':torch.__version__,"
            "'cuda':torch.version.cuda,'available':torch.cuda.is_available(),"
            "'device':torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))",
        ],
        timeout=120,
    )
    p["torch"] = out.splitlines()[-1] if code == 0 and out else out[-2000:]
    p["sandbox_uid_reads_python"] = _as_uid_imports(r, sys.executable)
    r.results["probe"] = p
    (r.logs / "probe.json").write_text(json.dumps(p, indent=2))
    for key in ("uname", "cgroup", "userns", "tools", "dev_nvidia", "torch", "meminfo"):
        r.say(f"probe {key}: {json.dumps(p[key])[:600]}")
    r.say(f"probe nvidia: {p.get('nvidia_smi')} / {p.get('nvidia_smi_L')}")
    r.say(f"probe sandbox uid imports torch: {p['sandbox_uid_reads_python']}")


def _as_uid_imports(r: Run, python: str) -> str:
    if not shutil.which("setpriv"):
        return "no setpriv"
    code, out = r.sh(
        [
            "setpriv",
            f"--reuid={PROBE_UID}",
            f"--regid={PROBE_UID}",
            "--clear-groups",
            python,
            "-c",
            "import numpy, torch, safetensors; print('ok', torch.__version__)",
        ],
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        cwd="/",
    )
    return "ok" if code == 0 and "ok" in out else f"failed ({code}): {out[-400:]}"


def _mps_control() -> str | None:
    found = shutil.which("nvidia-cuda-mps-control")
    if found:
        return found
    for folder in ("/usr/local/nvidia/bin", "/usr/bin"):
        if os.access(f"{folder}/nvidia-cuda-mps-control", os.X_OK):
            return f"{folder}/nvidia-cuda-mps-control"
    return None


# ----------------------------------------------------------------------------- install


def install(r: Run) -> None:
    carry = Path(r.args.carry).resolve()
    wheels = sorted((carry / "wheels").glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheels in {carry}/wheels: run `check.py prepare` first")
    shutil.rmtree(SITE, ignore_errors=True)
    code, out = r.sh(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--no-cache-dir",
            "--target",
            str(SITE),
            *map(str, wheels),
        ],
        timeout=180,
    )
    if code != 0:
        raise RuntimeError(f"pip install of the carried wheels failed: {out[-2000:]}")
    r.say(f"installed {len(wheels)} wheels into {SITE}")
    r.env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(SITE), str(ROOT)]),
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        }
    )
    shutil.rmtree(DEBS, ignore_errors=True)
    DEBS.mkdir(parents=True)
    for deb in sorted((carry / "debs").glob("*.deb")):
        if shutil.which("dpkg-deb"):
            code, out = r.sh(["dpkg-deb", "-x", str(deb), str(DEBS)])
            if code != 0:
                raise RuntimeError(f"dpkg-deb -x {deb.name}: {out}")
        else:
            _unpack_deb(deb, DEBS)
    if shutil.which("bwrap") is None:
        # The worker runs boxes with PATH=/usr/bin:/bin: bwrap must be there.
        shutil.copy2(DEBS / "usr/bin/bwrap", "/usr/bin/bwrap")
        r.change("installed /usr/bin/bwrap from the carried bubblewrap .deb")
    code, out = r.sh(["ldd", "/usr/bin/bwrap"])
    if "not found" in out:
        r.problem(f"bwrap lacks libraries: {out}")
    BIN.mkdir(parents=True, exist_ok=True)
    real = DEBS / "usr/bin/redis-check-rdb"  # redis-server is a link to this binary
    libs = DEBS / "usr/lib/x86_64-linux-gnu"
    wrapper = BIN / "redis-server"
    # The binary acts as redis-server when its argv[0] says so (bash's exec -a).
    wrapper.write_text(f'#!/bin/bash\nLD_LIBRARY_PATH={libs} exec -a redis-server {real} "$@"\n')
    wrapper.chmod(0o755)
    code, out = r.sh([str(wrapper), "--version"])
    if code != 0:
        raise RuntimeError(f"the carried redis-server does not run: {out}")
    r.say(f"redis: {out}")
    code, out = r.sh(
        [sys.executable, "-c", "import celery, sqlalchemy, pydantic, fastapi, autograder.cli"],
        env={**os.environ, **r.env},
        cwd=str(ROOT),
        timeout=120,
    )
    if code != 0:
        raise RuntimeError(f"the service does not import with the carried wheels: {out[-2000:]}")


def _unpack_deb(deb: Path, target: Path) -> None:
    """``dpkg-deb -x`` for a host without dpkg: a .deb is an ar archive whose data.tar.xz
    holds the files."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError(f"{deb.name} is not a .deb")
    at = 8
    while at + 60 <= len(data):
        name = data[at : at + 16].decode().strip().rstrip("/")
        size = int(data[at + 48 : at + 58].decode().strip())
        body = data[at + 60 : at + 60 + size]
        if name.startswith("data.tar"):
            import io

            with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                tar.extractall(target, filter="tar")
            return
        at += 60 + size + (size % 2)
    raise RuntimeError(f"{deb.name} has no data.tar")


# ----------------------------------------------------------------------------- host set-up


def set_up_host(r: Run) -> None:
    """What an administrator does once on a GPU host, each change logged."""
    sandbox_python = Path(sys.executable)
    if r.results["probe"]["sandbox_uid_reads_python"] != "ok":
        _make_python_readable(r, sandbox_python)
        again = _as_uid_imports(r, str(sandbox_python))
        r.say(f"sandbox uid imports torch after the change: {again}")
        if again != "ok":
            r.problem(f"the sandbox uid cannot use {sandbox_python}: {again}")
    if not r.cpu:
        _driver_libraries(r)
        for node in Path("/dev").glob("nvidia*"):
            mode = node.stat().st_mode
            if stat.S_ISCHR(mode) and (mode & 0o006) != 0o006:
                node.chmod(stat.S_IMODE(mode) | 0o666)
                r.change(f"chmod o+rw {node} (the boxes' uids open it)")
    cg = Path("/sys/fs/cgroup")
    if not (cg / "cgroup.controllers").exists() and not (cg / "memory").is_dir():
        cg.mkdir(parents=True, exist_ok=True)
        code, out = r.sh(["mount", "-t", "cgroup2", "none", str(cg)])
        r.change(f"mount -t cgroup2 none {cg}: {code} {out}")
    host_mb = _meminfo_mb("MemTotal")
    if host_mb < 100_000 and not r.cpu:
        # Firecracker machines start with a small MemTotal that grows as memory is used;
        # the kind has 128 GiB (the device tool's KINDS.md).
        r.env["AUTOGRADER_HOST_MEMORY_MB"] = "120000"
        r.say(f"MemTotal {host_mb} MB: AUTOGRADER_HOST_MEMORY_MB=120000")
    r.env["AUTOGRADER_SANDBOX_PYTHON"] = str(sandbox_python)
    if not r.cpu:
        _start_mps(r)


def _make_python_readable(r: Run, python: Path) -> None:
    """The sandbox uids must read the interpreter, its venv and its standard library."""
    targets = {Path(sys.prefix), Path(sys.base_prefix), python.resolve().parent.parent}
    for target in sorted(targets):
        for parent in [*reversed(target.parents), target]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(stat.S_IMODE(mode) | 0o005)
                r.change(f"chmod o+rx {parent}")
        code, out = r.sh(["chmod", "-R", "o+rX", str(target)], timeout=300)
        r.change(f"chmod -R o+rX {target} ({code} {out[-200:]})")


def _driver_libraries(r: Run) -> None:
    """Boxes start with a cleared environment: libcuda must be in the linker's cache."""
    if "libcuda.so" in r.sh("ldconfig -p")[1]:
        return
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    dirs += ["/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu"]
    found = [d for d in dirs if list(Path(d).glob("libcuda.so*"))]
    if not found:
        r.problem("libcuda.so is in no library folder: CUDA cannot start inside a box")
        return
    conf = Path("/etc/ld.so.conf.d/zz-autograder-nvidia.conf")
    conf.write_text("\n".join(dict.fromkeys(found)) + "\n")
    code, out = r.sh(["ldconfig"])
    r.change(f"{conf} lists {found}; ldconfig: {code} {out[-200:]}")


def _start_mps(r: Run) -> None:
    """The MPS control daemon, as a GPU worker's host runs it: in a mount namespace of its
    own whose /dev/shm is a folder the GPU boxes get as theirs (MPS clients share memory
    with their server there; the host's /dev/shm holds the job scratch), with pipe and
    log folders the boxes' uid may write (its server runs as that uid), and the default
    pinned-memory limit of each client set to the spec's gpu_memory_mb."""
    control = _mps_control()
    if control is None:
        r.problem("nvidia-cuda-mps-control is not on this host: gpu_memory_mb is NOT enforced")
        return
    pipe, logs, shm = WORK / "mps-pipe", WORK / "mps-log", WORK / "mps-shm"
    for d in (pipe, logs, shm):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        d.chmod(0o1777)
    WORK.chmod(0o755)
    env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": str(pipe), "CUDA_MPS_LOG_DIRECTORY": str(logs)}
    code, out = r.sh(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            f'mount --bind "{shm}" /dev/shm && exec "{control}" -d',
        ],
        env=env,
    )
    r.say(f"MPS control daemon (own /dev/shm = {shm}): {code} {out}")
    time.sleep(0.5)
    code, out = r.sh(f"echo get_server_list | {control}", env=env)
    if code != 0:
        r.problem(f"the MPS control daemon does not answer: {code} {out}")
        return
    limit = SPEC_GPU_MB
    code, out = r.sh(f"echo set_default_device_pinned_mem_limit 0 {limit}M | {control}", env=env)
    r.say(f"MPS default pinned memory limit {limit} MB: {code} {out}")
    r.env["AUTOGRADER_GPU_MPS_PIPE_DIR"] = str(pipe)
    r.env["AUTOGRADER_GPU_MPS_SHM_DIR"] = str(shm)
    r.results["mps"] = {
        "control": control,
        "pipe_dir": str(pipe),
        "shm_dir": str(shm),
        "default_limit_mb": limit,
    }


def mps_state(r: Run, when: str) -> None:
    control = _mps_control()
    if control is None or "mps" not in r.results:
        return
    env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": r.results["mps"]["pipe_dir"]}
    _, servers = r.sh(f"echo get_server_list | {control}", env=env)
    lines = [f"servers: {servers!r}"]
    for pid in servers.split():
        if pid.isdigit():
            _, clients = r.sh(f"echo get_client_list {pid} | {control}", env=env)
            lines.append(f"server {pid} ({_owner(pid)}) clients: {clients.split()}")
    shm = sorted(p.name for p in Path(r.results["mps"]["shm_dir"]).iterdir())
    lines.append(f"shm files: {shm[:10]}")
    r.say(f"MPS {when}: " + "; ".join(lines))
    r.results.setdefault("mps_states", {})[when] = lines


def _owner(pid: str) -> str:
    try:
        return f"uid {Path(f'/proc/{pid}').stat().st_uid}"
    except OSError:
        return "gone"


# ----------------------------------------------------------------------------- boxes


SPEC_GPU_MB = 2048


def _settings(r: Run):  # type: ignore[no-untyped-def]
    """The service's settings as the worker on this host would have them."""
    os.environ.update(r.env)
    for path in reversed(r.env["PYTHONPATH"].split(os.pathsep)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from autograder.settings import Settings

    return Settings(home=WORK / "home")


def _gpu(r: Run, settings: Any):  # type: ignore[no-untyped-def]
    from worker.sandbox.base import GpuAssignment

    if r.cpu:
        return None
    return GpuAssignment(0, SPEC_GPU_MB, settings.gpu_mps_pipe_dir)


def _box(r: Run, argv_tail: list[str], *, pool: int = 0, runtime: str = "none", name: str = "box"):  # type: ignore[no-untyped-def]
    """Run the sandbox Python with ``argv_tail`` in one real box (bench/ staged in /job/src)."""
    from worker.sandbox import get_backend
    from worker.sandbox.base import PYTHON, Limits, Request

    settings = _settings(r).model_copy(update={"sandbox_pool_size": pool})
    backend = get_backend(settings)
    src = Path(tempfile.mkdtemp(prefix="ag-src-", dir=WORK))
    inputs = Path(tempfile.mkdtemp(prefix="ag-in-", dir=WORK))
    shutil.copy(ROOT / "bench" / "gpu_startup.py", src / "gpu_startup.py")
    shutil.copy(ROOT / "bench" / "gpu" / "mps_escape.py", src / "mps_escape.py")
    for d in (src, inputs, WORK):
        d.chmod(0o755)
    request = Request(
        argv=[PYTHON, "-B", *argv_tail],
        src_dir=src,
        in_dir=inputs,
        limits=Limits(
            memory_mb=8192,
            wall_seconds=150,
            processes=64,
            threads=1,
            output_bytes=4 * 2**20,
            tmp_mb=256,
        ),
        gpu=_gpu(r, settings),
        runtime=runtime,
    )
    result = backend.run(request, WORK / f"out-{name}-{time.monotonic_ns()}")
    return backend, request, result


SMOKE = (
    "import os, torch; print('uid', os.getuid(), 'torch', torch.__version__, "
    "'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) "
    "if torch.cuda.is_available() else '-'); "
    "print('devices', sorted(os.listdir('/dev'))); "
    "print(open('/proc/self/cgroup').read().strip())"
)


def sandbox_smoke(r: Run) -> bool:
    """One box given the GPU; if it cannot use it through MPS, MPS is given up (the run
    goes on without the memory cap, and says so) and the box is tried again."""
    settings = _settings(r)
    from worker.sandbox import cgroups, get_backend

    r.say(f"cgroups: {cgroups.describe()}")
    get_backend(settings).check()
    ok = _smoke(r)
    if not ok and not r.cpu and "mps" in r.results:
        r.problem("a box could not use the GPU through MPS: trying again without MPS")
        _stop_mps(r)
        ok = _smoke(r)
    if not ok:
        raise RuntimeError("a box given the GPU could not use it")
    return True


def _smoke(r: Run) -> bool:
    from worker.sandbox import cgroups

    _, _, result = _box(r, ["-c", SMOKE], name="smoke")
    text = result.output.decode("utf-8", "replace")
    r.say(
        f"smoke box: exit {result.exit_code}, {result.wall_seconds:.1f} s, peak memory "
        f"{(result.peak_memory_bytes or 0) / 2**20:.0f} MB, cpu {result.cpu_seconds}:\n{text}"
    )
    r.results["sandbox"] = {
        "cgroups": cgroups.describe(),
        "exit_code": result.exit_code,
        "output": text[-2000:],
        "wall_seconds": round(result.wall_seconds, 2),
        "peak_memory_mb": round((result.peak_memory_bytes or 0) / 2**20),
        "mps": "mps" in r.results,
    }
    mps_state(r, "after the smoke box")
    return result.exit_code == 0 and (r.cpu or "cuda True" in text)


def _stop_mps(r: Run) -> None:
    control = _mps_control()
    mps = r.results.pop("mps", None)
    if control and mps:
        env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": mps["pipe_dir"]}
        r.sh(f"echo quit | {control}", env=env)
        r.results["mps_given_up"] = mps
    for key in ("AUTOGRADER_GPU_MPS_PIPE_DIR", "AUTOGRADER_GPU_MPS_SHM_DIR"):
        r.env.pop(key, None)
        os.environ.pop(key, None)


def startup_outside(r: Run) -> None:
    """The start-up stages without a sandbox (the host's Python as root): the figures the
    issue asks for when boxes cannot start here, beside the reason they cannot."""
    flag = ["--cpu"] if r.cpu else []
    out: dict[str, Any] = {}
    script = str(ROOT / "bench" / "gpu_startup.py")
    for name, argv in (("fresh", [script, *flag]), ("after_warm_up", [script, "--warm", *flag])):
        code, text = r.sh([sys.executable, *argv], timeout=120)
        out[name] = _stages(text.encode())
        r.say(f"outside boxes, {name}: {json.dumps(out[name])}")
    code, text = r.sh([sys.executable, "-X", "importtime", script, *flag], timeout=120)
    (r.logs / "importtime-outside.txt").write_text(text)
    out["importtime_top"] = _importtime_top(text)
    r.results["startup_outside_boxes"] = out


def startup_stages(r: Run) -> None:
    """bench/gpu/../gpu_startup.py in boxes of the real pool: the first request finds no
    warm box (it gets a fresh box, which imports everything as it goes); once the pool has
    warmed a box of that profile, the next request's hand-off and stages are what a job in
    a warm box pays. Then a fresh box under -X importtime names the imports behind it."""
    _settings(r)
    from worker.sandbox.pool import close_shared_pool, shared_pool

    flag = ["--cpu"] if r.cpu else []
    argv = ["/job/src/gpu_startup.py", *flag]
    out: dict[str, Any] = {}
    _, _, fresh = _box(r, argv, pool=1, runtime="torch-train", name="fresh")
    out["fresh_box"] = _stages(fresh.output)
    out["fresh_box_seconds"] = round(fresh.start_seconds + fresh.wall_seconds, 2)
    r.say(f"fresh box ({out['fresh_box_seconds']} s): {json.dumps(out['fresh_box'])}")
    pool = shared_pool(1, 600)
    t = time.monotonic()
    while pool.warm_count() == 0 and time.monotonic() - t < 60 and not pool._failures:
        time.sleep(0.1)
    if pool._failures:
        r.problem(f"warm boxes died warming up (see serve.log / run.log): {pool._failures}")
    out["warm_up_seconds"] = round(time.monotonic() - t, 2)
    _, _, warm = _box(r, argv, pool=1, runtime="torch-train", name="warm")
    out["warm_box"] = _stages(warm.output)
    out["warm_box_handoff_seconds"] = round(warm.start_seconds, 3)
    out["warm_box_first_result_seconds"] = round(
        warm.start_seconds + _seconds_until(out["warm_box"], "first matmul"), 3
    )
    out["pool"] = {"hits": pool.hits, "misses": pool.misses}
    close_shared_pool()
    r.say(
        f"warm box (ready after {out['warm_up_seconds']} s of warm-up, hand-off "
        f"{out['warm_box_handoff_seconds']} s): {json.dumps(out['warm_box'])}"
    )
    r.results["startup"] = out
    r.save()
    if r.left() > 150:
        _, _, imp = _box(r, ["-X", "importtime", *argv], name="importtime")
        text = imp.output.decode("utf-8", "replace")
        (r.logs / "importtime.txt").write_text(text)
        out["importtime_stages"] = _stages(imp.output)
        out["importtime_top"] = _importtime_top(text)
        r.say(f"slowest imports (cumulative us): {out['importtime_top'][:10]}")


def _seconds_until(stages: list[dict[str, Any]], last: str) -> float:
    total = 0.0
    for s in stages:
        total += s["seconds"]
        if s["stage"] == last:
            break
    return total


def _stages(output: bytes) -> list[dict[str, Any]]:
    stages = []
    for line in output.decode("utf-8", "replace").splitlines():
        if line.startswith('{"stage"'):
            with contextlib.suppress(ValueError):
                stages.append(json.loads(line))
    return stages


def _importtime_top(text: str) -> list[tuple[str, int]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = [p.strip() for p in line[len("import time:") :].split("|")]
            if len(parts) == 3 and parts[1].isdigit():
                rows.append((parts[2], int(parts[1])))
    return sorted(rows, key=lambda x: -x[1])[:25]


# ----------------------------------------------------------------------------- the service


def _gpu_spec(r: Run) -> Path:
    """hw2-2 as a GPU homework (device gpu, one core, gpu_memory_mb capped), its reference,
    and two hostile solutions: one over its GPU memory, one that tries to lift the cap."""
    specs, refs = WORK / "specs", WORK / "refs"
    for d in (specs, refs):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    text = (ROOT / "grading_specs" / "hw2-2.yaml").read_text()
    device = "cpu" if r.cpu else "gpu"
    text = text.replace(
        "resources:\n  device: cpu\n  memory_mb: 3072\n",
        f"resources:\n  device: {device}\n  gpu_memory_mb: {SPEC_GPU_MB}\n  memory_mb: 3072\n",
    ).replace("  threads: 2\n", "  threads: 1\n")
    if f"device: {device}" not in text:
        raise RuntimeError("grading_specs/hw2-2.yaml changed: update bench/gpu/check.py")
    (specs / f"{SLUG}.yaml").write_text(text)
    shutil.copytree(ROOT / "reference_solutions" / "hw2-2", refs / SLUG)
    return specs


HOG_GPU = """
import torch
if torch.cuda.is_available():  # 3 GiB on a box allowed 2 GiB of GPU memory
    _hog = torch.empty(3 * 2**30, dtype=torch.uint8, device="cuda")
    _hog.fill_(1)
    print("HOG ALLOCATED", _hog.numel())
"""
HOG_CPU = """
import torch
_hog = torch.ones(2**30, dtype=torch.float32)  # 4 GiB on a box allowed 3 GiB
print("HOG ALLOCATED", _hog.numel())
"""


def service(r: Run) -> None:
    specs = _gpu_spec(r)
    home = WORK / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    home.chmod(0o711)
    carry = Path(r.args.carry).resolve()
    r.env.update(
        {
            "AUTOGRADER_SPECS_DIR": str(specs),
            "AUTOGRADER_REFERENCE_DIR": str(WORK / "refs"),
            "AUTOGRADER_MNIST_SOURCE": str(carry / "mnist"),
            "AUTOGRADER_SANDBOX_SLOTS": "128",
            "AUTOGRADER_SANDBOX_POOL_SIZE": "1",
            "AUTOGRADER_GPU_BOXES_PER_GPU": "40",
            "AUTOGRADER_GPU_DEVICES": "none" if r.cpu else "0",
            "AUTOGRADER_LOG_FORMAT": "text",
        }
    )
    if r.cpu:
        r.env["AUTOGRADER_WORKER_CONCURRENCY"] = "2"
    os.environ.update(r.env)
    _settings(r)
    from autograder.settings import get_settings

    get_settings.cache_clear()  # read again: the specs, references and data set just now
    import bench.__main__ as bench

    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    proc, env = bench.start_service(home, port, 0)
    try:
        levels = [2] if r.cpu else [8, 16, 32]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as users:
            names = [f"gpu{i}" for i in range(max(levels) + 8)]
            tokens = list(users.map(lambda name: bench.add_user(env, name), names))

        def over_budget() -> None:  # before the levels, so that it queues behind none
            if r.left() > 120:
                r.results["over_budget_box"] = _over_budget(r, bench, base, home, tokens)
                r.save()

        args = argparse.Namespace(
            mnist=SLUG,
            inflight=levels,
            concurrency=0,
            deadline=max(30.0, r.left() - 30),
            before_levels=lambda: r.step("over_budget_box", over_budget),
        )
        mnist = bench.bench_mnist(base, home, tokens, args)
        r.results["mnist"] = mnist
        bench.report_mnist(mnist)
        r.say(f"hw2-2 on the {'CPU' if r.cpu else 'GPU'}: {json.dumps(_summary(mnist))}")
        r.save()
    finally:
        bench.os.killpg(proc.pid, 15)
        with contextlib.suppress(Exception):
            proc.wait(20)
        shutil.copy(home / "serve.log", r.logs / "serve.log")


def _summary(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "end_to_end_seconds": round(m["end_to_end_seconds"], 2),
        "first_end_to_end_seconds": round(m["first_end_to_end_seconds"], 2),
        "in_process_compute_seconds": round(m["baseline_compute_seconds"], 2),
        "levels": [
            {k: lv[k] for k in ("inflight", "finished", "wall_seconds", "graded_per_minute")}
            for lv in m["levels"]
        ],
        "full_marks": f"{m['full_marks']}/{m['submissions']}",
        "timings": m["timings"],
    }


def _over_budget(r: Run, bench: Any, base: str, home: Path, tokens: list[str]) -> dict[str, Any]:
    """One submission whose model takes 3 GiB of GPU memory on a box allowed 2 GiB,
    uploaded with three honest neighbours at once: it must fail with CUDA out of memory,
    they must keep full marks."""
    hog_dir = WORK / "hog"
    shutil.rmtree(hog_dir, ignore_errors=True)
    hog_dir.mkdir()
    ref = WORK / "refs" / SLUG
    (hog_dir / "mnist_cnn.py").write_text(
        (ref / "mnist_cnn.py").read_text() + (HOG_CPU if r.cpu else HOG_GPU)
    )
    shutil.copy(ref / "weights.safetensors", hog_dir / "weights.safetensors")
    files = bench.reference_files(SLUG)
    hog_files = [hog_dir / f.name for f in files]
    sids = [bench.upload(base, tokens[-1], SLUG, hog_files)[0]]
    sids += [bench.upload(base, tokens[-2 - i], SLUG, files)[0] for i in range(3)]
    bench.wait_all(home, sids, timeout=max(20.0, min(180.0, r.left() - 60)))
    import sqlite3

    con = sqlite3.connect(home / "autograder.db")
    rows = {
        sid: con.execute(
            "SELECT state, score, max_score, outcomes, log FROM grading_runs "
            "WHERE submission_id = ? ORDER BY id DESC",
            (sid,),
        ).fetchone()
        for sid in sids
    }
    con.close()
    hog = rows[sids[0]]
    outcomes = json.loads(hog[3] or "[]")
    text = json.dumps(outcomes) + (hog[4] or "")
    result = {
        "hog": {"state": hog[0], "score": hog[1], "max": hog[2]},
        "hog_out_of_memory_reported": any(
            w in text.lower() for w in ("out of memory", "memory limit", "ran out of memory")
        ),
        "hog_allocated_past_cap": "HOG ALLOCATED" in text,
        "hog_checks": [
            {
                "check": o.get("check"),
                "earned": o.get("earned"),
                "points": o.get("points"),
                "message": str(o.get("message"))[:300],
            }
            for o in outcomes
        ],
        "neighbours": [
            {"state": rows[s][0], "score": rows[s][1], "max": rows[s][2]} for s in sids[1:]
        ],
    }
    r.say(f"over-budget box: {json.dumps(result)[:2000]}")
    if result["hog_allocated_past_cap"] or not result["hog_out_of_memory_reported"]:
        r.problem("the memory cap was not enforced on the over-budget box")
    if hog[1] is not None and hog[2] and hog[1] > 0.11 * hog[2]:
        r.problem(f"the over-budget box scored {hog[1]}: conv2d's 10 points at most")
    if any(n["score"] != n["max"] for n in result["neighbours"]):
        r.problem("an honest neighbour of the over-budget box lost points")
    return result


def mps_escape(r: Run) -> None:
    """Can a box lift its own MPS memory cap? A child process with a raised (or no)
    CUDA_MPS_PINNED_DEVICE_MEM_LIMIT tries to take 3 GiB of a 2 GiB box."""
    if r.cpu or "mps" not in r.results:
        r.say("no MPS here: nothing to escape from")
        return
    _, _, result = _box(r, ["/job/src/mps_escape.py"], name="escape")
    text = result.output.decode("utf-8", "replace")
    r.say(f"MPS cap from inside a box: {text}")
    r.results["mps_escape"] = {
        line.split()[0]: line.split()[1]
        for line in text.splitlines()
        if len(line.split()) > 1 and line.split()[0] in ("raised", "removed", "kept")
    }
    if "ESCAPED" in text:
        r.problem("a box lifted its MPS memory cap (see mps_escape)")


# ----------------------------------------------------------------------------- finish


def finish(r: Run) -> None:
    if not r.cpu and _mps_control() and "mps" in r.results:
        env = {**os.environ, "CUDA_MPS_PIPE_DIRECTORY": r.results["mps"]["pipe_dir"]}
        r.sh(f"echo quit | {_mps_control()}", env=env)
    p = r.results.get("probe", {})
    r.results["card"] = p.get("nvidia_smi")
    m = r.results.get("mnist") or {}
    r.results["figures"] = {
        "reference_full_marks_on_gpu": bool(m) and m.get("full_marks") == m.get("submissions"),
        "mnist_cnn_gradings_per_min_gpu": m.get("graded_per_minute"),
        "gradings_per_min_by_inflight": {
            lv["inflight"]: lv["graded_per_minute"] for lv in m.get("levels", [])
        },
        "hw2_2_end_to_end_seconds": m.get("end_to_end_seconds"),
        "warm_box_first_result_seconds": (r.results.get("startup") or {}).get(
            "warm_box_first_result_seconds"
        ),
    }
    r.save()
    with tarfile.open(r.out / "logs.tar.gz", "w:gz") as tar:
        tar.add(r.logs, arcname="logs")
    shutil.rmtree(r.logs, ignore_errors=True)
    r.say(f"done in {time.monotonic() - r.started:.0f} s; problems: {len(r.results['problems'])}")
    for problem in r.results["problems"]:
        r.say(f"  - {problem}")
    r.say(json.dumps(r.results["figures"]))


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        return f"<{exc.strerror}>"


def _meminfo_mb(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) // 1024
    return 0


def _git_commit() -> str:
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                check=False,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout.strip()
            or "unknown"
        )
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="build the carry folder (here)")
    p.add_argument("--carry", default=str(ROOT / ".gpu-carry"))
    p.add_argument("--python-version", default="3.12")
    p.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p = sub.add_parser("run", help="the check (on the GPU host)")
    p.add_argument("--carry", default=str(ROOT / ".gpu-carry"))
    p.add_argument("--out", default=os.environ.get("OUT") or "/tmp/ag-gpu-out")
    p.add_argument("--budget", type=float, default=330)
    p.add_argument("--cpu", action="store_true", help="the same steps with CPU torch")
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
