"""The system-call filter of every bubblewrap box (DESIGN.md rule 8), with the semantics of
Docker's default seccomp profile for an unprivileged container: what only administration,
debugging or the kernel's own interfaces need is refused with EPERM -- tracing (ptrace,
process_vm_*), mounting and namespaces (mount, unshare, setns, clone with CLONE_NEW*),
kernel keys, bpf, perf_event_open, userfaultfd, io_uring, modules, clocks, reboot, swap,
quotas, handles to files by id, execution domains other than Linux's (personality).

Built once per process with libseccomp (the ``pyseccomp`` bindings, ctypes over
libseccomp.so.2) as a BPF program that bubblewrap loads with ``--seccomp FD`` just before
it runs the box's command, so bwrap itself may still mount. The docker backend gets the
engine's own default profile (never ``seccomp=unconfined``). Fail closed: without
libseccomp no box starts.
"""

from __future__ import annotations

import errno
import tempfile
from functools import lru_cache

from worker.sandbox.base import SandboxUnavailable

DENIED = (
    "acct add_key adjtimex bpf clock_adjtime clock_settime create_module delete_module "
    "fanotify_init finit_module fsconfig fsmount fsopen fspick get_kernel_syms init_module "
    "io_uring_enter io_uring_register io_uring_setup ioperm iopl kcmp kexec_file_load "
    "kexec_load keyctl lookup_dcookie mount mount_setattr move_mount name_to_handle_at "
    "nfsservctl open_by_handle_at open_tree perf_event_open pidfd_getfd pivot_root "
    "process_vm_readv process_vm_writev ptrace query_module quotactl quotactl_fd reboot "
    "request_key setns settimeofday stime swapoff swapon syslog sysfs _sysctl umount "
    "umount2 unshare uselib userfaultfd ustat vhangup vm86 vm86old"
).split()
# clone(2) flags that make a new namespace (a box has its own already; nested ones are
# how container escapes start).
CLONE_NEW = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
# personality(2): Linux (0) with only PER_LINUX32 (0x8) and UNAME26 (0x20000), as Docker
# allows; any other bit (ADDR_NO_RANDOMIZE turns address randomisation off for what the box
# runs next, READ_IMPLIES_EXEC, ...) is refused. Unlike Docker, the query 0xffffffff is too.
PERSONALITY_ALLOWED_BITS = 0x8 | 0x20000


@lru_cache(maxsize=1)
def bpf_program() -> bytes:
    """The box filter as a BPF program for ``bwrap --seccomp``."""
    try:
        import pyseccomp as sc
    except ImportError as exc:  # pragma: no cover - a dependency of the worker
        raise SandboxUnavailable("the sandbox's seccomp filter needs pyseccomp") from exc
    try:
        f = sc.SyscallFilter(sc.ALLOW)
        deny = sc.ERRNO(errno.EPERM)
        for name in DENIED:
            try:
                f.add_rule(deny, name)
            except (ValueError, RuntimeError, OSError):
                continue  # not a system call of this architecture (vm86 on x86-64)
        for flag in CLONE_NEW.values():
            f.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes the C
        # library fall back to clone(2), whose flags are checked above (Docker does this).
        f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        for bit in range(32):
            if not (1 << bit) & PERSONALITY_ALLOWED_BITS:
                f.add_rule(deny, "personality", sc.Arg(0, sc.MASKED_EQ, 1 << bit, 1 << bit))
        with tempfile.TemporaryFile() as fh:
            f.export_bpf(fh)
            fh.seek(0)
            return fh.read()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SandboxUnavailable(f"cannot build the sandbox's seccomp filter: {exc}") from exc
