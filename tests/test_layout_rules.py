"""Rules of DESIGN.md's layout that code can check: the API needs neither the worker,
torch nor docker; layers import downwards only (read statically); no check kind imports
another; and nothing but the settings class reads the environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_api_imports_neither_worker_nor_torch():
    code = (
        "import sys, api.app\n"
        "app = api.app.create_app()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('worker', 'torch', 'docker'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_only_settings_reads_the_environment():
    readers = []
    for folder in ("api", "autograder", "worker"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" or "runner" in path.parts:
                continue  # the runners run inside the sandbox, with its own environment
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("environ", "getenv")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "os"
                ):
                    readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    # The one use allowed: `autograder serve` hands its own environment, unread, to the
    # worker process it starts (which reads it through the settings class).
    assert [r.split(":")[0] for r in readers] == ["autograder/serve.py"], readers


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at its top or inside a function (``from a import b``
    gives ``a`` and ``a.b``: b may be a module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


# The core's entry points, which start the worker and the API and so import them; they are
# to move to a package of their own (issue 13, item 3). Nothing else in the core may.
CORE_ENTRY_POINTS = {"autograder/cli.py", "autograder/serve.py"}


def test_layers_import_downwards_only():
    """api never imports worker; the core (autograder/) imports neither api nor worker; read
    statically, so an import inside a function counts too."""
    broken = []
    for folder, banned in (("api", {"worker"}), ("autograder", {"api", "worker"})):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            if name in CORE_ENTRY_POINTS:
                continue
            for line, module in _imports(path):
                if module.split(".")[0] in banned:
                    broken.append(f"{name}:{line} imports {module}")
    assert not broken, "\n".join(broken)


def test_no_check_kind_imports_another():
    """A kind (worker/checks/<kind>_check.py) shares only what lives in worker/checks/common/
    (and the phase and call plumbing), never another kind's module."""
    kinds = {p.stem for p in (ROOT / "worker" / "checks").glob("*_check.py")}
    assert len(kinds) >= 8, kinds
    broken = []
    for kind in sorted(kinds):
        path = ROOT / "worker" / "checks" / f"{kind}.py"
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[:2] == ["worker", "checks"] and len(parts) > 2 and parts[2] in kinds - {kind}:
                broken.append(f"{kind}.py:{line} imports {module}")
    assert not broken, "\n".join(broken)
