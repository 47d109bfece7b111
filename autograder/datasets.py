"""The dataset registry: datasets as files under the data directory, with recorded checksums.

Layout (``DATA`` is ``settings.path("data")``, by default ``.autograder/data``)::

    DATA/mnist/                 0711  (the sandbox uids may traverse it, not list it)
        raw/                    0700  the four IDX files as fetched, gzipped
            train-images-idx3-ubyte.gz ...
        prepared/               0755  SANDBOX-VISIBLE: bind this folder read-only into a box
            train_images.npy    0644  uint8 (60000, 28, 28)
            train_labels.npy    0644  int64 (60000,)
            test_images.npy     0644  uint8 (10000, 28, 28)
            manifest.json       0644  sha256 and size of every .npy above
        hidden/                 0700  NEVER shown to a sandbox: the grader scores against it
            test_labels.npy     0600  int64 (10000,)
            manifest.json       0600
        .lock                         serialises fetches

Checksums. The registry records the MD5 of every *uncompressed* raw file (the values the
MNIST distribution publishes, also in ``../shared/data/mnist/README.md``). ``fetch``
checks the IDX header (magic number, dimensions, exact size) and then that MD5 before a
raw file is kept; a mirror that serves anything else is reported and the next one tried.
``prepared/`` and ``hidden/`` are written in a staging folder and swapped in whole, with a
``manifest.json`` giving the sha256 of each ``.npy``. ``load_prepared`` verifies those on
load (DESIGN.md: "verified on load"); the result is cached per process by (path, inode,
mtime, ctime, size), so a worker hashes the 47 MB of training images once, not per job.
``status`` is cheap (manifests, sizes, modes); ``verify`` rehashes everything.

Trust rule. Test labels are never visible to a sandbox: they live only in ``hidden/`` and
in ``raw/`` (which holds ``t10k-labels``), both 0700/0600 and owned by the service user.
The sandbox uids can read ``prepared/`` and nothing else here; student code predicts the
labels of ``test_images.npy`` and the grader compares those predictions, outside any box,
with ``load_prepared(...).test_labels``. (MNIST is public, so this keeps the labels off
the file system a submission can read; it cannot stop a student from uploading them.)

MNIST attribution and licence. The MNIST database of handwritten digits is by Yann LeCun,
Corinna Cortes and Christopher J. C. Burges, and is distributed under the Creative Commons
Attribution-Share Alike 3.0 license (https://creativecommons.org/licenses/by-sa/3.0/).
Files derived from it here (``raw/``, ``prepared/``, ``hidden/``) carry that licence.

Fix for a missing or corrupt dataset: ``autograder data fetch mnist --from
../shared/data/mnist`` (a local copy: the gz files, the uncompressed files, or the
torchvision layout ``ROOT/MNIST/raw/``), or ``autograder data fetch mnist`` where the
internet is reachable.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import logging
import math
import os
import shutil
import stat
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx
import numpy as np

if TYPE_CHECKING:
    from autograder.settings import Settings

log = logging.getLogger("autograder.datasets")

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
VISIBLE_DIR = "prepared"
HIDDEN_DIR = "hidden"
RAW_DIR = "raw"

# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class RawFile:
    """One file of the distribution, named as published, uncompressed."""

    name: str  # e.g. "train-images-idx3-ubyte"
    md5: str  # of the uncompressed content
    size: int  # uncompressed bytes
    magic: int  # IDX magic number: 0x00000803 images, 0x00000801 labels

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


@dataclass(frozen=True)
class ArraySpec:
    """One prepared array, made from one raw IDX file."""

    file: str  # e.g. "train_images.npy"
    source: str  # RawFile.name
    shape: tuple[int, ...]
    dtype: str
    hidden: bool = False  # True: only in hidden/, never shown to a sandbox
    max_value: int | None = None  # labels: every value must be in 0..max_value

    @property
    def key(self) -> str:
        return self.file.removesuffix(".npy")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    raw: tuple[RawFile, ...]
    arrays: tuple[ArraySpec, ...]
    mirrors: tuple[str, ...]
    local_hint: str  # the --from folder, relative to the project root
    torchvision_dir: str  # ROOT/<this>/raw/ in torchvision's layout
    attribution: str

    def raw_file(self, name: str) -> RawFile:
        return next(r for r in self.raw if r.name == name)

    @property
    def fix(self) -> str:
        return (
            f"run `autograder data fetch {self.name} --from {self.local_hint}` "
            f"(or `autograder data fetch {self.name}` where the internet is reachable)"
        )


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    raw=(
        RawFile("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", 47040016, 0x803),
        RawFile("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624", 60008, 0x801),
        RawFile("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea", 7840016, 0x803),
        RawFile("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637", 10008, 0x801),
    ),
    arrays=(
        ArraySpec("train_images.npy", "train-images-idx3-ubyte", (60000, 28, 28), "uint8"),
        ArraySpec("train_labels.npy", "train-labels-idx1-ubyte", (60000,), "int64", max_value=9),
        ArraySpec("test_images.npy", "t10k-images-idx3-ubyte", (10000, 28, 28), "uint8"),
        ArraySpec(
            "test_labels.npy",
            "t10k-labels-idx1-ubyte",
            (10000,),
            "int64",
            hidden=True,
            max_value=9,
        ),
    ),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    local_hint="../shared/data/mnist",
    torchvision_dir="MNIST",
    attribution=(
        "MNIST by Yann LeCun, Corinna Cortes and Christopher J. C. Burges, "
        "Creative Commons Attribution-Share Alike 3.0"
    ),
)

REGISTRY: dict[str, DatasetSpec] = {MNIST.name: MNIST}


def get_spec(name: str) -> DatasetSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {name!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None


# --------------------------------------------------------------------------- errors


class DatasetError(Exception):
    """Base class; ``str()`` is a complete message for a person."""


class DatasetMissing(DatasetError):
    """The dataset has not been fetched and prepared; the message says which command fixes it."""


class DatasetCorrupt(DatasetError):
    """A file differs from its recorded checksum, size or layout; the message says the fix."""


class IdxError(DatasetError):
    """Bytes that are not the IDX file expected (wrong magic, truncated, wrong shape)."""


class FetchError(DatasetError):
    """``fetch`` could not obtain or prepare the dataset."""


# --------------------------------------------------------------------------- IDX

_IDX_TYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def parse_idx(
    data: bytes,
    what: str = "IDX data",
    *,
    expect_magic: int | None = None,
    expect_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """The array in an (uncompressed) IDX file; a clear ``IdxError`` for anything else.

    IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    then each dimension as a big-endian uint32, then the data. The size must be exact.
    """
    if len(data) < 4:
        raise IdxError(f"{what}: {len(data)} bytes, too short for an IDX header (truncated)")
    magic = int.from_bytes(data[:4], "big")
    code, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or code not in _IDX_TYPES or ndim == 0:
        raise IdxError(
            f"{what}: not an IDX file (magic number 0x{magic:08x}; an IDX file starts with "
            "two zero bytes, a type code 0x08-0x0e and a dimension count)"
        )
    if expect_magic is not None and magic != expect_magic:
        raise IdxError(
            f"{what}: wrong IDX magic number 0x{magic:08x}, expected 0x{expect_magic:08x} "
            f"(type 0x{expect_magic >> 8 & 0xFF:02x}, {expect_magic & 0xFF} dimension(s))"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(f"{what}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[code])
    want = header + math.prod(dims) * dtype.itemsize
    shape_text = "x".join(map(str, dims))
    if len(data) < want:
        raise IdxError(
            f"{what}: truncated: the header says {shape_text} values ({want} bytes) "
            f"but there are only {len(data)} bytes"
        )
    if len(data) > want:
        raise IdxError(
            f"{what}: {len(data) - want} unexpected bytes after the {shape_text} values "
            f"({want} bytes expected)"
        )
    if expect_shape is not None and tuple(dims) != tuple(expect_shape):
        raise IdxError(f"{what}: shape {shape_text}, expected {'x'.join(map(str, expect_shape))}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)


def _decode_raw(raw: RawFile, blob: bytes, where: str) -> bytes:
    """The uncompressed, checked content of a raw file (gzipped or not); else IdxError."""
    if blob[:2] == b"\x1f\x8b":
        try:
            blob = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            raise IdxError(f"{where}: not a complete gzip file ({exc})") from None
    parse_idx(blob, where, expect_magic=raw.magic)
    if len(blob) != raw.size:
        raise IdxError(f"{where}: {len(blob)} bytes uncompressed, expected {raw.size}")
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    if digest != raw.md5:
        raise IdxError(f"{where}: MD5 {digest} of the uncompressed file, expected {raw.md5}")
    return blob


# --------------------------------------------------------------------------- hashing


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_verified: set[tuple[str, int, int, int, int, str]] = set()
_verified_lock = threading.Lock()


def _stat_key(path: Path, st: os.stat_result, sha256: str) -> tuple[str, int, int, int, int, str]:
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, sha256)


def _check_file(path: Path, sha256: str, size: int, *, rehash: bool, use_cache: bool) -> str | None:
    """None when the file matches; else the problem, in words."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path.name} is missing"
    if st.st_size != size:
        return f"{path.name} is {st.st_size} bytes, the manifest says {size}"
    if not rehash:
        return None
    key = _stat_key(path, st, sha256)
    if use_cache:
        with _verified_lock:
            if key in _verified:
                return None
    digest = _sha256_file(path)
    if digest != sha256:
        return f"{path.name}: sha256 {digest[:16]}..., the manifest says {sha256[:16]}..."
    if _stat_key(path, path.stat(), sha256) == key:  # unchanged while we read it
        with _verified_lock:
            _verified.add(key)
    return None


def clear_verification_cache() -> None:
    with _verified_lock:
        _verified.clear()


# --------------------------------------------------------------------------- status


State = Literal["present", "missing", "corrupt"]


@dataclass
class Status:
    name: str
    state: State
    root: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fix: str = ""
    rehashed: bool = False  # True: every checksum was recomputed (verify)

    @property
    def ok(self) -> bool:
        return self.state == "present"

    @property
    def visible_dir(self) -> Path:
        return self.root / VISIBLE_DIR

    @property
    def hidden_dir(self) -> Path:
        return self.root / HIDDEN_DIR

    def describe(self) -> str:
        how = " (all checksums recomputed)" if self.rehashed and self.ok else ""
        lines = [f"{self.name}: {self.state}{how}  {self.root}"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  warning: {w}" for w in self.warnings]
        if not self.ok:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


def _data_dir(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    from autograder.settings import get_settings

    return get_settings().path("data")


def _read_manifest(folder: Path, spec: DatasetSpec, hidden: bool) -> tuple[dict, list[str]]:
    """The manifest's ``files`` and the problems found with it (missing, malformed, stale)."""
    path = folder / MANIFEST
    label = f"{folder.name}/{MANIFEST}"
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, [f"{label} is missing"]
    except (OSError, ValueError) as exc:
        return {}, [f"{label} is unreadable: {exc}"]
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or doc.get("format") != MANIFEST_FORMAT:
        return {}, [f"{label} is not a format-{MANIFEST_FORMAT} manifest"]
    problems = []
    for a in spec.arrays:
        if a.hidden != hidden:
            continue
        entry = files.get(a.file)
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("size"), int)
        ):
            problems.append(f"{label} has no valid entry for {a.file}")
        elif entry.get("shape") != list(a.shape) or entry.get("dtype") != a.dtype:
            problems.append(f"{label}: {a.file} is recorded with another shape or dtype")
    extra = sorted(set(files) - {a.file for a in spec.arrays if a.hidden == hidden})
    if extra:
        problems.append(f"{label} lists unexpected files: {', '.join(extra)}")
    return files, problems


def _mode_problems(root: Path, spec: DatasetSpec) -> list[str]:
    problems = []

    def mode(p: Path) -> int | None:
        try:
            return stat.S_IMODE(p.stat().st_mode)
        except FileNotFoundError:
            return None

    visible = root / VISIBLE_DIR
    m = mode(visible)
    if m is not None and m & 0o005 != 0o005:
        problems.append(f"{VISIBLE_DIR}/ is mode {m:04o}: the sandbox uids cannot read it")
    for a in spec.arrays:
        if a.hidden:
            continue
        m = mode(visible / a.file)
        if m is not None and not m & 0o004:
            problems.append(f"{VISIBLE_DIR}/{a.file} is mode {m:04o}: not readable by others")
    for sub in (HIDDEN_DIR, RAW_DIR):
        m = mode(root / sub)
        if m is not None and m & 0o077:
            problems.append(
                f"{sub}/ is mode {m:04o}: it holds test labels and must be 0700 (owner only)"
            )
    return problems


def _reachability_warnings(folder: Path) -> list[str]:
    """Directories above ``folder`` that the sandbox uids cannot traverse."""
    for d in [folder.resolve(), *folder.resolve().parents]:
        try:
            mode = d.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            return [
                f"the sandbox uids cannot reach {folder}: {d} is mode "
                f"{stat.filemode(mode)} (needs o+x)"
            ]
    return []


def _inspect(name: str, data_dir: Path | None, rehash: bool) -> Status:
    spec = get_spec(name)
    root = _data_dir(data_dir) / spec.name
    st = Status(name=spec.name, state="present", root=root, fix=spec.fix, rehashed=rehash)
    visible, hidden = root / VISIBLE_DIR, root / HIDDEN_DIR
    if not (visible / MANIFEST).exists() and not (hidden / MANIFEST).exists():
        st.state = "missing"
        st.problems.append(f"not prepared: no {VISIBLE_DIR}/{MANIFEST} in {root}")
        return st
    for folder, is_hidden in ((visible, False), (hidden, True)):
        files, problems = _read_manifest(folder, spec, is_hidden)
        st.problems += problems
        for fname, entry in files.items():
            if not isinstance(entry, dict) or fname not in {a.file for a in spec.arrays}:
                continue
            problem = _check_file(
                folder / fname,
                str(entry.get("sha256")),
                int(entry.get("size") or 0),
                rehash=rehash,
                use_cache=False,
            )
            if problem:
                st.problems.append(f"{folder.name}/{problem}")
    st.problems += _mode_problems(root, spec)
    for raw in spec.raw:
        path = root / RAW_DIR / raw.gz_name
        if not path.exists():
            st.warnings.append(f"{RAW_DIR}/{raw.gz_name} is missing (not needed for grading)")
        elif rehash:
            try:
                _decode_raw(raw, path.read_bytes(), f"{RAW_DIR}/{raw.gz_name}")
            except IdxError as exc:
                st.problems.append(str(exc))
    if visible.is_dir():
        st.warnings += _reachability_warnings(visible)
    if st.problems:
        st.state = "corrupt"
    return st


def status(name: str, data_dir: Path | None = None) -> Status:
    """Cheap: manifests present and complete, sizes as recorded, folder and file modes."""
    return _inspect(name, data_dir, rehash=False)


def verify(name: str, data_dir: Path | None = None) -> Status:
    """Full: ``status`` plus the sha256 of every .npy and the MD5 of every raw file."""
    result = _inspect(name, data_dir, rehash=True)
    if result.ok:  # what the grader does: also loads the hidden arrays
        try:
            load_prepared(name, verify=True, data_dir=data_dir)
        except DatasetError as exc:
            result.problems.append(str(exc))
            result.state = "corrupt"
    return result


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Prepared:
    """A verified, prepared dataset, for the grader.

    ``visible_dir`` is the folder to bind read-only into a sandbox (``files`` are its
    arrays by key, e.g. ``files["train_images"]``). ``hidden`` holds the arrays that never
    enter a sandbox, loaded, e.g. ``hidden["test_labels"]``.
    """

    name: str
    visible_dir: Path
    hidden_dir: Path
    files: dict[str, Path]
    hidden: dict[str, np.ndarray]

    @property
    def test_labels(self) -> np.ndarray:
        return self.hidden["test_labels"]


def load_prepared(name: str, verify: bool = True, *, data_dir: Path | None = None) -> Prepared:
    """Paths of the sandbox-visible folder and the hidden arrays, checksums verified.

    Raises ``DatasetMissing`` when the dataset was never prepared, ``DatasetCorrupt``
    when anything differs from its manifest; both messages name the command that fixes
    it. With ``verify`` (the default) every .npy is hashed once per process (cached by
    path, inode, mtime, ctime and size); without it only sizes are compared.
    """
    spec = get_spec(name)
    root = _data_dir(data_dir) / spec.name
    visible, hidden_dir = root / VISIBLE_DIR, root / HIDDEN_DIR
    if not (visible / MANIFEST).exists() and not (hidden_dir / MANIFEST).exists():
        raise DatasetMissing(
            f"{spec.title} is not prepared under {root} (no {VISIBLE_DIR}/{MANIFEST}); "
            f"the {spec.title} homework cannot be graded until you {spec.fix}"
        )
    problems: list[str] = []
    manifests = {}
    for folder, is_hidden in ((visible, False), (hidden_dir, True)):
        manifests[is_hidden], found = _read_manifest(folder, spec, is_hidden)
        problems += found
    if not problems:
        for a in spec.arrays:
            folder = hidden_dir if a.hidden else visible
            entry = manifests[a.hidden][a.file]
            problem = _check_file(
                folder / a.file, entry["sha256"], entry["size"], rehash=verify, use_cache=True
            )
            if problem:
                problems.append(f"{folder.name}/{problem}")
    hidden: dict[str, np.ndarray] = {}
    if not problems:
        for a in spec.arrays:
            if not a.hidden:
                continue
            try:
                arr = np.load(hidden_dir / a.file, allow_pickle=False)
            except (OSError, ValueError) as exc:
                problems.append(f"{HIDDEN_DIR}/{a.file} does not load: {exc}")
                continue
            if arr.shape != a.shape or arr.dtype != np.dtype(a.dtype):
                problems.append(f"{HIDDEN_DIR}/{a.file} is {arr.dtype}{arr.shape}")
            arr.flags.writeable = False
            hidden[a.key] = arr
    if problems:
        raise DatasetCorrupt(
            f"{spec.title} under {root} is corrupt: {'; '.join(problems)}. "
            f"The {spec.title} homework cannot be graded until you {spec.fix}"
        )
    return Prepared(
        name=spec.name,
        visible_dir=visible,
        hidden_dir=hidden_dir,
        files={a.key: visible / a.file for a in spec.arrays if not a.hidden},
        hidden=hidden,
    )


# --------------------------------------------------------------------------- fetch


@dataclass
class Report:
    name: str
    source: str  # "local folder ..." or "mirrors"
    messages: list[str]
    seconds: float
    status: Status
    downloaded: list[str] = field(default_factory=list)  # URLs actually used


DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / ".lock", "a") as f:
        os.chmod(f.name, 0o600)
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _ensure_dir(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)


def _make_traversable(data_dir: Path) -> None:
    """The data dir is ours: others may traverse it (not list it) to reach prepared/."""
    st = data_dir.stat()
    if not st.st_mode & stat.S_IXOTH and st.st_uid == os.geteuid():
        data_dir.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _find_local(source_dir: Path, spec: DatasetSpec, raw: RawFile) -> Path:
    folders = [source_dir, source_dir / spec.torchvision_dir / "raw", source_dir / "raw"]
    # Some copies spell the names train-images.idx3-ubyte.
    names = [raw.gz_name, raw.name, raw.name.replace("-idx", ".idx")]
    names.append(names[-1] + ".gz")
    for folder in folders:
        for n in names:
            if (folder / n).is_file():
                return folder / n
    raise FetchError(
        f"{raw.name} not found in {source_dir} (looked for {raw.gz_name} or {raw.name} "
        f"there and in {spec.torchvision_dir}/raw/)"
    )


class _MirrorFailed(Exception):
    def __init__(self, reason: str, unreachable: bool = False):
        super().__init__(reason)
        self.unreachable = unreachable


def _download(client: httpx.Client, url: str, raw: RawFile, folder: Path) -> bytes:
    """The verified, uncompressed content of ``url``; the .gz kept in ``folder``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{raw.gz_name}.", suffix=".part", dir=folder)
    try:
        try:
            with os.fdopen(fd, "wb") as out, client.stream("GET", url) as resp:
                if resp.status_code != 200:
                    raise _MirrorFailed(f"HTTP {resp.status_code}")
                total = 0
                for chunk in resp.iter_bytes(1 << 16):
                    total += len(chunk)
                    if total > raw.size + (1 << 20):
                        raise _MirrorFailed(f"more than {raw.size + (1 << 20)} bytes")
                    out.write(chunk)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _MirrorFailed(f"unreachable ({exc or type(exc).__name__})", True) from None
        except httpx.HTTPError as exc:
            raise _MirrorFailed(f"{type(exc).__name__}: {exc}") from None
        blob = Path(tmp).read_bytes()
        try:
            content = _decode_raw(raw, blob, url)
        except IdxError as exc:
            raise _MirrorFailed(str(exc)) from None
        if blob[:2] != b"\x1f\x8b":  # served uncompressed: keep it gzipped all the same
            _write_atomic(folder / raw.gz_name, gzip.compress(content, 6, mtime=0), 0o600)
        else:
            os.chmod(tmp, 0o600)
            os.replace(tmp, folder / raw.gz_name)
        return content
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def fetch(
    name: str,
    source_dir: Path | None = None,
    *,
    data_dir: Path | None = None,
    mirrors: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> Report:
    """Obtain the raw files, check them, and prepare the arrays; raises ``FetchError``.

    From ``source_dir`` when given (the gz files, the uncompressed ones, or torchvision's
    ``ROOT/MNIST/raw/``), else from ``mirrors`` (default: the registry's), tried in order
    per file; raw files already present and intact are reused rather than downloaded.
    """
    spec = get_spec(name)
    started = time.monotonic()
    messages: list[str] = []

    def say(msg: str) -> None:
        messages.append(msg)
        if progress:
            progress(msg)

    data = _data_dir(data_dir)
    if data.exists():
        _make_traversable(data)
    else:
        _ensure_dir(data, 0o755)
    root = data / spec.name
    _ensure_dir(root, 0o711)
    raw_dir = root / RAW_DIR
    downloaded: list[str] = []
    with _locked(root):
        _ensure_dir(raw_dir, 0o700)
        contents: dict[str, bytes] = {}
        if source_dir is not None:
            source_dir = Path(source_dir)
            source = f"local folder {source_dir}"
            if not source_dir.is_dir():
                raise FetchError(f"{source_dir} is not a folder")
            for raw in spec.raw:
                path = _find_local(source_dir, spec, raw)
                blob = path.read_bytes()
                try:
                    contents[raw.name] = _decode_raw(raw, blob, str(path))
                except IdxError as exc:
                    raise FetchError(str(exc)) from None
                if blob[:2] != b"\x1f\x8b":
                    blob = gzip.compress(contents[raw.name], 6, mtime=0)
                _write_atomic(raw_dir / raw.gz_name, blob, 0o600)
                say(f"{raw.name}: checked (MD5 {raw.md5}) from {path}")
        else:
            source = "mirrors"
            contents = _from_mirrors(spec, raw_dir, mirrors, timeout, say, downloaded)
        try:
            _prepare(spec, root, contents)
        except IdxError as exc:
            raise FetchError(str(exc)) from None
        say(f"prepared {root / VISIBLE_DIR} (sandbox-visible) and {root / HIDDEN_DIR} (hidden)")
    result = status(spec.name, data)
    if not result.ok:
        raise FetchError(f"{spec.title} was prepared but is not usable:\n{result.describe()}")
    return Report(
        name=spec.name,
        source=source,
        messages=messages,
        seconds=time.monotonic() - started,
        status=result,
        downloaded=downloaded,
    )


def _from_mirrors(
    spec: DatasetSpec,
    raw_dir: Path,
    mirrors: Sequence[str] | None,
    timeout: httpx.Timeout | float,
    say: Callable[[str], None],
    downloaded: list[str],
) -> dict[str, bytes]:
    mirrors = list(spec.mirrors if mirrors is None else mirrors)
    unreachable: set[str] = set()
    contents: dict[str, bytes] = {}
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        for raw in spec.raw:
            kept = raw_dir / raw.gz_name
            if kept.is_file():
                try:
                    contents[raw.name] = _decode_raw(raw, kept.read_bytes(), str(kept))
                    say(f"{raw.name}: already here, checked (MD5 {raw.md5})")
                    continue
                except IdxError as exc:
                    say(f"{raw.name}: the copy here is bad ({exc}); fetching it again")
            failures = []
            for mirror in mirrors:
                url = mirror.rstrip("/") + "/" + raw.gz_name
                if mirror in unreachable:
                    failures.append(f"{url}: skipped (mirror unreachable)")
                    continue
                try:
                    contents[raw.name] = _download(client, url, raw, raw_dir)
                except _MirrorFailed as exc:
                    if exc.unreachable:
                        unreachable.add(mirror)
                    failures.append(f"{url}: {exc}")
                    say(f"{raw.name}: {url} failed: {exc}; trying the next mirror")
                    continue
                downloaded.append(url)
                say(f"{raw.name}: downloaded and checked (MD5 {raw.md5}) from {url}")
                break
            else:
                raise FetchError(
                    f"could not fetch {raw.gz_name} from any mirror:\n  "
                    + "\n  ".join(failures or ["(no mirrors configured)"])
                )
    return contents


def _save_npy(path: Path, arr: np.ndarray, mode: int) -> dict:
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
    path.chmod(mode)
    return {
        "sha256": _sha256_file(path),
        "size": path.stat().st_size,
        "shape": list(arr.shape),
        "dtype": str(arr.dtype),
    }


def _prepare(spec: DatasetSpec, root: Path, contents: dict[str, bytes]) -> None:
    """Write prepared/ and hidden/ in a staging folder, then swap each in whole."""
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))  # 0700
    try:
        folders = {False: stage / VISIBLE_DIR, True: stage / HIDDEN_DIR}
        folders[False].mkdir(mode=0o755)
        folders[True].mkdir(mode=0o700)
        entries: dict[bool, dict[str, dict]] = {False: {}, True: {}}
        for a in spec.arrays:
            raw = spec.raw_file(a.source)
            arr = parse_idx(
                contents[a.source], raw.name, expect_magic=raw.magic, expect_shape=a.shape
            )
            if a.max_value is not None and arr.size and int(arr.max()) > a.max_value:
                raise IdxError(f"{raw.name}: a value above {a.max_value}")
            mode = 0o600 if a.hidden else 0o644
            entries[a.hidden][a.file] = _save_npy(
                folders[a.hidden] / a.file, arr.astype(a.dtype, copy=False), mode
            )
        for is_hidden, folder in folders.items():
            manifest = {
                "dataset": spec.name,
                "format": MANIFEST_FORMAT,
                "visibility": "hidden" if is_hidden else "sandbox",
                "attribution": spec.attribution,
                "source_md5": {r.name: r.md5 for r in spec.raw},
                "files": entries[is_hidden],
            }
            path = folder / MANIFEST
            path.write_text(json.dumps(manifest, indent=2) + "\n")
            path.chmod(0o600 if is_hidden else 0o644)
            folder.chmod(0o700 if is_hidden else 0o755)  # mkdir's mode is umasked
        for folder in folders.values():
            target = root / folder.name
            if target.exists():
                os.replace(target, stage / f"old-{folder.name}")
            os.replace(folder, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# --------------------------------------------------------------------------- make run


def ensure_datasets(
    settings: Settings,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> dict[str, Status]:
    """At service start: every dataset present, or fetched, or a plain warning; never raises.

    Order: already present; else the local folder ``settings.<name>_source`` (for MNIST
    ``settings.mnist_source``); else the mirrors. When all fail the service keeps running
    (the other homework need no dataset) and the log says which command fixes it.
    """
    data = settings.path("data")
    results: dict[str, Status] = {}
    for spec in REGISTRY.values():
        try:
            current = status(spec.name, data)
        except OSError as exc:
            log.warning("dataset %s: cannot inspect %s: %s", spec.name, data, exc)
            current = Status(spec.name, "corrupt", data / spec.name, [str(exc)], fix=spec.fix)
        if current.ok:
            log.info("dataset %s: present in %s", spec.name, current.root)
            for w in current.warnings:
                log.warning("dataset %s: %s", spec.name, w)
            results[spec.name] = current
            continue
        log.info("dataset %s: %s (%s)", spec.name, current.state, "; ".join(current.problems))
        attempts: list[str] = []
        source: Path | None = getattr(settings, f"{spec.name}_source", None)
        tries: list[Path | None] = []
        if source is not None and Path(source).is_dir():
            tries.append(Path(source))
        elif source is not None:
            attempts.append(f"local folder {source}: not found")
            log.warning("dataset %s: the local folder %s is not there", spec.name, source)
        tries.append(None)
        for src in tries:
            where = f"local folder {src}" if src else "the mirrors"
            log.info("dataset %s: fetching from %s", spec.name, where)
            try:
                report = fetch(spec.name, src, data_dir=data, mirrors=mirrors, timeout=timeout)
            except Exception as exc:  # never stop the service over a dataset
                attempts.append(f"{where}: {exc}")
                log.warning("dataset %s: fetching from %s failed: %s", spec.name, where, exc)
                continue
            log.info(
                "dataset %s: fetched from %s and prepared in %.1fs",
                spec.name,
                where,
                report.seconds,
            )
            results[spec.name] = report.status
            break
        else:
            log.warning(
                "\n%s\n The %s homework cannot be graded yet: the dataset is %s in %s.\n"
                " To fix it, %s\n (no restart needed). Everything else keeps working.\n%s",
                "!" * 78,
                spec.title,
                current.state,
                current.root,
                spec.fix,
                "!" * 78,
            )
            current.problems += attempts
            results[spec.name] = current
    return results
