"""The cgroup of one box: memory (swap never), processes and CPU accounting.

One interface, two implementations, chosen by what the host mounts:

- **cgroup v1** (hybrid hosts: ``/sys/fs/cgroup/{memory,pids,cpuacct}``): groups are made
  under the worker's own path of each controller, in a folder ``autograder/``.
- **cgroup v2** (the unified hierarchy alone: Debian 12, Ubuntu 22.04+, RHEL 9): groups
  are made in one delegated subtree, ``AUTOGRADER_CGROUP_PARENT`` when set, else
  ``<the worker's own cgroup>/autograder``. A v2 group may only hand controllers to its
  children while it holds no process itself, so when the worker's own group is not the
  root and holds processes (a systemd service with ``Delegate=yes``), they are first moved
  to a leaf ``<own>/autograder-service`` beside the boxes (see ``V2Layout.prepare``).

The same semantics on both: the memory limit with memory + swap equal to memory (the box
never swaps), a pids limit that reports a fork bomb, CPU seconds of the whole box read
from outside, the peak memory, whether the kernel's OOM killer acted, and a kill of every
process of the box (``cgroup.kill`` on v2, SIGKILL of every pid listed on v1). Stale
groups of a dead worker are removed at start-up (``worker.housekeeping``). Fail closed: a
host where neither gives the full set of limits raises SandboxUnavailable with the reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from worker.sandbox.base import SandboxUnavailable

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
# v2 controllers a box group must have: memory and pids are limits; cpu.stat (CPU seconds)
# exists in every v2 group without the cpu controller, which is enabled when offered.
V2_REQUIRED = ("memory", "pids")
V2_WANTED = ("memory", "pids", "cpu")
BOXES = "autograder"  # the folder of box groups (v1: per controller; v2: in the parent)
SERVICE_LEAF = "autograder-service"  # v2: the leaf the worker's own processes move to


def unified() -> bool:
    """True on a host with cgroup v2 alone (no v1 controllers to use)."""
    return (ROOT / "cgroup.controllers").exists()


# ---------------------------------------------------------------------------- v1


def _own_path(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path.lstrip("/")
    raise SandboxUnavailable(f"cgroup v1 controller {controller!r} is not mounted")


def base_dir(controller: str) -> Path:
    return ROOT / controller / _own_path(controller) / BOXES


class V1BoxCgroup:
    """A box's groups in the memory, pids and cpuacct hierarchies of cgroup v1."""

    def __init__(self, name: str):
        self.name = name
        self.dirs = {c: base_dir(c) / name for c in V1_CONTROLLERS}

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
        return _read_pids(self.dirs["pids"])

    def kill_all(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process of the box until none is left; False if some survive."""
        return _kill_listed(self.pids, timeout)

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
        if _counter(control, "oom_kill") > 0:
            return True
        failcnt = self._read("memory", "memory.failcnt")
        return bool(failcnt and int(failcnt) > 0 and "oom_kill " not in control)

    def pids_limit_hit(self) -> bool:
        """True when the box tried to start more processes than allowed (a fork bomb)."""
        return _counter(self._read("pids", "pids.events") or "", "max") > 0

    def remove(self) -> None:
        for d in self.dirs.values():
            _rmdir(d)


def _v1_box_names() -> set[str]:
    names: set[str] = set()
    for c in V1_CONTROLLERS:
        try:
            base = base_dir(c)
        except SandboxUnavailable:
            continue
        if base.is_dir():
            names.update(p.name for p in base.iterdir() if p.is_dir())
    return names


def _v1_check() -> None:
    for c in V1_CONTROLLERS:
        own = _own_path(c)
        if not os.access(ROOT / c / own, os.W_OK):
            raise SandboxUnavailable(f"cannot write cgroup {c} (the worker must run as root)")


# ---------------------------------------------------------------------------- v2


def _own_v2_path() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:].strip()
    raise SandboxUnavailable("this process is in no cgroup v2 group (/proc/self/cgroup)")


def _controllers(folder: Path, name: str) -> set[str]:
    try:
        return set((folder / name).read_text().split())
    except OSError:
        return set()


class V2Layout:
    """Where box groups live on a cgroup v2 host, and how that subtree is made usable."""

    def __init__(self, configured: Path | None = None):
        self.configured = configured

    @property
    def parent(self) -> Path:
        """The delegated group under which every box group is made."""
        if self.configured is not None:
            return Path(self.configured)
        own = _own_v2_path()
        if own.rsplit("/", 1)[-1] == SERVICE_LEAF:  # we moved ourselves there (prepare)
            own = own.rsplit("/", 1)[0] or "/"
        return ROOT / own.lstrip("/") / BOXES

    def prepare(self) -> Path:
        """Make ``parent`` exist with the memory and pids controllers (and cpu, when offered)
        for its children; raise SandboxUnavailable saying why when it cannot be done."""
        parent = self.parent
        missing = [c for c in V2_REQUIRED if c not in _controllers(ROOT, "cgroup.controllers")]
        if missing:
            raise SandboxUnavailable(
                f"cgroup v2 offers no {' or '.join(missing)} controller on this host; the "
                "sandbox needs memory and pids limits (boot with them enabled)"
            )
        try:
            self._enable_down_to(parent)
        except OSError as exc:
            raise SandboxUnavailable(
                f"cannot delegate cgroup v2 controllers to {parent}: {exc}. Run the worker as "
                "root in a group it may manage (systemd: Delegate=yes), or set "
                "AUTOGRADER_CGROUP_PARENT to such a group"
            ) from exc
        have = _controllers(parent, "cgroup.subtree_control")
        lacking = [c for c in V2_REQUIRED if c not in have]
        if lacking:
            raise SandboxUnavailable(
                f"the cgroup {parent} cannot give its children the {', '.join(lacking)} "
                "controller (it is not delegated to this worker)"
            )
        return parent

    def _enable_down_to(self, parent: Path) -> None:
        """Enable the controllers in every group from the root of the mount down to
        ``parent`` (each hands them to its child), skipping what is enabled already. A
        group that holds processes of its own cannot hand controllers down (cgroup v2's
        rule, the root excepted): the worker's own group first moves its processes to a
        leaf beside the boxes; any other such group makes this fail."""
        own = ROOT / _own_v2_path().lstrip("/")
        parent.mkdir(parents=True, exist_ok=True)
        chain = [parent, *parent.parents]
        if ROOT not in chain:
            raise OSError(f"{parent} is not under {ROOT}")
        for group in reversed(chain[: chain.index(ROOT) + 1]):
            offered = _controllers(group, "cgroup.controllers")
            enabled = _controllers(group, "cgroup.subtree_control")
            todo = [c for c in V2_WANTED if c in offered and c not in enabled]
            if not todo:
                continue
            if group != ROOT and group in (own, parent) and _read_pids(group):
                _move_processes_to_leaf(group)
            for controller in todo:
                try:
                    (group / "cgroup.subtree_control").write_text(f"+{controller}")
                except OSError:
                    if controller in V2_REQUIRED:
                        raise
                    # cpu cannot be enabled beside real-time processes: accounting only


def _move_processes_to_leaf(group: Path) -> None:
    """Move every process of ``group`` itself into its leaf ``autograder-service``."""
    pids = _read_pids(group)
    if not pids:
        return
    leaf = group / SERVICE_LEAF
    leaf.mkdir(exist_ok=True)
    for pid in pids:
        try:
            (leaf / "cgroup.procs").write_text(str(pid))
        except ProcessLookupError:  # it ended meanwhile
            continue


@lru_cache(maxsize=1)
def _v2_layout() -> V2Layout:
    from autograder.settings import get_settings

    return V2Layout(get_settings().cgroup_parent)


class V2BoxCgroup:
    """A box's group in the unified hierarchy (cgroup v2)."""

    def __init__(self, name: str):
        self.name = name
        self.dir = _v2_layout().parent / name

    def create(self, memory_bytes: int, pids: int) -> None:
        try:
            self.dir.mkdir(parents=False, exist_ok=True)
            (self.dir / "memory.max").write_text(str(memory_bytes))
            swap = self.dir / "memory.swap.max"
            if swap.exists():  # memory + swap = memory: the box never swaps
                swap.write_text("0")
            (self.dir / "pids.max").write_text(str(pids))
        except OSError as exc:
            self.remove()
            raise SandboxUnavailable(f"cannot create the sandbox's cgroup: {exc}") from exc

    def enter(self) -> None:
        with open(self.dir / "cgroup.procs", "w") as fh:
            fh.write(str(os.getpid()))

    def pids(self) -> list[int]:
        return _read_pids(self.dir)

    def kill_all(self, timeout: float = 10.0) -> bool:
        """``cgroup.kill`` (the kernel kills every process, forks in flight included), then
        wait until the group is empty; SIGKILL of each listed pid where cgroup.kill is
        missing (kernels before 5.14)."""
        kill = self.dir / "cgroup.kill"
        if not self.dir.exists():
            return True
        if kill.exists():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not self.pids():
                    return True
                try:
                    kill.write_text("1")
                except OSError:
                    if not self.dir.exists():
                        return True
                time.sleep(0.01)
            return not self.pids()
        return _kill_listed(self.pids, timeout)

    def _read(self, name: str) -> str | None:
        try:
            return (self.dir / name).read_text()
        except OSError:
            return None

    def peak_memory(self) -> int | None:
        value = self._read("memory.peak")  # kernel 5.19+
        return int(value) if value and value.strip().isdigit() else None

    def cpu_seconds(self) -> float | None:
        text = self._read("cpu.stat")
        if text is None:
            return None
        return _counter(text, "usage_usec") / 1e6

    def oom_killed(self) -> bool:
        return _counter(self._read("memory.events") or "", "oom_kill") > 0

    def pids_limit_hit(self) -> bool:
        return _counter(self._read("pids.events") or "", "max") > 0

    def remove(self) -> None:
        _rmdir(self.dir)


def _v2_box_names() -> set[str]:
    try:
        parent = _v2_layout().parent
    except (SandboxUnavailable, OSError):
        return set()
    if not parent.is_dir():
        return set()
    return {p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith("box-")}


# ---------------------------------------------------------------------------- shared

BoxCgroup = V1BoxCgroup | V2BoxCgroup


def box_cgroup(name: str) -> BoxCgroup:
    """The cgroup of the box ``name`` on this host's hierarchy."""
    return V2BoxCgroup(name) if unified() else V1BoxCgroup(name)


def box_names() -> set[str]:
    """Names of the box groups that exist now."""
    return _v2_box_names() if unified() else _v1_box_names()


def check_available() -> None:
    """Raise SandboxUnavailable unless boxes can get their full limits on this host."""
    if unified():
        _v2_layout().prepare()
    else:
        _v1_check()


def describe() -> str:
    """One line for health reports and the GPU check: which hierarchy, where boxes go."""
    if unified():
        return f"cgroup v2, boxes under {_v2_layout().parent}"
    return f"cgroup v1, boxes under {base_dir('memory').parent}/{BOXES}"


def _read_pids(folder: Path) -> list[int]:
    try:
        text = (folder / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _kill_listed(pids: Callable[[], list[int]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = pids()
        if not listed:
            return True
        for pid in listed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return not pids()


def _counter(text: str, key: str) -> int:
    """The value of ``key`` in a flat-keyed cgroup file ("key value" per line)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return 0


def _rmdir(folder: Path) -> None:
    for _ in range(20):
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
