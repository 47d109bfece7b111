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


# ------------------------------------------------------------------------------ timed case


def timed_linear(**over) -> GradientCheck:
    return linear_check(
        timed_case={"dims": {"n": 40, "i": 30, "o": 20}, "wall_seconds": 7}, cases=2, **over
    )


def along_result(truth: list[np.ndarray], off: float = 0.0) -> CallResult:
    """The oracle of a timed case: each gradient's derivative along itself, its norm."""
    fd = [np.array([np.linalg.norm(t) * (1 + off)]) for t in truth[1:]]
    return CallResult("ok", "", truth + fd)


def planned_timed(check: GradientCheck, seed: int = 0):
    plan = gc.plan(check, np.random.default_rng(seed))
    truths = [linear_truth(c) for c in plan.calls]
    ref = [oracle_result(t) for t in truths[:-1]] + [along_result(truths[-1])]
    return plan, truths, ref


def test_timed_case_schema():
    with pytest.raises(ValidationError, match="timed_case.dims must give a size"):
        linear_check(timed_case={"dims": {"n": 40}, "wall_seconds": 7})
    with pytest.raises(ValidationError):
        linear_check(timed_case={"dims": {"n": 4, "i": 3, "o": 2}, "wall_seconds": 0})
    with pytest.raises(ValidationError):
        linear_check(timed_case={"dims": {"n": 4, "i": 3, "o": 2}})
    assert linear_check().timed_case is None


def test_the_timed_case_is_one_more_call_with_its_own_wall_clock():
    check = timed_linear()
    plan = gc.plan(check, np.random.default_rng(3))
    assert len(plan.calls) == 3
    assert [c.wall_seconds for c in plan.calls] == [None, None, 7]
    kw = plan.calls[-1].steps[0].kwargs
    assert kw["x"].shape == (40, 30) and kw["p_W"].shape == (30, 20)
    assert kw["dout"].shape == (40, 20)
    assert kw["config"]["fd_along_gradient"] == {"kink_units": []}
    assert all("fd_along_gradient" not in c.steps[0].kwargs["config"] for c in plan.calls[:-1])
    # The small cases are drawn as before: the same seed gives the same first cases.
    untimed = gc.plan(linear_check(cases=2), np.random.default_rng(3))
    assert np.array_equal(untimed.calls[1].steps[0].kwargs["x"], plan.calls[1].steps[0].kwargs["x"])


def test_a_network_timed_case_names_its_hidden_units_near_the_kink():
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
                "W1": {"shape": ["d", "h"], "std": 0.01},
                "b1": {"shape": ["h"], "std": 0.01},
                "W2": {"shape": ["h", "c"]},
                "b2": {"shape": ["c"]},
            },
            "timed_case": {"dims": {"n": 300, "d": 20, "h": 200, "c": 5}, "wall_seconds": 5},
            "cases": 1,
        }
    )
    kw = gc.plan(net, np.random.default_rng(0)).calls[-1].steps[0].kwargs
    pre = kw["x"] @ kw["p_W1"] + kw["p_b1"]
    near = sorted(int(j) for j in np.flatnonzero(np.abs(pre).min(axis=0) < gc.KINK_MARGIN))
    assert near and kw["config"]["fd_along_gradient"]["kink_units"] == near
    assert 0.25 <= (pre > 0).mean() <= 0.75


def test_right_in_the_timed_case_too_earns_full_points():
    check = timed_linear()
    plan, truths, ref = planned_timed(check)
    student = [CallResult("ok", "", [t.copy() for t in truth]) for truth in truths]
    outcome = gc.score(check, plan, student, ref)
    assert outcome.earned == outcome.points == 10
    assert "8 of 8 results match the grader's (2 cases x 4 quantities); 4 of 4" in outcome.message
    assert outcome.details["cases"] == 2
    assert all(outcome.details["timed_case"]["passed"].values())
    assert outcome.details["timed_case"]["wall_seconds"] == 7


def test_a_timed_case_that_did_not_finish_earns_nothing_and_says_why():
    check = timed_linear()
    plan, truths, ref = planned_timed(check)
    student = [CallResult("ok", "", [t.copy() for t in truth]) for truth in truths[:-1]]
    why = "the program did not finish within its time limit of 7 s and was stopped"
    outcome = gc.score(check, plan, student + [CallResult("error", why)], ref)
    assert outcome.earned == 0
    assert "8 of 8 results match" in outcome.message
    assert "0 of 4 quantities right in the large case too" in outcome.message
    assert f"time limit of 7 s) failed: {why}" in outcome.message
    assert "finite differences (a forward pass per coordinate)" in outcome.message
    assert "correct:" not in outcome.message
    assert outcome.details["timed_case"]["error"] == why


def test_each_quantity_earns_only_when_right_in_the_timed_case():
    check = timed_linear()
    plan, truths, ref = planned_timed(check)
    student = [CallResult("ok", "", [t.copy() for t in truth]) for truth in truths]
    student[-1].outputs[2] = np.zeros_like(truths[-1][2])  # dW: zeros in the large case
    outcome = gc.score(check, plan, student, ref)
    assert outcome.earned == pytest.approx(10 * 6 / 8)
    assert "Linear.backward: dW: relative error 1.0e+00" in outcome.message
    assert "correct: output, dx, db" in outcome.message
    assert outcome.details["timed_case"]["passed"]["Linear.backward: dW"] is False


def test_the_oracle_of_a_timed_case_is_checked_along_its_gradient():
    check = timed_linear()
    plan, truths, ref = planned_timed(check)
    student = [CallResult("ok", "", truths[0])] * 2 + [CallResult("ok", "", truths[-1])]
    assert gc.score(check, plan, student, ref).details["reference_agreement"] < 1e-9
    bad = ref[:-1] + [along_result(truths[-1], off=1e-3)]
    with pytest.raises(ReferenceFailed, match="timed case: autograd and finite differences"):
        gc.score(check, plan, student, bad)
    full = ref[:-1] + [oracle_result(truths[-1])]  # full-size arrays where 1-element ones belong
    with pytest.raises(ReferenceFailed, match="disagree in shape"):
        gc.score(check, plan, student, full)


def test_kink_units_are_left_out_of_the_norm_the_oracle_checks():
    grad = np.arange(12.0).reshape(3, 4)
    kept = gc._kept(grad, "W1", {"kink_units": [1, 3]})
    assert kept[:, [1, 3]].sum() == 0 and np.array_equal(kept[:, [0, 2]], grad[:, [0, 2]])
    assert gc._kept(grad[0], "b1", {"kink_units": [0]})[0] == 0
    assert gc._kept(grad, "W2", {"kink_units": [1]}) is grad


def test_a_timed_case_may_draw_with_generators_of_its_own():
    check = linear_check(
        cases=1,
        timed_case={
            "dims": {"n": 300, "i": 200, "o": 10},
            "wall_seconds": 5,
            "params": {"W": {"shape": ["i", "o"], "std": 0.01}},
            "input": {"shape": ["n", "i"], "dist": "uniform"},
        },
    )
    small, timed = (c.steps[0].kwargs for c in gc.plan(check, np.random.default_rng(0)).calls)
    assert timed["p_W"].std() == pytest.approx(0.01, rel=0.1)
    assert timed["p_b"].std() == pytest.approx(1.0, rel=0.3)  # the check's own generator
    assert timed["x"].min() >= 0 and small["x"].min() < 0
    with pytest.raises(ValidationError, match="may only replace the check's params"):
        linear_check(
            timed_case={
                "dims": {"n": 4, "i": 3, "o": 2},
                "wall_seconds": 5,
                "params": {"W9": {"shape": [2]}},
            }
        )
