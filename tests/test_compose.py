"""docker-compose.yml, checked without Docker Compose (which this project's machines lack):
the services, their health checks, the named volumes, the settings they pass, and the
trust boundary (only workers hold the engine's socket; the API needs no docker)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from autograder.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_services_and_their_health_checks():
    assert {"api", "worker-cpu", "worker-gpu", "postgres", "redis"} <= set(SERVICES)
    for name in ("api", "worker-cpu", "worker-gpu", "postgres", "redis"):
        check = SERVICES[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert SERVICES["worker-gpu"]["profiles"] == ["gpu"]
    assert "profiles" not in SERVICES["worker-cpu"]
    for name in ("api", "worker-cpu", "worker-gpu"):
        needs = SERVICES[name]["depends_on"]
        assert needs["postgres"]["condition"] == "service_healthy"
        assert needs["redis"]["condition"] == "service_healthy"


def test_named_volumes_for_database_submissions_and_datasets():
    assert {"pgdata", "submissions", "datasets"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert any(str(v).startswith("submissions:") for v in SERVICES["api"]["volumes"])
    worker_volumes = SERVICES["worker-cpu"]["volumes"]
    assert any(isinstance(v, dict) and v.get("source") == "datasets" for v in worker_volumes)


def test_only_workers_reach_the_engine_and_they_run_docker_sandboxes():
    socket = "/var/run/docker.sock:/var/run/docker.sock"
    assert socket not in [str(v) for v in SERVICES["api"].get("volumes", [])]
    for name in ("worker-cpu", "worker-gpu"):
        worker = SERVICES[name]
        assert socket in worker["volumes"]
        env = worker["environment"]
        assert env["AUTOGRADER_SANDBOX"] == "docker"
        assert "AUTOGRADER_SANDBOX_IMAGE" in env
        # The jobs folder is at the same path on the host and in the worker, shared.
        jobs = next(v for v in worker["volumes"] if isinstance(v, dict) and v["type"] == "bind")
        assert jobs["source"] == jobs["target"] == env["AUTOGRADER_JOBS_DIR"]
        assert jobs["bind"]["propagation"] == "rshared"
    assert "gpu" in SERVICES["worker-gpu"]["command"][3]
    assert "cpu" in SERVICES["worker-cpu"]["command"][3]


def test_every_autograder_variable_is_a_setting():
    fields = {f"AUTOGRADER_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\bAUTOGRADER_[A-Z_]+", (ROOT / "docker-compose.yml").read_text()))
    # Variables of the compose file itself (host paths, image tag, concurrency), not settings.
    own = {
        "AUTOGRADER_IMAGE_TAG",
        "AUTOGRADER_DATA_HOST_DIR",
        "AUTOGRADER_JOBS_HOST_DIR",
        "AUTOGRADER_CPU_CONCURRENCY",
        "AUTOGRADER_GPU_CONCURRENCY",
    }
    assert used - own <= fields, used - own - fields


def test_compose_accepts_the_file():
    """Where a Compose is installed (Debian's docker-compose 1.29 here), it validates the
    file; the stack itself is not started in tests (postgres and redis images need a
    registry)."""
    import os
    import shutil
    import subprocess

    import pytest

    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("docker-compose is not installed (scripts/docker_engine.sh installs it)")
        pytest.skip("docker-compose is not installed")
    env = {"PATH": "/usr/bin:/bin", "AUTOGRADER_SECRET_KEY": "x", "AUTOGRADER_SANDBOX_IMAGE": "y"}
    for args in (["config", "-q"], ["--profile", "gpu", "config", "-q"]):
        done = subprocess.run(
            [tool, "-f", str(ROOT / "docker-compose.yml"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
