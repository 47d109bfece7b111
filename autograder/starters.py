"""The starter of an assignment, as students download it: the skeleton code and the
handouts (``README.md`` in English, ``README.zh.md`` in Chinese) of ``starters/<slug>/``.

Only regular files are offered: no symlink (a starter folder is the course's, but a link
in it could name any file of the host), no hidden file, no ``__pycache__``; the archive is
built the same way every time (fixed order and timestamps), so its bytes change only when
the starter does.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

HANDOUTS = {"en": "README.md", "zh": "README.zh.md"}
MAX_STARTER_BYTES = 20 * 2**20  # a starter is code and text; more is a mistake
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the archive does not vary by mtime


class StarterError(Exception):
    """The starter cannot be offered; ``str()`` says why, for staff."""


@dataclass(frozen=True)
class StarterFile:
    name: str  # relative to the starter folder, "/"-separated
    path: Path
    size: int


def starter_folder(starters_dir: Path, slug: str) -> Path | None:
    """The folder of ``slug``'s starter, or None when the assignment has none."""
    folder = Path(starters_dir) / slug
    try:
        st = folder.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return folder if stat.S_ISDIR(st.st_mode) else None


def starter_files(folder: Path) -> list[StarterFile]:
    """Every file a student gets, in a fixed order; ``StarterError`` when too large."""
    found: list[StarterFile] = []
    total = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".pyc"):
                continue
            path = Path(root) / name
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):
                continue  # symlinks and anything else stay out
            total += st.st_size
            if total > MAX_STARTER_BYTES:
                raise StarterError(
                    f"the starter in {folder} holds more than {MAX_STARTER_BYTES >> 20} MB"
                )
            found.append(StarterFile(path.relative_to(folder).as_posix(), path, st.st_size))
    return found


def starter_zip(folder: Path, slug: str) -> bytes:
    """The starter as a zip archive whose members sit in a folder named ``slug``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in starter_files(folder):
            info = zipfile.ZipInfo(f"{slug}/{item.name}", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, item.path.read_bytes())
    return buffer.getvalue()


def handout(folder: Path, lang: str) -> str | None:
    """The handout in ``lang`` ("en" or "zh"), or None when the starter has none."""
    name = HANDOUTS.get(lang)
    if name is None:
        return None
    path = folder / name
    if not _regular(path):
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def handout_languages(folder: Path | None) -> list[str]:
    """The languages the starter's handouts are written in, in HANDOUTS' order."""
    if folder is None:
        return []
    return [lang for lang, name in HANDOUTS.items() if _regular(folder / name)]


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
