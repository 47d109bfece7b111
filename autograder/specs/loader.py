"""Load grading specs from YAML and report mistakes as ``file:line: key.path: message``.

The one error formatter for specs: the CLI, the API and the worker all show these
messages. Unknown keys and unknown values get a "did you mean" from difflib.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from autograder.grading.failures import FailureCode
from autograder.specs.schema import Spec

M = TypeVar("M", bound=BaseModel)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    key_path: str
    message: str
    # A dataset manifest's problems (autograder/datasets.py) carry dataset:* codes, which
    # are not FailureCode members.
    code: FailureCode | str = FailureCode.SPEC_INVALID

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key_path}:" if self.key_path else ""
        return f"{where}:{key} {self.message}"


class SpecError(Exception):
    """A spec that cannot be used; ``problems`` lists every mistake found."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class LoadedSpec:
    slug: str
    path: Path
    spec: Spec
    source: str
    spec_hash: str


def spec_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- loading


def load_spec_file(path: Path) -> LoadedSpec:
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            [SpecProblem(str(path), None, "", f"cannot read: {exc}", FailureCode.SPEC_IO)]
        ) from None
    return load_spec_text(source, path.stem, str(path))


def validate_yaml(source: str, filename: str, model: type[M]) -> tuple[M, yaml.Node | None]:
    """``source`` parsed safely and validated by ``model``; the YAML tree for line numbers.

    Raises ``SpecError`` with every mistake as ``file:line: key.path: message`` (the same
    messages for specs and dataset manifests)."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(
            [
                SpecProblem(
                    filename, line, "", f"YAML syntax error: {problem}", FailureCode.SPEC_YAML
                )
            ]
        ) from None
    duplicates = list(_duplicate_keys(root, filename))
    if duplicates:
        raise SpecError(duplicates)
    if not isinstance(data, dict):
        raise SpecError(
            [
                SpecProblem(
                    filename,
                    1,
                    "",
                    "the file must be a mapping of keys to values",
                    FailureCode.SPEC_YAML,
                )
            ]
        )
    try:
        return model.model_validate(data), root
    except ValidationError as exc:
        problems = [_problem(filename, root, err, model) for err in exc.errors()]
        raise SpecError(sorted(problems, key=lambda p: p.line or 0)) from None


def load_spec_text(
    source: str, slug: str, filename: str, datasets: dict[str, Any] | None = None
) -> LoadedSpec:
    """``datasets``: the declared datasets by name (default: the settings' datasets folder)."""
    if not SLUG_RE.match(slug):
        raise SpecError(
            [
                SpecProblem(
                    filename,
                    None,
                    "",
                    f"file name {slug!r} is not a valid slug (lower-case letters, digits, - and _)",
                    FailureCode.SPEC_BAD_SLUG,
                )
            ]
        )
    spec, root = validate_yaml(source, filename, Spec)
    problems = list(_cross_references(spec, root, filename))
    problems += _dataset_references(spec, root, filename, datasets)
    if problems:
        raise SpecError(problems)
    return LoadedSpec(
        slug=slug, path=Path(filename), spec=spec, source=source, spec_hash=spec_hash(source)
    )


def load_specs_dir(directory: Path) -> tuple[list[LoadedSpec], list[SpecError]]:
    loaded: list[LoadedSpec] = []
    errors: list[SpecError] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            loaded.append(load_spec_file(path))
        except SpecError as exc:
            errors.append(exc)
    return loaded, errors


def _cross_references(spec: Spec, root: yaml.Node | None, filename: str) -> Iterator[SpecProblem]:
    """Mistakes between keys: a check using a module or weights file not among the files."""
    modules = spec.modules()
    names = {f.name for f in spec.files}
    for qi, question in enumerate(spec.questions):
        for ci, check in enumerate(question.checks):
            for wi, weights in enumerate(getattr(check, "weights_files", [])):
                if weights not in names:
                    loc: tuple[Any, ...] = ("questions", qi, "checks", ci, "weights_files", wi)
                    yield SpecProblem(
                        filename,
                        _node_line(root, loc),
                        _path_text(loc),
                        f"weights file {weights!r} is not among files",
                        FailureCode.SPEC_UNKNOWN_FILE,
                    )
            if check.module not in modules:
                loc = ("questions", qi, "checks", ci, "module")
                files = ", ".join(f.name for f in spec.files)
                yield SpecProblem(
                    filename,
                    _node_line(root, loc),
                    _path_text(loc),
                    f"module {check.module!r} is not among the required files ({files})"
                    f"{_suggest(check.module, sorted(modules))}",
                    FailureCode.SPEC_UNKNOWN_MODULE,
                )


def _dataset_references(
    spec: Spec, root: yaml.Node | None, filename: str, datasets: dict[str, Any] | None
) -> list[SpecProblem]:
    """Each check's ``dataset`` (and a classifier's ``test_dataset``) is declared (a
    manifest in the datasets folder), and its ``train_subset``/``test_subset`` fit the
    splits they are drawn from. A private dataset (a test split the course keeps to itself)
    is only ever a ``test_dataset``, and matches its ``dataset``'s images and classes."""
    users: list[tuple[int, int, Any]] = [  # checks of the kinds that name a dataset
        (qi, ci, check)
        for qi, question in enumerate(spec.questions)
        for ci, check in enumerate(question.checks)
        if getattr(check, "dataset", None)
    ]
    if not users:
        return []
    folder = ""
    if datasets is None:
        from autograder.datasets import _datasets_dir, declared

        datasets = declared()
        folder = f" in {_datasets_dir(None)}"
    problems = []

    def problem(loc: tuple[Any, ...], message: str, code: FailureCode) -> None:
        problems.append(
            SpecProblem(filename, _node_line(root, loc), _path_text(loc), message, code)
        )

    def lookup(base: tuple[Any, ...], key: str, name: str) -> Any:
        ds = datasets.get(name)
        if ds is None:
            known = sorted(datasets)
            problem(
                (*base, key),
                f"unknown dataset {name!r}{_suggest(name, known)} (declared{folder}: "
                f"{', '.join(known) or 'none'}; an instructor declares one with "
                "`autograder data add MANIFEST`)",
                FailureCode.SPEC_UNKNOWN_DATASET,
            )
        return ds

    for qi, ci, check in users:
        base = ("questions", qi, "checks", ci)
        train_ds = lookup(base, "dataset", check.dataset)
        test_name = getattr(check, "test_dataset", None)
        test_ds = lookup(base, "test_dataset", test_name) if test_name else train_ds
        if train_ds is not None and getattr(train_ds, "private", False):
            problem(
                (*base, "dataset"),
                f"{check.dataset} is private (a test split the course keeps to itself): no "
                "box may train on it or see it whole; name it as `test_dataset` and train on "
                "a public dataset",
                FailureCode.SPEC_BAD_VALUE,
            )
            continue
        if (
            check.kind == "script"
            and train_ds is not None
            and not getattr(train_ds, "torchvision_dir", None)
        ):
            problem(
                (*base, "dataset"),
                f"{check.dataset} has no torchvision class (its manifest's "
                "source.torchvision_dir, e.g. MNIST or FashionMNIST): a script loads its data "
                "through one",
                FailureCode.SPEC_BAD_VALUE,
            )
        if check.kind == "script" and train_ds is not None:
            total = train_ds.counts.get("train") or 0
            wanted = (check.train_subset or 0) + check.validation_size
            if total and wanted > total:
                problem(
                    (*base, "validation_size"),
                    f"train_subset + validation_size ({wanted:,}) is more than the {total:,} "
                    f"images of {train_ds.name}'s train split (both are drawn from it)",
                    FailureCode.SPEC_BAD_VALUE,
                )
        if test_name and test_ds is not None and train_ds is not None:
            mismatch = _split_mismatch(train_ds, test_ds)
            if mismatch:
                problem((*base, "test_dataset"), mismatch, FailureCode.SPEC_BAD_VALUE)
        for key, split, ds in (
            ("train_subset", "train", train_ds),
            ("test_subset", "test", test_ds),
        ):
            size = getattr(check, key, None)
            total = ds.counts.get(split) if ds is not None else None
            if size is not None and total is not None and size > total:
                problem(
                    (*base, key),
                    f"{size:,} is more than the {total:,} images of {ds.name}'s {split} split",
                    FailureCode.SPEC_BAD_VALUE,
                )
    return problems


def _split_mismatch(train: Any, test: Any) -> str | None:
    """Why ``test``'s test split cannot score a model trained on ``train``; None: it can."""
    shapes = {
        ds.name: next((a.shape[1:] for a in ds.arrays if a.file.endswith("_images.npy")), None)
        for ds in (train, test)
    }
    if shapes[train.name] != shapes[test.name]:
        return (
            f"{test.name}'s images are {shapes[test.name]}, {train.name}'s {shapes[train.name]}: "
            "a model trained on one cannot label the other"
        )
    if len(train.classes) != len(test.classes):
        return (
            f"{test.name} has {len(test.classes)} classes, {train.name} {len(train.classes)}: "
            "the labels would not mean the same"
        )
    return None


# --------------------------------------------------------------------------- line numbers


def _duplicate_keys(
    node: yaml.Node | None, filename: str, loc: tuple[Any, ...] = ()
) -> Iterator[SpecProblem]:
    """yaml.safe_load keeps the last of two equal keys silently; we refuse both."""
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            here = (*loc, key.value)
            if key.value in seen:
                yield SpecProblem(
                    filename,
                    key.start_mark.line + 1,
                    _path_text(here),
                    "key appears twice in the same mapping",
                    FailureCode.SPEC_DUPLICATE_KEY,
                )
            seen.add(key.value)
            yield from _duplicate_keys(value, filename, here)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, filename, (*loc, i))


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest YAML node that ``loc`` reaches (keys' own line for keys)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                continue  # a discriminator tag or a model-level error: stay here
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# --------------------------------------------------------------------------- messages


def _unwrap(tp: Any) -> list[Any]:
    """The candidate types inside Annotated / Optional / Union / list / dict values."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in get_args(tp) for t in _unwrap(a)]
    return [tp]


def _model_at(
    loc: tuple[Any, ...], root_model: type[BaseModel] = Spec
) -> tuple[type[BaseModel] | None, tuple[Any, ...]]:
    """Walk the schema along ``loc``; return the model holding the last key, if any."""
    current: list[Any] = [root_model]
    for part in loc[:-1]:
        tagged = [t for t in current if isinstance(t, type) and _kind_of(t) == part]
        if tagged:  # pydantic's discriminator tag picks one member of the union
            current = tagged
            continue
        nxt: list[Any] = []
        for tp in current:
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                field = _field_by_name(tp, part)
                if field is not None:
                    nxt.extend(_unwrap(field))
            elif get_origin(tp) in (list, tuple) and isinstance(part, int):
                nxt.extend(_unwrap(get_args(tp)[0]))
            elif get_origin(tp) is dict:
                nxt.extend(_unwrap(get_args(tp)[1]))
        current = nxt
    models = [t for t in current if isinstance(t, type) and issubclass(t, BaseModel)]
    return (models[0] if len(models) == 1 else None), loc


def _field_by_name(model: type[BaseModel], name: Any) -> Any:
    for fname, info in model.model_fields.items():
        if name in (fname, info.alias):
            return info.annotation
    return None


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    return str(get_args(field.annotation)[0])


def _public_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _without_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's discriminator tags (``checks, 0, 'function', ...``): the author
    never wrote them as keys."""
    kinds = _all_kinds()
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i >= 2 and loc[i - 2] == "checks" and isinstance(loc[i - 1], int) and part in kinds)
    )


def _path_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _all_kinds() -> set[str]:
    """Every check kind a spec may use: the members of schema.Check (one list to keep)."""
    from autograder.specs.schema import Check

    union = get_args(Check)[0]  # Annotated[A | B | ..., Field(discriminator="kind")]
    return {k for k in (_kind_of(m) for m in get_args(union)) if k}


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _problem(
    filename: str, root: yaml.Node | None, err: Any, root_model: type[BaseModel] = Spec
) -> SpecProblem:
    loc = tuple(err["loc"])
    kind = err["type"]
    line = _node_line(root, _without_tags(loc))
    path = _path_text(_without_tags(loc))
    if kind == "extra_forbidden":
        model, _ = _model_at(loc, root_model)
        key = str(loc[-1])
        valid = _public_keys(model) if model else []
        msg = f"unknown key {key!r}{_suggest(key, valid)}"
        if valid:
            msg += f" (valid keys: {', '.join(valid)})"
        return SpecProblem(filename, line, path, msg, FailureCode.SPEC_UNKNOWN_KEY)
    if kind == "missing":
        return SpecProblem(
            filename, line, path, "required key is missing", FailureCode.SPEC_MISSING_KEY
        )
    if kind == "union_tag_invalid":
        got = str(err.get("ctx", {}).get("tag", ""))
        kinds = sorted(_all_kinds())
        msg = f"unknown check kind {got!r}{_suggest(got, kinds)} (kinds: {', '.join(kinds)})"
        return SpecProblem(filename, line, path + ".kind", msg, FailureCode.SPEC_UNKNOWN_KIND)
    if kind == "union_tag_not_found":
        return SpecProblem(
            filename, line, path, "a check needs a 'kind' key", FailureCode.SPEC_MISSING_KEY
        )
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        got = str(err.get("input"))
        msg = f"{got!r} is not one of {', '.join(expected)}{_suggest(got, expected)}"
        return SpecProblem(filename, line, path, msg, FailureCode.SPEC_BAD_VALUE)
    message = str(err["msg"])
    message = message.removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and "input" in err:
        message += f" (got {err['input']!r})"
    return SpecProblem(filename, line, path, message, FailureCode.SPEC_BAD_VALUE)


node_line = _node_line  # for other YAML files validated here (dataset manifests)
