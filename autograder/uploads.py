"""Turn the parts of an upload (files, or one zip) into stored files the spec asks for.

Client file names are never used as paths: only their last component (the basename) is
looked at, and it must equal one of the spec's required file names. Sizes are enforced
while streaming (per file ``max_bytes`` and the request-wide ``max_total_bytes``), never
from declared sizes alone. Python files must be UTF-8 text.

Zip archives: only regular members whose basename is a required name are taken, from any
folder depth; members with absolute paths or ``..`` refuse the whole archive, as do
encrypted, corrupt or exotic (not stored/deflated) archives.

Notebooks: ``name.ipynb`` is taken for a required ``name.py`` (not both); its code cells
become ``name.py`` (autograder/notebooks.py), which is what is stored and graded.
"""

from __future__ import annotations

import codecs
import errno
import functools
import io
import logging
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from autograder import notebooks, storage
from autograder.refusals import (
    BadArchive,
    BadUpload,
    DuplicateFile,
    MissingFile,
    NotUtf8,
    StorageFull,
    TooLarge,
    UnexpectedFile,
)
from autograder.specs.schema import RequiredFile, Spec

MAX_ARCHIVE_MEMBERS = 1000
# A notebook may be much larger than its code (saved outputs, images): read up to this many
# times the module's own limit, and never more than NOTEBOOK_MAX_BYTES.
NOTEBOOK_FACTOR = 50
NOTEBOOK_MAX_BYTES = 20_000_000
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)

log = logging.getLogger("autograder.uploads")


@dataclass(frozen=True)
class UploadPart:
    """One file of a request: the name the client gave and its content."""

    filename: str
    fileobj: BinaryIO


Opener = Callable[[], IO[bytes]]


def basename(client_name: str) -> str:
    """The last component of a client path, whichever separator the client used."""
    return re.split(r"[\\/]", client_name)[-1]


def collect_files(
    parts: list[UploadPart],
    spec: Spec,
    *,
    max_total_bytes: int,
    max_files: int,
    root: Path | None = None,
) -> list[dict[str, Any]]:
    """Store the required files; return ``[{"name", "sha256", "size"}]`` in spec order
    (a module made from a notebook also has ``"notebook": {"name", "cells", "removed"}``)."""
    if len(parts) > max_files:
        raise TooLarge(
            f"too many files: {len(parts)} sent, at most {max_files} per upload",
            f"文件太多：发送了 {len(parts)} 个，每次上传最多 {max_files} 个",
        )
    required = {f.name: f for f in spec.files}
    if _is_archive(parts, required):
        with _open_zip(parts[0]) as archive:
            openers = _archive_members(archive, basename(parts[0].filename), required)
            _check_missing(openers, required)
            try:
                return _store_all(openers, required, max_total_bytes, root)
            except _ARCHIVE_ERRORS as exc:
                raise BadArchive(*_archive_problem(parts[0], exc)) from exc
    openers = _named_parts(parts, required)
    _check_missing(openers, required)
    return _store_all(openers, required, max_total_bytes, root)


def expected_list(required: dict[str, RequiredFile]) -> str:
    return ", ".join(required)


# --------------------------------------------------------------------------- plain files


def _is_archive(parts: list[UploadPart], required: dict[str, RequiredFile]) -> bool:
    name = basename(parts[0].filename) if len(parts) == 1 else ""
    return name.lower().endswith(".zip") and name not in required


def _named_parts(parts: list[UploadPart], required: dict[str, RequiredFile]) -> dict[str, Opener]:
    openers: dict[str, Opener] = {}
    given: dict[str, str] = {}  # required name -> the name it came as
    for part in parts:
        name = basename(part.filename)
        if not name:
            raise BadUpload("a file part has no file name", "有一个文件没有文件名")
        target = accepted_as(name, required)
        if target is None:
            zipped = name.lower().endswith(".zip")
            hint = " (a zip archive must be sent alone)" if zipped else ""
            hint_zh = "（zip 压缩包必须单独发送）" if zipped else ""
            raise UnexpectedFile(
                f"unexpected file {name!r}{hint}; this assignment expects: "
                f"{expected_list(required)}",
                f"不需要的文件 {name!r}{hint_zh}；本作业需要：{expected_list(required)}",
            )
        if target in openers:
            if given[target] == name:
                raise DuplicateFile(
                    f"file {name!r} was sent more than once", f"文件 {name!r} 被发送了不止一次"
                )
            raise DuplicateFile(
                f"both {given[target]!r} and {name!r} were sent: send one of them",
                f"{given[target]!r} 和 {name!r} 都被发送了：只发送其中一个",
            )
        given[target] = name
        openers[target] = _given(part.fileobj)
        if target != name:
            openers[target] = _from_notebook(openers[target], name, required[target])
    return openers


def accepted_as(name: str, required: dict[str, RequiredFile]) -> str | None:
    """The required file ``name`` is taken as: itself, or for ``x.ipynb`` the required
    ``x.py`` (when ``x.ipynb`` is not itself a required name); None: not taken."""
    if name in required:
        return name
    module = notebooks.python_name(name)
    return module if module is not None and module in required else None


class _Converted(io.BytesIO):
    """A module made from a notebook, with what the conversion reported."""

    def __init__(self, converted: notebooks.Converted, name: str):
        super().__init__(converted.source.encode("utf-8"))
        self.notebook = {"name": name, "cells": converted.cells, "removed": converted.removed}


def _from_notebook(opener: Opener, name: str, spec_file: RequiredFile) -> Opener:
    """An opener of the module made from notebook ``name`` (read within its own limit)."""

    def open_converted() -> IO[bytes]:
        cap = min(spec_file.max_bytes * NOTEBOOK_FACTOR, NOTEBOOK_MAX_BYTES)
        data = opener().read(cap + 1)
        if len(data) > cap:
            raise TooLarge(
                f"notebook {name!r} is larger than its limit of {cap} bytes",
                f"笔记本 {name!r} 超过了 {cap} 字节的上限",
            )
        return _Converted(notebooks.convert(data, name), name)

    return open_converted


def _given(fileobj: IO[bytes]) -> Opener:
    return lambda: fileobj


def _check_missing(openers: dict[str, Opener], required: dict[str, RequiredFile]) -> None:
    missing = [name for name, f in required.items() if f.required and name not in openers]
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise MissingFile(
            f"missing required file {names}; this assignment expects: {expected_list(required)}",
            f"缺少必需的文件 {names}；本作业需要：{expected_list(required)}",
        )


# --------------------------------------------------------------------------- zip archives


@contextmanager
def _open_zip(part: UploadPart) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(part.fileobj)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError) as exc:
        raise BadArchive(*_archive_problem(part, exc)) from exc
    with archive:
        yield archive


def _archive_problem(part: UploadPart, exc: BaseException) -> tuple[str, str]:
    name = basename(part.filename)
    return (
        f"{name!r} is not a readable zip archive ({exc})",
        f"{name!r} 不是可读取的 zip 压缩包（{exc}）",
    )


def _archive_members(
    archive: zipfile.ZipFile, zip_name: str, required: dict[str, RequiredFile]
) -> dict[str, Opener]:
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise BadArchive(
            f"{zip_name!r} has {len(members)} members, at most {MAX_ARCHIVE_MEMBERS}",
            f"{zip_name!r} 有 {len(members)} 个成员，最多允许 {MAX_ARCHIVE_MEMBERS} 个",
        )
    chosen: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        _check_member(info, zip_name)
        name = accepted_as(basename(info.filename), required)
        if info.is_dir() or not _is_regular(info) or name is None:
            continue
        if name in chosen:
            raise DuplicateFile(
                f"{zip_name!r} contains {name!r} twice "
                f"({chosen[name].filename} and {info.filename})",
                f"{zip_name!r} 中 {name!r} 出现了两次"
                f"（{chosen[name].filename} 和 {info.filename}）",
            )
        if info.compress_type not in _ZIP_METHODS:
            raise BadArchive(
                f"{zip_name!r}: {info.filename} uses an unsupported compression method; "
                "use ordinary (deflate) zip compression",
                f"{zip_name!r}：{info.filename} 使用了不支持的压缩方法；"
                "请使用普通（deflate）zip 压缩",
            )
        chosen[name] = info
    openers: dict[str, Opener] = {}
    for name, info in chosen.items():
        openers[name] = functools.partial(archive.open, info)
        given = basename(info.filename)
        if given != name:
            openers[name] = _from_notebook(openers[name], given, required[name])
    return openers


def _check_member(info: zipfile.ZipInfo, zip_name: str) -> None:
    path = info.filename
    if (
        path.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", path)
        or ".." in re.split(r"[\\/]", path)
    ):
        raise BadArchive(
            f"{zip_name!r} contains an unsafe path {path!r}: "
            "member paths must be relative and must not contain '..'",
            f"{zip_name!r} 含有不安全的路径 {path!r}：成员路径必须是相对路径，且不能包含 '..'",
        )
    if info.flag_bits & 0x1:
        raise BadArchive(
            f"{zip_name!r} is encrypted; upload an archive without a password",
            f"{zip_name!r} 已加密；请上传没有密码的压缩包",
        )


def _is_regular(info: zipfile.ZipInfo) -> bool:
    kind = stat.S_IFMT(info.external_attr >> 16)
    return kind == 0 or stat.S_ISREG(kind)  # 0: no Unix file type recorded


# --------------------------------------------------------------------------- storing


def _store_all(
    openers: dict[str, Opener],
    required: dict[str, RequiredFile],
    max_total_bytes: int,
    root: Path | None,
) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    remaining = max_total_bytes
    for name, spec_file in required.items():
        if name not in openers:  # an optional file not sent (missing required ones: refused)
            continue
        cap = min(spec_file.max_bytes, remaining)
        raw = openers[name]()
        reader: storage.Readable = _Utf8Reader(raw, name) if name.endswith(".py") else raw
        try:
            blob = storage.store_stream(reader, cap, root)
        except storage.BlobTooLarge as exc:
            if cap < spec_file.max_bytes:
                raise TooLarge(
                    f"the files together are larger than the upload limit of "
                    f"{max_total_bytes} bytes (reached while reading {name!r})",
                    f"文件总大小超过了 {max_total_bytes} 字节的上传上限（读取 {name!r} 时超出）",
                ) from exc
            raise TooLarge(
                f"file {name!r} is larger than its limit of {spec_file.max_bytes} bytes",
                f"文件 {name!r} 超过了 {spec_file.max_bytes} 字节的上限",
            ) from exc
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            log.error("submission storage is full: %s", exc)
            raise StorageFull(
                "the server's submission storage is full, so nothing of this upload was "
                "kept; this is not your fault, and the course staff can see it. Send it "
                "again later.",
                zh="服务器的提交存储已满，本次上传未保存；这不是你的问题，课程教师可以看到。"
                "请稍后重新提交。",
            ) from exc
        remaining -= blob.size
        entry: dict[str, Any] = {"name": name, "sha256": blob.sha256, "size": blob.size}
        if isinstance(raw, _Converted):
            entry["notebook"] = raw.notebook
        stored.append(entry)
    return stored


class _Utf8Reader:
    """Passes bytes through, refusing the stream as soon as it is not valid UTF-8."""

    def __init__(self, raw: IO[bytes], name: str):
        self._raw = raw
        self._name = name
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        pending = len(self._decoder.getstate()[0])  # bytes of a character cut by a chunk
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            offset = self._offset - pending + exc.start
            raise NotUtf8(
                f"{self._name!r} is not UTF-8 text (invalid byte at offset "
                f"{offset}); save Python files as UTF-8",
                f"{self._name!r} 不是 UTF-8 文本（偏移 {offset} 处有无效字节）；"
                "请把 Python 文件保存为 UTF-8",
            ) from exc
        self._offset += len(chunk)
        return chunk
