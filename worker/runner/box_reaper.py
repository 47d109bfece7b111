"""The first program of every box: it starts the box's real command as its child and,
when that ends, writes how it ended -- ``exit N`` or ``signal S`` -- to /job/rw/.box-ended,
then ends with the status bwrap would have given (N, or 128 + S).

Why it exists. The worker must tell a box that something *else* killed (an operator's
``kill -9``, the host's OOM killer, ``docker kill``, a dying machine: ours, retried, never
charged) from a program that ended itself (an exception, ``os._exit(137)``, ``os.abort()``,
a segfault in the student's own code: the student's). From outside, bwrap and Docker
report both a death by SIGKILL and ``os._exit(137)`` as exit code 137, so the exit code
alone cannot tell them apart. This reaper sees the real wait status of the program
(``WIFSIGNALED`` against ``WIFEXITED``), which the exit code folds together.

Why nothing in the box can fake "killed from outside". Before it starts the command, the
reaper's child loads a small system-call filter (``signal_filter``, inherited by every
process the command starts) under which nothing in the box can send SIGKILL to any
process, nor SIGTERM to the command, to the reaper or to a process group, nor set the CPU
or real-time rlimits whose hard limits make the kernel send SIGKILL. So a death of the
command by SIGKILL or SIGTERM that none of the box's limits sent came from outside the
box, and the worker may take it as ours (retried, never charged); a student's program
that tries (``os.kill(os.getpid(), 9)``, ``os.killpg(0, 9)``, killing its parent) gets
``PermissionError`` and is graded on what it does next. It may still SIGTERM its own
child processes (``multiprocessing``'s ``terminate()``); ``Process.kill()`` is refused.

Why its word may be trusted as far as it is used. It runs in the box with the student's
uid, so a student's program could overwrite its file once it has written it (it can no
longer kill it). A false word can buy at most "killed from outside": the run is retried,
and after its attempts it ends ``failed_infra`` -- never a grade, never charged. A false
"exit N" only charges the student for a kill that was ours, which no student wants. So
the report is used in one direction only, and what it can be made to say is bounded by
the retry budget. A death by a signal a program commonly gets from its own code
(SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGXFSZ) stays the student's whatever sent it.

It runs with ``-I -S`` (standard library only, no site) so it costs a few milliseconds,
makes itself non-dumpable so the box's other processes cannot read or write its memory
through /proc, and opens its file without following a link the box may have put there.
"""

from __future__ import annotations

import os
import sys

REPORT = "/job/rw/.box-ended"
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

SIGKILL, SIGTERM = 9, 15
RLIMIT_CPU, RLIMIT_RTTIME = 0, 15
# The system calls the filter looks at, by the architecture's audit number. i386 and x32
# calls from a 64-bit box are refused whole (nothing a box runs needs them).
ARCHES = {
    "x86_64": (
        0xC000003E,
        dict(
            kill=62,
            tkill=200,
            tgkill=234,
            rt_sigqueueinfo=129,
            rt_tgsigqueueinfo=297,
            pidfd_send_signal=424,
            setrlimit=160,
            prlimit64=302,
        ),
    ),
    "aarch64": (
        0xC00000B7,
        dict(
            kill=129,
            tkill=130,
            tgkill=131,
            rt_sigqueueinfo=138,
            rt_tgsigqueueinfo=240,
            pidfd_send_signal=424,
            setrlimit=164,
            prlimit64=261,
        ),
    ),
}
X32_BIT = 0x40000000
# Classic BPF as seccomp runs it (linux/filter.h, linux/seccomp.h).
LD_ABS, JEQ, JGE, JA, RET = 0x20, 0x15, 0x35, 0x05, 0x06
ALLOW, DENY = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM


def _arg(n: int, high: bool = False) -> int:
    """Offset of system-call argument n's low (or high) 32 bits in struct seccomp_data."""
    return 16 + 8 * n + (4 if high else 0)


def signal_filter(machine: str, runner: int, reaper: int) -> list[tuple[int, int, int, int]]:
    """The box's signal filter as BPF instructions (code, jt, jf, k) for the box's command,
    whose pid is ``runner``, under its reaper ``reaper`` (pids as the box sees them).

    Refused with EPERM: SIGKILL by kill, tkill, tgkill, rt_(tg)sigqueueinfo and
    pidfd_send_signal, to anyone; SIGTERM by tkill and pidfd_send_signal (their target
    cannot be read here), and by the others to ``runner``, to ``reaper``, to 0 or to a
    negative pid (a process group, or everyone); setting RLIMIT_CPU or RLIMIT_RTTIME."""
    audit_arch, nr = ARCHES[machine]
    prog: list[list] = []
    labels: dict[str, int] = {}

    def op(code, k=0, jt=None, jf=None):
        prog.append([code, jt, jf, k])

    def label(name):
        labels[name] = len(prog)

    op(LD_ABS, 4)  # arch
    op(JEQ, audit_arch, jt=None, jf="deny")
    op(LD_ABS, 0)  # system-call number
    if machine == "x86_64":
        op(JGE, X32_BIT, jt="deny", jf=None)
    for name, where in (
        ("kill", "pid_sig"),
        ("rt_sigqueueinfo", "pid_sig"),
        ("tgkill", "tg_sig"),
        ("rt_tgsigqueueinfo", "tg_sig"),
        ("tkill", "any_target"),
        ("pidfd_send_signal", "any_target"),
        ("setrlimit", "setrlimit"),
        ("prlimit64", "prlimit"),
    ):
        op(JEQ, nr[name], jt=where, jf=None)
    op(RET, ALLOW)

    label("any_target")  # signal in argument 1, target unknown: no SIGKILL, no SIGTERM
    op(LD_ABS, _arg(1))
    op(JEQ, SIGKILL, jt="deny", jf=None)
    op(JEQ, SIGTERM, jt="deny", jf="allow")

    for name, sig_arg in (("pid_sig", 1), ("tg_sig", 2)):  # target pid in argument 0
        label(name)
        op(LD_ABS, _arg(sig_arg))
        op(JEQ, SIGKILL, jt="deny", jf=None)
        op(JEQ, SIGTERM, jt=None, jf="allow")
        op(LD_ABS, _arg(0))
        op(JA, jt="protected")  # jt of JA is its offset (filled below)

    label("protected")  # SIGTERM to the pid in A
    op(JEQ, 0, jt="deny", jf=None)
    op(JGE, 0x80000000, jt="deny", jf=None)  # negative: a process group, or -1
    op(JEQ, runner & 0xFFFFFFFF, jt="deny", jf=None)
    op(JEQ, reaper & 0xFFFFFFFF, jt="deny", jf="allow")

    label("setrlimit")  # resource in argument 0
    op(LD_ABS, _arg(0))
    op(JEQ, RLIMIT_CPU, jt="deny", jf=None)
    op(JEQ, RLIMIT_RTTIME, jt="deny", jf="allow")

    label("prlimit")  # resource in argument 1; reading (no new limit) stays allowed
    op(LD_ABS, _arg(1))
    op(JEQ, RLIMIT_CPU, jt="new_limit", jf=None)
    op(JEQ, RLIMIT_RTTIME, jt="new_limit", jf="allow")
    label("new_limit")
    op(LD_ABS, _arg(2))
    op(JEQ, 0, jt=None, jf="deny")
    op(LD_ABS, _arg(2, high=True))
    op(JEQ, 0, jt="allow", jf="deny")

    label("allow")
    op(RET, ALLOW)
    label("deny")
    op(RET, DENY)

    out = []
    for i, (code, jt, jf, k) in enumerate(prog):

        def rel(target, i=i):
            if target is None:
                return 0
            offset = labels[target] - i - 1
            if not 0 <= offset <= 255:
                raise ValueError(f"jump to {target} out of reach")
            return offset

        if code == JA:
            out.append((code, 0, 0, rel(jt)))
        elif code in (JEQ, JGE):
            out.append((code, rel(jt), rel(jf), k))
        else:
            out.append((code, 0, 0, k))
    return out


def load_signal_filter() -> None:
    """Load ``signal_filter`` for this process (the box's command, about to be executed)
    and everything it starts. Fails closed: raises OSError if it cannot."""
    import ctypes
    import platform

    machine = platform.machine()
    if machine not in ARCHES:
        raise OSError(f"no signal filter for the architecture {machine}")
    program = signal_filter(machine, os.getpid(), os.getppid())

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    instructions = (SockFilter * len(program))(*(SockFilter(*i) for i in program))
    fprog = SockFprog(len(program), instructions)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def _not_dumpable() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except Exception:  # no ctypes in this environment: the report is only bounded advice
        pass


def main() -> None:
    argv = sys.argv[1:]
    pid = os.fork()
    if pid == 0:
        try:
            load_signal_filter()
        except Exception as exc:  # fail closed: no box runs without it
            os.write(2, f"cannot load the box's signal filter: {exc}\n".encode())
            os._exit(127)
        try:
            os.execv(argv[0], argv)
        except OSError as exc:
            os.write(2, f"cannot start {argv[0]}: {exc}\n".encode())
        os._exit(127)
    _not_dumpable()
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        report, code = f"signal {number}", 128 + number
    else:
        code = os.waitstatus_to_exitcode(status)
        report = f"exit {code}"
    try:
        fd = os.open(
            REPORT,
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK,
            0o600,
        )
        try:
            os.write(fd, report.encode())
        finally:
            os.close(fd)
    except OSError:  # the box filled its space or put something else there: no word
        pass
    os._exit(code & 0xFF)


if __name__ == "__main__":
    main()
