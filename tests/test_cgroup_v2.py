"""The sandbox on a cgroup-v2-only host, for real, in a virtual machine.

This machine's own cgroups are a v1 hybrid whose memory hierarchy its process management
uses: they are never remounted or moved. scripts/cgroup2_vm.sh boots a Debian kernel with
``cgroup_no_v1=all`` under QEMU (software emulation), sharing this checkout read-only, and
runs tests/cgroup2/vm_checks.py there with the real bubblewrap backend: once with the
worker in the root group, once in a delegated group that holds processes of its own (a
systemd unit with Delegate=yes), where the worker must first move them to a leaf.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"


def _vm_available() -> str | None:
    if os.geteuid() != 0:
        return "the VM's sandbox checks need root"
    for tool in ("qemu-system-x86_64", "bwrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs it)"
    if not Path("/usr/bin/busybox").exists():
        return "busybox-static is not installed (make test installs it)"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("where", ["root", "delegated"])
def test_bwrap_limits_on_cgroup_v2(where):
    missing = _vm_available()
    if missing:
        if REQUIRE:
            pytest.fail(missing)
        pytest.skip(missing)
    vm = ["bash", str(ROOT / "scripts" / "cgroup2_vm.sh"), "--mem", "2048", "--timeout", "900"]
    if where == "delegated":
        vm += ["--cgroup", "system.slice/autograder-worker.service"]
    command = [
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--noconftest",
        "-rA",
        "tests/cgroup2/vm_checks.py",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGRADER_")}
    proc = subprocess.run(
        [*vm, "--", *command],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1000,
        env=env,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    passed = re.search(r"(\d+) passed", out)
    assert passed and int(passed.group(1)) == 8, out[-3000:]
    assert "skipped" not in out and "failed" not in out, out[-3000:]
