"""systemd/: the units that supervise the API and the workers outside compose, checked
without a running systemd: `systemd-analyze verify` on copies whose paths point at this
checkout (unknown keys, bad values and missing executables are its errors), then the
settings they rely on, and every command line they start, run with ``--help`` so that the
CLI refuses an option it does not know."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from autograder.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "systemd"
ENV_EXAMPLE = UNITS / "autograder.env.example"
INSTALLED = "/opt/autograder"  # where the units expect the checkout (README.md)
REQUIRE = os.environ.get("AUTOGRADER_TEST_REQUIRE_SERVICES") == "1"
# (unit file, instance for templates)
SERVICES = [("autograder-api.service", None), ("autograder-worker@.service", ("cpu", "gpu"))]


def _unit(name: str) -> configparser.ConfigParser:
    # Repeated keys (ExecStartPre) are kept, newline-joined.
    class Multi(dict):
        def __setitem__(self, key, value):
            if key in self and isinstance(value, list) and isinstance(self[key], list):
                self[key].extend(value)
            else:
                super().__setitem__(key, value)

    parser = configparser.RawConfigParser(dict_type=Multi, strict=False, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNITS / name)
    return parser


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def _commands(name: str, instance: str | None) -> list[list[str]]:
    service = _unit(name)["Service"]
    lines = []
    for key in ("ExecStartPre", "ExecStart"):
        lines += [v for v in service.get(key, "").splitlines() if v.strip()]
    env = _env_example()
    out = []
    for raw in lines:
        line = raw.replace("%i", instance or "")
        line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
        out.append(shlex.split(line))
    return out


def test_the_units_restart_and_read_the_environment_file():
    for name, _ in SERVICES:
        unit = _unit(name)
        service = unit["Service"]
        assert service["Restart"] == "always", name
        assert service["EnvironmentFile"] == "/etc/autograder/autograder.env", name
        assert int(service["LimitNOFILE"]) >= 4096, name
        assert unit["Install"]["WantedBy"] == "multi-user.target", name
    api = _unit("autograder-api.service")["Service"]
    assert api["User"] == "autograder"  # the API is not root and has no engine
    worker = _unit("autograder-worker@.service")["Service"]
    # A graceful Celery stop: SIGTERM to the main process, minutes for the jobs in flight.
    assert worker["KillMode"] == "mixed" and worker["KillSignal"] == "SIGTERM"
    assert int(worker["TimeoutStopSec"]) >= 300
    assert worker["Delegate"] == "yes"  # the boxes' cgroups live below the worker's


def test_the_example_environment_holds_only_settings():
    fields = {f"AUTOGRADER_{name.upper()}" for name in Settings.model_fields}
    env = _env_example()
    assert set(env) <= fields, set(env) - fields
    for name, _ in SERVICES:
        used = set(re.findall(r"\$\{(\w+)\}", (UNITS / name).read_text()))
        assert used <= set(env), (name, used - set(env))
    assert Settings(**{k[len("AUTOGRADER_") :].lower(): v for k, v in env.items()})


@pytest.mark.parametrize(
    "name,instance", [(n, i) for n, insts in SERVICES for i in (insts or (None,))]
)
def test_every_command_the_units_start_accepts_its_arguments(name, instance):
    for argv in _commands(name, instance):
        assert argv[0].startswith(INSTALLED + "/"), argv
        program = ROOT / argv[0][len(INSTALLED) + 1 :]
        assert os.access(program, os.X_OK), program
        # Click parses every option before it honours --help: an unknown one fails here.
        done = subprocess.run(
            [str(program), *argv[1:], "--help"],
            check=False,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (argv, done.stderr[-2000:])
        if "--factory" in argv:  # uvicorn's app factory imports
            target = argv[argv.index("--factory") + 1]
            module, _, attr = target.partition(":")
            check = f"import {module} as m; assert callable(m.{attr})"
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "python"), "-c", check],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                check=True,
                timeout=120,
            )


def test_systemd_analyze_verifies_the_units(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if REQUIRE:
            pytest.fail("systemd-analyze is not installed (scripts/setup.sh installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    env_file = tmp_path / "autograder.env"
    shutil.copy(ENV_EXAMPLE, env_file)
    names = []
    for name, instances in SERVICES:
        text = (UNITS / name).read_text().replace(INSTALLED, str(ROOT))
        text = text.replace("/etc/autograder/autograder.env", str(env_file))
        for instance in instances or (None,):
            target = name.replace("@.", f"@{instance}.") if instance else name
            (tmp_path / target).write_text(text)
            names.append(f"./{target}")
    done = subprocess.run(
        [tool, "verify", "--man=no", *names],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Warnings (an unknown key, a value it ignores) exit 0 too: none is allowed.
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "autograder" in line or str(tmp_path) in line
    ]
    assert not problems, problems


def test_the_api_units_start_steps_run_on_a_fresh_database(tmp_path):
    """ExecStartPre of the API for real (SQLite under a fresh home): the schema, then the
    shipped specs become assignments; run twice, as every restart does."""
    pre = _unit("autograder-api.service")["Service"]["ExecStartPre"].splitlines()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AUTOGRADER_HOME": str(tmp_path),
        "AUTOGRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    for _ in range(2):
        out = ""
        for line in pre:
            argv = shlex.split(line)
            argv[0] = str(ROOT / argv[0][len(INSTALLED) + 1 :])
            done = subprocess.run(
                argv, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, (argv, done.stdout, done.stderr[-2000:])
            out += done.stdout
        assert "loaded assignment hw1-1" in out, out
