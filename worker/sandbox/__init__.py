"""Sandbox backends behind one interface (worker/sandbox/base.py)."""

from __future__ import annotations

from typing import Any

from worker.sandbox.base import Backend, SandboxUnavailable


def get_backend(settings: Any) -> Backend:
    if settings.sandbox == "bwrap":
        from worker.sandbox.bwrap import BwrapBackend

        return BwrapBackend(
            jobs_dir=settings.path("jobs"),
            venv=settings.sandbox_python.parent.parent,
            uid_base=settings.sandbox_uid_base,
            slots=settings.sandbox_slots,
            slot_dir=settings.sandbox_slot_dir,
            pool_size=settings.sandbox_pool_size,
            pool_idle_seconds=settings.sandbox_pool_idle_seconds,
        )
    if settings.sandbox == "docker":
        from worker.sandbox.docker_backend import DockerBackend

        return DockerBackend(
            jobs_dir=settings.path("jobs"),
            docker_host=settings.docker_host,
            image=settings.sandbox_image,
        )
    raise SandboxUnavailable(f"unknown sandbox backend {settings.sandbox!r}")
