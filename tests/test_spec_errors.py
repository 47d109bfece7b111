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
        "'rtol'? (valid keys: id, title, title_zh, points, hidden, hint, hint_zh, kind, module, "
        "function, dims, args, kwargs, cases, rtol, atol, check_dtype, scoring, outputs)",
    ],
    "unknown-kind.yaml": [
        "unknown-kind.yaml:8: questions[0].checks[0].kind: unknown check kind 'regresion'; "
        "did you mean 'regression'? (kinds: classifier, equivalence, function, gradient, "
        "output, reconstruction, regression, samples, script, sequence)",
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
    "unknown-dataset.yaml": [
        "unknown-dataset.yaml:11: questions[0].checks[0].dataset: unknown dataset "
        "'fashion-mnst'; did you mean 'fashion-mnist'? (declared in "
        f"{ROOT / 'datasets'}: fashion-mnist, mnist; an instructor declares one with "
        "`autograder data add MANIFEST`)",
        "unknown-dataset.yaml:20: questions[0].checks[1].train_subset: 90,000 is "
        "more than the 60,000 images of mnist's train split",
        "unknown-dataset.yaml:21: questions[0].checks[1].test_subset: 20,000 is "
        "more than the 10,000 images of mnist's test split",
    ],
    "top-level-typo.yaml": [
        "top-level-typo.yaml:2: dedline: unknown key 'dedline'; did you mean 'deadline'? "
        "(valid keys: title, title_zh, description, description_zh, deadline, late_policy, "
        "quota, files, resources, feedback, counted, supersede_queued, questions)",
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


def test_the_unknown_kind_message_names_every_kind_the_guide_documents():
    import re

    guide = (ROOT / "grading_specs" / "README.md").read_text()
    documented = sorted(re.findall(r"^## Kind `([a-z_]+)`", guide, re.MULTILINE))
    message = GOLDEN["unknown-kind.yaml"][0]
    listed = message.split("(kinds: ", 1)[1].rstrip(")").split(", ")
    assert listed == documented


def test_a_starter_without_its_handouts_is_refused(tmp_path, monkeypatch):
    """Students download the starter with its handouts: one missing is the instructor's to
    fix before the spec validates."""
    from tests.conftest import reset_caches

    starters = tmp_path / "starters"
    shutil.copytree(ROOT / "starters", starters)
    (starters / "hw1-2" / "README.zh.md").unlink()
    monkeypatch.setenv("AUTOGRADER_STARTERS_DIR", str(starters))
    reset_caches()
    try:
        result = CliRunner().invoke(main, ["specs", "validate"])
    finally:
        monkeypatch.delenv("AUTOGRADER_STARTERS_DIR")
        reset_caches()
    assert result.exit_code != 0
    assert f"starter {starters / 'hw1-2'} has no handout README.zh.md (in Chinese)" in (
        result.output
    )
    assert "1 of " in result.output  # the others still validate
