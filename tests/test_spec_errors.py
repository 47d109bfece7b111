"""Golden messages for broken specs: file, line, key path, and a suggestion where one fits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.specs.loader import SpecError, load_spec_file

BAD = Path(__file__).resolve().parent / "fixtures" / "bad_specs"
ROOT = Path(__file__).resolve().parent.parent

GOLDEN = {
    "misspelt-key.yaml": [
        "misspelt-key.yaml:12: questions[0].checks[0].rtoll: unknown key 'rtoll'; did you mean "
        "'rtol'? (valid keys: id, title, points, hidden, hint, kind, module, function, dims, "
        "args, kwargs, cases, rtol, atol, check_dtype, scoring)",
    ],
    "unknown-kind.yaml": [
        "unknown-kind.yaml:8: questions[0].checks[0].kind: unknown check kind 'regresion'; "
        "did you mean 'regression'? (kinds: classifier, function, regression)",
    ],
    "bad-values.yaml": [
        "bad-values.yaml:2: deadline: deadline needs a time zone, e.g. 2026-12-01T23:59:00+08:00",
        "bad-values.yaml:6: resources.device: 'tpu' is not one of cpu, gpu; did you mean 'gpu'?",
        "bad-values.yaml:17: questions[0].checks[0].credit: zero_at must be greater than full_at",
        "bad-values.yaml:18: questions[0].checks[0].points: Input should be greater than 0 "
        "(got -1)",
    ],
    "syntax.yaml": [
        "syntax.yaml:4: YAML syntax error: expected <block end>, but found '<block mapping start>'",
    ],
    "duplicate-key.yaml": [
        "duplicate-key.yaml:13: questions[0].checks[0].points: key appears twice in the same "
        "mapping",
    ],
    "wrong-module.yaml": [
        "wrong-module.yaml:10: questions[0].checks[0].module: module 'mm' is not among the "
        "required files (m.py); did you mean 'm'?",
    ],
    "top-level-typo.yaml": [
        "top-level-typo.yaml:2: dedline: unknown key 'dedline'; did you mean 'deadline'? "
        "(valid keys: title, title_zh, description, deadline, late_policy, quota, files, "
        "resources, feedback, counted, supersede_queued, questions)",
        "top-level-typo.yaml:14: questions[0].checks[0].args[0]: an argument needs exactly one "
        "of: array, int, float, value, choice",
    ],
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_messages(name):
    with pytest.raises(SpecError) as info:
        load_spec_file(BAD / name)
    got = [str(p).replace(str(BAD) + "/", "") for p in info.value.problems]
    assert got == GOLDEN[name]


def test_every_bad_spec_has_a_golden_message():
    assert {p.name for p in BAD.glob("*.yaml")} == set(GOLDEN)


def test_misspelt_key_in_a_copy_of_a_shipped_spec(tmp_path):
    """What an instructor sees through the CLI after a typo in a real spec."""
    copy = tmp_path / "hw1-2.yaml"
    shutil.copy(ROOT / "grading_specs" / "hw1-2.yaml", copy)
    lines = copy.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("points:"))
    lines[index] = lines[index].replace("points:", "pionts:")
    copy.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["specs", "validate", str(copy)])
    assert result.exit_code != 0
    assert f"{copy}:{index + 1}:" in result.output
    assert "unknown key 'pionts'; did you mean 'points'?" in result.output


def test_shipped_specs_validate():
    result = CliRunner().invoke(main, ["specs", "validate"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok ") >= 3


def test_slug_must_be_a_valid_name(tmp_path):
    bad = tmp_path / "HW 1.yaml"
    shutil.copy(ROOT / "tests" / "fixtures" / "specs" / "mini.yaml", bad)
    with pytest.raises(SpecError, match="not a valid slug"):
        load_spec_file(bad)


def test_check_ids_are_unique_in_the_whole_spec(tmp_path):
    """A check id used in two questions is refused: phased checks name their sandboxes by it."""
    copy = tmp_path / "hw4-2.yaml"
    text = (ROOT / "grading_specs" / "hw4-2.yaml").read_text()
    assert "id: denoising-ae" in text
    copy.write_text(text.replace("id: denoising-ae", "id: plain-ae"))
    with pytest.raises(SpecError, match="check id 'plain-ae' is used in questions"):
        load_spec_file(copy)
