"""The content-addressed store: hashing, dedup, atomic writes, size limits, name checks."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import pytest

from autograder import storage


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_stores_under_its_sha256(tmp_path: Path):
    data = b"print('hello')\n" * 1000
    blob = storage.store_stream(io.BytesIO(data), 1_000_000, tmp_path)
    digest = hashlib.sha256(data).hexdigest()
    assert blob == storage.StoredBlob(digest, len(data))
    path = storage.path_for(digest, tmp_path)
    assert path == tmp_path / digest[:2] / digest
    assert storage.read_bytes(digest, tmp_path) == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert files_under(tmp_path) == [path]  # no temporary file left behind


def test_same_content_is_stored_once(tmp_path: Path):
    first = storage.store_bytes(b"same", 100, tmp_path)
    second = storage.store_bytes(b"same", 100, tmp_path)
    third = storage.store_bytes(b"other", 100, tmp_path)
    assert first == second and first != third
    assert len(files_under(tmp_path)) == 2


def test_exactly_the_limit_is_accepted_one_more_byte_is_not(tmp_path: Path):
    assert storage.store_bytes(b"x" * 100, 100, tmp_path).size == 100
    with pytest.raises(storage.BlobTooLarge) as caught:
        storage.store_bytes(b"y" * 101, 100, tmp_path)
    assert caught.value.max_bytes == 100
    assert len(files_under(tmp_path)) == 1  # only the first blob


class Endless(io.RawIOBase):
    """A stream that never ends: the limit, not the stream, must stop the copy."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.served += size
        return b"\0" * size


def test_reading_stops_just_past_the_limit(tmp_path: Path):
    endless = Endless()
    with pytest.raises(storage.BlobTooLarge):
        storage.store_stream(endless, 200_000, tmp_path)
    assert endless.served == 200_001
    assert files_under(tmp_path) == []


class Broken(io.RawIOBase):
    def __init__(self) -> None:
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise OSError("client went away")
        return b"partial" * 100


def test_a_failed_stream_leaves_no_partial_file(tmp_path: Path):
    with pytest.raises(OSError, match="client went away"):
        storage.store_stream(Broken(), 1_000_000, tmp_path)
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "AB" * 32, "a" * 63, "a" * 65, "", "g" * 64, "ab/" + "c" * 61]
)
def test_path_for_accepts_only_sha256_hex(tmp_path: Path, name: str):
    with pytest.raises(storage.InvalidDigest):
        storage.path_for(name, tmp_path)
    with pytest.raises(ValueError):
        storage.read_bytes(name, tmp_path)


def test_default_root_is_the_configured_storage_dir(configured):
    blob = storage.store_bytes(b"configured", 100)
    assert storage.path_for(blob.sha256).is_relative_to(configured.path("storage"))
    assert storage.read_bytes(blob.sha256) == b"configured"
