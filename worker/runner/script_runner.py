"""The in-sandbox runner of the ``output`` check kind: a whole script, run unmodified.

Runs INSIDE the sandbox and has no authority: the script shares this process, so what it
leaves is untrusted data read outside.

    python script_runner.py run   # /job/in/phase.json: {"module", "env", "forbidden_imports"}

The script (/job/src/<module>.py) runs as ``__main__`` with the phase's environment
variables set, in a writable scratch folder (/tmp/work: a script may save files next to
it), its standard output written to /job/rw/out/stdout.txt (what is compared outside) and
its standard error left on the box's pipe (what the student sees as the run's output).
"""

from __future__ import annotations

import os
import runpy
import sys

from runner_common import OUT_DIR, StudentImportError, announce_start, phase_main

announce_start()
WORK = "/tmp/work"


def run(phase):
    for name, value in phase.get("env", {}).items():
        os.environ[str(name)] = str(value)
    os.makedirs(WORK, exist_ok=True)
    os.chdir(WORK)
    script = os.path.join("/job/src", phase["module"] + ".py")
    sys.stdout.flush()
    fd = os.open(os.path.join(OUT_DIR, "stdout.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    saved = os.dup(1)
    os.dup2(fd, 1)  # print() keeps writing to fd 1: now the file
    os.close(fd)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:  # sys.exit() or exit(0) at the end of a script is fine
        if exc.code not in (None, 0):
            raise
    except SyntaxError as exc:  # said once, like a module that does not import
        from runner_common import student_traceback

        raise StudentImportError(phase["module"], student_traceback(exc)) from None
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


phase_main({"run": run}, 0.0)
