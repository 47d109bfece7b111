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
from autograder.settings import Settings, get_settings


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


@specs.command("sync")
def specs_sync() -> None:
    """Load the specs directory's specs into the database as assignments (what `autograder
    serve` does at start; a deployment runs it after `db upgrade`). A broken spec is
    reported on stderr and skipped, as there: the others still load."""
    from autograder.assignments import sync_specs
    from autograder.db import session_scope

    settings = get_settings()
    with session_scope() as session:
        report = sync_specs(session, settings.specs_dir)
    for slug in report.loaded:
        note = " (new or changed)" if slug in report.changed else ""
        click.echo(f"loaded assignment {slug}{note}")
    for error in report.errors:
        click.echo(f"spec error:\n{error}", err=True)
    if not report.loaded and not report.errors:
        click.echo(f"no grading specs found in {settings.specs_dir}", err=True)


def _spec_files(paths: tuple[Path, ...], default_dir: Path) -> list[Path]:
    files: list[Path] = []
    for p in paths or (default_dir,):
        files.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return files


def _reference_problems(loaded: Any, settings: Settings) -> list[str]:
    """What the installed reference solution and starter lack (autograder/publishing.py)."""
    from autograder.publishing import bundle_problems

    return bundle_problems(
        loaded, settings.reference_dir / loaded.slug, settings.starters_dir / loaded.slug
    )


def _spec_path(specs_dir: Path, given: str) -> Path:
    """A spec named by its slug (``hw1-1``: the specs folder's hw1-1.yaml) or by a path to
    its file (``grading_specs/hw1-1.yaml``, as ``specs validate`` takes it)."""
    if given.endswith((".yaml", ".yml")) or "/" in given:
        return Path(given)
    return specs_dir / f"{given}.yaml"


@specs.command("test")
@click.argument("slugs", nargs=-1)
@click.option("--seed", type=int, default=None, help="Seed for generated inputs (default random).")
@click.option(
    "--samples",
    "samples_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Also grade the sample submissions in DIR (DIR/<slug>/<name>/ or, for one slug, "
    "DIR/<name>/), each against its expect.yaml, and print every check's metric, "
    "thresholds and margin. The shipped ones are in grading_specs/samples/.",
)
def specs_test(slugs: tuple[str, ...], seed: int | None, samples_dir: Path | None) -> None:
    """Grade every reference solution (must earn full marks) and starter (must earn 0);
    with --samples, sample submissions too (each must score what its expect.yaml says)."""
    from autograder.specs.loader import SpecError, load_spec_file
    from worker.sandbox import get_backend
    from worker.spec_checks import run_spec_checks

    settings = get_settings()
    backend = get_backend(settings)
    paths = [_spec_path(settings.specs_dir, s) for s in slugs] or sorted(
        settings.specs_dir.glob("*.yaml")
    )
    failures = 0
    for path in paths:
        try:
            loaded = load_spec_file(path)
        except SpecError as exc:
            raise click.ClickException(str(exc)) from None
        folder = None
        if samples_dir is not None:
            folder = samples_dir / loaded.slug
            if not folder.is_dir() and len(paths) == 1:
                folder = samples_dir
        failures += run_spec_checks(
            loaded,
            settings.reference_dir / loaded.slug,
            settings.starters_dir / loaded.slug,
            folder,
            seed if seed is not None else secrets.randbits(62),
            backend,
            settings,
            click.echo,
        )
    if failures:
        raise click.ClickException(f"{failures} failure(s)")


# ------------------------------------------------------------------- assignments


@main.group()
def assignments() -> None:
    """Publish an assignment's bundle with every check, withdraw it, list every state."""


@assignments.command("publish")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--draft", is_flag=True, help="Install it checked but unpublished (staff pages publish it)."
)
@click.option("--seed", type=int, default=None, help="Seed for generated inputs (default random).")
def assignments_publish(directory: Path, draft: bool, seed: int | None) -> None:
    """Check a bundle as `specs validate` and `specs test --samples` do (reference full
    marks, starter zero, each sample in its range), then install and publish it. Nothing
    is installed or shown to students unless every check passes.

    \b
    A bundle DIR is laid out as:
      DIR/<slug>.yaml          the spec (its file name is the assignment's slug)
      DIR/reference/           the reference solution (and any weights the checks need)
      DIR/starter/             the starter, with README.md and README.zh.md
      DIR/samples/<name>/      optional: sample submissions, each with its expect.yaml
      DIR/datasets/<name>.yaml optional: a manifest of a dataset not yet declared
    """  # noqa: D301 (click's \b keeps the layout's lines)
    from autograder import datasets
    from autograder.db import session_scope
    from autograder.publishing import (
        BundleError,
        bundle_problems,
        load_bundle,
        read_bundle,
        record_published,
    )
    from autograder.specs.loader import SpecError
    from worker.sandbox import get_backend
    from worker.spec_checks import run_spec_checks

    settings = get_settings()
    nothing = "nothing was installed or published"
    try:
        bundle = read_bundle(directory)
        declared = datasets.declared(settings.datasets_dir)
        loaded, new = load_bundle(bundle, declared)
    except BundleError as exc:
        raise click.ClickException(f"{exc}\n{nothing}") from None
    except SpecError as exc:
        click.echo(str(exc), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s); {nothing}") from None
    problems = bundle_problems(loaded, bundle.reference, bundle.starter)
    for name in new:
        if name in declared:
            problems.append(
                f"a different manifest of dataset {name!r} is declared in "
                f"{declared[name].manifest_path}: replace it first with `autograder data add "
                f"--replace {bundle.folder / 'datasets' / (name + '.yaml')}` if so meant"
            )
    if problems:
        for problem in problems:
            click.echo(f"{directory}: {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s); {nothing}")
    for name, dataset in new.items():  # declared before grading: students see no dataset
        target = Path(settings.datasets_dir) / f"{name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(Path(dataset.manifest_path).read_bytes())
        os.replace(tmp, target)
        click.echo(f"declared dataset {name} in {target}")
    used = sorted({d for _, c in loaded.spec.checks() if (d := getattr(c, "dataset", None))})
    missing = [
        n
        for n in used
        if not datasets.status(n, settings.path("data"), datasets_dir=settings.datasets_dir).ok
    ]
    if missing:
        raise click.ClickException(
            "; ".join(f"dataset {n} is not prepared" for n in missing)
            + ": run `autograder data fetch NAME [--from DIR]` for each, then publish again; "
            + nothing
        )
    click.echo(f"checking {loaded.slug} (version {loaded.spec_hash[:12]}) from {directory}")
    failures = run_spec_checks(
        loaded,
        bundle.reference,
        bundle.starter,
        bundle.samples,
        seed if seed is not None else secrets.randbits(62),
        get_backend(settings),
        settings,
        click.echo,
    )
    if failures:
        raise click.ClickException(f"{failures} check(s) failed; {nothing}")
    from autograder.migrate import upgrade
    from autograder.publishing import install_bundle

    install_bundle(bundle, settings.specs_dir, settings.reference_dir, settings.starters_dir)
    upgrade()
    with session_scope() as session:
        origin = f"bundle {directory.resolve()}"
        row = record_published(session, loaded, origin, draft=draft)
        state = row.state
    click.echo(f"{loaded.slug}: version {loaded.spec_hash[:12]} installed, {state}")


@assignments.command("list")
def assignments_list() -> None:
    """Every assignment: its state, current version and where that version came from."""
    from sqlalchemy import select

    from autograder.db import session_scope
    from autograder.migrate import upgrade
    from autograder.models import Assignment

    upgrade()
    with session_scope() as session:
        rows = list(session.scalars(select(Assignment).order_by(Assignment.slug)))
        if not rows:
            click.echo("no assignments")
        for row in rows:
            checked = "" if row.checked_hash == row.spec_hash else " (not checked for publishing)"
            click.echo(f"{row.slug:<16} {row.state:<9} {row.spec_hash[:12]}{checked}  {row.origin}")


def _set_state(slug: str, state: str) -> None:
    from sqlalchemy import select

    from autograder.db import session_scope
    from autograder.migrate import upgrade
    from autograder.models import Assignment
    from autograder.publishing import StateRefused, set_state

    upgrade()
    with session_scope() as session:
        row = session.scalar(select(Assignment).where(Assignment.slug == slug))
        if row is None:
            raise click.BadParameter(f"no assignment {slug!r}", param_hint="SLUG")
        try:
            set_state(session, row, state, None)
        except StateRefused as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{slug}: {state}")


@assignments.command("withdraw")
@click.argument("slug")
def assignments_withdraw(slug: str) -> None:
    """Hide an assignment from students (no new submission); every submission is kept."""
    _set_state(slug, "withdrawn")


@assignments.command("republish")
@click.argument("slug")
def assignments_republish(slug: str) -> None:
    """Publish a withdrawn assignment (or a checked draft) again, as it was checked."""
    _set_state(slug, "published")


# ------------------------------------------------------------------------- grade


@main.command("grade")
@click.argument("spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--human", is_flag=True, help="A readable table instead of JSON.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="The language of --human's messages (zh: the checks' and the failure's Chinese).",
)
@click.option("--seed", type=int, default=None, help="Seed for generated inputs (default random).")
def grade_cmd(spec_path: Path, directory: Path, human: bool, lang: str, seed: int | None) -> None:
    """Grade a submission folder locally through the real sandbox and scoring."""
    from autograder.grading.failures import GradingError
    from autograder.specs.loader import SpecError, load_spec_file
    from worker.pipeline import JobContext, grade
    from worker.sandbox import get_backend

    settings = get_settings()
    try:
        loaded = load_spec_file(spec_path)
    except SpecError as exc:
        raise click.ClickException(str(exc)) from exc
    ref_dir = settings.reference_dir / loaded.slug
    try:
        report = grade(
            JobContext(
                loaded=loaded,
                submission_dir=directory,
                reference_dir=ref_dir,
                seed=seed if seed is not None else secrets.randbits(62),
                backend=get_backend(settings),
                settings=settings,
            )
        )
    except GradingError as exc:
        raise click.ClickException(f"{exc.kind} failure {exc.code}: {exc}") from exc
    data = {
        "assignment": loaded.slug,
        "spec_hash": loaded.spec_hash,
        "state": report.state,
        "score": report.raw_score,
        "max_score": report.max_score,
        "failure_kind": report.failure_kind,
        "failure_message": report.failure_message,
        "failure_message_zh": None if report.failure is None else report.failure.message("zh"),
        "outcomes": [o.model_dump() for o in report.outcomes],
        "timings": report.timings,
        "resources": report.resources,
        "log": report.log,
        "log_truncated": report.log_truncated,
    }
    if human:
        click.echo(render_table(data, lang=lang))
    else:
        click.echo(json.dumps(data, indent=2, default=str))


def render_table(data: dict[str, Any], width: int | None = None, lang: str = "en") -> str:
    """The report for a terminal: one line per check, every message in full (wrapped to
    the terminal's width, never cut), the program's last output lines; ``lang`` "zh": the
    Chinese of each message where the report has it."""
    import shutil
    import textwrap

    columns = width or max(80, shutil.get_terminal_size((100, 24)).columns)
    lines = [f"{data['assignment']}: {data['score']:g} / {data['max_score']:g}  ({data['state']})"]
    failure = data["failure_message"]
    if lang == "zh" and data.get("failure_message_zh"):
        failure = data["failure_message_zh"]
    if failure:
        lines.append(f"  {data['failure_kind']}:")
        lines += ["    " + line for line in failure.splitlines()]
    name_width = max((len(f"{o['question']}/{o['check']}") for o in data["outcomes"]), default=10)
    indent = " " * 8
    for o in data["outcomes"]:
        mark = "PASS" if o["passed"] else "FAIL"
        name = f"{o['question']}/{o['check']}".ljust(name_width)
        lines.append(f"  {mark}  {name}  {o['earned']:6.2f} / {o['points']:g}")
        message = o.get("message_zh") if lang == "zh" and o.get("message_zh") else o["message"]
        for text in message.splitlines():
            wrapped = textwrap.wrap(
                text,
                columns,
                initial_indent=indent,
                subsequent_indent=indent + "  ",
                drop_whitespace=False,
                break_on_hyphens=False,
            )
            lines += wrapped or [""]
    if data["log"]:
        log_lines = data["log"].splitlines()
        shown = log_lines[-20:]
        lines.append(
            "  program output"
            + (
                f" (its last 20 of {len(log_lines)} lines; the JSON output has all):"
                if len(log_lines) > 20
                else ":"
            )
        )
        lines.extend("    " + line for line in shown)
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
    """Datasets: declared by manifests in the datasets folder, prepared in the data directory."""


def _dataset(name: str) -> Any:
    """The declared dataset ``name``; a usage error (exit 2) naming the declared ones."""
    from autograder.datasets import DatasetError, get_spec

    try:
        return get_spec(name, get_settings().datasets_dir)
    except DatasetError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None


def _broken_manifests() -> list[Any]:
    from autograder.datasets import load_manifests

    _, errors = load_manifests(get_settings().datasets_dir)
    for exc in errors:
        click.echo(f"invalid manifest (skipped):\n{exc}", err=True)
    return errors


@data.command("add")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a declared dataset of the same name.")
def data_add(manifest: Path, replace: bool) -> None:
    """Validate a dataset manifest and copy it into the datasets folder as <name>.yaml."""
    from autograder.datasets import load_manifest_file
    from autograder.specs.loader import SpecError

    try:
        spec = load_manifest_file(manifest, check_name=False)
    except SpecError as exc:
        click.echo(str(exc), err=True)
        click.echo(f"{manifest}: invalid ({len(exc.problems)} problem(s)); nothing added", err=True)
        sys.exit(1)
    folder = Path(get_settings().datasets_dir)
    target = folder / f"{spec.name}.yaml"
    text = manifest.read_text(encoding="utf-8")
    if target.exists() and target.resolve() != manifest.resolve():
        if target.read_text(encoding="utf-8") == text:
            click.echo(f"{spec.name}: already declared in {target} (same manifest)")
            return
        if not replace:
            raise click.ClickException(
                f"a dataset {spec.name!r} is already declared in {target}; "
                "pass --replace to replace it"
            )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    click.echo(f"{spec.name}: declared in {target} ({spec.title}; {spec.licence})")
    click.echo(f"next: {spec.fix.removeprefix('run ')}")


@data.command("fetch")
@click.argument("name")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A local copy (its files gzipped or not, torchvision's ROOT/<DIR>/raw/, or an "
    "extracted Debian package). Without it: the manifest's mirrors.",
)
def data_fetch(name: str, source: Path | None) -> None:
    """Fetch a declared dataset, check its checksums and prepare it for grading."""
    from autograder.datasets import DatasetError, fetch

    spec = _dataset(name)
    settings = get_settings()
    click.echo(
        f"fetching {name} from {source or 'the mirrors in its manifest'} "
        f"into {settings.path('data')}"
    )
    try:
        report = fetch(
            spec.name,
            source,
            data_dir=settings.path("data"),
            datasets_dir=settings.datasets_dir,
            progress=click.echo,
        )
    except (DatasetError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(report.status.describe())
    click.echo(f"done in {report.seconds:.1f}s")


@data.command("status")
@click.argument("name", required=False)
def data_status(name: str | None) -> None:
    """Quick check (manifests, sizes, modes) of one dataset or all; exit 1 unless present."""
    from autograder.datasets import declared, status

    settings = get_settings()
    names = [_dataset(name).name] if name else sorted(declared(settings.datasets_dir))
    broken = [] if name else _broken_manifests()
    if not names and not broken:
        click.echo(f"no datasets declared in {settings.datasets_dir}")
    results = [status(n, settings.path("data"), datasets_dir=settings.datasets_dir) for n in names]
    for result in results:
        click.echo(result.describe())
    if broken or not all(r.ok for r in results):
        sys.exit(1)


@data.command("verify")
@click.argument("name")
def data_verify(name: str) -> None:
    """Recompute every checksum of a dataset (raw files, prepared sha256s); exit 1 if any differ."""
    from autograder.datasets import verify

    settings = get_settings()
    result = verify(_dataset(name).name, settings.path("data"), datasets_dir=settings.datasets_dir)
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
