"""Datasets declared as data: a YAML manifest per dataset, files with recorded checksums.

Declaration. ``DATASETS/<name>.yaml`` (``settings.datasets_dir``, by default the course's
``datasets/`` beside ``grading_specs/``) names the dataset, its licence and attribution,
where its files come from (mirrors, a local folder, a Debian package), every file with its
size and checksum, the format (``idx``: IDX files, gzipped or not; ``npy``;
``image-folder``: an archive of PNG images in one folder per class; ``csv``: a CSV file per
split, a label column and a column per pixel; the last two are decoded by
autograder/dataset_formats.py), the train and test splits, the shape and dtype of one image
and the class names in English and Chinese; every format is prepared into the same arrays.
Its keys are documented in grading_specs/README.md ("Datasets"); manifests are validated
with the spec loader's messages (file:line: key: message).
Nothing in this module names a dataset.

Layout (``DATA`` is ``settings.path("data")``, by default ``.autograder/data``)::

    DATA/<name>/                0711  (the sandbox uids may traverse it, not list it)
        raw/                    0700  the files as fetched (IDX kept gzipped; archives and CSV
                                      files as they are: they hold the test labels too)
            train-images-idx3-ubyte.gz ...
        prepared/               0755  SANDBOX-VISIBLE: bind this folder read-only into a box
            train_images.npy    0644  uint8 (N, *shape)
            train_labels.npy    0644  int64 (N,)
            test_images.npy     0644  uint8 (M, *shape)
            manifest.json       0644  sha256 and size of every .npy above
        hidden/                 0700  NEVER shown to a sandbox: the grader scores against it
            test_labels.npy     0600  int64 (M,)
            manifest.json       0600
        .lock                         serialises fetches

A private dataset (``private: true``: a test split the course keeps to itself, so that no
lookup of a public test set carried in a submission can score) has no train split, no
public source, and keeps its test images in ``hidden/`` too: the grader reads them to make
each job's view, and nothing else ever does.

Checksums. The manifest records the MD5 and/or sha256 of every *uncompressed* raw file (an
archive's: of the archive as it is, which pins every image in it).
``fetch`` checks an IDX file's header (magic number, dimensions, exact size) and then its
checksum before it is kept; a mirror that serves anything else is reported and the next one
tried. ``prepared/`` and ``hidden/`` are written in a staging folder and swapped in whole,
with a ``manifest.json`` giving the sha256 of each ``.npy``. ``load_prepared`` verifies
those on load (DESIGN.md: "verified on load"); the result is cached per process by (path,
inode, mtime, ctime, size), so a worker hashes the training images once, not per job.
``status`` is cheap (manifests, sizes, modes); ``verify`` rehashes everything.

Trust rule. Test labels are never visible to a sandbox: they live only in ``hidden/`` and
in ``raw/``, both 0700/0600 and owned by the service user. The sandbox uids can read
``prepared/`` and nothing else here; student code predicts the labels of (the job's own
noisy view of) ``test_images.npy`` and the grader compares those predictions, outside any
box, with ``load_prepared(...).test_labels``.

Licences. ``manifest.json`` carries each dataset's attribution and licence; files derived
from a dataset here (``raw/``, ``prepared/``, ``hidden/``) carry its licence.

Fix for a missing or corrupt dataset: ``autograder data fetch NAME --from DIR`` (a local
copy: the gz files, the uncompressed files, torchvision's ``ROOT/<DIR>/raw/``, or an
extracted Debian package), or ``autograder data fetch NAME`` where its mirrors are
reachable; ``DatasetSpec.fix`` says which for each dataset.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
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
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autograder.dataset_formats import (
    ARCHIVE_SUFFIXES,
    Archive,
    ArchiveLimits,
    DataFormatError,
    class_mapping,
    decode_csv,
    decode_image_folder,
    folder_prefix,
    is_image_path,
    read_archive,
)
from autograder.grading.failures import FailureCode

if TYPE_CHECKING:
    from autograder.settings import Settings
    from autograder.specs.loader import SpecError, SpecProblem

log = logging.getLogger("autograder.datasets")

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
VISIBLE_DIR = "prepared"
HIDDEN_DIR = "hidden"
RAW_DIR = "raw"

# --------------------------------------------------------------------------- manifests
#
# A dataset is declared by a YAML manifest, DATASETS/<name>.yaml (``settings.datasets_dir``,
# by default the course's ``datasets/`` beside ``grading_specs/``); its keys are documented
# in grading_specs/README.md ("Datasets"). Nothing here names a dataset.

HEX32 = r"^[0-9a-f]{32}$"
HEX64 = r"^[0-9a-f]{64}$"
SLUG = r"^[a-z0-9][a-z0-9_-]*$"
FILE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
# A folder inside an archive: relative, no '..' or hidden parts ('.' is the archive's top).
FOLDER = r"^(\.|[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*/?)$"
# A class's folder name in an image-folder archive: one path component, not hidden.
CLASS_FOLDER = r"^[^/\\\x00.][^/\\\x00]*$"
# IDX type codes by numpy dtype (images); labels in IDX are unsigned bytes (0x08).
_IDX_CODE = {"uint8": 0x08}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestFile(_Strict):
    """One file of the distribution as published (IDX: named without ``.gz``)."""

    name: Annotated[str, Field(pattern=FILE)]
    size: Annotated[int, Field(gt=0)] = Field(description="Bytes, uncompressed.")
    md5: Annotated[str, Field(pattern=HEX32)] | None = None
    sha256: Annotated[str, Field(pattern=HEX64)] | None = None

    @model_validator(mode="after")
    def _a_checksum(self) -> ManifestFile:
        if self.md5 is None and self.sha256 is None:
            raise ValueError("a file needs a checksum: md5 or sha256 (of the uncompressed bytes)")
        return self


class ManifestSplit(_Strict):
    images: Annotated[str, Field(pattern=FILE)] | None = Field(
        default=None, description="idx, npy: the images' file."
    )
    labels: Annotated[str, Field(pattern=FILE)] | None = Field(
        default=None, description="idx, npy: the labels' file."
    )
    file: Annotated[str, Field(pattern=FILE)] | None = Field(
        default=None, description="image-folder: the archive; csv: the CSV file."
    )
    folder: Annotated[str, Field(pattern=FOLDER)] | None = Field(
        default=None,
        description="image-folder: the split's folder in the archive (default: the split's "
        "name; '.': the archive's top).",
    )
    count: Annotated[int, Field(ge=1)]


class ManifestSplits(_Strict):
    train: ManifestSplit | None = Field(
        default=None, description="Required, except in a private dataset (a test split only)."
    )
    test: ManifestSplit


class ManifestSource(_Strict):
    mirrors: list[str] = Field(default_factory=list)
    local: str | None = Field(
        default=None, description="A folder with the files, relative to the course folder."
    )
    debian_package: str | None = None
    debian_path: str | None = Field(
        default=None, description="Where the package puts the files, e.g. usr/share/datasets/x"
    )
    torchvision_dir: str | None = Field(
        default=None, description="ROOT/<this>/raw/ in torchvision's layout is searched too."
    )
    homepage: str | None = None

    @field_validator("mirrors")
    @classmethod
    def _urls(cls, mirrors: list[str]) -> list[str]:
        for url in mirrors:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"a mirror is an http(s) URL of a folder (got {url!r})")
        return mirrors


class ClassName(_Strict):
    en: Annotated[str, Field(min_length=1)]
    zh: Annotated[str, Field(min_length=1)]
    folder: Annotated[str, Field(pattern=CLASS_FOLDER)] | None = Field(
        default=None,
        description="image-folder with class_folders: name: the class's folder (default: en).",
    )


class CsvOptions(_Strict):
    header: bool = Field(default=True, description="The first line names the columns.")
    label_column: Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1)] = Field(
        default=0, description="The label's column: 0 for the first, or its name in the header."
    )


class ImageFolderOptions(_Strict):
    class_folders: Literal["name", "index", "sorted"] = Field(
        default="name",
        description="name: each class's folder (or en) name; index: folders 0, 1, ...; "
        "sorted: the train split's folders, sorted, are the classes in order.",
    )


class Manifest(_Strict):
    name: Annotated[str, Field(pattern=SLUG)]
    title: Annotated[str, Field(min_length=1)]
    title_zh: str | None = None
    licence: Annotated[str, Field(min_length=1)]
    attribution: Annotated[str, Field(min_length=1)]
    source: ManifestSource = ManifestSource()
    format: Literal["idx", "npy", "image-folder", "csv"] = Field(
        description="idx: IDX files (gzipped or not; kept gzipped); npy: numpy .npy files; "
        "image-folder: an archive of PNG images, a folder per class; csv: a CSV file per split."
    )
    files: Annotated[list[ManifestFile], Field(min_length=1)]
    splits: ManifestSplits
    shape: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=3)] = Field(
        description="Of one image, e.g. [28, 28] or [32, 32, 3]."
    )
    dtype: Literal["uint8"] = Field(
        description="Of the images: grey levels 0-255 (the per-job test view adds noise in "
        "grey levels)."
    )
    classes: Annotated[list[ClassName], Field(min_length=2)]
    private: bool = Field(
        default=False,
        description="A test split the course keeps to itself: no train split, no public "
        "source; prepared only from a folder (`data fetch NAME --from DIR` or "
        "AUTOGRADER_<NAME>_SOURCE); only a classifier's `test_dataset`; what a box prints or "
        "raises while it sees these images is withheld.",
    )
    csv: CsvOptions | None = Field(default=None, description="format csv: the files' layout.")
    image_folder: ImageFolderOptions | None = Field(
        default=None, description="format image-folder: how class folders name the labels."
    )


# The formats whose splits each come from one file (``file:``), images and labels together.
PER_SPLIT_FILE = {"image-folder": "the archive", "csv": "the CSV file"}


def _manifest_problems(
    m: Manifest, root: Any, filename: str, stem: str | None
) -> list[SpecProblem]:
    from autograder.specs.loader import SpecProblem, node_line

    problems = []

    def add(loc: tuple[Any, ...], message: str, code: str = "dataset:invalid") -> None:
        problems.append(SpecProblem(filename, node_line(root, loc), _dotted(loc), message, code))

    if stem is not None and m.name != stem:
        add(("name",), f"the name {m.name!r} differs from the file name {stem!r}.yaml")
    names = [f.name for f in m.files]
    for i, name in enumerate(names):
        if name in names[:i]:
            add(("files", i, "name"), f"file {name!r} is listed twice")
        if m.format == "npy" and not name.endswith(".npy"):
            add(("files", i, "name"), f"format npy: {name!r} must end in .npy")
        if m.format == "idx" and name.endswith(".gz"):
            add(("files", i, "name"), f"name IDX files without .gz ({name[:-3]!r})")
        if m.format == "image-folder" and not name.endswith(ARCHIVE_SUFFIXES):
            add(
                ("files", i, "name"),
                f"format image-folder: {name!r} must be an archive: {', '.join(ARCHIVE_SUFFIXES)}",
            )
        if m.format == "csv" and not name.endswith(".csv"):
            add(("files", i, "name"), f"format csv: {name!r} must end in .csv")
    by_name = {f.name: f for f in m.files}
    per_file = m.format in PER_SPLIT_FILE
    used: list[str] = []
    _private_problems(m, add)
    for split in ("train", "test"):
        sp = getattr(m.splits, split)
        if sp is None:  # _private_problems says whether it may be missing
            continue
        if per_file:
            for role in ("images", "labels"):
                if getattr(sp, role) is not None:
                    add(
                        ("splits", split, role),
                        f"format {m.format}: a split names {PER_SPLIT_FILE[m.format]} as "
                        f"`file` (images and labels come from it), not `{role}`",
                    )
            if m.format == "csv" and sp.folder is not None:
                add(("splits", split, "folder"), "`folder` is for format image-folder")
            if sp.file is None:
                add(
                    ("splits", split),
                    f"format {m.format}: `file` ({PER_SPLIT_FILE[m.format]}) is required",
                    "dataset:unknown-file",
                )
                continue
            roles = [("file", sp.file)]
        else:
            for key in ("file", "folder"):
                if getattr(sp, key) is not None:
                    add(
                        ("splits", split, key),
                        f"format {m.format}: a split names `images` and `labels`; `{key}` is "
                        "for formats image-folder and csv",
                    )
            roles = [(role, getattr(sp, role)) for role in ("images", "labels")]
        for role, name in roles:
            loc = ("splits", split, role)
            if name is None:
                add(("splits", split), f"format {m.format}: `{role}` is required")
                continue
            if name not in by_name:
                add(
                    loc, f"{name!r} is not among files ({', '.join(names)})", "dataset:unknown-file"
                )
                continue
            key = name
            if m.format == "image-folder":  # one archive may hold both splits' folders
                key = f"{name}:{folder_prefix(sp.folder or split)}"
            if key in used:
                what = "with the same folder " if m.format == "image-folder" else ""
                add(loc, f"{name!r} is used twice {what}in splits")
            used.append(key)
            if m.format == "idx":
                dims = (sp.count, *m.shape) if role == "images" else (sp.count,)
                want = 4 + 4 * len(dims) + math.prod(dims)
                if by_name[name].size != want:
                    i = names.index(name)
                    add(
                        ("files", i, "size"),
                        f"{name} is {by_name[name].size} bytes, but an IDX file of "
                        f"{'x'.join(map(str, dims))} bytes ({split} {role}) is {want}",
                    )
    for key, fmt in (("csv", "csv"), ("image_folder", "image-folder")):
        if getattr(m, key) is not None and m.format != fmt:
            add((key,), f"`{key}` is for format {fmt} (this dataset's format is {m.format})")
    if m.format == "image-folder":
        if len(m.shape) not in (2, 3) or len(m.shape) == 3 and m.shape[2] > 4:
            add(
                ("shape",),
                "format image-folder: a PNG image's shape is [height, width] (grayscale) or "
                "[height, width, channels] with 1-4 channels (3: RGB)",
            )
        how = m.image_folder.class_folders if m.image_folder else "name"
        seen: dict[str, int] = {}
        for i, c in enumerate(m.classes):
            if c.folder is not None and how != "name":
                add(("classes", i, "folder"), f"`folder` is for `class_folders: name` ({how})")
            if how != "name":
                continue
            folder = c.folder if c.folder is not None else c.en
            if c.folder is None and not re.match(CLASS_FOLDER, c.en):
                add(
                    ("classes", i, "en"),
                    f"{c.en!r} cannot be a folder name ('/' or a leading '.'): give the class "
                    "its folder's name as `folder:`",
                )
            elif folder in seen:
                add(
                    ("classes", i, "folder" if c.folder is not None else "en"),
                    f"the folder {folder!r} is class {seen[folder]}'s already",
                )
            seen.setdefault(folder, i)
    elif any(c.folder is not None for c in m.classes):
        i = next(i for i, c in enumerate(m.classes) if c.folder is not None)
        add(("classes", i, "folder"), "`folder` is for format image-folder")
    if m.format == "csv":
        opts = m.csv or CsvOptions()
        ncols = math.prod(m.shape) + 1
        if isinstance(opts.label_column, int) and opts.label_column >= ncols:
            add(
                ("csv", "label_column"),
                f"column {opts.label_column} is past the {ncols} columns (0 is the first; "
                f"a label and {ncols - 1} pixels for shape {m.shape})",
            )
        if isinstance(opts.label_column, str) and not opts.header:
            add(
                ("csv", "label_column"),
                "a column is named only with `header: true`; give its number (0 is the first)",
            )
    return problems


def _private_problems(m: Manifest, add: Callable[..., None]) -> None:
    """A private dataset is a test split alone, from no public source; a public one has both
    splits. Each problem is reported through ``add``."""
    if not m.private:
        if m.splits.train is None:
            add(
                ("splits",),
                "`train` is required (only a dataset with `private: true` is a test split alone)",
            )
        return
    if m.splits.train is not None:
        add(
            ("splits", "train"),
            "a private dataset is a test split only (the course's own, never trained on): "
            "remove `train`; a spec trains on a public dataset and names this one as its "
            "`test_dataset`",
        )
    for key in ("mirrors", "local", "debian_package", "debian_path", "torchvision_dir"):
        if getattr(m.source, key):
            add(
                ("source", key),
                f"a private dataset has no `{key}`: its files come only from a folder the "
                f"operator names (`autograder data fetch {m.name} --from DIR`, or "
                f"AUTOGRADER_{m.name.upper().replace('-', '_')}_SOURCE), never from a "
                "public place or the course folder",
            )
    if m.image_folder is not None and m.image_folder.class_folders == "sorted":
        add(
            ("image_folder", "class_folders"),
            "`sorted` takes the classes from the train split's folders, and a private "
            "dataset has none: use `name` or `index`",
        )


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class RawFile:
    """One file of the distribution, named as published, uncompressed."""

    name: str  # e.g. "train-images-idx3-ubyte"
    md5: str | None  # of the uncompressed content
    size: int  # uncompressed bytes
    magic: int | None  # IDX magic number (0x00000803 images, 0x00000801 labels); None: .npy
    sha256: str | None = None

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"

    @property
    def stored(self) -> str:
        """Its name in raw/ (and on a mirror): IDX files gzipped, .npy files as they are."""
        return self.name if self.magic is None else self.gz_name

    @property
    def checksum(self) -> str:
        return f"MD5 {self.md5}" if self.md5 else f"sha256 {self.sha256}"


@dataclass(frozen=True)
class ArraySpec:
    """One prepared array, made from one raw file."""

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
class FolderLayout:
    """format image-folder: where each split's images are and how folders name labels."""

    class_folders: Literal["name", "index", "sorted"]
    names: tuple[str, ...]  # each class's folder, for class_folders: name
    folders: tuple[tuple[str, str], ...]  # (split, its folder in its archive)

    def folder(self, split: str) -> str:
        return dict(self.folders)[split]


@dataclass(frozen=True)
class CsvLayout:
    """format csv: whether the files have a header line, and the label's column."""

    header: bool = True
    label_column: int | str = 0


@dataclass(frozen=True)
class DatasetSpec:
    """A declared dataset, made from its manifest."""

    name: str
    title: str
    raw: tuple[RawFile, ...]
    arrays: tuple[ArraySpec, ...]
    mirrors: tuple[str, ...]
    local_hint: str | None  # the --from folder, relative to the course folder
    torchvision_dir: str | None  # ROOT/<this>/raw/ in torchvision's layout
    attribution: str
    licence: str = ""
    format: str = "idx"
    classes: tuple[tuple[str, str], ...] = ()  # (English, Chinese) per label
    counts: dict[str, int] = field(default_factory=dict)  # images per split
    debian_package: str | None = None
    debian_path: str | None = None
    manifest_path: Path | None = None
    image_folder: FolderLayout | None = None  # format image-folder
    csv: CsvLayout | None = None  # format csv
    private: bool = False  # a test split only, from no public source; never seen whole

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in ("train", "test") if s in self.counts)

    def raw_file(self, name: str) -> RawFile:
        return next(r for r in self.raw if r.name == name)

    def array(self, file: str) -> ArraySpec:
        return next(a for a in self.arrays if a.file == file)

    @property
    def class_names(self) -> list[str]:
        return [en for en, _ in self.classes]

    @property
    def class_names_zh(self) -> list[str]:
        return [zh for _, zh in self.classes]

    @property
    def fix(self) -> str:
        if self.private:
            env = f"AUTOGRADER_{self.name.upper().replace('-', '_')}_SOURCE"
            return (
                f"run `autograder data fetch {self.name} --from DIR` with DIR a folder holding "
                f"its files (a private test split has no public source), or set {env} to "
                "that folder for `autograder serve` to prepare it at start"
            )
        if self.local_hint:
            how = f"run `autograder data fetch {self.name} --from {self.local_hint}`"
            if self.mirrors:
                how += f" (or `autograder data fetch {self.name}` where the internet is reachable)"
        elif self.mirrors:
            how = f"run `autograder data fetch {self.name}` (the internet must be reachable)"
        else:
            how = f"run `autograder data fetch {self.name} --from DIR` (a folder with its files)"
        if self.debian_package:
            how += (
                f"; its files come in Debian's package {self.debian_package} "
                f"(`apt-get download {self.debian_package}`, `dpkg-deb -x` it; scripts/setup.sh "
                "does both)"
            )
        return how


def spec_from_manifest(m: Manifest, path: Path | None = None) -> DatasetSpec:
    ndim = len(m.shape) + 1
    image_magic = (_IDX_CODE[m.dtype] << 8) | ndim
    by_name = {f.name: f for f in m.files}
    idx = m.format == "idx"
    roles: dict[str, int | None] = {}
    arrays = []
    splits = [s for s in ("train", "test") if getattr(m.splits, s) is not None]
    for split in splits:
        sp = getattr(m.splits, split)
        images, labels = (
            (sp.file, sp.file) if m.format in PER_SPLIT_FILE else (sp.images, sp.labels)
        )
        if images is None or labels is None:  # _manifest_problems reports it
            raise ValueError(f"splits.{split}: no file named for format {m.format}")
        roles[images] = image_magic if idx else None
        roles[labels] = 0x801 if idx else None
        arrays.append(
            ArraySpec(
                f"{split}_images.npy",
                images,
                (sp.count, *m.shape),
                m.dtype,
                hidden=m.private,  # a private split's images stay with the grader too
            )
        )
        arrays.append(
            ArraySpec(
                f"{split}_labels.npy",
                labels,
                (sp.count,),
                "int64",
                hidden=split == "test",
                max_value=len(m.classes) - 1,
            )
        )
    raw = tuple(
        RawFile(n, by_name[n].md5, by_name[n].size, roles[n], by_name[n].sha256) for n in roles
    )
    image_folder = None
    if m.format == "image-folder":
        image_folder = FolderLayout(
            class_folders=(m.image_folder or ImageFolderOptions()).class_folders,
            names=tuple(c.folder if c.folder is not None else c.en for c in m.classes),
            folders=tuple((split, getattr(m.splits, split).folder or split) for split in splits),
        )
    csv = None
    if m.format == "csv":
        opts = m.csv or CsvOptions()
        csv = CsvLayout(header=opts.header, label_column=opts.label_column)
    return DatasetSpec(
        name=m.name,
        title=m.title,
        raw=raw,
        arrays=tuple(arrays),
        mirrors=tuple(m.source.mirrors),
        local_hint=m.source.local,
        torchvision_dir=m.source.torchvision_dir,
        attribution=m.attribution,
        licence=m.licence,
        format=m.format,
        classes=tuple((c.en, c.zh) for c in m.classes),
        counts={s: getattr(m.splits, s).count for s in splits},
        debian_package=m.source.debian_package,
        debian_path=m.source.debian_path,
        manifest_path=path,
        image_folder=image_folder,
        csv=csv,
        private=m.private,
    )


def load_manifest_text(source: str, filename: str, stem: str | None = None) -> DatasetSpec:
    """A manifest's dataset, or ``SpecError`` listing every mistake as file:line: key."""
    from autograder.specs.loader import SpecError, validate_yaml

    manifest, root = validate_yaml(source, filename, Manifest)
    problems = _manifest_problems(manifest, root, filename, stem)
    if problems:
        raise SpecError(problems)
    return spec_from_manifest(manifest, Path(filename))


def load_manifest_file(path: Path, *, check_name: bool = True) -> DatasetSpec:
    """``check_name``: the file name must be ``<name>.yaml`` (as in the datasets folder)."""
    from autograder.specs.loader import SpecError, SpecProblem

    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            [SpecProblem(str(path), None, "", f"cannot read: {exc}", FailureCode.SPEC_IO)]
        ) from None
    return load_manifest_text(source, str(path), path.stem if check_name else None)


# folder -> (the manifests' (name, mtime, size, inode), the valid ones, the broken ones' errors)
_ManifestKey = tuple[tuple[str, int, int, int], ...]
_declared_cache: dict[Path, tuple[_ManifestKey, dict[str, DatasetSpec], list[SpecError]]] = {}
_declared_lock = threading.Lock()


def _datasets_dir(datasets_dir: Path | None) -> Path:
    if datasets_dir is not None:
        return Path(datasets_dir)
    from autograder.settings import get_settings

    return Path(get_settings().datasets_dir)


def load_manifests(
    datasets_dir: Path | None = None,
) -> tuple[dict[str, DatasetSpec], list[SpecError]]:
    """Every dataset declared in the folder, and the ``SpecError`` of each broken manifest.

    Re-read whenever a manifest is added, removed or changed (no restart needed)."""
    folder = _datasets_dir(datasets_dir)
    paths = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    key: list[tuple[str, int, int, int]] = []
    for p in paths:
        with contextlib.suppress(OSError):
            st = p.stat()
            key.append((p.name, st.st_mtime_ns, st.st_size, st.st_ino))
    with _declared_lock:
        cached = _declared_cache.get(folder)
        if cached is not None and cached[0] == tuple(key):
            return dict(cached[1]), list(cached[2])
    from autograder.specs.loader import SpecError

    found: dict[str, DatasetSpec] = {}
    errors: list[SpecError] = []
    for p in paths:
        try:
            spec = load_manifest_file(p)
        except SpecError as exc:
            errors.append(exc)
            continue
        found[spec.name] = spec
    with _declared_lock:
        _declared_cache[folder] = (tuple(key), found, errors)
    return dict(found), list(errors)


def declared(datasets_dir: Path | None = None) -> dict[str, DatasetSpec]:
    """The datasets declared by valid manifests, by name."""
    return load_manifests(datasets_dir)[0]


def get_spec(name: str, datasets_dir: Path | None = None) -> DatasetSpec:
    known = declared(datasets_dir)
    try:
        return known[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {name!r}; declared in {_datasets_dir(datasets_dir)}: "
            f"{', '.join(sorted(known)) or 'none'}"
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
    """The uncompressed, checked content of a raw file (IDX gzipped or not); else IdxError."""
    if raw.magic is not None:
        if blob[:2] == b"\x1f\x8b":
            try:
                blob = gzip.decompress(blob)
            except (OSError, EOFError, zlib.error) as exc:
                raise IdxError(f"{where}: not a complete gzip file ({exc})") from None
        parse_idx(blob, where, expect_magic=raw.magic)
    if len(blob) != raw.size:
        what = "uncompressed" if raw.magic is not None else "in the file"
        raise IdxError(f"{where}: {len(blob)} bytes {what}, expected {raw.size}")
    if raw.md5 is not None:
        digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        if digest != raw.md5:
            raise IdxError(f"{where}: MD5 {digest} of the uncompressed file, expected {raw.md5}")
    if raw.sha256 is not None:
        digest = hashlib.sha256(blob).hexdigest()
        if digest != raw.sha256:
            raise IdxError(f"{where}: sha256 {digest} of the file, expected {raw.sha256}")
    return blob


def _to_array(raw: RawFile, content: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The array in a checked raw file, of the shape the manifest declares; else IdxError."""
    if raw.magic is not None:
        return parse_idx(content, raw.name, expect_magic=raw.magic, expect_shape=shape)
    try:
        arr = np.load(io.BytesIO(content), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IdxError(f"{raw.name}: not a .npy file without pickles ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.shape != shape:
        got = getattr(arr, "shape", type(arr).__name__)
        raise IdxError(f"{raw.name}: shape {got}, expected {shape}")
    want_int = np.dtype(dtype).kind in "iu"
    if (arr.dtype.kind in "iu") != want_int or (dtype == "uint8" and arr.dtype != np.uint8):
        raise IdxError(f"{raw.name}: dtype {arr.dtype}, expected {dtype}")
    return arr


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


def _read_manifest(
    folder: Path, spec: DatasetSpec, hidden: bool
) -> tuple[dict[str, Any], list[str]]:
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


def _inspect(
    name: str, data_dir: Path | None, rehash: bool, datasets_dir: Path | None = None
) -> Status:
    spec = get_spec(name, datasets_dir)
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
        path = root / RAW_DIR / raw.stored
        if not path.exists():
            st.warnings.append(f"{RAW_DIR}/{raw.stored} is missing (not needed for grading)")
        elif rehash:
            try:
                _decode_raw(raw, path.read_bytes(), f"{RAW_DIR}/{raw.stored}")
            except IdxError as exc:
                st.problems.append(str(exc))
    if visible.is_dir():
        st.warnings += _reachability_warnings(visible)
    if st.problems:
        st.state = "corrupt"
    return st


def status(name: str, data_dir: Path | None = None, *, datasets_dir: Path | None = None) -> Status:
    """Cheap: manifests present and complete, sizes as recorded, folder and file modes."""
    return _inspect(name, data_dir, rehash=False, datasets_dir=datasets_dir)


def verify(name: str, data_dir: Path | None = None, *, datasets_dir: Path | None = None) -> Status:
    """Full: ``status`` plus the sha256 of every .npy and the checksum of every raw file."""
    result = _inspect(name, data_dir, rehash=True, datasets_dir=datasets_dir)
    if result.ok:  # what the grader does: also loads the hidden arrays
        try:
            load_prepared(name, verify=True, data_dir=data_dir, datasets_dir=datasets_dir)
        except DatasetError as exc:
            result.problems.append(str(exc))
            result.state = "corrupt"
    return result


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Prepared:
    """A verified, prepared dataset, for the grader.

    ``files`` are the image and training-label arrays by key, e.g. ``files["train_images"]``,
    for the grader to hand to a phase file by file (most in ``visible_dir``; a private
    split's images in ``hidden_dir``, from which only the job's own view is ever made).
    ``hidden`` holds the label arrays that never enter a sandbox, loaded, e.g.
    ``hidden["test_labels"]``.
    """

    name: str
    visible_dir: Path
    hidden_dir: Path
    files: dict[str, Path]
    hidden: dict[str, np.ndarray]

    @property
    def test_labels(self) -> np.ndarray:
        return self.hidden["test_labels"]


def load_prepared(
    name: str,
    verify: bool = True,
    *,
    data_dir: Path | None = None,
    datasets_dir: Path | None = None,
) -> Prepared:
    """Paths of the sandbox-visible folder and the hidden arrays, checksums verified.

    Raises ``DatasetMissing`` when the dataset was never prepared, ``DatasetCorrupt``
    when anything differs from its manifest; both messages name the command that fixes
    it. With ``verify`` (the default) every .npy is hashed once per process (cached by
    path, inode, mtime, ctime and size); without it only sizes are compared.
    """
    spec = get_spec(name, datasets_dir)
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
            if not a.hidden or a.max_value is None:  # labels only: a private split's
                continue  # images are read by the phase that makes the job's view
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
        files={
            a.key: (hidden_dir if a.hidden else visible) / a.file
            for a in spec.arrays
            if not a.hidden or a.max_value is None
        },
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
    folders = [source_dir, source_dir / "raw"]
    if spec.torchvision_dir:
        folders.insert(1, source_dir / spec.torchvision_dir / "raw")
    if spec.debian_path:  # the root of an extracted Debian package
        folders.append(source_dir / spec.debian_path)
    names = [raw.name]
    if raw.magic is not None:
        # Some copies spell the names train-images.idx3-ubyte.
        names = [raw.gz_name, raw.name, raw.name.replace("-idx", ".idx")]
        names.append(names[-1] + ".gz")
    for folder in folders:
        for n in names:
            if (folder / n).is_file():
                return folder / n
    looked = f"{raw.gz_name} or {raw.name}" if raw.magic is not None else raw.name
    elsewhere = [f"{spec.torchvision_dir}/raw/"] if spec.torchvision_dir else []
    elsewhere += [f"{spec.debian_path}/"] if spec.debian_path else []
    raise FetchError(
        f"{raw.name} not found in {source_dir} (looked for {looked} there"
        + (f" and in {', '.join(elsewhere)})" if elsewhere else ")")
    )


class _MirrorFailed(Exception):
    def __init__(self, reason: str, unreachable: bool = False):
        super().__init__(reason)
        self.unreachable = unreachable


def _download(client: httpx.Client, url: str, raw: RawFile, folder: Path) -> bytes:
    """The verified, uncompressed content of ``url``; the .gz kept in ``folder``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{raw.stored}.", suffix=".part", dir=folder)
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
        if raw.magic is not None and blob[:2] != b"\x1f\x8b":  # IDX served uncompressed:
            _write_atomic(folder / raw.stored, gzip.compress(content, 6, mtime=0), 0o600)
        else:
            os.chmod(tmp, 0o600)
            os.replace(tmp, folder / raw.stored)
        return content
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def fetch(
    name: str,
    source_dir: Path | None = None,
    *,
    data_dir: Path | None = None,
    datasets_dir: Path | None = None,
    mirrors: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> Report:
    """Obtain the raw files, check them, and prepare the arrays; raises ``FetchError``.

    From ``source_dir`` when given (the gz files, the uncompressed ones, or torchvision's
    ``ROOT/<torchvision_dir>/raw/``, an extracted Debian package), else from ``mirrors``
    (default: the manifest's), tried in order
    per file; raw files already present and intact are reused rather than downloaded.
    """
    spec = get_spec(name, datasets_dir)
    if spec.private and source_dir is None:
        raise FetchError(
            f"{spec.title} is private (a test split the course keeps to itself): it has no "
            f"mirrors and is prepared only from a folder; {spec.fix}"
        )
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
                if raw.magic is not None and blob[:2] != b"\x1f\x8b":
                    blob = gzip.compress(contents[raw.name], 6, mtime=0)
                _write_atomic(raw_dir / raw.stored, blob, 0o600)
                say(f"{raw.name}: checked ({raw.checksum}) from {path}")
        else:
            source = "mirrors"
            contents = _from_mirrors(spec, raw_dir, mirrors, timeout, say, downloaded)
        try:
            _prepare(spec, root, contents)
        except IdxError as exc:
            raise FetchError(str(exc)) from None
        say(f"prepared {root / VISIBLE_DIR} (sandbox-visible) and {root / HIDDEN_DIR} (hidden)")
    result = status(spec.name, data, datasets_dir=datasets_dir)
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
            kept = raw_dir / raw.stored
            if kept.is_file():
                try:
                    contents[raw.name] = _decode_raw(raw, kept.read_bytes(), str(kept))
                    say(f"{raw.name}: already here, checked ({raw.checksum})")
                    continue
                except IdxError as exc:
                    say(f"{raw.name}: the copy here is bad ({exc}); fetching it again")
            failures = []
            for mirror in mirrors:
                url = mirror.rstrip("/") + "/" + raw.stored
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
                say(f"{raw.name}: downloaded and checked ({raw.checksum}) from {url}")
                break
            else:
                raise FetchError(
                    f"could not fetch {raw.stored} from any mirror:\n  "
                    + "\n  ".join(failures or ["(no mirrors configured)"])
                )
    return contents


def _save_npy(path: Path, arr: np.ndarray, mode: int) -> dict[str, Any]:
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
    path.chmod(mode)
    return {
        "sha256": _sha256_file(path),
        "size": path.stat().st_size,
        "shape": list(arr.shape),
        "dtype": str(arr.dtype),
    }


def _decode_arrays(spec: DatasetSpec, contents: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Every array of ``spec.arrays`` by its file, from the checked raw files; else IdxError."""
    if spec.format not in PER_SPLIT_FILE:
        return {
            a.file: _to_array(spec.raw_file(a.source), contents[a.source], a.shape, a.dtype)
            for a in spec.arrays
        }
    out: dict[str, np.ndarray] = {}
    archives: dict[str, Archive] = {}
    sorted_map: dict[str, int] = {}
    n_classes = len(spec.classes)
    try:
        for split in spec.splits:
            images = spec.array(f"{split}_images.npy")
            source, shape, count = images.source, images.shape[1:], images.shape[0]
            if spec.csv is not None:
                x, y = decode_csv(
                    contents[source],
                    source,
                    split=split,
                    count=count,
                    shape=shape,
                    header=spec.csv.header,
                    label_column=spec.csv.label_column,
                    n_classes=n_classes,
                )
            else:
                layout = spec.image_folder
                assert layout is not None
                if source not in archives:
                    archives[source] = _read_image_archive(spec, layout, source, contents[source])
                archive, folder = archives[source], layout.folder(split)
                if layout.class_folders == "sorted" and not sorted_map:
                    train = spec.array("train_images.npy").source
                    if train not in archives:
                        archives[train] = _read_image_archive(spec, layout, train, contents[train])
                    sorted_map = class_mapping(
                        archives[train], layout.folder("train"), "sorted", n_classes
                    )
                x, y = decode_image_folder(
                    archive,
                    folder,
                    split=split,
                    count=count,
                    shape=shape,
                    how=layout.class_folders,
                    names=layout.names,
                    n_classes=n_classes,
                    sorted_map=sorted_map,
                )
            out[f"{split}_images.npy"], out[f"{split}_labels.npy"] = x, y
    except DataFormatError as exc:
        raise IdxError(str(exc)) from None
    return out


def _read_image_archive(spec: DatasetSpec, layout: FolderLayout, name: str, blob: bytes) -> Archive:
    """An image-folder archive read in memory (autograder/dataset_formats.py), bounded by
    the images of the splits it holds."""
    splits = [s for s in spec.splits if spec.array(f"{s}_images.npy").source == name]
    count = sum(spec.counts[s] for s in splits)
    shape = spec.array("test_images.npy").shape[1:]
    prefixes = [folder_prefix(layout.folder(s)) for s in splits]
    return read_archive(
        blob,
        name,
        ArchiveLimits.for_images(count, shape),
        lambda path: is_image_path(path, prefixes),
    )


def _prepare(spec: DatasetSpec, root: Path, contents: dict[str, bytes]) -> None:
    """Write prepared/ and hidden/ in a staging folder, then swap each in whole."""
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))  # 0700
    try:
        folders = {False: stage / VISIBLE_DIR, True: stage / HIDDEN_DIR}
        folders[False].mkdir(mode=0o755)
        folders[True].mkdir(mode=0o700)
        entries: dict[bool, dict[str, dict[str, Any]]] = {False: {}, True: {}}
        decoded = _decode_arrays(spec, contents)
        for a in spec.arrays:
            arr = decoded[a.file]
            raw = spec.raw_file(a.source)
            if a.max_value is not None and arr.size and int(arr.max()) > a.max_value:
                raise IdxError(f"{raw.name}: a value above {a.max_value}")
            if a.max_value is not None and arr.size and int(arr.min()) < 0:
                raise IdxError(f"{raw.name}: a value below 0")
            mode = 0o600 if a.hidden else 0o644
            entries[a.hidden][a.file] = _save_npy(
                folders[a.hidden] / a.file,
                np.ascontiguousarray(arr.astype(a.dtype, copy=False)),
                mode,
            )
        for is_hidden, folder in folders.items():
            manifest = {
                "dataset": spec.name,
                "format": MANIFEST_FORMAT,
                "visibility": "hidden" if is_hidden else "sandbox",
                "attribution": spec.attribution,
                "licence": spec.licence,
                "source_checksums": {r.name: r.checksum for r in spec.raw},
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


def local_source(spec: DatasetSpec, settings: Settings) -> Path | None:
    """The local folder ``serve`` fetches a missing dataset from: ``settings.dataset_sources``
    (a null value: none), else ``AUTOGRADER_<NAME>_SOURCE`` (``-`` as ``_``), else the
    manifest's ``source.local``, relative to the course folder (the datasets folder's parent).
    """
    if spec.name in settings.dataset_sources:
        chosen = settings.dataset_sources[spec.name]
        return Path(chosen) if chosen is not None else None
    env = settings.env_dataset_source(spec.name)
    if env is not None:
        return env
    if spec.local_hint:
        return (Path(settings.datasets_dir).parent / spec.local_hint).resolve()
    return None


def ensure_datasets(
    settings: Settings,
    *,
    mirrors: Sequence[str] | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> dict[str, Status]:
    """At service start: every dataset present, or fetched, or a plain warning; never raises.

    Every dataset declared in ``settings.datasets_dir``. Order: already present; else its
    local folder (``local_source``); else the mirrors. When all fail the service keeps
    running (the other homework need no dataset) and the log says which command fixes it.
    """
    data = settings.path("data")
    folder = Path(settings.datasets_dir)
    results: dict[str, Status] = {}
    specs, broken = load_manifests(folder)
    for exc in broken:
        log.warning("a dataset manifest is invalid and was skipped:\n%s", exc)
    for spec in specs.values():
        try:
            current = status(spec.name, data, datasets_dir=folder)
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
        source = local_source(spec, settings)
        tries: list[Path | None] = []
        if source is not None and Path(source).is_dir():
            tries.append(Path(source))
        elif source is not None:
            attempts.append(f"local folder {source}: not found")
            log.warning("dataset %s: the local folder %s is not there", spec.name, source)
        if spec.private:
            attempts.append("private: prepared only from a folder, never from mirrors")
        elif mirrors or (mirrors is None and spec.mirrors):
            tries.append(None)
        else:
            attempts.append("no mirrors declared")
        for src in tries:
            where = f"local folder {src}" if src else "the mirrors"
            log.info("dataset %s: fetching from %s", spec.name, where)
            try:
                report = fetch(
                    spec.name,
                    src,
                    data_dir=data,
                    datasets_dir=folder,
                    mirrors=mirrors,
                    timeout=timeout,
                )
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
