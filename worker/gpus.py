"""Which GPU a job gets on this worker.

Several jobs may share a GPU: each box sees only its device node, and with CUDA MPS
(``AUTOGRADER_GPU_MPS_PIPE_DIR``) the device memory each may pin is capped by the MPS
server at the spec's ``gpu_memory_mb``. Without MPS that cap is NOT enforced: run such a
worker with a concurrency of one job per GPU. Jobs are spread over the worker's GPUs by
run id.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from worker.sandbox.base import GpuAssignment

if TYPE_CHECKING:
    from autograder.settings import Settings
    from autograder.specs.schema import Spec


def worker_gpus(settings: Settings, dev: Path = Path("/dev")) -> list[int]:
    configured = settings.gpu_devices.strip()
    if configured.lower() == "none":
        return []
    if configured:
        return [int(x) for x in configured.split(",") if x.strip()]
    found = (re.fullmatch(r"nvidia(\d+)", p.name) for p in dev.glob("nvidia*"))
    return sorted(int(m.group(1)) for m in found if m)


def assign_gpu(settings: Settings, spec: Spec, run_id: int) -> GpuAssignment | None:
    """The GPU for a job whose spec asks for one, or None to run it on the CPU."""
    if spec.resources.device != "gpu":
        return None
    gpus = worker_gpus(settings)
    if not gpus:
        return None  # only reached when the spec allows the CPU fallback (see jobs.execute)
    return GpuAssignment(
        index=gpus[run_id % len(gpus)],
        memory_mb=spec.resources.gpu_memory_mb,
        mps_pipe_dir=settings.gpu_mps_pipe_dir,
        mps_shm_dir=settings.gpu_mps_shm_dir,
    )
