"""The system-call filter every sandboxed process runs under (bubblewrap's ``--seccomp``).

Parsing hostile files is where code execution would begin; what it would try next is the
kernel. The filter takes away the kernel interfaces no parser, Python or LibreOffice needs and
that kernel exploits and sandbox escapes use most: namespaces (unshare, setns, clone with a
namespace flag), ptrace and cross-process memory access, bpf, perf_event_open, userfaultfd,
io_uring, keyrings, module and kexec loading, mounts, and exotic socket families (packet, alg,
vsock ...). Everything else is allowed: the sandbox's other walls (no network, read-only system,
own uid, rlimits) stay as they are. Denied calls fail with EPERM (EAFNOSUPPORT for sockets,
ENOSYS for clone3 so that C libraries fall back to clone, whose flags can be checked).

Built with libseccomp (through pyseccomp) for the machine's own architecture; other
architectures' system calls (x32, i386 on x86-64) are killed.
"""

from __future__ import annotations

import errno
import os
import platform
import tempfile

from gateway.errors import SandboxUnavailable

DENIED = (
    # namespaces and privilege: a way out of the sandbox
    "unshare", "setns", "pivot_root", "chroot", "mount", "umount2", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    # other processes' memory and descriptors
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp", "process_madvise",
    # kernel attack surface no parser needs
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl",
    "add_key", "request_key", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "lookup_dcookie", "quotactl", "quotactl_fd",
    "iopl", "ioperm", "syslog", "acct", "swapon", "swapoff", "reboot", "vhangup", "uselib", "nfsservctl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "move_pages", "migrate_pages", "vmsplice",
)
NEWER_X86_64 = {"statmount": 457, "listmount": 458, "open_tree_attr": 467}  # mount-table and mount-tree calls
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
DENIED_SOCKET_FAMILIES = (3, 4, 5, 8, 9, 15, 17, 21, 24, 26, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
                          43, 44, 45)
# AX25, IPX, APPLETALK, ATMPVC, X25, KEY, PACKET, RDS, PPPOX, LLC, CAN, TIPC, BLUETOOTH, IUCV, RXRPC,
# ISDN, PHONET, IEEE802154, CAIF, ALG, NFC, VSOCK, KCM, QIPCRTR, SMC, XDP, MCTP


def filter_program() -> bytes:
    """The compiled BPF program (raise SandboxUnavailable when libseccomp is missing)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # pyseccomp loads libseccomp.so.2 when imported
        raise SandboxUnavailable("libseccomp (Debian: libseccomp2) is required for the sandbox's system-call "
                                 "filter; install it with scripts/setup.sh or set [sandbox] seccomp = false") from exc
    program = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        try:
            program.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):
            continue  # not a system call on this architecture
    if platform.machine() == "x86_64":  # calls newer than this libseccomp knows by name
        for number in NEWER_X86_64.values():
            program.add_rule(seccomp.ERRNO(errno.EPERM), number)
    for flag in NAMESPACE_FLAGS:
        program.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    program.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")  # its flags sit behind a pointer
    for family in DENIED_SOCKET_FAMILIES:  # the kernel reads the family's low 32 bits only: so does the rule
        for call in ("socket", "socketpair"):
            program.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), call,
                             seccomp.Arg(0, seccomp.MASKED_EQ, 0xFFFFFFFF, family))
    try:
        with tempfile.TemporaryFile() as compiled:
            program.export_bpf(compiled)
            compiled.seek(0)
            return compiled.read()
    except OSError as exc:
        raise SandboxUnavailable("the sandbox's system-call filter could not be built") from exc


def program_descriptor(program: bytes) -> int:
    """A fresh descriptor holding ``program`` from its start, for one bubblewrap to read."""
    descriptor = os.memfd_create("seccomp", os.MFD_CLOEXEC)
    try:
        os.write(descriptor, program)
        os.lseek(descriptor, 0, os.SEEK_SET)
    except OSError:
        os.close(descriptor)
        raise
    return descriptor
