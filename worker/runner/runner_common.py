"""Pieces both in-sandbox runners share (stdlib only; runs inside the sandbox)."""

import json
import os
import traceback

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_ERROR_CHARS = 4000


def announce_start():
    """Before any student code: see STARTED_MARKER in worker/sandbox/base.py."""
    os.write(1, b"\x1e[autograder runner started]\n")


def student_traceback(exc):
    """The traceback without the runners' own frames: the student sees their code only."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(os.path.abspath(f.filename)) != RUNNER_DIR
    ]
    text = "".join(traceback.format_list(frames[-8:]))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text[-MAX_ERROR_CHARS:]


def append_json_line(path, line):
    """One JSON object per line, each with a single write(): what a box writes before it
    is killed is whole lines, read outside as they come."""
    data = (json.dumps(line) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
