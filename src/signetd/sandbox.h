/* signetd's own sandbox: no core dumps, no capabilities, no-new-privs and a
 * seccomp allow-list that kills the process on anything else. Entered once
 * the listening socket is bound and the TLS key read; it covers every
 * thread already running (seccomp TSYNC, and a capability drop on each
 * thread), so it does not matter which threads exist by then. */
#ifndef SD_SANDBOX_H
#define SD_SANDBOX_H

#include <stdint.h>

#include "signet/error.h"

/* What sd_sandbox_enter achieved, for /status and invariant I8. Each flag
 * is read back from /proc/self/task/<tid>/status of every thread, not
 * assumed from return codes. */
struct sd_hardening {
    int no_new_privs; /* NoNewPrivs: 1 on every thread */
    int seccomp;      /* Seccomp: 2 (filter) on every thread */
    int caps_dropped; /* no effective, permitted, inheritable or ambient capability left */
    int dumpable;     /* PR_GET_DUMPABLE afterwards (0 = good) */
};

/* Flags for sd_sandbox_enter; 0 = sandbox off (builds with SIGNET_SANDBOX=0). */
#define SD_SANDBOX_ON 1
/* The monitor process (monproc.c) runs [alerts] command (alerts.c): the
 * filter, which every child inherits, also lets through what a child needs
 * to start (fork, execve, wait4, dup2, executable mappings for ld.so). Only
 * when such a command is configured; the launcher starts the signers. */
#define SD_SANDBOX_ALLOW_SPAWN 2

/* Core dumps off and not dumpable, always. With SD_SANDBOX_ON: every
 * capability dropped on every thread, no-new-privs, the seccomp filter
 * (synchronised to every thread). Any failure is returned: the caller
 * must not serve unsandboxed. Logs one line. */
SIGNET_WUR signet_err sd_sandbox_enter(int enabled, struct sd_hardening *out);

struct sg_account;
/* Root about to run as a (a forked front end or monitor): the capability
 * bounding set emptied while we still may, then a for good. A no-op when
 * we are not root or a is root (the single-account layout). */
SIGNET_WUR signet_err sd_sandbox_become(const struct sg_account *a);

/* A process's or thread's state as its /proc .../status file shows it (the
 * monitor reads the front end's; sd_sandbox_enter each of its threads'). */
struct sd_proc_status {
    uint64_t uid;                   /* Uid: (the real one) */
    uint64_t no_new_privs, seccomp; /* NoNewPrivs:, Seccomp: */
    uint64_t inh, prm, eff, amb;    /* CapInh:, CapPrm:, CapEff:, CapAmb: */
};
/* 0: read (a missing field reads as the worst value); -1: unreadable. */
int sd_proc_status(const char *path, struct sd_proc_status *out);

#endif
