"""Pieces the torch phase runners share (runs inside the sandbox, after torch is imported)."""

import torch
from runner_common import import_student


def set_threads(phase):
    torch.set_num_threads(int(phase.get("threads", 1)))


def device_for(phase):
    """The device the grader assigned: "cuda" only inside a box given a GPU."""
    if phase.get("device") == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("this job was given a GPU but CUDA is not available in the sandbox")
        return torch.device("cuda", 0)
    return torch.device("cpu")


def build(phase, *args):
    """The student's module and ``phase["model"](*args)`` (then the phase's own
    ``model_args`` and ``model_kwargs``: a script's model class with its sizes), which
    must be an nn.Module."""
    module = import_student(phase["module"])
    factory = getattr(module, phase["model"], None)
    if not callable(factory):
        raise LookupError(f"{phase['module']}.py has no function {phase['model']}()")
    args = (*args, *phase.get("model_args", []))
    model = factory(*args, **phase.get("model_kwargs", {}))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{phase['model']}() returned {type(model).__name__}, not an nn.Module")
    return module, model
