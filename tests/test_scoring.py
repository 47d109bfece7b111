"""The pure scoring functions: comparisons, partial credit, generators, check scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autograder.specs.schema import Arg, ArrayGen, Credit, FunctionCheck
from worker.checks import function_check
from worker.checks.base import CallResult
from worker.checks.common.credit import credit_fraction, thresholds
from worker.checks.compare import compare_array, compare_outputs
from worker.checks.generators import draw_arg, draw_array


def test_equal_arrays_pass_and_report_the_largest_error():
    a = np.array([1.0, 2.0, 3.0])
    result = compare_array(a + 1e-9, a, rtol=1e-6, atol=0, check_dtype=False)
    assert result.ok and result.max_abs_error == pytest.approx(1e-9)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_never_passes(bad):
    result = compare_array(np.array([1.0, bad]), np.array([1.0, 2.0]), 1, 1, False)
    assert not result.ok and "NaN or infinite" in result.message


def test_matching_infinities_pass():
    want = np.array([np.inf, 1.0])
    assert compare_array(want.copy(), want, 1e-6, 0, False).ok


def test_shape_mismatch_names_both_shapes():
    result = compare_array(np.zeros((3, 2)), np.zeros((2, 3)), 1e-6, 0, False)
    assert not result.ok and result.message == "shape (3, 2), expected (2, 3)"


def test_dtype_kind_checked_only_when_asked():
    assert compare_array(np.zeros(3), np.zeros(3, dtype=int), 0, 0, False).ok
    result = compare_array(np.zeros(3), np.zeros(3, dtype=int), 0, 0, True)
    assert not result.ok and "expected int" in result.message


def test_tolerance_is_positive_and_counts_bad_values():
    result = compare_array(np.array([1.0, 2.5, 3.0]), np.array([1.0, 2.0, 3.0]), 1e-3, 1e-3, False)
    assert not result.ok and result.message.startswith("1 of 3 values differ")
    assert "the first at index 1: got 2.5, expected 2" in result.message


def test_a_scalar_mismatch_says_got_and_expected():
    result = compare_array(np.array(2.5), np.array(2.0), 1e-6, 0, False)
    assert not result.ok and result.message.startswith("got 2.5, expected 2 (tolerance")
    table = compare_array(np.array([[1.0, 2.0], [3.0, 9.0]]), np.ones((2, 2)) * 3, 0, 0, False)
    assert "the first at index (0, 0): got 1, expected 3" in table.message


def test_returned_values_are_named():
    got, want = [np.array(1.0), np.array(5.0)], [np.array(1.0), np.array(4.0)]
    named = compare_outputs(got, want, 0, 0, False, ["loss", "grad"])
    assert named.message.startswith("grad: got 5, expected 4")
    unnamed = compare_outputs(got, want, 0, 0, False)
    assert unnamed.message.startswith("returned value 2: got 5, expected 4")


def test_output_count_must_match():
    result = compare_outputs([np.zeros(1)], [np.zeros(1), np.zeros(1)], 0, 0, False)
    assert not result.ok and "returned 1 value, expected 2 values" in result.message


@pytest.mark.parametrize(
    "err,expected",
    [
        (0.5, 1.0),
        (1.0, 1.0),
        (10.0, 0.0),
        (20.0, 0.0),
        (math.nan, 0.0),
        (math.inf, 0.0),
        (-1.0, 0.0),
    ],
)
def test_credit_curve_ends(err, expected):
    assert credit_fraction(err, 1.0, 10.0, "log") == expected


def test_credit_curve_is_log_linear_between():
    assert credit_fraction(math.sqrt(10), 1.0, 10.0, "log") == pytest.approx(0.5)
    assert credit_fraction(5.5, 1.0, 10.0, "linear") == pytest.approx(0.5)


def test_thresholds_relative_to_reference():
    credit = Credit(full_at=1.2, zero_at=10)
    assert thresholds(credit, 0.5) == pytest.approx((0.6, 5.0))
    absolute = Credit(full_at=0.1, zero_at=1, relative_to="absolute")
    assert thresholds(absolute, 123.0) == (0.1, 1)


def test_generators_are_deterministic_per_seed_and_honour_dims():
    gen = ArrayGen(shape=["n", 3, [2, 4]], dist="uniform", low=-1, high=1)
    a = draw_array(gen, {"n": 5}, np.random.default_rng(7))
    b = draw_array(gen, {"n": 5}, np.random.default_rng(7))
    assert a.shape[:2] == (5, 3) and 2 <= a.shape[2] <= 4
    assert np.array_equal(a, b) and np.all((a >= -1) & (a <= 1))
    c = draw_array(gen, {"n": 5}, np.random.default_rng(8))
    assert not np.array_equal(a, c) or a.shape != c.shape


def test_scalar_generators():
    rng = np.random.default_rng(0)
    assert 1 <= draw_arg(Arg.model_validate({"int": {"low": 1, "high": 3}}), {}, rng) <= 3
    assert draw_arg(Arg.model_validate({"value": [1, 2]}), {}, rng) == [1, 2]
    assert draw_arg(Arg.model_validate({"choice": ["a", "b"]}), {}, rng) in ("a", "b")


def _check(**kw):
    base = dict(
        id="c",
        kind="function",
        module="m",
        function="f",
        points=4,
        cases=4,
        args=[{"array": {"shape": [3]}}],
    )
    return FunctionCheck.model_validate({**base, **kw})


def test_function_check_per_case_and_all_or_nothing():
    check = _check()
    plan = function_check.plan(check, np.random.default_rng(0))
    want = [CallResult("ok", outputs=[np.ones(3)]) for _ in range(4)]
    got = [CallResult("ok", outputs=[np.ones(3)])] * 3 + [CallResult("error", "boom")]
    outcome = function_check.score(check, plan, got, want)
    assert outcome.earned == 3 and not outcome.passed
    assert "3 of 4 cases" in outcome.message and "boom" in outcome.message
    strict = _check(scoring="all_or_nothing")
    assert function_check.score(strict, plan, got, want).earned == 0
    assert function_check.score(strict, plan, want, want).earned == 4


def test_function_check_reference_failure_is_ours():
    from worker.checks.base import ReferenceFailed

    check = _check()
    plan = function_check.plan(check, np.random.default_rng(0))
    ok = [CallResult("ok", outputs=[np.ones(3)])] * 4
    with pytest.raises(ReferenceFailed):
        function_check.score(check, plan, ok, [CallResult("error", "ref broke")] * 4)
