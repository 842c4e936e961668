"""A seccomp filter for suites: system calls no test needs, which widen the kernel's attack
surface or reach outside the sandbox, fail with EPERM.

A classic BPF program, built here (no library): check the architecture, then the call number.
Only x86_64 has a table; elsewhere there is no filter and the suite's record says so (its
``covers`` lacks ``syscalls``).
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
RET_ALLOW = 0x7FFF0000
RET_KILL_PROCESS = 0x80000000
RET_EPERM = 0x00050000 | errno.EPERM
RET_ENOSYS = 0x00050000 | errno.ENOSYS
# struct seccomp_data: nr at 0, arch at 4, args[0] (low half on little endian) at 16.
_NR, _ARCH, _ARG0 = 0, 4, 16

# x86_64 numbers of the calls refused: kernel keyrings, BPF, perf, userfaultfd, io_uring,
# modules, kexec, mounts and the new mount API, namespaces (setns, unshare), other
# processes' memory and descriptors, clocks, swap, reboot, accounting, quotas, raw I/O ports.
DENIED_X86_64 = {
    "acct": 163, "add_key": 248, "adjtimex": 159, "bpf": 321, "clock_adjtime": 305,
    "clock_settime": 227, "delete_module": 176, "finit_module": 313, "fsconfig": 431,
    "fsmount": 432, "fsopen": 430, "fspick": 433, "init_module": 175, "io_uring_enter": 426,
    "io_uring_register": 427, "io_uring_setup": 425, "ioperm": 173, "iopl": 172,
    "kexec_file_load": 320, "kexec_load": 246, "keyctl": 250, "lookup_dcookie": 212,
    "mount": 165, "mount_setattr": 442, "move_mount": 429, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "open_tree": 428, "perf_event_open": 298, "pidfd_getfd": 438,
    "pivot_root": 155, "process_vm_readv": 310, "process_vm_writev": 311, "quotactl": 179,
    "reboot": 169, "request_key": 249, "setns": 308, "settimeofday": 164, "swapoff": 168,
    "swapon": 167, "syslog": 103, "umount2": 166, "unshare": 272, "userfaultfd": 323,
    "vhangup": 153,
}
CLONE = 56
CLONE3 = 435
# Any CLONE_NEW* flag: a test may not make namespaces (user namespaces above all).
CLONE_NEW_FLAGS = 0x7E020080


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def filter_program() -> bytes | None:
    """The filter as ``struct sock_filter`` entries, or None where there is no table."""
    if platform.machine() != "x86_64":
        return None
    denied = sorted(DENIED_X86_64.values())
    ops = [_op(_LD_W_ABS, _ARCH),
           _op(_JEQ_K, AUDIT_ARCH_X86_64, jt=1),
           _op(_RET_K, RET_KILL_PROCESS),
           _op(_LD_W_ABS, _NR),
           _op(_JGE_K, X32_SYSCALL_BIT, jf=1),  # the x32 ABI: none of a test's business
           _op(_RET_K, RET_EPERM),
           # clone3 passes its flags in memory, out of a filter's reach: make glibc use clone.
           _op(_JEQ_K, CLONE3, jf=1),
           _op(_RET_K, RET_ENOSYS),
           _op(_JEQ_K, CLONE, jf=3),
           _op(_LD_W_ABS, _ARG0),
           _op(_JSET_K, CLONE_NEW_FLAGS, jt=len(denied) + 2),  # to the EPERM at the end
           _op(_LD_W_ABS, _NR)]
    for index, number in enumerate(denied):
        # Matched: jump over the remaining checks and the ALLOW, onto the EPERM.
        ops.append(_op(_JEQ_K, number, jt=len(denied) - index))
    ops += [_op(_RET_K, RET_ALLOW), _op(_RET_K, RET_EPERM)]
    return b"".join(ops)
