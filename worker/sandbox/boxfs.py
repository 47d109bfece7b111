"""The host side of one box's files, the same for every backend and for warm and cold
boxes (DESIGN.md rule 7: the worker never resolves a name inside a tree a box could write).

    JOBS/box-<owner pid>-<random>/     root, 0711: nothing in it belongs to the box
        rw/    a sized tmpfs owned by the box's uid (0700): the box's only writable space
               out/   artifacts, read back here after every process of the box is dead
               home/  the working directory
        ro/    a small tmpfs owned by root: src/ (the code) and in/ (the inputs), copied
               in by the worker and bound read-only into the box

The box owns everything inside rw/ and may turn out/ or any file into a symlink, a FIFO
or a folder at any time. So nothing below rw/ is ever opened by path: rw/ (a mount point
the box cannot replace) is opened with O_DIRECTORY|O_NOFOLLOW, out/ relative to it the
same way, and every entry relative to that descriptor with O_NOFOLLOW|O_NONBLOCK, then
checked with fstat to be a regular file of bounded size. Progress lines are read the same
way while the box runs.

ro/ is a file system of its own so that the box's mount table (/proc/self/mountinfo,
which shows the path of a bind mount's source within its file system) names no job or
run folder of the host: the box sees "/src" and "/in".
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import stat
import time
import uuid
from pathlib import Path
from typing import Any

from worker import housekeeping
from worker.artifacts import json_lines
from worker.sandbox.base import ENDED_REPORT, Limits, SandboxUnavailable

SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

_LIBC = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MNT_DETACH = 2
RO_MIN_MB = 16


class BoxFolder:
    """One box's folder on the host: create, stage, read back, remove."""

    def __init__(self, jobs_dir: Path, tag: str = ""):
        self.path = Path(jobs_dir) / f"box-{housekeeping.OWNER_PID}-{tag}{uuid.uuid4().hex[:12]}"
        self.rw = self.path / "rw"
        self.ro = self.path / "ro"
        self.mounted: list[Path] = []

    @property
    def name(self) -> str:
        return self.path.name

    # ------------------------------------------------------------------ set-up

    def create(self, uid: int, rw_mb: int, ro_mb: int = RO_MIN_MB) -> None:
        """The folder, the box's writable tmpfs (out/ and home/ in it) and the read-only one."""
        try:
            self.rw.mkdir(parents=True)
            self.ro.mkdir()
            self.path.chmod(0o711)
            mount_tmpfs(self.rw, rw_mb, f"uid={uid},gid={uid},mode=0700")
            self.mounted.append(self.rw)
            for sub in ("out", "home"):
                (self.rw / sub).mkdir()
                os.chown(self.rw / sub, uid, uid)
            mount_tmpfs(self.ro, max(RO_MIN_MB, ro_mb), "mode=0755")
            self.mounted.append(self.ro)
            for sub in ("src", "in"):
                (self.ro / sub).mkdir(mode=0o755)
        except OSError as exc:
            raise SandboxUnavailable(f"cannot prepare the sandbox's folders: {exc}") from exc

    def stage(self, src_dir: Path, in_dir: Path) -> None:
        """Copy the job's code and inputs (made by the worker: regular files and folders
        only) into ro/src and ro/in, readable and not writable by the box."""
        for source, target in ((src_dir, self.ro / "src"), (in_dir, self.ro / "in")):
            copy_tree(source, target)

    @staticmethod
    def staged_mb(src_dir: Path, in_dir: Path) -> int:
        """The size a read-only tmpfs needs for the job's code and inputs."""
        total = sum(
            p.stat().st_size
            for d in (src_dir, in_dir)
            for p in d.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        return total // 2**20 + RO_MIN_MB

    # ------------------------------------------------------------------ reading back

    def _open_out(self) -> int | None:
        """A descriptor of rw/out, never followed through a link the box made."""
        try:
            rw_fd = os.open(self.rw, DIR_FLAGS)
        except OSError:
            return None
        try:
            return os.open("out", DIR_FLAGS, dir_fd=rw_fd)
        except OSError:
            return None
        finally:
            os.close(rw_fd)

    def progress(self, name: str, cap: int = 256 * 1024) -> list[dict[str, Any]]:
        """The JSON lines of out/<name> while the box still writes it: the last ``cap``
        bytes of a regular file, opened without following links."""
        out_fd = self._open_out()
        if out_fd is None:
            return []
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=out_fd)
        except OSError:
            return []
        finally:
            os.close(out_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return []
            os.lseek(fd, max(0, st.st_size - cap), os.SEEK_SET)
            raw = os.read(fd, cap)
        finally:
            os.close(fd)
        return json_lines(raw)

    def ended_how(self) -> tuple[str, int] | None:
        """The box reaper's word on how the box's command ended (``("exit", N)`` or
        ``("signal", S)``), read without following a link; None if there is none."""
        try:
            rw_fd = os.open(self.rw, DIR_FLAGS)
        except OSError:
            return None
        try:
            fd = os.open(ENDED_REPORT, FILE_FLAGS, dir_fd=rw_fd)
        except OSError:
            return None
        finally:
            os.close(rw_fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            words = os.read(fd, 64).decode("ascii", errors="replace").split()
        finally:
            os.close(fd)
        if len(words) == 2 and words[0] in ("exit", "signal") and words[1].isdigit():
            return words[0], int(words[1])
        return None

    def collect(self, out_dir: Path, limits: Limits) -> tuple[dict[str, Path], list[str]]:
        """Copy the regular files of out/ (flat, safe names, size-capped) to ``out_dir``;
        called only after every process of the box is dead. Links, FIFOs, devices,
        folders and odd names are refused and listed, never followed."""
        kept: dict[str, Path] = {}
        rejected: list[str] = []
        out_dir.mkdir(parents=True, exist_ok=True)
        out_fd = self._open_out()
        if out_fd is None:
            return kept, ["out/ is missing or is not a folder"]
        try:
            with os.scandir(out_fd) as it:
                names = [entry.name for entry in it]
            for name in names[: limits.max_out_files]:
                if not SAFE_NAME.match(name):
                    rejected.append(name[:100])
                    continue
                if _copy_regular(out_fd, name, out_dir / name, limits.file_mb * 2**20):
                    kept[name] = out_dir / name
                else:
                    rejected.append(name)
            if len(names) > limits.max_out_files:
                rejected.append(f"... {len(names) - limits.max_out_files} more files")
        finally:
            os.close(out_fd)
        return kept, rejected

    # ------------------------------------------------------------------ removal

    def remove(self) -> None:
        """Unmount both file systems and remove the folder (never following a link)."""
        for mount in reversed(self.mounted):
            unmount(mount)
        self.mounted.clear()
        shutil.rmtree(self.path, ignore_errors=True)


def _copy_regular(dir_fd: int, name: str, target: Path, cap: int) -> bool:
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError:  # ELOOP: a symlink; ENXIO: a FIFO with no writer; ...
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > cap:
            return False
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as src, open(target, "xb") as dst:
            shutil.copyfileobj(src, dst, length=1 << 20)
        return True
    finally:
        os.close(fd)


def copy_tree(source: Path, target: Path) -> None:
    """Copy a worker-made tree (regular files and folders only) with box-readable modes."""
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        for d in dirs:
            (target / rel / d).mkdir(mode=0o755)
        for f in files:
            src, dst = Path(root) / f, target / rel / f
            if src.is_symlink() or not src.is_file():
                raise SandboxUnavailable(f"not a regular file in a job's folder: {src}")
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)


def mount_tmpfs(path: Path, size_mb: int, options: str) -> None:
    """A sized, noexec tmpfs, mounted with mount(2) itself (no mount(8) process per box:
    at hundreds of boxes a minute those were a visible share of the CPU)."""
    opts = f"size={size_mb}m,nr_inodes=4096,{options}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if _LIBC.mount(b"agbox", os.fsencode(path), b"tmpfs", flags, opts.encode()) != 0:
        err = ctypes.get_errno()
        raise SandboxUnavailable(f"cannot mount a sandbox tmpfs: {os.strerror(err)}")


def unmount(path: Path) -> None:
    """Unmount a box's tmpfs; a dying box can keep it busy for a moment, so retry, and
    detach it lazily as the last resort (it is freed when its last user is gone)."""
    target = os.fsencode(path)
    for _ in range(40):
        if _LIBC.umount2(target, 0) == 0 or ctypes.get_errno() == errno.EINVAL:
            return  # EINVAL: not (or no longer) a mount point
        time.sleep(0.025)
    _LIBC.umount2(target, MNT_DETACH)
