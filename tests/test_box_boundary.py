"""What a box can do to the worker around it (DESIGN.md rules 7 and 8), on every backend:
bwrap with cold boxes, bwrap with boxes started ahead of demand (the job then arrives in a
warm box), and docker (skipped with the reason when no engine or image is there; failed
under AUTOGRADER_TEST_REQUIRE_SERVICES=1).

- The box owns /job/rw and may turn out/, or anything in it, into a symlink, a FIFO or a
  folder: the worker reads nothing through them (a root worker once listed a host folder
  and copied another box's outputs this way).
- The box learns no path of the host's job folders: not from its pid 1's command line,
  not from its mount table, not from its environment.
- System calls that only debugging, administration or container escapes need are refused
  (bwrap: worker/sandbox/seccomp.py; docker: the engine's default profile).
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pytest

from tests.sandboxed import REQUIRE
from worker.sandbox import SandboxUnavailable, get_backend
from worker.sandbox.base import PYTHON, Limits, Request
from worker.sandbox.pool import close_shared_pool, shared_pool

ROOT = Path(__file__).resolve().parent.parent
CANARY = "CANARY-box-boundary-5e1f"


@pytest.fixture(params=["bwrap", "bwrap-pool", "docker"])
def kind(request):
    yield request.param
    close_shared_pool()


@pytest.fixture
def canary_dir():
    """A host folder a box must never get the worker to read: world-readable, outside
    every box, holding a canary file and a JSON-lines file."""
    folder = Path(f"/tmp/ag-boundary-canary-{os.getpid()}")
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    (folder / "secret.txt").write_text(CANARY)
    (folder / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "loss": 4242.0}) + "\n")
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder


def backend_for(kind: str, tmp_path: Path):
    from autograder.settings import Settings

    settings = Settings(
        home=tmp_path / "home",
        jobs_dir=Path("/tmp") / f"ag-jobs-b{os.getpid()}",
        sandbox_pool_size=1 if kind == "bwrap-pool" else 0,
    )
    if kind == "docker":
        from tests.docker_engine import docker_settings

        settings = docker_settings(settings)
    backend = get_backend(settings)
    try:
        backend.check()
    except SandboxUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"sandbox unavailable: {exc}")
        pytest.skip(f"sandbox unavailable: {exc}")
    return backend


def run(kind: str, tmp_path: Path, code: str, runtime: str = "none", **extra):
    """``code`` in a box of ``kind``; with bwrap-pool, in a box warmed before it came."""
    backend = backend_for(kind, tmp_path)
    if kind == "bwrap-pool":
        backend.run(_request(tmp_path, "warm-up", "pass", runtime), tmp_path / "out-warm-up")
        pool = shared_pool(1, 600)
        deadline = time.monotonic() + 120
        while pool.warm_count() < 1:
            assert time.monotonic() < deadline, "the pool warmed no box"
            time.sleep(0.05)
        hits = pool.hits
    result = backend.run(_request(tmp_path, "case", code, runtime, **extra), tmp_path / "out-case")
    if kind == "bwrap-pool":
        assert pool.hits > hits, "the case ran in no pre-warmed box"
    return result


def _request(tmp_path: Path, name: str, code: str, runtime: str = "none", **extra) -> Request:
    src, inputs = tmp_path / name / "src", tmp_path / name / "in"
    src.mkdir(parents=True)
    inputs.mkdir(parents=True)
    (src / "job.py").write_text(textwrap.dedent(code))
    return Request(
        argv=[PYTHON, "-B", "/job/src/job.py"],
        src_dir=src,
        in_dir=inputs,
        limits=Limits(memory_mb=512, wall_seconds=30, processes=32),
        runtime=runtime,
        **extra,
    )


def test_out_replaced_by_a_link_to_a_host_folder_yields_nothing(kind, tmp_path, canary_dir):
    result = run(
        kind,
        tmp_path,
        f"""
        import os, shutil
        shutil.rmtree("/job/rw/out")
        os.symlink({str(canary_dir)!r}, "/job/rw/out")
        print("linked")
        """,
    )
    assert b"linked" in result.output
    assert result.out_files == {}
    assert result.out_rejected == ["out/ is missing or is not a folder"]
    assert not any(CANARY in p.read_text(errors="replace") for p in tmp_path.rglob("*.txt"))


def test_links_fifos_and_folders_in_out_are_refused(kind, tmp_path, canary_dir):
    result = run(
        kind,
        tmp_path,
        f"""
        import os
        os.symlink({str(canary_dir / "secret.txt")!r}, "/job/rw/out/secret.txt")
        os.symlink("/etc/passwd", "/job/rw/out/passwd")
        os.mkfifo("/job/rw/out/pipe.npy")
        os.mkdir("/job/rw/out/sub")
        with open("/job/rw/out/ok.json", "w") as fh:
            fh.write("{{}}")
        """,
    )
    assert set(result.out_files) == {"ok.json"}
    assert set(result.out_rejected) == {"secret.txt", "passwd", "pipe.npy", "sub"}


def test_a_progress_file_linked_elsewhere_is_not_read(kind, tmp_path, canary_dir):
    seen: list = []
    result = run(
        kind,
        tmp_path,
        f"""
        import os, time
        os.symlink({str(canary_dir / "metrics.jsonl")!r}, "/job/rw/out/metrics.jsonl")
        time.sleep(2.5)
        """,
        progress_file="metrics.jsonl",
        on_progress=seen.append,
    )
    assert result.exit_code == 0
    assert seen == []


PROBE = """
import json, os
facts = {}
for name in ("/proc/1/cmdline", "/proc/self/mountinfo", "/proc/self/cmdline",
             "/proc/1/environ", "/proc/self/environ"):
    try:
        facts[name] = open(name, "rb").read().decode(errors="replace")
    except OSError as exc:
        facts[name] = "refused " + type(exc).__name__
print("FACTS" + json.dumps(facts))
"""


def test_the_box_learns_no_path_of_the_hosts_job_folders(kind, tmp_path):
    result = run(kind, tmp_path, PROBE)
    text = result.output.decode(errors="replace")
    facts = json.loads(text[text.index("FACTS") + 5 :].splitlines()[0])
    everything = "\n".join(facts.values())
    # The job's own folders (made under tmp_path), its box folder and the jobs folder of
    # this run: none may appear. (The sandbox's Python, the runner and datasets are bound
    # from fixed install paths, the same for every box: those may.)
    assert str(tmp_path) not in everything
    assert "box-" not in everything
    assert "ag-jobs-b" not in facts["/proc/1/cmdline"]
    assert "/job/src" in facts["/proc/self/mountinfo"]


SYSCALLS = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())) if rc == -1 else "ok"
buf = ctypes.create_string_buffer(256)
out = {
    "ptrace_attach_init": call(101, 16, 1, 0, 0),           # PTRACE_ATTACH pid 1
    "mount_tmpfs": call(165, ctypes.addressof(buf), ctypes.addressof(buf), 0, 0, 0),
    "unshare_user": call(272, 0x10000000),                   # CLONE_NEWUSER
    "unshare_net": call(272, 0x40000000),                    # CLONE_NEWNET
    "keyctl": call(250, 0, 0, 0, 0, 0),                      # KEYCTL_GET_KEYRING_ID
    "add_key": call(248, 0, 0, 0, 0, 0),
    "bpf": call(321, 0, 0, 0),
    "perf_event_open": call(298, 0, 0, -1, -1, 0),
    "userfaultfd": call(323, 0),
    "personality_no_aslr": call(135, 0x0040000),             # ADDR_NO_RANDOMIZE
    "process_vm_readv": call(310, 1, 0, 0, 0, 0, 0),
}
# What ordinary programs do must still work: threads, processes, the Linux personality.
import threading, subprocess, sys
t = threading.Thread(target=lambda: None); t.start(); t.join()
out["thread"] = "ok"
out["subprocess"] = subprocess.run([sys.executable, "-c", "print(1)"],
                                   capture_output=True, text=True).stdout.strip()
out["personality_linux"] = call(135, 0)
print("SYSCALLS" + json.dumps(out))
"""


def test_system_calls_of_debuggers_and_escapes_are_refused(kind, tmp_path):
    result = run(kind, tmp_path, SYSCALLS)
    text = result.output.decode(errors="replace")
    assert "SYSCALLS" in text, text
    got = json.loads(text[text.index("SYSCALLS") + 8 :].splitlines()[0])
    for call in (
        "ptrace_attach_init",
        "mount_tmpfs",
        "unshare_user",
        "unshare_net",
        "keyctl",
        "add_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "personality_no_aslr",
        "process_vm_readv",
    ):
        assert got[call] == "EPERM", (call, got)
    assert got["thread"] == "ok" and got["subprocess"] == "1"
    assert got["personality_linux"] == "ok"


def test_numpy_homework_boxes_have_no_torch(kind, tmp_path):
    """What a numpy-only homework forbids is absent (DESIGN.md rule 10): an import hook can
    be removed from sys.meta_path, code compiled under a forged file name, but a module
    that is not installed cannot be imported."""
    result = run(
        kind,
        tmp_path,
        """
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
        import numpy, safetensors.numpy
        try:
            import torch
            print("TORCH", torch.__version__)
        except ModuleNotFoundError:
            print("NO TORCH", sys.prefix)
        """,
        runtime="numpy",
    )
    assert b"NO TORCH /opt/venv" in result.output, result.output
