"""GPU jobs: queue routing, the CPU fallback, and what a box is given.

No GPU exists on this machine: the device nodes below are plain files in a temporary
folder standing in for /dev (mocked, and said so); running CUDA inside a box can only be
checked on a GPU host.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from autograder.models import GradingRun, RunState, utcnow
from autograder.settings import Settings
from autograder.specs.loader import load_spec_text
from tests.factories import submit_folder, wait_final
from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox
from worker.gpus import assign_gpu, worker_gpus
from worker.reconciler import reconcile_once
from worker.sandbox.base import GpuAssignment, SandboxUnavailable
from worker.sandbox.bwrap import gpu_args, gpu_env


@pytest.fixture
def fake_dev(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (dev / name).touch()
    return dev


def test_a_box_gets_only_its_gpu(fake_dev):
    args = gpu_args(GpuAssignment(index=1, memory_mb=2048), dev=fake_dev)
    assert ["--dev-bind", str(fake_dev / "nvidia1"), str(fake_dev / "nvidia1")] == args[:3]
    assert str(fake_dev / "nvidia0") not in args
    assert "/dev/nvidiactl" in args and "/dev/nvidia-uvm" in args
    assert "/dev/nvidia-uvm-tools" not in args  # absent on this "host"
    assert gpu_args(None) == []


def test_missing_gpu_node_fails_closed(fake_dev):
    with pytest.raises(SandboxUnavailable, match="nvidia7"):
        gpu_args(GpuAssignment(index=7, memory_mb=1), dev=fake_dev)


def test_mps_caps_pinned_memory(tmp_path):
    env = gpu_env(GpuAssignment(index=0, memory_mb=3000, mps_pipe_dir=tmp_path))
    assert env["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=3000M"
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert gpu_env(None) == {"CUDA_VISIBLE_DEVICES": ""}
    args = gpu_args(GpuAssignment(0, 1, tmp_path), dev=_dev_with(tmp_path, "nvidia0"))
    assert ["--bind", str(tmp_path), "/run/nvidia-mps"] == args[-3:]


def _dev_with(tmp_path, *names):
    dev = tmp_path / "devx"
    dev.mkdir(exist_ok=True)
    for n in names:
        (dev / n).touch()
    return dev


def test_worker_gpus_from_settings_or_devices(fake_dev):
    assert worker_gpus(Settings(gpu_devices="0,2")) == [0, 2]
    assert worker_gpus(Settings(gpu_devices="none")) == []
    assert worker_gpus(Settings(), dev=fake_dev) == [0, 1]


def _gpu_spec(fallback: bool):
    text = MINI_SPEC.read_text().replace(
        "resources:\n", f"resources:\n  device: gpu\n  cpu_fallback: {str(fallback).lower()}\n"
    )
    return load_spec_text(text, "mini", "mini.yaml")


def test_cpu_jobs_get_no_gpu():
    spec = load_spec_text(MINI_SPEC.read_text(), "mini", "mini.yaml").spec
    assert assign_gpu(Settings(gpu_devices="0"), spec, 1) is None
    gpu = assign_gpu(Settings(gpu_devices="0,1"), _gpu_spec(False).spec, 3)
    assert gpu == GpuAssignment(index=1, memory_mb=4096, mps_pipe_dir=None)


def _queued_gpu_run(db, tmp_path, fallback: bool, name: str) -> GradingRun:
    spec_file = tmp_path / "mini.yaml"
    spec_file.write_text(_gpu_spec(fallback).source)
    run = submit_folder(db, spec_file, MINI_REFERENCE, user=name)
    run.queue = "gpu"
    run.queued_at = utcnow() - timedelta(hours=1)
    run.enqueued_at = utcnow()
    db.commit()
    return run


def test_waiting_gpu_job_falls_back_when_allowed(configured, db, tmp_path):
    allowed = _queued_gpu_run(db, tmp_path, True, "a")
    assert reconcile_once()["fallback"] == 1
    db.expire_all()
    assert db.get(GradingRun, allowed.id).queue == "cpu"


def test_strict_gpu_job_stays_on_the_gpu_queue(configured, db, tmp_path):
    strict = _queued_gpu_run(db, tmp_path, False, "b")
    assert reconcile_once()["fallback"] == 0
    db.expire_all()
    assert db.get(GradingRun, strict.id).queue == "gpu"


def test_cpu_worker_grades_a_fallback_gpu_job(configured, db, tmp_path, monkeypatch):
    """End to end: nobody serves the gpu queue; the job moves to cpu and is graded there."""
    from tests.processes import WorkerProcess

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    spec_file = tmp_path / "mini.yaml"
    spec_file.write_text(_gpu_spec(True).source)
    run = submit_folder(db, spec_file, MINI_REFERENCE)
    run.queue = "gpu"
    db.commit()
    worker = WorkerProcess(
        tmp_path / "w.log",
        {
            "AUTOGRADER_RECONCILE_SECONDS": "1",
            "AUTOGRADER_GPU_FALLBACK_AFTER_SECONDS": "2",
            "AUTOGRADER_GPU_DEVICES": "none",
        },
        queues="cpu",
    )
    worker.start()
    try:
        started = time.monotonic()
        final = wait_final(run.id, timeout=90)
    finally:
        worker.stop()
    assert final.state == RunState.graded and final.score == 8
    assert final.queue == "cpu"
    assert time.monotonic() - started >= 1.5
