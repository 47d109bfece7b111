"""The lower-priority lanes of re-grades: names, a worker's default order, and a GPU
re-grade that falls back to the CPU's low lane (no GPU here: nobody serves gpu-low)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autograder import queueing, regrades
from autograder.models import GradingRun, RunState, Submission, utcnow
from autograder.specs.loader import load_spec_text
from tests.factories import submit_folder, wait_final
from tests.sandboxed import MINI_REFERENCE, MINI_SPEC, require_sandbox


def test_lane_names():
    assert queueing.low_lane("cpu") == "cpu-low" and queueing.low_lane("gpu-low") == "gpu-low"
    assert queueing.cpu_lane_of("gpu") == "cpu" and queueing.cpu_lane_of("gpu-low") == "cpu-low"
    assert queueing.is_gpu_lane("gpu-low") and not queueing.is_gpu_lane("cpu-low")
    assert queueing.worker_queues(gpu=False) == "cpu,cpu-low"
    assert queueing.worker_queues(gpu=True) == "cpu,gpu,cpu-low,gpu-low"
    assert set(queueing.QUEUES) == {"cpu", "gpu", "cpu-low", "gpu-low"}
    app = queueing.client()
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_embedded_worker_serves_the_low_lanes():
    from autograder.serve import worker_command
    from autograder.settings import Settings

    command = worker_command(Settings(worker_queues=""))
    assert command[command.index("-Q") + 1] in ("cpu,cpu-low", "cpu,gpu,cpu-low,gpu-low")


def gpu_spec_file(tmp_path):  # type: ignore[no-untyped-def]
    text = MINI_SPEC.read_text().replace(
        "resources:\n", "resources:\n  device: gpu\n  cpu_fallback: true\n"
    )
    path = tmp_path / "mini.yaml"
    path.write_text(load_spec_text(text, "mini", "mini.yaml").source)
    return path


@pytest.mark.slow
def test_gpu_regrade_falls_back_to_the_cpu_low_lane(configured, db, tmp_path, monkeypatch):
    from autograder.assignments import spec_for
    from tests.processes import WorkerProcess

    require_sandbox(configured)
    monkeypatch.setenv("AUTOGRADER_REFERENCE_DIR", str(MINI_REFERENCE.parent))
    run = submit_folder(db, gpu_spec_file(tmp_path), MINI_REFERENCE)
    run.state, run.score = RunState.graded, 1.0  # as if graded earlier
    db.commit()
    submission = db.get(Submission, run.submission_id)
    spec = spec_for(db, submission.assignment).spec
    batch = regrades.start_for_assignment(db, submission.assignment, spec, None)
    db.commit()
    [new] = batch.runs
    assert new.queue == "gpu-low"
    new.queued_at = utcnow() - timedelta(hours=1)
    db.commit()
    worker = WorkerProcess(
        tmp_path / "w.log",
        {
            "AUTOGRADER_RECONCILE_SECONDS": "1",
            "AUTOGRADER_GPU_FALLBACK_AFTER_SECONDS": "2",
            "AUTOGRADER_GPU_DEVICES": "none",
        },
        queues="cpu,cpu-low",
    )
    worker.start()
    try:
        final = wait_final(new.id, timeout=120)
    finally:
        worker.stop()
    assert final.queue == "cpu-low"
    assert final.state == RunState.graded and final.score == 8, final.failure_message
    db.expire_all()
    assert not db.get(GradingRun, new.id).is_current  # waits for apply
