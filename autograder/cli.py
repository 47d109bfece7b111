"""The ``autograder`` command line."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import click

from autograder import user_commands
from autograder.settings import get_settings


@click.group()
def main() -> None:
    """Deep-learning homework autograder."""


# ------------------------------------------------------------------------- specs


@main.group()
def specs() -> None:
    """Validate and test grading specs."""


@specs.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def specs_validate(paths: tuple[Path, ...]) -> None:
    """Validate spec files (default: every spec in the specs directory)."""
    from autograder.specs.loader import SpecError, load_spec_file

    settings = get_settings()
    files = _spec_files(paths, settings.specs_dir)
    failed = 0
    for path in files:
        try:
            loaded = load_spec_file(path)
        except SpecError as exc:
            failed += 1
            click.echo(str(exc), err=True)
            continue
        problems = _reference_problems(loaded, settings)
        if problems:
            failed += 1
            for p in problems:
                click.echo(f"{path}: {p}", err=True)
            continue
        click.echo(f"ok  {path}  ({loaded.spec.max_points:g} points, {loaded.spec_hash[:12]})")
    if not files:
        raise click.ClickException("no spec files found")
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} spec(s) invalid")


def _spec_files(paths: tuple[Path, ...], default_dir: Path) -> list[Path]:
    files: list[Path] = []
    for p in paths or (default_dir,):
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return files


def _reference_problems(loaded: Any, settings: Any) -> list[str]:
    problems = []
    for folder, label in (
        (settings.reference_dir, "reference solution"),
        (settings.starters_dir, "starter"),
    ):
        base = folder / loaded.slug
        for f in loaded.spec.files:
            if f.required and not (base / f.name).is_file():
                problems.append(f"{label} file {base / f.name} is missing")
    reference = settings.reference_dir / loaded.slug
    for _, check in loaded.spec.checks():
        names = getattr(check, "weights_files", [])
        if names and not any((reference / n).is_file() for n in names):
            problems.append(f"reference solution {reference} has none of {', '.join(names)}")
    return problems


@specs.command("test")
@click.argument("slugs", nargs=-1)
@click.option("--seed", type=int, default=None, help="Seed for generated inputs (default random).")
def specs_test(slugs: tuple[str, ...], seed: int | None) -> None:
    """Grade every reference solution (must earn full marks) and starter (must earn 0)."""
    from autograder.specs.loader import load_spec_file
    from worker.pipeline import InfraError, grade
    from worker.sandbox import get_backend

    settings = get_settings()
    backend = get_backend(settings)
    paths = [settings.specs_dir / f"{s}.yaml" for s in slugs] or sorted(
        settings.specs_dir.glob("*.yaml")
    )
    failures = 0
    for path in paths:
        loaded = load_spec_file(path)
        job_seed = seed if seed is not None else secrets.randbits(62)
        ref_dir = settings.reference_dir / loaded.slug
        for label, folder, want in (
            ("reference", ref_dir, loaded.spec.max_points),
            ("starter", settings.starters_dir / loaded.slug, 0.0),
        ):
            try:
                report = grade(loaded, folder, ref_dir, job_seed, backend, settings)
            except InfraError as exc:
                failures += 1
                click.echo(f"FAIL {loaded.slug} {label}: {exc.code}: {exc}")
                continue
            ok = abs(report.raw_score - want) < 1e-6
            failures += not ok
            click.echo(
                f"{'ok  ' if ok else 'FAIL'} {loaded.slug} {label}: "
                f"{report.raw_score:g}/{report.max_score:g} (want {want:g}, seed {job_seed})"
            )
            if not ok:
                for o in report.outcomes:
                    if abs(o["earned"] - (o["points"] if want else 0)) > 1e-6:
                        click.echo(f"     {o['question']}/{o['check']}: {o['message']}")
                if report.failure_message:
                    click.echo(f"     {report.failure_kind}: {report.failure_message}")
    if failures:
        raise click.ClickException(f"{failures} failure(s)")


# ------------------------------------------------------------------------- grade


@main.command("grade")
@click.argument("spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--human", is_flag=True, help="A readable table instead of JSON.")
@click.option("--seed", type=int, default=None, help="Seed for generated inputs (default random).")
def grade_cmd(spec_path: Path, directory: Path, human: bool, seed: int | None) -> None:
    """Grade a submission folder locally through the real sandbox and scoring."""
    from autograder.specs.loader import SpecError, load_spec_file
    from worker.pipeline import InfraError, grade
    from worker.sandbox import get_backend

    settings = get_settings()
    try:
        loaded = load_spec_file(spec_path)
    except SpecError as exc:
        raise click.ClickException(str(exc)) from exc
    ref_dir = settings.reference_dir / loaded.slug
    try:
        report = grade(
            loaded,
            directory,
            ref_dir,
            seed if seed is not None else secrets.randbits(62),
            get_backend(settings),
            settings,
        )
    except InfraError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from exc
    data = {
        "assignment": loaded.slug,
        "spec_hash": loaded.spec_hash,
        "state": report.state,
        "score": report.raw_score,
        "max_score": report.max_score,
        "failure_kind": report.failure_kind,
        "failure_message": report.failure_message,
        "outcomes": report.outcomes,
        "timings": report.timings,
        "resources": report.resources,
        "log": report.log,
        "log_truncated": report.log_truncated,
    }
    if human:
        click.echo(render_table(data))
    else:
        click.echo(json.dumps(data, indent=2, default=str))


def render_table(data: dict[str, Any]) -> str:
    lines = [f"{data['assignment']}: {data['score']:g} / {data['max_score']:g}  ({data['state']})"]
    if data["failure_message"]:
        lines.append(f"  {data['failure_kind']}: {data['failure_message']}")
    width = max((len(f"{o['question']}/{o['check']}") for o in data["outcomes"]), default=10)
    for o in data["outcomes"]:
        mark = "PASS" if o["passed"] else "FAIL"
        name = f"{o['question']}/{o['check']}".ljust(width)
        lines.append(
            f"  {mark}  {name}  {o['earned']:6.2f} / {o['points']:<6g} "
            f"{o['message'].splitlines()[0][:100]}"
        )
        for extra in o["message"].splitlines()[1:]:
            lines.append(" " * (width + 8) + extra[:120])
    if data["log"]:
        lines.append("  program output:")
        lines.extend("    " + line for line in data["log"].splitlines()[-20:])
    return "\n".join(lines)


# ------------------------------------------------------------------------- services


@main.command("serve")
def serve_cmd() -> None:
    """Run the service on the configured (default: embedded) database, broker and sandbox."""
    from autograder.serve import run_service

    run_service()


@main.command("worker", context_settings={"ignore_unknown_options": True})
@click.option(
    "--queues",
    "-Q",
    default="cpu,cpu-low",
    help="Comma-separated queues, highest priority first (cpu, gpu, cpu-low, gpu-low).",
)
@click.option("--concurrency", "-c", type=int, default=None)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker_cmd(queues: str, concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a Celery grading worker."""
    from worker.celery_app import app

    settings = get_settings()
    if concurrency:  # jobs share the cores among this many (worker/jobs.threads_per_job)
        settings.worker_concurrency = concurrency
    argv = [
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency or settings.worker_concurrency or len(os.sched_getaffinity(0))),
        "-n",
        f"worker-{os.getpid()}@{socket.gethostname()}",
        "--loglevel",
        "INFO",
        *celery_args,
    ]
    app.worker_main(argv)


main.add_command(user_commands.users)


@main.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print the /healthz JSON instead.")
def health_cmd(as_json: bool) -> None:
    """The database, the broker and the workers seen lately (what GET /healthz says).
    Exit status 1 when the database is down, 2 when degraded, else 0."""
    from autograder import health
    from autograder.db import session_factory

    session = session_factory()()
    try:
        body = health.report(session)
    finally:
        session.close()
    click.echo(json.dumps(body, indent=2) if as_json else health.render(body))
    if body["status"] != "ok":
        sys.exit(1)
    if body["degraded"]:
        sys.exit(2)


@main.group()
def db() -> None:
    """Database chores."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to the configured database."""
    from autograder.migrate import upgrade

    upgrade()
    click.echo("database is at the latest revision")


# ------------------------------------------------------------------------- data


@main.group()
def data() -> None:
    """Datasets under the data directory: fetch, status, verify."""


def _dataset_names() -> list[str]:
    from autograder.datasets import REGISTRY

    return sorted(REGISTRY)


@data.command("fetch")
@click.argument("name", type=click.Choice(_dataset_names()))
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A local copy (gz or uncompressed files, or torchvision's ROOT/MNIST/raw/). "
    "Without it: the public mirrors.",
)
def data_fetch(name: str, source: Path | None) -> None:
    """Fetch a dataset, check its checksums and prepare it for grading."""
    from autograder.datasets import DatasetError, fetch

    settings = get_settings()
    click.echo(
        f"fetching {name} from {source or 'the public mirrors'} into {settings.path('data')}"
    )
    try:
        report = fetch(name, source, data_dir=settings.path("data"), progress=click.echo)
    except (DatasetError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.status.describe())
    click.echo(f"done in {report.seconds:.1f}s")


@data.command("status")
@click.argument("name", required=False, type=click.Choice(_dataset_names()))
def data_status(name: str | None) -> None:
    """Quick check (manifests, sizes, modes) of one dataset or all; exit 1 unless present."""
    from autograder.datasets import status

    data_dir = get_settings().path("data")
    results = [status(n, data_dir) for n in ([name] if name else _dataset_names())]
    for result in results:
        click.echo(result.describe())
    if not all(r.ok for r in results):
        sys.exit(1)


@data.command("verify")
@click.argument("name", type=click.Choice(_dataset_names()))
def data_verify(name: str) -> None:
    """Recompute every checksum of a dataset (raw MD5s, prepared sha256s); exit 1 if any differ."""
    from autograder.datasets import verify

    result = verify(name, get_settings().path("data"))
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
