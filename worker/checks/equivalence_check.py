"""Check kind ``equivalence``: a student module given weights chosen here must compute what
the PyTorch built-in computes with the same weights, on inputs it has never seen.

Everything the check decides is decided here, outside the sandbox, in numpy (the service
never imports torch):

- per case, the sizes (drawn from ``dims``), the constructor options (``init``; a list is
  cycled over the cases), the inputs (masks made from drawn lengths) and the weights, with
  the built-in's parameter names and shapes (``parameters()``), from the job's rng;
- the edge cases the spec asks for (batch 1, length 1, a fully masked query row) are added
  after the random ones;
- the forbidden names and imports are found by reading the source (``constraint()``).

The student's box (protocol ``module_forward``, worker/runner/protocol_module_forward.py)
builds the module, converts it to float64, loads the weights with ``strict=True``, and calls
``forward`` under ``torch.no_grad()`` in eval mode; the reference box (``--oracle``) does the
same with the PyTorch built-in.  ``score`` compares every output by name.

Fully masked query rows (every key masked out for one query): PyTorch's
``nn.MultiheadAttention`` returns NaN there.  The documented interface defines them instead:
the attention weights of such a row are all zero, so its attention output is zero (for
multi-head attention: zero before the output projection, i.e. ``out_proj.bias`` after it).
``F.scaled_dot_product_attention`` in torch 2.14 already returns zeros; the oracle applies the
definition to both.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.equivalence_oracles import (
    CELLS,
    GATES,
    LAYERS,
    MASKS,
    ORACLE_DIMS,
)
from autograder.specs.schema import EquivalenceCheck
from worker.checks.base import Call, CallResult, CheckPlan, Outcome, ReferenceFailed, Step
from worker.checks.common.hints import with_hint

PROTOCOL = "module_forward"
COMMA = Said(", ", "，")

# The built-ins a submission re-implements: found in its source, they cost the check.
_RNN_NAMES = [
    "RNN",
    "RNNCell",
    "LSTM",
    "LSTMCell",
    "GRU",
    "GRUCell",
    "RNNBase",
    "RNNCellBase",
    "_VF",
    "lstm_cell",
    "gru_cell",
    "rnn_tanh",
    "rnn_relu",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "_thnn_fused_lstm_cell",
    "_thnn_fused_gru_cell",
    "torch.lstm",
    "torch.gru",
]
_ATTENTION_NAMES = [
    "scaled_dot_product_attention",
    "MultiheadAttention",
    "multi_head_attention_forward",
    "_native_multi_head_attention",
    "TransformerEncoderLayer",
    "TransformerEncoder",
    "TransformerDecoderLayer",
    "Transformer",
    "_transformer_encoder_layer_fwd",
    "_scaled_dot_product_attention_math",
    "_fused_sdp_choice",
]
DEFAULT_FORBIDDEN_NAMES = {
    **{o: _RNN_NAMES for o in CELLS + LAYERS},
    **{
        o: _ATTENTION_NAMES
        for o in (
            "scaled_dot_product_attention",
            "multi_head_attention",
            "transformer_encoder_layer",
        )
    },
}
MODULE_NAMES = {
    "rnn_cell": "RNNCell",
    "lstm_cell": "LSTMCell",
    "gru_cell": "GRUCell",
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "scaled_dot_product_attention": "scaled_dot_product_attention",
    "multi_head_attention": "MultiheadAttention",
    "transformer_encoder_layer": "TransformerEncoderLayer",
}


# ------------------------------------------------------------------------------ oracle facts


def init_kwargs(oracle: str, sizes: dict[str, int], options: dict[str, Any]) -> dict[str, Any]:
    """The constructor's keyword arguments (PyTorch's names) for one case."""
    if oracle in CELLS + LAYERS:
        kw: dict[str, Any] = {
            "input_size": sizes["input_size"],
            "hidden_size": sizes["hidden_size"],
        }
    elif oracle == "multi_head_attention":
        kw = {"embed_dim": sizes["num_heads"] * sizes["head_dim"], "num_heads": sizes["num_heads"]}
    elif oracle == "transformer_encoder_layer":
        kw = {
            "d_model": sizes["num_heads"] * sizes["head_dim"],
            "nhead": sizes["num_heads"],
            "dim_feedforward": sizes["dim_feedforward"],
            "dropout": 0.0,
        }
    else:
        return {}
    kw.update(options)
    return kw


def parameters(oracle: str, init: dict[str, Any]) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, role) of every parameter of the built-in, in PyTorch's order."""
    params: list[tuple[str, tuple[int, ...], str]] = []
    bias = init.get("bias", True)
    if oracle in CELLS:
        g, h, i = GATES[oracle] * init["hidden_size"], init["hidden_size"], init["input_size"]
        params += [("weight_ih", (g, i), "w"), ("weight_hh", (g, h), "w")]
        if bias:
            params += [("bias_ih", (g,), "b"), ("bias_hh", (g,), "b")]
    elif oracle in LAYERS:
        h = init["hidden_size"]
        g = GATES[oracle] * h
        d = 2 if init.get("bidirectional", False) else 1
        for layer in range(init.get("num_layers", 1)):
            width = init["input_size"] if layer == 0 else d * h
            for sfx in ("", "_reverse")[:d]:
                params += [
                    (f"weight_ih_l{layer}{sfx}", (g, width), "w"),  # not a message: a name
                    (f"weight_hh_l{layer}{sfx}", (g, h), "w"),  # not a message: a name
                ]
                if bias:
                    params += [
                        (f"bias_ih_l{layer}{sfx}", (g,), "b"),  # not a message: a name
                        (f"bias_hh_l{layer}{sfx}", (g,), "b"),  # not a message: a name
                    ]
    elif oracle == "multi_head_attention":
        params += _mha_params("", init["embed_dim"])
    elif oracle == "transformer_encoder_layer":
        e, f = init["d_model"], init["dim_feedforward"]
        params += _mha_params("self_attn.", e)
        params += [
            ("linear1.weight", (f, e), "w"),
            ("linear1.bias", (f,), "b"),
            ("linear2.weight", (e, f), "w"),
            ("linear2.bias", (e,), "b"),
            ("norm1.weight", (e,), "gamma"),
            ("norm1.bias", (e,), "beta"),
            ("norm2.weight", (e,), "gamma"),
            ("norm2.bias", (e,), "beta"),
        ]
    return params


def _mha_params(prefix: str, e: int) -> list[tuple[str, tuple[int, ...], str]]:
    return [
        (f"{prefix}in_proj_weight", (3 * e, e), "w"),  # not a message: a parameter's name
        (f"{prefix}in_proj_bias", (3 * e,), "b"),  # not a message: a parameter's name
        (f"{prefix}out_proj.weight", (e, e), "w"),  # not a message: a parameter's name
        (f"{prefix}out_proj.bias", (e,), "b"),  # not a message: a parameter's name
    ]


def output_names(oracle: str) -> list[str]:
    return {
        "rnn_cell": ["h'"],
        "lstm_cell": ["h'", "c'"],
        "gru_cell": ["h'"],
        "rnn": ["output", "h_n"],
        "lstm": ["output", "h_n", "c_n"],
        "gru": ["output", "h_n"],
        "scaled_dot_product_attention": ["output"],
        "multi_head_attention": ["attn_output", "attn_weights"],
        "transformer_encoder_layer": ["output"],
    }[oracle]


def draw_weights(
    oracle: str, init: dict[str, Any], scale: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """PyTorch-like initialisation (uniform within 1/sqrt(width)), times ``scale``; layer
    norms near (1, 0) but not at it, so that a forgotten affine transform shows."""
    width = init.get("hidden_size") or init.get("embed_dim") or init.get("d_model") or 1
    k = scale / np.sqrt(width)
    out: dict[str, np.ndarray] = {}
    for name, shape, role in parameters(oracle, init):
        if role == "gamma":
            arr = 1.0 + 0.3 * rng.standard_normal(shape)
        elif role == "beta":
            arr = 0.3 * rng.standard_normal(shape)
        else:
            arr = rng.uniform(-k, k, size=shape)
        out[name] = np.ascontiguousarray(arr, dtype=np.float64)
    return out


# ------------------------------------------------------------------------------ plan


@dataclass
class CaseInfo:
    """What a case was, for the feedback (outside only)."""

    description: Said
    init: dict[str, Any]
    sizes: dict[str, int]


def plan(check: EquivalenceCheck, rng: np.random.Generator) -> CheckPlan:
    dims = {**ORACLE_DIMS[check.oracle], **check.dims}
    calls: list[Call] = []
    infos: list[CaseInfo] = []
    kinds = [None] * check.cases + list(check.edge_cases)
    for case, edge in enumerate(kinds):
        options = {k: _cycled(v, case) for k, v in check.init.items()}
        inputs = {
            k: _cycled(v, case)
            for k, v in {**_default_inputs(check.oracle), **check.inputs}.items()
        }
        sizes = {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in dims.items()}
        if edge == "batch_1":
            sizes["batch"] = 1
        elif edge == "length_1":
            for name in ("length", "q_len", "kv_len"):
                if name in sizes:
                    sizes[name] = 1
        elif edge == "fully_masked_row":
            inputs["mask"] = "padding_causal" if inputs.get("mask") == "causal" else "padding"
            if inputs["mask"] == "none":
                inputs["mask"] = "padding"
        if inputs.get("self_attention"):
            sizes["kv_len"] = sizes["q_len"]
        init = init_kwargs(check.oracle, sizes, options)
        weights = draw_weights(check.oracle, init, check.weight_scale, rng)
        layout, arrays, words = _inputs(check.oracle, init, sizes, inputs, edge, rng)
        meta = {
            "oracle": check.oracle,
            "build": check.build,
            "init": init,
            "weights": list(weights),
            "layout": layout,
            "outputs": output_names(check.oracle),
        }
        steps = [
            Step("build", args=[meta]),
            Step("load_state_dict", kwargs=weights),
            Step("forward", kwargs=arrays, output=True),
        ]
        calls.append(Call(check.module, steps, protocol=PROTOCOL))
        infos.append(CaseInfo(_describe(check.oracle, init, sizes, words, edge), init, sizes))
    return CheckPlan(calls, hidden=infos)


def _cycled(value: Any, case: int) -> Any:
    return value[case % len(value)] if isinstance(value, list) else value


def _default_inputs(oracle: str) -> dict[str, Any]:
    if oracle in CELLS + LAYERS:
        return {"initial_state": [False, True]}
    if oracle == "multi_head_attention":
        return {"mask": list(MASKS), "self_attention": [True, False]}
    return {"mask": list(MASKS)}


def _lengths(batch: int, total: int, minimum: int, rng: np.random.Generator) -> np.ndarray:
    lengths = rng.integers(minimum, total + 1, size=batch)
    lengths[rng.integers(0, batch)] = total  # one full-length sequence in every batch
    return lengths


def _inputs(
    oracle: str,
    init: dict[str, Any],
    sizes: dict[str, int],
    inputs: dict[str, Any],
    edge: str | None,
    rng: np.random.Generator,
) -> tuple[dict[str, Any], dict[str, np.ndarray], list[Said | str]]:
    """(layout, arrays, words): how the forward call is assembled from the named arrays
    (``args``: a name, a list of names for a tuple, or None; ``kwargs``: name or literal),
    the arrays, and words describing the case."""
    n = sizes["batch"]
    words: list[Said | str] = []
    arrays: dict[str, np.ndarray] = {}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    if oracle in CELLS:
        h = init["hidden_size"]
        arrays["input"] = normal(n, init["input_size"])
        args.append("input")
        if inputs["initial_state"]:
            arrays["h0"] = normal(n, h)
            if oracle == "lstm_cell":
                arrays["c0"] = normal(n, h)
                args.append(["h0", "c0"])
            else:
                args.append("h0")
            words.append(say("equivalence.initial_state"))
        else:
            words.append(say("equivalence.no_initial_state"))
    elif oracle in LAYERS:
        h, length = init["hidden_size"], sizes["length"]
        d = 2 if init.get("bidirectional") else 1
        layers = init.get("num_layers", 1)
        x = normal(length, n, init["input_size"])
        arrays["input"] = x.transpose(1, 0, 2).copy() if init.get("batch_first") else x
        args.append("input")
        if inputs["initial_state"]:
            arrays["h0"] = normal(layers * d, n, h)
            if oracle == "lstm":
                arrays["c0"] = normal(layers * d, n, h)
                args.append(["h0", "c0"])
            else:
                args.append("h0")
            words.append(say("equivalence.initial_state"))
        else:
            words.append(say("equivalence.no_initial_state"))
    elif oracle == "scaled_dot_product_attention":
        heads, lq, lk = sizes["heads"], sizes["q_len"], sizes["kv_len"]
        arrays["query"] = normal(n, heads, lq, sizes["embed"])
        arrays["key"] = normal(n, heads, lk, sizes["embed"])
        arrays["value"] = normal(n, heads, lk, sizes["value_embed"])
        args += ["query", "key", "value"]
        mask = inputs["mask"]
        if mask == "causal":
            kwargs["is_causal"] = {"literal": True}
            words.append("is_causal=True")
        elif mask != "none":
            keep = _padding_keep(n, lk, edge, rng, minimum=0)  # (N, S), True: attend
            allowed = np.broadcast_to(keep[:, None, None, :], (n, 1, lq, lk))
            if mask == "padding_causal":
                allowed = allowed & np.tril(np.ones((lq, lk), dtype=bool))
            arrays["attn_mask"] = np.ascontiguousarray(allowed)
            kwargs["attn_mask"] = "attn_mask"
            words.append(
                say("equivalence.bool_mask_causal", lengths=_lengths_text(keep))
                if mask == "padding_causal"
                else say("equivalence.bool_mask", lengths=_lengths_text(keep))
            )
        else:
            words.append(say("equivalence.no_mask"))
    else:
        batch_first = init.get("batch_first", False)
        e = sizes["num_heads"] * sizes["head_dim"]
        lq = sizes["length"] if oracle == "transformer_encoder_layer" else sizes["q_len"]
        lk = lq if oracle == "transformer_encoder_layer" else sizes["kv_len"]

        def seq(length: int) -> np.ndarray:
            x = normal(n, length, e)
            return x if batch_first else x.transpose(1, 0, 2).copy()

        if oracle == "transformer_encoder_layer":
            arrays["src"] = seq(lq)
            args.append("src")
            mask_kw, pad_kw = "src_mask", "src_key_padding_mask"
        else:
            arrays["query"] = seq(lq)
            if inputs.get("self_attention"):
                args += ["query", "query", "query"]
                words.append(say("equivalence.self_attention"))
            else:
                arrays["key"] = seq(lk)
                arrays["value"] = seq(lk)
                args += ["query", "key", "value"]
                words.append(say("equivalence.cross_attention"))
            mask_kw, pad_kw = "attn_mask", "key_padding_mask"
        mask = inputs["mask"]
        if mask in ("causal", "padding_causal"):
            arrays[mask_kw] = np.triu(np.ones((lq, lk), dtype=bool), k=1)  # True: masked out
            kwargs[mask_kw] = mask_kw
            words.append(say("equivalence.causal_mask", name=mask_kw))
        if mask in ("padding", "padding_causal"):
            minimum = 0 if oracle == "multi_head_attention" else 1
            keep = _padding_keep(n, lk, edge, rng, minimum=minimum)
            arrays[pad_kw] = ~keep  # True: padding, ignored
            kwargs[pad_kw] = pad_kw
            words.append(say("equivalence.padding_mask", name=pad_kw, lengths=_lengths_text(keep)))
        if mask == "none":
            words.append(say("equivalence.no_mask"))
    return {"args": args, "kwargs": kwargs}, arrays, words


def _padding_keep(
    n: int, total: int, edge: str | None, rng: np.random.Generator, minimum: int
) -> np.ndarray:
    lengths = _lengths(n, total, minimum, rng)
    if edge == "fully_masked_row":
        lengths[0] = 0  # every key of batch element 0 is padding
    return np.arange(total)[None, :] < lengths[:, None]


def _lengths_text(keep: np.ndarray) -> str:
    return "[" + ", ".join(str(int(k)) for k in keep.sum(axis=1)) + "]"


def _describe(
    oracle: str,
    init: dict[str, Any],
    sizes: dict[str, int],
    words: list[Said | str],
    edge: str | None,
) -> Said:
    parts: list[Said | str] = [say("equivalence.batch", n=sizes["batch"])]
    if "length" in sizes:
        parts.append(say("equivalence.length", n=sizes["length"]))
    if "q_len" in sizes:
        parts.append(say("equivalence.q_len", n=sizes["q_len"]))
    if "kv_len" in sizes and "self-attention" not in words:
        parts.append(say("equivalence.kv_len", n=sizes["kv_len"]))
    for key, value in init.items():
        if key in ("dropout",):
            continue
        if isinstance(value, bool):
            if value != (key == "bias"):
                parts.append(key if value else f"{key}=False")  # not a message: code
        elif key not in ("nonlinearity", "activation") or value not in ("tanh", "relu"):
            parts.append(f"{key}={value}")
    if oracle == "scaled_dot_product_attention":
        parts.append(
            say(
                "equivalence.sdpa_sizes",
                shape=f"{sizes['batch']}x{sizes['heads']}x{sizes['q_len']}x{sizes['embed']}",
                width=sizes["value_embed"],
            )
        )
    parts += words
    if edge == "batch_1":
        parts.append(say("equivalence.edge_batch_1"))
    elif edge == "length_1":
        parts.append(say("equivalence.edge_length_1"))
    elif edge:
        parts.append(say("equivalence.edge_fully_masked_row"))
    return COMMA.join(parts)


# ------------------------------------------------------------------------------ score


def score(
    check: EquivalenceCheck,
    plan_: CheckPlan,
    student: list[CallResult],
    reference: list[CallResult],
) -> Outcome:
    infos: list[CaseInfo] = plan_.hidden
    names = output_names(check.oracle)
    label = MODULE_NAMES[check.oracle] if check.build == MODULE_NAMES[check.oracle] else check.build
    passed = 0
    first: dict[str, Any] | None = None
    failed_outputs: dict[str, int] = {}
    worst: dict[str, float] = {}
    for case, (info, got, want) in enumerate(zip(infos, student, reference, strict=True)):
        if want.status != "ok" or len(want.outputs) != len(names):
            failed = want.error or want.status
            raise ReferenceFailed(f"{check.id} case {case + 1}: {failed}")  # not a message
        problems = case_problems(
            got, want, names, check.rtol, check.atol, info, check.oracle, failed_outputs, worst
        )
        if not problems:
            passed += 1
        elif first is None:
            first = {"case": case + 1, "inputs": info.description, "problem": problems[0]}
    cases = len(infos)
    earned = check.points * passed / cases
    if check.scoring == "all_or_nothing":
        earned = check.points if passed == cases else 0.0
    details: dict[str, Any] = {
        "cases": cases,
        "passed": passed,
        "max_abs_error": {k: float(f"{v:.3g}") for k, v in worst.items()},
    }
    if first is None:
        worst_all = max(worst.values(), default=0.0)
        return Outcome(
            earned,
            check.points,
            say(
                "equivalence.all_match",
                label=label,
                cases=cases,
                module=MODULE_NAMES[check.oracle],
                worst=worst_all,
            ),
            details,
        )
    details["first_failure"] = {k: str(v) if isinstance(v, Said) else v for k, v in first.items()}
    details["failed_outputs"] = failed_outputs
    message = say(
        "equivalence.some_match",
        label=label,
        passed=passed,
        cases=cases,
        module=MODULE_NAMES[check.oracle],
        case=first["case"],
        inputs=first["inputs"],
        problem=first["problem"],
    )
    if failed_outputs:
        counts = COMMA.join(
            say("equivalence.output_cases", name=k, n=v) for k, v in failed_outputs.items()
        )
        message += say("equivalence.outputs_differ", counts=counts)
    message = with_hint(message, check)
    return Outcome(earned, check.points, message, details)


def case_problems(
    got: CallResult,
    want: CallResult,
    names: list[str],
    rtol: float,
    atol: float,
    info: CaseInfo,
    oracle: str,
    failed_outputs: dict[str, int],
    worst: dict[str, float],
) -> list[Said | str]:
    if got.status != "ok":
        return [got.error or say("equivalence.no_result")]
    if len(got.outputs) != len(names):
        return [
            say(
                "equivalence.output_count",
                got=len(got.outputs),
                want=len(names),
                names=", ".join(names),
            )
        ]
    problems: list[Said | str] = []
    for name, g, w in zip(names, got.outputs, want.outputs, strict=True):
        problem, err = compare_named(name, g, w, rtol, atol, info, oracle)
        if err is not None:
            worst[name] = max(worst.get(name, 0.0), err)
        if problem:
            problems.append(problem)
            failed_outputs[name] = failed_outputs.get(name, 0) + 1
    return problems


def compare_named(
    name: str,
    got: np.ndarray,
    want: np.ndarray,
    rtol: float,
    atol: float,
    info: CaseInfo,
    oracle: str,
) -> tuple[Said | None, float | None]:
    """(problem or None, max abs error or None) for one output; NaN and inf never pass."""
    if not isinstance(got, np.ndarray) or got.dtype.kind != "f":
        kind = getattr(getattr(got, "dtype", None), "name", type(got).__name__)
        return say("equivalence.dtype", name=name, kind=kind), None
    if got.shape != want.shape:
        shapes = {"got": str(tuple(got.shape)), "want": str(tuple(want.shape))}
        return say("equivalence.shape", name=name, **shapes), None
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    bad_values = ~np.isfinite(g)
    if bad_values.any():
        where = _where(np.unravel_index(int(np.argmax(bad_values)), g.shape), name, info, oracle)
        return say("equivalence.nonfinite", name=name, n=int(bad_values.sum()), where=where), None
    err = np.abs(g - w)
    ok = err <= atol + rtol * np.abs(w)
    max_err = float(err.max()) if err.size else 0.0
    if bool(ok.all()):
        return None, max_err
    at = np.unravel_index(int(np.argmax(np.where(ok, -1.0, err))), g.shape)
    return (
        say(
            "equivalence.differs",
            name=name,
            err=max_err,
            where=_where(at, name, info, oracle),
            got=g[at],
            want=w[at],
            atol=atol,
            rtol=rtol,
            bad=int((~ok).sum()),
            size=ok.size,
        ),
        max_err,
    )


def _where(index: tuple[Any, ...], name: str, info: CaseInfo, oracle: str) -> Said:
    """An index in words, e.g. 'at time 2, batch 0, unit 3 (backward direction)'."""
    idx = [int(i) for i in index]
    init = info.init
    if oracle in CELLS:
        return say("equivalence.at_cell", b=idx[0], u=idx[1])
    if oracle in LAYERS:
        h = init["hidden_size"]
        d = 2 if init.get("bidirectional") else 1
        if name == "output":
            t, b = (idx[1], idx[0]) if init.get("batch_first") else (idx[0], idx[1])
            direction = Said("", "")
            if d == 2:
                direction = say(
                    "equivalence.backward_feature" if idx[2] >= h else "equivalence.forward_feature"
                )
            return say("equivalence.at_time", t=t, b=b, f=idx[2], direction=direction)
        layer, backward = divmod(idx[0], d)
        which = Said("", "")
        if d == 2:
            which = say("equivalence.backward_layer" if backward else "equivalence.forward_layer")
        return say("equivalence.at_layer", layer=layer, direction=which, b=idx[1], u=idx[2])
    if oracle == "scaled_dot_product_attention":
        return say("equivalence.at_head", b=idx[0], h=idx[1], q=idx[2], f=idx[3])
    if name == "attn_weights":
        return say("equivalence.at_key", b=idx[0], q=idx[1], k=idx[2])
    t, b = (idx[1], idx[0]) if init.get("batch_first") else (idx[0], idx[1])
    return say("equivalence.at_position", b=b, t=t, f=idx[2])


# ------------------------------------------------------------------------------ constraint


def constraint(check: EquivalenceCheck, code_dir: Path) -> Said | None:
    """A forbidden name or import in the student's module or the local modules it imports
    (read as text, never run), or None."""
    names = list(dict.fromkeys(DEFAULT_FORBIDDEN_NAMES[check.oracle] + check.forbidden_names))
    for k, path in enumerate(local_sources(code_dir, check.module)):
        # In the module itself, only what ``build`` depends on counts (a class LSTM wrapping
        # nn.LSTM costs the LSTM checks, not the GRU ones); other files count as a whole.
        problem = scan_source(path, names, check.forbidden_imports, check.build if k == 0 else None)
        if problem:
            return problem
    for module in check.also_scan:
        for path in local_sources(code_dir, module):
            problem = scan_source(path, names, check.forbidden_imports)
            if problem:
                return problem
    return None


def _used_by(tree: ast.Module, build: str) -> set[str] | None:
    """Top-level definitions ``build`` reaches through the names it mentions (transitively);
    None when ``build`` is not a top-level definition (then everything counts)."""
    defs = {
        n.name: n
        for n in tree.body
        if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    }
    if build not in defs:
        return None
    seen, todo = {build}, [build]
    while todo:
        for node in ast.walk(defs[todo.pop()]):
            name = node.id if isinstance(node, ast.Name) else None
            if name in defs and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def local_sources(code_dir: Path, module: str) -> list[Path]:
    """The module's file and, transitively, the submitted files it imports."""
    seen: list[Path] = []
    todo = [module]
    while todo:
        path = code_dir / f"{todo.pop()}.py"
        if path in seen or not path.is_file() or path.is_symlink():
            continue
        seen.append(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                todo += [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.module:
                    todo.append(node.module.split(".")[0])
                else:
                    todo += [a.name for a in node.names]
    return seen


def scan_source(
    path: Path, names: list[str], imports: list[str], build: str | None = None
) -> Said | None:
    """The first use of a forbidden built-in: as an attribute (``nn.LSTM``), an imported
    name (``from torch.nn import LSTM``), a string (``getattr(nn, "LSTM")``) or a star
    import of torch; dotted entries (``torch.lstm``) match that attribute of torch."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return None  # the box reports syntax errors with the student's own traceback
    plain = {n for n in names if "." not in n}
    dotted = {tuple(n.split(".")) for n in names if "." in n}
    # The submission's own modules (``from attention import TransformerEncoderLayer``
    # imports the student's class, not the built-in).
    local = {p.stem for p in path.parent.glob("*.py")}
    torch_aliases, local_aliases = {"torch"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "torch":
                    torch_aliases.add(a.asname or "torch")
                if a.name in local:
                    local_aliases.add(a.asname or a.name)
    used = _used_by(tree, build) if build else None
    nodes: list[ast.AST] = []
    for top in tree.body:
        if (
            used is None
            or not isinstance(top, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            or top.name in used
        ):
            nodes += list(ast.walk(top))
    for node in nodes:
        line = getattr(node, "lineno", "?")
        found = None
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
                for a in node.names:
                    if a.name == "*" and node.module.split(".")[0] == "torch":
                        return say(
                            "equivalence.star_import", file=path.name, line=line, module=node.module
                        )
                    if a.name in plain and node.module.split(".")[0] not in local:
                        found = a.name
                    modules.append(f"{node.module}.{a.name}")  # not a message: a name
            for m in modules:
                if any(m == f or m.startswith(f + ".") for f in imports):
                    return say("equivalence.forbidden_import", file=path.name, line=line, module=m)
        elif isinstance(node, ast.Attribute):
            own = isinstance(node.value, ast.Name) and node.value.id in local_aliases
            if node.attr in plain and not own:
                found = node.attr
            elif (
                isinstance(node.value, ast.Name)
                and node.value.id in torch_aliases
                and ("torch", node.attr) in dotted
            ):
                found = f"torch.{node.attr}"  # not a message: a name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in plain:
            found = node.value
        if found:
            return say("equivalence.forbidden_name", file=path.name, line=line, name=found)
    return None
