"""Cores and memory of this host, handed to jobs so that jobs side by side never share a core.

Jobs that together run more threads than there are cores slow each other several-fold
(measured here: 10-50x for torch training, see README "Performance"), and a per-worker
share is not enough when several workers, or a worker and the tests, share one host. So
every job takes its cores from one ledger per host (a file under the sandbox slot folder,
guarded by flock): the job's boxes are pinned to those cores (sched_setaffinity) and its
thread counts (torch, OpenMP, BLAS) are set to their number. A job that finds too few free
cores, or too little memory left for its limit, waits for a running job to end.

Entries of processes that no longer exist are dropped, so a killed worker frees its cores.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import liveness

POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Grant:
    cores: tuple[int, ...]
    memory_mb: int


def host_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def host_memory_mb(declared: int = 0) -> int:
    """The memory jobs of this host share: ``declared`` (settings.host_memory_mb) when set,
    else MemTotal."""
    return declared or _meminfo_mb("MemTotal")


def available_memory_mb(declared: int = 0) -> int:
    """Memory free for a new box now: MemAvailable, or with a ``declared`` total (a VM whose
    memory grows on demand shows a small MemTotal) that total less what is in use."""
    available = _meminfo_mb("MemAvailable")
    if not declared:
        return available
    return max(available, declared - (_meminfo_mb("MemTotal") - available))


def _meminfo_mb(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


class Ledger:
    """Who holds which cores and how much memory on this host."""

    def __init__(self, folder: Path, reserve_memory_mb: int = 1024, total_memory_mb: int = 0):
        self.path = Path(folder) / "cpus.json"
        self.lock_path = Path(folder) / "cpus.lock"
        self.reserve_memory_mb = reserve_memory_mb
        self.total_memory_mb = total_memory_mb  # 0: MemTotal

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text())
            except (OSError, ValueError):
                state = {}
            holders = {
                key: held
                for key, held in state.get("holders", {}).items()
                if liveness.alive(held["pid"])
            }
            state = {"holders": holders}
            yield state
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            os.replace(tmp, self.path)

    def try_take(self, key: str, cores: int, memory_mb: int) -> Grant | None:
        """``cores`` free cores and ``memory_mb`` under ``key`` now, or None."""
        all_cores = host_cores()
        cores = max(1, min(cores, len(all_cores)))
        budget = max(memory_mb, host_memory_mb(self.total_memory_mb) - self.reserve_memory_mb)
        with self._locked() as state:
            holders = state["holders"]
            busy = {c for held in holders.values() for c in held["cores"]}
            used_mb = sum(held["memory_mb"] for held in holders.values())
            free = [c for c in all_cores if c not in busy]
            if len(free) < cores or used_mb + memory_mb > budget:
                return None
            grant = Grant(tuple(free[:cores]), memory_mb)
            holders[key] = {"pid": os.getpid(), "cores": list(grant.cores), "memory_mb": memory_mb}
            return grant

    def release(self, key: str) -> None:
        with self._locked() as state:
            state["holders"].pop(key, None)

    def acquire(self, key: str, cores: int, memory_mb: int, timeout: float) -> Grant:
        """Wait (up to ``timeout``) for the cores and memory; ``release(key)`` gives them back."""
        deadline = time.monotonic() + timeout
        while (grant := self.try_take(key, cores, memory_mb)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no {cores} free core(s) and {memory_mb} MB on this host for {timeout:g} s"
                )
            time.sleep(POLL_SECONDS)
        return grant

    def holders(self) -> dict[str, Any]:
        with self._locked() as state:
            return dict(state["holders"])
