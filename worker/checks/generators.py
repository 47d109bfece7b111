"""Inputs for checks, drawn outside the sandbox from the job's secret seed."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograder.specs.schema import Arg, ArrayGen, Dim


def draw_dims(dims: dict[str, tuple[int, int]], rng: np.random.Generator) -> dict[str, int]:
    return {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in dims.items()}


def _size(dim: Dim, dims: dict[str, int], rng: np.random.Generator) -> int:
    if isinstance(dim, int):
        return dim
    if isinstance(dim, str):
        if dim not in dims:
            raise KeyError(
                f"shape names dimension {dim!r}, "  # not a message: a spec error, for staff
                "which is not among the check's dims"
            )
        return dims[dim]
    lo, hi = dim
    return int(rng.integers(lo, hi + 1))


def draw_array(gen: ArrayGen, dims: dict[str, int], rng: np.random.Generator) -> np.ndarray:
    shape = tuple(_size(d, dims, rng) for d in gen.shape)
    arr: np.ndarray
    if gen.dist == "normal":
        arr = rng.normal(gen.mean, gen.std, size=shape)
    elif gen.dist == "uniform":
        arr = rng.uniform(gen.low, gen.high, size=shape)
    else:
        arr = rng.integers(int(gen.low), int(gen.high), size=shape)
    return np.asarray(arr).astype(gen.dtype)


def draw_arg(arg: Arg, dims: dict[str, int], rng: np.random.Generator) -> Any:
    """A numpy array, or a JSON-able Python value."""
    if arg.array is not None:
        return draw_array(arg.array, dims, rng)
    if arg.int_ is not None:
        return int(rng.integers(arg.int_.low, arg.int_.high + 1))
    if arg.float_ is not None:
        return float(rng.uniform(arg.float_.low, arg.float_.high))
    if arg.choice is not None:
        return arg.choice[int(rng.integers(0, len(arg.choice)))]
    return arg.value
