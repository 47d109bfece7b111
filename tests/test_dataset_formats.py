"""The dataset formats image-folder (an archive of PNG images, a folder per class) and csv
(a label column and a column per pixel), made here from numpy arrays: real PNG files
(Pillow), real tar/zip archives, real checksums, fetched and prepared through the CLI and
compared with the arrays they were made from, and with the same data as IDX files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from autograder import datasets
from autograder.cli import main
from autograder.datasets import FetchError, fetch, load_prepared, verify
from autograder.specs.loader import SpecError

CLASSES = ("cat", "dog", "fish")
CLASS_LINES = "\n".join(
    f"  - {{en: {c}, zh: {zh}}}" for c, zh in zip(CLASSES, ("猫", "狗", "鱼"), strict=True)
)

HEAD = """\
name: {name}
title: Tiny pictures
licence: CC0 1.0
attribution: made up for the tests
"""


def _data(
    shape: tuple[int, ...], n_train: int = 30, n_test: int = 12, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random images (0 and 255 included) and labels of every class."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        x[0].flat[0], x[0].flat[1] = 0, 255
        y = rng.integers(0, len(CLASSES), n).astype(np.int64)
        y[: len(CLASSES)] = np.arange(len(CLASSES))
        out[f"{split}_images"], out[f"{split}_labels"] = x, y
    return out


def png(img: np.ndarray, palette: bool = False) -> bytes:
    buf = io.BytesIO()
    picture = Image.fromarray(img)
    (picture.convert("P") if palette else picture).save(buf, format="PNG")
    return buf.getvalue()


def apng(img: np.ndarray) -> bytes:
    """An animated PNG of two frames."""
    buf = io.BytesIO()
    first, second = Image.fromarray(img), Image.fromarray(255 - img)
    first.save(buf, format="PNG", save_all=True, append_images=[second])
    return buf.getvalue()


def image_members(
    data: dict[str, np.ndarray], folder_of: Callable[[int], str] = lambda i: CLASSES[i]
) -> dict[str, bytes]:
    """train/<class>/<index>.png and test/<class>/<index>.png (the index keeps the order)."""
    members = {}
    for split in ("train", "test"):
        for i, (x, y) in enumerate(
            zip(data[f"{split}_images"], data[f"{split}_labels"], strict=True)
        ):
            img = x[..., 0] if x.ndim == 3 and x.shape[2] == 1 else x
            members[f"{split}/{folder_of(int(y))}/{i}.png"] = png(img)
    return members


def write_tar(path: Path, members: dict[str, bytes], extra: Callable[[Any], None] | None = None):
    mode = "w:gz" if path.name.endswith(("gz", ".tgz")) else "w"
    with tarfile.open(path, mode) as tar:
        # the folders of the well-formed members first, as tar does
        safe = [m for m in members if "/" in m and ".." not in m and not m.startswith("/")]
        folders = sorted({m.rsplit("/", 1)[0] for m in safe})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
        if extra is not None:
            extra(tar)


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


def file_entry(path: Path, digest: str = "sha256") -> str:
    blob = path.read_bytes()
    value = hashlib.new(digest, blob).hexdigest()
    return f"  - {{name: {path.name}, size: {len(blob)}, {digest}: {value}}}"


def folder_manifest(
    archive: Path,
    shape: tuple[int, ...],
    counts: tuple[int, int] = (30, 12),
    name: str = "pics",
    extra: str = "",
    classes: str = CLASS_LINES,
) -> str:
    return (
        HEAD.format(name=name)
        + f"format: image-folder\nfiles:\n{file_entry(archive)}\nsplits:\n"
        + f"  train: {{file: {archive.name}, count: {counts[0]}}}\n"
        + f"  test: {{file: {archive.name}, count: {counts[1]}}}\n"
        + f"shape: {list(shape)}\ndtype: uint8\n{extra}classes:\n{classes}\n"
    )


def csv_text(
    x: np.ndarray, y: np.ndarray, header: str | None = "pixel", label_at: int = 0
) -> bytes:
    flat = x.reshape(len(x), -1).astype(np.int64)
    rows = [np.insert(flat[i], label_at, y[i]) for i in range(len(x))]
    lines = []
    if header is not None:
        names = [f"{header}{j + 1}" for j in range(flat.shape[1])]
        names.insert(label_at, "label")
        lines.append(",".join(names))
    lines += [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def csv_manifest(files: Path, shape: tuple[int, ...], counts=(30, 12), extra: str = "") -> str:
    return (
        HEAD.format(name="pics")
        + "format: csv\nfiles:\n"
        + file_entry(files / "pics_train.csv", "md5")
        + "\n"
        + file_entry(files / "pics_test.csv")
        + "\nsplits:\n"
        + f"  train: {{file: pics_train.csv, count: {counts[0]}}}\n"
        + f"  test: {{file: pics_test.csv, count: {counts[1]}}}\n"
        + f"shape: {list(shape)}\ndtype: uint8\n{extra}classes:\n{CLASS_LINES}\n"
    )


def write_csvs(files: Path, data: dict[str, np.ndarray], **kw: Any) -> None:
    files.mkdir(exist_ok=True)
    for split in ("train", "test"):
        blob = csv_text(data[f"{split}_images"], data[f"{split}_labels"], **kw)
        (files / f"pics_{split}.csv").write_bytes(blob)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI with a data dir, a datasets folder and a specs folder of its own."""
    from autograder.settings import get_settings

    monkeypatch.setenv("AUTOGRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUTOGRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AUTOGRADER_DATASETS_DIR", str(tmp_path / "course" / "datasets"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def assert_prepared(data_dir: Path, folder: Path, data: dict[str, np.ndarray]) -> None:
    ds = load_prepared("pics", data_dir=data_dir, datasets_dir=folder)
    for key in ("train_images", "train_labels", "test_images"):
        arr = np.load(ds.files[key], allow_pickle=False)
        assert arr.dtype == data[key].dtype and arr.shape == data[key].shape, key
        assert np.array_equal(arr, data[key]), key
    assert ds.test_labels.dtype == np.int64
    assert np.array_equal(ds.test_labels, data["test_labels"])


def add_fetch_status_verify(tmp_path: Path, manifest_text: str, source: Path) -> Path:
    """data add, data fetch --from, data status, data verify: each must succeed."""
    manifest = tmp_path / "to-add.yaml"
    manifest.write_text(manifest_text)
    result = cli("data", "add", str(manifest))
    assert result.exit_code == 0, result.output
    assert "pics: declared in" in result.output
    result = cli("data", "fetch", "pics", "--from", str(source))
    assert result.exit_code == 0, result.output
    assert "pics: present" in result.output
    result = cli("data", "status", "pics")
    assert result.exit_code == 0 and "pics: present" in result.output, result.output
    result = cli("data", "verify", "pics")
    assert result.exit_code == 0 and "all checksums recomputed" in result.output, result.output
    return tmp_path / "course" / "datasets"


# --------------------------------------------------------------------------- image-folder


@pytest.mark.parametrize(
    ("archive_name", "shape"),
    [("pics.tar.gz", (28, 28)), ("pics.zip", (8, 8, 3)), ("pics.tar", (8, 8, 1))],
)
def test_cli_image_folder_add_fetch_status_verify(
    tmp_path: Path, cli_env: Path, archive_name: str, shape: tuple[int, ...]
) -> None:
    data = _data(shape)
    files = tmp_path / "files"
    files.mkdir()
    archive = files / archive_name
    members = image_members(data)
    members["README.txt"] = b"made up\n"  # outside the split folders: skipped
    members["train/cat/.DS_Store"] = b"\0\0"  # hidden: skipped
    (write_zip if archive_name.endswith(".zip") else write_tar)(archive, members)
    folder = add_fetch_status_verify(tmp_path, folder_manifest(archive, shape), files)
    assert_prepared(cli_env, folder, data)
    root = cli_env / "pics"
    assert sorted(p.name for p in (root / "raw").iterdir()) == [archive_name]
    assert stat.S_IMODE((root / "raw").stat().st_mode) == 0o700
    assert not (root / "prepared" / "test_labels.npy").exists()
    manifest = json.loads((root / "prepared" / "manifest.json").read_text())
    assert manifest["source_checksums"][archive_name].startswith("sha256 ")

    # the archive changed after the manifest pinned it: refused by its checksum
    archive.write_bytes(archive.read_bytes() + b"\0")
    result = cli("data", "fetch", "pics", "--from", str(files))
    assert result.exit_code == 1
    assert f"{archive}: {archive.stat().st_size} bytes in the file, expected" in result.output
    blob = bytearray(archive.read_bytes()[:-1])
    blob[-30] ^= 1
    archive.write_bytes(bytes(blob))
    result = cli("data", "fetch", "pics", "--from", str(files))
    assert result.exit_code == 1 and f"{archive}: sha256 " in result.output, result.output
    assert "of the file, expected" in result.output
    result = cli("data", "verify", "pics")  # what was prepared before is untouched
    assert result.exit_code == 0, result.output


def test_image_folder_class_folders_by_index_sorted_and_named(tmp_path: Path) -> None:
    data = _data((6, 5))
    folder = tmp_path / "datasets"
    folder.mkdir()
    cases = {
        "index": (str, "image_folder: {class_folders: index}\n", CLASS_LINES),
        # sorted folder names are the classes in order (as torchvision's ImageFolder)
        "sorted": (
            lambda i: f"c{i}-{CLASSES[i]}",
            "image_folder: {class_folders: sorted}\n",
            CLASS_LINES,
        ),
        # class names that cannot be folders name their folder
        "named": (
            lambda i: ["T-shirt", "bags", "shoe"][i],
            "",
            "  - {en: T-shirt/top, zh: T恤, folder: T-shirt}\n"
            "  - {en: Bag, zh: 包, folder: bags}\n"
            "  - {en: Shoe, zh: 鞋, folder: shoe}",
        ),
    }
    for how, (folder_of, extra, classes) in cases.items():
        files = tmp_path / how
        files.mkdir()
        write_tar(files / "pics.tgz", image_members(data, folder_of))
        text = folder_manifest(files / "pics.tgz", (6, 5), extra=extra, classes=classes)
        (folder / "pics.yaml").write_text(text)
        report = fetch("pics", files, data_dir=tmp_path / f"data-{how}", datasets_dir=folder)
        assert report.status.ok, report.status.describe()
        assert_prepared(tmp_path / f"data-{how}", folder, data)


def test_one_archive_per_split_and_a_folder_inside(tmp_path: Path) -> None:
    """Per-split archives: each split's folder (`folder:`) inside its own archive."""
    data = _data((4, 4))
    files = tmp_path / "files"
    files.mkdir()
    members = image_members(data)
    write_zip(
        files / "train.zip",
        {f"pics/training/{k[6:]}": v for k, v in members.items() if k.startswith("train/")},
    )
    write_tar(files / "test.tar", {k[5:]: v for k, v in members.items() if k.startswith("test/")})
    text = (
        HEAD.format(name="pics")
        + "format: image-folder\nfiles:\n"
        + f"{file_entry(files / 'train.zip')}\n{file_entry(files / 'test.tar', 'md5')}\n"
        + "splits:\n"
        + "  train: {file: train.zip, folder: pics/training, count: 30}\n"
        + "  test: {file: test.tar, folder: ., count: 12}\n"
        + f"shape: [4, 4]\ndtype: uint8\nclasses:\n{CLASS_LINES}\n"
    )
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "pics.yaml").write_text(text)
    report = fetch("pics", files, data_dir=tmp_path / "data", datasets_dir=folder)
    assert report.status.ok, report.status.describe()
    assert_prepared(tmp_path / "data", folder, data)
    assert verify("pics", tmp_path / "data", datasets_dir=folder).ok


# --------------------------------------------------------------------------- csv


@pytest.mark.parametrize(
    ("shape", "extra", "kw"),
    [
        ((28, 28), "", {"header": "pixel"}),  # mnist_train.csv: label,pixel1,...,pixel784
        ((4, 5), "csv: {label_column: label}\n", {"header": "px", "label_at": 20}),
        ((3, 3, 3), "csv: {header: false, label_column: 4}\n", {"header": None, "label_at": 4}),
    ],
)
def test_cli_csv_add_fetch_status_verify(
    tmp_path: Path, cli_env: Path, shape: tuple[int, ...], extra: str, kw: dict[str, Any]
) -> None:
    data = _data(shape)
    files = tmp_path / "files"
    write_csvs(files, data, **kw)
    folder = add_fetch_status_verify(tmp_path, csv_manifest(files, shape, extra=extra), files)
    assert_prepared(cli_env, folder, data)
    raw = sorted(p.name for p in (cli_env / "pics" / "raw").iterdir())
    assert raw == ["pics_test.csv", "pics_train.csv"]


def test_csv_with_crlf_and_a_byte_order_mark(tmp_path: Path) -> None:
    data = _data((2, 3))
    files = tmp_path / "files"
    write_csvs(files, data)
    for split in ("train", "test"):
        path = files / f"pics_{split}.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "pics.yaml").write_text(csv_manifest(files, (2, 3)))
    assert fetch("pics", files, data_dir=tmp_path / "data", datasets_dir=folder).status.ok
    assert_prepared(tmp_path / "data", folder, data)


# --------------------------------------------------------------------------- the same arrays


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_idx_image_folder_and_csv_prepare_identical_files(tmp_path: Path) -> None:
    """The same images and labels in three formats give byte-identical .npy files."""
    data = _data((28, 28), n_train=40, n_test=15, seed=7)
    folder = tmp_path / "datasets"
    folder.mkdir()
    sources: dict[str, tuple[Path, str]] = {}

    idx = tmp_path / "idx"
    idx.mkdir()
    names = {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    entries = []
    for key, fname in names.items():
        blob = idx_bytes(data[key])
        (idx / f"{fname}.gz").write_bytes(gzip.compress(blob))
        entries.append(
            f"  - {{name: {fname}, size: {len(blob)}, md5: {hashlib.md5(blob).hexdigest()}}}"
        )
    sources["idx"] = (
        idx,
        HEAD.format(name="pics")
        + "format: idx\nfiles:\n"
        + "\n".join(entries)
        + "\nsplits:\n"
        + "  train: {images: train-images-idx3-ubyte, labels: train-labels-idx1-ubyte, "
        "count: 40}\n"
        + "  test: {images: t10k-images-idx3-ubyte, labels: t10k-labels-idx1-ubyte, count: 15}\n"
        + f"shape: [28, 28]\ndtype: uint8\nclasses:\n{CLASS_LINES}\n",
    )
    pics = tmp_path / "image-folder"
    pics.mkdir()
    write_zip(pics / "pics.zip", image_members(data))
    sources["image-folder"] = (pics, folder_manifest(pics / "pics.zip", (28, 28), (40, 15)))
    csvs = tmp_path / "csv"
    write_csvs(csvs, data)
    sources["csv"] = (csvs, csv_manifest(csvs, (28, 28), (40, 15)))

    prepared: dict[str, dict[str, bytes]] = {}
    for fmt, (source, text) in sources.items():
        (folder / "pics.yaml").write_text(text)
        data_dir = tmp_path / f"data-{fmt}"
        report = fetch("pics", source, data_dir=data_dir, datasets_dir=folder)
        assert report.status.ok, report.status.describe()
        assert verify("pics", data_dir, datasets_dir=folder).ok
        root = data_dir / "pics"
        prepared[fmt] = {
            f"{sub}/{p.name}": p.read_bytes()
            for sub in ("prepared", "hidden")
            for p in sorted((root / sub).glob("*.npy"))
        }
        for sub in ("prepared", "hidden"):  # the recorded sha256s are the same too
            files = json.loads((root / sub / "manifest.json").read_text())["files"]
            prepared[fmt][f"{sub}/manifest-files"] = json.dumps(files, sort_keys=True).encode()
    assert len(prepared["idx"]) == 6
    assert prepared["image-folder"] == prepared["idx"]
    assert prepared["csv"] == prepared["idx"]
    x = np.load(io.BytesIO(prepared["idx"]["prepared/train_images.npy"]), allow_pickle=False)
    assert np.array_equal(x, data["train_images"])


# --------------------------------------------------------------------------- errors


def _fetch_error(tmp_path: Path, files: Path, text: str) -> str:
    folder = tmp_path / "datasets"
    folder.mkdir(exist_ok=True)
    (folder / "pics.yaml").write_text(text)
    with pytest.raises(FetchError) as info:
        fetch("pics", files, data_dir=tmp_path / "data", datasets_dir=folder)
    assert not (tmp_path / "data" / "pics" / "prepared").exists()
    return str(info.value)


def _link(kind: bytes, name: str, target: str) -> Callable[[Any], None]:
    def add(tar: Any) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname = kind, target
        if kind in (tarfile.CHRTYPE, tarfile.FIFOTYPE):
            info.devmajor, info.devminor = 1, 3
        tar.addfile(info)

    return add


TEST_MEMBER = "test/dog/3.png"  # one of _data((8, 8))'s test images


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: {**m, "../evil.png": m["train/cat/0.png"]},
            "pics.tar: member '../evil.png': '..' in its path (it points outside)",
        ),
        (
            lambda m: {**m, "train/dog/../../../evil.png": b"x"},
            "pics.tar: member 'train/dog/../../../evil.png': '..' in its path",
        ),
        (
            lambda m: {**m, "/tmp/evil.png": b"x"},
            "pics.tar: member '/tmp/evil.png': an absolute path (members must be relative)",
        ),
        (
            lambda m: {**m, "train/cat/0.png": png(np.zeros((8, 9), np.uint8))},
            "pics.tar: train/cat/0.png: 9x8 pixels (width x height); the manifest's shape "
            "[8, 8] wants 8x8",
        ),
        (
            lambda m: {**m, TEST_MEMBER: png(np.zeros((8, 8, 3), np.uint8))},
            f"pics.tar: {TEST_MEMBER}: an RGB image (PNG mode RGB); the manifest's shape "
            "[8, 8] wants grayscale (mode L), 8 bits per channel",
        ),
        (
            lambda m: {**m, "train/cat/0.png": b"\x89PNG\r\n\x1a\n broken"},
            "pics.tar: train/cat/0.png: ",
        ),
        (
            lambda m: {**m, "train/cat/0.png": apng(np.zeros((8, 8), np.uint8))},
            "pics.tar: train/cat/0.png: an animated PNG (2 frames)",
        ),
        (
            lambda m: {**m, "train/dog/1.png": png(np.zeros((8, 8), np.uint8), palette=True)},
            "pics.tar: train/dog/1.png: a palette image (PNG mode P); the manifest's shape "
            "[8, 8] wants grayscale (mode L)",
        ),
        (
            lambda m: {**m, "train/cat/0.png": b"GIF89a not a png"},
            "pics.tar: train/cat/0.png: not a PNG image",
        ),
        (
            lambda m: {
                ("train/bird/0.png" if k == "train/cat/0.png" else k): v for k, v in m.items()
            },
            "pics.tar: train/bird/0.png: unknown class folder 'bird' (the classes' folders: "
            "cat, dog, fish)",
        ),
        (
            lambda m: {
                ("train/dgo/1.png" if k.endswith("/1.png") and k.startswith("train/") else k): v
                for k, v in m.items()
            },
            "unknown class folder 'dgo' (the classes' folders: cat, dog, fish; did you mean "
            "'dog'?)",
        ),
        (
            lambda m: (
                {k: v for k, v in m.items() if k != "test/fish/2.png"}
                | {"test/cat/99.png": m["test/fish/2.png"]}
                | {"test/dog/100.png": m["test/fish/2.png"]}
            ),
            "pics.tar: test/ holds 13 images, but the manifest's splits.test.count is 12",
        ),
        (
            lambda m: {**m, "train/cat/notes.txt": b"hello"},
            "pics.tar: train/cat/notes.txt: not a .png file",
        ),
        (
            lambda m: {**m, "train/0.png": m["train/cat/0.png"]},
            "pics.tar: train/0.png: not in a class folder (images are train/<class>/<name>.png)",
        ),
        (
            lambda m: {k.replace("test/", "testing/"): v for k, v in m.items()},
            "pics.tar: no folder test/ in the archive (its top holds: testing, train)",
        ),
    ],
)
def test_image_folder_errors_name_the_file_and_member(
    tmp_path: Path, edit: Callable[[dict[str, bytes]], dict[str, bytes]], message: str
) -> None:
    data = _data((8, 8))
    members = image_members(data)
    assert {"train/cat/0.png", "train/dog/1.png", "test/fish/2.png", TEST_MEMBER} <= set(members)
    files = tmp_path / "files"
    files.mkdir()
    write_tar(files / "pics.tar", edit(members))
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.tar", (8, 8)))
    assert message in text, text
    assert not (tmp_path / "evil.png").exists() and not (tmp_path.parent / "evil.png").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            _link(tarfile.SYMTYPE, "train/cat/link.png", "/etc/passwd"),
            "pics.tar: member 'train/cat/link.png' is a symbolic link (to '/etc/passwd'); "
            "only files and folders are allowed",
        ),
        (
            _link(tarfile.LNKTYPE, "train/cat/hard.png", "train/cat/0.png"),
            "pics.tar: member 'train/cat/hard.png' is a hard link (to 'train/cat/0.png')",
        ),
        (
            _link(tarfile.CHRTYPE, "train/cat/null.png", ""),
            "pics.tar: member 'train/cat/null.png' is a device, FIFO or other special file",
        ),
        (
            _link(tarfile.FIFOTYPE, "fifo", ""),
            "pics.tar: member 'fifo' is a device, FIFO or other special file",
        ),
        (
            lambda tar: tar.addfile(tarfile.TarInfo("train/cat/0.png"), io.BytesIO(b"")),
            "pics.tar: member 'train/cat/0.png' is in the archive twice",
        ),
    ],
)
def test_links_devices_and_duplicates_in_an_archive_are_refused(
    tmp_path: Path, extra: Callable[[Any], None], message: str
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    write_tar(files / "pics.tar", image_members(_data((8, 8))), extra)
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.tar", (8, 8)))
    assert message in text, text


def test_a_zip_symlink_member_is_refused(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    write_zip(files / "pics.zip", image_members(_data((8, 8))))
    with zipfile.ZipFile(files / "pics.zip", "a") as zf:
        info = zipfile.ZipInfo("train/cat/link.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "../../../etc/passwd")
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.zip", (8, 8)))
    assert "pics.zip: member 'train/cat/link.png' is a symbolic link" in text, text


def test_an_archive_too_big_for_its_images_is_refused_unread(tmp_path: Path) -> None:
    """A member far larger than the images can need (a decompression bomb) is refused by
    its declared size, before a byte of it is read."""
    files = tmp_path / "files"
    files.mkdir()
    members = image_members(_data((8, 8)))
    members["train/cat/big.png"] = bytes(80 << 20)  # 80 MiB of zeros, ~80 KiB gzipped
    write_tar(files / "pics.tar.gz", members)
    assert (files / "pics.tar.gz").stat().st_size < 1 << 20
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.tar.gz", (8, 8)))
    assert "pics.tar.gz: more than " in text and "bytes unpacked (at 'train/cat/big.png'" in text


def test_a_file_that_is_no_archive_is_refused(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "pics.tar.gz").write_bytes(b"this is not an archive at all" * 40)
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.tar.gz", (8, 8)))
    assert "pics.tar.gz: not a readable tar or zip archive" in text, text


def test_sorted_class_folders_must_match_the_classes(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    members = image_members(_data((4, 4)))
    members["train/zebra/0.png"] = members.pop("train/cat/0.png")
    write_tar(files / "pics.tar", members)
    extra = "image_folder: {class_folders: sorted}\n"
    text = _fetch_error(tmp_path, files, folder_manifest(files / "pics.tar", (4, 4), extra=extra))
    assert "pics.tar: train/ has 4 class folder(s) (cat, dog, fish, zebra)" in text, text


def _csv_error(tmp_path: Path, edit: Callable[[list[str]], list[str]], extra: str = "") -> str:
    data = _data((2, 2))
    files = tmp_path / "files"
    write_csvs(files, data)
    path = files / "pics_train.csv"
    path.write_text("\n".join(edit(path.read_text().split("\n"))))
    return _fetch_error(tmp_path, files, csv_manifest(files, (2, 2), extra=extra))


@pytest.mark.parametrize(
    ("edit", "extra", "message"),
    [
        (
            lambda ls: [*ls[:5], ls[5] + ",7", *ls[6:]],
            "",
            "pics_train.csv: line 6: 6 columns, expected 5 (a label and 4 pixels for shape [2, 2])",
        ),
        (
            lambda ls: [*ls[:9], ls[9].rsplit(",", 1)[0], *ls[10:]],
            "",
            "pics_train.csv: line 10: 4 columns, expected 5",
        ),
        (
            lambda ls: [ls[0] + ",extra", *ls[1:]],
            "",
            "pics_train.csv: line 1 (the header): 6 columns, expected 5",
        ),
        (
            lambda ls: [*ls[:3], "1,2,256,4,5", *ls[4:]],
            "",
            "pics_train.csv: line 4, column 3 (pixel2): 256 is outside uint8's range 0-255",
        ),
        (
            lambda ls: [*ls[:7], "2,0,0,-1,0", *ls[8:]],
            "",
            "pics_train.csv: line 8, column 4 (pixel3): -1 is outside uint8's range 0-255",
        ),
        (
            lambda ls: [*ls[:2], "3,0,0,0,0", *ls[3:]],
            "",
            "pics_train.csv: line 3, column 1 (label): label 3 is not a class (0-2)",
        ),
        (
            lambda ls: [*ls[:3], "1,2,3,70000,5", *ls[4:]],  # past int16: found line by line
            "",
            "pics_train.csv: line 4, column 4 (pixel3): 70000 is outside uint8's range 0-255",
        ),
        (
            lambda ls: [*ls[:3], "99999999999999999999999,2,3,4,5", *ls[4:]],
            "",
            "pics_train.csv: line 4, column 1 (label): label 99999999999999999999999 is not a "
            "class (0-2)",
        ),
        (
            lambda ls: [*ls[:2], "1,0,0.5,0,0", *ls[3:]],
            "",
            "pics_train.csv: line 3, column 3 (pixel2): '0.5' is not an integer",
        ),
        (
            lambda ls: [*ls[:2], "", *ls[3:]],
            "",
            "pics_train.csv: line 3 is empty",
        ),
        (
            lambda ls: ls[:-2],  # the last line and the empty string after it
            "",
            "pics_train.csv: 29 rows of data, but the manifest's splits.train.count is 30",
        ),
        (
            lambda ls: ls[1:],
            "",
            "pics_train.csv: line 1 looks like data, not a header; say `csv: {header: false}`",
        ),
        (
            lambda ls: ls,
            "csv: {label_column: lable}\n",
            "pics_train.csv: line 1 (the header) has no column 'lable'; did you mean 'label'?",
        ),
    ],
)
def test_csv_errors_name_the_file_line_and_column(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], extra: str, message: str
) -> None:
    text = _csv_error(tmp_path, edit, extra)
    assert message in text, text


# --------------------------------------------------------------------------- manifests


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (
            lambda t: t.replace("{file: pics.tar, count: 30}", "{images: pics.tar, count: 30}"),
            ":9: splits.train.images:",
            "format image-folder: a split names the archive as `file`",
        ),
        (
            lambda t: t.replace("{file: pics.tar, count: 30}", "{count: 30}"),
            ":9: splits.train:",
            "format image-folder: `file` (the archive) is required",
        ),
        (
            lambda t: t.replace("name: pics.tar,", "name: pics.rar,"),
            ":7: files[0].name:",
            "format image-folder: 'pics.rar' must be an archive: .tar, .tar.gz, .tgz, .zip",
        ),
        (
            lambda t: t.replace("folder: x", "folder: train"),
            ":10: splits.test.file:",
            "'pics.tar' is used twice with the same folder in splits",
        ),
        (
            lambda t: t.replace("folder: x", "folder: ../up"),
            ":10: splits.test.folder:",
            "String should match pattern",
        ),
        (
            lambda t: t.replace("en: dog,", "en: dog/puppy,"),
            ":15: classes[1].en:",
            "'dog/puppy' cannot be a folder name",
        ),
        (
            lambda t: t.replace("shape: [8, 8]", "shape: [8, 8, 5]"),
            ":11: shape:",
            "[height, width, channels] with 1-4 channels",
        ),
        (
            lambda t: t.replace("dtype: uint8\n", "dtype: uint8\ncsv: {header: false}\n"),
            ":13: csv:",
            "`csv` is for format csv (this dataset's format is image-folder)",
        ),
        (
            lambda t: (
                t.replace("format: image-folder", "format: csv")
                .replace("pics.tar", "pics.csv")
                .replace("{file: pics.csv, count: 12}", "{file: pics2.csv, count: 12}")
                .replace("dtype: uint8\n", "dtype: uint8\ncsv: {label_column: 65}\n")
            ),
            ":13: csv.label_column:",
            "column 65 is past the 65 columns",
        ),
    ],
)
def test_manifest_mistakes_of_the_new_formats(
    tmp_path: Path, edit: Callable[[str], str], where: str, message: str
) -> None:
    archive = tmp_path / "pics.tar"
    write_tar(archive, {"train/cat/0.png": png(np.zeros((8, 8), np.uint8))})
    text = folder_manifest(archive, (8, 8))
    text = text.replace("{file: pics.tar, count: 12}", "{file: pics.tar, folder: x, count: 12}")
    edited = edit(text)
    assert edited != text
    path = tmp_path / "pics.yaml"
    path.write_text(edited)
    with pytest.raises(SpecError) as info:
        datasets.load_manifest_file(path)
    got = str(info.value)
    assert f"{path}{where}" in got and message in got, got


# --------------------------------------------------------------------------- specs


SPEC = """\
title: Tiny pictures
files:
  - name: m.py
questions:
  - id: q
    title: Q
    checks:
      - id: c
        kind: classifier
        module: m
        dataset: pics
        train: {{loop: grader, epochs: 1}}
        train_subset: {train}
        test_subset: {test}
        credit: {{floor: 0.5, target: 0.8}}
        points: 1
"""


@pytest.mark.parametrize("fmt", ["image-folder", "csv"])
def test_a_spec_using_such_a_dataset_validates_with_subsets_checked(
    tmp_path: Path, cli_env: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from autograder.settings import get_settings

    data = _data((8, 8))
    files = tmp_path / "files"
    if fmt == "csv":
        write_csvs(files, data)
        text = csv_manifest(files, (8, 8))
    else:
        files.mkdir()
        write_tar(files / "pics.tar", image_members(data))
        text = folder_manifest(files / "pics.tar", (8, 8))
    manifest = tmp_path / "pics.yaml"
    manifest.write_text(text)
    assert cli("data", "add", str(manifest)).exit_code == 0
    for sub in ("reference", "starters"):  # what `specs validate` wants beside a spec
        (tmp_path / sub / "good").mkdir(parents=True)
        (tmp_path / sub / "good" / "m.py").write_text("")
    for readme in ("README.md", "README.zh.md"):  # the starter's handout
        (tmp_path / "starters" / "good" / readme).write_text("# Tiny pictures\n")
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(tmp_path / "reference"))
    monkeypatch.setenv("AUTOGRADER_STARTERS_DIR", str(tmp_path / "starters"))
    get_settings.cache_clear()
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(SPEC.format(train=30, test=12))
    bad.write_text(SPEC.format(train=31, test=13))
    result = cli("specs", "validate", str(good))
    assert result.exit_code == 0, result.output
    assert f"ok  {good}" in result.output
    result = cli("specs", "validate", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:13: questions[0].checks[0].train_subset: 31 is more than the 30 images" in (
        result.output
    ), result.output
    assert "test_subset: 13 is more than the 12 images of pics's test split" in result.output


def test_the_readmes_example_manifests_validate(tmp_path: Path) -> None:
    """grading_specs/README.md's examples of both formats, sizes and checksums filled in."""
    from autograder.settings import PROJECT_ROOT

    text = (PROJECT_ROOT / "grading_specs" / "README.md").read_text()
    section = text.split("## Datasets", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    formats = []
    for block in blocks:
        filled = block.replace("size: BYTES", "size: 1000").replace(
            "sha256: HEX", "sha256: " + "a" * 64
        )
        filled = filled.replace("md5: HEX", "md5: " + "a" * 32)
        name = filled.split("\n", 1)[0].removeprefix("name: ")
        path = tmp_path / f"{name}.yaml"
        path.write_text(filled)
        spec = datasets.load_manifest_file(path)
        formats.append(spec.format + (" private" if spec.private else ""))
    assert formats == ["image-folder", "csv", "npy private"]
