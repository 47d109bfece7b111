"""The dataset formats beyond IDX and ``.npy`` (autograder/datasets.py declares and prepares
datasets; this module only decodes):

``image-folder``
    PNG images in one folder per class, in a tar (plain or gzipped) or zip archive that the
    manifest lists with its checksum: ``<split folder>/<class folder>/<anything>.png``.
    The archive is read in memory and never extracted, so nothing in it can write a file
    anywhere. All the same, a member named by an absolute path or with ``..``, a link
    (symbolic or hard), a device, FIFO or other special file, a name twice, more members or
    more bytes than the dataset's images can need are each refused, naming the member: a
    course's archive is trusted to be what it says, but a broken one must say so clearly.
    Names beginning with ``.`` (``.DS_Store``, macOS's ``._x.png``) are skipped, and so is
    anything outside the splits' folders (a README).
``csv``
    One CSV file per split, a label column and one column per pixel (the layout of the
    well-known ``mnist_train.csv``): integers only, each pixel in the dtype's range, each
    label a class; a line with the wrong number of columns is refused by its number.

Both give a split's images as ``(N, *shape)`` uint8 and its labels as ``(N,)`` int64: the
arrays the idx and npy formats give, so the prepared files are made the same way.
Every error is a ``DataFormatError`` whose message names the file and the member or line.
"""

from __future__ import annotations

import difflib
import io
import math
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
# The PNG mode of each channel count (a shape [H, W] has one channel).
PNG_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_MODE_WORDS = {
    "1": "1-bit black and white",
    "L": "grayscale",
    "LA": "grayscale with alpha",
    "I": "32-bit grayscale",
    "I;16": "16-bit grayscale",
    "P": "palette",
    "PA": "palette with alpha",
    "RGB": "RGB",
    "RGBA": "RGB with alpha",
}
# Besides the images: folders, a README, a licence, ... (and a member count bound for them).
_SPARE_MEMBERS = 10_000
_SPARE_BYTES = 64 << 20

ClassFolders = Literal["name", "index", "sorted"]


class DataFormatError(Exception):
    """A file that is not as its manifest says; ``str()`` names the file and where in it."""


# --------------------------------------------------------------------------- archives


@dataclass
class Archive:
    """What ``read_archive`` found: the kept files' bytes, every file's path, the folders."""

    name: str
    files: dict[str, bytes] = field(default_factory=dict)  # kept: path -> content
    paths: list[str] = field(default_factory=list)  # every regular file, in archive order
    folders: set[str] = field(default_factory=set)  # every folder, declared or implied
    seen: set[str] = field(default_factory=set)  # the paths of ``paths``


@dataclass(frozen=True)
class ArchiveLimits:
    members: int
    bytes: int

    @classmethod
    def for_images(cls, count: int, shape: Sequence[int]) -> ArchiveLimits:
        """Generous for ``count`` PNG images of ``shape`` (PNG can exceed the raw pixels a
        little, as for noise) and a few other files; far below what a broken archive (a
        decompression bomb) would need."""
        return cls(2 * count + _SPARE_MEMBERS, count * (2 * math.prod(shape) + 4096) + _SPARE_BYTES)


def member_path(name: str, what: str) -> str:
    """The member's path with ``./`` and doubled slashes removed; refused when absolute,
    when it climbs out with ``..``, or when it holds a backslash or NUL."""
    if "\0" in name or "\\" in name:
        raise DataFormatError(f"{what}: member {name!r}: a backslash or NUL in its name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise DataFormatError(
            f"{what}: member {name!r}: an absolute path (members must be relative)"
        )
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DataFormatError(f"{what}: member {name!r}: '..' in its path (it points outside)")
    return "/".join(parts)


def _add_folders(archive: Archive, path: str) -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        archive.folders.add("/".join(parts[:i]))


def read_archive(
    blob: bytes, what: str, limits: ArchiveLimits, keep: Callable[[str], bool]
) -> Archive:
    """The members of a tar (plain, gzip, bzip2 or xz) or zip archive, read in memory.

    ``keep(path)``: whether to hold the file's bytes (the images); every member is checked
    and counted all the same. Raises ``DataFormatError`` naming the member at fault."""
    archive = Archive(what)
    if blob[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        _read_zip(blob, archive, limits, keep)
    else:
        _read_tar(blob, archive, limits, keep)
    return archive


class _Budget:
    def __init__(self, what: str, limits: ArchiveLimits):
        self.what, self.limits = what, limits
        self.members = 0
        self.bytes = 0

    def member(self, name: str, size: int) -> None:
        self.members += 1
        if self.members > self.limits.members:
            raise DataFormatError(
                f"{self.what}: more than {self.limits.members} members (at {name!r}): more "
                "than the dataset's images can need; a wrong or broken archive?"
            )
        self.bytes += size
        if self.bytes > self.limits.bytes:
            raise DataFormatError(
                f"{self.what}: more than {self.limits.bytes} bytes unpacked (at {name!r}, "
                f"{size} bytes): more than the dataset's images can need; a wrong or broken "
                "archive?"
            )


def _remember(archive: Archive, path: str, name: str) -> bool:
    """Record a regular file; False for the archive's top itself; a path twice is refused."""
    if not path:
        return False
    if path in archive.seen:
        raise DataFormatError(f"{archive.name}: member {name!r} is in the archive twice")
    archive.seen.add(path)
    archive.paths.append(path)
    _add_folders(archive, path)
    return True


def _read_tar(
    blob: bytes, archive: Archive, limits: ArchiveLimits, keep: Callable[[str], bool]
) -> None:
    what = archive.name
    budget = _Budget(what, limits)
    broken = (tarfile.TarError, OSError, EOFError, zlib.error)
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
            for member in tar:
                budget.member(member.name, max(member.size, 0))
                path = member_path(member.name, what)
                if member.issym() or member.islnk():
                    kind = "symbolic" if member.issym() else "hard"
                    raise DataFormatError(
                        f"{what}: member {member.name!r} is a {kind} link (to "
                        f"{member.linkname!r}); only files and folders are allowed"
                    )
                if member.isdir():
                    if path:
                        archive.folders.add(path)
                        _add_folders(archive, path)
                    continue
                if not member.isfile() or member.issparse():
                    raise DataFormatError(
                        f"{what}: member {member.name!r} is a device, FIFO or other special "
                        "file; only files and folders are allowed"
                    )
                if not _remember(archive, path, member.name):
                    continue
                if keep(path):
                    f = tar.extractfile(member)
                    data = f.read(member.size + 1) if f is not None else b""
                    if len(data) != member.size:
                        raise DataFormatError(
                            f"{what}: member {member.name!r}: {len(data)} bytes, its header "
                            f"says {member.size} (a truncated archive?)"
                        )
                    archive.files[path] = data
    except broken as exc:
        raise DataFormatError(f"{what}: not a readable tar or zip archive ({exc})") from None


def _read_zip(
    blob: bytes, archive: Archive, limits: ArchiveLimits, keep: Callable[[str], bool]
) -> None:
    what = archive.name
    budget = _Budget(what, limits)
    broken = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError)
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            infos = zf.infolist()
            if len(infos) > limits.members:
                raise DataFormatError(
                    f"{what}: {len(infos)} members, more than the {limits.members} that the "
                    "dataset's images can need; a wrong or broken archive?"
                )
            for info in infos:
                budget.member(info.filename, info.file_size)
                path = member_path(info.filename, what)
                # A Unix mode in the high half where the archive was made on Unix.
                mode = info.external_attr >> 16 if info.create_system == 3 else 0
                if stat.S_ISLNK(mode):
                    raise DataFormatError(
                        f"{what}: member {info.filename!r} is a symbolic link; only files "
                        "and folders are allowed"
                    )
                if info.is_dir():
                    if path:
                        archive.folders.add(path)
                        _add_folders(archive, path)
                    continue
                if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                    raise DataFormatError(
                        f"{what}: member {info.filename!r} is a device, FIFO or other special "
                        "file; only files and folders are allowed"
                    )
                if info.flag_bits & 0x1:
                    raise DataFormatError(f"{what}: member {info.filename!r} is encrypted")
                if not _remember(archive, path, info.filename):
                    continue
                if keep(path):
                    with zf.open(info) as f:
                        data = f.read(info.file_size + 1)
                    if len(data) != info.file_size:
                        raise DataFormatError(
                            f"{what}: member {info.filename!r}: {len(data)} bytes, the archive "
                            f"says {info.file_size}"
                        )
                    archive.files[path] = data
    except broken as exc:
        raise DataFormatError(f"{what}: not a readable tar or zip archive ({exc})") from None


# --------------------------------------------------------------------------- image-folder


def folder_prefix(folder: str) -> str:
    """A split's folder in its archive as a path prefix (``.``: the archive's top)."""
    return "" if folder in ("", ".") else folder.strip("/") + "/"


def is_image_path(path: str, prefixes: Sequence[str]) -> bool:
    """Whether ``path`` may be an image of a split (the files ``read_archive`` keeps)."""
    if not path.lower().endswith(".png"):
        return False
    return any(path.startswith(p) and not _hidden(path[len(p) :]) for p in prefixes)


def _hidden(rest: str) -> bool:
    return any(part.startswith(".") for part in rest.split("/"))


def _natural(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key: numbers compared as numbers (``2.png`` before ``10.png``)."""
    return tuple(
        (0, int(run), "") if run.isascii() and run.isdigit() else (1, 0, run)
        for run in re.split(r"([0-9]+)", name)
        if run
    )


def _split_members(archive: Archive, folder: str) -> tuple[dict[str, list[str]], set[str]]:
    """The images of a split by class folder, and every class folder (images or not)."""
    prefix = folder_prefix(folder)
    shown = prefix.rstrip("/") + "/" if prefix else "the archive's top"
    if prefix and prefix.rstrip("/") not in archive.folders:
        tops = sorted(
            {p.split("/")[0] for p in archive.paths} | {f.split("/")[0] for f in archive.folders}
        )
        raise DataFormatError(
            f"{archive.name}: no folder {prefix} in the archive (its top holds: "
            f"{', '.join(tops[:12]) or 'nothing'}{', ...' if len(tops) > 12 else ''}); "
            "the split's `folder` names it"
        )
    by_class: dict[str, list[str]] = {}
    classes: set[str] = set()
    for f in archive.folders:
        if f.startswith(prefix) and f != prefix.rstrip("/"):
            top = f[len(prefix) :].split("/")[0]
            if not top.startswith("."):
                classes.add(top)
    for path in archive.paths:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        if _hidden(rest):
            continue
        parts = rest.split("/")
        if len(parts) == 1:
            raise DataFormatError(
                f"{archive.name}: {path}: not in a class folder (images are "
                f"{prefix}<class>/<name>.png)"
            )
        if len(parts) > 2:
            raise DataFormatError(
                f"{archive.name}: {path}: a folder inside the class folder {parts[0]!r} "
                f"(images are {prefix}<class>/<name>.png)"
            )
        if not path.lower().endswith(".png"):
            raise DataFormatError(
                f"{archive.name}: {path}: not a .png file (a class folder holds PNG images only)"
            )
        by_class.setdefault(parts[0], []).append(path)
        classes.add(parts[0])
    if not by_class:
        raise DataFormatError(f"{archive.name}: no .png images in {shown}")
    return by_class, classes


def class_mapping(
    archive: Archive, folder: str, how: ClassFolders, n_classes: int
) -> dict[str, int]:
    """Class folder -> label, for ``class_folders: sorted`` (from the train split)."""
    if how != "sorted":
        return {}
    _, classes = _split_members(archive, folder)
    found = sorted(classes)
    if len(found) != n_classes:
        raise DataFormatError(
            f"{archive.name}: {folder_prefix(folder) or 'the top'} has {len(found)} class "
            f"folder(s) ({', '.join(found[:12])}{', ...' if len(found) > 12 else ''}); "
            f"`class_folders: sorted` maps them to the manifest's {n_classes} classes in "
            "order, so there must be as many"
        )
    return {name: i for i, name in enumerate(found)}


def _label_of(
    cls: str,
    first: str,
    archive: Archive,
    how: ClassFolders,
    names: Sequence[str],
    sorted_map: dict[str, int],
    n_classes: int,
) -> int:
    if how == "index":
        if cls.isascii() and cls.isdigit() and int(cls) < n_classes:
            return int(cls)
        expected = f"`class_folders: index`: folders 0-{n_classes - 1}"
    else:
        known = list(sorted_map) if how == "sorted" else list(names)
        if cls in known:
            return sorted_map[cls] if how == "sorted" else known.index(cls)
        close = difflib.get_close_matches(cls, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        where = "the train split's" if how == "sorted" else "the classes'"
        expected = f"{where} folders: {shown}{hint}"
    raise DataFormatError(f"{archive.name}: {first}: unknown class folder {cls!r} ({expected})")


def decode_png(data: bytes, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """One PNG image as an array of ``shape`` (uint8), its size checked before decoding."""
    from PIL import Image, UnidentifiedImageError

    channels = shape[2] if len(shape) == 3 else 1
    want = PNG_MODES[channels]
    height, width = shape[0], shape[1]
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.size != (width, height):
                raise DataFormatError(
                    f"{where}: {img.size[0]}x{img.size[1]} pixels (width x height); the "
                    f"manifest's shape {list(shape)} wants {width}x{height}"
                )
            if img.mode != want:
                words = _MODE_WORDS.get(img.mode, img.mode)
                article = "an" if words.startswith("RGB") else "a"
                raise DataFormatError(
                    f"{where}: {article} {words} image (PNG mode {img.mode}); the manifest's "
                    f"shape {list(shape)} wants {_MODE_WORDS[want]} (mode {want}), 8 bits per "
                    "channel"
                )
            frames = getattr(img, "n_frames", 1)
            if frames != 1:
                raise DataFormatError(f"{where}: an animated PNG ({frames} frames)")
            arr = np.asarray(img)
    except UnidentifiedImageError:
        raise DataFormatError(f"{where}: not a PNG image") from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        zlib.error,
        Image.DecompressionBombError,
    ) as exc:
        raise DataFormatError(f"{where}: a broken PNG image ({exc})") from None
    if arr.dtype != np.uint8:
        raise DataFormatError(f"{where}: {arr.dtype} pixels, expected 8 bits per channel")
    return arr.reshape(shape)


def decode_image_folder(
    archive: Archive,
    folder: str,
    *,
    split: str,
    count: int,
    shape: tuple[int, ...],
    how: ClassFolders,
    names: Sequence[str],
    n_classes: int,
    sorted_map: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """A split's images and labels, in the order of the images' file names (numbers as
    numbers), then of their labels: name the files by their index to keep an order."""
    by_class, _ = _split_members(archive, folder)
    items: list[tuple[tuple[tuple[int, int, str], ...], int, str]] = []
    for cls, paths in by_class.items():
        label = _label_of(cls, paths[0], archive, how, names, sorted_map, n_classes)
        items += [(_natural(p.rsplit("/", 1)[1]), label, p) for p in paths]
    prefix = folder_prefix(folder) or "the archive's top"
    if len(items) != count:
        raise DataFormatError(
            f"{archive.name}: {prefix} holds {len(items)} images, but the manifest's "
            f"splits.{split}.count is {count}"
        )
    items.sort()
    images = np.empty((count, *shape), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i, (_, label, path) in enumerate(items):
        images[i] = decode_png(archive.files[path], f"{archive.name}: {path}", shape)
        labels[i] = label
    return images, labels


# --------------------------------------------------------------------------- csv


def _columns(n_pixels: int, shape: Sequence[int]) -> str:
    return f"a label and {n_pixels} pixels for shape {list(shape)}"


def _line_spans(content: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each line, without its newline; no line after a final newline."""
    pos, size = 0, len(content)
    while pos < size:
        end = content.find(b"\n", pos)
        if end < 0:
            end = size
        yield pos, end
        pos = end + 1


def decode_csv(
    content: bytes,
    what: str,
    *,
    split: str,
    count: int,
    shape: tuple[int, ...],
    header: bool,
    label_column: int | str,
    n_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A split's images and labels from a CSV file: one row per image, a label column and
    ``prod(shape)`` pixel columns in row-major order (``label,pixel1,...`` or ``label,1x1,...``
    as in the well-known ``mnist_train.csv``). Integers only; pixels within uint8's range.

    The lines are checked one by one (columns, no empty line), then parsed at once by numpy
    as int16 (a pixel file of 60,000 28x28 images takes ~100 MB, not ~400); a value numpy
    refuses is then looked for line by line, for its line and column."""
    n_pixels = math.prod(shape)
    ncols = n_pixels + 1
    if content.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
        content = content[3:]
    if b"\r" in content:
        content = content.replace(b"\r\n", b"\n")
    spans = _line_spans(content)
    names: list[str] = []
    start = 0
    if header:
        first = next(spans, None)
        if first is None:
            raise DataFormatError(f"{what}: empty (no header line)")
        try:
            text = content[first[0] : first[1]].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"{what}: line 1 (the header) is not UTF-8 ({exc})") from None
        names = [c.strip().strip('"').strip() for c in text.split(",")]
        if len(names) != ncols:
            raise DataFormatError(
                f"{what}: line 1 (the header): {len(names)} columns, expected {ncols} "
                f"({_columns(n_pixels, shape)})"
            )
        if all(re.fullmatch(r"[+-]?[0-9]+", n) for n in names):
            raise DataFormatError(
                f"{what}: line 1 looks like data, not a header; say `csv: {{header: false}}` "
                "in the manifest if the file has none"
            )
        start = 1
    if isinstance(label_column, str):
        if label_column not in names:
            close = difflib.get_close_matches(label_column, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise DataFormatError(
                f"{what}: line 1 (the header) has no column {label_column!r}{hint}"
            )
        li = names.index(label_column)
    else:
        li = label_column
    if not 0 <= li < ncols:
        raise DataFormatError(f"{what}: label column {li} is past the {ncols} columns")
    rows = 0
    for i, (s, e) in enumerate(spans, start=start + 1):
        commas = content.count(b",", s, e)
        if commas != ncols - 1:
            if not content[s:e].strip():
                raise DataFormatError(f"{what}: line {i} is empty")
            raise DataFormatError(
                f"{what}: line {i}: {commas + 1} columns, expected {ncols} "
                f"({_columns(n_pixels, shape)})"
            )
        rows += 1
    if rows != count:
        raise DataFormatError(
            f"{what}: {rows} rows of data, but the manifest's splits.{split}.count is {count}"
        )
    checker = _ValueCheck(what, names, li, n_classes)
    try:
        values = np.loadtxt(
            io.BytesIO(content),
            delimiter=",",
            dtype=np.int16,
            ndmin=2,
            comments=None,
            skiprows=start,
        )
    except (ValueError, OverflowError) as exc:
        raise checker.locate(content, start) or DataFormatError(f"{what}: {exc}") from None
    if values.shape != (count, ncols):  # cannot happen after the checks above
        raise DataFormatError(f"{what}: read {values.shape} values, expected {(count, ncols)}")
    labels = values[:, li]
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        r = int(bad[0])
        raise checker.error(r + start + 1, li, int(labels[r]))
    if li == 0:
        pixels = values[:, 1:]
    elif li == ncols - 1:
        pixels = values[:, :-1]
    else:
        pixels = np.delete(values, li, axis=1)
    bad_at = np.argwhere((pixels < 0) | (pixels > 255))
    if bad_at.size:
        r, c = (int(v) for v in bad_at[0])
        raise checker.error(r + start + 1, c + (1 if c >= li else 0), int(pixels[r, c]))
    images = np.ascontiguousarray(pixels.astype(np.uint8).reshape((count, *shape)))
    return images, labels.astype(np.int64)


class _ValueCheck:
    """The messages for a CSV value by line and column (1-based) and the slow search."""

    def __init__(self, what: str, names: list[str], label: int, n_classes: int):
        self.what, self.names, self.label, self.n_classes = what, names, label, n_classes

    def where(self, line: int, c: int) -> str:
        named = f" ({self.names[c]})" if self.names and c < len(self.names) else ""
        return f"{self.what}: line {line}, column {c + 1}{named}"

    def error(self, line: int, c: int, value: int) -> DataFormatError:
        if c == self.label:
            return DataFormatError(
                f"{self.where(line, c)}: label {value} is not a class (0-{self.n_classes - 1})"
            )
        return DataFormatError(f"{self.where(line, c)}: {value} is outside uint8's range 0-255")

    def locate(self, content: bytes, start: int) -> DataFormatError | None:
        """The first value that is not an integer in range, by line and column."""
        spans = _line_spans(content)
        for _ in range(start):
            next(spans, None)
        for line, (s, e) in enumerate(spans, start=start + 1):
            for c, value in enumerate(content[s:e].split(b",")):
                if not re.fullmatch(rb"\s*[+-]?[0-9]+\s*", value):
                    shown = value.decode("utf-8", "replace").strip()
                    return DataFormatError(f"{self.where(line, c)}: {shown!r} is not an integer")
                number = int(value)
                top = self.n_classes - 1 if c == self.label else 255
                if not 0 <= number <= top:
                    return self.error(line, c, number)
        return None
