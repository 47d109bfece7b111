"""The typed failure contract (autograder/grading/failures.py): every code knows whose
failure it is, every message of the catalogue renders in both languages, stored failures
are validated on read, and no product module spells a failure code as a string."""

from __future__ import annotations

import re
import string

import pytest

from autograder.grading.failures import (
    LANGUAGES,
    MESSAGES,
    PHASE_MESSAGES,
    Failure,
    FailureCode,
    FailureKind,
    GradingError,
)
from autograder.settings import PROJECT_ROOT


@pytest.mark.parametrize("code", list(FailureCode))
def test_each_code_has_one_owner(code):
    prefix = code.value.partition(":")[0]
    assert code.kind == {"submission": "student", "spec": "spec", "infra": "infra"}[prefix]
    assert code.retried == (code.kind is FailureKind.infra)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize(
    "code, templates",
    [(c, t) for c, t in MESSAGES.items()] + [(c, t) for c, t in PHASE_MESSAGES.items()],
)
def test_catalogue_renders_every_language(code, templates):
    assert set(templates) == set(LANGUAGES)
    names = _fields(templates["en"])
    assert all(_fields(t) == names for t in templates.values()), templates
    values = {name: 7 for name in names - {"detail", "phase"}}
    if "phase" in names:
        values["phase"] = "training"
    failure = Failure(code=code, values=values, detail="why")
    rendered = failure.messages()
    assert set(rendered) == set(LANGUAGES)
    assert rendered["en"] != rendered["zh"]
    assert re.search(r"[\u4e00-\u9fff]", rendered["zh"])
    if "phase" in names:
        assert "训练" in rendered["zh"] and "training" in rendered["en"]


def test_messages_from_values_and_details():
    timeout = Failure(code=FailureCode.TIMEOUT, values={"seconds": 6.0})
    assert "(6.0 s)" in timeout.message()
    assert "6.0 秒" in timeout.message("zh")
    imported = Failure(code=FailureCode.IMPORT_ERROR, detail="could not import mini.py: ...")
    assert imported.message() == "could not import mini.py: ..."
    assert imported.messages() == {"en": "could not import mini.py: ..."}
    error = GradingError(FailureCode.REFERENCE_FAILED, "a check raised")
    assert str(error) == "the reference solution failed: a check raised"
    assert error.kind is FailureKind.spec and not error.code.retried


def test_stored_failures_are_validated_on_read():
    whole = Failure(code=FailureCode.MEMORY, values={"memory_mb": 256}).stored()
    back = Failure.read(whole, "submission:memory", "ignored: the whole failure wins")
    assert back == Failure(code=FailureCode.MEMORY, values={"memory_mb": 256})
    assert "256 MB" in back.message("zh")
    # A run stored before the failure column: its code and English message.
    old = Failure.read(None, "submission:timeout", "your program ran longer ...")
    assert old is not None and old.code is FailureCode.TIMEOUT and old.kind == "student"
    assert old.message() == "your program ran longer ..."
    assert Failure.read(None, None, None) is None
    assert Failure.read(None, "superseded", "superseded by submission 7") is None
    with pytest.raises(ValueError):
        Failure.read(None, "submission:made-up", "?")
    with pytest.raises(ValueError):
        Failure.read({"code": "infra:made-up", "values": {}, "detail": ""}, None, None)
    with pytest.raises(ValueError):
        Failure(code=FailureCode.TIMEOUT, values={"seconds": [1, 2]})  # not a plain value


def test_no_failure_code_is_spelt_outside_the_catalogue():
    """One place names them: a code written as a string elsewhere would drift from it."""
    pattern = re.compile(r"[\"'](submission|spec|infra):[a-z][a-z-]*[\"']")
    found = []
    for folder in ("autograder", "api", "worker"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path.name == "failures.py" and path.parent.name == "grading":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


NEWER = ("title_zh", "question_title", "question_title_zh", "hint_zh", "message_zh")


def test_outcome_rows_are_validated_on_read(caplog):
    from autograder.grading.outcomes import FIELDS, CheckOutcome, read_outcomes

    row = {
        "question": "q1",
        "check": "add",
        "title": "adds",
        "title_zh": "相加",
        "question_title": "Arithmetic",
        "question_title_zh": "算术",
        "points": 2.0,
        "earned": 1.5,
        "passed": False,
        "message": "case 3: expected 7, got 8\nHint: add them",
        "message_zh": "用例 3：应为 7，得到 8\n提示：把它们相加",
        "hidden": True,
        "hint_zh": "把它们相加",
        "details": {"cases": 5},
    }
    assert tuple(row) == FIELDS
    read = read_outcomes([row, {**row, "earned": "lots"}, {**row, "extra": 1}], run_id=7)
    assert read == [CheckOutcome.model_validate(row)]
    assert read[0].name == "q1/add" and read[0].model_dump() == row
    # a row stored before the titles in Chinese existed still reads, with empty ones
    older = {k: v for k, v in row.items() if k not in NEWER}
    [old] = read_outcomes([older], run_id=8)
    assert (old.title_zh, old.question_title, old.hint_zh, old.message_zh) == ("", "", "", "")
    assert caplog.text.count("run 7: a stored outcome is not one") == 2


@pytest.mark.parametrize("code", list(FailureCode))
def test_every_code_has_a_title_in_each_language(code):
    from autograder.grading.failures import TITLES

    titles = Failure(code=code).titles()
    assert set(titles) == set(LANGUAGES) and all(titles.values())
    assert re.search(r"[\u4e00-\u9fff]", titles["zh"]) and titles == TITLES[code]
