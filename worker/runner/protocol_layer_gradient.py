"""Protocol ``layer_gradient`` (runs INSIDE the sandbox): a hand-written layer's forward
and backward pass through the interface the assignment documents.

Student box::

    layer = Layer(**init)                       # e.g. Linear(in_features=5, out_features=3)
    layer.params[name] = <array from the grader>   # every parameter, overwritten
    style "layer": out = layer.forward(x);    dx = layer.backward(dout)
    style "loss":  out = layer.forward(x, y); dx = layer.backward()
    style "net":   out = layer.loss(x, y)     (no dx)
    then layer.grads[name] for every parameter

and writes out, dx, the gradients (``c<index>_o<k>.npy``, in that order). A quantity the
student's code could not give is written as an empty boolean array and explained in the
result's ``error`` (a JSON object {quantity: why}) so the others still earn credit.

Oracle box (``--oracle``): the same quantities with torch in float64, by autograd, then
every gradient again by central finite differences: at every coordinate, or for a large
(timed) case (the config's ``fd_along_gradient``) only in the direction of the gradient
autograd found, written as a 1-element array (it must be the gradient's norm).

Autograd libraries (the config's ``forbidden``) are refused when the student imports them.
No authority: everything written here is checked again outside.
"""

import importlib
import json
import os
import sys

import numpy as np
from runner_common import ForbiddenImports, student_traceback

MISSING = np.zeros(0, dtype=bool)
FD_STEP = 1e-5
MAX_NOTE = 2500


def _load(spec, in_dir):
    if "npy" in spec:
        return np.load(os.path.join(in_dir, spec["npy"]), allow_pickle=False)
    return spec["json"]


def run(call, oracle, in_dir, out_dir):
    step = call["steps"][0]
    kw = {k: _load(v, in_dir) for k, v in step["kwargs"].items()}
    cfg = kw["config"]
    params = {name: kw[f"p_{name}"] for name in cfg["params"]}
    if oracle:
        arrays, notes = oracle_outputs(cfg, kw["x"], kw.get("y"), kw.get("dout"), params), {}
    else:
        found = student_outputs(call["module"], step["function"], cfg, kw, params)
        if isinstance(found, dict):
            return {"status": "error", **found}
        arrays, notes = found
    for k, arr in enumerate(arrays):
        path = os.path.join(out_dir, f"c{call['index']}_o{k}.npy")
        np.save(path, MISSING if arr is None else arr, allow_pickle=False)
    return {"status": "ok", "error": json.dumps(notes) if notes else ""}


# ------------------------------------------------------------------------------ student


def _block(names):
    """The forbidden imports of this call's check (one blocker per box, its list updated)."""
    for finder in sys.meta_path:
        if isinstance(finder, ForbiddenImports):
            finder.names = tuple(names)
            return
    sys.meta_path.insert(0, ForbiddenImports(names))


def _note(text, reason, **values):
    """Why a quantity is missing: the reason and values the grader says it from in each
    language (worker/checks/gradient_check.py ``note_said``); ``text`` (the English) is
    not sent: the notes together must fit the result line the grader reads."""
    del text  # said outside, from the reason
    capped = {k: str(v)[-MAX_NOTE:] for k, v in values.items()}
    return {"reason": reason, "values": capped}


def _as_array(value, what, source):
    """A returned value as a numeric array, or a note saying why it is not one; ``source``:
    where it came from, {"method": forward|backward} or {"grad": name}, for the grader."""
    if isinstance(value, np.ndarray | np.generic | float | int):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            return np.ascontiguousarray(arr), None
        text = f"{what} is an array of dtype {arr.dtype}, expected numbers"
        return None, _note(text, "dtype", dtype=str(arr.dtype), **source)
    kind = type(value).__name__
    return None, _note(f"{what} is a {kind}, expected a numpy array", "type", type=kind, **source)


def _error(what, exc):
    return f"{what} raised an exception:\n{student_traceback(exc)}"[-MAX_NOTE:]


def _failed(english, reason, **values):
    """The student's layer could not be used at all: the English, and the reason and
    values the grader says it from (worker/pipeline.py ``runner_error``)."""
    return {"error": english, "reason": reason, "values": values}


def student_outputs(module_name, layer_name, cfg, kw, params):
    _block(cfg.get("forbidden", []))
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:
        trace = student_traceback(exc)
        return _failed(
            f"could not import {module_name}.py:\n{trace}",
            "import",
            module=module_name,
            traceback=trace,
        )
    cls = getattr(module, layer_name, None)
    if not callable(cls):
        return _failed(
            f"{module_name}.py has no class {layer_name}",
            "no-class",
            module=module_name,
            function=layer_name,
        )
    init = cfg["init"]
    shown = f"{layer_name}({', '.join(f'{k}={v!r}' for k, v in init.items())})"
    try:
        layer = cls(**init)
    except BaseException as exc:
        return _failed(
            _error(shown, exc), "build-raised", call=shown, traceback=student_traceback(exc)
        )
    if params:
        own = getattr(layer, "params", None)
        if not isinstance(own, dict):
            return _failed(
                f"{shown}.params is not a dict of numpy arrays", "params-not-dict", call=shown
            )
        for name, value in params.items():
            if name not in own:
                keys = sorted(map(str, own))
                return _failed(
                    f"{shown}.params has no key {name!r} (keys: {keys})",
                    "params-no-key",
                    call=shown,
                    key=repr(name),
                    keys=str(keys),
                )
            have = np.shape(own[name])
            if tuple(have) != value.shape:
                return _failed(
                    f"{shown}.params[{name!r}] has shape {tuple(have)}, expected {value.shape}",
                    "params-shape",
                    call=shown,
                    key=repr(name),
                    got=str(tuple(have)),
                    want=str(value.shape),
                )
            own[name] = value.copy()
    x = kw["x"].copy()
    style = cfg["style"]
    keys = ["out"] + (["dx"] if style != "net" else []) + list(params)
    arrays = dict.fromkeys(keys)
    notes = {}
    try:
        if style == "layer":
            out = layer.forward(x)
        elif style == "loss":
            out = layer.forward(x, kw["y"].copy())
        else:
            out = layer.loss(x, kw["y"].copy())
    except BaseException as exc:
        where = "loss" if style == "net" else "forward"
        shown_call = f"{layer_name}.{where}"
        return _failed(
            _error(shown_call, exc),
            "build-raised",
            call=shown_call,
            traceback=student_traceback(exc),
        )
    arrays["out"], note = _as_array(
        out, f"the value {layer_name}.forward returned", {"layer": layer_name, "method": "forward"}
    )
    if note:
        notes["out"] = note
    if style != "net":
        try:
            dx = layer.backward(kw["dout"].copy()) if style == "layer" else layer.backward()
        except BaseException as exc:
            shown = f"{layer_name}.backward"
            trace = student_traceback(exc)
            notes[keys[1]] = _note(_error(shown, exc), "raised", call=shown, traceback=trace)
            for key in keys[2:]:
                text = f"not computed: {layer_name}.backward raised an exception"
                notes[key] = _note(text, "not-computed", layer=layer_name)
            return [arrays[k] for k in keys], notes
        arrays["dx"], note = _as_array(
            dx,
            f"the value {layer_name}.backward returned",
            {"layer": layer_name, "method": "backward"},
        )
        if note:
            notes["dx"] = note
    grads = getattr(layer, "grads", None)
    for name in params:
        if not isinstance(grads, dict) or name not in grads:
            text = f"{layer_name}.grads has no key {name!r}"
            notes[name] = _note(text, "no-grad", layer=layer_name, key=repr(name))
            continue
        arrays[name], note = _as_array(
            grads[name], f"{layer_name}.grads[{name!r}]", {"layer": layer_name, "grad": repr(name)}
        )
        if note:
            notes[name] = note
    return [arrays[k] for k in keys], notes


# ------------------------------------------------------------------------------ oracle


def _functions(torch):
    F = torch.nn.functional

    def two_layer(x, y, p):
        hidden = torch.relu(x @ p["W1"] + p["b1"])
        return F.cross_entropy(hidden @ p["W2"] + p["b2"], y)

    return {
        "linear": lambda x, y, p: x @ p["W"] + p["b"],
        "relu": lambda x, y, p: torch.relu(x),
        "sigmoid": lambda x, y, p: torch.sigmoid(x),
        "tanh": lambda x, y, p: torch.tanh(x),
        "softmax_cross_entropy": lambda x, y, p: F.cross_entropy(x, y),
        "two_layer_net": two_layer,
    }


def oracle_outputs(cfg, x, y, dout, params):
    import torch

    torch.set_num_threads(1)
    f = _functions(torch)[cfg["oracle"]]
    style = cfg["style"]
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=style != "net")
    yt = None if y is None else torch.tensor(y, dtype=torch.int64)
    pt = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    dt = None if dout is None else torch.tensor(dout, dtype=torch.float64)

    def scalar(x_, p_):
        out = f(x_, yt, p_)
        return out, ((out * dt).sum() if style == "layer" else out)

    out, s = scalar(xt, pt)
    s.backward()
    wrt = ([("x", xt)] if style != "net" else []) + list(pt.items())
    auto = [t.grad.detach().numpy().copy() for _, t in wrt]

    along = cfg.get("fd_along_gradient")
    with torch.no_grad():
        base_x = xt.detach().clone()
        base_p = {k: v.detach().clone() for k, v in pt.items()}
        tensors = [(name, base_x if name == "x" else base_p[name]) for name, _ in wrt]
        if along is not None:
            fd = [
                _along(scalar, base_x, base_p, t, g, name, along)
                for (name, t), g in zip(tensors, auto, strict=True)
            ]
        else:
            fd = [_every_coordinate(scalar, base_x, base_p, t) for _, t in tensors]
    return [out.detach().numpy().copy()] + auto + fd


def _every_coordinate(scalar, base_x, base_p, target):
    """Central finite differences at every coordinate of ``target`` (changed in place)."""
    flat = target.view(-1)
    grad = np.zeros(flat.numel())
    for i in range(flat.numel()):
        orig = float(flat[i])
        h = FD_STEP * max(1.0, abs(orig))
        flat[i] = orig + h
        plus = float(scalar(base_x, base_p)[1])
        flat[i] = orig - h
        minus = float(scalar(base_x, base_p)[1])
        flat[i] = orig
        grad[i] = (plus - minus) / (2 * h)
    return grad.reshape(tuple(target.shape))


def _along(scalar, base_x, base_p, target, grad, name, along):
    """A large case: the central difference in the direction of autograd's own gradient,
    v = g/|g| (for a network's W1 and b1 without the hidden units near the ReLU kink), as
    a 1-element array; it must equal |g| there."""
    import torch

    v = torch.tensor(grad, dtype=torch.float64)
    if name in ("W1", "b1") and along.get("kink_units"):
        v[..., along["kink_units"]] = 0.0
    norm = float(torch.linalg.vector_norm(v))
    if norm == 0.0:
        return np.zeros(1)
    v /= norm
    orig = target.clone()
    h = FD_STEP * max(1.0, float(torch.sqrt((orig**2).mean())))
    target.copy_(orig + h * v)
    plus = float(scalar(base_x, base_p)[1])
    target.copy_(orig - h * v)
    minus = float(scalar(base_x, base_p)[1])
    target.copy_(orig)
    return np.array([(plus - minus) / (2 * h)])
