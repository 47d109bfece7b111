"""The in-sandbox runner of the ``script`` check kind's training box: the student's whole
training script, run unmodified.

Runs INSIDE the sandbox and has no authority: the script shares this process, so what it
leaves (the checkpoint, the curve it printed) is untrusted data checked outside.

    python script_model_runner.py train   # /job/in/phase.json; data at /data/train_*.npy

phase.json: {"module", "checkpoint", "dataset_class", "train": [start, stop],
"test": [start, stop], "epoch_pattern", "forbidden_imports", "threads", "device"}.

* torchvision's dataset class the course's dataset has (``MNIST``, ``FashionMNIST``)
  works offline at whatever ``root`` the script names, ``download=True`` included: its
  loading is replaced here so that the training split is rows ``train`` of the grader's
  training images and the "test" split is rows ``test`` of them, a labelled slice the
  training split does not contain. The real test split is not in this box: the script's
  own "test accuracy" is a validation accuracy, and means what it says.
* The script runs as ``__main__`` in a writable scratch folder (/tmp/work), so relative
  paths (``./data``, ``checkpoints/dnn.pth``) work; what it prints reaches the box's
  output, and each printed line the epoch pattern matches becomes one line of the live
  training curve (metrics.jsonl).
* When the script ends, the file it saved at ``checkpoint`` is copied to
  /job/rw/out/checkpoint.pth, read outside by a box that runs no student code.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import sys
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T0
from runner_common import (  # noqa: E402
    OUT_DIR,
    StudentImportError,
    announce_start,
    append_metrics,
    phase_main,
    student_traceback,
)
from torch_common import set_threads  # noqa: E402

announce_start()
DATA_DIR = "/data"
WORK = "/tmp/work"
MAX_CURVE_LINES = 1000
# "Epoch: 1/5, Train Loss is: 0.31, Train Accuracy is: 0.91, Test Accuracy is: 0.95" and
# the like: the epoch's number, then any of loss / train accuracy / test accuracy, each
# the first number after its name.
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
DEFAULT_PATTERN = (
    rf"(?i)\bepoch\b\D*?(?P<epoch>\d+)"
    rf"(?=.*?\bloss\b[^\d+-]*?(?P<loss>{NUMBER}))?"
    rf"(?=.*?\btrain(?:ing)?[ _]acc\w*[^\d+-]*?(?P<train_accuracy>{NUMBER}))?"
    rf"(?=.*?\b(?:test|val\w*)[ _]acc\w*[^\d+-]*?(?P<test_accuracy>{NUMBER}))?"
)
CURVE_KEYS = ("epoch", "loss", "train_accuracy", "test_accuracy")


def split(start_stop):
    """Rows [start, stop) of the grader's training images and labels, as torch tensors
    (uint8 images of N x H x W, int64 labels): what torchvision's own loading returns."""
    start, stop = start_stop
    images = np.load(os.path.join(DATA_DIR, "train_images.npy"), mmap_mode="r")[start:stop]
    labels = np.load(os.path.join(DATA_DIR, "train_labels.npy"), mmap_mode="r")[start:stop]
    return (
        torch.from_numpy(np.array(images, dtype=np.uint8)),
        torch.from_numpy(np.array(labels, dtype=np.int64)),
    )


def offline_dataset(phase):
    """torchvision's class for the course's dataset, loading the grader's splits wherever
    the script points it, never downloading (the box has no network anyway)."""
    name = phase.get("dataset_class")
    if not name:
        return
    from torchvision import datasets

    cls = getattr(datasets, name, None)
    if cls is None:
        return
    splits = {True: phase["train"], False: phase["test"]}

    def load(self):
        return split(splits[bool(self.train)])

    cls._load_data = load
    cls._check_exists = lambda self: True
    cls._check_legacy_exist = lambda self: False
    cls.download = lambda self: None


class EpochTee:
    """Standard output, passed on as it is, with the lines the epoch pattern matches made
    into the training curve: one line per epoch, the last the script printed for it (a
    script that prints every hundred steps says "Epoch [2/10], Step [300/600], Loss: ..."
    many times per epoch), written when the next epoch begins or the script ends."""

    def __init__(self, stream, pattern):
        self.stream = stream
        self.pattern = re.compile(pattern or DEFAULT_PATTERN)
        self.pending = ""
        self.held = None
        self.written = 0
        self.last = time.perf_counter()

    def write(self, text):
        self.stream.write(text)
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.line(line)
        if len(self.pending) > 10_000:  # one endless line: not an epoch's
            self.pending = ""
        return len(text)

    def line(self, line):
        match = self.pattern.search(line[:2000])
        if match is None:
            return
        found = {}
        for key, value in match.groupdict().items():
            if key in CURVE_KEYS and value is not None:
                try:
                    number = float(value)
                except ValueError:
                    continue
                if key.endswith("accuracy") and 1 < number <= 100:  # printed as a percentage
                    number /= 100
                found[key] = number
        if "epoch" not in found:
            return
        if self.held is not None and self.held["epoch"] != found["epoch"]:
            self.emit()
        self.held = found

    def emit(self):
        if self.held is None or self.written >= MAX_CURVE_LINES:
            return
        now = time.perf_counter()
        self.held["seconds"] = now - self.last
        self.last = now
        self.written += 1
        append_metrics(self.held)
        self.held = None

    def flush(self):
        self.stream.flush()

    def close(self):
        """The script has ended: its last line and its last epoch."""
        if self.pending:
            self.line(self.pending)
            self.pending = ""
        self.emit()
        self.stream.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ...: the real stream's
        return getattr(self.stream, name)


def train_phase(phase):
    offline_dataset(phase)
    os.makedirs(WORK, exist_ok=True)
    os.chdir(WORK)
    # The course's starter has the folder the checkpoint goes to; a script may assume it.
    os.makedirs(os.path.dirname(os.path.join(WORK, phase["checkpoint"])), exist_ok=True)
    sys.path.insert(0, WORK)
    script = os.path.join("/job/src", phase["module"] + ".py")
    tee = EpochTee(sys.stdout, phase.get("epoch_pattern"))
    sys.stdout = tee
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:  # sys.exit() or exit(0) at the end of a script is fine
        if exc.code not in (None, 0):
            raise
    except SyntaxError as exc:  # said once, like a module that does not import
        raise StudentImportError(phase["module"], student_traceback(exc)) from None
    finally:
        tee.close()
        sys.stdout = tee.stream
    saved = os.path.join(WORK, phase["checkpoint"])
    if os.path.isfile(saved):
        shutil.copyfile(saved, os.path.join(OUT_DIR, "checkpoint.pth"))


def main():
    phase_main({"train": train_phase}, IMPORT_SECONDS, set_threads)


if __name__ == "__main__":
    main()
