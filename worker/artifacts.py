"""Reading what a sandbox wrote or a student uploaded: untrusted bytes, parsed defensively
and size-capped.

Every reader here returns a value or raises ``MalformedArtifact`` (a ValueError) with a
message for the student, whatever the bytes: deep nesting, numbers too large for a
float or an int, headers that promise more data than the file holds, wrong types. A
malformed artifact is the student's failure, said at once; it must never surface as an
exception of ours, which would be retried as our fault (DESIGN.md rule 9).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

# What a training phase may log per epoch (the runners' epoch_logger keys, the generative
# runner's included): anything else in a line is dropped.
METRIC_KEYS = (
    "epoch",
    "loss",
    "train_accuracy",
    "test_accuracy",
    "seconds",
    "d_loss",
    "g_loss",
    "recon_loss",
    "l1",
)
MAX_HEADER_BYTES = 16 * 1024 * 1024  # a safetensors header larger than this is refused
SAFETENSORS_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
MAX_DIM = 1 << 40


class MalformedArtifact(ValueError):
    """Student-made data that cannot be read; the message says what is wrong with it."""


def parse_json(raw: bytes | str) -> Any:
    """JSON from untrusted bytes; MalformedArtifact for anything that is not (deeply
    nested input raises RecursionError in the standard parser, not ValueError)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise MalformedArtifact(f"not valid JSON ({type(exc).__name__})") from None


def json_lines(raw: bytes, max_lines: int = 100_000) -> list[dict[str, Any]]:
    """The JSON objects of ``raw``, one per line; anything else is skipped."""
    lines = []
    for text in raw.decode("utf-8", errors="replace").splitlines()[:max_lines]:
        try:
            value = parse_json(text)
        except MalformedArtifact:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def load_npy(path: Path, max_bytes: int = 1 << 30) -> np.ndarray:
    """An untrusted .npy file: no pickle, and its header checked against the file's real
    size before any memory is taken for the data (a header may claim 2**40 elements)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise MalformedArtifact(f"{size:,} bytes, more than the {max_bytes:,} allowed")
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise MalformedArtifact(f"unknown .npy version {version}")
            if dtype.hasobject:
                raise MalformedArtifact("holds Python objects, not numbers")
            count = math.prod(int(d) for d in shape)
            if count * dtype.itemsize != size - fh.tell():
                raise MalformedArtifact("its header does not match the data that follows")
            arr: np.ndarray = np.load(path, allow_pickle=False)
            return arr
    except MalformedArtifact:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:  # anything numpy raises on hostile bytes
        raise MalformedArtifact(f"not a readable .npy array ({type(exc).__name__})") from None


def safetensors_summary(path: Path) -> dict[str, int]:
    """Parameter count and size from a safetensors header, parsed here without torch.
    Every field is checked for type and range: MalformedArtifact says what is wrong."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise MalformedArtifact("not a safetensors file (shorter than 8 bytes)")
            (length,) = struct.unpack("<Q", raw)
            if length > min(MAX_HEADER_BYTES, size - 8):
                raise MalformedArtifact("its header is longer than the file or 16 MB")
            header = parse_json(fh.read(length))
    except OSError as exc:
        raise MalformedArtifact(f"cannot be read ({exc.strerror})") from None
    if not isinstance(header, dict):
        raise MalformedArtifact("its header is not a JSON object")
    params = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        params += _tensor_count(str(name)[:80], info, size - 8 - length)
    return {"params": params, "bytes": size}


def _tensor_count(name: str, info: Any, data_bytes: int) -> int:
    if not isinstance(info, dict):
        raise MalformedArtifact(f"tensor {name!r}: its entry is not an object")
    shape, dtype, offsets = info.get("shape"), info.get("dtype"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(_is_int(d, MAX_DIM) for d in shape):
        raise MalformedArtifact(f"tensor {name!r}: its shape is not a list of sizes")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_BYTES:
        raise MalformedArtifact(f"tensor {name!r}: unknown dtype {str(dtype)[:20]!r}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(_is_int(o, data_bytes) for o in offsets)
    ):
        raise MalformedArtifact(f"tensor {name!r}: bad data_offsets")
    start, end = offsets
    count = math.prod(shape)
    if not start <= end or end - start != count * SAFETENSORS_BYTES[dtype]:
        raise MalformedArtifact(f"tensor {name!r} has an inconsistent size")
    return count


def _is_int(value: Any, top: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= top


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
