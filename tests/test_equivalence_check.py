"""The ``equivalence`` check kind: planning, scoring and the source scan, all pure (no
sandbox, no torch).  The real path through the sandbox is in tests/test_hw3_1.py and
tests/test_hw4_1.py."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from autograder.specs.schema import Check, EquivalenceCheck
from worker.checks import equivalence_check as eq
from worker.checks.base import CallResult, ReferenceFailed

ADAPTER = TypeAdapter(Check)


def make(**kw) -> EquivalenceCheck:
    base = {"id": "c", "kind": "equivalence", "points": 10, "module": "rnn"}
    base.update(kw)
    check = ADAPTER.validate_python(base)
    assert isinstance(check, EquivalenceCheck)
    return check


def reference_results(plan) -> list[CallResult]:
    """Fake oracle outputs with the right count and shapes (values are arbitrary)."""
    rng = np.random.default_rng(0)
    results = []
    for call, info in zip(plan.calls, plan.hidden, strict=True):
        shapes = expected_shapes(call, info)
        results.append(CallResult("ok", "", [rng.standard_normal(s) for s in shapes]))
    return results


def expected_shapes(call, info):
    meta = call.steps[0].args[0]
    init, sizes = info.init, info.sizes
    n = sizes["batch"]
    if meta["oracle"] == "lstm":
        d = 2 if init.get("bidirectional") else 1
        layers = init.get("num_layers", 1)
        h, length = init["hidden_size"], sizes["length"]
        out = (n, length, d * h) if init.get("batch_first") else (length, n, d * h)
        return [out, (layers * d, n, h), (layers * d, n, h)]
    if meta["oracle"] == "lstm_cell":
        return [(n, init["hidden_size"])] * 2
    raise AssertionError(meta["oracle"])


# ------------------------------------------------------------------------------ schema


def test_schema_accepts_a_full_check():
    check = make(
        build="LSTM",
        oracle="lstm",
        dims={"batch": [1, 3], "length": [1, 5]},
        init={"num_layers": [1, 2], "bidirectional": True},
        inputs={"initial_state": [True, False]},
        edge_cases=["batch_1", "length_1"],
    )
    assert check.cases == 6 and check.rtol == 1e-6


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"dims": {"heads": [1, 2]}}, "not a size of lstm"),
        ({"init": {"num_heads": 2}}, "not an option of lstm"),
        ({"init": {"num_layers": 9}}, "allowed"),
        ({"init": {"bidirectional": "yes"}}, "allowed"),
        ({"init": {"num_layers": True}}, "allowed"),
        ({"edge_cases": ["fully_masked_row"]}, "does not apply"),
        ({"dims": {"batch": [3, 1]}}, "low <= high"),
        ({"inputs": {"mask": "causal"}}, "not an option"),
    ],
)
def test_schema_refuses_what_the_oracle_does_not_take(extra, words):
    with pytest.raises(ValidationError, match=words):
        make(build="LSTM", oracle="lstm", **extra)


def test_schema_refuses_unknown_keys_and_oracles():
    with pytest.raises(ValidationError):
        make(build="LSTM", oracle="lstm", toleranse=1)
    with pytest.raises(ValidationError):
        make(build="X", oracle="conv2d")


# ------------------------------------------------------------------------------ plan


def test_parameters_have_pytorchs_names_and_shapes():
    init = {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True}
    params = {n: s for n, s, _ in eq.parameters("lstm", init)}
    assert params["weight_ih_l0"] == (16, 3)
    assert params["weight_ih_l1_reverse"] == (16, 8)
    assert params["bias_hh_l1_reverse"] == (16,)
    assert len(params) == 16
    assert "bias_ih" not in {
        n
        for n, _, _ in eq.parameters("gru_cell", {"input_size": 2, "hidden_size": 3, "bias": False})
    }
    enc = {
        n: s
        for n, s, _ in eq.parameters(
            "transformer_encoder_layer", {"d_model": 8, "dim_feedforward": 16}
        )
    }
    assert enc["self_attn.in_proj_weight"] == (24, 8) and enc["linear2.weight"] == (8, 16)
    assert len(enc) == 12


def test_plan_is_deterministic_per_seed_and_adds_edge_cases():
    check = make(
        build="LSTM",
        oracle="lstm",
        cases=3,
        edge_cases=["batch_1", "length_1"],
        init={"batch_first": [False, True]},
    )
    a = eq.plan(check, np.random.default_rng(5))
    b = eq.plan(check, np.random.default_rng(5))
    c = eq.plan(check, np.random.default_rng(6))
    assert len(a.calls) == 5
    assert all(call.protocol == "module_forward" for call in a.calls)
    wa = a.calls[0].steps[1].kwargs["weight_ih_l0"]
    assert np.array_equal(wa, b.calls[0].steps[1].kwargs["weight_ih_l0"])
    assert not np.array_equal(
        a.calls[0].steps[2].kwargs["input"], c.calls[0].steps[2].kwargs["input"]
    )
    assert a.hidden[3].sizes["batch"] == 1 and "batch 1" in a.hidden[3].description
    assert a.hidden[4].sizes["length"] == 1
    # batch_first is cycled: case 1 is batch-first, its input (N, L, H)
    info, x = a.hidden[1], a.calls[1].steps[2].kwargs["input"]
    assert info.init["batch_first"] is True
    assert x.shape == (info.sizes["batch"], info.sizes["length"], info.sizes["input_size"])
    # weights follow PyTorch's init bound 1/sqrt(hidden)
    assert np.abs(wa).max() <= 1 / np.sqrt(a.hidden[0].sizes["hidden_size"])


def test_plan_makes_a_fully_masked_row_when_asked():
    check = make(
        module="attention",
        build="scaled_dot_product_attention",
        oracle="scaled_dot_product_attention",
        cases=1,
        edge_cases=["fully_masked_row"],
        inputs={"mask": "none"},
    )
    plan = eq.plan(check, np.random.default_rng(1))
    mask = plan.calls[1].steps[2].kwargs["attn_mask"]
    assert mask.dtype == bool and not mask[0].any()
    layout = plan.calls[1].steps[0].args[0]["layout"]
    assert layout["kwargs"] == {"attn_mask": "attn_mask"}
    assert "fully masked row" in plan.hidden[1].description


def test_mha_masks_follow_pytorchs_conventions():
    check = make(
        module="attention",
        build="MultiheadAttention",
        oracle="multi_head_attention",
        cases=4,
        inputs={"mask": "padding_causal", "self_attention": True},
    )
    plan = eq.plan(check, np.random.default_rng(2))
    for call in plan.calls:
        arrays = call.steps[2].kwargs
        lq = arrays["attn_mask"].shape[0]
        assert np.array_equal(arrays["attn_mask"], np.triu(np.ones((lq, lq), bool), 1))
        assert arrays["key_padding_mask"].dtype == bool
        assert (~arrays["key_padding_mask"]).sum(axis=1).max() == lq  # one full sequence
        assert call.steps[0].args[0]["layout"]["args"] == ["query", "query", "query"]


# ------------------------------------------------------------------------------ score


@pytest.fixture
def lstm_case():
    check = make(
        build="LSTM", oracle="lstm", cases=4, init={"bidirectional": True}, edge_cases=["batch_1"]
    )
    plan = eq.plan(check, np.random.default_rng(3))
    return check, plan, reference_results(plan)


def copy(results):
    return [CallResult(r.status, r.error, [o.copy() for o in r.outputs]) for r in results]


def test_score_full_marks_when_equal(lstm_case):
    check, plan, want = lstm_case
    got = copy(want)
    got[0].outputs[0] += 1e-12
    out = eq.score(check, plan, got, want)
    assert out.earned == 10 and out.passed
    assert "all 5 cases match PyTorch's LSTM" in out.message


def test_score_names_the_output_and_the_direction(lstm_case):
    check, plan, want = lstm_case
    got = copy(want)
    for r in got:
        r.outputs[2][1] += 0.41  # c_n of the backward direction of layer 0
    out = eq.score(check, plan, got, want)
    assert out.earned == 0
    assert "output c_n differs: max abs error 0.41" in out.message
    assert "layer 0 backward direction" in out.message
    assert "c_n in 5" in out.message
    assert out.details["failed_outputs"] == {"c_n": 5}


def test_score_partial_credit_per_case(lstm_case):
    check, plan, want = lstm_case
    got = copy(want)
    got[1].outputs[0][...] = np.nan
    got[2] = CallResult("error", "LSTM forward raised an exception:\nValueError: boom")
    out = eq.score(check, plan, got, want)
    assert out.earned == pytest.approx(10 * 3 / 5)
    assert "Case 2" in out.message and "NaN or infinite" in out.message


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda o: o.__setitem__(0, o[0].astype(np.int64)), "dtype int64"),
        (lambda o: o.__setitem__(0, o[0][..., :1]), "has shape"),
        (lambda o: o.__setitem__(0, np.zeros((10_000, 3, 3))), "has shape"),
        (lambda o: o.__setitem__(1, np.full_like(o[1], np.inf)), "NaN or infinite"),
        (lambda o: o.pop(), "returned 2 tensor(s), expected 3: output, h_n, c_n"),
        (lambda o: o.__setitem__(0, o[0].astype(bool)), "dtype bool"),
    ],
)
def test_score_refuses_bad_outputs(lstm_case, mutate, words):
    check, plan, want = lstm_case
    got = copy(want)
    for r in got:
        mutate(r.outputs)
    out = eq.score(check, plan, got, want)
    assert out.earned == 0
    assert words in out.message


def test_score_missing_result_and_reference_failure(lstm_case):
    check, plan, want = lstm_case
    out = eq.score(check, plan, [CallResult("missing")] * len(want), want)
    assert out.earned == 0 and "the program ended" in out.message
    broken = copy(want)
    broken[0] = CallResult("error", "oracle broke")
    with pytest.raises(ReferenceFailed, match="oracle broke"):
        eq.score(check, plan, copy(want), broken)


def test_score_all_or_nothing():
    check = make(build="LSTMCell", oracle="lstm_cell", cases=3, scoring="all_or_nothing")
    plan = eq.plan(check, np.random.default_rng(0))
    want = reference_results(plan)
    got = copy(want)
    got[0].outputs[1] += 1.0
    out = eq.score(check, plan, got, want)
    assert out.earned == 0 and "output c' differs" in out.message and "at batch 0" in out.message


# ------------------------------------------------------------------------------ source scan


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nclass LSTM(torch.nn.Module):\n    def f(self): return torch.nn.LSTM(1, 2)\n",
        "from torch.nn import LSTMCell\n",
        "from torch import nn\nX = getattr(nn, 'GRU')\n",
        "import torch as T\ny = T.lstm\n",
        "from torch.nn import *\n",
        "from torch import _VF\n",
        "import torch\nf = torch._VF.gru_cell\n",
    ],
)
def test_scan_finds_the_built_ins(tmp_path, source):
    (tmp_path / "rnn.py").write_text(source)
    check = make(build="LSTM", oracle="lstm")
    problem = eq.constraint(check, tmp_path)
    assert problem and problem.startswith("rnn.py line ")


def test_scan_allows_own_classes_and_follows_local_imports(tmp_path):
    own = (
        "import torch\nfrom torch import nn\n"
        "class LSTM(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.lstm = nn.Linear(2, 2)\n"
        "class GRU(LSTM):\n    pass\n"
    )
    (tmp_path / "rnn.py").write_text(own)
    (tmp_path / "mnist_lstm.py").write_text("from torch import nn\nm = nn.LSTM(28, 64)\n")
    check = make(build="LSTM", oracle="lstm")
    assert eq.constraint(check, tmp_path) is None  # mnist_lstm.py is not imported by rnn.py
    (tmp_path / "rnn.py").write_text(own + "import helpers\n")
    (tmp_path / "helpers.py").write_text("from mnist_lstm import m\n")
    assert "mnist_lstm.py line 2 uses LSTM" in eq.constraint(check, tmp_path)


def test_scan_forbidden_imports_and_extra_names(tmp_path):
    (tmp_path / "attention.py").write_text("import numpy as np\nimport scipy.special\n")
    check = make(
        module="attention",
        build="MultiheadAttention",
        oracle="multi_head_attention",
        forbidden_imports=["scipy"],
        forbidden_names=["softmax"],
    )
    assert "imports scipy.special" in eq.constraint(check, tmp_path)
    (tmp_path / "attention.py").write_text("import torch\ny = torch.softmax\n")
    assert "uses softmax" in eq.constraint(check, tmp_path)
    (tmp_path / "attention.py").write_text(
        "import torch.nn.functional as F\ndef f(q):\n    return F.scaled_dot_product_attention(q)\n"
    )
    assert "uses scaled_dot_product_attention" in eq.constraint(check, tmp_path)
    (tmp_path / "attention.py").write_text(
        "def scaled_dot_product_attention(q):\n    return q\nx = scaled_dot_product_attention(1)\n"
    )
    assert eq.constraint(check, tmp_path) is None


def test_scan_charges_only_the_checks_whose_class_uses_the_built_in(tmp_path):
    (tmp_path / "rnn.py").write_text(
        "from torch import nn\n"
        "def helper(x):\n    return x\n"
        "class LSTM(nn.Module):\n    def forward(self, x):\n        return helper(x)\n"
        "class GRU(nn.GRU):\n    pass\n"
        "class Stack(nn.Module):\n    def __init__(self):\n        self.g = GRU(1, 2)\n"
    )
    assert eq.constraint(make(build="LSTM", oracle="lstm"), tmp_path) is None
    assert "rnn.py line 7 uses GRU" in eq.constraint(make(build="GRU", oracle="gru"), tmp_path)
    # Stack reaches GRU through its body: charged too
    assert "uses GRU" in eq.constraint(make(build="Stack", oracle="gru"), tmp_path)
    # module-level use is charged to every check
    (tmp_path / "rnn.py").write_text(
        "from torch import nn\nX = nn.LSTMCell\nclass LSTM:\n    pass\n"
    )
    assert "line 2 uses LSTMCell" in eq.constraint(make(build="LSTM", oracle="lstm"), tmp_path)


def test_scan_also_scan_and_the_students_own_modules(tmp_path):
    (tmp_path / "attention.py").write_text("class TransformerEncoderLayer:\n    pass\n")
    (tmp_path / "sort_model.py").write_text(
        "import attention\nfrom attention import TransformerEncoderLayer\n"
        "layer = attention.TransformerEncoderLayer()\n"
    )
    check = make(
        module="attention",
        build="TransformerEncoderLayer",
        oracle="transformer_encoder_layer",
        also_scan=["sort_model"],
    )
    assert eq.constraint(check, tmp_path) is None  # the student's own class
    (tmp_path / "sort_model.py").write_text("from torch import nn\nx = nn.TransformerEncoder\n")
    assert "sort_model.py line 2 uses TransformerEncoder" in eq.constraint(check, tmp_path)


def test_registered_with_its_source_scan():
    from worker.checks.registry import KINDS

    assert KINDS["equivalence"].plan is eq.plan
    assert KINDS["equivalence"].static is eq.constraint
