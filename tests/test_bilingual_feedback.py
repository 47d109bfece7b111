"""What a check says, graded through the real sandbox: every message in English and in
Chinese, the runner's failures (a missing function, an exception, a wrong return type)
said in both from their reason, the student's own traceback left as Python wrote it, and
the hint in each language. The regression and function kinds' own words are covered
here; each kind's catalogue entries by tests/test_check_messages.py."""

from __future__ import annotations

import re

from autograder.grading.said import say
from tests.sandboxed import by_check, grade_source
from worker.pipeline import runner_error

CJK = re.compile(r"[\u4e00-\u9fff]")
GOOD = """
import numpy as np

def add(a, b):
    return a + b

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def fit(x, y):
    A = np.stack([np.ones_like(x), x], axis=1)
    return np.linalg.lstsq(A, y, rcond=None)[0]

def predict(coef, x):
    return coef[0] + coef[1] * x
"""


def test_every_message_of_a_partly_wrong_submission_is_in_both_languages(tmp_path):
    source = (
        GOOD.replace("return a + b", "return a - b")  # wrong values: the comparison speaks
        .replace("def softmax", "def soft_max")  # missing: the runner's reason
        .replace("return coef[0] + coef[1] * x", "raise ValueError('not yet')")
    )
    rows = by_check(grade_source(tmp_path, source))
    add, softmax, line = rows["arrays/add"], rows["arrays/softmax"], rows["fit/line"]
    for row in (add, softmax, line):
        assert row["earned"] == 0
        assert CJK.search(row["message_zh"]), row
        assert row["message_zh"] != row["message"]
    assert "values differ" in add["message"] and "个值中有" in add["message_zh"]
    assert add["message"].endswith("\nHint: elementwise sum")
    assert add["message_zh"].endswith("\n提示：elementwise sum")  # no hint_zh: the English one
    assert "mini.py has no function softmax()" in softmax["message"]
    assert "mini.py 中没有函数 softmax()" in softmax["message_zh"]
    assert "predict() raised an exception" in line["message"]
    assert "predict() 抛出了异常" in line["message_zh"]
    # the student's own traceback is Python's, the same in both
    assert "ValueError: not yet" in line["message"] and "ValueError: not yet" in line["message_zh"]


def test_a_full_marks_submission_is_praised_in_both_languages(tmp_path):
    rows = by_check(grade_source(tmp_path, GOOD))
    assert all(r["passed"] for r in rows.values())
    assert rows["arrays/add"]["message"] == "all 4 cases match the reference"
    assert rows["arrays/add"]["message_zh"] == "全部 4 个用例与参考答案一致"


def test_a_wrong_return_type_is_said_from_its_reason(tmp_path):
    source = GOOD.replace("return a + b", "return 'a string'").replace(
        "return e / e.sum(axis=-1, keepdims=True)", "return ['a', 'list']"
    )
    rows = by_check(grade_source(tmp_path, source))
    add, softmax = rows["arrays/add"], rows["arrays/softmax"]
    assert "add() returned str; expected a numpy array, a number, or a tuple" in add["message"]
    assert "add() 返回了 str；应返回 numpy 数组" in add["message_zh"]
    expected = "softmax() returned an array of dtype <U4; expected numbers or booleans"
    assert expected in softmax["message"]
    assert "softmax() 返回了数据类型为 <U4 的数组" in softmax["message_zh"]


def test_the_runner_line_is_untrusted_and_can_only_choose_a_known_reason():
    english = "mini.py has no function fit()"
    known = runner_error(
        {"error": english, "reason": "no-function", "values": {"module": "mini", "function": "fit"}}
    )
    assert known == say("call.no_function", module="mini", function="fit")
    assert known.en == english and CJK.search(known.zh)
    # an unknown reason, or values that are not a mapping: the runner's English as it is
    assert runner_error({"error": "boom", "reason": "call.hint", "values": {}}) == "boom"
    assert runner_error({"error": "boom", "reason": "raised", "values": "x"}).en.startswith("()")
    # a claimed import failure that is not one is not believed
    assert runner_error({"error": "boom", "reason": "import", "values": {}}) == "boom"
    # values are capped
    huge = runner_error({"error": "", "reason": "raised", "values": {"traceback": "x" * 10**6}})
    assert len(huge.en) < 5000


def test_a_hand_written_layers_missing_pieces_are_said_in_both_languages(tmp_path):
    """The gradient protocol's notes (a gradient not returned, one of the wrong type) come
    back as reasons, said outside in each language."""
    from autograder.specs.loader import load_spec_file
    from tests.sandboxed import MINI_GRADIENT, MINI_GRADIENT_SPEC

    source = (MINI_GRADIENT / "layers.py").read_text()
    source = source.replace('        self.grads["b"] = dout.sum(axis=0)\n', "")
    source = source.replace('return dout @ self.params["W"].T', "return [1, 2]")
    report = grade_source(
        tmp_path,
        source,
        spec=load_spec_file(MINI_GRADIENT_SPEC),
        reference=MINI_GRADIENT,
        filename="layers.py",
    )
    [row] = by_check(report).values()
    assert row["earned"] < row["points"]
    assert "Linear.grads has no key 'b'" in row["message"]
    assert "Linear.grads 中没有键 'b'" in row["message_zh"]
    assert "the value Linear.backward returned is a list, expected a numpy array" in row["message"]
    assert "Linear.backward 返回的值是 list，应为 numpy 数组" in row["message_zh"]
