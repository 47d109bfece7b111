"""Datasets declared by manifests, with the REAL MNIST from ../shared/data/mnist (never the
internet), Fashion-MNIST from Debian's package where scripts/setup.sh extracted it, and a
small synthetic .npy dataset.

Mirrors are exercised with a local HTTP server on 127.0.0.1; the permission checks run
as uid 65534 through setpriv when the tests run as root.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import json
import logging
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autograder import datasets
from autograder.datasets import (
    DatasetCorrupt,
    DatasetMissing,
    FetchError,
    IdxError,
    ensure_datasets,
    fetch,
    get_spec,
    load_prepared,
    local_source,
    parse_idx,
    status,
    verify,
)
from autograder.settings import PROJECT_ROOT, Settings
from autograder.specs.loader import SpecError

MNIST = get_spec("mnist", PROJECT_ROOT / "datasets")  # datasets/mnist.yaml

REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"
FIX = "autograder data fetch mnist --from ../shared/data/mnist"
NOBODY = 65534


def _shared_mnist() -> Path:
    configured = local_source(MNIST, Settings())
    return Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def shared() -> Path:
    folder = _shared_mnist()
    missing = [r.gz_name for r in MNIST.raw if not (folder / r.gz_name).is_file()]
    if missing:
        reason = f"the shared MNIST is not at {folder} (missing {', '.join(missing)})"
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="module")
def world_dir() -> Iterator[Path]:
    """A folder every uid can traverse (pytest's tmp_path is 0700 all the way down)."""
    folder = Path(tempfile.mkdtemp(prefix="ag-datasets-test-", dir="/tmp"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def fetched(shared: Path, world_dir: Path) -> tuple[Path, datasets.Report]:
    """One fetch --from the shared copy; tests that change files work on a copy."""
    data_dir = world_dir / "data"
    report = fetch("mnist", shared, data_dir=data_dir)
    return data_dir, report


@pytest.fixture
def data_copy(fetched: tuple[Path, datasets.Report], tmp_path: Path) -> Path:
    datasets.clear_verification_cache()
    target = tmp_path / "data"
    shutil.copytree(fetched[0], target)
    return target


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


# --------------------------------------------------------------------------- fetch --from


def test_fetch_from_shared_prepares_the_full_dataset(
    fetched: tuple[Path, datasets.Report],
) -> None:
    data_dir, report = fetched
    assert report.status.ok, report.status.describe()
    assert report.seconds < 30, f"fetch --from took {report.seconds:.1f}s"
    prepared = data_dir / "mnist" / "prepared"
    hidden = data_dir / "mnist" / "hidden"
    assert sorted(p.name for p in prepared.iterdir()) == [
        "manifest.json",
        "test_images.npy",
        "train_images.npy",
        "train_labels.npy",
    ]
    assert sorted(p.name for p in hidden.iterdir()) == ["manifest.json", "test_labels.npy"]

    train_x = np.load(prepared / "train_images.npy")
    train_y = np.load(prepared / "train_labels.npy")
    test_x = np.load(prepared / "test_images.npy")
    test_y = np.load(hidden / "test_labels.npy")
    assert (train_x.shape, train_x.dtype) == ((60000, 28, 28), np.uint8)
    assert (test_x.shape, test_x.dtype) == ((10000, 28, 28), np.uint8)
    assert (train_y.shape, train_y.dtype) == ((60000,), np.int64)
    assert (test_y.shape, test_y.dtype) == ((10000,), np.int64)
    for x in (train_x, test_x):
        assert (int(x.min()), int(x.max())) == (0, 255)
    assert 33.0 < train_x.mean() < 33.7  # the well-known MNIST mean, 0.1307 * 255
    train_counts = np.bincount(train_y, minlength=10)
    test_counts = np.bincount(test_y, minlength=10)
    assert len(train_counts) == len(test_counts) == 10
    assert train_counts.sum() == 60000 and train_counts.min() > 5000
    assert test_counts.sum() == 10000 and test_counts.min() > 800
    assert (int(train_y[0]), int(test_y[0])) == (5, 7)  # the famous first digits

    for raw in MNIST.raw:
        gz = data_dir / "mnist" / "raw" / raw.gz_name
        assert hashlib.md5(gzip.decompress(gz.read_bytes())).hexdigest() == raw.md5


def test_manifests_record_the_sha256_of_every_npy(fetched: tuple[Path, datasets.Report]) -> None:
    root = fetched[0] / "mnist"
    for sub in ("prepared", "hidden"):
        manifest = json.loads((root / sub / "manifest.json").read_text())
        assert manifest["dataset"] == "mnist"
        assert "Creative Commons" in manifest["attribution"]
        npys = sorted(p.name for p in (root / sub).glob("*.npy"))
        assert sorted(manifest["files"]) == npys
        for name, entry in manifest["files"].items():
            data = (root / sub / name).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert entry["size"] == len(data)


def test_status_verify_and_load_round_trip(fetched: tuple[Path, datasets.Report]) -> None:
    data_dir = fetched[0]
    quick = status("mnist", data_dir)
    assert quick.state == "present" and not quick.problems, quick.describe()
    full = verify("mnist", data_dir)
    assert full.ok and full.rehashed, full.describe()
    assert "all checksums recomputed" in full.describe()

    ds = load_prepared("mnist", data_dir=data_dir)
    assert ds.visible_dir == data_dir / "mnist" / "prepared"
    assert set(ds.files) == {"train_images", "train_labels", "test_images"}
    assert all(p.parent == ds.visible_dir and p.is_file() for p in ds.files.values())
    assert ds.test_labels.shape == (10000,) and ds.test_labels.dtype == np.int64
    assert not ds.test_labels.flags.writeable
    assert "hidden" not in str(ds.visible_dir) and ds.hidden_dir.name == "hidden"


def test_fetch_again_replaces_the_prepared_folders(shared: Path, data_copy: Path) -> None:
    before = (data_copy / "mnist" / "prepared" / "train_images.npy").stat().st_ino
    report = fetch("mnist", shared, data_dir=data_copy)
    assert report.status.ok
    assert (data_copy / "mnist" / "prepared" / "train_images.npy").stat().st_ino != before
    leftovers = [p.name for p in (data_copy / "mnist").iterdir() if p.name.startswith(".st")]
    assert leftovers == []


def test_fetch_from_uncompressed_files_in_torchvision_layout(shared: Path, tmp_path: Path) -> None:
    source = tmp_path / "tv"
    (source / "MNIST" / "raw").mkdir(parents=True)
    for raw in MNIST.raw:
        data = gzip.decompress((shared / raw.gz_name).read_bytes())
        (source / "MNIST" / "raw" / raw.name).write_bytes(data)
    data_dir = tmp_path / "data"
    report = fetch("mnist", source, data_dir=data_dir)
    assert report.status.ok, report.status.describe()
    assert "MNIST/raw" in report.messages[0]
    for raw in MNIST.raw:  # kept gzipped, as the mirrors serve them
        gz = (data_dir / "mnist" / "raw" / raw.gz_name).read_bytes()
        assert hashlib.md5(gzip.decompress(gz)).hexdigest() == raw.md5


def test_fetch_from_a_folder_without_the_files_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError, match="train-images-idx3-ubyte not found in .*empty"):
        fetch("mnist", tmp_path / "empty", data_dir=tmp_path / "data")
    assert status("mnist", tmp_path / "data").state == "missing"


# --------------------------------------------------------------------------- corruption


def test_a_flipped_byte_is_detected_on_load(data_copy: Path) -> None:
    load_prepared("mnist", data_dir=data_copy)  # verified and cached
    target = data_copy / "mnist" / "prepared" / "train_images.npy"
    st = target.stat()
    _flip_byte(target, 20_000_000)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # the cache is not fooled by mtime
    with pytest.raises(DatasetCorrupt) as info:
        load_prepared("mnist", data_dir=data_copy)
    message = str(info.value)
    assert "train_images.npy" in message and "sha256" in message and FIX in message
    assert status("mnist", data_copy).ok  # the cheap check compares sizes only ...
    full = verify("mnist", data_copy)  # ... the full one rehashes
    assert full.state == "corrupt" and "train_images.npy" in full.describe()
    assert FIX in full.describe()


def test_corrupt_hidden_labels_are_detected(data_copy: Path) -> None:
    _flip_byte(data_copy / "mnist" / "hidden" / "test_labels.npy", 5000)
    with pytest.raises(DatasetCorrupt, match="test_labels.npy"):
        load_prepared("mnist", data_dir=data_copy)


def test_a_truncated_npy_is_seen_by_the_cheap_status(data_copy: Path) -> None:
    target = data_copy / "mnist" / "prepared" / "test_images.npy"
    target.write_bytes(target.read_bytes()[:1000])
    st = status("mnist", data_copy)
    assert st.state == "corrupt"
    assert any("test_images.npy is 1000 bytes" in p for p in st.problems)
    with pytest.raises(DatasetCorrupt, match="test_images.npy"):
        load_prepared("mnist", verify=False, data_dir=data_copy)


def test_a_missing_manifest_entry_is_corrupt(data_copy: Path) -> None:
    path = data_copy / "mnist" / "prepared" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["files"]["train_labels.npy"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(DatasetCorrupt, match="no valid entry for train_labels.npy"):
        load_prepared("mnist", data_dir=data_copy)


def test_missing_dataset_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DatasetMissing) as info:
        load_prepared("mnist", data_dir=tmp_path)
    assert FIX in str(info.value) and "internet" in str(info.value)
    st = status("mnist", tmp_path)
    assert st.state == "missing" and FIX in st.describe()


def test_verification_is_cached_per_process(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = datasets._sha256_file

    def counting(path: Path) -> str:
        calls.append(path.name)
        return real(path)

    monkeypatch.setattr(datasets, "_sha256_file", counting)
    load_prepared("mnist", data_dir=data_copy)
    assert sorted(calls) == sorted(a.file for a in MNIST.arrays)
    calls.clear()
    started = time.perf_counter()
    for _ in range(20):
        load_prepared("mnist", data_dir=data_copy)
    assert calls == []
    assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- IDX


def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def test_parse_idx_accepts_a_well_formed_file() -> None:
    arr = parse_idx(_idx(0x803, (2, 2, 3), bytes(range(12))), expect_magic=0x803)
    assert arr.shape == (2, 2, 3) and arr.dtype == np.uint8 and arr[1, 1, 2] == 11


@pytest.mark.parametrize(
    ("blob", "kwargs", "message"),
    [
        (b"\x00\x00", {}, "too short for an IDX header"),
        (b"PK\x03\x04" + bytes(20), {}, "not an IDX file .*0x504b0304"),
        (_idx(0x801, (4,), bytes(4)), {"expect_magic": 0x803}, "wrong IDX magic number"),
        (_idx(0x803, (2, 28, 28), bytes(100)), {}, "truncated: the header says 2x28x28"),
        (_idx(0x801, (4,), bytes(6)), {}, "2 unexpected bytes after"),
        (_idx(0x801, (4,), bytes(4)), {"expect_shape": (5,)}, "shape 4, expected 5"),
        (b"\x00\x00\x08\x03\x00\x00", {}, "truncated IDX header"),
    ],
)
def test_parse_idx_refuses_bad_files_clearly(blob: bytes, kwargs: dict, message: str) -> None:
    with pytest.raises(IdxError, match=message):
        parse_idx(blob, "x-idx", **kwargs)


def _source_with(shared: Path, tmp_path: Path, name: str, blob: bytes) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for raw in MNIST.raw:
        if raw.name != name:
            shutil.copy(shared / raw.gz_name, source / raw.gz_name)
    (source / name).write_bytes(blob)
    return source


def test_fetch_refuses_a_truncated_idx_file(shared: Path, tmp_path: Path) -> None:
    labels = gzip.decompress((shared / "train-labels-idx1-ubyte.gz").read_bytes())
    source = _source_with(shared, tmp_path, "train-labels-idx1-ubyte", labels[:30000])
    with pytest.raises(FetchError, match="train-labels-idx1-ubyte: truncated: the header"):
        fetch("mnist", source, data_dir=tmp_path / "data")
    assert status("mnist", tmp_path / "data").state == "missing"


def test_fetch_refuses_a_wrong_magic_number(shared: Path, tmp_path: Path) -> None:
    labels = gzip.decompress((shared / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = labels[:3] + b"\x03" + labels[4:]
    source = _source_with(shared, tmp_path, "t10k-labels-idx1-ubyte", bad)
    with pytest.raises(FetchError, match="wrong IDX magic number 0x00000803, expected 0x00000801"):
        fetch("mnist", source, data_dir=tmp_path / "data")


def test_fetch_refuses_a_cut_gzip_file(shared: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(shared, source)
    gz = source / "t10k-images-idx3-ubyte.gz"
    gz.chmod(0o644)
    gz.write_bytes(gz.read_bytes()[:100_000])
    with pytest.raises(FetchError, match="not a complete gzip file"):
        fetch("mnist", source, data_dir=tmp_path / "data")


def test_fetch_refuses_a_checksum_mismatch(shared: Path, tmp_path: Path) -> None:
    labels = bytearray(gzip.decompress((shared / "train-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # still a valid IDX file, one label changed
    source = _source_with(shared, tmp_path, "train-labels-idx1-ubyte", bytes(labels))
    with pytest.raises(FetchError, match="MD5 .* expected a25bea736e30d166cdddb491f175f624"):
        fetch("mnist", source, data_dir=tmp_path / "data")


# --------------------------------------------------------------------------- mirrors


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(shared: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """http://127.0.0.1:PORT/ serving ROOT; ROOT/mnist/ has the real gz files."""
    root = tmp_path / "www"
    (root / "mnist").mkdir(parents=True)
    for raw in MNIST.raw:
        shutil.copy(shared / raw.gz_name, root / "mnist" / raw.gz_name)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()
    thread.join(5)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_mirrors_a_404_falls_through_to_the_next(
    http_root: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = http_root
    lines: list[str] = []
    report = fetch(
        "mnist",
        data_dir=tmp_path / "data",
        mirrors=[f"{base}/nothing-here/", f"{base}/mnist"],
        progress=lines.append,
    )
    assert report.status.ok, report.status.describe()
    assert report.source == "mirrors"
    assert report.downloaded == [f"{base}/mnist/{r.gz_name}" for r in MNIST.raw]
    assert sum("HTTP 404" in line and "trying the next mirror" in line for line in lines) == 4
    assert lines == report.messages
    assert load_prepared("mnist", data_dir=tmp_path / "data").test_labels[0] == 7
    for raw in MNIST.raw:
        assert (tmp_path / "data" / "mnist" / "raw" / raw.gz_name).is_file()
    assert not list((tmp_path / "data" / "mnist" / "raw").glob(".*part"))

    # A second fetch reuses the raw files that are already here and intact.
    again = fetch("mnist", data_dir=tmp_path / "data", mirrors=[f"{base}/mnist/"])
    assert again.downloaded == [] and all("already here" in m for m in again.messages[:4])


def test_mirrors_bad_content_and_unreachable_mirrors_are_skipped(
    http_root: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = http_root
    (root / "bad").mkdir()
    for raw in MNIST.raw:  # a mirror serving the wrong bytes under the right names
        (root / "bad" / raw.gz_name).write_bytes(gzip.compress(b"<html>not mnist</html>"))
    lines: list[str] = []
    report = fetch(
        "mnist",
        data_dir=tmp_path / "data",
        mirrors=[_closed_port_url(), f"{base}/bad/", f"{base}/mnist/"],
        progress=lines.append,
    )
    assert report.status.ok
    assert sum("unreachable" in line for line in lines) == 1  # tried once, then skipped
    assert sum("not an IDX file" in line for line in lines) == 4


def test_mirrors_all_failing_is_a_clear_error(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = http_root
    with pytest.raises(FetchError) as info:
        fetch("mnist", data_dir=tmp_path / "data", mirrors=[_closed_port_url(), f"{base}/no/"])
    message = str(info.value)
    assert "could not fetch train-images-idx3-ubyte.gz from any mirror" in message
    assert "unreachable" in message and "HTTP 404" in message
    assert status("mnist", tmp_path / "data").state == "missing"


# --------------------------------------------------------------------------- permissions


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_modes_prepared_world_readable_hidden_owner_only(
    fetched: tuple[Path, datasets.Report],
) -> None:
    root = fetched[0] / "mnist"
    assert _mode(root) == 0o711
    assert _mode(root / "prepared") == 0o755
    assert {_mode(p) for p in (root / "prepared").iterdir()} == {0o644}
    for sub in ("hidden", "raw"):
        assert _mode(root / sub) == 0o700
        assert {_mode(p) for p in (root / sub).iterdir()} == {0o600}


def test_loose_modes_on_hidden_are_reported_and_fixed_by_fetch(
    shared: Path, data_copy: Path
) -> None:
    (data_copy / "mnist" / "hidden").chmod(0o755)
    st = status("mnist", data_copy)
    assert st.state == "corrupt"
    assert any("hidden/ is mode 0755" in p and "0700" in p for p in st.problems)
    assert fetch("mnist", shared, data_dir=data_copy).status.ok
    assert _mode(data_copy / "mnist" / "hidden") == 0o700


NOBODY_PROBE = """
import json, os, sys
root = sys.argv[1]
def can_read(path):
    try:
        with open(path, "rb") as f:
            f.read(16)
        return True
    except OSError:
        return False
def can_list(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False
print(json.dumps({
    "prepared_files": all(can_read(os.path.join(root, "prepared", n)) for n in
        ("train_images.npy", "train_labels.npy", "test_images.npy", "manifest.json")),
    "prepared_list": can_list(os.path.join(root, "prepared")),
    "hidden_labels": can_read(os.path.join(root, "hidden", "test_labels.npy")),
    "hidden_list": can_list(os.path.join(root, "hidden")),
    "raw_labels": can_read(os.path.join(root, "raw", "t10k-labels-idx1-ubyte.gz")),
    "root_list": can_list(root),
}))
"""


def test_uid_65534_reads_prepared_and_nothing_hidden(
    fetched: tuple[Path, datasets.Report],
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to uid 65534 (modes are checked by another test)")
    if not shutil.which("setpriv"):
        reason = "setpriv is not installed (util-linux)"
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    python = Path("/usr/bin/python3")  # a pyenv under /root is out of uid 65534's reach
    if not python.exists():
        pytest.skip("no /usr/bin/python3 to run as uid 65534")
    root = fetched[0] / "mnist"
    assert not status("mnist", fetched[0]).warnings  # reachable from / by the sandbox uids
    out = subprocess.run(
        ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
        + [str(python), "-c", NOBODY_PROBE, str(root)],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
        check=True,
    )
    seen = json.loads(out.stdout)
    assert seen == {
        "prepared_files": True,
        "prepared_list": True,
        "hidden_labels": False,
        "hidden_list": False,
        "raw_labels": False,
        "root_list": False,
    }


def test_unreachable_data_dir_is_a_warning(data_copy: Path) -> None:
    # pytest's tmp_path is 0700: the sandbox uids could not reach this copy.
    st = status("mnist", data_copy)
    assert st.ok
    assert any("cannot reach" in w and "o+x" in w for w in st.warnings)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from autograder.settings import get_settings

    data_dir = tmp_path / "data"
    monkeypatch.setenv("AUTOGRADER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUTOGRADER_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_cli_fetch_status_verify(shared: Path, cli_env: Path) -> None:
    from autograder.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["data", "status"])
    assert result.exit_code == 1
    assert "mnist: missing" in result.output and FIX in result.output

    result = runner.invoke(main, ["data", "fetch", "mnist", "--from", str(shared)])
    assert result.exit_code == 0, result.output
    assert "t10k-labels-idx1-ubyte: checked (MD5 27ae3e4e09519cfbb04c329615203637)" in (
        result.output
    )
    assert "mnist: present" in result.output and "done in" in result.output

    result = runner.invoke(main, ["data", "status", "mnist"])
    assert result.exit_code == 0 and "mnist: present" in result.output

    result = runner.invoke(main, ["data", "verify", "mnist"])
    assert result.exit_code == 0, result.output
    assert "all checksums recomputed" in result.output

    _flip_byte(cli_env / "mnist" / "prepared" / "test_images.npy", 1_000_000)
    result = runner.invoke(main, ["data", "verify", "mnist"])
    assert result.exit_code == 1
    assert "mnist: corrupt" in result.output and "test_images.npy" in result.output
    assert FIX in result.output


def test_cli_errors_exit_non_zero(tmp_path: Path, cli_env: Path) -> None:
    from autograder.cli import main

    runner = CliRunner()
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["data", "fetch", "mnist", "--from", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "Error: train-images-idx3-ubyte not found" in result.output
    result = runner.invoke(main, ["data", "fetch", "mnist", "--from", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(main, ["data", "fetch", "cifar"])
    assert result.exit_code == 2 and "mnist" in result.output


# --------------------------------------------------------------------------- make run


def _settings(tmp_path: Path, source: Path | None) -> Settings:
    """Only MNIST declared (a copy of its manifest), with ``source`` as its local folder."""
    folder = tmp_path / "course" / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "datasets" / "mnist.yaml", folder / "mnist.yaml")
    return Settings(
        home=tmp_path / "home",
        data_dir=tmp_path / "data",
        datasets_dir=folder,
        dataset_sources={"mnist": source},
    )


def test_mnist_source_defaults_to_the_manifests_local_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AUTOGRADER_MNIST_SOURCE", raising=False)
    expected = (PROJECT_ROOT.parent / "shared" / "data" / "mnist").resolve()
    assert MNIST.local_hint == "../shared/data/mnist"  # relative to the course folder
    assert local_source(MNIST, Settings()) == expected
    monkeypatch.setenv("AUTOGRADER_MNIST_SOURCE", str(tmp_path))
    assert local_source(MNIST, Settings()) == tmp_path
    assert local_source(MNIST, Settings(dataset_sources={"mnist": None})) is None


def test_ensure_datasets_when_nothing_is_available(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, tmp_path / "no-such-folder")
    caplog.set_level(logging.INFO, logger="autograder.datasets")
    started = time.monotonic()
    results = ensure_datasets(settings, mirrors=[_closed_port_url()])
    assert time.monotonic() - started < 10
    assert results["mnist"].state == "missing"
    text = caplog.text
    assert "The MNIST homework cannot be graded yet" in text
    assert FIX in text and "Everything else keeps working" in text
    assert "no-such-folder: not found" in " ".join(results["mnist"].problems)
    assert "unreachable" in " ".join(results["mnist"].problems)


def test_ensure_datasets_fills_from_the_local_source_then_says_present(
    shared: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, shared)
    caplog.set_level(logging.INFO, logger="autograder.datasets")
    results = ensure_datasets(settings, mirrors=[])
    assert results["mnist"].ok
    assert f"fetched from local folder {shared}" in caplog.text
    caplog.clear()
    assert ensure_datasets(settings, mirrors=[])["mnist"].ok
    assert "dataset mnist: present in" in caplog.text
    assert "fetching" not in caplog.text


def test_ensure_datasets_falls_back_to_the_mirrors(
    http_root: tuple[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = http_root
    caplog.set_level(logging.INFO, logger="autograder.datasets")
    results = ensure_datasets(_settings(tmp_path, None), mirrors=[f"{base}/mnist/"])
    assert results["mnist"].ok
    assert "fetched from the mirrors" in caplog.text


# --------------------------------------------------------------------------- manifests

NPY_MANIFEST = """\
name: {name}
title: Tiny squares
licence: CC0 1.0
attribution: made up for the tests
format: npy
files:
  - {{name: train_x.npy, size: {tx}, sha256: {htx}}}
  - {{name: train_y.npy, size: {ty}, md5: {hty}}}
  - {{name: test_x.npy, size: {sx}, sha256: {hsx}}}
  - {{name: test_y.npy, size: {sy}, sha256: {hsy}}}
splits:
  train: {{images: train_x.npy, labels: train_y.npy, count: 50}}
  test: {{images: test_x.npy, labels: test_y.npy, count: 20}}
shape: [4, 4]
dtype: uint8
classes:
  - {{en: dark, zh: 暗}}
  - {{en: mid, zh: 中}}
  - {{en: light, zh: 亮}}
"""


def _npy_dataset(tmp_path: Path, name: str = "tiny") -> tuple[Path, Path]:
    """(a folder with the four .npy files, the text of their manifest at PATH)."""
    rng = np.random.default_rng(0)
    files = tmp_path / "tiny-files"
    files.mkdir()
    arrays = {
        "train_x.npy": rng.integers(0, 256, (50, 4, 4), dtype=np.uint8),
        "train_y.npy": rng.integers(0, 3, 50).astype(np.int32),
        "test_x.npy": rng.integers(0, 256, (20, 4, 4), dtype=np.uint8),
        "test_y.npy": rng.integers(0, 3, 20).astype(np.uint8),
    }
    fields: dict[str, object] = {"name": name}
    for fname, key in zip(arrays, ("tx", "ty", "sx", "sy"), strict=True):
        np.save(files / fname, arrays[fname], allow_pickle=False)
        data = (files / fname).read_bytes()
        fields[key] = len(data)
        fields["h" + key] = (
            hashlib.md5(data).hexdigest() if key == "ty" else hashlib.sha256(data).hexdigest()
        )
    manifest = tmp_path / "manifest-to-add.yaml"
    manifest.write_text(NPY_MANIFEST.format(**fields))
    return files, manifest


def test_the_shipped_manifests_declare_mnist_and_fashion_mnist() -> None:
    known = datasets.declared(PROJECT_ROOT / "datasets")
    assert set(known) >= {"mnist", "fashion-mnist"}
    fashion = known["fashion-mnist"]
    assert fashion.licence.startswith("MIT") and "Zalando SE" in fashion.attribution
    assert fashion.debian_package == "dataset-fashion-mnist"
    assert fashion.class_names[0] == "T-shirt/top" and fashion.class_names[9] == "Ankle boot"
    assert fashion.class_names_zh[1] == "裤子"
    assert fashion.counts == {"train": 60000, "test": 10000}
    assert [a.file for a in fashion.arrays if a.hidden] == ["test_labels.npy"]
    assert MNIST.class_names[6] == "digit 6"
    # the raw files MNIST's distribution publishes, as the Python registry had them
    assert {r.name: r.md5 for r in MNIST.raw}["t10k-labels-idx1-ubyte"] == (
        "27ae3e4e09519cfbb04c329615203637"
    )


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (lambda t: t.replace("licence: CC0 1.0\n", ""), ":1: licence:", "required key"),
        (lambda t: t.replace("format: npy", "fromat: npy"), ":5: fromat:", "did you mean 'format'"),
        (lambda t: t.replace("format: npy", "format: png"), ":5: format:", "'png' is not one of"),
        (
            lambda t: t.replace("images: test_x.npy", "images: test_X.npy"),
            ":13: splits.test.images:",
            "'test_X.npy' is not among files",
        ),
        (
            lambda t: t.replace("md5: ", "sha1: "),
            ":8: files[1].sha1:",
            "unknown key 'sha1'",
        ),
        (lambda t: t.replace("name: tiny", "name: other"), ":1: name:", "differs from the file"),
        (lambda t: t.replace("shape: [4, 4]", "shape: [0, 4]"), ":14: shape[0]:", "greater"),
        (lambda t: t + "title: again\n", ":20: title:", "key appears twice"),
    ],
)
def test_manifest_mistakes_name_file_line_and_key(
    tmp_path: Path, edit: object, where: str, message: str
) -> None:
    _, manifest = _npy_dataset(tmp_path)
    path = tmp_path / "tiny.yaml"
    path.write_text(edit(manifest.read_text()))  # type: ignore[operator]
    with pytest.raises(SpecError) as info:
        datasets.load_manifest_file(path)
    text = str(info.value)
    assert f"{path}{where}" in text and message in text, text


def test_an_idx_file_size_that_does_not_fit_its_split_is_refused(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "datasets" / "mnist.yaml").read_text()
    path = tmp_path / "mnist.yaml"
    path.write_text(text.replace("count: 60000", "count: 6000"))
    with pytest.raises(SpecError) as info:
        datasets.load_manifest_file(path)
    assert "files[0].size: train-images-idx3-ubyte is 47040016 bytes" in str(info.value)
    assert "files[1].size" in str(info.value)


def test_an_npy_dataset_is_fetched_prepared_and_loaded(tmp_path: Path) -> None:
    files, manifest = _npy_dataset(tmp_path)
    folder = tmp_path / "datasets"
    folder.mkdir()
    shutil.copy(manifest, folder / "tiny.yaml")
    data_dir = tmp_path / "data"
    report = fetch("tiny", files, data_dir=data_dir, datasets_dir=folder)
    assert report.status.ok, report.status.describe()
    root = data_dir / "tiny"
    assert sorted(p.name for p in (root / "raw").iterdir()) == sorted(
        ["train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy"]
    )
    assert sorted(p.name for p in (root / "hidden").iterdir()) == [
        "manifest.json",
        "test_labels.npy",
    ]
    assert not (root / "prepared" / "test_labels.npy").exists()
    manifest_json = json.loads((root / "prepared" / "manifest.json").read_text())
    assert manifest_json["licence"] == "CC0 1.0"
    ds = load_prepared("tiny", data_dir=data_dir, datasets_dir=folder)
    assert ds.test_labels.dtype == np.int64
    assert (ds.test_labels == np.load(files / "test_y.npy")).all()
    train_y = np.load(ds.files["train_labels"])
    assert train_y.dtype == np.int64 and train_y.shape == (50,)
    assert verify("tiny", data_dir, datasets_dir=folder).ok

    # a changed file is refused by its checksum; a label past the classes by its range
    blob = (files / "test_x.npy").read_bytes()
    (files / "test_x.npy").write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(FetchError, match="test_x.npy: sha256 .* of the file, expected"):
        fetch("tiny", files, data_dir=tmp_path / "data2", datasets_dir=folder)


def test_npy_labels_outside_the_classes_are_refused(tmp_path: Path) -> None:
    files, manifest = _npy_dataset(tmp_path)
    labels = np.load(files / "train_y.npy")
    labels[3] = 7  # three classes are declared
    np.save(files / "train_y.npy", labels, allow_pickle=False)
    data = (files / "train_y.npy").read_bytes()
    text = manifest.read_text()
    old = text.split("train_y.npy, size: ")[1].split("}")[0]
    new = f"{len(data)}, md5: {hashlib.md5(data).hexdigest()}"
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(text.replace(old, new))
    with pytest.raises(FetchError, match="train_y.npy: a value above 2"):
        fetch("tiny", files, data_dir=tmp_path / "data", datasets_dir=folder)


def test_cli_add_fetch_status_verify_a_new_dataset(
    tmp_path: Path, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autograder.cli import main
    from autograder.settings import get_settings

    folder = tmp_path / "course" / "datasets"
    monkeypatch.setenv("AUTOGRADER_DATASETS_DIR", str(folder))
    get_settings.cache_clear()
    files, manifest = _npy_dataset(tmp_path)
    runner = CliRunner()

    bad = tmp_path / "bad.yaml"
    bad.write_text(manifest.read_text().replace("count: 20", "count: many"))
    result = runner.invoke(main, ["data", "add", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:13: splits.test.count:" in result.output and "nothing added" in result.output
    assert not folder.exists() or not list(folder.iterdir())

    result = runner.invoke(main, ["data", "add", str(manifest)])
    assert result.exit_code == 0, result.output
    assert (folder / "tiny.yaml").read_text() == manifest.read_text()
    assert "tiny: declared in" in result.output
    assert "autograder data fetch tiny --from DIR" in result.output

    result = runner.invoke(main, ["data", "status"])
    assert result.exit_code == 1 and "tiny: missing" in result.output
    result = runner.invoke(main, ["data", "fetch", "tiny", "--from", str(files)])
    assert result.exit_code == 0, result.output
    assert "tiny: present" in result.output
    result = runner.invoke(main, ["data", "verify", "tiny"])
    assert result.exit_code == 0 and "all checksums recomputed" in result.output
    result = runner.invoke(main, ["data", "status"])
    assert result.exit_code == 0 and "tiny: present" in result.output

    # another manifest under the same name is not silently replaced
    other = tmp_path / "other.yaml"
    other.write_text(manifest.read_text().replace("Tiny squares", "Other squares"))
    result = runner.invoke(main, ["data", "add", str(other)])
    assert result.exit_code == 1 and "--replace" in result.output
    result = runner.invoke(main, ["data", "add", "--replace", str(other)])
    assert result.exit_code == 0 and "Other squares" in (folder / "tiny.yaml").read_text()


FASHION = PROJECT_ROOT / ".autograder" / "debian" / "dataset-fashion-mnist"


def test_fashion_mnist_from_the_extracted_debian_package(tmp_path: Path) -> None:
    if not (FASHION / "usr" / "share" / "datasets" / "fashion-mnist").is_dir():
        reason = f"Debian's dataset-fashion-mnist is not extracted in {FASHION} (scripts/setup.sh)"
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    report = fetch("fashion-mnist", FASHION, data_dir=tmp_path / "data")
    assert report.status.ok, report.status.describe()
    ds = load_prepared("fashion-mnist", data_dir=tmp_path / "data")
    assert ds.test_labels.shape == (10000,)
    assert np.bincount(ds.test_labels).tolist() == [1000] * 10
    train_x = np.load(ds.files["train_images"])
    assert train_x.shape == (60000, 28, 28) and train_x.dtype == np.uint8
