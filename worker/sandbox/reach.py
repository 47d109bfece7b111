"""Whether the sandbox uids can reach every host folder a box binds.

bwrap resolves a bind's source path with the box's uid, so a folder the uid cannot
traverse (a private ``mktemp -d`` HOME, mode 0700) makes every box fail to start, and a
warm box then waits for a readiness that never comes. The check runs as the first sandbox
uid, in a child shell (nothing else can say what that uid may open: ACLs, group bits,
mount options), over each bind source and every folder above it; the answer names the
first folder that stops it and the fix.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

# For each argument: "ok" when the uid may traverse it (a folder) or read it (a file).
_PROBE = (
    'for p do if { [ -d "$p" ] && [ -x "$p" ]; } || { [ ! -d "$p" ] && [ -r "$p" ]; }; '
    "then echo ok; else echo no; fi; done"
)


def unreachable(paths: list[Path], uid: int) -> list[str]:
    """A message for each path of ``paths`` (that exists) the uid cannot reach."""
    wanted: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.exists():
            wanted.append(path)
    if not wanted:
        return []
    # The folders above each path, then the path: the first "no" is what stops the uid.
    chains = [[*reversed(p.resolve().parents), p.resolve()] for p in wanted]
    flat = sorted({str(d) for chain in chains for d in chain})
    if os.geteuid() != 0:
        return []  # only root can ask as another uid; the root-only check says so
    probe = subprocess.run(
        ["/bin/sh", "-c", _PROBE, "sh", *flat],
        check=False,
        user=uid,
        group=uid,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    answers = dict(zip(flat, probe.stdout.split(), strict=False))
    blocked: dict[Path, list[Path]] = {}  # the folder (or file) that stops the uid: what it hides
    for path, chain in zip(wanted, chains, strict=True):
        stop = next((f for f in chain if answers.get(str(f)) != "ok"), None)
        if stop is not None:
            blocked.setdefault(stop, []).append(path)
    problems = []
    for stop, hidden_paths in blocked.items():
        if stop.is_dir():
            st = stop.stat()
            what = f"{stop} is mode {stat.filemode(st.st_mode)} (owner uid {st.st_uid})"
            fix = f"`chmod o+x {stop}`"
        else:
            what = f"{stop} is not readable by others"
            fix = f"`chmod o+r {stop}`"
        hidden = str(hidden_paths[0]) + (
            f" and {len(hidden_paths) - 1} more" if len(hidden_paths) > 1 else ""
        )
        problems.append(
            f"the sandbox uid {uid} cannot reach {hidden}: {what}. Fix: {fix}, or move "
            "AUTOGRADER_HOME (AUTOGRADER_DATA_DIR, AUTOGRADER_JOBS_DIR) below folders every "
            "user may traverse, such as /srv or /var/lib"
        )
    return problems


def box_sources(venvs: list[Path], runner_dir: Path, jobs_dir: Path, data_dir: Path) -> list[Path]:
    """The host folders and files bwrap binds into boxes: the sandbox Pythons (and the
    interpreter each was made from), the runners, the jobs folder, and every prepared
    (sandbox-visible) dataset with its files."""
    from worker.sandbox.bwrap import interpreter_binds

    found: list[Path] = []
    for venv in venvs:
        found += [venv, venv / "bin" / "python"]
        binds = interpreter_binds(venv)
        found += [Path(b) for b in binds[1::3]]  # ["--ro-bind", source, target] triples
    found += [runner_dir, jobs_dir]
    if data_dir.is_dir():
        for prepared in sorted(data_dir.glob("*/prepared")):
            found.append(prepared)
            found += sorted(p for p in prepared.iterdir() if p.is_file())
    return found
