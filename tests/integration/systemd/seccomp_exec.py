#!/usr/bin/env python3
"""Runs a command under the seccomp filter systemd would give a unit (ctypes
over libseccomp, no python3-seccomp needed), the way systemd 252 builds it:

  SystemCallFilter=     allow-list from a file of syscall names (one a line,
                        expanded by `systemd-analyze syscall-filter`); any
                        other call kills the process (no SystemCallErrorNumber)
  SystemCallArchitectures=native   libseccomp's default: native only
  RestrictAddressFamilies=         socket() of another family: EAFNOSUPPORT
  MemoryDenyWriteExecute=yes       mmap W+X, mprotect/pkey_mprotect +X,
                                   shmat SHM_EXEC: EPERM

usage: seccomp_exec.py SYSCALLS_FILE FAMILIES(comma-separated numbers) -- CMD...
Needs no-new-privs already set (setpriv --no-new-privs) or CAP_SYS_ADMIN."""
import ctypes
import ctypes.util
import errno
import os
import sys

ALLOW = 0x7FFF0000
KILL_PROCESS = 0x80000000
def ERRNO(e):
    return 0x00050000 | (e & 0xFFFF)
CMP_EQ, CMP_GE, CMP_MASKED_EQ = 4, 5, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
AF_MAX = 46

class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]

def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
    families = {int(f) for f in sys.argv[2].split(",") if f}
    cmd = sys.argv[4:]
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(KILL_PROCESS)
    if not ctx:
        sys.exit("seccomp_init failed")

    def rule(action, name, *conds):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return  # not a system call of this architecture
        arr = (ArgCmp * max(1, len(conds)))(*[ArgCmp(*c) for c in conds])
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(conds), arr)
        if rc != 0:
            sys.exit(f"seccomp rule for {name}: {rc}")

    special = {"socket", "mmap", "mmap2", "mprotect", "pkey_mprotect", "shmat"}
    allowed = set(names)
    for n in sorted(allowed - special):
        rule(ALLOW, n)
    if "socket" in allowed:
        for f in range(AF_MAX):
            rule(ALLOW if f in families else ERRNO(errno.EAFNOSUPPORT), "socket", (0, CMP_EQ, f, 0))
        rule(ERRNO(errno.EAFNOSUPPORT), "socket", (0, CMP_GE, AF_MAX, 0))
    for n in ("mmap", "mmap2"):
        if n in allowed:
            for ok in (0, PROT_WRITE, PROT_EXEC):
                rule(ALLOW, n, (2, CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, ok))
            rule(ERRNO(errno.EPERM), n, (2, CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE | PROT_EXEC))
    for n in ("mprotect", "pkey_mprotect"):
        if n in allowed:
            rule(ALLOW, n, (2, CMP_MASKED_EQ, PROT_EXEC, 0))
            rule(ERRNO(errno.EPERM), n, (2, CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))
    if "shmat" in allowed:
        rule(ALLOW, "shmat", (2, CMP_MASKED_EQ, SHM_EXEC, 0))
        rule(ERRNO(errno.EPERM), "shmat", (2, CMP_MASKED_EQ, SHM_EXEC, SHM_EXEC))
    rc = lib.seccomp_load(ctx)
    if rc != 0:
        sys.exit(f"seccomp_load: {rc}")
    os.execvp(cmd[0], cmd)

main()
