"""Staging a submission's (or the reference's) files for a box: only the spec's files,
never a link. The pipeline stages the student's once per job; a kind that runs the
reference whole (``output``) stages it the same way."""

from __future__ import annotations

import shutil
from pathlib import Path

from autograder.specs.schema import Spec


def stage_code(source_dir: Path, spec: Spec, target: Path) -> list[str]:
    """Copy the spec's files (only those) from ``source_dir``; return the required missing."""
    target.mkdir(parents=True, exist_ok=True)
    missing = []
    for f in spec.files:
        src = source_dir / f.name
        if src.is_file() and not src.is_symlink():
            shutil.copyfile(src, target / f.name)
        elif f.required:
            missing.append(f.name)
    return missing
