"""Protocol ``module_forward`` (check kind ``equivalence``), run INSIDE the sandbox.

One call = one case, three steps written by worker/checks/equivalence_check.py::

    build            args[0] = {"oracle", "build", "init", "weights", "layout", "outputs"}
    load_state_dict  kwargs = {parameter name: float64 array}
    forward          kwargs = {input name: array}; layout says how to call forward:
                     args: [name | [name, ...] (a tuple) | None],
                     kwargs: {kw: name | {"literal": v}}

Student box: ``<build>(**init)`` from the student's module, ``.to(torch.float64)``,
``load_state_dict(weights, strict=True)``, ``.eval()``, then ``forward`` under
``torch.no_grad()``; a function (scaled dot-product attention) is called directly.
Oracle box (``--oracle``): the same with the PyTorch built-in; a fully masked query row
is defined to attend to nothing (zero weights, zero attention output).
Every output tensor (nested tuples flattened) is written as ``c<index>_o<k>.npy``.
This file has no authority: student code shares the process; outputs are checked outside.
"""

import importlib
import os

import numpy as np
from runner_common import student_traceback


def _load(step, in_dir):
    values = {}
    for key, spec in step.get("kwargs", {}).items():
        if "npy" in spec:
            values[key] = np.load(os.path.join(in_dir, spec["npy"]), allow_pickle=False)
        else:
            values[key] = spec.get("json")
    return values


def _error(stage, text, reason=None, **values):
    """A failed call: the English, and the reason and values the grader says it from
    (worker/pipeline.py ``runner_error``)."""
    failed = {"status": "error", "stage": stage, "error": text}
    if reason:
        failed.update(reason=reason, values=values)
    return failed


def run(call, oracle, in_dir, out_dir):
    import torch

    steps = {s["function"]: s for s in call["steps"]}
    meta = steps["build"]["args"][0]["json"]
    weights = {k: torch.from_numpy(v) for k, v in _load(steps["load_state_dict"], in_dir).items()}
    arrays = {k: torch.from_numpy(v) for k, v in _load(steps["forward"], in_dir).items()}
    layout = meta["layout"]

    def value(item):
        if item is None:
            return None
        if isinstance(item, list):
            return tuple(arrays[name] for name in item)
        if isinstance(item, dict):
            return item["literal"]
        return arrays[item]

    args = [value(a) for a in layout["args"]]
    kwargs = {k: value(v) for k, v in layout["kwargs"].items()}
    name = meta["build"]
    if oracle:
        fn = _oracle(meta, weights, torch)
    else:
        try:
            module = importlib.import_module(call["module"])
        except BaseException as exc:
            trace = student_traceback(exc)
            return _error(
                "import",
                f"could not import {call['module']}.py:\n{trace}",
                "import",
                module=call["module"],
                traceback=trace,
            )
        target = getattr(module, name, None)
        if not callable(target):
            return _error(
                "lookup",
                f"{call['module']}.py has no class or function {name}",
                "no-callable",
                module=call["module"],
                function=name,
            )
        if meta["oracle"] == "scaled_dot_product_attention":
            fn = target
        else:
            try:
                fn = target(**meta["init"])
            except BaseException as exc:
                built = f"{name}(**{meta['init']!r})"
                trace = student_traceback(exc)
                return _error(
                    "build",
                    f"{built} raised an exception:\n{trace}",
                    "build-raised",
                    call=built,
                    traceback=trace,
                )
            problem = _prepare(fn, name, weights, torch)
            if problem:
                return problem
    try:
        with torch.no_grad():
            result = fn(*args, **kwargs)
    except BaseException as exc:
        trace = student_traceback(exc)
        return _error(
            "forward",
            f"{name} forward raised an exception:\n{trace}",
            "forward-raised",
            function=name,
            traceback=trace,
        )
    try:
        outputs = _flatten(result, torch)
    except TypeError as exc:
        return _error(
            "forward",
            f"{name} forward {exc.args[0]}",
            "forward-type",
            function=name,
            type=exc.args[-1],
        )
    if oracle:
        outputs = _define_fully_masked(meta, arrays, weights, outputs, torch)
    for k, arr in enumerate(outputs[:16]):
        np.save(os.path.join(out_dir, f"c{call['index']}_o{k}.npy"), arr, allow_pickle=False)
    return {"status": "ok"}


def _prepare(model, name, weights, torch):
    if not isinstance(model, torch.nn.Module):
        return _error(
            "build",
            f"{name}(...) returned {type(model).__name__}, not an nn.Module",
            "not-module",
            function=name,
            type=type(model).__name__,
        )
    try:
        model.to(torch.float64)
        model.load_state_dict(weights, strict=True)
    except BaseException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        expected = ", ".join(f"{k} {tuple(v.shape)}" for k, v in weights.items())
        return _error(
            "load_state_dict",
            f"the grader's weights do not load into {name} (strict=True): {first}\n{exc}\n"
            f"Expected parameters (PyTorch's names and shapes): {expected}",
            "weights-mismatch",
            function=name,
            problem=f"{first}\n{exc}",
            expected=expected,
        )
    model.eval()
    return None


def _flatten(result, torch):
    items = []
    stack = [result]
    while stack:
        item = stack.pop(0)
        if isinstance(item, tuple | list):
            stack = list(item) + stack
        elif isinstance(item, torch.Tensor):
            items.append(np.ascontiguousarray(item.detach().cpu().numpy()))
        elif item is None:
            raise TypeError("returned None where a tensor was expected", "None")
        else:
            kind = type(item).__name__
            raise TypeError(f"returned {kind}; expected tensors (or tuples of them)", kind)
    return items


# ------------------------------------------------------------------------------ the oracle


def _oracle(meta, weights, torch):
    """The PyTorch built-in with the grader's weights, in float64, eval mode."""
    oracle, init = meta["oracle"], meta["init"]
    nn = torch.nn
    if oracle == "scaled_dot_product_attention":
        return torch.nn.functional.scaled_dot_product_attention
    torch.backends.mha.set_fastpath_enabled(False)  # the plain, documented computation
    build = {
        "rnn_cell": nn.RNNCell,
        "lstm_cell": nn.LSTMCell,
        "gru_cell": nn.GRUCell,
        "rnn": nn.RNN,
        "lstm": nn.LSTM,
        "gru": nn.GRU,
        "multi_head_attention": nn.MultiheadAttention,
        "transformer_encoder_layer": nn.TransformerEncoderLayer,
    }[oracle]
    model = build(**init).to(torch.float64)
    model.load_state_dict(weights, strict=True)
    return model.eval()


def _define_fully_masked(meta, arrays, weights, outputs, torch):
    """A query row whose keys are all masked attends to nothing: zero weights and a zero
    attention output (multi-head: out_proj.bias after the output projection)."""
    oracle = meta["oracle"]
    if oracle == "scaled_dot_product_attention" and "attn_mask" in arrays:
        dead = ~arrays["attn_mask"].numpy().any(axis=-1)  # (N, 1, L)
        out = outputs[0].copy()
        out[np.broadcast_to(dead, out.shape[:-1])] = 0.0
        return [out]
    if oracle != "multi_head_attention":
        return outputs
    lq = arrays["query"].shape[1 if meta["init"].get("batch_first") else 0]
    n = arrays["query"].shape[0 if meta["init"].get("batch_first") else 1]
    blocked = np.zeros((n, lq, 1), dtype=bool)
    if "key_padding_mask" in arrays:
        blocked = blocked | arrays["key_padding_mask"].numpy()[:, None, :]
    if "attn_mask" in arrays:
        blocked = blocked | arrays["attn_mask"].numpy()[None, :, :]
    dead = blocked.all(axis=-1)  # (N, L)
    if not dead.any():
        return outputs
    out, attn = outputs[0].copy(), outputs[1].copy()
    bias = weights["out_proj.bias"].numpy()
    if meta["init"].get("batch_first"):
        out[dead] = bias
    else:
        out[dead.T] = bias
    attn[dead] = 0.0
    return [out, attn]
