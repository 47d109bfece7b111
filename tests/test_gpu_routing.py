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


# ------------------------------------------------------------------ boxes sharing a GPU


def _backend(tmp_path, gpu_boxes: int = 32):
    from worker.sandbox.bwrap import BwrapBackend

    return BwrapBackend(
        jobs_dir=tmp_path / "jobs",
        venv=tmp_path / "venv",
        uid_base=61000,
        slots=8,
        slot_dir=tmp_path / "slots",
        gpu_boxes=gpu_boxes,
    )


def test_mps_boxes_of_a_gpu_share_one_uid(tmp_path):
    """The MPS control daemon serves one uid at a time: the boxes of a GPU under MPS run
    as one uid of their own, after the slots' range; other boxes keep their slot's."""
    backend = _backend(tmp_path)
    mps = GpuAssignment(index=1, memory_mb=2048, mps_pipe_dir=tmp_path)
    assert backend.box_uid(61003, mps) == 61000 + 8 + 1
    assert backend.box_uid(61003, GpuAssignment(index=1, memory_mb=2048)) == 61003
    assert backend.box_uid(61003, None) == 61003
    from worker.sandbox.base import Limits

    lim = Limits(processes=10)
    assert backend.nproc_backstop(lim, None) == 74
    assert backend.nproc_backstop(lim, mps) == 74 * 8  # every slot's share, one uid


def test_boxes_per_gpu_are_capped(tmp_path):
    """Every box of a GPU holds a CUDA context (MPS serves at most 48 per device): a box
    beyond ``gpu_boxes`` waits for a place, and fails closed when none frees in time."""
    from worker.sandbox.bwrap import release_locks

    backend = _backend(tmp_path, gpu_boxes=2)
    gpu = GpuAssignment(index=0, memory_mb=1024)
    held = [backend.try_slot(wait=0, gpu=gpu) for _ in range(2)]
    with pytest.raises(SandboxUnavailable, match="place on GPU 0"):
        backend.try_slot(wait=0.2, gpu=gpu)
    other_gpu = backend.try_slot(wait=0, gpu=GpuAssignment(index=1, memory_mb=1024))
    cpu_box = backend.try_slot(wait=0)  # boxes without a GPU are not counted
    release_locks(held[0][1])
    uid, locks = backend.try_slot(wait=1, gpu=gpu)
    assert uid not in (held[1][0], other_gpu[0], cpu_box[0])
    for _, lk in (held[1], other_gpu, cpu_box, (uid, locks)):
        release_locks(lk)
    # A failed GPU place gives its uid slot back: all 8 slots are free again.
    taken = [backend.try_slot(wait=0) for _ in range(8)]
    assert len({uid for uid, _ in taken}) == 8
    for _, lk in taken:
        release_locks(lk)


def test_mps_boxes_get_the_daemons_shm(tmp_path):
    """MPS clients share memory with their server in /dev/shm: a box under MPS gets the
    folder the daemon sees as /dev/shm, never the host's (which holds job scratch)."""
    dev = _dev_with(tmp_path, "nvidia0")
    shm = tmp_path / "mps-shm"
    args = gpu_args(GpuAssignment(0, 1, tmp_path, mps_shm_dir=shm), dev=dev)
    assert ["--bind", str(shm), "/dev/shm"] == args[-3:]
    assert "/dev/shm" not in gpu_args(GpuAssignment(0, 1, None, mps_shm_dir=shm), dev=dev)


def test_interpreter_outside_usr_is_bound_read_only(tmp_path):
    from worker.sandbox.bwrap import interpreter_binds

    venv = tmp_path / "venv"
    venv.mkdir()
    assert interpreter_binds(venv) == []  # not a venv: a whole Python bound at /opt/venv
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    assert interpreter_binds(venv) == []
    base = tmp_path / "python3.12"
    (base / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\nversion = 3.12.3\n")
    assert interpreter_binds(venv) == ["--ro-bind", str(base), str(base)]


def test_declared_host_memory_for_a_vm_whose_memory_grows(monkeypatch):
    from worker import cpus

    meminfo = {"MemTotal": 8_000, "MemAvailable": 6_000}
    monkeypatch.setattr(cpus, "_meminfo_mb", lambda key: meminfo[key])
    assert cpus.host_memory_mb() == 8_000
    assert cpus.host_memory_mb(120_000) == 120_000
    assert cpus.available_memory_mb() == 6_000
    assert cpus.available_memory_mb(120_000) == 118_000  # declared less what is in use
