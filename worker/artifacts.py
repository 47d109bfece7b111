"""Reading what a sandbox wrote: untrusted bytes, parsed defensively and size-capped."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

METRIC_KEYS = ("epoch", "loss", "train_accuracy", "seconds")


def json_lines(raw: bytes, max_lines: int = 100_000) -> list[dict[str, Any]]:
    """The JSON objects of ``raw``, one per line; anything else is skipped."""
    lines = []
    for text in raw.decode("utf-8", errors="replace").splitlines()[:max_lines]:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def read_capped(path: Path | None, cap: int) -> bytes:
    """At most ``cap`` bytes of a file copied out of a box (nothing when it is absent)."""
    if path is None:
        return b""
    try:
        with open(path, "rb") as fh:
            return fh.read(cap)
    except OSError:
        return b""


def metrics(line: dict[str, Any]) -> dict[str, float]:
    """The finite numeric training metrics of one logged epoch."""
    return {
        k: float(v)
        for k, v in line.items()
        if k in METRIC_KEYS and isinstance(v, int | float) and math.isfinite(v)
    }
