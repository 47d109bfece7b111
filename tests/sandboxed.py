"""Helpers for tests that grade through the real bubblewrap sandbox (no database needed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from autograder.grading.report import GradeReport
from autograder.settings import PROJECT_ROOT, Settings
from autograder.specs.loader import LoadedSpec, load_spec_file
from worker.pipeline import JobContext, grade
from worker.sandbox import SandboxUnavailable, get_backend

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_SPEC = FIXTURES / "specs" / "mini.yaml"
MINI_REFERENCE = FIXTURES / "reference" / "mini"
REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"


# The backend these helpers grade with: "bwrap" (every box cold) unless a test selects
# another with use_backend: "bwrap-pool" (boxes started ahead of demand, each used once:
# worker/sandbox/pool.py) or "docker". tests/test_hostile.py runs every case on each.
_BACKEND = "bwrap"


def use_backend(name: str) -> None:
    global _BACKEND  # noqa: PLW0603 - the backend the sandbox tests of this process use
    _BACKEND = name


def sandbox_settings(tmp_path: Path) -> Settings:
    settings = Settings(
        home=tmp_path / "home",
        jobs_dir=Path("/tmp") / f"ag-jobs-t{os.getpid()}",
        sandbox_pool_size=2 if _BACKEND == "bwrap-pool" else 0,
    )
    if _BACKEND == "docker":
        from tests.docker_engine import docker_settings

        settings = docker_settings(settings)
    return settings


def require_sandbox(settings: Settings) -> None:
    """Fail closed: a test that needs the sandbox is skipped (or fails under make test)."""
    try:
        get_backend(settings).check()
    except SandboxUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"sandbox unavailable: {exc}")
        pytest.skip(f"sandbox unavailable: {exc}")


def grade_source(
    tmp_path: Path,
    source: str,
    spec: LoadedSpec | None = None,
    seed: int = 1234,
    reference: Path = MINI_REFERENCE,
    filename: str = "mini.py",
) -> GradeReport:
    settings = sandbox_settings(tmp_path)
    require_sandbox(settings)
    folder = tmp_path / "submission"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / filename).write_text(source)
    loaded = spec or load_spec_file(MINI_SPEC)
    return grade(JobContext(loaded, folder, reference, seed, get_backend(settings), settings))


def only_checks(loaded: LoadedSpec, only: list[str]) -> LoadedSpec:
    """The spec narrowed to some checks ("question/check"), e.g. to grade a submission
    whose bug lies in one check without training every model of the homework again."""
    from autograder.specs import samples

    narrowed = samples.only_checks(loaded, only)
    found = {f"{q.id}/{c.id}" for q, c in narrowed.spec.checks()}
    assert found == set(only), f"unknown checks: {set(only) - found}"
    return narrowed


def grade_folder(
    tmp_path: Path, slug: str, folder: Path, seed: int = 99, only: list[str] | None = None
) -> GradeReport:
    """Grade ``folder`` against a shipped homework (``only``: just those checks)."""
    settings = sandbox_settings(tmp_path)
    require_sandbox(settings)
    loaded = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{slug}.yaml")
    if only:
        loaded = only_checks(loaded, only)
    if any(getattr(check, "dataset", None) for _, check in loaded.spec.checks()):
        settings = settings.model_copy(update={"data_dir": prepared_mnist()})
    reference = PROJECT_ROOT / "reference_solutions" / slug
    return grade(JobContext(loaded, folder, reference, seed, get_backend(settings), settings))


def by_check(report: GradeReport) -> dict[str, dict]:
    """Each check's outcome, by ``question/check``, as the row a run stores."""
    return {o.name: o.model_dump() for o in report.outcomes}


MINI_MNIST_SPEC = FIXTURES / "specs" / "mini-mnist.yaml"
MINI_MNIST = FIXTURES / "reference" / "mini-mnist"
MINI_GRADIENT_SPEC = FIXTURES / "specs" / "mini-gradient.yaml"
MINI_GRADIENT = FIXTURES / "reference" / "mini-gradient"
MINI_GENERATIVE_SPEC = FIXTURES / "specs" / "mini-generative.yaml"
MINI_GENERATIVE = FIXTURES / "reference" / "mini-generative"
MINI_SEQUENCE_SPEC = FIXTURES / "specs" / "mini-sequence.yaml"
MINI_SEQUENCE = FIXTURES / "reference" / "mini-sequence"
MINI_OUTPUT_SPEC = FIXTURES / "specs" / "mini-output.yaml"
MINI_OUTPUT = FIXTURES / "reference" / "mini-output"
MINI_SCRIPT_SPEC = FIXTURES / "specs" / "mini-script.yaml"
MINI_SCRIPT = FIXTURES / "reference" / "mini-script"
SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "data" / "mnist"
DEBIAN_FASHION_MNIST = PROJECT_ROOT / ".autograder" / "debian" / "dataset-fashion-mnist"


def prepared_mnist() -> Path:
    """A data folder holding the real MNIST (and Fashion-MNIST, where scripts/setup.sh has
    extracted Debian's package), prepared once per test process.

    It lives directly under /tmp (mode 0711) because the sandbox uids must traverse it.
    """
    global _MNIST_DIR  # noqa: PLW0603 - prepared once per test process
    if _MNIST_DIR is None:
        from autograder import datasets

        if not SHARED_MNIST.is_dir():
            if REQUIRE:
                pytest.fail(f"MNIST not found at {SHARED_MNIST}")
            pytest.skip(f"MNIST not found at {SHARED_MNIST}")
        folder = Path(f"/tmp/ag-test-data-{os.getpid()}")
        folder.mkdir(mode=0o711, exist_ok=True)
        folder.chmod(0o711)
        datasets.fetch("mnist", SHARED_MNIST, data_dir=folder)
        if (DEBIAN_FASHION_MNIST / "usr").is_dir():  # extracted by scripts/setup.sh
            datasets.fetch("fashion-mnist", DEBIAN_FASHION_MNIST, data_dir=folder)
        _MNIST_DIR = folder
    return _MNIST_DIR


_MNIST_DIR: Path | None = None


def grade_mnist(
    tmp_path: Path, folder: Path, spec: LoadedSpec | None = None, on_progress=None
) -> GradeReport:  # type: ignore[no-untyped-def]
    settings = sandbox_settings(tmp_path).model_copy(update={"data_dir": prepared_mnist()})
    require_sandbox(settings)
    loaded = spec or load_spec_file(MINI_MNIST_SPEC)
    return grade(
        JobContext(
            loaded, folder, MINI_MNIST, 5, get_backend(settings), settings, on_progress=on_progress
        )
    )
