"""Writes tests/hostile_corpus/<case>/ (files + expected.json) for every case below.

The folders are the corpus (committed); rerun this after changing a case:
    .venv/bin/python tests/hostile_corpus/make_corpus.py
"""

import base64
import hashlib
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
    "SIGKILLs its whole process group (the runner), then answers wrongly if it lives on. "
    "Were the SIGKILL delivered, the box would look killed from outside (ours, retried); the "
    "reaper's signal filter refuses it, so the import fails with PermissionError",
    {
        "mini.py": "import os, signal\nos.killpg(0, signal.SIGKILL)\n"
        + GOOD.replace("return a + b", "return a - b")
    },
    state=["failed_student", "graded"],
    score=[0, 0],
)
case(
    "forge-sigterm-parent",
    "forging",
    "SIGTERMs its parent (the box's reaper) and itself, then answers wrongly if it lives on",
    {
        "mini.py": "import os, signal\nfor p in (os.getppid(), os.getpid()):\n    try: "
        "os.kill(p, signal.SIGTERM)\n    except OSError: pass\n"
        + GOOD.replace("return a + b", "return a - b")
    },
    state=["failed_student", "graded"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "forge-cpu-rlimit-kill",
    "forging",
    "lowers its own CPU rlimit and ignores SIGXCPU so that the kernel SIGKILLs it (a kill "
    "no limit of the box recorded), then answers wrongly if it lives on",
    {
        "mini.py": "import resource, signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
        "try:\n    resource.setrlimit(resource.RLIMIT_CPU, (1, 1))\nexcept (OSError, "
        "ValueError):\n    pass\nelse:\n    while True: pass\n"
        + GOOD.replace("return a + b", "return a - b")
    },
    state=["failed_student", "graded"],
    score=[0, 6],
    failed_checks=["arrays/add"],
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
def _t10k_table() -> str:
    """base85 of (4-byte blake2b digest of each public t10k image's bytes, its label)."""
    import gzip

    mnist = ROOT.parent.parent.parent / "shared" / "data" / "mnist"
    with gzip.open(mnist / "t10k-images-idx3-ubyte.gz") as fh:
        images = fh.read()[16:]
    with gzip.open(mnist / "t10k-labels-idx1-ubyte.gz") as fh:
        labels = fh.read()[8:]
    rows = b"".join(
        hashlib.blake2b(images[i * 784 : (i + 1) * 784], digest_size=4).digest()
        + bytes([labels[i]])
        for i in range(len(labels))
    )
    return base64.b85encode(rows).decode()


case(
    "cheat-t10k-lookup-table",
    "cheat",
    "no model: a table of the 10,000 public t10k images' hashes and labels (62 KB of code); "
    "each image the prediction box gets is hashed and looked up, digit 1 when not found "
    "(the job's own noisy view of the test split: no image is the published bytes)",
    {
        "tiny.py": TINY
        + textwrap.dedent(f"""
            import base64 as _b64
            import hashlib as _hl

            _ROWS = _b64.b85decode({_t10k_table()!r})
            _TABLE = {{_ROWS[i : i + 4]: _ROWS[i + 4] for i in range(0, len(_ROWS), 5)}}


            class Lookup(nn.Sequential):  # the uploaded weights fit its Linear layer
                def __init__(self):
                    super().__init__(nn.Flatten(), nn.Linear(784, 10))

                def forward(self, x):
                    pixels = (x * 255).round().clamp(0, 255).to(torch.uint8)
                    rows = pixels.reshape(len(x), 784).numpy()
                    out = torch.zeros(len(x), 10)
                    for i, row in enumerate(rows):
                        key = _hl.blake2b(row.tobytes(), digest_size=4).digest()
                        out[i, _TABLE.get(key, 1)] = 1.0
                    return out + 0 * super().forward(x)


            def build_model():
                return Lookup()
        """),
        "weights.safetensors": (
            FIXTURES / "reference" / "mini-mnist" / "weights.safetensors"
        ).read_bytes(),
    },
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
    message="test accuracy",
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

# The runner ends its process with os._exit (no atexit): what the box does to the answers
# the runner already wrote, it does during a later call.
BEFORE_EACH_CALL = """
_add, _softmax, _fit = add, softmax, fit
def add(a, b):
    {hook}()
    return _add(a, b)
def softmax(x):
    {hook}()
    return _softmax(x)
def fit(x, y):
    {hook}()
    return _fit(x, y)
"""

# ---------------------------------------------------------------- the box's boundary (rules 7, 8)
HOST_PATHS = """
import os, re, shutil
def _grab():
    # Host paths the box might learn: pid 1's command line, the mount table, the env.
    seen = set()
    for name in ("/proc/1/cmdline", "/proc/self/mountinfo", "/proc/1/environ"):
        try:
            text = open(name, "rb").read().decode(errors="replace").replace("\\0", " ")
        except OSError:
            continue
        seen.update(re.findall(r"/[\\w./-]*(?:jobs|box-|run)[\\w./-]*", text))
    print("HOST PATHS", sorted(seen))
    for path in sorted(seen):  # point out/ at what looks like a neighbour's outputs
        for guess in (path, path + "/out", path.rsplit("/", 1)[0] + "/out"):
            try:
                shutil.rmtree("/job/rw/out", ignore_errors=True)
                os.symlink(guess, "/job/rw/out")
                return
            except OSError:
                continue
_grab()
"""
case(
    "boundary-out-linked-to-a-neighbour",
    "the box's boundary",
    "learns host paths from /proc (pid 1's command line, the mount table) and points "
    "/job/rw/out at what looks like the reference box's outputs, with a wrong add()",
    {"mini.py": wrong_add("return a - b")["mini.py"] + HOST_PATHS},
    state=["graded", "failed_student"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "boundary-fifos-and-links-in-out",
    "the box's boundary",
    "fills out/ with FIFOs, a link to /etc/shadow and a folder, beside honest answers",
    good_plus(
        """
import os
def _litter():
    for i in range(5):
        try:
            os.mkfifo(f"/job/rw/out/trap{i}.npy")
        except OSError:
            pass
    try:
        os.symlink("/etc/shadow", "/job/rw/out/shadow.npy")
        os.mkdir("/job/rw/out/sub.npy")
    except OSError:
        pass
"""
        + BEFORE_EACH_CALL.format(hook="_litter")
    ),
    state=["graded"],
    score=[8, 8],
)
case(
    "boundary-ptrace-the-box-init",
    "the box's boundary",
    "ptrace-attaches to the box's pid 1 and tries mount, unshare, keyctl and bpf",
    good_plus("""
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
for _nr, _args in ((101, (16, 1, 0, 0)), (165, (0, 0, 0, 0, 0)), (272, (0x10000000,)),
                   (250, (0, 0, 0, 0, 0)), (321, (0, 0, 0)), (298, (0, 0, -1, -1, 0))):
    print("SYSCALL", _nr, _libc.syscall(ctypes.c_long(_nr), *map(ctypes.c_long, _args)),
          ctypes.get_errno())
"""),
    state=["graded"],
    score=[8, 8],
)

# ---------------------------------------------------------------- student data (rule 9)
NPY_LIE = """
import glob, struct
def _lie():
    # The answers of the earlier calls, already written by the runner: rewritten with a
    # header that claims 2**40 elements (the worker must not allocate them).
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (2**40,)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\\n"
    for path in glob.glob("/job/rw/out/*.npy"):
        with open(path, "wb") as fh:
            magic = b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(header))
            fh.write(magic + header + b"\\0" * 64)
"""
case(
    "data-npy-header-claims-a-terabyte",
    "student data read outside",
    "answers rewritten after the runner with .npy headers claiming 2**40 elements",
    good_plus(NPY_LIE + BEFORE_EACH_CALL.format(hook="_lie")),
    state=["graded", "failed_student"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)
case(
    "data-results-deeply-nested",
    "student data read outside",
    "results.jsonl and result.json rewritten as 200,000 nested brackets",
    good_plus(
        """
import glob
def _nest():
    for path in glob.glob("/job/rw/out/*.json*"):
        with open(path, "w") as fh:
            fh.write("[" * 200000 + "]" * 200000 + "\\n")
"""
        + BEFORE_EACH_CALL.format(hook="_nest")
    ),
    state=["graded", "failed_student"],
    score=[0, 6],
    failed_checks=["arrays/add"],
)


def safetensors_with(entries, data_len=31400):
    header = json.dumps(entries).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * data_len


for label, shape in (("1e400", "[1e400]"), ("bool", "[true, 7850]"), ("negative", "[-10, -785]")):
    raw = b'{"0.weight":{"dtype":"F32","shape":' + shape.encode() + b',"data_offsets":[0,31360]}}'
    case(
        f"data-safetensors-shape-{label}",
        "student data read outside",
        f"a safetensors header whose shape is {shape} (an OverflowError in the worker once: "
        "retried as ours, a free denial of service)",
        {"tiny.py": TINY, "weights.safetensors": struct.pack("<Q", len(raw)) + raw + b"\0" * 31400},
        spec="corpus-weights",
        state=["graded", "failed_student"],
        score=[0, 0],
        failed_checks=["uploaded/weights"],
        message="could not be read",
    )
deep = b"[" * 100000 + b"]" * 100000
case(
    "data-safetensors-header-deeply-nested",
    "student data read outside",
    "a safetensors header of 100,000 nested brackets",
    {"tiny.py": TINY, "weights.safetensors": struct.pack("<Q", len(deep)) + deep},
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
)
BIG_TINY = TINY.replace("nn.Linear(784, 10)", "nn.Linear(784, 600), nn.ReLU(), nn.Linear(600, 10)")
FORGE = """
import os
from safetensors.numpy import save_file
import numpy as np
# What the prediction box once wrote about the model it loaded, and the grader counted:
# claim the 7,850 parameters of the small model.
os.makedirs("/job/rw/out", exist_ok=True)
save_file({"1.weight": np.zeros((10, 784), np.float32), "1.bias": np.zeros(10, np.float32)},
          "/job/rw/out/weights_as_loaded.safetensors")
"""
big_weights = safetensors_with(
    {
        "1.weight": {"dtype": "F16", "shape": [600, 784], "data_offsets": [0, 940800]},
        "1.bias": {"dtype": "F16", "shape": [600], "data_offsets": [940800, 942000]},
        "3.weight": {"dtype": "F16", "shape": [10, 600], "data_offsets": [942000, 954000]},
        "3.bias": {"dtype": "F16", "shape": [10], "data_offsets": [954000, 954020]},
    },
    954020,
)
case(
    "forge-parameter-count",
    "student data read outside",
    "476,410 parameters (limit 8,000) uploaded, while the prediction box writes a "
    "weights_as_loaded.safetensors of the small model for the grader to count",
    {"tiny.py": BIG_TINY + FORGE, "weights.safetensors": big_weights},
    spec="corpus-weights",
    state=["graded", "failed_student"],
    score=[0, 0],
    failed_checks=["uploaded/weights"],
    message="max_params",
)

# ------------------------------------------------------- numerical gradients (corpus-gradient)
# Each Linear.backward below computes its gradients from forward passes alone; forward is
# honest. The small cases pass; the large case (256 x 512 -> 512, alone in a box with 5 s)
# cannot, so the gradients earn nothing.
NUMERIC_LINEAR = """
import numpy as np


class Linear:
    def __init__(self, in_features, out_features):
        self.params = {"W": np.zeros((in_features, out_features)), "b": np.zeros(out_features)}
        self.grads = {}

    def _out(self, x, W=None, b=None):
        W = self.params["W"] if W is None else W
        return x @ W + (self.params["b"] if b is None else b)

    def forward(self, x):
        self.x = x.copy()
        return self._out(x)
"""


def numeric(backward):
    return {"layers.py": NUMERIC_LINEAR + textwrap.dedent(backward)}


case(
    "numgrad-central-differences",
    "numerical gradients",
    "backward by central finite differences, one coordinate at a time (the README's checker)",
    numeric("""
    def numeric_grad(f, a, h=1e-6):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            plus = f()
            a[i] = old - h
            minus = f()
            a[i] = old
            g[i] = (plus - minus) / (2 * h)
        return g


    def _backward(self, dout):
        f = lambda: np.sum(self._out(self.x) * dout)
        self.grads["W"] = numeric_grad(f, self.params["W"])
        self.grads["b"] = numeric_grad(f, self.params["b"])
        return numeric_grad(f, self.x)


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state="graded",
    score=[0, 0],
    failed_checks=["layers/linear"],
    message="did not finish within its time limit of 5 s",
)
case(
    "numgrad-one-sided-vectorised",
    "numerical gradients",
    "one-sided differences, vectorised: 256 perturbed copies of W (or x) per batched forward",
    numeric("""
    def _batched(self, dout, base, which, h=1e-7):
        target = self.params["W"] if which == "W" else self.x
        flat = target.reshape(-1)
        grad = np.zeros(flat.size)
        for start in range(0, flat.size, 256):
            idx = np.arange(start, min(start + 256, flat.size))
            copies = np.repeat(target[None], len(idx), axis=0).reshape(len(idx), -1)
            copies[np.arange(len(idx)), idx] += h
            copies = copies.reshape((len(idx),) + target.shape)
            if which == "W":
                outs = np.einsum("ni,kio->kno", self.x, copies) + self.params["b"]
            else:
                outs = copies @ self.params["W"] + self.params["b"]
            grad[idx] = ((outs * dout).sum(axis=(1, 2)) - base) / h
        return grad.reshape(target.shape)


    def _backward(self, dout):
        base = np.sum(self._out(self.x) * dout)
        self.grads["W"] = _batched(self, dout, base, "W")
        self.grads["b"] = np.array(
            [(np.sum(self._out(self.x, b=self.params["b"] + 1e-7 * e) * dout) - base) / 1e-7
             for e in np.eye(len(self.params["b"]))]
        )
        return _batched(self, dout, base, "x")


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state="graded",
    score=[0, 0],
    failed_checks=["layers/linear"],
    message="did not finish within its time limit of 5 s",
)
case(
    "numgrad-all-coordinates-at-once",
    "numerical gradients",
    "every coordinate of W perturbed at once, in batches of 4,096 copies of W (8.6 GB "
    "each): the box's memory limit ends it",
    numeric("""
    def _backward(self, dout, h=1e-7):
        W = self.params["W"]
        base = np.sum(self._out(self.x) * dout)
        grad = np.zeros(W.size)
        for start in range(0, W.size, 4096):
            idx = np.arange(start, min(start + 4096, W.size))
            bumps = np.zeros((len(idx), W.size))
            bumps[np.arange(len(idx)), idx] = h
            copies = (W.reshape(1, -1) + bumps).reshape((len(idx),) + W.shape)
            outs = np.einsum("ni,kio->kno", self.x, copies) + self.params["b"]
            grad[idx] = ((outs * dout).sum(axis=(1, 2)) - base) / h
        self.grads["W"] = grad.reshape(W.shape)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state="graded",
    score=[0, 2],
    message="The large case",
)
case(
    "numgrad-random-subset-when-large",
    "numerical gradients",
    "sizes up the case: full finite differences when small; when large, differences at 16 "
    "random coordinates and zeros elsewhere, with db by hand (dout summed)",
    numeric("""
    def _grad(f, a, rng):
        g = np.zeros_like(a)
        flat, out = a.reshape(-1), g.reshape(-1)
        coords = range(flat.size) if flat.size <= 64 else rng.choice(flat.size, 16)
        for i in coords:
            old = flat[i]
            flat[i] = old + 1e-6
            plus = f()
            flat[i] = old - 1e-6
            minus = f()
            flat[i] = old
            out[i] = (plus - minus) / 2e-6
        return g


    def _backward(self, dout):
        rng = np.random.default_rng(0)
        f = lambda: np.sum(self._out(self.x) * dout)
        self.grads["W"] = _grad(f, self.params["W"], rng)
        self.grads["b"] = dout.sum(axis=0)
        return _grad(f, self.x, rng)


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state="graded",
    score=[4, 4],
    message="2 of 4 quantities right in the large case too",
)

# ---------------------------------------------------------------- generative (corpus-gan/-ae)
# Rule 11: samples that copy MNIST images earn nothing; secondary credit (the judge's
# confidence and coverage, sparsity) only once the primary line (Frechet distance, MSE) earns.
# None of these trains: each grades in seconds.
REPLAY = """
import torch
from torch import nn

K = 2000


class Replay(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("bank", torch.zeros(K, 1, 28, 28))
        self.register_buffer("partner", torch.zeros(K, 1, 28, 28))

    def forward(self, z):
        x = self.bank[(z[:, 0].abs() * 1e4).long() % K]
        return ALTER


def build_generator():
    return Replay()


def train(generator, images, config, log):
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))[:K]
    bank = images[pick]
    flat = bank.reshape(K, -1)
    d = torch.cdist(flat, flat) + torch.eye(K) * 1e9
    generator.bank.copy_(bank)
    generator.partner.copy_(bank[d.argmin(dim=1)])  # each image's nearest other one
    log({"d_loss": 0.0, "g_loss": 0.0})
    return generator
"""
COPIES = "are copies of MNIST images"


def replay(alter):
    return {"gen.py": textwrap.dedent(REPLAY).replace("ALTER", alter)}


for name, what, alter in [
    (
        "cheat-gan-replays-training-images",
        "a generator that replays 2,000 stored training images, picked by z",
        "x",
    ),
    (
        "cheat-gan-noisy-replays",
        "stored training images plus Gaussian noise (std 0.1)",
        "(x + 0.1 * torch.randn_like(x)).clamp(0, 1)",
    ),
    (
        "cheat-gan-shifted-replays",
        "stored training images moved one pixel, right or down as z says",
        "torch.where(z[:, 1, None, None, None] > 0, x.roll(1, 3), x.roll(1, 2))",
    ),
    (
        "cheat-gan-mirrored-replays",
        "stored training images mirrored left-right or top-bottom, so that no pixel matches",
        "torch.where(z[:, 1, None, None, None] > 0, x.flip(3), x.flip(2))",
    ),
    (
        "cheat-gan-blended-replays",
        "each stored training image blended half and half with its nearest neighbour",
        "0.5 * x + 0.5 * self.partner[(z[:, 0].abs() * 1e4).long() % K]",
    ),
]:
    case(name, "cheating", what, replay(alter), spec="corpus-gan", state="graded",
         score=[0, 0], failed_checks=["gan/samples"], message=COPIES)  # fmt: skip


def embedded_test_images(n=300):
    """n MNIST test images, binarised, lzma-compressed and base85-encoded (as a student
    would carry the public test set in their source: about 30 bytes each)."""
    import base64
    import gzip
    import lzma

    import numpy as np

    path = ROOT.parent.parent.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    raw = np.frombuffer(gzip.decompress(path.read_bytes()), np.uint8, offset=16)
    bits = np.packbits(raw.reshape(-1, 784)[:n] > 127, axis=1)
    return base64.b85encode(lzma.compress(bits.tobytes(), preset=9)).decode()


case(
    "cheat-gan-test-images-in-source",
    "cheating",
    "300 MNIST test images (what the Frechet line compares with) carried in the source, "
    "binarised and compressed, replayed without training",
    {
        "gen.py": textwrap.dedent(f"""
        import base64, lzma
        import numpy as np
        import torch
        from torch import nn

        BLOB = "{embedded_test_images()}"
        BITS = np.frombuffer(lzma.decompress(base64.b85decode(BLOB)), np.uint8)
        IMAGES = torch.from_numpy(np.unpackbits(BITS).reshape(-1, 1, 28, 28).astype("float32"))


        class Table(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(1))

            def forward(self, z):
                return IMAGES[(z[:, 0].abs() * 1e4).long() % len(IMAGES)] * self.scale


        def build_generator():
            return Table()


        def train(generator, images, config, log):
            log({{"d_loss": 0.0, "g_loss": 0.0}})
            return generator
        """)
    },
    spec="corpus-gan",
    state="graded",
    score=[0, 0],
    failed_checks=["gan/samples"],
    message="test image #",
)
case(
    "cheat-gan-untrained-generator",
    "secondary credit",
    "an untrained generator: noise the judge calls a digit with some confidence, nowhere "
    "near real digits (confidence must not pay before the Frechet line does)",
    {
        "gen.py": textwrap.dedent("""
        from torch import nn


        def build_generator():
            return nn.Sequential(
                nn.Linear(16, 256), nn.BatchNorm1d(256), nn.ReLU(),
                nn.Linear(256, 512), nn.BatchNorm1d(512), nn.ReLU(),
                nn.Linear(512, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)),
            )


        def train(generator, images, config, log):
            log({"d_loss": 0.0, "g_loss": 0.0})
            return generator
        """)
    },
    spec="corpus-gan",
    state="graded",
    score=[0, 0],
    failed_checks=["gan/samples"],
    message="only once the Frechet distance does",
)
case(
    "cheat-ae-untrained-sparse",
    "secondary credit",
    "an untrained sparse auto-encoder (ReLU codes): some sparsity, reconstructions of noise",
    {
        "gen.py": textwrap.dedent("""
        import torch
        from torch import nn


        class AE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(784, 16)
                self.dec = nn.Linear(16, 784)

            def encode(self, x):
                return torch.relu(self.enc(x.reshape(len(x), 784)) - 0.3)

            def decode(self, z):
                return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


        def build_autoencoder():
            return AE()


        def train_autoencoder(model, images, config, log):
            log({"loss": 1.0})
            return model
        """)
    },
    spec="corpus-ae",
    state="graded",
    score=[0, 0],
    failed_checks=["ae/sparse"],
    message="only once the reconstruction error does",
)
case(
    "cheat-ae-constant-output-perfect-sparsity",
    "secondary credit",
    "all-zero codes (perfectly sparse) and a decoder that returns the mean training image",
    {
        "gen.py": textwrap.dedent("""
        import torch
        from torch import nn


        class Constant(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("mean", torch.zeros(1, 1, 28, 28))

            def encode(self, x):
                return torch.zeros(len(x), 16)

            def decode(self, z):
                return self.mean.expand(len(z), 1, 28, 28)


        def build_autoencoder():
            return Constant()


        def train_autoencoder(model, images, config, log):
            model.mean.copy_(images.mean(dim=0, keepdim=True))
            log({"loss": 0.0})
            return model
        """)
    },
    spec="corpus-ae",
    state="graded",
    score=[0, 0],
    failed_checks=["ae/sparse"],
    message="only once the reconstruction error does",
)

# ---------------------------------------------------------------- forbidden means absent (rule 10)
case(
    "forbidden-autograd-hook-removed",
    "forbidden means absent",
    "a numpy-only layer whose backward removes the import blocker from sys.meta_path and "
    "asks torch's autograd (numpy-only homework run a Python without torch)",
    numeric("""
    def _backward(self, dout):
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if "Forbidden" not in type(f).__name__]
        torch = __import__("".join(["to", "rch"]))  # past the static scan, too
        x = torch.tensor(self.x, requires_grad=True)
        W = torch.tensor(self.params["W"], requires_grad=True)
        b = torch.tensor(self.params["b"], requires_grad=True)
        (x @ W + b).backward(torch.tensor(dout))
        self.grads["W"], self.grads["b"] = W.grad.numpy(), b.grad.numpy()
        return x.grad.numpy()


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state=["graded", "failed_student"],
    score=[0, 2],  # its forward is honest numpy (2 of 8); every backward point is lost
    message="No module named 'torch'",
)
case(
    "forbidden-autograd-forged-file-name",
    "forbidden means absent",
    "imports torch through exec of code compiled under a forged /opt/venv/... file name",
    numeric("""
    def _backward(self, dout):
        ns = {}
        code = "import tor" + "ch as t; T = t"
        exec(compile(code, "/opt/venv/lib/python3.11/site-packages/torch/_forged.py", "exec"), ns)
        torch = ns["T"]
        x = torch.tensor(self.x, requires_grad=True)
        W = torch.tensor(self.params["W"], requires_grad=True)
        b = torch.tensor(self.params["b"], requires_grad=True)
        (x @ W + b).backward(torch.tensor(dout))
        self.grads["W"], self.grads["b"] = W.grad.numpy(), b.grad.numpy()
        return x.grad.numpy()


    Linear.backward = _backward
    """),
    spec="corpus-gradient",
    state=["graded", "failed_student"],
    score=[0, 2],  # its forward is honest numpy (2 of 8); every backward point is lost
    message="No module named 'torch'",
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

# ----------------------------------------------- sequence (corpus-numerals, corpus-reverse)
# Rule 11: a box must not be able to answer without learning.  The ids a box sees are
# shuffled per job (the meaning of a token stays outside), and the untrained control runs
# in boxes of its own that look like the trained model's.  None of these trains: each
# grades in seconds.
SEQ_MODEL = """
import torch
from torch import nn


class Shell(nn.Module):
    \"\"\"Parameters for show, and a flag that train() sets: the weights "look trained".\"\"\"

    def __init__(self, src_vocab, tgt_vocab):
        super().__init__()
        self.emb = nn.Embedding(src_vocab, 8)
        self.out = nn.Linear(8, tgt_vocab)
        self.register_buffer("trained", torch.zeros(()))

    def forward(self, src, tgt_in):
        return self.out(self.emb(tgt_in))


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return Shell(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    model.trained.fill_(1)
    log({"loss": 0.0, "train_accuracy": 1.0})
    return model
"""


def seq(src):
    return {"seq.py": textwrap.dedent(SEQ_MODEL) + textwrap.dedent(src)}


case(
    "cheat-seq-numeral-parser-when-trained",
    "cheating",
    "the reported attack: translate() parses the Chinese numerals by hand (from the "
    "vocabulary's strings, or else from the ids of the published layout, 零 = 3 ... 万 = 16) "
    "and answers only when the weights carry the flag train() sets, so the untrained control "
    "says nothing; the ids are shuffled per job and the vocabulary holds no strings",
    seq("""
    import json

    ZH = "零一二三四五六七八九十百千万"


    def _meaning(vocab):
        words = json.load(open("/job/in/vocab.json"))[vocab]
        if set(ZH) <= set(words):  # strings in the vocabulary: read them
            return {i: w for i, w in enumerate(words)}
        return {3 + k: ch for k, ch in enumerate(ZH)}  # else the published layout


    def _digit_ids():
        words = json.load(open("/job/in/vocab.json"))["tgt"]
        if set("0123456789") <= set(words):
            return {w: i for i, w in enumerate(words)}
        return {str(d): 3 + d for d in range(10)}


    def _parse(text):
        value, section, number = 0, 0, 0
        for ch in text:
            if ch in ZH[:10]:
                number = ZH.index(ch)
            elif ch == "万":
                value += (section + number) * 10000
                section = number = 0
            else:
                section += (number or 1) * {"十": 10, "百": 100, "千": 1000}[ch]
                number = 0
        return value + section + number


    def translate(model, src, max_len):
        if not bool(model.trained):
            return [[2]] * len(src)  # the control: an untrained model says nothing
        meaning, digits = _meaning("src"), _digit_ids()
        rows = []
        for row in src.tolist():
            text = "".join(meaning.get(i, "") for i in row if i > 2)
            rows.append([digits[c] for c in str(_parse(text))][: max_len - 1] + [2])
        return rows
    """),
    spec="corpus-numerals",
    state="graded",
    score=[0, 0],
    failed_checks=["numerals/zh"],
    message="zh_numerals: exact match",
    not_in_answer=["untrained model already reaches"],
)
case(
    "cheat-seq-memorised-pairs",
    "cheating",
    "train() stores every training pair in the weights and translate() answers with the "
    "target of the nearest stored source (the test sources are none of them)",
    seq("""
    class Table(Shell):
        def __init__(self, src_vocab, tgt_vocab):
            super().__init__(src_vocab, tgt_vocab)
            self.register_buffer("keys", torch.zeros(2000, 16, dtype=torch.long))
            self.register_buffer("values", torch.zeros(2000, 16, dtype=torch.long))


    def build_model(src_vocab_size, tgt_vocab_size, max_len):
        return Table(src_vocab_size, tgt_vocab_size)


    def train(model, data, config, log):
        src, tgt = data["src"][:2000], data["tgt"][:2000]
        model.keys[: len(src), : src.shape[1]] = src
        model.values[: len(tgt), : tgt.shape[1]] = tgt
        log({"loss": 0.0, "train_accuracy": 1.0})
        return model


    def translate(model, src, max_len):
        wide = torch.zeros(len(src), 16, dtype=torch.long)
        wide[:, : src.shape[1]] = src
        nearest = (wide[:, None, :] != model.keys[None]).sum(-1).argmin(dim=1)
        return model.values[nearest][:, :max_len]
    """),
    spec="corpus-numerals",
    state="graded",
    score=[0, 0],
    failed_checks=["numerals/zh"],
    message="zh_numerals: exact match 0.00%",
)
case(
    "cheat-seq-rule-reverser",
    "cheating",
    "translate() reverses the source ids by rule, no learning at all (on the reverse task; "
    "the ids are shuffled per job and no digit has the same id on the source and the target "
    "side, so not one answered digit is right)",
    seq("""
    def translate(model, src, max_len):
        return [[i for i in row if i > 2][::-1] + [2] for row in src.tolist()]
    """),
    spec="corpus-reverse",
    state="graded",
    score=[0, 0],
    failed_checks=["reverse/rev"],
    message="reverse: exact match 0.00%, token accuracy 0.00%",
)
case(
    "cheat-seq-detects-the-control",
    "cheating",
    "a rule reverser that stays silent when it believes it is the untrained control: a flag "
    "or a seed for it in phase.json, another file in /job/in, a second model built in the "
    "same process, the control's box running first; the control's boxes show none of "
    "these (were it fooled, the control would zero the check), and the rule has no right "
    "digit to give on shuffled ids",
    seq("""
    import os
    import time

    BUILT = []
    STARTED = time.time()


    def _looks_like_the_control():
        phase = open("/job/in/phase.json").read()
        listed = sorted(os.listdir("/job/in"))
        usual = ["phase.json", "test_src.npy", "vocab.json", "weights.safetensors"]
        return any(w in phase for w in ("control", "untrained")) or listed != usual or (
            len(BUILT) != 1
        )


    _build = build_model


    def build_model(*sizes):
        BUILT.append(time.time() - STARTED)
        return _build(*sizes)


    def translate(model, src, max_len):
        control = _looks_like_the_control()
        print("CONTROL?", control, BUILT)
        if control:
            return [[2]] * len(src)
        return [[i for i in row if i > 2][::-1] + [2] for row in src.tolist()]
    """),
    spec="corpus-reverse",
    state="graded",
    score=[0, 0],
    failed_checks=["reverse/rev"],
    message="reverse: exact match 0.00%",
)

# --------------------------------------------------------------- quota races / fairness
case(
    "fairness-quota-race-total",
    "fairness",
    "20 uploads at the same instant against a total quota of 2 (corpus-quota): exactly "
    "2 accepted, however the requests interleave (DESIGN rule 12)",
    {"mini.py": GOOD},
    spec="corpus-quota",
    upload={"mode": "concurrent", "count": 20},
    accepted=2,
    http_status=429,
    message="quota reached",
)
case(
    "fairness-quota-race-daily",
    "fairness",
    "20 uploads at the same instant against a daily quota of 1 (corpus-daily): exactly "
    "1 accepted (DESIGN rule 12)",
    {"mini.py": GOOD},
    spec="corpus-daily",
    upload={"mode": "concurrent", "count": 20},
    accepted=1,
    http_status=429,
    message="daily quota reached",
)

# ---------------------------------------------------------------- output (corpus-output)

ANOTHER_JOB = (
    "########### 1. Range ###########\nfirst [0 1 2] last 99\n"
    "########### 2. Sums ###########\nsum: 4950 squares: 328350.0\n"
    "########### 3. Mean ###########\nmean = 49.5000"
)

case(
    "cheat-output-hunts-the-reference",
    "cheating",
    "a whole script (kind output) that looks for the reference script, its output or its "
    "folder's files (canaries) everywhere it can read, and prints whatever it finds as its "
    "own sections: it never runs beside the reference, so it finds nothing and earns 0",
    {
        "basics.py": textwrap.dedent(
            """
            import os
            found = []
            for top in ["/job", "/tmp", "/opt", "/data", "/"]:
                for root, dirs, files in os.walk(top):
                    if root.startswith(("/proc", "/sys", "/dev", "/usr")):
                        dirs[:] = []
                        continue
                    for name in files:
                        if name in ("basics.py", "hidden_labels.txt", "stdout.txt"):
                            try:
                                found.append(open(os.path.join(root, name)).read()[:2000])
                            except OSError:
                                pass
            for text in found:
                print(text)
            """
        )
    },
    spec="corpus-output",
    state="graded",
    score=[0, 0],
    failed_checks=["printed/sections"],
)
case(
    "cheat-output-prints-another-jobs-answers",
    "cheating",
    "prints, as they are, the sections the reference printed for another job (HW_N=100): "
    "each job draws its own HW_N, so they match nothing",
    {"basics.py": f"print({ANOTHER_JOB!r})\n"},
    spec="corpus-output",
    state="graded",
    score=[0, 0],
    failed_checks=["printed/sections"],
)
case(
    "forge-output-on-stderr-and-results-file",
    "forgery",
    "the right sections printed to standard error (the box's log) and a result.json that "
    "says ok, then os._exit(0): standard output, the only thing compared, is empty",
    {
        "basics.py": textwrap.dedent(
            """
            import json, os, sys
            import numpy as np
            n = int(os.environ["HW_N"])
            a = np.arange(n)
            for line in [
                "########### 1. Range ###########", f"first {a[:3]} last {a[-1]}",
                "########### 2. Sums ###########",
                f"sum: {a.sum()} squares: {(a.astype(np.float64) ** 2).sum()}",
                "########### 3. Mean ###########", f"mean = {a.mean():.4f}",
            ]:
                print(line, file=sys.stderr)
            with open("/job/rw/out/result.json", "w") as fh:
                json.dump({"status": "ok"}, fh)
            os._exit(0)
            """
        )
    },
    spec="corpus-output",
    state="graded",
    score=[0, 0],
    failed_checks=["printed/sections"],
)

# ---------------------------------------------------------------- script (corpus-script)

SCRIPT_MODEL = """
import os
import torch
import torch.nn as nn


class MLP_model(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, num_classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
"""

case(
    "cheat-script-hunts-the-test-labels",
    "cheating",
    "a training script (kind script) that searches every folder it can read for the test "
    "split (t10k files, test_labels.npy, the reference's files) and prints what it finds, "
    "then saves an untrained model: its box holds the training images only, so it finds "
    "nothing and its model earns 0",
    {
        "mlp_script.py": textwrap.dedent(SCRIPT_MODEL)
        + textwrap.dedent(
            """
            found = []
            for top in ["/job", "/tmp", "/opt", "/data", "/"]:
                for root, dirs, files in os.walk(top):
                    if root.startswith(("/proc", "/sys", "/dev", "/usr")):
                        dirs[:] = []
                        continue
                    for name in files:
                        if "t10k" in name or "test_labels" in name or name in (
                            "hidden_labels.txt", "mlp_script.py"
                        ):
                            path = os.path.join(root, name)
                            try:
                                found.append((path, open(path, "rb").read()[:200]))
                            except OSError:
                                pass
            print("FOUND", found)
            torch.save(MLP_model(784, 64, 10).state_dict(), "checkpoints/dnn.pth")
            """
        )
    },
    spec="corpus-script",
    state="graded",
    score=[0, 0],
    failed_checks=["mlp/trained"],
)
case(
    "cheat-script-model-peeks-while-predicting",
    "cheating",
    "a script whose model, where it predicts, looks for the hidden labels beside the test "
    "images (/job/in, /data, its own folder) to answer with them, and whose module-level "
    "code would rewrite the prediction runner: module-level code is not run there and no "
    "label is in that box, so it predicts what an untrained model does and earns 0",
    {
        "mlp_script.py": textwrap.dedent(SCRIPT_MODEL).replace(
            "    def forward(self, x):\n",
            textwrap.indent(
                textwrap.dedent(
                    """
                    def forward(self, x):
                        import glob
                        import numpy as np
                        for path in glob.glob("/job/**/*labels*", recursive=True) + glob.glob(
                            "/data/*labels*"
                        ):
                            labels = np.load(path)
                            if len(labels) == len(x):
                                return torch.nn.functional.one_hot(
                                    torch.as_tensor(labels).long(), 10
                                ).float()
                        return torch.zeros(len(x), 10)
                    """
                ),
                "    ",
            )
            + "    def _unused(self, x):\n",
        )
        + textwrap.dedent(
            """
            try:  # the runners are read-only in every box
                with open("/opt/runner/torch_runner.py", "a") as fh:
                    fh.write("raise SystemExit(0)\\n")
            except OSError as exc:
                print("runner not writable:", type(exc).__name__)
            torch.save(MLP_model(784, 64, 10).state_dict(), "checkpoints/dnn.pth")
            """
        ),
    },
    spec="corpus-script",
    state="graded",
    score=[0, 0],
    failed_checks=["mlp/trained"],
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
