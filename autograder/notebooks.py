"""Jupyter notebooks handed in where a spec asks for a Python file.

Wherever a spec asks for ``name.py``, ``name.ipynb`` is accepted instead: its code cells,
in order, become ``name.py``, and that module is what is stored and graded. Nothing in a
notebook is run to convert it (it is JSON, read by ``nbformat`` and validated against the
notebook schema); outputs saved in it are ignored, so a notebook that shows results it
did not compute earns nothing for them. IPython's own syntax is not Python: line magics
(``%timeit x``), shell escapes (``!pip install ...``, ``files = !ls``) and cell magics
other than the timing and capturing ones become ``pass`` (same indentation, same line
count) and are reported, each by cell and line.

Every cell starts with a marker line (``# %% [cell N]``) in the module, so that a line of
the module can be told by cell and line of the notebook: ``relabel`` rewrites a traceback's
``File ".../name.py", line L`` into ``name.ipynb, cell N, line M``. The markers are the
``# %%`` cells of editors (VS Code, Spyder, jupytext), so the module reads as a notebook.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from autograder.refusals import BadUpload

SUFFIX = ".ipynb"
HEADER = "# Made by the autograder from {name}: its code cells, in order (outputs ignored)."
MARKER = "# %% [cell {n}]"
MARKER_RE = re.compile(r"^# %% \[cell (\d+)\]$")
# Cell magics whose body is Python (they only time or capture it): the body is kept.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture"}
# A line IPython would not hand to Python as it is: a line magic or a shell escape, alone
# or assigned (``x = !ls``, ``t = %timeit -o f()``).
IPYTHON_LINE = re.compile(r"^(\s*)(?:[A-Za-z_][\w.]*\s*=\s*)?[%!]")
# Jupyter compiles each cell on its own, so a cell may begin with a __future__ import that
# a module allows only at its top: it is moved there (its line keeps a ``pass``).
FUTURE = re.compile(r"^from __future__ import [\w ,()]+$")


class BadNotebook(BadUpload):
    code = "upload:bad-notebook"


@dataclass
class Converted:
    """A notebook as a module: its source, how many code cells it had, what was removed."""

    source: str
    cells: int
    removed: list[str] = field(default_factory=list)  # "cell N, line M: %matplotlib inline"


def python_name(name: str) -> str | None:
    """``name.py`` for ``name.ipynb``; None for any other name."""
    return name[: -len(SUFFIX)] + ".py" if name.endswith(SUFFIX) and len(name) > 6 else None


def convert(data: bytes, name: str) -> Converted:
    """The module made of notebook ``name``'s code cells; ``BadNotebook`` says what is
    wrong with one that is not a valid notebook."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadNotebook(
            f"{name!r} is not a notebook: not UTF-8 text ({exc.reason})",
            f"{name!r} 不是笔记本：不是 UTF-8 文本（{exc.reason}）",
        ) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadNotebook(
            f"{name!r} is not a notebook: not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); save it from Jupyter again, or hand in a .py file",
            f"{name!r} 不是笔记本：不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列："
            f"{exc.msg}）；请在 Jupyter 中重新保存，或提交 .py 文件",
        ) from None
    except RecursionError:
        raise BadNotebook(
            f"{name!r} is not a notebook: nested too deeply", f"{name!r} 不是笔记本：嵌套过深"
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise BadNotebook(
            f"{name!r} is not a notebook: no cells in it", f"{name!r} 不是笔记本：其中没有单元格"
        )
    import nbformat  # only where uploads are read: workers only relabel (below)

    try:
        notebook = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(notebook)
    except nbformat.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top"
        raise BadNotebook(
            f"{name!r} is not a valid notebook (at {where}: {exc.message}); save it from "
            "Jupyter again, or hand in a .py file",
            f"{name!r} 不是有效的笔记本（位置 {where}：{exc.message}）；请在 Jupyter 中重新"
            "保存，或提交 .py 文件",
        ) from None
    except Exception as exc:  # nbformat's readers raise what the JSON makes them raise
        raise BadNotebook(
            f"{name!r} is not a notebook nbformat can read: {exc}",
            f"{name!r} 不是 nbformat 能读取的笔记本：{exc}",
        ) from None
    lines = [HEADER.format(name=name)]
    removed: list[str] = []
    count = 0
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        count += 1
        lines.append(MARKER.format(n=count))
        lines += _cell_lines(str(cell.get("source", "")), count, removed)
    futures = sorted({line for line in lines if FUTURE.match(line)})
    lines = [f"pass  # {line} (moved to the top)" if FUTURE.match(line) else line for line in lines]
    top = [lines[0]]
    if removed:  # said at the top too, for whoever reads the stored module
        top.append("# Left out (IPython syntax, not Python): " + "; ".join(removed))
    return Converted(
        source="\n".join(top + futures + lines[1:]) + "\n", cells=count, removed=removed
    )


def _cell_lines(source: str, n: int, removed: list[str]) -> list[str]:
    body = source.splitlines()
    first = body[0].strip() if body else ""
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        removed.append(f"cell {n}, line 1: {first}")
        if magic in PYTHON_CELL_MAGICS:  # timing or capturing: the body is Python
            return [
                f"pass  # {first}",
                *(_line(line, n, i, removed) for i, line in enumerate(body[1:], start=2)),
            ]
        # another language (%%bash, %%html, %%writefile ...): the whole cell is left out
        return [f"pass  # {first}"] + [f"# {line}" for line in body[1:]]
    return [_line(line, n, i, removed) for i, line in enumerate(body, start=1)]


def _line(line: str, n: int, i: int, removed: list[str]) -> str:
    match = IPYTHON_LINE.match(line)
    if match is None:
        return line
    removed.append(f"cell {n}, line {i}: {line.strip()}")
    return f"{match.group(1)}pass  # {line.strip()}"


# --------------------------------------------------------------------------- tracebacks


def cell_map(source: str) -> list[tuple[int, int]] | None:
    """``(module line of a cell's marker, cell number)`` in order, for a module made by
    ``convert``; None for any other file."""
    lines = source.splitlines()
    if not lines or not lines[0].startswith(HEADER.split("{name}", maxsplit=1)[0]):
        return None
    return [
        (i, int(m.group(1)))
        for i, line in enumerate(lines, start=1)
        if (m := MARKER_RE.match(line)) is not None
    ]


def where(line: int, markers: list[tuple[int, int]]) -> tuple[int, int] | None:
    """``(cell, line in the cell)`` of module line ``line``; None before the first cell."""
    found = None
    for marker, cell in markers:
        if marker >= line:
            break
        found = (cell, line - marker)
    return found


def relabel(text: str, modules: dict[str, list[tuple[int, int]]]) -> str:
    """``text`` with every ``File "<any folder>/name.py", line L`` of a module made from a
    notebook said as ``File "name.ipynb", cell N, line M``."""
    if not modules or not text:
        return text

    def replace(match: re.Match[str]) -> str:
        name, number = Path(match.group(1)).name, int(match.group(2))
        markers = modules.get(name)
        spot = where(number, markers) if markers is not None else None
        if spot is None:
            return match.group(0)
        return f'File "{name[:-3]}{SUFFIX}", cell {spot[0]}, line {spot[1]}'

    return re.sub(r'File "([^"\n]*\.py)", line (\d+)', replace, text)


def notebook_modules(folder: Path) -> dict[str, list[tuple[int, int]]]:
    """The cell maps of the modules in ``folder`` that were made from notebooks."""
    found = {}
    for path in sorted(folder.glob("*.py")):
        try:
            head = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        markers = cell_map(head)
        if markers is not None:
            found[path.name] = markers
    return found
