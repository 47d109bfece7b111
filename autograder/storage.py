"""Content-addressed file store: every blob lives at ``storage/ab/abcdef...`` (its SHA-256).

A blob is streamed into a temporary file in the storage root while it is hashed and
counted, flushed to disk, then renamed into place, so a reader never sees a partial
file and storing the same content twice keeps one copy. Blobs are never modified; the
API writes them and the worker reads them through :func:`path_for`.

Errors::

    StorageError
    ├── BlobTooLarge     the stream had more than ``max_bytes`` bytes (nothing is kept)
    └── InvalidDigest    a name that is not 64 lower-case hex digits (also a ValueError)
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from autograder.settings import get_settings

CHUNK_BYTES = 64 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Submissions are students' work: no access for other users (the sandbox uids included).
_FILE_MODE = 0o640
_DIR_MODE = 0o750


class StorageError(Exception):
    pass


class BlobTooLarge(StorageError):
    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        super().__init__(f"more than {max_bytes} bytes")


class InvalidDigest(StorageError, ValueError):
    pass


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int


def storage_root() -> Path:
    return get_settings().path("storage")


def path_for(sha256: str, root: Path | None = None) -> Path:
    """Where the blob named ``sha256`` lives (whether or not it exists)."""
    if not isinstance(sha256, str) or not _DIGEST.match(sha256):
        raise InvalidDigest(f"not a SHA-256 hex digest: {sha256!r:.80}")
    return (root or storage_root()) / sha256[:2] / sha256


def read_bytes(sha256: str, root: Path | None = None) -> bytes:
    return path_for(sha256, root).read_bytes()


def store_bytes(data: bytes, max_bytes: int, root: Path | None = None) -> StoredBlob:
    return store_stream(io.BytesIO(data), max_bytes, root)


def store_stream(fileobj: Readable, max_bytes: int, root: Path | None = None) -> StoredBlob:
    """Copy ``fileobj`` into the store, reading at most ``max_bytes + 1`` bytes.

    Raises :class:`BlobTooLarge` (and keeps nothing) when the stream is longer than
    ``max_bytes``; any error from ``fileobj.read`` also leaves nothing behind.
    """
    root = root or storage_root()
    root.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := fileobj.read(min(CHUNK_BYTES, max_bytes + 1 - size)):
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(max_bytes)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        blob = StoredBlob(digest.hexdigest(), size)
        _move_into_place(tmp, path_for(blob.sha256, root))
        return blob
    finally:
        tmp.unlink(missing_ok=True)


def _move_into_place(tmp: Path, final: Path) -> None:
    if final.exists():  # same content already stored: keep the first copy
        return
    final.parent.mkdir(mode=_DIR_MODE, exist_ok=True)
    tmp.chmod(_FILE_MODE)
    os.replace(tmp, final)
