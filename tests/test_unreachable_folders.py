"""Folders a box cannot reach (a private ``mktemp -d`` home, mode 0700): the service and a
worker refuse to start, naming the folder and the fix, and a running worker's heartbeat
(so /healthz) says the sandbox is unavailable, instead of every grading waiting and then
failing as ours. Real processes, a real sandbox uid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.settings import PROJECT_ROOT
from tests.conftest import reset_caches
from tests.sandboxed import prepared_mnist, require_sandbox, sandbox_settings
from worker.sandbox.reach import unreachable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="asks as a sandbox uid: root only")
UID = 61000


@pytest.fixture
def private_home() -> Path:
    """A folder as ``mktemp -d`` makes it: 0700, directly under /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="ag-private-"))
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_folder_that_stops_the_uid_is_named(private_home):
    target = private_home / "data" / "mnist" / "prepared" / "x.npy"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\0")
    target.chmod(0o644)
    for d in (private_home / "data", private_home / "data" / "mnist", target.parent):
        d.chmod(0o755)
    (problem,) = unreachable([target], UID)
    assert f"cannot reach {target}: {private_home} is mode drwx------" in problem
    assert f"`chmod o+x {private_home}`" in problem
    private_home.chmod(0o711)  # traverse, not list: enough
    assert unreachable([target], UID) == []
    target.chmod(0o600)
    (problem,) = unreachable([target], UID)
    assert f"{target} is not readable by others" in problem


def env_with_home(home: Path, tmp_path: Path) -> dict[str, str]:
    """The service's settings with HOME and the datasets in ``home``."""
    env = {
        **os.environ,
        "AUTOGRADER_HOME": str(home),
        "AUTOGRADER_DATA_DIR": str(home / "data"),
        "AUTOGRADER_JOBS_DIR": str(Path(f"/tmp/ag-jobs-reach-{os.getpid()}")),
        "AUTOGRADER_SANDBOX": "bwrap",
    }
    return env


def data_in(home: Path) -> None:
    """The prepared MNIST copied into ``home/data`` (with its modes: 0755 and 0644)."""
    shutil.copytree(prepared_mnist() / "mnist", home / "data" / "mnist", symlinks=False)
    (home / "data").chmod(0o711)


def test_a_worker_refuses_to_start(private_home, tmp_path):
    require_sandbox(sandbox_settings(tmp_path))
    data_in(private_home)
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "worker", "-Q", "cpu", "-c", "1"],
        check=False,
        cwd=PROJECT_ROOT,
        env=env_with_home(private_home, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 78, out
    assert "the worker cannot start" in out and f"chmod o+x {private_home}" in out, out


def test_serve_refuses_to_start(private_home, tmp_path):
    require_sandbox(sandbox_settings(tmp_path))
    data_in(private_home)
    from tests.services import free_port

    env = env_with_home(private_home, tmp_path) | {"AUTOGRADER_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "serve"],
        check=False,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "autograder serve cannot start" in out, out
    assert f"{private_home} is mode drwx------" in out and f"chmod o+x {private_home}" in out


def test_the_heartbeat_says_the_sandbox_is_unavailable(private_home, tmp_path, monkeypatch):
    require_sandbox(sandbox_settings(tmp_path))
    data_in(private_home)
    from autograder.settings import get_settings
    from worker.heartbeat import sandbox_status

    for key, value in env_with_home(private_home, tmp_path).items():
        if key.startswith("AUTOGRADER_"):
            monkeypatch.setenv(key, value)
    reset_caches()
    try:
        status = sandbox_status(get_settings())
        assert status.startswith("unavailable: the sandbox uid"), status
        assert f"chmod o+x {private_home}" in status
        private_home.chmod(0o711)
        assert sandbox_status(get_settings()) == "ok"
    finally:
        monkeypatch.undo()
        reset_caches()
