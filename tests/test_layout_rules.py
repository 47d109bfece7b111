"""Rules of DESIGN.md's layout that code can check: the API needs neither the worker,
torch nor docker, and nothing but the settings class reads the environment."""

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
