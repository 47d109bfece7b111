"""The ``gradient`` check kind: plan and scoring, pure (no sandbox, no torch).

The oracle box's answer is imitated here with numpy: the exact gradients of the oracle
functions, written out by hand, for autograd and (perturbed slightly) for finite
differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from autograder.specs.schema import GradientCheck
from worker.checks import gradient_check as gc
from worker.checks.base import CallResult, ReferenceFailed
from worker.checks.registry import KINDS


def linear_check(**over) -> GradientCheck:
    spec = {
        "id": "linear",
        "points": 10,
        "kind": "gradient",
        "module": "backprop",
        "layer": "Linear",
        "oracle": "linear",
        "dims": {"n": [2, 5], "i": [1, 4], "o": [1, 3]},
        "init": {"in_features": "i", "out_features": "o"},
        "input": {"shape": ["n", "i"]},
        "params": {"W": {"shape": ["i", "o"]}, "b": {"shape": ["o"]}},
        "cases": 3,
    }
    spec.update(over)
    return GradientCheck.model_validate(spec)


def linear_truth(call) -> list[np.ndarray]:
    """out, dx, dW, db of the linear oracle for one planned call."""
    kw = call.steps[0].kwargs
    x, w, b, dout = kw["x"], kw["p_W"], kw["p_b"], kw["dout"]
    return [x @ w + b, dout @ w.T, x.T @ dout, dout.sum(axis=0)]


def oracle_result(truth: list[np.ndarray], fd_noise: float = 1e-9) -> CallResult:
    fd = [t * (1 + fd_noise) for t in truth[1:]]
    return CallResult("ok", "", truth + fd)


def planned(check: GradientCheck, seed: int = 0):
    plan = gc.plan(check, np.random.default_rng(seed))
    truths = [linear_truth(c) for c in plan.calls]
    return plan, truths, [oracle_result(t) for t in truths]


# ------------------------------------------------------------------------------ schema


def test_schema_knows_the_interface_of_each_oracle():
    with pytest.raises(ValidationError, match="needs params"):
        linear_check(params={"W": {"shape": ["i", "o"]}})
    with pytest.raises(ValidationError, match="needs labels"):
        GradientCheck.model_validate(
            {
                "id": "ce",
                "points": 1,
                "kind": "gradient",
                "module": "m",
                "layer": "SoftmaxCrossEntropy",
                "oracle": "softmax_cross_entropy",
                "input": {"shape": [3, 4]},
            }
        )
    with pytest.raises(ValidationError):
        linear_check(oracle="conv2d")
    with pytest.raises(ValidationError):
        linear_check(tolerance=float("nan"))
    assert "gradient" in KINDS and KINDS["gradient"].static is gc.static


# ------------------------------------------------------------------------------ plan


def test_plan_is_per_seed_and_uses_the_protocol():
    check = linear_check()
    a = gc.plan(check, np.random.default_rng(1))
    b = gc.plan(check, np.random.default_rng(1))
    c = gc.plan(check, np.random.default_rng(2))
    assert len(a.calls) == 3
    assert all(call.protocol == "layer_gradient" for call in a.calls)
    assert all(call.steps[0].function == "Linear" for call in a.calls)
    assert np.array_equal(a.calls[0].steps[0].kwargs["x"], b.calls[0].steps[0].kwargs["x"])
    assert not np.array_equal(a.calls[0].steps[0].kwargs["p_W"], c.calls[0].steps[0].kwargs["p_W"])
    for call in a.calls:
        kw = call.steps[0].kwargs
        n, i = kw["x"].shape
        assert kw["config"]["init"] == {"in_features": i, "out_features": kw["p_b"].shape[0]}
        assert kw["dout"].shape == (n, kw["p_b"].shape[0])
        assert kw["x"].dtype == np.float64


def test_plan_keeps_inputs_away_from_the_relu_kink():
    relu = GradientCheck.model_validate(
        {
            "id": "relu",
            "points": 1,
            "kind": "gradient",
            "module": "m",
            "layer": "ReLU",
            "oracle": "relu",
            "input": {"shape": [50, 40], "std": 0.01},
            "cases": 2,
        }
    )
    for call in gc.plan(relu, np.random.default_rng(0)).calls:
        assert np.abs(call.steps[0].kwargs["x"]).min() >= gc.KINK_MARGIN
    net = GradientCheck.model_validate(
        {
            "id": "net",
            "points": 1,
            "kind": "gradient",
            "module": "m",
            "layer": "TwoLayerNet",
            "oracle": "two_layer_net",
            "dims": {"n": [2, 6], "d": [2, 10], "h": [2, 12], "c": [2, 6]},
            "init": {"input_size": "d", "hidden_size": "h", "output_size": "c"},
            "input": {"shape": ["n", "d"]},
            "labels": {"shape": ["n"], "classes": "c"},
            "params": {
                "W1": {"shape": ["d", "h"]},
                "b1": {"shape": ["h"]},
                "W2": {"shape": ["h", "c"]},
                "b2": {"shape": ["c"]},
            },
            "cases": 20,
        }
    )
    for call in gc.plan(net, np.random.default_rng(0)).calls:
        kw = call.steps[0].kwargs
        pre = kw["x"] @ kw["p_W1"] + kw["p_b1"]
        assert np.abs(pre).min() >= gc.KINK_MARGIN
        assert 0.25 <= (pre > 0).mean() <= 0.75
        assert kw["y"].dtype == np.int64 and kw["y"].max() < kw["p_b2"].shape[0]
        assert "dout" not in kw
    assert [q.label for q in gc.quantities(net)] == [
        "TwoLayerNet.loss: loss",
        "TwoLayerNet.loss: dW1",
        "TwoLayerNet.loss: db1",
        "TwoLayerNet.loss: dW2",
        "TwoLayerNet.loss: db2",
    ]


# ------------------------------------------------------------------------------ compare


def test_relative_error():
    a = np.array([1.0, 2.0, 3.0])
    assert gc.relative_error(a, a) == 0.0
    assert gc.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gc.relative_error(a, -a) == pytest.approx(1.0)
    assert math.isnan(gc.relative_error(np.array([np.nan]), np.array([1.0])))
    assert math.isnan(gc.relative_error(np.array([np.inf]), np.array([1.0])))
    huge = np.full(4, 1e308)
    assert math.isnan(gc.relative_error(huge, -huge))  # overflow never passes


@pytest.mark.parametrize(
    "got,why",
    [
        (np.ones((3, 2)), "shape (3, 2), expected (2, 3)"),
        (np.ones((2, 3), dtype=np.int64), "dtype int64 (integers)"),
        (np.ones((2, 3), dtype=bool), "dtype bool (booleans)"),
        (np.full((2, 3), np.nan), "6 value(s) are NaN or infinite"),
        (np.full((2, 3), np.inf), "NaN or infinite"),
        (np.ones((2000, 3000)), "shape (2000, 3000), expected (2, 3)"),
        (None, "nothing was returned"),
        (-np.ones((2, 3)), "relative error 1.0e+00, expected < 1e-06"),
    ],
)
def test_compare_quantity_refuses(got, why):
    ok, _err, message = gc.compare_quantity(got, np.ones((2, 3)), 1e-6)
    assert not ok
    assert why in message


def test_compare_quantity_accepts_close_values_and_scalar_losses():
    want = np.linspace(1, 2, 6).reshape(2, 3)
    assert gc.compare_quantity(want * (1 + 1e-9), want, 1e-6)[0]
    assert gc.compare_quantity(want.astype(np.float32), want, 1e-6)[0]
    assert gc.compare_quantity(np.array([2.5]), np.array(2.5), 1e-6)[0]
    assert not gc.compare_quantity(np.array([2.5, 2.5]), np.array(2.5), 1e-6)[0]


# ------------------------------------------------------------------------------ score


def test_correct_gradients_earn_full_points():
    check = linear_check()
    plan, truths, ref = planned(check)
    student = [CallResult("ok", "", [t.copy() for t in truth]) for truth in truths]
    outcome = gc.score(check, plan, student, ref)
    assert outcome.earned == outcome.points == 10
    assert "12 of 12" in outcome.message
    assert outcome.details["quantities"]["Linear.backward: dW"]["passed"] == 3


def test_a_wrong_weight_gradient_is_named_with_its_relative_error():
    check = linear_check()
    plan, truths, ref = planned(check)
    student = []
    for truth in truths:
        wrong = [t.copy() for t in truth]
        wrong[2] = wrong[2] * 1.5  # dW off
        student.append(CallResult("ok", "", wrong))
    outcome = gc.score(check, plan, student, ref)
    assert outcome.earned == pytest.approx(10 * 9 / 12)
    assert "Linear.backward: dW relative error 2.0e-01, expected < 1e-06" in outcome.message
    assert "wrong in 3 of 3 cases" in outcome.message
    assert "correct: output, dx, db" in outcome.message


def test_a_missing_gradient_and_a_nan_fail_alone():
    check = linear_check(cases=1)
    plan, truths, ref = planned(check)
    got = [t.copy() for t in truths[0]]
    got[3] = np.zeros(0, dtype=bool)  # the protocol's placeholder
    got[1] = np.full_like(got[1], np.nan)
    notes = '{"b": "Linear.grads has no key \'b\'"}'
    outcome = gc.score(check, plan, [CallResult("ok", notes, got)], ref)
    assert outcome.earned == pytest.approx(5.0)
    assert "Linear.backward: db: Linear.grads has no key 'b'" in outcome.message
    assert "Linear.backward: dx: " in outcome.message and "NaN or infinite" in outcome.message
    # The same placeholder without a (lost or forged) note still fails, in plain words.
    outcome = gc.score(check, plan, [CallResult("ok", "not json", got)], ref)
    assert "db: nothing was returned" in outcome.message


def test_a_wrongly_shaped_gradient_is_named():
    check = linear_check(cases=1)
    plan, truths, ref = planned(check)
    got = [t.copy() for t in truths[0]]
    got[2] = got[2].T.copy() if got[2].shape[0] != got[2].shape[1] else np.ones((7, 7))
    outcome = gc.score(check, plan, [CallResult("ok", "", got)], ref)
    assert "Linear.backward: dW: shape" in outcome.message
    assert outcome.earned == pytest.approx(7.5)


def test_a_crash_earns_nothing_and_shows_the_error():
    check = linear_check()
    plan, _truths, ref = planned(check)
    error = "Linear(in_features=3, out_features=2) raised an exception:\nNotImplementedError"
    student = [CallResult("error", error) for _ in plan.calls] + []
    outcome = gc.score(check, plan, student, ref)
    assert outcome.earned == 0
    assert "NotImplementedError" in outcome.message
    assert outcome.details["first_error"]["case"] == 1
    missing = [CallResult("missing") for _ in plan.calls]
    assert gc.score(check, plan, missing, ref).earned == 0


def test_too_few_outputs_fail_without_crashing():
    check = linear_check(cases=1)
    plan, truths, ref = planned(check)
    outcome = gc.score(check, plan, [CallResult("ok", "", truths[0][:1])], ref)
    assert outcome.earned == pytest.approx(2.5)


def test_the_grader_refuses_to_grade_when_its_own_gradients_disagree():
    check = linear_check(cases=1)
    plan, truths, _ref = planned(check)
    student = [CallResult("ok", "", truths[0])]
    with pytest.raises(ReferenceFailed, match="autograd and finite differences disagree"):
        gc.score(check, plan, student, [oracle_result(truths[0], fd_noise=1e-3)])
    with pytest.raises(ReferenceFailed, match="oracle failed"):
        gc.score(check, plan, student, [CallResult("error", "boom")])
    with pytest.raises(ReferenceFailed, match="wrote 2 arrays"):
        gc.score(check, plan, student, [CallResult("ok", "", truths[0][:2])])
    nan = oracle_result(truths[0])
    nan.outputs[-1] = np.full_like(nan.outputs[-1], np.nan)
    with pytest.raises(ReferenceFailed):
        gc.score(check, plan, student, [nan])


# ------------------------------------------------------------------------------ static


def test_autograd_imports_are_found_in_the_source(tmp_path):
    check = linear_check()
    (tmp_path / "backprop.py").write_text("import numpy as np\n")
    assert gc.static(check, tmp_path) is None
    (tmp_path / "backprop.py").write_text("import numpy as np\n\ndef f():\n    import torch\n")
    message = gc.static(check, tmp_path)
    assert message and "backprop.py line 4 imports torch" in message
    (tmp_path / "backprop.py").write_text("from jax import grad\n")
    assert "imports jax" in gc.static(check, tmp_path)
    (tmp_path / "backprop.py").write_text("m = __import__('autograd.numpy')\n")
    assert "autograd.numpy" in gc.static(check, tmp_path)
    assert gc.static(linear_check(forbidden_imports=[]), tmp_path) is None
