"""Cleaning up sandboxes whose worker died (kill -9 leaves cgroups and tmpfs mounts).

Box folders and cgroups are named ``box-<owner pid>-<random>``; a box whose owner pid
is no longer alive is stale.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from worker.sandbox import cgroups

OWNER_PID = os.getpid()


def owner_alive(name: str) -> bool:
    parts = name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_boxes(settings: Any, also_owner: int | None = None) -> int:
    """Remove the boxes of dead owners (and, with ``also_owner``, that owner's: a worker
    shutting down, whose pool children may have ended without removing theirs)."""

    def stale(name: str) -> bool:
        return not owner_alive(name) or (
            also_owner is not None and name.startswith(f"box-{also_owner}-")
        )

    removed = 0
    jobs: Path = settings.path("jobs")
    for name in cgroups.box_names():
        if stale(name):
            group = cgroups.BoxCgroup(name)
            group.kill_all(timeout=5)
            group.remove()
            removed += 1
    if getattr(settings, "sandbox", "bwrap") == "docker":
        from worker.sandbox import docker_backend

        removed += docker_backend.remove_stale(settings)
    if jobs.is_dir():
        for box in jobs.glob("box-*"):
            if stale(box.name):
                subprocess.run(["umount", "-l", str(box / "rw")], capture_output=True, check=False)
                subprocess.run(["rm", "-rf", "--one-file-system", str(box)], check=False)
    return removed
