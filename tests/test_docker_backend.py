"""The docker sandbox backend on a real engine: every limit, the artifacts, the cleanup.

Skips with the reason when no engine answers or no sandbox image is built (make setup does
both: scripts/docker_engine.sh, scripts/build_images.sh); fails instead under
AUTOGRADER_TEST_REQUIRE_SERVICES=1. GPU boxes cannot be run here (no GPU with Docker):
only the engine configuration they get is checked.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
from pathlib import Path

import pytest

from tests.docker_engine import box_containers, docker_settings
from tests.sandboxed import REQUIRE, sandbox_settings
from worker.sandbox.base import GpuAssignment, Limits, Request, SandboxUnavailable
from worker.sandbox.boxfs import BoxFolder
from worker.sandbox.docker_backend import (
    BOX_UID,
    CGROUP_ROOT,
    LABEL,
    OWNER_LABEL,
    DockerBackend,
    _cgroup_base,
    owner,
    remove_stale,
)

PY = "/opt/venv/bin/python"


@pytest.fixture
def settings(tmp_path):
    return docker_settings(sandbox_settings(tmp_path))


@pytest.fixture
def backend(settings):
    b = DockerBackend(settings.path("jobs"), settings.docker_host, settings.sandbox_image)
    try:
        b.check()
    except SandboxUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"docker sandbox unavailable: {exc}")
        pytest.skip(f"docker sandbox unavailable: {exc}")
    yield b
    # Cleanup on every path: no container, no mount, no parent cgroup of this process.
    assert not box_containers(), "a sandbox container was left behind"
    assert str(b.jobs_dir) + "/box-" not in Path("/proc/mounts").read_text()
    base = _cgroup_base()
    if base is not None:
        for c in ("memory", "pids", "cpuacct"):
            folder = CGROUP_ROOT / c / base.lstrip("/")
            left = [p.name for p in folder.glob(f"box-{os.getpid()}-*")] if folder.is_dir() else []
            assert not left, f"parent cgroups left in {c}: {left}"


def run_code(backend, tmp_path: Path, code: str, **limits) -> tuple:
    src, inp, out = tmp_path / "src", tmp_path / "in", tmp_path / "out"
    for d in (src, inp):
        d.mkdir(exist_ok=True)
    (src / "main.py").write_text(textwrap.dedent(code))
    request = Request(
        argv=[PY, "/job/src/main.py"],
        src_dir=src,
        in_dir=inp,
        limits=Limits(**{"memory_mb": 256, "wall_seconds": 20, "processes": 32, **limits}),
    )
    return backend.run(request, out), out


def test_identity_isolation_and_limits(backend, tmp_path):
    result, _ = run_code(
        backend,
        tmp_path,
        """
        import json, os, resource, socket, sys
        facts = {}
        status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines()
                      if ":\\t" in l)
        facts["uid"], facts["gid"] = os.getuid(), os.getgid()
        facts["groups"] = os.getgroups()
        facts["caps"] = [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                                     "CapAmb")]
        facts["nnp"] = status["NoNewPrivs"].strip()
        facts["interfaces"] = socket.if_nameindex()
        try:
            socket.create_connection(("1.1.1.1", 80), timeout=2)
            facts["net"] = "CONNECTED"
        except OSError as exc:
            facts["net"] = str(exc.errno)
        for path in ("/etc/x", "/job/src/x", "/opt/runner/x", "/usr/x"):
            try:
                open(path, "w")
                facts[path] = "WRITABLE"
            except OSError as exc:
                facts[path] = exc.errno
        open("/job/rw/out/ok.json", "w").write("{}")
        facts["env"] = sorted(os.environ)
        facts["stdin"] = sys.stdin.buffer.read().decode()
        facts["cwd"] = os.getcwd()
        facts["limits"] = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n))
                           for n in ("NOFILE", "FSIZE", "CORE", "CPU")}
        facts["mounts"] = {l.split()[1]: l.split()[3] for l in open("/proc/self/mounts")
                           if l.split()[1] in ("/", "/tmp", "/job/rw", "/job/src", "/dev/shm")}
        facts["sizes"] = {p: os.statvfs(p).f_blocks * os.statvfs(p).f_frsize
                          for p in ("/tmp", "/job/rw")}
        facts["pid1"] = open("/proc/1/cmdline").read()
        print("to stderr", file=sys.stderr)
        print(json.dumps(facts))
        """,
        open_files=100,
        file_mb=8,
        tmp_mb=16,
        rw_mb=24,
        cpu_seconds=30,
    )
    assert result.exit_code == 0, result.output
    assert "to stderr" in result.student_output  # stderr is captured with stdout
    facts = json.loads(result.output.decode().strip().splitlines()[-1])
    assert facts["uid"] == facts["gid"] == BOX_UID
    assert facts["uid"] != 0 and facts["groups"] in ([], [BOX_UID])
    assert facts["caps"] == ["0000000000000000"] * 5
    assert facts["nnp"] == "1"
    assert facts["interfaces"] == [[1, "lo"]]
    assert facts["net"] != "CONNECTED"
    assert all(facts[p] in (13, 30) for p in ("/etc/x", "/job/src/x", "/opt/runner/x", "/usr/x"))
    assert not [k for k in facts["env"] if k.startswith("AUTOGRADER") or k.startswith("DOCKER")]
    assert set(facts["env"]) <= {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "HOSTNAME", "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONHASHSEED", "MPLBACKEND", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "TORCH_NUM_THREADS",
        "CUDA_VISIBLE_DEVICES",
    }  # fmt: skip
    assert facts["stdin"] == ""
    assert facts["cwd"] == "/job/rw/home"
    assert facts["limits"] == {
        "NOFILE": [100, 100],
        "FSIZE": [8 << 20, 8 << 20],
        "CORE": [0, 0],
        "CPU": [30, 31],
    }
    mounts = facts["mounts"]
    assert mounts["/"].startswith("ro")
    assert mounts["/job/src"].startswith("ro")
    for writable in ("/tmp", "/job/rw"):
        assert {"rw", "noexec", "nosuid", "nodev"} <= set(mounts[writable].split(","))
    assert facts["sizes"] == {"/tmp": 16 << 20, "/job/rw": 24 << 20}
    assert "ok.json" in result.out_files
    assert result.start_seconds > 0 and result.wall_seconds > 0
    assert result.cpu_seconds is None or result.cpu_seconds > 0
    assert not result.timed_out and not result.oom_killed and not result.process_limit_hit


def test_memory_bomb_is_oom_killed(backend, tmp_path):
    result, _ = run_code(
        backend,
        tmp_path,
        "hog = []\nwhile True:\n    hog.append(bytearray(20_000_000))\n",
        memory_mb=128,
    )
    assert result.exit_code == 137
    assert result.oom_killed and not result.timed_out
    assert result.ended_by_limit == "memory"
    if result.peak_memory_bytes is not None:  # with our parent cgroup (see the module doc)
        assert 100 << 20 < result.peak_memory_bytes <= 129 << 20


def test_fork_bomb_is_held(backend, tmp_path):
    result, _ = run_code(
        backend,
        tmp_path,
        """
        import os, time
        n = 0
        for _ in range(500):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                n += 1
            except OSError:
                pass
        print("forked", n, flush=True)
        os._exit(3)
        """,
        processes=20,
    )
    assert result.exit_code == 3
    forked = int(result.student_output.split("forked")[1].split()[0])
    assert forked < 40  # the pids limit (processes + 16) held
    if _cgroup_base() is not None:
        assert result.process_limit_hit
    assert not result.timed_out  # the sleeping children died with the box


def test_wall_clock_kills_the_box(backend, tmp_path):
    result, _ = run_code(backend, tmp_path, "while True:\n    pass\n", wall_seconds=2)
    assert result.timed_out and result.ended_by_limit == "timeout"
    assert 1.9 < result.wall_seconds < 8
    assert not result.oom_killed


def test_tmpfs_sizes_and_file_size_limit(backend, tmp_path):
    result, _ = run_code(
        backend,
        tmp_path,
        """
        import errno
        for path, count in (("/tmp/big", 20), ("/job/rw/out/big", 20), ("/dev/shm/big", 20)):
            try:
                with open(path, "wb") as fh:
                    for _ in range(count):
                        fh.write(b"x" * (1 << 20))
                        fh.flush()
                print(path, "WROTE")
            except OSError as exc:
                print(path, errno.errorcode[exc.errno])
        import os
        os.remove("/job/rw/out/big")
        try:
            with open("/job/rw/home/f", "wb") as fh:
                fh.write(b"x" * (5 << 20))
                fh.flush()
            print("fsize WROTE")
        except OSError as exc:
            print("fsize", errno.errorcode[exc.errno])
        """,
        tmp_mb=8,
        rw_mb=8,
        file_mb=4,
        memory_mb=256,
    )
    out = result.student_output
    assert "/tmp/big ENOSPC" in out or "/tmp/big EFBIG" in out
    assert "/job/rw/out/big ENOSPC" in out or "/job/rw/out/big EFBIG" in out
    assert "/dev/shm/big ENOSPC" in out or "/dev/shm/big EFBIG" in out
    assert "fsize EFBIG" in out
    assert "WROTE" not in out


def test_artifacts_only_regular_files(backend, tmp_path):
    result, out = run_code(
        backend,
        tmp_path,
        """
        import os
        o = "/job/rw/out"
        open(f"{o}/good.json", "w").write('{"a": 1}')
        os.symlink("/etc/passwd", f"{o}/link.json")
        os.symlink("/job/rw/out/good.json", f"{o}/inner_link.json")
        os.mkfifo(f"{o}/fifo")
        os.mkdir(f"{o}/folder")
        try:  # larger than file_mb: RLIMIT_FSIZE stops it inside
            open(f"{o}/big.npy", "wb").write(b"x" * (3 << 20))
        except OSError as exc:
            print("big:", exc.errno)
        open(f"{o}/bad name.json", "w").write("{}")
        """,
        file_mb=2,
    )
    assert result.exit_code == 0, result.output
    assert set(result.out_files) == {"good.json", "big.npy"}  # big.npy: cut at file_mb
    assert (out / "big.npy").stat().st_size == 2 << 20
    assert (out / "good.json").read_text() == '{"a": 1}'
    assert "big: 27" in result.student_output  # EFBIG
    assert {"link.json", "inner_link.json", "fifo", "folder", "bad name.json"} <= set(
        result.out_rejected
    )
    assert not any(p.is_symlink() for p in out.iterdir())


def test_output_is_capped(backend, tmp_path):
    result, _ = run_code(
        backend,
        tmp_path,
        "import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 100_000)\n",
        output_bytes=10_000,
    )
    assert result.exit_code == 0
    assert len(result.output) == 10_000 and result.output_truncated
    assert result.output_total_bytes == 200 * 100_000


def test_progress_callback_failure_still_cleans_up(backend, tmp_path):
    src, inp = tmp_path / "src", tmp_path / "in"
    src.mkdir()
    inp.mkdir()
    (src / "main.py").write_text(
        "import time\nopen('/job/rw/out/p.jsonl', 'w').write('{\"epoch\": 1}\\n')\ntime.sleep(30)\n"
    )

    def boom(lines):
        assert lines == [{"epoch": 1}]
        raise RuntimeError("callback failed")

    request = Request(
        argv=[PY, "/job/src/main.py"],
        src_dir=src,
        in_dir=inp,
        limits=Limits(wall_seconds=20),
        progress_file="p.jsonl",
        on_progress=boom,
    )
    with pytest.raises(RuntimeError, match="callback failed"):
        backend.run(request, tmp_path / "out")
    # the backend fixture checks that the container, mount and cgroups are gone


def test_image_must_be_pinned(settings, backend):
    for ref in ("autograder-sandbox:latest", "autograder-sandbox", "sha256:" + "0" * 64):
        with pytest.raises(SandboxUnavailable):
            DockerBackend(settings.path("jobs"), settings.docker_host, ref).check()


def test_stale_containers_of_dead_workers_are_removed(settings, backend):
    dead = 4_000_000  # above pid_max: never alive
    api = backend.api
    created = api.create_container(
        image=settings.sandbox_image,
        command=["/bin/sleep", "60"],
        labels={LABEL: f"box-{dead}-dstale", OWNER_LABEL: f"{socket.gethostname()}:{dead}:5"},
        host_config=api.create_host_config(network_mode="none", read_only=True),
    )
    api.start(created["Id"])
    alive = api.create_container(
        image=settings.sandbox_image,
        command=["/bin/sleep", "60"],
        labels={LABEL: "box-mine", OWNER_LABEL: owner()},
        host_config=api.create_host_config(network_mode="none", read_only=True),
    )
    try:
        assert remove_stale(settings) == 1
        ids = {c["Id"] for c in box_containers()}
        assert created["Id"] not in ids and alive["Id"] in ids
    finally:
        api.remove_container(alive["Id"], force=True)
        api.remove_container(created["Id"], force=True) if created["Id"] in {
            c["Id"] for c in box_containers()
        } else None


def test_gpu_box_gets_only_its_device(tmp_path):
    """Not run on a GPU here: the engine configuration a GPU box gets."""
    import docker

    b = DockerBackend(tmp_path / "jobs", "unix:///nonexistent.sock", "sha256:" + "1" * 64)
    b._api = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
    b._runner = tmp_path  # no copy of the runner needed for the configuration
    request = Request(
        argv=["true"],
        src_dir=tmp_path,
        in_dir=tmp_path,
        limits=Limits(),
        gpu=GpuAssignment(
            index=3, memory_mb=4000, mps_pipe_dir=tmp_path / "mps", mps_shm_dir=tmp_path / "shm"
        ),
    )
    config = b.host_config(request, BoxFolder(tmp_path / "jobs"), None, 80)
    assert config["DeviceRequests"] == [
        {"Driver": "", "Count": 0, "DeviceIDs": ["3"], "Capabilities": [["gpu"]], "Options": {}}
    ]
    assert not config.get("Devices") and not config.get("Privileged")
    assert {"Target": "/run/nvidia-mps", "Source": str(tmp_path / "mps")}.items() <= next(
        m for m in config["Mounts"] if m["Target"] == "/run/nvidia-mps"
    ).items()
    # MPS clients share memory with their server in the daemon's /dev/shm folder
    assert {"Target": "/dev/shm", "Source": str(tmp_path / "shm")}.items() <= next(
        m for m in config["Mounts"] if m["Target"] == "/dev/shm"
    ).items()
    assert not config.get("ShmSize")
    env = b._environment(request)
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=4000M"
    assert config["NetworkMode"] == "none" and config["ReadonlyRootfs"]
    assert config["CapDrop"] == ["ALL"] and config["Memory"] == config["MemorySwap"]


def test_the_image_runs_the_sandbox_packages(backend, tmp_path):
    """The pinned image's torch and torchvision import for the box uid, offline, and
    threads are pinned as the environment says."""
    result, _ = run_code(
        backend,
        tmp_path,
        """
        import numpy, safetensors, torch, torchvision
        print(torch.__version__, torchvision.__version__, numpy.__version__,
              torch.get_num_threads(), torch.cuda.is_available())
        """,
        memory_mb=1536,
        wall_seconds=120,
        threads=1,
    )
    assert result.exit_code == 0, result.output
    words = result.student_output.split()
    assert words[:3] == ["2.14.1", "0.29.1", "2.4.6"] or words[0].startswith("2.14.1")
    assert words[3] == "1" and words[4] == "False"


def test_data_files_are_bound_read_only(backend, tmp_path):
    data = tmp_path / "datasets"
    data.mkdir(mode=0o755)
    (data / "train.npy").write_bytes(b"train-bytes")
    (data / "test_labels.npy").write_bytes(b"hidden")
    (data / "train.npy").chmod(0o644)
    src, inp = tmp_path / "src", tmp_path / "in"
    src.mkdir()
    inp.mkdir()
    (src / "main.py").write_text(
        "import os\n"
        "print(open('/data/mnist/train.npy', 'rb').read())\n"
        "print(sorted(os.listdir('/data/mnist')))\n"
        "try:\n    open('/data/mnist/train.npy', 'ab')\nexcept OSError as exc:\n"
        "    print('write:', exc.errno)\n"
    )
    request = Request(
        argv=[PY, "/job/src/main.py"],
        src_dir=src,
        in_dir=inp,
        limits=Limits(wall_seconds=20),
        data_files={"mnist/train.npy": data / "train.npy"},
    )
    result = backend.run(request, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "b'train-bytes'" in result.student_output
    assert "['train.npy']" in result.student_output  # only the file given, no labels
    assert "write: 30" in result.student_output or "write: 13" in result.student_output
