"""The one settings class. Nothing else in the project reads the environment.

Every field can be set with an environment variable prefixed ``AUTOGRADER_``
(``AUTOGRADER_DATABASE_URL``, ``AUTOGRADER_REDIS_URL``, ``AUTOGRADER_SANDBOX`` ...).
Empty values mean "use the embedded default": SQLite under the state directory and
an embedded Redis started by ``autograder serve``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHM = Path("/dev/shm")


def default_jobs_dir(home: Path) -> Path:
    """Job scratch space in memory where the host has a tmpfs at /dev/shm, one folder per
    HOME; else HOME/jobs. A grading writes and reads hundreds of small files (a call's
    inputs and outputs); on this project's ext4 disk each cost about 1.2 ms against
    0.03 ms on tmpfs, which was most of an hw1 grading's time. Scratch is worth nothing
    after a restart: the database is the truth and a lost job is graded again."""
    if _is_tmpfs(SHM) and os.access(SHM, os.W_OK | os.X_OK):
        digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]
        return SHM / f"autograder-jobs-{digest}"
    return home / "jobs"


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(
        len(fields) > 2 and fields[1] == str(path) and fields[2] == "tmpfs"
        for fields in (line.split() for line in mounts)
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOGRADER_", extra="ignore")

    # --- where things live -------------------------------------------------------
    home: Path = Field(
        default=PROJECT_ROOT / ".autograder",
        description="State directory: SQLite file, secret key, embedded Redis socket.",
    )
    storage_dir: Path | None = Field(
        default=None, description="Content-addressed submission files (default HOME/storage)."
    )
    data_dir: Path | None = Field(
        default=None, description="Datasets with recorded checksums (default HOME/data)."
    )
    jobs_dir: Path | None = Field(
        default=None,
        description="Per-job scratch directories. Must be traversable by the sandbox uids. "
        "Default: in memory (/dev/shm) where that is a tmpfs, else under HOME.",
    )
    specs_dir: Path = PROJECT_ROOT / "grading_specs"
    reference_dir: Path = PROJECT_ROOT / "reference_solutions"
    starters_dir: Path = PROJECT_ROOT / "starters"
    datasets_dir: Path = Field(
        default=PROJECT_ROOT / "datasets",
        description="The course's dataset manifests (<name>.yaml), beside grading_specs/.",
    )
    dataset_sources: dict[str, Path | None] = Field(
        default_factory=dict,
        description="Per dataset, the local folder `serve` fills the data dir from when it is "
        "missing (JSON; null: none), instead of the manifest's source.local; "
        "AUTOGRADER_<NAME>_SOURCE names one too.",
    )

    # --- services ------------------------------------------------------------------
    database_url: str = Field(default="", description="Empty: sqlite file under HOME.")
    redis_url: str = Field(default="", description="Empty: the embedded Redis under HOME.")
    redis_server: Path | None = Field(
        default=None,
        description="The embedded Redis's binary (default: redis-server on PATH, Debian's).",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        description="The embedded SQLite's fsync policy (WAL mode). NORMAL: a crash of the "
        "service or a worker loses nothing, an OS crash or power loss may lose the last "
        "moments' transactions; FULL: those too, at about 4 ms of fsync per write on this "
        "project's disk, during which every other writer waits (under a deadline rush, "
        "the uploads). Production uses Postgres, which this does not touch.",
    )
    secret_key: str = Field(
        default="", description="Seeds per-job inputs. Empty: generated once under HOME."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""

    # --- sandbox -------------------------------------------------------------------
    sandbox: Literal["bwrap", "docker"] = "bwrap"
    sandbox_python: Path = PROJECT_ROOT / ".venv-sandbox" / "bin" / "python"
    sandbox_numpy_python: Path = Field(
        default=PROJECT_ROOT / ".venv-sandbox-numpy" / "bin" / "python",
        description="The Python of boxes of numpy-only homework (resources.runtime: numpy): "
        "numpy and safetensors, no torch (what a homework forbids is absent from its boxes).",
    )
    sandbox_uid_base: int = 61000
    sandbox_slots: int = Field(
        default=64,
        description="Sandbox uids on this host: one per box at a time, warm boxes included.",
    )
    sandbox_pool_size: int = Field(
        default=2,
        description="Boxes each worker process keeps started ahead of demand per box profile "
        "it has graded lately (bwrap; runtime imported, used once each). 0: every box cold.",
    )
    sandbox_pool_idle_seconds: float = Field(
        default=600,
        description="A box profile not asked for in this long stops being kept warm.",
    )
    sandbox_slot_dir: Path = Field(
        default=Path("/run/autograder-slots"),
        description="Lock files of the sandbox uids: one folder per host, shared by every "
        "worker and state directory on it, since the uids are the host's.",
    )
    cgroup_parent: Path | None = Field(
        default=None,
        description="cgroup v2 hosts: the delegated group under which box groups are made "
        "(e.g. a systemd unit's own group with Delegate=yes). Empty: the worker's own group "
        "plus /autograder.",
    )
    host_memory_mb: int = Field(
        default=0,
        description="Memory the jobs of this host may share, in MB. 0: MemTotal. Set it "
        "where MemTotal misleads, e.g. a virtual machine whose memory grows on demand.",
    )
    sandbox_tmp_mb: int = 64
    sandbox_out_mb: int = 64
    sandbox_max_open_files: int = 256
    sandbox_max_file_mb: int = 64
    log_cap_bytes: int = 64 * 1024
    docker_host: str = Field(
        default="unix:///var/run/docker.sock",
        description="The Docker engine that runs sandboxes when AUTOGRADER_SANDBOX=docker "
        "(scripts/docker_engine.sh starts a private one at unix:///run/autograder-docker/"
        "docker.sock).",
    )
    sandbox_image: str = Field(
        default="",
        description="The docker sandbox image, pinned: sha256:<image id> or "
        "name@sha256:<digest> (scripts/build_images.sh prints it). Never pulled.",
    )

    # --- uploads and jobs ------------------------------------------------------------
    max_upload_bytes: int = 20 * 1024 * 1024
    max_upload_files: int = 32
    lease_seconds: int = 120
    max_attempts: int = 3
    # How long a run our side keeps failing (no sandbox, a full scratch disk, a lost file)
    # is retried, with growing back-off, before it ends failed_infra: worker/jobs.release.
    infra_retry_seconds: float = Field(default=300, ge=0)
    reconcile_seconds: int = 15
    # How often a worker removes the boxes and scratch folders of dead workers (it also
    # does when it starts): worker/housekeeping.py.
    housekeeping_seconds: float = Field(default=300, gt=0)
    # How long a worker retries a run's database writes (claim, phase, store, release)
    # through a database restart before it gives up on them: worker/db_retry.py.
    db_retry_seconds: float = Field(default=60, ge=0)
    requeue_after_seconds: int = 60
    worker_concurrency: int = Field(
        default=0,
        ge=0,
        description="Jobs a worker runs at once; 0: as many as it has cores. Jobs on one host "
        "never share a core either way: each holds its cores and memory (worker/cpus.py).",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="The grading worker (and every box it starts) runs at this nice value, "
        "so on a machine shared with the API uploads are answered first while jobs take "
        "the rest of the CPU. 0: same priority as the API.",
    )
    gpu_devices: str = Field(
        default="",
        description="GPUs this worker hands to jobs, e.g. '0,1'; empty: every "
        "/dev/nvidiaN on the host; 'none': no GPU.",
    )
    gpu_mps_pipe_dir: Path | None = Field(
        default=None,
        description="The CUDA MPS pipe directory (nvidia-cuda-mps-control -d); with it each "
        "GPU job's pinned device memory is capped at the spec's gpu_memory_mb.",
    )
    gpu_mps_shm_dir: Path | None = Field(
        default=None,
        description="The folder the MPS control daemon sees as /dev/shm (started in a mount "
        "namespace of its own with this folder there: bench/gpu/README.md); GPU boxes get "
        "it as their /dev/shm, where MPS clients and their server share memory.",
    )
    gpu_boxes_per_gpu: int = Field(
        default=32,
        description="Boxes alive at once on one GPU, warm ones included: each holds a CUDA "
        "context, and CUDA MPS serves at most 48 clients per device (Volta and later).",
    )
    gpu_fallback_after_seconds: int = Field(
        default=300,
        description="A queued GPU job whose spec allows cpu_fallback moves to the "
        "cpu queue after waiting this long.",
    )
    worker_queues: str = Field(
        default="",
        description="Queues of the embedded worker, highest priority first; empty: "
        "cpu,cpu-low, or cpu,gpu,cpu-low,gpu-low with a GPU.",
    )

    # --- limits and operations (README "Operating it") ---------------------------------
    queue_max_depth: int = Field(
        default=1000,
        description="Back-pressure: an upload is refused (503 + Retry-After) while this many "
        "runs are queued on its lane (counted in the database; re-grades in the -low lanes "
        "count separately). 0: no limit.",
    )
    queue_busy_retry_after_seconds: int = Field(
        default=60, description="The Retry-After of a 503 for a full queue."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="'json': one JSON object per log line, with submission_id, run_id, "
        "assignment and worker where known.",
    )
    metrics_token: str = Field(
        default="",
        description="GET /metrics needs 'Authorization: Bearer <token>'; empty: /metrics "
        "answers only requests from localhost.",
    )
    worker_heartbeat_seconds: int = Field(
        default=15,
        description="Workers record a heartbeat row this often; /healthz lists the workers "
        "seen within three of these intervals, and reports one lost after two.",
    )
    course_timezone: str = Field(
        default="Asia/Shanghai",
        description="The course's time zone (an IANA name): every time a page shows is in it, "
        "with its offset, and the staff pages' date inputs mean times in it.",
    )
    disk_low_mb: int = Field(
        default=1024,
        description="/healthz reports a folder (storage, job scratch, datasets, the SQLite "
        "database) as low on disk below this many MB free (or a tenth of its file system).",
    )

    # --- accounts ----------------------------------------------------------------------
    session_seconds: int = Field(
        default=12 * 3600, description="A browser stays signed in this long (then signs in again)."
    )
    login_window_seconds: int = Field(
        default=15 * 60, description="Failed sign-ins are counted over this window."
    )
    login_max_failures_per_account: int = Field(
        default=5, description="Failed sign-ins to one account within the window before 429."
    )
    login_max_failures_per_ip: int = Field(
        default=20,
        description="Failed sign-ins from one client address within the window before 429 "
        "(higher than per account: a classroom may share one address).",
    )

    # --- derived ---------------------------------------------------------------------
    def env_dataset_source(self, name: str) -> Path | None:
        """``AUTOGRADER_<NAME>_SOURCE`` (``-`` as ``_``): a dataset's local folder named in
        the environment, e.g. AUTOGRADER_MNIST_SOURCE (read here: settings are the one
        place that reads the environment)."""
        value = os.environ.get(f"AUTOGRADER_{name.upper().replace('-', '_')}_SOURCE")
        return Path(value) if value else None

    @field_validator("course_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Asia/Shanghai or UTC"
            ) from None
        return value

    def path(self, name: Literal["storage", "data", "jobs"]) -> Path:
        explicit = {"storage": self.storage_dir, "data": self.data_dir, "jobs": self.jobs_dir}[name]
        if explicit:
            return Path(explicit)
        if name == "jobs":
            return default_jobs_dir(self.home)
        return self.home / name

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'autograder.db'}"

    @property
    def embedded_redis_socket(self) -> Path:
        return self.home / "redis" / "redis.sock"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis+socket://{self.embedded_redis_socket}"

    @property
    def effective_secret_key(self) -> str:
        """The secret key, generated and kept under HOME when none is configured."""
        if self.secret_key:
            return self.secret_key
        key_file = self.home / "secret_key"
        if not key_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry the Secure flag when the service is reached over https."""
        return self.base_url.lower().startswith("https://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
