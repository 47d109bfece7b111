"""cgroup v1 groups for one box: memory (with swap equal to memory), pids and cpu accounting.

Groups are made under the worker's own cgroup path of each controller, in a folder
``autograder/``. Stale groups of a dead worker are removed at start-up
(``remove_stale``). A box's processes are all in its groups, so killing every pid in
``cgroup.procs`` kills the whole box, daemons included.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from worker.sandbox.base import SandboxUnavailable

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpuacct")


def _own_path(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path.lstrip("/")
    raise SandboxUnavailable(f"cgroup v1 controller {controller!r} is not mounted")


def base_dir(controller: str) -> Path:
    return ROOT / controller / _own_path(controller) / "autograder"


class BoxCgroup:
    def __init__(self, name: str):
        self.name = name
        self.dirs = {c: base_dir(c) / name for c in CONTROLLERS}

    def create(self, memory_bytes: int, pids: int) -> None:
        try:
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            mem = self.dirs["memory"]
            (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = mem / "memory.memsw.limit_in_bytes"
            if memsw.exists():  # memory + swap = memory: the box never swaps
                memsw.write_text(str(memory_bytes))
            (mem / "memory.swappiness").write_text("0")
            (self.dirs["pids"] / "pids.max").write_text(str(pids))
        except OSError as exc:
            self.remove()
            raise SandboxUnavailable(f"cannot create cgroups for the sandbox: {exc}") from exc

    def enter(self) -> None:
        """Move the calling process in (runs in the child before exec)."""
        pid = str(os.getpid())
        for d in self.dirs.values():
            with open(d / "cgroup.procs", "w") as fh:
                fh.write(pid)

    def pids(self) -> list[int]:
        try:
            text = (self.dirs["pids"] / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill_all(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process of the box until none is left; False if some survive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return True
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)
        return not self.pids()

    def _read(self, controller: str, name: str) -> str | None:
        try:
            return (self.dirs[controller] / name).read_text()
        except OSError:
            return None

    def peak_memory(self) -> int | None:
        value = self._read("memory", "memory.max_usage_in_bytes")
        return int(value) if value else None

    def cpu_seconds(self) -> float | None:
        value = self._read("cpuacct", "cpuacct.usage")
        return int(value) / 1e9 if value else None

    def oom_killed(self) -> bool:
        control = self._read("memory", "memory.oom_control") or ""
        for line in control.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and int(value) > 0:
                return True
        failcnt = self._read("memory", "memory.failcnt")
        return bool(failcnt and int(failcnt) > 0 and "oom_kill " not in control)

    def pids_limit_hit(self) -> bool:
        """True when the box tried to start more processes than allowed (a fork bomb)."""
        events = self._read("pids", "pids.events") or ""
        return any(
            line.split()[:1] == ["max"] and int(line.split()[1]) > 0
            for line in events.splitlines()
            if len(line.split()) == 2
        )

    def remove(self) -> None:
        for d in self.dirs.values():
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                time.sleep(0.05)
                try:
                    d.rmdir()
                except OSError:
                    pass


def box_names() -> set[str]:
    """Names of the box groups that exist now, in any controller."""
    names: set[str] = set()
    for c in CONTROLLERS:
        try:
            base = base_dir(c)
        except SandboxUnavailable:
            continue
        if base.is_dir():
            names.update(p.name for p in base.iterdir() if p.is_dir())
    return names


def check_available() -> None:
    if (ROOT / "cgroup.controllers").exists():
        raise SandboxUnavailable(
            "this host uses cgroup v2 only; the bwrap backend needs cgroup v1 memory, pids "
            "and cpuacct controllers (use the docker backend)"
        )
    for c in CONTROLLERS:
        _own_path(c)
        if not os.access(ROOT / c / _own_path(c), os.W_OK):
            raise SandboxUnavailable(f"cannot write cgroup {c} (the worker must run as root)")
