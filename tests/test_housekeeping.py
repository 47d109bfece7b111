"""Scratch folders of dead workers (issue 16, item 5), with real processes as owners:
a folder named for a pid that has ended is removed, a live owner's is kept."""

from __future__ import annotations

import subprocess

from autograder.settings import Settings
from worker import housekeeping


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_scratch_of_dead_owners_is_removed_live_ones_kept(tmp_path):
    settings = Settings(home=tmp_path / "home", jobs_dir=tmp_path / "jobs")
    jobs = settings.path("jobs")
    jobs.mkdir(parents=True)
    live = subprocess.Popen(["sleep", "60"])
    dead = _dead_pid()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("not the worker's")
    try:
        folders = {
            "dead run": jobs / f"run-{dead}-12-abc",
            "dead grade": jobs / f"job-{dead}-xyz",
            "live run": jobs / f"run-{live.pid}-13-def",
            "legacy": jobs / "run14-ghi",  # no owner in its name: left alone
            "other": jobs / f"data-{dead}-x",
        }
        for folder in folders.values():
            (folder / "upload").mkdir(parents=True)
            (folder / "upload" / "a.py").write_text("x = 1\n")
        link = jobs / f"run-{dead}-15-link"
        link.symlink_to(outside)

        assert housekeeping.remove_stale_scratch(settings) == 2
        assert not folders["dead run"].exists()
        assert not folders["dead grade"].exists()
        for kept in ("live run", "legacy", "other"):
            assert (folders[kept] / "upload" / "a.py").exists(), kept
        assert (outside / "keep").exists()  # a link is never followed

        live.kill()
        live.wait()
        assert housekeeping.remove_stale_scratch(settings) == 1  # its owner has ended now
        assert not folders["live run"].exists()
    finally:
        live.kill()
        live.wait()


def test_a_worker_names_its_scratch_for_itself():
    housekeeping_pid = housekeeping.OWNER_PID
    assert housekeeping.scratch_prefix("run") == f"run-{housekeeping_pid}-"
    assert housekeeping.scratch_prefix("job", 42) == "job-42-"
