"""docker-compose.yml: read as YAML (the services, their health checks, the named volumes,
the settings they pass, the trust boundary: only workers hold the engine's socket, the API
needs no docker), then run for real with Debian's docker-compose on the private engine of
scripts/docker_engine.sh.

The live part builds the five images offline (scripts/build_images.sh all: each is cached
by the hash of its inputs, so only a changed checkout rebuilds), brings one compose project
with a unique name up once for the module, and tears it down at the end, containers,
network and volumes, even when a test failed. Through the API container a reference
solution is graded by the worker container in a sandbox container; the worker container
killed with SIGKILL (its main process, as an OOM kill or a crash would end it) comes back by
its restart policy, and jobs sent around the kill end
with exactly one result each. Last, a second worker host (another worker container with its
own host name and jobs folder, sharing only the broker, the database, the submission
storage and the datasets) grades a burst beside the first and is lost for good in the
middle of it: every job still ends graded once.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from autograder.settings import Settings
from tests import docker_engine

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
    socket = "${AUTOGRADER_DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock"
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
        "AUTOGRADER_API_IMAGE",
        "AUTOGRADER_WORKER_IMAGE",
        "AUTOGRADER_POSTGRES_IMAGE",
        "AUTOGRADER_REDIS_IMAGE",
        "AUTOGRADER_DOCKER_SOCKET",
        "AUTOGRADER_DATA_HOST_DIR",
        "AUTOGRADER_JOBS_HOST_DIR",
        "AUTOGRADER_CPU_CONCURRENCY",
        "AUTOGRADER_GPU_CONCURRENCY",
    }
    assert used - own <= fields, used - own - fields


def test_images_are_ours_and_pinned():
    """No image comes from a registry: each is one scripts/build_images.sh builds, named by
    a variable that takes its id."""
    for name, service in SERVICES.items():
        if "image" not in service:
            continue
        m = re.fullmatch(
            r"\$\{(AUTOGRADER_[A-Z]+_IMAGE):-autograder-([a-z]+):latest\}", service["image"]
        )
        assert m, (name, service["image"])
        assert m.group(1) == f"AUTOGRADER_{m.group(2).upper()}_IMAGE"
        assert (ROOT / "docker" / f"Dockerfile.{m.group(2)}").is_file()


def test_compose_accepts_the_file():
    """Debian's docker-compose 1.29 validates the file."""
    tool = shutil.which("docker-compose")
    if tool is None:
        if os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("docker-compose is not installed (scripts/docker_engine.sh installs it)")
        pytest.skip("docker-compose is not installed")
    env = {"PATH": "/usr/bin:/bin", "AUTOGRADER_SECRET_KEY": "x", "AUTOGRADER_SANDBOX_IMAGE": "y"}
    for args in (["config", "-q"], ["--profile", "gpu", "config", "-q"]):
        done = subprocess.run(
            [tool, "-f", str(ROOT / "docker-compose.yml"), *args],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ run for real

REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"
SLUG = "hw1-1"  # numpy only: quick in a box
# Only timings (and logging) are tuned for the test (health checks every few seconds, a
# short lease so a killed worker's job is found in seconds, not minutes); everything else
# is the file's own.
OVERRIDE = {
    "version": COMPOSE.get("version", "3.8"),
    "services": {
        "api": {"healthcheck": {"interval": "2s", "start_period": "60s"}},
        "worker-cpu": {
            "healthcheck": {"interval": "3s", "start_period": "60s"},
            "environment": {
                "AUTOGRADER_LEASE_SECONDS": "15",
                "AUTOGRADER_RECONCILE_SECONDS": "3",
                "AUTOGRADER_REQUEUE_AFTER_SECONDS": "10",
            },
        },
        "postgres": {"healthcheck": {"interval": "1s"}},
        "redis": {"healthcheck": {"interval": "1s"}},
    },
}
# The test engine logs nothing by default (--log-driver none): keep the services' logs.
for _service in ("api", "worker-cpu", "postgres", "redis", "migrate"):
    OVERRIDE["services"].setdefault(_service, {})["logging"] = {
        "driver": "json-file",
        "options": {"max-size": "1m"},
    }
OVERRIDE["version"] = str(OVERRIDE["version"])
if "version" not in COMPOSE:
    del OVERRIDE["version"]


BURST = 16  # uploads of one student (the spec's daily quota is 20)
SECOND_HOST = "second-host"  # the profile of the second worker host's service, worker-b
HOST_B = "worker-host-b"


def _second_host(jobs: Path) -> dict:
    """worker-cpu as another host would run it: its own host name and jobs folder; what it
    shares with the first is the broker, the database, the submission storage and the
    datasets (volumes of the project here, NFS between real hosts). Started only by the
    test that needs it (its profile)."""
    service = copy.deepcopy(SERVICES["worker-cpu"])
    own = OVERRIDE["services"]["worker-cpu"]
    service["profiles"] = [SECOND_HOST]
    service["hostname"] = HOST_B
    service["environment"] = {
        **service["environment"],
        **own["environment"],
        "AUTOGRADER_JOBS_DIR": str(jobs),
    }
    service["volumes"] = [
        v for v in service["volumes"] if not (isinstance(v, dict) and v.get("type") == "bind")
    ] + [
        {
            "type": "bind",
            "source": str(jobs),
            "target": str(jobs),
            "bind": {"propagation": "rshared"},
        }
    ]
    service["healthcheck"] = {**service["healthcheck"], **own["healthcheck"]}
    service["logging"] = own["logging"]
    return service


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"docker-compose cannot run here: {reason}")
    pytest.skip(reason)


@dataclass
class Stack:
    project: str
    files: list[str]
    env: dict[str, str]
    work: Path
    images: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    _ids: dict[str, str] = field(default_factory=dict)

    def compose(self, *args: str, check: bool = True, timeout: float = 300):
        argv = ["docker-compose", "-p", self.project]
        for f in self.files:
            argv += ["-f", f]
        done = subprocess.run(
            [*argv, *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {done.stderr[-3000:]}")
        return done

    def docker(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            ["docker", *args],
            check=False,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, (service, ids)
        return ids[0]

    def state(self, service: str) -> dict:
        return json.loads(self.docker("inspect", "--format", "{{json .}}", self.container(service)))

    def sql(self, query: str) -> str:
        """A query in the Postgres container (docker exec: faster than compose's)."""
        if "postgres" not in self._ids:
            self._ids["postgres"] = self.container("postgres")
        return self.docker(
            "exec", "-e", "PGPASSWORD=autograder", self._ids["postgres"],
            "psql", "-h", "127.0.0.1", "-U", "autograder", "-d", "autograder", "-tAc", query,
        ).strip()  # fmt: skip

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", check=False).stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _build_images(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_images.sh"), "all"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    images = dict(
        line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("AUTOGRADER_")
    )
    for name in ("SANDBOX", "WORKER", "API", "POSTGRES", "REDIS"):
        assert images.get(f"AUTOGRADER_{name}_IMAGE", "").startswith("sha256:"), images
    return images


def _wait_healthy(stack: Stack, services: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        for name in services:
            state = stack.state(name)["State"]
            status[name] = (state.get("Health") or {}).get("Status", state["Status"])
        if all(s == "healthy" for s in status.values()):
            return
        time.sleep(1)
    raise AssertionError(f"not healthy after {timeout:.0f} s: {status}\n{stack.logs()}")


def _teardown(stack: Stack, jobs: list[Path]) -> None:
    stack.env["COMPOSE_PROFILES"] = SECOND_HOST  # worker-b's container too, if it was started
    stack.compose("down", "-v", "--remove-orphans", "-t", "20", check=False, timeout=300)
    # Boxes a lost worker host left behind (a restarted worker removes its own itself).
    left = subprocess.run(
        ["docker", "ps", "-a", "--filter", "label=org.autograder.box",
         "--filter", "label=org.autograder.owner", "--format", "{{.ID}} {{.Labels}}"],
        check=False, env=stack.env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    ours = [line.split()[0] for line in left.splitlines() if f"{HOST_B}:" in line]
    if ours:
        subprocess.run(["docker", "rm", "-f", *ours], check=False, env=stack.env, timeout=120)
    for folder in jobs:
        subprocess.run(["umount", "-R", "-l", str(folder)], capture_output=True, check=False)
    shutil.rmtree(stack.work, ignore_errors=True)


@pytest.fixture(scope="module")
def stack():
    if shutil.which("docker-compose") is None or shutil.which("docker") is None:
        _unavailable("docker-compose or docker is not installed (scripts/docker_engine.sh)")
    if os.geteuid() != 0:
        _unavailable("the compose stack's worker binds a shared jobs folder: needs root")
    host = docker_engine.docker_host()
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": host,
    }
    if (
        subprocess.run(["docker", "version"], check=False, env=env, capture_output=True).returncode
        != 0
    ):
        _unavailable(f"no Docker engine answers at {host} (scripts/docker_engine.sh start)")
    timings: dict[str, float] = {}
    start = time.monotonic()
    images = _build_images({**env, "AUTOGRADER_DOCKER_DIR": str(docker_engine.DOCKER_DIR)})
    timings["build"] = time.monotonic() - start

    project = f"agtest{uuid.uuid4().hex[:10]}"
    work = docker_engine.DOCKER_DIR / "compose" / project
    jobs, jobs_b, data = work / "jobs", work / "jobs-b", work / "data"
    jobs.mkdir(parents=True)
    jobs_b.mkdir()
    data.mkdir()
    override = work / "docker-compose.test.yml"
    services = {**OVERRIDE["services"], "worker-b": _second_host(jobs_b)}
    override.write_text(yaml.safe_dump({**OVERRIDE, "services": services}))
    env.update(images)
    env.update(
        {
            "AUTOGRADER_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "AUTOGRADER_DOCKER_SOCKET": host.removeprefix("unix://"),
            "AUTOGRADER_DATA_HOST_DIR": str(data),
            "AUTOGRADER_JOBS_HOST_DIR": str(jobs),
            "AUTOGRADER_CPU_CONCURRENCY": "2",
            # The API's published port (the test reaches the container's own address).
            "AUTOGRADER_PORT": str(_free_port()),
            "AUTOGRADER_LOG_FORMAT": "text",
        }
    )
    stack = Stack(project, [str(ROOT / "docker-compose.yml"), str(override)], env, work, images)
    stack.timings = timings
    try:
        # The worker mounts each box's tmpfs in the jobs folder, and the engine must see it
        # there: the folder is bound with shared propagation, so it must be a shared mount.
        for folder in (jobs, jobs_b):
            subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
            subprocess.run(["mount", "--make-shared", str(folder)], check=True)
        start = time.monotonic()
        stack.compose("up", "-d", timeout=600)
        timings["up"] = time.monotonic() - start
        _wait_healthy(stack, ["postgres", "redis", "api", "worker-cpu"], timeout=240)
        timings["healthy"] = time.monotonic() - start
        print(f"\ncompose {project}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        yield stack
    finally:
        _teardown(stack, [jobs, jobs_b])


@pytest.fixture(scope="module")
def client(stack):
    """The API container's address on the project's network, and a student's token made by
    the CLI in the API container."""
    api = stack.state("api")
    address = next(iter(api["NetworkSettings"]["Networks"].values()))["IPAddress"]
    made = stack.compose(
        "exec", "-T", "api", "autograder", "users", "add", "--role", "student", "s1"
    )
    token = made.stdout.strip().splitlines()[-1]
    with httpx.Client(
        base_url=f"http://{address}:8000",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    ) as c:
        yield c


def _upload(client: httpx.Client, slug: str = SLUG) -> str:
    from autograder.specs.loader import load_spec_file

    spec = load_spec_file(ROOT / "grading_specs" / f"{slug}.yaml").spec
    folder = ROOT / "reference_solutions" / slug
    files = [
        ("files", (f.name, (folder / f.name).read_bytes(), "application/octet-stream"))
        for f in spec.files
        if (folder / f.name).is_file()
    ]
    response = client.post(f"/api/v1/assignments/{slug}/submissions", files=files)
    assert response.status_code == 202, response.text
    return response.json()["url"]


def _result(client: httpx.Client, url: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        response = client.get(url)
        if response.status_code == 200:
            body = response.json()
            if body["state"] in ("graded", "failed_student", "failed_infra"):
                return body
        time.sleep(0.5)
    raise AssertionError(f"{url} not finished after {timeout:.0f} s: {body}")


def _boxes_created(stack: Stack, since: str) -> list[str]:
    """The images of the sandbox containers the engine created since ``since``."""
    out = stack.docker(
        "events", "--since", since, "--until", str(int(time.time()) + 1),
        "--filter", "type=container", "--filter", "event=create",
        "--filter", "label=org.autograder.box", "--format", "{{.Actor.Attributes.image}}",
    )  # fmt: skip
    return out.split()


@pytest.mark.slow
def test_the_stack_comes_up_healthy_and_the_api_has_no_engine(stack):
    for name in ("postgres", "redis", "api", "worker-cpu"):
        info = stack.state(name)
        assert info["State"]["Health"]["Status"] == "healthy", name
        assert info["Image"] == stack.images[f"AUTOGRADER_{name.split('-')[0].upper()}_IMAGE"]
    api = stack.state("api")
    assert not [m for m in api["Mounts"] if m["Destination"].endswith("docker.sock")]
    no_docker = stack.compose("exec", "-T", "api", "python3", "-c", "import docker", check=False)
    assert no_docker.returncode != 0  # the API's environment has no docker SDK
    assert stack.compose("ps", "-q", "migrate").stdout.strip()  # ran, exited 0 (depends_on)


@pytest.mark.slow
def test_a_reference_solution_is_graded_in_a_sandbox_container(stack, client):
    since = str(int(time.time()) - 1)
    start = time.monotonic()
    result = _result(client, _upload(client))
    assert result["state"] == "graded", result
    assert result["score"] == result["max_score"] > 0, result
    print(f"\n{SLUG} graded through compose in {time.monotonic() - start:.1f} s")
    # In boxes of the pinned sandbox image, started by the worker container on the engine.
    boxes = _boxes_created(stack, since)
    assert boxes and set(boxes) == {stack.images["AUTOGRADER_SANDBOX_IMAGE"]}, boxes


@pytest.mark.slow
def test_a_killed_worker_comes_back_and_each_job_finishes_once(stack, client):
    before = stack.state("worker-cpu")
    ids = "SELECT submission_id FROM grading_runs"
    earlier = set(stack.sql(ids).split())
    urls = [_upload(client) for _ in range(4)]
    # Kill it while it grades: as soon as a run is claimed (two at a time, the others wait).
    running = "SELECT count(*) FROM grading_runs WHERE state = 'running'"
    deadline = time.monotonic() + 60
    while int(stack.sql(running)) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    # SIGKILL from outside, as the OOM killer or a crash would end it. (Not `docker kill`:
    # the engine takes that for an operator's stop and suspends the restart policy until
    # the next start, as documented for `docker kill`.)
    os.kill(before["State"]["Pid"], signal.SIGKILL)
    # A dead worker updates nothing: what is running now was cut off.
    killed_during = int(stack.sql(running))
    assert killed_during >= 1
    # The restart policy brings the same container back by itself.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = stack.state("worker-cpu")
        if now["RestartCount"] > before["RestartCount"] and now["State"]["Running"]:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the worker did not come back: {now['State']}\n{stack.logs()}")
    assert now["Id"] == before["Id"]
    urls.append(_upload(client))  # and one sent after it is back
    for url in urls:
        result = _result(client, url)
        assert result["state"] == "graded", result
        assert result["score"] == result["max_score"] > 0, result
    # One run per submission, graded once: no duplicate row, no second result.
    rows = [
        row
        for row in stack.sql(
            "SELECT submission_id, count(*), min(state::text), max(attempts) FROM grading_runs "
            "GROUP BY submission_id ORDER BY submission_id"
        ).splitlines()
        if row.split("|")[0] not in earlier
    ]
    assert len(rows) == 5, rows
    for row in rows:
        _, count, state, attempts = row.split("|")
        assert (count, state) == ("1", "graded"), row
        assert 1 <= int(attempts) <= 2, row
    # The runs cut off ran again (a second attempt) and still have one result each.
    assert sum(int(row.split("|")[3]) == 2 for row in rows) >= killed_during, rows
    print(f"\nruns in flight when the worker was killed: {killed_during}; runs: {rows}")
    _wait_healthy(stack, ["worker-cpu"], timeout=120)


@pytest.mark.slow
def test_two_worker_hosts_share_a_burst_and_a_lost_host_loses_nothing(stack, client):
    """worker-b is a second host: its own host name and jobs folder, nothing shared with
    worker-cpu but the broker, the database, the submission storage and the datasets. Both
    grade one burst; worker-b is then lost for good (`docker kill`: its restart policy
    stays suspended) while it holds runs, which worker-cpu takes over when their leases
    expire. Every submission ends graded once, with full marks."""
    stack.env["COMPOSE_PROFILES"] = SECOND_HOST
    stack.compose("up", "-d", "--no-deps", "worker-b")
    _wait_healthy(stack, ["worker-b"], timeout=180)
    b, a = stack.state("worker-b"), stack.state("worker-cpu")
    assert b["Config"]["Hostname"] == HOST_B != a["Config"]["Hostname"]
    jobs_of = {
        name: {m["Source"] for m in info["Mounts"] if m["Type"] == "bind" and "jobs" in m["Source"]}
        for name, info in (("a", a), ("b", b))
    }
    assert jobs_of["a"] and jobs_of["b"] and not jobs_of["a"] & jobs_of["b"], jobs_of
    shared = {m["Name"] for m in b["Mounts"] if m["Type"] == "volume"}
    assert shared == {m["Name"] for m in a["Mounts"] if m["Type"] == "volume"}, shared

    made = stack.compose(
        "exec", "-T", "api", "autograder", "users", "add", "--role", "student", "s2"
    )
    token = made.stdout.strip().splitlines()[-1]
    earlier = set(stack.sql("SELECT submission_id FROM grading_runs").split())
    burst = httpx.Client(
        base_url=client.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )
    with burst:
        urls = [_upload(burst) for _ in range(BURST)]
        held_by_b = (
            "SELECT count(*) FROM grading_runs WHERE state = 'running' "
            f"AND lease_owner LIKE '{HOST_B}:%'"
        )
        graded_by_b = (
            "SELECT count(*) FROM grading_runs WHERE state = 'graded' "
            f"AND lease_owner LIKE '{HOST_B}:%'"
        )
        # Lost in the middle of its share: it has graded runs of the burst and holds more.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if int(stack.sql(graded_by_b)) >= 1 and int(stack.sql(held_by_b)) >= 1:
                break
            time.sleep(0.1)
        stack.docker("kill", b["Id"])  # the host is gone: nothing restarts it
        cut_off = int(stack.sql(held_by_b))
        assert cut_off >= 1, "worker-b never held a run of the burst"
        results = [_result(burst, url, timeout=300) for url in urls]
    for result in results:
        assert result["state"] == "graded", result
        assert result["score"] == result["max_score"] > 0, result
    rows = [
        row.split("|")
        for row in stack.sql(
            "SELECT submission_id, count(*), min(state::text), max(attempts), "
            "max(lease_owner) FROM grading_runs GROUP BY submission_id ORDER BY submission_id"
        ).splitlines()
        if row.split("|")[0] not in earlier
    ]
    assert len(rows) == BURST, rows
    for _, count, state, attempts, _owner in rows:
        assert (count, state) == ("1", "graded"), rows
        assert 1 <= int(attempts) <= 2, rows
    by_b = sum(owner.startswith(f"{HOST_B}:") for *_, owner in rows)
    assert by_b >= 1, rows  # both hosts graded runs of the one burst
    retaken = [row for row in rows if row[3] == "2"]
    # The runs worker-b held when it was lost ran again, on the other host.
    assert len(retaken) >= cut_off, rows
    assert all(not owner.startswith(f"{HOST_B}:") for *_, owner in retaken), rows
    assert stack.state("worker-b")["State"]["Running"] is False
    print(
        f"\nburst of {BURST} on two hosts: {by_b} graded by {HOST_B} before it was lost, "
        f"{cut_off} cut off there and graded again by worker-cpu"
    )
