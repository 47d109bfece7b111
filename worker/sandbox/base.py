"""The sandbox interface shared by every backend.

A backend runs one command, once, in a fresh isolated box (see DESIGN.md "trust
boundary"), and hands back only data: the captured output (capped), how the box ended,
what it used, and the regular files it left in ``/job/out`` copied to a host folder
after every process of the box is dead. Nothing a box produces is trusted.

Errors:
    SandboxUnavailable -- the box could not be started with its full isolation
                          (infrastructure: the job is retried, never run unisolated).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Paths inside every box.
SRC = "/job/src"  # the code to run (read-only)
IN = "/job/in"  # generated inputs (read-only)
RW = "/job/rw"  # the only writable place besides /tmp: sized
OUT = "/job/rw/out"  # artifacts to hand back
HOME = "/job/rw/home"  # working directory
PYTHON = "/opt/venv/bin/python"  # the sandbox's own Python environment
RUNNER_DIR = "/opt/runner"
RUNNER = "/opt/runner/sandbox_runner.py"  # calls of functions (numpy only)
# Every box's first program: it runs the box's command as its child and writes how that
# ended to ENDED_REPORT (see worker/runner/box_reaper.py for why, and how far it is used).
REAPER = "/opt/runner/box_reaper.py"
ENDED_REPORT = ".box-ended"  # in /job/rw
TORCH_RUNNER = "/opt/runner/torch_runner.py"  # train and predict phases
DATA = "/data"  # read-only data files a phase may see (never labels it is scored on)
# The first bytes a runner writes to stdout, before any student code runs. Output is a
# pipe read outside, so nothing the student does later can take them back: a box whose
# output does not start with them never ran student code, and its failure is ours.
STARTED_MARKER = b"\x1e[autograder runner started]\n"


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start with its full isolation: an infrastructure error."""


class SandboxUnreachable(SandboxUnavailable):
    """A folder a box binds is out of the sandbox uids' reach: no box can start until an
    administrator fixes it (the message names the folder and the fix)."""


class BoxKilled(SandboxUnavailable):
    """Something other than the box's own limits killed it: ours, retried, never charged."""


# Signals a box's program does not get from its own code in the normal course of things,
# and which none of a box's limits sends but SIGKILL (recorded: wall clock, CPU seconds,
# memory). A death by one of them with no limit recorded is taken as a kill from outside.
# A death by any other signal (SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGXFSZ, ...) is the
# program's own, and so is every exit code, 137 included: exit codes are not signals.
FOREIGN_SIGNALS = frozenset({int(signal.SIGKILL), int(signal.SIGTERM)})


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    wall_seconds: float = 60
    cpu_seconds: int | None = None
    processes: int = 64
    threads: int = 1
    open_files: int = 256
    file_mb: int = 64
    tmp_mb: int = 64
    rw_mb: int = 64
    output_bytes: int = 64 * 1024
    max_out_files: int = 2000
    # The host cores the box runs on (worker/cpus.py); None: any. threads follows them.
    cores: tuple[int, ...] | None = None

    @property
    def cpu_limit(self) -> int:
        """CPU seconds of all the box's processes together: its own, or else its wall
        clock on all its threads plus 5."""
        return self.cpu_seconds or int(self.wall_seconds * max(1, self.threads) + 5)


@dataclass(frozen=True)
class GpuAssignment:
    """One GPU handed to one box: only its device node is visible inside, and with CUDA MPS
    (``mps_pipe_dir``) the memory the box may pin on it is capped by the MPS server."""

    index: int
    memory_mb: int
    mps_pipe_dir: Path | None = None
    # The folder the MPS daemon and its servers see as /dev/shm (they share memory with
    # their clients there): bound as the box's /dev/shm. None: the box's own /dev/shm.
    mps_shm_dir: Path | None = None


@dataclass(frozen=True)
class Request:
    argv: list[str]
    src_dir: Path
    in_dir: Path
    limits: Limits
    env: dict[str, str] = field(default_factory=dict)
    # Extra read-only files, host path -> path inside (under DATA).
    data_files: dict[str, Path] = field(default_factory=dict)
    # Called about once a second with the lines of out/<progress_file> (untrusted JSON).
    progress_file: str | None = None
    on_progress: Callable[[list[dict[str, Any]]], None] | None = None
    gpu: GpuAssignment | None = None
    # What the box needs imported ("none", "numpy" or "torch"): a box started ahead of
    # demand (worker/sandbox/pool.py) has it ready; a cold box imports it as it goes.
    runtime: str = "none"


@dataclass
class Result:
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    output: bytes
    output_truncated: bool
    output_total_bytes: int
    wall_seconds: float
    start_seconds: float
    cpu_seconds: float | None
    peak_memory_bytes: int | None
    out_files: dict[str, Path]
    out_rejected: list[str]
    process_limit_hit: bool = False
    # Its processes together used more CPU seconds than the limit (killed from outside).
    cpu_limit_hit: bool = False
    # How the box's command ended, in its reaper's word (untrusted, see box_reaper.py):
    # ("exit", code) or ("signal", number); None when it left none.
    ended_how: tuple[str, int] | None = None
    # The signal that ended the box's host-side process (setpriv/bwrap, which nothing in
    # the box can reach) when the worker did not send it; None otherwise.
    host_signal: int | None = None

    @property
    def runner_started(self) -> bool:
        return self.output.startswith(STARTED_MARKER)

    def require_runner_started(self, what: str) -> None:
        """A box that never started its runner never ran student code: its failure is
        ours (SandboxUnavailable, retried), not the student's."""
        if not self.runner_started:
            tail = self.output.decode("utf-8", errors="replace")[-1000:]
            raise SandboxUnavailable(f"the sandbox for the {what} did not start its runner: {tail}")

    @property
    def killed_from_outside(self) -> bool:
        """Did something other than the box's own limits kill it (ours, not the student's)?

        A limit of the box (wall clock, CPU seconds, memory, processes) is the student's.
        Otherwise: a host-side process of the box killed by a signal we did not send is
        ours (nothing inside can reach it); the box's command killed by a FOREIGN_SIGNAL is
        ours; with no word from the reaper (it was killed too, or the box took its place to
        write), an exit code of 128 + a FOREIGN_SIGNAL is ours. Nothing inside the box can
        send itself such a signal (the reaper's signal filter refuses it), so a student
        cannot buy this verdict by killing itself or its parent."""
        if self.ended_by_limit or self.process_limit_hit:
            return False
        if self.host_signal is not None:
            return True
        if self.ended_how is not None:
            how, number = self.ended_how
            return how == "signal" and number in FOREIGN_SIGNALS
        return self.exit_code in {128 + s for s in FOREIGN_SIGNALS}

    def require_not_killed_from_outside(self, what: str) -> None:
        """Raise BoxKilled (ours: retried, never charged) when ``killed_from_outside``."""
        if self.killed_from_outside:
            how = (
                f"signal {self.host_signal} to its host process"
                if self.host_signal is not None
                else (
                    f"{self.ended_how[0]} {self.ended_how[1]}"
                    if self.ended_how
                    else f"exit code {self.exit_code}"
                )
            )
            raise BoxKilled(f"the sandbox for the {what} was killed from outside ({how})")

    @property
    def student_output(self) -> str:
        """What the program printed, without the runner's marker."""
        return self.output.removeprefix(STARTED_MARKER).decode("utf-8", errors="replace")

    @property
    def ended_by_limit(self) -> str | None:
        if self.timed_out:
            return "timeout"
        if self.oom_killed:
            return "memory"
        if self.cpu_limit_hit:
            return "cpu"
        return None


class Backend(Protocol):
    name: str

    def check(self) -> None:
        """Raise SandboxUnavailable with the reason when this host cannot run boxes."""

    def run(self, request: Request, out_dir: Path) -> Result:
        """Run ``request`` in a fresh box; copy its regular output files into ``out_dir``."""
