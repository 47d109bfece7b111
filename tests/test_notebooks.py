"""Notebooks handed in where a spec asks for a module (autograder/notebooks.py,
autograder/uploads.py): their code cells in order become the module, IPython syntax is left
out and reported, saved outputs are ignored, bad notebooks are refused with a clear message,
and a traceback names the notebook's cell and line. Graded for real in the sandbox: hw1-1's
reference solution handed in as a notebook earns full marks; its saved outputs alone earn
nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import notebooks
from autograder.notebooks import BadNotebook, convert, relabel
from autograder.refusals import DuplicateFile, TooLarge
from autograder.settings import PROJECT_ROOT
from autograder.specs.loader import load_spec_file
from autograder.uploads import UploadPart, collect_files

REFERENCE = PROJECT_ROOT / "reference_solutions" / "hw1-1" / "numpy_basics.py"


def notebook(*cells: str | tuple[str, str], outputs: bool = False) -> bytes:
    """A v4 notebook of code cells (a (kind, source) pair for markdown or raw cells)."""
    nb = nbformat.v4.new_notebook()
    for cell in cells:
        if isinstance(cell, tuple):
            kind, source = cell
            nb.cells.append(
                nbformat.v4.new_markdown_cell(source)
                if kind == "markdown"
                else nbformat.v4.new_raw_cell(source)
            )
            continue
        code = nbformat.v4.new_code_cell(cell)
        if outputs:
            code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="all 12 passed\n")]
        nb.cells.append(code)
    return nbformat.writes(nb).encode("utf-8")


def reference_as_notebook(outputs: bool = False) -> bytes:
    """hw1-1's reference split into cells at each top-level definition, with the magics
    and shell escapes a student's notebook has."""
    parts: list[str] = ["%matplotlib inline\n!pip list | head -3"]
    current: list[str] = []
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if line.startswith("def ") and current:
            parts.append("\n".join(current))
            current = []
        current.append(line)
    parts.append("\n".join(current))
    parts.append("%%timeit\nrange_matrix(3, 4)")
    return notebook(*parts, ("markdown", "## Done"), outputs=outputs)


# --------------------------------------------------------------------------- conversion


def test_code_cells_in_order_with_ipython_syntax_left_out_and_reported() -> None:
    data = notebook(
        "import numpy as np\n%matplotlib inline",
        ("markdown", "# Section 2\nnot code"),
        "def f(x):\n    !echo hi\n    return x + 1\nfiles = !ls",
        ("raw", "raw text"),
        "%%bash\necho not python",
        "%%time\ny = f(1)",
    )
    made = convert(data, "work.ipynb")
    assert made.cells == 4
    assert made.removed == [
        "cell 1, line 2: %matplotlib inline",
        "cell 2, line 2: !echo hi",
        "cell 2, line 4: files = !ls",
        "cell 3, line 1: %%bash",
        "cell 4, line 1: %%time",
    ]
    namespace: dict = {}
    exec(compile(made.source, "work.py", "exec"), namespace)  # noqa: S102 - our own test text
    assert namespace["y"] == 2 and namespace["f"](2) == 3
    assert "not code" not in made.source and "raw text" not in made.source
    assert "# echo not python" in made.source  # another language: kept only as a comment
    lines = made.source.splitlines()
    assert lines[0].startswith("# Made by the autograder from work.ipynb")
    assert lines[1].startswith("# Left out (IPython syntax, not Python): cell 1, line 2")


def test_a_traceback_names_the_notebooks_cell_and_line() -> None:
    made = convert(notebook("x = 1", "def g():\n    return 1 / 0\n\ng()"), "nb.ipynb")
    markers = notebooks.cell_map(made.source)
    assert markers is not None and [cell for _, cell in markers] == [1, 2]
    try:
        exec(compile(made.source, "/job/src/nb.py", "exec"), {})  # noqa: S102 - our own text
    except ZeroDivisionError:
        import traceback

        text = traceback.format_exc()
    said = relabel(text, {"nb.py": markers})
    assert 'File "nb.ipynb", cell 2, line 2, in g' in said
    assert 'File "nb.ipynb", cell 2, line 4' in said
    assert 'File "/job/src/nb.py"' not in said
    # another file's lines, and a module not made from a notebook, are left as they are
    assert relabel('File "/job/src/other.py", line 3', {"nb.py": markers}).endswith("line 3")
    assert notebooks.cell_map("import os\n") is None


def test_an_older_notebook_format_is_read_too() -> None:
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": ""},
        "worksheets": [
            {"cells": [{"cell_type": "code", "input": "z = 3", "language": "python",
                        "outputs": [], "metadata": {}}], "metadata": {}}
        ],
    }  # fmt: skip
    made = convert(json.dumps(v3).encode(), "old.ipynb")
    assert made.cells == 1 and "z = 3" in made.source


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xff\xfe not text", "not UTF-8"),
        (b'{"cells": [', "not valid JSON (line 1"),
        (b"print('a script, renamed')", "not valid JSON"),
        (b'{"nbformat": 4}', "no cells"),
        (
            json.dumps(
                {
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                    "cells": [{"cell_type": "code", "source": 7, "metadata": {}, "outputs": []}],
                }
            ).encode(),  # fmt: skip
            "is not a valid notebook (at cells/0",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "not a notebook"),
    ],
    ids=["binary", "cut", "renamed-script", "no-cells", "bad-cell", "nested"],
)
def test_a_bad_notebook_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(BadNotebook) as err:
        convert(data, "hw.ipynb")
    assert says in str(err.value) and "'hw.ipynb'" in str(err.value), str(err.value)


# --------------------------------------------------------------------------- uploads


@pytest.fixture
def hw11():  # type: ignore[no-untyped-def]
    return load_spec_file(PROJECT_ROOT / "grading_specs" / "hw1-1.yaml").spec


def store(tmp_path: Path, spec, *parts: tuple[str, bytes]) -> list[dict]:  # type: ignore[no-untyped-def]
    return collect_files(
        [UploadPart(name, io.BytesIO(data)) for name, data in parts],
        spec,
        max_total_bytes=50_000_000,
        max_files=10,
        root=tmp_path / "storage",
    )


def test_a_notebook_is_stored_as_the_module_it_stands_for(tmp_path: Path, hw11) -> None:  # type: ignore[no-untyped-def]
    from autograder import storage

    [entry] = store(tmp_path, hw11, ("numpy_basics.ipynb", reference_as_notebook()))
    assert entry["name"] == "numpy_basics.py"
    assert entry["notebook"]["name"] == "numpy_basics.ipynb"
    assert entry["notebook"]["removed"][:2] == [
        "cell 1, line 1: %matplotlib inline",
        "cell 1, line 2: !pip list | head -3",
    ]
    source = storage.path_for(entry["sha256"], tmp_path / "storage").read_text()
    assert source.startswith("# Made by the autograder from numpy_basics.ipynb")
    # the same, from a zip archive (any folder in it)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("homework/numpy_basics.ipynb", reference_as_notebook())
    [zipped] = store(tmp_path, hw11, ("hw.zip", buffer.getvalue()))
    assert zipped["sha256"] == entry["sha256"]


def test_a_module_and_its_notebook_together_are_refused(tmp_path: Path, hw11) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DuplicateFile, match="both 'numpy_basics.py' and 'numpy_basics.ipynb'"):
        store(
            tmp_path,
            hw11,
            ("numpy_basics.py", REFERENCE.read_bytes()),
            ("numpy_basics.ipynb", reference_as_notebook()),
        )


def test_a_notebook_is_read_only_up_to_its_limit(tmp_path: Path, hw11) -> None:  # type: ignore[no-untyped-def]
    huge = notebook("x = 1", outputs=False).replace(b'"x = 1"', b'"x = 1' + b" " * 6_000_000 + b'"')
    with pytest.raises(TooLarge, match="notebook 'numpy_basics.ipynb' is larger than"):
        store(tmp_path, hw11, ("numpy_basics.ipynb", huge))


# --------------------------------------------------------------------------- graded


def _graded(tmp_path: Path, data: bytes):  # type: ignore[no-untyped-def]
    from autograder import storage
    from tests.sandboxed import grade_folder

    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / "hw1-1.yaml").spec
    [entry] = store(tmp_path, spec, ("numpy_basics.ipynb", data))
    folder = tmp_path / "submission"
    folder.mkdir()
    source = storage.path_for(entry["sha256"], tmp_path / "storage").read_bytes()
    (folder / "numpy_basics.py").write_bytes(source)
    return grade_folder(tmp_path, "hw1-1", folder)


@pytest.mark.slow
def test_the_reference_as_a_notebook_earns_full_marks(tmp_path: Path) -> None:
    report = _graded(tmp_path, reference_as_notebook())
    assert report.state == "graded" and report.raw_score == report.max_score > 0, [
        (o.name, o.message) for o in report.outcomes if not o.passed
    ]
    # each outcome carries its question's and its own titles, in both languages
    first = report.outcomes[0]
    assert (first.question_title, first.question_title_zh) == ("Array creation", "数组创建")
    assert first.title_zh.startswith("range_matrix(rows, cols)：")


@pytest.mark.slow
def test_saved_outputs_earn_nothing_and_errors_name_the_cell(tmp_path: Path) -> None:
    """A notebook whose cells define nothing but whose saved outputs claim every check
    passed earns nothing; one whose third cell fails at import is told that cell and line."""
    empty = _graded(tmp_path / "outputs", notebook("import numpy as np", "x = 1", outputs=True))
    assert empty.raw_score == 0
    broken = _graded(
        tmp_path / "broken",
        notebook("import numpy as np", "def f():\n    return 1", "y = 1\nz = undefined_name"),
    )
    assert broken.raw_score == 0
    said = repr((broken.log, broken.failure_message, [o.message for o in broken.outcomes]))
    assert 'numpy_basics.ipynb", cell 3, line 2' in said, said[:3000]
    assert 'numpy_basics.py", line' not in said  # every line of it said by cell
