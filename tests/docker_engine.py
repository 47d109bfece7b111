"""The Docker engine and sandbox image the docker backend's tests use.

scripts/docker_engine.sh starts a private engine at ``unix:///run/autograder-docker/
docker.sock`` and scripts/build_images.sh records the sandbox image's id under
``/var/lib/autograder-docker/images``; ``AUTOGRADER_DOCKER_HOST`` and
``AUTOGRADER_SANDBOX_IMAGE`` override both.
"""

from __future__ import annotations

import os
from pathlib import Path

from autograder.settings import Settings

DOCKER_DIR = Path(os.environ.get("AUTOGRADER_DOCKER_DIR", "/var/lib/autograder-docker"))
PRIVATE_HOST = "unix:///run/autograder-docker/docker.sock"


def docker_host() -> str:
    return os.environ.get("AUTOGRADER_DOCKER_HOST") or PRIVATE_HOST


def sandbox_image() -> str:
    if os.environ.get("AUTOGRADER_SANDBOX_IMAGE"):
        return os.environ["AUTOGRADER_SANDBOX_IMAGE"]
    recorded = DOCKER_DIR / "images" / "autograder-sandbox.id"
    return recorded.read_text().strip() if recorded.is_file() else ""


def docker_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sandbox": "docker", "docker_host": docker_host(), "sandbox_image": sandbox_image()}
    )


def box_containers() -> list[dict]:
    """Every sandbox container on the test engine (running or not); none when no engine
    answers (the tests that need one were skipped)."""
    import docker
    from worker.sandbox.docker_backend import LABEL

    try:
        api = docker.APIClient(base_url=docker_host(), version="auto", timeout=10)
    except docker.errors.DockerException:
        return []
    try:
        return api.containers(all=True, filters={"label": LABEL})
    finally:
        api.close()
