"""Publishing an assignment: the checks a version must pass before students see it, and
its state (draft -> published -> withdrawn, autograder/models.py AssignmentState).

The static checks (``bundle_problems``: every file the spec requires in the reference
solution and the starter, the uploaded weights the checks need, the starter's handouts in
English and Chinese) run wherever a spec arrives: ``specs validate``, a spec uploaded on
the staff pages, ``assignments publish``. The graded ones (reference full marks, starter
zero, samples in range) need a sandbox, so they run in ``autograder assignments publish``
(autograder/cli.py), which records the version that passed them (``checked_hash``); the
staff pages publish only such a version, or withdraw one.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from autograder.assignments import upsert_assignment
from autograder.models import Assignment, AssignmentState, User
from autograder.specs.loader import LoadedSpec, SpecError, load_spec_text
from autograder.starters import HANDOUTS

log = logging.getLogger(__name__)


class StateRefused(Exception):
    """A state change that is not allowed now; the message says why and what to do, in
    English and (``zh``) in Chinese."""

    def __init__(self, message: str, zh: str):
        super().__init__(message)
        self.zh = zh


def bundle_problems(loaded: LoadedSpec, reference: Path, starter: Path) -> list[str]:
    """What the reference solution (in ``reference``) and the starter (in ``starter``) lack
    for ``loaded``: required files, uploaded weights the checks need, the handouts."""
    problems = []
    for base, label in ((reference, "reference solution"), (starter, "starter")):
        for f in loaded.spec.files:
            if f.required and not (base / f.name).is_file():
                problems.append(f"{label} file {base / f.name} is missing")
    for lang, name in HANDOUTS.items():
        if starter.is_dir() and not (starter / name).is_file():
            language = {"en": "English", "zh": "Chinese"}[lang]
            problems.append(
                f"starter {starter} has no handout {name} (in {language}): students download "
                "it with the starter"
            )
    for _, check in loaded.spec.checks():
        names = getattr(check, "weights_files", [])
        if names and not any((reference / n).is_file() for n in names):
            problems.append(f"reference solution {reference} has none of {', '.join(names)}")
    return problems


def set_state(session: Session, assignment: Assignment, state: str, user: User | None) -> None:
    """Publish or withdraw ``assignment`` (withdrawing keeps every submission; students
    no longer see it nor can submit). Publishing needs a version that passed the publish
    checks or was live before; StateRefused says so otherwise."""
    wanted = AssignmentState(state)
    if wanted == AssignmentState.draft:
        raise StateRefused(
            "an assignment cannot go back to draft; withdraw it instead",
            "已发布的作业不能退回草稿状态；请改为撤回",
        )
    if wanted == AssignmentState.published and assignment.checked_hash != assignment.spec_hash:
        raise StateRefused(
            f"version {assignment.spec_hash[:12]} of {assignment.slug} has not passed the "
            "publish checks (reference full marks, starter zero, samples in range): publish "
            "its bundle with `autograder assignments publish DIR`, which runs them",
            f"{assignment.slug} 的版本 {assignment.spec_hash[:12]} 尚未通过发布检查（参考答案满分、"
            "起始代码零分、样例分数在范围内）：请用 `autograder assignments publish DIR` 发布其"
            "作业包，该命令会运行这些检查",
        )
    assignment.state = wanted
    log.info(
        "assignment %s %s by %s", assignment.slug, wanted.value, user.name if user else "the CLI"
    )


# --------------------------------------------------------------------------- bundles

BUNDLE_LAYOUT = """\
  DIR/<slug>.yaml          the grading spec (its file name is the assignment's slug)
  DIR/reference/           the reference solution (and any weights the checks need)
  DIR/starter/             the starter students download, with README.md and README.zh.md
  DIR/samples/<name>/      optional: sample submissions, each with its expect.yaml
  DIR/datasets/<name>.yaml optional: the manifest of a dataset the course does not declare yet"""


class BundleError(Exception):
    """A bundle folder that cannot be published; ``str()`` lists every problem."""


@dataclass
class Bundle:
    """An assignment's files in one folder (BUNDLE_LAYOUT), as ``assignments publish``
    takes them."""

    folder: Path
    spec_path: Path
    reference: Path
    starter: Path
    samples: Path | None
    manifests: list[Path] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.spec_path.stem


def read_bundle(folder: Path) -> Bundle:
    """The bundle in ``folder``; BundleError names each missing or ambiguous part."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(f"{folder}: not a folder (a bundle is laid out as\n{BUNDLE_LAYOUT})")
    specs = sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    problems = []
    if len(specs) != 1:
        found = ", ".join(p.name for p in specs) or "none"
        problems.append(f"{folder}: wants exactly one spec <slug>.yaml at its top (found {found})")
    for part in ("reference", "starter"):
        if not (folder / part).is_dir():
            problems.append(f"{folder / part}: missing")
    if problems:
        raise BundleError("\n".join(problems) + f"\na bundle is laid out as\n{BUNDLE_LAYOUT}")
    samples = folder / "samples"
    datasets = folder / "datasets"
    return Bundle(
        folder=folder,
        spec_path=specs[0],
        reference=folder / "reference",
        starter=folder / "starter",
        samples=samples if samples.is_dir() else None,
        manifests=sorted(datasets.glob("*.yaml")) if datasets.is_dir() else [],
    )


def load_bundle(bundle: Bundle, declared: dict[str, Any]) -> tuple[LoadedSpec, dict[str, Any]]:
    """Validate the bundle's dataset manifests and spec (against the declared datasets and
    the bundle's own). Returns the spec and the bundle's datasets that the course does not
    declare yet, or declares differently (which publishing would replace: refused).
    Raises SpecError with every problem of the manifests and the spec."""
    from autograder.datasets import load_manifest_file

    own: dict[str, Any] = {}
    problems = []
    for path in bundle.manifests:
        try:
            dataset = load_manifest_file(path)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        own[dataset.name] = dataset
    if problems:
        raise SpecError(problems)
    try:
        source = bundle.spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{bundle.spec_path}: cannot read: {exc}") from None
    loaded = load_spec_text(source, bundle.slug, str(bundle.spec_path), declared | own)
    new = {
        name: ds
        for name, ds in own.items()
        if name not in declared or _bytes(declared[name].manifest_path) != _bytes(ds.manifest_path)
    }
    return loaded, new


def _bytes(path: Path | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


def install_bundle(
    bundle: Bundle, specs_dir: Path, reference_dir: Path, starters_dir: Path
) -> None:
    """Copy the bundle's spec, reference solution, starter and samples into the course's
    folders, each replaced whole (a file the new version no longer has does not linger).
    The spec goes last: until it changes, the old version's files are what it names."""
    _replace_tree(bundle.reference, Path(reference_dir) / bundle.slug)
    _replace_tree(bundle.starter, Path(starters_dir) / bundle.slug)
    samples = Path(specs_dir) / "samples" / bundle.slug
    if bundle.samples is not None:
        _replace_tree(bundle.samples, samples)
    target = Path(specs_dir) / f"{bundle.slug}.yaml"
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    Path(specs_dir).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle.spec_path, tmp)
    os.replace(tmp, target)


def _replace_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (no symlink followed or copied), swapped in
    by renames so that a reader sees the old tree or the new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.new")
    shutil.copytree(source, staging, symlinks=True, ignore=_unwanted)
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    if target.exists():
        os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _unwanted(folder: str, names: list[str]) -> list[str]:
    return [
        n
        for n in names
        if n == "__pycache__" or n.startswith(".") or (Path(folder) / n).is_symlink()
    ]


def record_published(
    session: Session, loaded: LoadedSpec, origin: str, *, draft: bool
) -> Assignment:
    """Make ``loaded`` (a version that passed every publish check) current and checked:
    published, or a draft the staff pages can publish later (``draft``)."""
    state = AssignmentState.draft if draft else AssignmentState.published
    upsert_assignment(session, loaded, state_if_new=state, origin=origin)
    row = session.scalar(select(Assignment).where(Assignment.slug == loaded.slug))
    assert row is not None
    row.checked_hash = loaded.spec_hash
    if not draft:
        row.state = AssignmentState.published
    session.flush()
    return row
