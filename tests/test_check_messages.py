"""The checks' message catalogue (autograder/grading/messages/): every key in English and
Chinese with the same placeholders, every key the code names present, none unused, and no
check kind writing a sentence inline instead of through it."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from autograder.grading import said
from autograder.grading.said import Said, say

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "worker").rglob("*.py")) + sorted((ROOT / "autograder").rglob("*.py"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _keys_named_in_code() -> dict[str, Path]:
    named: dict[str, Path] = {}
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if not re.search(r"from autograder\.grading\.said import [^\n]*\bsay\b", text):
            continue
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "say"
                and node.args
            ):
                first = node.args[0]
                options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
                for option in options:
                    assert isinstance(option, ast.Constant), (
                        f"{path}:{node.lineno}: say() needs a literal key so it can be checked"
                    )
                    named[option.value] = path
    return named


def test_every_key_in_both_languages_with_the_same_placeholders() -> None:
    entries = said.catalogue()
    assert len(entries) > 20
    for key, entry in entries.items():
        assert entry["en"].strip(), key
        assert entry["zh"].strip(), key
        assert _fields(entry["en"]) == _fields(entry["zh"]), key
        words = re.sub(r"\{[^}]*\}", "", entry["en"])
        if re.search(r"[A-Za-z]{3,}", words):  # a sentence, not only values and punctuation
            assert CJK.search(entry["zh"]), f"{key}: the Chinese is not Chinese"


def test_every_key_the_code_names_is_in_the_catalogue_and_none_is_unused() -> None:
    named = _keys_named_in_code()
    entries = said.catalogue()
    missing = {k: str(p.relative_to(ROOT)) for k, p in named.items() if k not in entries}
    assert not missing, f"keys used but not in the catalogue: {missing}"
    unused = sorted(set(entries) - set(named))
    assert not unused, f"keys in the catalogue that no code says: {unused}"


MARKER = "# not a message"


def _english(node: ast.AST) -> bool:
    """A string in the code with words in it (an f-string's literal parts included)."""
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        return any(re.search(r"[A-Za-z]{3,}", str(p)) for p in parts)
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def test_no_check_kind_writes_a_message_inline() -> None:
    """Every f-string with words in ``worker/checks`` is either a message that should come
    from the catalogue (a failure here) or marked ``# not a message: why`` on its line (a
    file name, a log line, an exception for the instructor)."""
    inline = []
    for path in sorted((ROOT / "worker" / "checks").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and _english(node):
                span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
                if not any(MARKER in line for line in span):
                    inline.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not inline, f"messages written inline instead of with say(): {inline}"


def test_no_outcome_is_given_a_literal_sentence() -> None:
    """The plain literals an f-string scan cannot tell from file names: a sentence handed
    straight to ``Outcome``, ``zero`` or ``with_hint``."""
    inline = []
    for path in sorted((ROOT / "worker" / "checks").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            position = {"Outcome": 2, "zero": 1, "with_hint": 0}.get(node.func.id)
            if position is None or len(node.args) <= position:
                continue
            arg = node.args[position]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value:
                inline.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not inline, f"sentences written inline instead of with say(): {inline}"


def test_said_fills_each_language_and_concatenates() -> None:
    hint = Said("look at the bias", "检查偏置项")
    message = say("function.all_match", cases=3) + say("check.hint", hint=hint)
    assert message.en == "all 3 cases match the reference\nHint: look at the bias"
    assert message.zh == "全部 3 个用例与参考答案一致\n提示：检查偏置项"
    assert ("x: " + say("compare.ok")).zh == "x: 正确"
    assert Said("; ", "；").join(["a", say("compare.ok")]).zh == "a；正确"


def test_a_key_not_in_the_catalogue_is_an_error() -> None:
    with pytest.raises(said.CatalogueError, match="no message"):
        say("no.such.key")


def test_a_key_in_two_files_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.json").write_text('{"k": {"en": "x", "zh": "甲"}}', encoding="utf-8")
    (tmp_path / "b.json").write_text('{"k": {"en": "y", "zh": "乙"}}', encoding="utf-8")
    monkeypatch.setattr(said, "CATALOGUE_DIR", tmp_path)
    said.catalogue.cache_clear()
    try:
        with pytest.raises(said.CatalogueError, match="another file"):
            said.catalogue()
    finally:
        said.catalogue.cache_clear()


def test_a_key_without_chinese_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.json").write_text('{"k": {"en": "x"}}', encoding="utf-8")
    monkeypatch.setattr(said, "CATALOGUE_DIR", tmp_path)
    said.catalogue.cache_clear()
    try:
        with pytest.raises(said.CatalogueError, match="en and zh"):
            said.catalogue()
    finally:
        said.catalogue.cache_clear()
