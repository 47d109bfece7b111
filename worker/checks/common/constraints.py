"""A check's constraints read from what the student handed in, without running it: the
sources' imports (as text, with ``ast``) and the weights' size (from the safetensors
header, never loading them). Shared by every kind with ``forbidden_imports`` or
``constraints``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from worker.artifacts import MalformedArtifact, safetensors_summary


def forbidden_imports(code_dir: Path, forbidden: list[str]) -> str | None:
    """The first forbidden import in the submitted sources (read as text, never run)."""
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
                    return f"{path.name} line {node.lineno} imports {name}, which is not allowed"
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


def weight_constraints(check: Any, weights: Path, what: str = "the weights") -> str | None:
    """Why weights break a check's ``constraints`` (max_params, max_weights_mb), read from
    the safetensors header here, never by loading them; None: they keep them. Shared by
    every kind with ``constraints`` (classifier, sequence, samples, reconstruction)."""
    limits = check.constraints
    try:
        summary = safetensors_summary(weights)
    except MalformedArtifact as exc:
        return f"{what} could not be read: {exc}"
    if limits.max_params is not None and summary["params"] > limits.max_params:
        return (
            f"constraint max_params: the model has {summary['params']:,} parameters, "
            f"at most {limits.max_params:,} are allowed"
        )
    if limits.max_weights_mb is not None and summary["bytes"] > limits.max_weights_mb * 2**20:
        return (
            f"constraint max_weights_mb: the weights take {summary['bytes'] / 2**20:.2f} MB, "
            f"at most {limits.max_weights_mb:g} MB are allowed"
        )
    return None
