"""Sandbox backends behind one interface (worker/sandbox/base.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from worker.sandbox.base import Backend, SandboxUnavailable, SandboxUnreachable

if TYPE_CHECKING:
    from autograder.settings import Settings

__all__ = ["Backend", "SandboxUnavailable", "SandboxUnreachable", "get_backend"]


def get_backend(settings: Settings) -> Backend:
    if settings.sandbox == "bwrap":
        from worker.sandbox.bwrap import BwrapBackend

        return BwrapBackend(
            jobs_dir=settings.path("jobs"),
            venv=settings.sandbox_python.parent.parent,
            numpy_venv=settings.sandbox_numpy_python.parent.parent,
            data_dir=settings.path("data"),
            uid_base=settings.sandbox_uid_base,
            slots=settings.sandbox_slots,
            slot_dir=settings.sandbox_slot_dir,
            pool_size=settings.sandbox_pool_size,
            pool_idle_seconds=settings.sandbox_pool_idle_seconds,
            host_memory_mb=settings.host_memory_mb,
            gpu_boxes=settings.gpu_boxes_per_gpu,
        )
    if settings.sandbox == "docker":
        from worker.sandbox.docker_backend import DockerBackend

        return DockerBackend(
            jobs_dir=settings.path("jobs"),
            docker_host=settings.docker_host,
            image=settings.sandbox_image,
        )
    raise SandboxUnavailable(f"unknown sandbox backend {settings.sandbox!r}")
