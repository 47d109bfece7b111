"""The ``output`` check kind (worker/checks/output_check.py): a whole script run unmodified,
its printed sections compared with the reference script's on the same per-job inputs.
Unit tests of the sections and the comparison, then graded for real in the sandbox: the
reference's own output earns full marks, a differently formatted correct script too, a bug
costs exactly its section, a script that prints another job's answers earns nothing, a crash
keeps the sections printed before it, a failing reference is the instructor's."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.specs.loader import SpecError, load_spec_text
from worker.checks.output_check import compare, score, sections

SPEC = """\
title: Script output
files:
  - {name: basics.py, max_bytes: 100000}
resources: {memory_mb: 1024, wall_seconds: 60, runtime: numpy}
questions:
  - id: printed
    title: What the script prints
    checks:
      - id: sections
        kind: output
        module: basics
        env: {HW_N: {int: {low: 4, high: 9}}}
        sections: {weights: {"2. Sums": 2}}
        points: 4
"""
REFERENCE = """\
import os

import numpy as np

n = int(os.environ["HW_N"])
print("########### 1. Creation ###########")
a = np.arange(n * 2, dtype=float).reshape(2, n) / 3
print(a)
print("########### 2. Sums ###########")
print("column sums:", a.sum(axis=0))
print("total", a.sum())
print("########### 3. Mean ###########")
print(f"mean = {a.mean():.4f}")
"""


def check(**changes):  # type: ignore[no-untyped-def]
    loaded = load_spec_text(SPEC, "script-out", "script-out.yaml")
    [(_, found)] = loaded.spec.checks()
    return found.model_copy(update=changes)


# --------------------------------------------------------------------------- unit


def test_sections_are_cut_at_the_courses_headings() -> None:
    text = "setup line\n########### 1. Creation ###########\nx\n#####  2. Sums\ny\n"
    found = sections(text, check().sections.marker)
    assert [(s.name, s.lines) for s in found] == [
        ("", ["setup line"]),
        ("1. Creation", ["x"]),
        ("2. Sums", ["y"]),
    ]
    assert [s.name for s in sections("\n\n### A ###\n1\n", check().sections.marker)] == ["A"]


def test_numbers_within_tolerance_and_whitespace_do_not_matter() -> None:
    [want] = sections(
        "### S ###\n[[0.         0.33333333 0.66666667]\n [1. 1.33 2.]]", r"^### (.*) ###$"
    )
    [got] = sections("### S ###\n[[0.0 0.333333333 0.666666667] [1.0 1.33 2.0]]", r"^### (.*) ###$")
    assert compare(got, want, check(rtol=1e-6)) is None
    [off] = sections("### S ###\n[[0.0 0.3334 0.666666667] [1.0 1.33 2.0]]", r"^### (.*) ###$")
    said = compare(off, want, check(rtol=1e-6))
    assert said is not None and "0.3334" in said and "expected '[[0." in said
    assert "expected" not in (compare(off, want, check(rtol=1e-6, show_expected=False)) or "")


def test_missing_early_end_extra_and_text_differences_are_told_apart() -> None:
    marker = r"^### (.*) ###$"
    [want] = sections("### S ###\ntotal 3\nmean 1.5", marker)
    assert "no such heading" in (compare(None, want, check()) or "")
    [short] = sections("### S ###\ntotal 3", marker)
    assert "ends early: next expected 'mean 1.5'" in (compare(short, want, check()) or "")
    [long] = sections("### S ###\ntotal 3\nmean 1.5\nmore 7", marker)
    assert "more than expected, from 'more 7'" in (compare(long, want, check()) or "")
    [words] = sections("### S ###\nsum 3\nmean 1.5", marker)
    assert "your line 'sum 3'; expected 'total 3'" in (compare(words, want, check()) or "")
    assert compare(sections("### S ###\nmean nan", marker)[0],
                   sections("### S ###\nmean NaN", marker)[0], check()) is None  # fmt: skip


def test_points_by_section_weight() -> None:
    expected = "### A ###\n1\n### B ###\n2\n### C ###\n3\n"
    c = check(points=4.0, sections=check().sections.model_copy(update={"marker": r"^### (.*) ###$",
              "weights": {"B": 2.0}}))  # fmt: skip
    assert score(c, expected, expected, {}).earned == 4
    outcome = score(c, "### A ###\n1\n### B ###\n5\n### C ###\n3\n", expected, {})
    assert outcome.earned == 2 and "2 of 3 sections match; B: differs" in outcome.message
    assert score(c, "### A ###\n1\n", expected, {}).earned == 1


ENV = "env: {HW_N: {int: {low: 4, high: 9}}}"
SECTIONS = 'sections: {weights: {"2. Sums": 2}}'


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (ENV, ENV, None),
        (ENV, "env: {HW_N: {array: {shape: [2]}}}", "an environment variable is a number or"),
        (ENV, "env: {hw_n: {int: {low: 4, high: 9}}}", "env"),
        (SECTIONS, "sections: {marker: '(a)(b)'}", "at most one group"),
        (SECTIONS, "sections: {marker: '(['}", "not a regular expression"),
        ("module: basics", "module: basic", "module 'basic' is not among the required files"),
    ],
)
def test_spec_mistakes_name_the_line(old: str, new: str, says: str | None) -> None:
    assert old in SPEC
    text = SPEC.replace(old, new)
    if says is None:
        load_spec_text(text, "script-out", "script-out.yaml")
        return
    with pytest.raises(SpecError) as err:
        load_spec_text(text, "script-out", "script-out.yaml")
    assert says in str(err.value) and "script-out.yaml:" in str(err.value), str(err.value)


# --------------------------------------------------------------------------- graded


def graded(tmp_path: Path, source: str, seed: int = 7, reference: str = REFERENCE):  # type: ignore[no-untyped-def]
    from tests.sandboxed import grade_source

    ref = tmp_path / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    (ref / "basics.py").write_text(reference)
    loaded = load_spec_text(SPEC, "script-out", "script-out.yaml")
    return grade_source(tmp_path, source, loaded, seed=seed, reference=ref, filename="basics.py")


def only(report):  # type: ignore[no-untyped-def]
    [outcome] = report.outcomes
    return outcome


@pytest.mark.slow
def test_the_reference_and_a_differently_written_script_earn_full_marks(tmp_path: Path) -> None:
    report = graded(tmp_path / "ref", REFERENCE)
    outcome = only(report)
    assert outcome.earned == 4, outcome.message
    assert "--- what your script printed (sections) ---\n########### 1. Creation" in report.log
    assert 4 <= int(outcome.details["env"]["HW_N"]) <= 9
    other = textwrap.dedent("""\
        import os
        import numpy as np
        n = int(os.getenv("HW_N"))
        a = np.array([[i / 3 for i in range(k * n, (k + 1) * n)] for k in range(2)])
        print("########### 1. Creation ###########")
        print(a.astype(np.float64))
        print("###########   2. Sums   ###########")
        print("column sums:",   a.sum(axis=0))
        print("total %s" % a.sum())
        print("########### 3. Mean ###########")
        print("mean =  %.4f" % a.mean())
    """)
    outcome = only(graded(tmp_path / "other", other))
    assert outcome.earned == 4, outcome.message


@pytest.mark.slow
def test_a_bug_costs_its_section_and_another_jobs_answers_earn_nothing(tmp_path: Path) -> None:
    buggy = REFERENCE.replace("a.sum(axis=0)", "a.sum(axis=1)")
    outcome = only(graded(tmp_path / "bug", buggy))
    assert outcome.earned == 2, outcome.message  # weight 2 of 4 lost: "2. Sums"
    assert "2. Sums: differs at your line 'column sums:" in outcome.message
    # What the reference printed for one job, printed as it is for another job's inputs.
    first = graded(tmp_path / "seen", REFERENCE, seed=7)
    printed_for = only(first).details["env"]["HW_N"]
    for seed in range(8, 40):
        other = graded(tmp_path / f"probe{seed}", "print(1)\n", seed=seed)
        if only(other).details["env"]["HW_N"] != printed_for:
            break
    import subprocess
    import sys

    captured = subprocess.run(
        [sys.executable, "-c", REFERENCE],
        env={"HW_N": printed_for, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copied = f"print({captured!r}, end='')\n"
    outcome = only(graded(tmp_path / "copied", copied, seed=seed))
    assert outcome.earned == 0, outcome.message


@pytest.mark.slow
def test_a_crash_keeps_the_sections_printed_before_it(tmp_path: Path) -> None:
    crashing = REFERENCE.replace('print("########### 3. Mean', 'raise ValueError("boom")\nprint("#')
    report = graded(tmp_path, crashing)
    outcome = only(report)
    assert outcome.earned == 3, outcome.message  # 1. and 2. (weight 1 + 2 of 4)
    assert "ValueError: boom" in outcome.message and "3. Mean: not printed" in outcome.message


@pytest.mark.slow
def test_a_failing_reference_is_the_instructors(tmp_path: Path) -> None:
    from worker.pipeline import GradingError

    with pytest.raises(GradingError) as err:
        graded(tmp_path, REFERENCE, reference=REFERENCE + "\nraise SystemExit(3)\n")
    assert str(err.value.code) == "spec:reference-failed"


@pytest.mark.slow
def test_the_course_script_homework_handed_in_as_its_notebook(tmp_path: Path) -> None:
    """hw1-1-script's starter notebook: as given it earns nothing; with its code cells
    filled in from the reference (section by section, as a student fills them) and its
    IPython lines kept, it earns full marks."""
    import io
    import re

    import nbformat

    from autograder import storage
    from autograder.settings import PROJECT_ROOT
    from autograder.specs.loader import load_spec_file
    from autograder.uploads import UploadPart, collect_files
    from tests.sandboxed import grade_folder

    slug = "hw1-1-script"
    spec = load_spec_file(PROJECT_ROOT / "grading_specs" / f"{slug}.yaml").spec
    starter = nbformat.read(PROJECT_ROOT / "starters" / slug / "numpy_script.ipynb", 4)
    reference = (PROJECT_ROOT / "reference_solutions" / slug / "numpy_script.py").read_text()
    sections = [p.strip("\n") for p in re.split(r"\n(?=########### \d)", reference)]
    filled = nbformat.from_dict(starter)
    code = [cell for cell in filled.cells if cell.cell_type == "code"]
    assert len(code) == len(sections) == 6
    for cell, source in zip(code, sections, strict=True):
        cell.source = source
    code[0].source = "%matplotlib inline\n" + code[0].source

    def graded(nb, name: str):  # type: ignore[no-untyped-def]
        [entry] = collect_files(
            [UploadPart("numpy_script.ipynb", io.BytesIO(nbformat.writes(nb).encode()))],
            spec,
            max_total_bytes=10_000_000,
            max_files=5,
            root=tmp_path / "storage",
        )
        folder = tmp_path / name
        folder.mkdir()
        module = storage.path_for(entry["sha256"], tmp_path / "storage").read_bytes()
        (folder / "numpy_script.py").write_bytes(module)
        return grade_folder(tmp_path / f"{name}-job", slug, folder)

    as_given = graded(starter, "starter")
    assert as_given.raw_score == 0
    [outcome] = as_given.outcomes  # the hint it ends with, in Chinese too
    [(_, check)] = spec.checks()
    assert outcome.message.endswith(f"\nHint: {check.hint}")
    assert outcome.hint_zh == check.hint_zh != ""
    filled_in = graded(filled, "filled")
    assert filled_in.raw_score == 100
    assert only(filled_in).hint_zh == ""  # nothing lost: no hint shown, none in Chinese
