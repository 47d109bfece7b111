"""Pieces both in-sandbox runners share (stdlib only; runs inside the sandbox)."""

import importlib.abc
import json
import os
import sys
import traceback

RUNNER_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_ERROR_CHARS = 4000
# Frames that are not the student's: the sandbox venv's site-packages, and the standard
# library (importlib's module loading, which every import error passes through).
LIBRARIES = (
    os.path.join(sys.prefix, "lib") + os.sep,
    os.path.dirname(os.__file__) + os.sep,
)


def announce_start():
    """Before any student code: see STARTED_MARKER in worker/sandbox/base.py."""
    os.write(1, b"\x1e[autograder runner started]\n")


def student_traceback(exc):
    """The traceback without the runners' frames, the import machinery's and the installed
    libraries' (torch's module machinery, numpy internals): the student sees their own
    code, then the error (a SyntaxError's line and caret as Python prints them)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(os.path.abspath(f.filename)) != RUNNER_DIR
        and not os.path.abspath(f.filename).startswith(LIBRARIES)
        and not f.filename.startswith("<frozen ")  # the import machinery
    ]
    text = "".join(traceback.format_list(frames[-8:]))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text[-MAX_ERROR_CHARS:]


class StudentImportError(Exception):
    """The student's module could not be imported; ``text`` is what they need to fix it."""

    def __init__(self, name, text):
        super().__init__(text)
        self.text = f"could not import {name}.py:\n{text}"


def import_student(name):
    """The student's module ``name``; raises StudentImportError with their own traceback."""
    try:
        return importlib.import_module(name)
    except BaseException as exc:  # SyntaxError, SystemExit, a module-level exception, ...
        raise StudentImportError(name, student_traceback(exc)) from None


def append_json_line(path, line):
    """One JSON object per line, each with a single write(): what a box writes before it
    is killed is whole lines, read outside as they come."""
    data = (json.dumps(line) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class ForbiddenImports(importlib.abc.MetaPathFinder):
    """Refuses imports the assignment forbids, with a message naming the module.

    Only a courtesy to honest students (a clear error at once): the forbidden imports are
    also found outside, by reading the source, which this process cannot influence.
    """

    def __init__(self, names):
        self.names = tuple(names)
        self.attempted = []

    def find_spec(self, fullname, path=None, target=None):
        if not any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            return None
        if not _imported_by_student():
            return None  # a library probing what is installed (torch does): not ours to judge
        self.attempted.append(fullname)
        raise ImportError(f"importing {fullname} is not allowed in this assignment")


def _imported_by_student():
    """Whether the code doing this import (the first frame outside importlib) is the student's."""
    frame = sys._getframe(2)
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or "/importlib/" in frame.f_code.co_filename
    ):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename.startswith("/job/src/")


# ------------------------------------------------------------------ phase runners

IN_DIR = "/job/in"
OUT_DIR = "/job/rw/out"


def write_json(name, value):
    with open(os.path.join(OUT_DIR, name), "w") as fh:
        json.dump(value, fh)


def append_metrics(line):
    append_json_line(os.path.join(OUT_DIR, "metrics.jsonl"), line)


def epoch_logger(keys=("loss", "train_accuracy")):
    """The ``log(metrics)`` a student's train() calls once per epoch: each call writes one
    metrics line (epoch number, seconds since the last call, and the numeric ``keys`` it
    finds in ``metrics``), which the grader reads live for progress and the curve."""
    import time

    epoch = [0]
    last = [time.perf_counter()]

    def log(metrics):
        epoch[0] += 1
        line = {"epoch": epoch[0], "seconds": time.perf_counter() - last[0]}
        last[0] = time.perf_counter()
        if isinstance(metrics, dict):
            for key in keys:
                try:
                    line[key] = float(metrics[key])
                except (KeyError, TypeError, ValueError):
                    pass
        append_metrics(line)

    return log


def phase_main(phases, import_seconds, prepare=None):
    """The main of a phase runner: ``phases[argv[1]](phase)`` with the phase of
    /job/in/phase.json, after ``prepare(phase)`` (thread counts) and with the assignment's
    forbidden imports refused; writes result.json (status, the student's traceback,
    timings). Nothing here is trusted outside: the student's code shares this process."""
    import time

    kind = sys.argv[1]
    with open(os.path.join(IN_DIR, "phase.json")) as fh:
        phase = json.load(fh)
    if prepare is not None:
        prepare(phase)
    blocker = ForbiddenImports(phase.get("forbidden_imports", []))
    sys.meta_path.insert(0, blocker)
    sys.path.insert(0, "/job/src")
    sys.argv = ["student"]
    started = time.perf_counter()
    try:
        phases[kind](phase)
        result = {"status": "ok"}
    except StudentImportError as exc:  # said once for the whole run, not once per check
        result = {"status": "error", "error": exc.text, "import_error": True}
    except BaseException as exc:
        result = {"status": "error", "error": student_traceback(exc)}
    result.update(
        import_seconds=import_seconds,
        seconds=time.perf_counter() - started,
        forbidden_attempted=blocker.attempted[:20],
    )
    write_json("result.json", result)
