"""``autograder grade --human``: every message in full, wrapped to the terminal and never
cut (a long traceback line, a long hint), and the program output's last lines."""

from __future__ import annotations

from autograder.cli import render_table


def report(message: str, log: str = "") -> dict:  # type: ignore[type-arg]
    return {
        "assignment": "hw1-1",
        "score": 2.0,
        "max_score": 5.0,
        "state": "graded",
        "failure_kind": None,
        "failure_message": None,
        "outcomes": [
            {"question": "q1", "check": "add", "passed": False, "earned": 2.0, "points": 5.0,
             "message": message},
        ],
        "log": log,
    }  # fmt: skip


def test_long_messages_are_wrapped_not_cut():
    tail = "THE-END-OF-THE-MESSAGE"
    long_line = "expected " + " ".join(f"value{i}" for i in range(80)) + " " + tail
    text = render_table(report(long_line + "\nHint: " + "x" * 300 + " END-HINT"), width=80)
    assert tail in text and "END-HINT" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    words = " ".join(text.split())
    assert " ".join(long_line.split()) in words  # every word, in order


def test_the_output_says_how_much_of_it_is_shown():
    log = "\n".join(f"line {i}" for i in range(50))
    text = render_table(report("ok", log), width=100)
    assert "its last 20 of 50 lines" in text and "line 49" in text and "line 29" not in text


def test_in_chinese_each_message_is_its_chinese():
    data = report("0 of 4 cases match\nHint: add them")
    data["outcomes"][0]["message_zh"] = "4 个用例中有 0 个一致\n提示：把它们相加"
    data["failure_message"], data["failure_message_zh"] = "Out of time", "超出时间限制"
    data["failure_kind"] = "submission:timeout"
    chinese = render_table(data, width=80, lang="zh")
    assert "提示：把它们相加" in chinese and "超出时间限制" in chinese
    assert "Hint:" not in chinese and "Out of time" not in chinese
    english = render_table(data, width=80)
    assert "Hint: add them" in english and "提示" not in english
    del data["outcomes"][0]["message_zh"]  # a report without Chinese: the English
    assert "Hint: add them" in render_table(data, width=80, lang="zh")
