"""Cleaning up what a dead worker left (kill -9 leaves cgroups, tmpfs mounts and folders).

Everything a worker makes in the jobs folder is named for its owner, the worker's main
process: box folders and cgroups ``box-<owner pid>-<random>``, a run's scratch folder
``run-<owner pid>-<run id>-<random>``, ``autograder grade``'s ``job-<pid>-<random>``.
Whatever is named for a pid that is no longer alive is stale: a worker removes it when it
starts and every ``housekeeping_seconds`` while it runs (``start_periodic``). A live
owner's things are never touched (a pid reused by an unrelated process keeps them until
that one ends too). Scratch folders named the old way, without a pid (``run12-...``),
cannot be told live or dead and are left alone.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import liveness
from worker.sandbox import cgroups

if TYPE_CHECKING:
    from autograder.settings import Settings

OWNER_PID = os.getpid()
SCRATCH_PREFIXES = ("run-", "job-")

log = logging.getLogger(__name__)


def scratch_prefix(kind: str, owner: int | None = None) -> str:
    """The start of a scratch folder's name (``tempfile.mkdtemp(prefix=...)``): ``kind``
    ("run" or "job") and its owner's pid (default: this worker's main process)."""
    return f"{kind}-{OWNER_PID if owner is None else owner}-"


def owner_alive(name: str) -> bool:
    parts = name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    return liveness.alive(int(parts[1]))


def remove_stale_boxes(settings: Settings, also_owner: int | None = None) -> int:
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
            group = cgroups.box_cgroup(name)
            group.kill_all(timeout=5)
            group.remove()
            removed += 1
    if getattr(settings, "sandbox", "bwrap") == "docker":
        from worker.sandbox import docker_backend

        removed += docker_backend.remove_stale(settings)
    if jobs.is_dir():
        for box in jobs.glob("box-*"):
            if stale(box.name):
                for mount in ("rw", "ro"):  # worker/sandbox/boxfs.py
                    subprocess.run(
                        ["umount", "-l", str(box / mount)], capture_output=True, check=False
                    )
                subprocess.run(["rm", "-rf", "--one-file-system", str(box)], check=False)
    return removed


def remove_stale_scratch(settings: Settings) -> int:
    """Remove the scratch folders (``run-*``, ``job-*``) of dead owners in the jobs
    folder; return how many."""
    jobs: Path = settings.path("jobs")
    if not jobs.is_dir():
        return 0
    removed = 0
    for folder in jobs.iterdir():
        name = folder.name
        if not name.startswith(SCRATCH_PREFIXES) or owner_alive(name):
            continue
        if not name.split("-")[1].isdigit():
            continue  # not named for an owner: not ours to judge
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 0 if folder.exists() else 1
    return removed


def sweep(settings: Settings) -> tuple[int, int]:
    """One pass: boxes and scratch folders of dead owners. Returns (boxes, folders)."""
    return remove_stale_boxes(settings), remove_stale_scratch(settings)


def start_periodic(settings: Settings) -> threading.Thread:
    """Sweep every ``settings.housekeeping_seconds`` in a daemon thread of this process."""

    def loop() -> None:
        while not threading.Event().wait(settings.housekeeping_seconds):
            try:
                boxes, folders = sweep(settings)
                if boxes or folders:
                    log.warning(
                        "removed %d sandbox(es) and %d scratch folder(s) left by dead workers",
                        boxes,
                        folders,
                    )
            except Exception:
                log.warning("housekeeping pass failed", exc_info=True)

    thread = threading.Thread(target=loop, name="housekeeping", daemon=True)
    thread.start()
    return thread
