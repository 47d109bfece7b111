"""autograder/liveness.py: the one process-liveness answer (real processes)."""

from __future__ import annotations

import os
import subprocess

from autograder import liveness


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_alive_and_gone():
    assert liveness.alive(os.getpid())
    assert liveness.alive(1)  # another user's process (init) exists too
    dead = _dead_pid()
    assert not liveness.alive(dead)
    assert liveness.gone(liveness.HOST, dead)
    assert not liveness.gone("another-host", dead)  # not ours to tell
    assert not liveness.gone(liveness.HOST, os.getpid())
    assert not liveness.alive(0) and not liveness.alive(-5)


def test_start_time_names_one_process():
    started = liveness.start_time(os.getpid())
    assert started != "0"
    assert liveness.same_process(os.getpid(), started)
    assert not liveness.same_process(os.getpid(), str(int(started) + 1))
    dead = _dead_pid()
    assert liveness.start_time(dead) == "0"
    assert not liveness.same_process(dead, "0")
