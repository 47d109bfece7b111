"""Writes tests/hostile_corpus/<case>/ (files + expected.json) for every case below.

The folders are the corpus (committed); rerun this after changing a case:
    .venv/bin/python tests/hostile_corpus/make_corpus.py
"""

import json
import pickle
import shutil
import struct
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FIXTURES = ROOT.parent / "fixtures"
GOOD = (FIXTURES / "reference" / "mini" / "mini.py").read_text()
TINY = (FIXTURES / "reference" / "mini-mnist" / "tiny.py").read_text()
CASES = {}


def case(name, category, what, files=None, **expected):
    CASES[name] = (category, what, files or {}, expected)


def code(src):
    return {"mini.py": textwrap.dedent(src)}


def good_plus(src):
    return {"mini.py": GOOD + textwrap.dedent(src)}


def wrong_add(ret):
    return {"mini.py": GOOD.replace("return a + b", ret)}


CANARY_HUNT = """
import os
def _hunt():
    found = []
    for path in ["/root/ag-corpus-canary.txt", "/etc/shadow", "/proc/1/environ",
                 "/proc/self/environ"]:
        try:
            found.append((path, open(path, errors="replace").read()[:300]))
        except Exception as exc:
            found.append((path, "blocked " + type(exc).__name__))
    print("HUNT", found)
    print("ENV", dict(os.environ))
_hunt()
"""

# ---------------------------------------------------------------- cheating the grader
case(
    "cheat-read-hidden-files",
    "cheating",
    "reads the reference solution, hidden labels, "
    "the service home and host canary files by guessed paths",
    good_plus(
        CANARY_HUNT
        + """
import glob
for pattern in ["/work/**/reference*/**/*.py", "/tmp/ag-*/**/*", "/root/*", "/home/*/*",
                "/job/**/*", "/data/*"]:
    for p in glob.glob(pattern, recursive=True)[:50]:
        try:
            print("READ", p, open(p, errors="replace").read()[:100])
        except Exception as exc:
            print("READ", p, "blocked", type(exc).__name__)
"""
    ),
    state="graded",
    score=[8, 8],
    message="blocked",
)
case(
    "cheat-walk-gc-for-expected",
    "cheating",
    "walks gc objects for arrays of the right "
    "shape (the reference's outputs are never in this process)",
    {
        "mini.py": GOOD.replace(
            "def add(a, b):\n    return a + b",
            textwrap.dedent("""
def add(a, b):
    import gc
    import numpy as np
    for obj in gc.get_objects():
        if isinstance(obj, np.ndarray) and obj.shape == a.shape and obj is not a and obj is not b:
            return obj
    return a * 0
"""),
        )
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="cases match the reference",
)
case(
    "cheat-walk-stack-frames",
    "cheating",
    "walks the caller's stack frames for expected values or the runner's plan",
    {
        "mini.py": GOOD.replace(
            "def add(a, b):\n    return a + b",
            textwrap.dedent("""
def add(a, b):
    import sys
    f = sys._getframe(1)
    while f is not None:
        for k, v in list(f.f_locals.items()):
            if k in ("expected", "want", "reference", "labels", "answer"):
                return v
        f = f.f_back
    return a - b
"""),
        )
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="cases match the reference",
)
case(
    "cheat-monkeypatch-numpy",
    "cheating",
    "replaces numpy's comparisons with ones that always agree, then returns wrong answers",
    {
        "mini.py": "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones_like(a, bool)\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        + GOOD.replace("return a + b", "return a - b")
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="cases match the reference",
)
case(
    "cheat-patch-builtins-and-json",
    "cheating",
    "patches builtins and json so the runner's status lines claim success",
    {
        "mini.py": "import json, builtins\n_d = json.dumps\n"
        "json.dumps = lambda o, *a, **k: "
        "_d(dict(o, status='ok') if isinstance(o, dict) else o, *a, **k)\n"
        "builtins.isinstance = lambda *a: True\n"
        + GOOD.replace("return a + b", "raise ValueError('nope')")
    },
    state=["graded", "failed_student"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "cheat-rigged-eq-object",
    "cheating",
    "returns an object whose __eq__ is always True",
    {
        "mini.py": GOOD
        + textwrap.dedent("""
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
def add(a, b):
    return Anything()
""")
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="returned Anything",
)
case(
    "cheat-rigged-ndarray-subclass",
    "cheating",
    "an ndarray subclass with __eq__ always "
    "True and wrong values (crosses the boundary as plain .npy)",
    {
        "mini.py": GOOD
        + textwrap.dedent("""
import numpy as np
class Rigged(np.ndarray):
    def __eq__(self, other): return np.ones(self.shape, bool)
    def __array_finalize__(self, obj): pass
def add(a, b):
    return np.zeros_like(a).view(Rigged)
""")
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="cases match the reference",
)
case(
    "cheat-nan",
    "cheating",
    "returns NaN (NaN never passes a tolerance)",
    wrong_add("return (a + b) * float('nan')"),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="NaN or infinite",
)
case(
    "cheat-inf",
    "cheating",
    "softmax returns +inf everywhere",
    {
        "mini.py": GOOD.replace(
            "return e / e.sum(axis=-1, keepdims=True)", "return np.full_like(z, np.inf)"
        )
    },
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/softmax"],
)
case(
    "cheat-wrong-shape",
    "cheating",
    "returns the transpose",
    wrong_add("return (a + b).T"),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="shape",
)
case(
    "cheat-wrong-dtype-strings",
    "cheating",
    "returns an array of strings",
    wrong_add("return (a + b).astype(str)"),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
    message="cases match the reference",
)
case(
    "cheat-object-array-pickle",
    "cheating",
    "returns an object array (would need pickle to cross; .npy is read with allow_pickle=False)",
    wrong_add(
        "import numpy as np\n    o = np.empty(a.shape, dtype=object); o[...] = 1.0\n    return o"
    ),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "cheat-hardcoded-constants",
    "cheating",
    "hard-codes an answer (inputs are random per job)",
    wrong_add("import numpy as np\n    return np.ones((3, 3))"),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "cheat-complex-values",
    "cheating",
    "returns complex numbers whose real part is right",
    wrong_add("return (a + b) + 1j"),
    state="graded",
    score=[0, 6],
    failed_checks=["arrays/add"],
)

# ---------------------------------------------------------------- forging results
case(
    "forge-fake-score-output",
    "forging",
    "prints a fake score and 'ALL TESTS PASSED'",
    code("""
import json, sys
print(json.dumps({"score": 100, "max_score": 100, "state": "graded"}))
print("Score: 8/8  ALL TESTS PASSED", file=sys.stderr)
def add(a, b):
    raise NotImplementedError
"""),
    state=["graded", "failed_student"],
    score=[0, 0],
    message="ALL TESTS PASSED",
)
case(
    "forge-sys-exit-early",
    "forging",
    "sys.exit(0) before any work",
    {"mini.py": "import sys\nsys.exit(0)\n" + GOOD},
    state="failed_student",
    score=[0, 0],
    message="SystemExit",
)
case(
    "forge-os-exit-early",
    "forging",
    "os._exit(0) before any work",
    {"mini.py": "import os\nos._exit(0)\n" + GOOD},
    state="failed_student",
    score=[0, 0],
    failure_kind="submission:exited-early",
)
case(
    "forge-exit-mid-run",
    "forging",
    "exits with status 0 in the middle of the calls",
    wrong_add("import os\n    os._exit(0)"),
    state=["graded", "failed_student"],
    score=[0, 4],
    failed_checks=["arrays/add"],
)
case(
    "forge-kill-the-runner",
    "forging",
    "SIGKILLs its whole process group (the runner), then answers wrongly if it lives on (in "
    "docker the runner is the container's pid 1, which ignores signals from inside)",
    {
        "mini.py": "import os, signal\nos.killpg(0, signal.SIGKILL)\n"
        + GOOD.replace("return a + b", "return a - b")
    },
    state=["failed_student", "graded"],
    score=[0, 6],
)
case(
    "forge-kill-parent",
    "forging",
    "SIGKILLs its parent and every pid it can see",
    {
        "mini.py": "import os, signal\nfor p in range(1, 200):\n    if p != os.getpid():\n"
        "        try: os.kill(p, signal.SIGKILL)\n        except OSError: pass\n" + GOOD
    },
    state=["failed_student", "graded"],
    score=[0, 8],
)
case(
    "forge-results-file",
    "forging",
    "writes a results.jsonl claiming success and exits",
    code("""
import json, os
out = "/job/rw/out"
with open(f"{out}/results.jsonl", "w") as fh:
    for i in range(20):
        fh.write(json.dumps({"index": i, "status": "ok", "seconds": 0}) + "\\n")
os._exit(0)
"""),
    state="failed_student",
    score=[0, 0],
)
case(
    "forge-symlink-outputs",
    "forging",
    "outputs are symlinks to inputs and host files",
    code("""
import os
out = "/job/rw/out"
for i in range(20):
    os.symlink("/job/in/plan.json", f"{out}/c{i}_o0.npy")
os.remove(f"{out}/results.jsonl")  # the runner's own results file
os.symlink("/etc/passwd", f"{out}/results.jsonl")
os._exit(0)
"""),
    state="failed_student",
    score=[0, 0],
)
case(
    "forge-fifo-and-device-outputs",
    "forging",
    "a FIFO as an output (would block a reader) and an attempt to make a device node",
    code("""
import os, stat
out = "/job/rw/out"
os.mkfifo(f"{out}/c0_o0.npy")
os.remove(f"{out}/results.jsonl")  # the runner's own results file, replaced by a FIFO
os.mkfifo(f"{out}/results.jsonl")
try:
    os.mknod(f"{out}/c1_o0.npy", stat.S_IFCHR | 0o666, os.makedev(1, 1))
    print("MKNOD worked")
except OSError as exc:
    print("mknod refused", exc.errno)
os._exit(0)
"""),
    state="failed_student",
    score=[0, 0],
)
case(
    "forge-write-after-teardown",
    "forging",
    "a setsid daemon tries to overwrite the outputs after the runner has finished",
    good_plus("""
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1.5)
        for name in os.listdir("/job/rw/out"):
            open(os.path.join("/job/rw/out", name), "wb").write(b"forged")
        os._exit(0)
    os._exit(0)
"""),
    state="graded",
    score=[8, 8],
)

case(
    "forge-nul-bytes-in-output",
    "forging",
    "prints NUL bytes and raises an error whose "
    "message holds one (Postgres text cannot store NUL: this made every store fail, so the "
    "run ended failed_infra, uncharged)",
    {
        "mini.py": GOOD.replace("return a + b", "raise ValueError('bad\\x00value')")
        + "\nprint('nul:\\x00:' * 50)\nprint(open('/proc/self/environ').read())\n"
    },
    state="graded",
    score=[6, 6],
    failed_checks=["arrays/add"],
    message="nul:",
)


# ---------------------------------------------------------------- model files (corpus-weights)
class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /job/rw/home/PWNED; echo PICKLE-CODE-RAN",))


case(
    "model-pickle-code-in-pt",
    "model files",
    "a weights.pt whose pickle runs os.system (loaded only in the sandbox, weights_only=True)",
    {"tiny.py": TINY, "weights.pt": pickle.dumps(Evil(), protocol=2)},
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
    not_in_answer=["PICKLE-CODE-RAN"],
)
hdr = b'{"0.weight":{"dtype":"F32","shape":[10,784],"data_offsets":[0,31360]}}'
case(
    "model-safetensors-oversize-header",
    "model files",
    "a safetensors header length of 2^60 bytes",
    {"tiny.py": TINY, "weights.safetensors": struct.pack("<Q", 1 << 60) + hdr},
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
)
big = json.dumps(
    {"0.weight": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 40000000000]}}
).encode()
case(
    "model-safetensors-oversize-tensor",
    "model files",
    "a tensor of 40 GB declared in a 150-byte file",
    {"tiny.py": TINY, "weights.safetensors": struct.pack("<Q", len(big)) + big},
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
)

# ---------------------------------------------------------------- resource abuse
case(
    "abuse-fork-bomb",
    "resource abuse",
    "fork bomb",
    code("""
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""),
    state="failed_student",
    score=[0, 0],
    failure_kind="submission:processes",
    message="more than 32 processes",
)
case(
    "abuse-memory-bomb",
    "resource abuse",
    "allocates until killed",
    {"mini.py": "hog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n"},
    state="failed_student",
    score=[0, 0],
    failure_kind="submission:memory",
    message="256 MB",
)
case(
    "abuse-endless-loop",
    "resource abuse",
    "loops forever in add()",
    wrong_add("while True:\n        pass"),
    state="failed_student",
    score=[0, 0],
    failure_kind="submission:timeout",
    message="6 s",
)
case(
    "abuse-ignore-sigterm-and-sleep",
    "resource abuse",
    "ignores SIGTERM and sleeps forever",
    {
        "mini.py": "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "time.sleep(10**6)\n" + GOOD
    },
    state="failed_student",
    score=[0, 0],
    failure_kind="submission:timeout",
)
case(
    "abuse-disk-fill",
    "resource abuse",
    "fills the writable space and /tmp, then frees it",
    good_plus("""
import os
for d in ("/tmp", "/job/rw/home"):
    try:
        with open(os.path.join(d, "fill"), "wb") as fh:
            while True:
                fh.write(b"x" * (1 << 20))
    except OSError as exc:
        print("disk full at", d, exc.errno)
    os.remove(os.path.join(d, "fill"))
"""),
    state="graded",
    score=[8, 8],
    message="disk full at",
)
case(
    "abuse-disk-fill-and-keep",
    "resource abuse",
    "fills the writable space and keeps it full",
    good_plus("""
try:
    with open("/job/rw/home/fill", "wb") as fh:
        while True:
            fh.write(b"x" * (1 << 20))
except OSError as exc:
    print("disk full", exc.errno)
"""),
    state=["graded", "failed_student"],
    score=[0, 8],
)
case(
    "abuse-many-threads",
    "resource abuse",
    "starts a thousand threads",
    good_plus("""
import threading, time
n = 0
try:
    for _ in range(1000):
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        n += 1
except RuntimeError as exc:
    print("threads stopped at", n, exc)
"""),
    state=["graded", "failed_student"],
    score=[0, 8],
    message="threads stopped at",
)
case(
    "abuse-daemon-outlives-run",
    "resource abuse",
    "a double-fork + setsid daemon that "
    "sleeps for ten minutes (its argv carries a marker the test looks for on the host)",
    good_plus("""
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
                 "import time; time.sleep(600)  # AG-CORPUS-DAEMON-MARK"])
    os._exit(0)
"""),
    state="graded",
    score=[8, 8],
)
case(
    "abuse-file-descriptors",
    "resource abuse",
    "opens files until the limit and keeps them",
    good_plus("""
fds = []
try:
    while True:
        fds.append(open("/dev/null"))
except OSError as exc:
    print("fd limit at", len(fds), exc.errno)
"""),
    state=["graded", "failed_student"],
    score=[0, 8],
    message="fd limit at",
)
case(
    "abuse-output-flood",
    "resource abuse",
    "prints 3 GB",
    good_plus("""
import sys
chunk = "x" * 1_000_000
for _ in range(3000):
    sys.stdout.write(chunk)
"""),
    state=["graded", "failed_student"],
    score=[0, 8],
)
case(
    "abuse-huge-return",
    "resource abuse",
    "returns an array far over the output file cap",
    wrong_add("import numpy as np\n    return np.ones((20000, 1000))"),
    state=["graded", "failed_student"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)

# ---------------------------------------------------------------- leaving the box
case(
    "escape-network",
    "leaving the box",
    "the internet, and every TCP port on 127.0.0.1 (the broker's and the database's among them)",
    good_plus("""
import socket
for host, port in [("1.1.1.1", 80), ("8.8.8.8", 53)]:
    try:
        socket.create_connection((host, port), timeout=1)
        print("CONNECTED", host, port)
    except OSError as exc:
        print("no network:", host, port, exc.errno)
import time
open_ports, scanned, t0 = [], 0, time.monotonic()
# The broker's and the database's ports are random high ports: scan from the top, for at
# most 3 s, then ask the kernel what listens in this network namespace at all.
for port in list(range(65535, 1023, -1)) + list(range(1, 1024)):
    if time.monotonic() - t0 > 3:
        break
    s = socket.socket()
    if s.connect_ex(("127.0.0.1", port)) == 0:
        open_ports.append(port)
    s.close()
    scanned += 1
print("scanned", scanned, "ports")
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
        print(table, "listening:", [r for r in rows if r.split()[3] == "0A"])
    except OSError as exc:
        print(table, "blocked", exc.errno)
print("open localhost ports:", open_ports)
print("interfaces:", socket.if_nameindex())
"""),
    state="graded",
    score=[8, 8],
    message="/proc/net/tcp listening: []",
    not_in_answer=["CONNECTED"],
)
case(
    "escape-environment",
    "leaving the box",
    "dumps its environment and pid 1's",
    good_plus(CANARY_HUNT),
    state="graded",
    score=[8, 8],
    message="ENV",
    not_in_answer=["AUTOGRADER_", "REDIS", "DATABASE"],
)
case(
    "escape-proc-other-processes",
    "leaving the box",
    "lists /proc for the worker's and other processes, their command lines and environments",
    good_plus("""
import os
pids = [p for p in os.listdir("/proc") if p.isdigit()]
print("visible pids:", len(pids))
for p in pids:
    try:
        print(p, open(f"/proc/{p}/cmdline", "rb").read()[:80])
        print(p, open(f"/proc/{p}/environ", "rb").read()[:200])
    except Exception as exc:
        print(p, "blocked", type(exc).__name__)
"""),
    state="graded",
    score=[8, 8],
    message="visible pids:",
    not_in_answer=["celery", "uvicorn", "postgres"],
)
case(
    "escape-inherited-fds",
    "leaving the box",
    "looks for file descriptors beyond 0-2 inherited from the worker",
    good_plus("""
import os
found = []
for fd in range(3, 4096):
    try:
        os.fstat(fd)
        found.append((fd, os.readlink(f"/proc/self/fd/{fd}")))
    except OSError:
        pass
print("inherited fds:", found)
"""),
    state="graded",
    score=[8, 8],
    message="inherited fds:",
    not_in_answer=["socket:[", "/storage/", "worker.log"],
)
case(
    "escape-devices-and-privileges",
    "leaving the box",
    "raw devices, setuid(0), mount, a new user namespace",
    good_plus("""
import ctypes, os
for dev in ["/dev/mem", "/dev/kmem", "/dev/sda", "/dev/vda", "/dev/nvme0n1", "/dev/nvidia0"]:
    try:
        open(dev, "rb").read(1)
        print("OPENED", dev)
    except Exception as exc:
        print(dev, "blocked", type(exc).__name__)
try:
    os.setuid(0); print("ROOT")
except OSError as exc:
    print("setuid blocked", exc.errno)
libc = ctypes.CDLL(None, use_errno=True)
print("mount:", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno())
print("unshare:", libc.unshare(0x10000000), ctypes.get_errno())
"""),
    state="graded",
    score=[8, 8],
    message="setuid blocked",
    not_in_answer=["OPENED", "ROOT\\n"],
)
case(
    "escape-write-host-paths",
    "leaving the box",
    "tries to write outside its folder (the code, the inputs, /usr, the service's storage)",
    good_plus("""
for path in ["/job/src/mini.py", "/job/in/plan.json", "/usr/evil", "/opt/venv/evil",
             "/opt/runner/sandbox_runner.py", "/root/evil", "/etc/evil"]:
    try:
        open(path, "a").write("x")
        print("WROTE", path)
    except Exception as exc:
        print(path, "blocked", type(exc).__name__)
"""),
    state="graded",
    score=[8, 8],
    message="blocked",
    not_in_answer=["WROTE"],
)

# ---------------------------------------------------------------- the web
case(
    "web-path-traversal-name",
    "web",
    "file name ../../../../etc/cron.d/mini.py: only the base name is used",
    {"mini.py": GOOD},
    upload={"mode": "files", "names": {"mini.py": "../../../../etc/cron.d/mini.py"}},
    http_status=202,
    state="graded",
    score=[8, 8],
)
case(
    "web-backslash-traversal-name",
    "web",
    "file name ..\\\\..\\\\evil.py (Windows separators)",
    {"mini.py": GOOD},
    upload={"mode": "files", "names": {"mini.py": "..\\\\..\\\\evil.py"}},
    http_status=400,
    message="unexpected file",
)
case(
    "web-oversize-file",
    "web",
    "a mini.py over its 20000-byte limit",
    upload={"mode": "generated", "name": "mini.py", "bytes": 30000},
    http_status=413,
    message="larger than its limit",
)
case(
    "web-malformed-multipart",
    "web",
    "a body that is not valid multipart",
    upload={
        "mode": "raw",
        "content_type": "multipart/form-data; boundary=XYZ",
        "body": "--XYZ\\r\\nContent-Disposition: form-data; name=files\\r\\n\\r\\nbroken",
    },
    http_status=[400, 422],
)
case(
    "web-not-utf8",
    "web",
    "a .py file in Latin-1",
    {"mini.py": "# caf\xe9\n".encode("latin-1") + GOOD.encode()},
    http_status=400,
    message="not UTF-8",
)
case(
    "web-duplicate-file",
    "web",
    "mini.py sent twice",
    {"mini.py": GOOD},
    upload={"mode": "files", "repeat": 2},
    http_status=400,
    message="more than once",
)
case(
    "web-too-many-files",
    "web",
    "40 file parts",
    {"mini.py": GOOD},
    upload={"mode": "files", "repeat": 40},
    http_status=413,
    message="too many files",
)
case(
    "web-zip-path-traversal",
    "web",
    "a zip whose member is ../mini.py",
    {"mini.py": GOOD},
    upload={"mode": "zip", "members": {"mini.py": "../mini.py"}},
    http_status=400,
    message="unsafe path",
)
case(
    "web-zip-absolute-path",
    "web",
    "a zip whose member is /etc/mini.py",
    {"mini.py": GOOD},
    upload={"mode": "zip", "members": {"mini.py": "/etc/mini.py"}},
    http_status=400,
    message="unsafe path",
)
case(
    "web-zip-bomb",
    "web",
    "a 100 kB zip that inflates to 100 MB of mini.py",
    upload={"mode": "zipbomb", "name": "mini.py", "bytes": 100_000_000},
    http_status=413,
    message="larger than its limit",
)
case(
    "web-zip-symlink-member",
    "web",
    "a zip whose mini.py member is a symlink",
    upload={"mode": "zip-symlink", "name": "mini.py", "target": "/etc/passwd"},
    http_status=422,
    message="missing required file",
)
case(
    "web-no-token",
    "web",
    "an upload without a token",
    {"mini.py": GOOD},
    upload={"mode": "files", "token": "none"},
    http_status=401,
)
case(
    "web-other-students-submission",
    "web",
    "another student reads, lists and guesses submission ids",
    {"mini.py": GOOD},
    upload={"mode": "other-student"},
    http_status=404,
)
case(
    "web-quota-spam",
    "web",
    "uploads over a quota of 2 (corpus-quota)",
    {"mini.py": GOOD},
    spec="corpus-quota",
    upload={"mode": "spam", "count": 4},
    http_status=429,
    message="quota reached",
)

if ROOT.exists():
    for d in ROOT.iterdir():
        if d.is_dir() and not d.name.startswith("_"):
            shutil.rmtree(d)
for name, (category, what, files, expected) in CASES.items():
    folder = ROOT / name
    folder.mkdir(parents=True)
    for fname, content in files.items():
        data = content if isinstance(content, bytes) else content.encode()
        (folder / fname).write_bytes(data)
    exp = {"category": category, "what": what, "spec": expected.pop("spec", "corpus-mini")}
    exp.update(expected)
    exp.setdefault("http_status", 202)
    (folder / "expected.json").write_text(json.dumps(exp, indent=2, ensure_ascii=False) + "\n")
print(len(CASES), "cases")
