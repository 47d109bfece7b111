"""Untrusted artifacts read outside the sandbox: whatever the bytes, a reader returns a
value or raises MalformedArtifact with a message for the student, never another
exception (which the worker would treat as its own fault and retry: DESIGN.md rule 9).
These are the shapes students used: a shape of 1e400 in a safetensors header (it raised
OverflowError in the worker, retried three times as ours), headers that promise more
data than the file holds, deep nesting, wrong types."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from autograder.grading.said import Said
from worker.artifacts import (
    MalformedArtifact,
    json_lines,
    load_npy,
    parse_json,
    safetensors_summary,
)
from worker.checks.phases import load_array, result_json


def _safetensors(tmp_path, header, data: bytes = b"\0" * 16, raw_header: bytes | None = None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


GOOD = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}


def test_a_good_header_counts(tmp_path):
    assert safetensors_summary(_safetensors(tmp_path, GOOD))["params"] == 4


@pytest.mark.parametrize(
    "header",
    [
        {"w": {"dtype": "F32", "shape": [1e400], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": [float("nan")], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": ["2", 2], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": 4, "data_offsets": [0, 16]}},
        {"w": {"dtype": ["F32"], "shape": [2, 2], "data_offsets": [0, 16]}},
        {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1e400]}},
        {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}},
        {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 10**9]}},
        {"w": {"dtype": "F32", "shape": [2, 2]}},
        {"w": [1, 2, 3]},
        {"w": None},
        [1, 2, 3],
        "header",
    ],
)
def test_hostile_headers_are_the_students_problem(tmp_path, header):
    with pytest.raises(MalformedArtifact):
        safetensors_summary(_safetensors(tmp_path, header))


@pytest.mark.parametrize(
    "raw",
    [b"[" * 200_000 + b"]" * 200_000, b"{" * 100_000, b"\xff\xfe", b"", b'{"w": 1e99999}x'],
)
def test_hostile_header_bytes(tmp_path, raw):
    with pytest.raises(MalformedArtifact):
        safetensors_summary(_safetensors(tmp_path, None, raw_header=raw))


def test_a_header_longer_than_the_file(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(MalformedArtifact):
        safetensors_summary(path)
    path.write_bytes(b"abc")
    with pytest.raises(MalformedArtifact):
        safetensors_summary(path)


def test_deeply_nested_json_is_malformed_not_a_crash():
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(MalformedArtifact):
        parse_json(deep)
    assert json_lines((deep + "\n" + '{"epoch": 1}\n').encode()) == [{"epoch": 1}]


def test_result_json_of_hostile_bytes(tmp_path):
    path = tmp_path / "result.json"
    for raw in (b"[" * 100_000, b"\x00\xff", b"1e400", b'"ok"'):
        path.write_bytes(raw)
        assert result_json(path) == {}


def _npy_with_header(tmp_path, shape, dtype="<f4", data=b"\0" * 16):
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data)
    return path


def test_npy_that_claims_more_than_it_holds(tmp_path):
    """A header claiming 2**40 elements must not make the worker allocate them."""
    with pytest.raises(MalformedArtifact, match="does not match"):
        load_npy(_npy_with_header(tmp_path, (2**40,)))
    with pytest.raises(MalformedArtifact):
        load_npy(_npy_with_header(tmp_path, (2**62, 2**62)))
    assert load_npy(_npy_with_header(tmp_path, (4,))).shape == (4,)


def test_npy_with_objects_or_garbage(tmp_path):
    path = tmp_path / "o.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MalformedArtifact, match="objects"):
        load_npy(path)
    path.write_bytes(b"\x93NUMPY\x09\x00garbage")
    with pytest.raises(MalformedArtifact):
        load_npy(path)
    path.write_bytes(b"")
    with pytest.raises(MalformedArtifact):
        load_npy(path)


def test_load_array_words_for_the_student(tmp_path):
    said = load_array(
        _npy_with_header(tmp_path, (2**40,)), kinds="f", shape=(None,), what="predictions"
    )
    assert isinstance(said, Said) and said.startswith("predictions: not a readable")
