"""A check's constraints read from what the student handed in, without running it: the
sources' imports (as text, with ``ast``) and the weights' size (from the safetensors
header, never loading them). Shared by every kind with ``forbidden_imports`` or
``constraints``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from autograder.grading.said import Said, say
from worker.artifacts import MalformedArtifact, safetensors_summary


def forbidden_imports(code_dir: Path, forbidden: list[str]) -> Said | None:
    """The first forbidden import in the submitted sources (read as text, never run), in
    both languages."""
    if not forbidden:
        return None
    for path in sorted(code_dir.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue  # the phases report syntax errors with the student's own traceback
        for node in ast.walk(tree):
            if not isinstance(node, ast.stmt | ast.expr):
                continue  # no import, no call: _imported_names(node) is empty
            for name in _imported_names(node):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    return say(
                        "constraints.forbidden_import", file=path.name, line=node.lineno, name=name
                    )
    return None


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    if (
        isinstance(node, ast.Call)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("__import__", "import_module"):
            return [node.args[0].value]
    return []


def weight_constraints(check: Any, weights: Path, what: Said | str | None = None) -> Said | None:
    """Why weights break a check's ``constraints`` (max_params, max_weights_mb), read from
    the safetensors header here, never by loading them; None: they keep them. Shared by
    every kind with ``constraints`` (classifier, sequence, samples, reconstruction).
    ``what``: the weights in words (a ``Said``; by default "the weights")."""
    limits = check.constraints
    try:
        summary = safetensors_summary(weights)
    except MalformedArtifact as exc:
        named = say("constraints.the_weights") if what is None else what
        return say("constraints.unreadable", what=named, error=str(exc))
    if limits.max_params is not None and summary["params"] > limits.max_params:
        return say("constraints.max_params", params=summary["params"], limit=limits.max_params)
    if limits.max_weights_mb is not None and summary["bytes"] > limits.max_weights_mb * 2**20:
        return say(
            "constraints.max_weights_mb",
            mb=summary["bytes"] / 2**20,
            limit=limits.max_weights_mb,
        )
    return None
