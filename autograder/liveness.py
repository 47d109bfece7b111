"""Is a process alive? The one answer every part asks for: the health report (a worker's
heartbeat row), the core ledger (a job's hold on cores), the housekeeping (the owner of a
scratch folder or box), the docker backend (the owner of a container).

A pid alone is reused by the kernel sooner or later; ``start_time`` (the kernel's start time
of the process, from /proc) with it names one process for good, where a label can carry it.
Only processes of this host can be asked about; a process of another user exists as far
as we can tell (``os.kill(pid, 0)`` gives EPERM).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()


def alive(pid: int) -> bool:
    """Does a process ``pid`` exist on this host (as any user)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def gone(host: str, pid: int) -> bool:
    """True only when ``host`` is this host and no process ``pid`` exists: a process of
    another host is not ours to tell about (False)."""
    return host == HOST and pid > 0 and not alive(pid)


def start_time(pid: int) -> str:
    """The kernel's start time of process ``pid`` ("0" when it does not exist)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def same_process(pid: int, started: str) -> bool:
    """Is ``pid`` still the process that started at ``started`` (``start_time``)?"""
    return started != "0" and start_time(pid) == started
